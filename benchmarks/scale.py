"""Netflix-size on one machine: load, train (SGD, ALS, implicit ALS), recommend-all, peak memory.

    .venv/bin/python benchmarks/scale.py --size 1e7     # 10^7 ratings only
    .venv/bin/python benchmarks/scale.py --size 1e8     # 10^7, then 10^8 ratings
    .venv/bin/python benchmarks/scale.py --smoke 20000  # every step on 20,000 ratings

The script exits 1 when any step failed (its row says "failed", and the last line of
standard error names each failed step with its error), 0 when every step ran.

Data: ``latentrec.datasets.synthetic(..., random_state=0)`` stars; 10^7 ratings on
100,000 users x 20,000 items (the shape of ``implicit_scale.py --size 10M``), 10^8 on
480,189 x 17,770 (the Netflix Prize's); ``--smoke N`` (N >= 1,000) on
max(N / 100, 20) users and at least 4 N / users items, so that at most a quarter of
the cells are rated (a quick check that every step runs, in about a minute once numba's
cache is warm; its figures mean little).  A generator child writes them as a CSV file
(``user_id,item_id,rating``), a Parquet file (up to 10^7, not at 10^8) and a CSR ``.npz``.

Every measurement runs in its own child process, bounded by ``--timeout``; each child
reports its own peak resident set (``VmHWM``), so one child's peak never shows in
another's.  numba is warmed on tiny data before the clock starts (compilation excluded;
the imports and compiled code count in the peak).

- ``latentrec run``: the whole one-machine run: ``Interactions.read`` of the CSV (the
  chunked pyarrow path), BiasedMF (SGD), ALS and ImplicitALS (``--epochs`` each, time per
  epoch / iteration), then ``recommend_all`` of the implicit model's top-10 for every user
  to a Parquet file, with progress; its peak is the whole run's.
- ``latentrec .lrdata``: ``latentrec data convert`` of the CSV, then loading it.
- ``latentrec from frame`` vs ``implicit`` (up to 10^7): the memory comparison from a
  DataFrame, whose target is a peak within 1.2x of implicit's handed a ready CSR.  latentrec
  starts from the ratings as a pandas DataFrame (read from the Parquet file), builds
  ``Interactions.from_frame``, fits ImplicitALS and takes the top-10 of every user;
  implicit is handed the ready CSR (as a user of it would build it) and does the same
  with its own ALS and batch ``recommend``.  Same factors, iterations, alpha,
  regularization (linear confidence, CG) and threads.
  ``implicit from DataFrame`` is implicit starting from the same DataFrame, its CSR
  built by ``scipy.sparse.csr_matrix((rating, (user, item)))``; ``frame dropped`` is
  latentrec with the caller deleting the frame once ``from_frame`` has returned;
  ``copy=False`` is ``from_frame(df, copy=False)``: the frame is already in CSR order
  (users ascending, items ascending within a user, item ids 0..n-1, int32/float32), so
  the result shares its item and rating columns instead of copying them.
  Each of these children warms only the kernels its path runs (from numba's cache,
  which a ``warm`` child fills before any measured child runs), reads its input, and
  reports three figures: its resident set with the input in hand, its peak from then
  on (``VmHWM`` reset there through ``/proc/self/clear_refs``: the same work for every
  library, from the input in hand), and the whole process's peak, reading the input
  included.  pyarrow's allocator keeps what it freed while reading the frame (about
  150 MiB); ``read_frame`` hands it back, for both libraries.
  ``--only-frame`` runs these children alone.
- ``Surprise`` (up to 10^7): ``Dataset.load_from_df`` + ``build_full_trainset`` and one
  epoch of its SVD; it has no recommend-all.  At 10^8 it is not run: its measured bytes
  per rating at 10^7 times 10^8 exceeds the machine, and the table says so.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from _memory import peak_mib, reset_peak, rss_mib  # noqa: E402

SHAPES = {10**7: (100_000, 20_000), 10**8: (480_189, 17_770)}
MACHINE_GIB = 23
# The smallest --smoke size: below it a user has too few ratings for a top-10 to mean a
# choice, and the table would be noise.
MIN_SMOKE = 1_000


def shape_of(n: int) -> tuple[int, int]:
    """``(n_users, n_items)`` of the synthetic table with ``n`` ratings.

    10^7 and 10^8 have fixed shapes; any other ``n >= MIN_SMOKE`` gets about 100 ratings a
    user (at least 20 users) and enough items that at most a quarter of the cells are rated.

    Example:
        >>> shape_of(10**8), shape_of(30_000), shape_of(1_000)
        ((480189, 17770), (300, 400), (20, 200))
    """
    if n in SHAPES:
        return SHAPES[n]
    n_users = max(n // 100, 20)
    return n_users, max(n // 500, -(-4 * n // n_users))


def emit(**fields) -> None:
    print("RESULT " + json.dumps(fields), flush=True)


# ---------------------------------------------------------------------- children
def child_generate(args) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from latentrec import datasets

    n_users, n_items = shape_of(args.n)
    start = time.perf_counter()
    data = datasets.synthetic(n_users, n_items, args.n, random_state=0)
    gen_s = time.perf_counter() - start
    m = data.matrix
    folder = args.folder
    np.savez(
        os.path.join(folder, "csr.npz"),
        data=m.data,
        indices=m.indices,
        indptr=m.indptr,
        shape=np.array(m.shape),
    )
    schema = pa.schema([("user_id", pa.int32()), ("item_id", pa.int32()), ("rating", pa.float32())])
    csv_path = os.path.join(folder, "ratings.csv")
    pq_writer = None
    if args.n <= 10**7:
        pq_writer = pq.ParquetWriter(os.path.join(folder, "ratings.parquet"), schema)
    with pacsv.CSVWriter(csv_path, schema) as csv_writer:
        rows = 50_000
        for a in range(0, m.shape[0], rows):
            b = min(a + rows, m.shape[0])
            lo, hi = m.indptr[a], m.indptr[b]
            users = np.repeat(np.arange(a, b, dtype=np.int32), np.diff(m.indptr[a : b + 1]))
            batch = pa.record_batch([users, m.indices[lo:hi], m.data[lo:hi]], schema=schema)
            csv_writer.write_batch(batch)
            if pq_writer is not None:
                pq_writer.write_batch(batch)
    if pq_writer is not None:
        pq_writer.close()
    emit(generate_s=gen_s, peak_mib=peak_mib(), csv_mib=os.path.getsize(csv_path) / 2**20)


def warm_up(models=None, parquet: bool = True) -> None:
    """Compile (or load from numba's cache) the kernels a child's path uses, and no others."""
    from latentrec import datasets
    from latentrec.models.als import ALS
    from latentrec.models.implicit_als import ImplicitALS
    from latentrec.models.mf import BiasedMF

    tiny = datasets.synthetic(60, 30, 600, random_state=0)
    for model in models or (BiasedMF, ALS, ImplicitALS):
        fitted = model(n_factors=4, n_epochs=1, num_threads=2).fit(tiny)
    fitted.recommend_batch_idx(np.arange(3), n=2)
    if parquet:
        with tempfile.TemporaryDirectory() as tmp:
            fitted.recommend_all(os.path.join(tmp, "t.parquet"), n=2, verbose=False)


def child_warm(args) -> None:
    """Fill numba's cache, so that no measured child compiles (each loads from it)."""
    warm_up()
    emit(peak_mib=peak_mib())


def child_run(args) -> None:
    from latentrec import Interactions
    from latentrec.models.als import ALS
    from latentrec.models.mf import BiasedMF

    warm_up()
    out = {"base_mib": peak_mib()}
    start = time.perf_counter()
    data = Interactions.read(os.path.join(args.folder, "ratings.csv"))
    out["load_s"] = time.perf_counter() - start
    out["load_peak_mib"] = peak_mib()
    out["nnz"] = data.nnz
    k, e = args.factors, args.epochs
    for name, model in (
        ("sgd", BiasedMF(n_factors=k, n_epochs=e, num_threads=2, random_state=0)),
        ("als", ALS(n_factors=k, n_epochs=e, num_threads=2, random_state=0)),
        ("ials", latentrec_ials(args)),
    ):
        start = time.perf_counter()
        model.fit(data)
        out[f"{name}_s"] = (time.perf_counter() - start) / e
        out[f"{name}_peak_mib"] = peak_mib()
        print(f"{name}: {out[f'{name}_s']:.1f} s per epoch", file=sys.stderr, flush=True)
        if name != "ials":
            del model
    start = time.perf_counter()
    rows = model.recommend_all(os.path.join(args.folder, "top10.parquet"), n=10, verbose=True)
    out["recommend_s"] = time.perf_counter() - start
    out["recommend_rows"] = rows
    out["peak_mib"] = peak_mib()
    emit(**out)


def child_lrdata(args) -> None:
    from latentrec import Interactions

    path = os.path.join(args.folder, "ratings.lrdata")
    cli = os.path.join(os.path.dirname(sys.executable), "latentrec")
    start = time.perf_counter()
    subprocess.run(
        [cli, "data", "convert", os.path.join(args.folder, "ratings.csv"), "-o", path],
        check=True,
        capture_output=True,
    )
    convert_s = time.perf_counter() - start
    start = time.perf_counter()
    data = Interactions.read(path)
    mu = data.global_mean()  # touches every rating: the pages are really read
    emit(
        convert_s=convert_s,
        load_s=time.perf_counter() - start,
        peak_mib=peak_mib(),
        lrdata_mib=os.path.getsize(path) / 2**20,
        mean=mu,
    )


def child_frame(args, drop: bool = False, copy: bool = True) -> None:
    """latentrec from the user's DataFrame; with ``drop`` the user deletes it once built,
    with ``copy=False`` the result shares the frame's columns (it is in CSR order)."""
    from latentrec import Interactions
    from latentrec.models.implicit_als import ImplicitALS

    warm_up((ImplicitALS,), parquet=False)  # only the kernels this path runs
    df = read_frame(args.folder)
    out = {"read_peak_mib": peak_mib(), "frame_mib": rss_mib(), "hwm_reset": reset_peak()}
    start = time.perf_counter()
    data = Interactions.from_frame(df, copy=copy)
    if not copy:
        out["notes"] = list(data.load_report.notes)
    out["build_s"] = time.perf_counter() - start
    out["build_peak_mib"] = peak_mib()
    if drop:
        del df
        release_arrow_memory()  # the frame's columns were pyarrow's buffers
    out.update(latentrec_fit_recommend(data, args))
    emit_with_peaks(out)


def child_csr(args) -> None:
    """latentrec handed the ready CSR that implicit is handed (ids 0..n-1)."""
    from latentrec import Interactions, Vocabulary
    from latentrec.models.implicit_als import ImplicitALS

    warm_up((ImplicitALS,), parquet=False)
    m = read_csr(args.folder)
    out = {"read_peak_mib": peak_mib(), "csr_mib": rss_mib(), "hwm_reset": reset_peak()}
    users = Vocabulary(np.arange(m.shape[0]), name="user")
    items = Vocabulary(np.arange(m.shape[1]), name="item")
    data = Interactions(users, items, m, implicit=True)
    out.update(latentrec_fit_recommend(data, args))
    emit_with_peaks(out)


def child_frame_drop(args) -> None:
    child_frame(args, drop=True)


def child_frame_shared(args) -> None:
    child_frame(args, copy=False)


def read_frame(folder: str):
    """The ratings as a DataFrame, read as a user would, without pyarrow's double copy.

    pyarrow's allocator keeps the memory it freed (about 150 MiB after this read at
    10^7); it is handed back, so that the process holds the frame and not the reader's
    cache.  Both libraries' children read the frame this way.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(os.path.join(folder, "ratings.parquet"))
    df = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    release_arrow_memory()
    return df


def read_csr(folder: str):
    """The ratings as the CSR matrix the generator saved (users as rows, ids 0..n-1)."""
    import scipy.sparse as sp

    with np.load(os.path.join(folder, "csr.npz")) as f:
        return sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))


def release_arrow_memory() -> None:
    """Hand the memory pyarrow's allocator keeps after frees back to the system."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def latentrec_ials(args):
    """latentrec's ImplicitALS with the settings every child compares (implicit's are alike)."""
    from latentrec.models.implicit_als import ImplicitALS

    return ImplicitALS(
        n_factors=args.factors, n_epochs=args.epochs, confidence="linear", alpha=2.0,
        regularization=30.0, num_threads=2, random_state=0,
    )  # fmt: skip


def timed_fit_recommend(fit, recommend, epochs: int) -> dict:
    """Run ``fit()`` then ``recommend()`` (top-10 of every user): their seconds, the fit's peak.

    ``ials_s`` is per iteration; ``fit_peak_mib`` is read between the two, so that a
    child's ``peak_mib`` read after the top-10 shows which of the two set it.
    """
    start = time.perf_counter()
    fit()
    fit_s = (time.perf_counter() - start) / epochs
    fit_peak = peak_mib()
    start = time.perf_counter()
    recommend()
    return {"ials_s": fit_s, "fit_peak_mib": fit_peak, "recommend_s": time.perf_counter() - start}


def latentrec_fit_recommend(data, args) -> dict:
    """latentrec's ImplicitALS on ``data``, then its batch top-10 of every user: seconds."""
    model = latentrec_ials(args)
    return timed_fit_recommend(
        lambda: model.fit(data),
        lambda: model.recommend_batch_idx(np.arange(data.n_users), n=10),
        args.epochs,
    )


def implicit_fit_recommend(m, args) -> dict:
    """implicit's ALS on the CSR ``m``, then its batch top-10 of every user: seconds."""
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=args.factors, iterations=args.epochs, alpha=2.0, regularization=30.0,
        num_threads=2, random_state=0,
    )  # fmt: skip
    return timed_fit_recommend(
        lambda: model.fit(m, show_progress=False),
        lambda: model.recommend(np.arange(m.shape[0]), m, N=10, filter_already_liked_items=True),
        args.epochs,
    )


def emit_with_peaks(out: dict) -> None:
    """Emit a comparison child's figures with its peak since the reset and its whole peak."""
    peak = peak_mib()
    emit(peak_mib=peak, whole_mib=max(peak, out["read_peak_mib"]), **out)


def child_implicit(args) -> None:
    import implicit.cpu.als  # noqa: F401  (its imports count, as latentrec's do)

    m = read_csr(args.folder)
    out = {"read_peak_mib": peak_mib(), "csr_mib": rss_mib(), "hwm_reset": reset_peak()}
    out.update(implicit_fit_recommend(m, args))
    emit_with_peaks(out)


def child_implicit_frame(args) -> None:
    """implicit from the same DataFrame: the CSR built by scipy, as its users build it."""
    import implicit.cpu.als  # noqa: F401
    import scipy.sparse as sp

    df = read_frame(args.folder)
    out = {"read_peak_mib": peak_mib(), "frame_mib": rss_mib(), "hwm_reset": reset_peak()}
    start = time.perf_counter()
    m = sp.csr_matrix(
        (df["rating"].to_numpy(), (df["user_id"].to_numpy(), df["item_id"].to_numpy()))
    )
    out["build_s"] = time.perf_counter() - start
    out.update(implicit_fit_recommend(m, args))
    emit_with_peaks(out)


def child_surprise(args) -> None:
    import pandas as pd
    from surprise import SVD, Dataset, Reader

    df = pd.read_parquet(os.path.join(args.folder, "ratings.parquet"))
    base = peak_mib()
    start = time.perf_counter()
    trainset = Dataset.load_from_df(df, Reader(rating_scale=(1, 5))).build_full_trainset()
    load_s = time.perf_counter() - start
    del df
    start = time.perf_counter()
    SVD(n_factors=args.factors, n_epochs=1, random_state=0).fit(trainset)
    emit(load_s=load_s, sgd_s=time.perf_counter() - start, base_mib=base, peak_mib=peak_mib())


CHILDREN = {
    "generate": child_generate,
    "run": child_run,
    "warm": child_warm,
    "lrdata": child_lrdata,
    "frame": child_frame,
    "frame_drop": child_frame_drop,
    "frame_shared": child_frame_shared,
    "csr": child_csr,
    "implicit": child_implicit,
    "implicit_frame": child_implicit_frame,
    "surprise": child_surprise,
}


# ---------------------------------------------------------------------- parent
def spawn(kind: str, n: int, folder: str, args) -> dict:
    cmd = [
        sys.executable, __file__, "--child", kind, "--n", str(n), "--folder", folder,
        "--factors", str(args.factors), "--epochs", str(epochs(n, args)),
    ]  # fmt: skip
    print(f"[{time.strftime('%H:%M:%S')}] {kind} at {n:.0e} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, text=True, env={**os.environ, "NUMBA_NUM_THREADS": "2"}
        )
        # Bounded in time and in memory: a child past --max-gib is stopped, not the machine.
        start, stopped = time.monotonic(), None
        while proc.poll() is None:
            time.sleep(0.5)
            if time.monotonic() - start > args.timeout:
                stopped = f"stopped after {args.timeout} s"
            elif rss_gib(proc.pid) > args.max_gib:
                stopped = f"stopped above {args.max_gib} GiB"
            if stopped:
                proc.kill()
                proc.wait()
                return {"error": stopped}
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit {proc.returncode}: {tail[0][:150]}"}


def rss_gib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def epochs(n: int, args) -> int:
    return args.epochs if args.epochs else (2 if n <= 10**7 else 1)


def fmt(r: dict, key: str, unit: str = "s") -> str:
    if "error" in r:
        return "not run" if r["error"] == "not run" else "failed"
    v = r.get(key)
    if v is None:
        return "-"
    return f"{v:,.0f} MiB" if unit == "MiB" else f"{v:,.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", choices=["1e7", "1e8"], default="1e7", help="10^7 ratings, or 10^7 then 10^8"
    )
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=0, help="default: 2 at 1e7, 1 at 1e8")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per child")
    parser.add_argument("--max-gib", type=float, default=8.0, help="memory cap per child")
    parser.add_argument("--skip-surprise", action="store_true")
    parser.add_argument("--only-largest", action="store_true", help="skip the 1e7 rows")
    parser.add_argument(
        "--only-frame",
        action="store_true",
        help="only the memory comparison from a DataFrame: latentrec's ImplicitALS and "
        "top-10 of every user from a pandas DataFrame, against implicit handed a ready CSR "
        "(and from the same DataFrame)",
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument(
        "--smoke",
        type=int,
        metavar="N",
        help=f"run every step on N synthetic ratings instead of --size (N >= "
        f"{MIN_SMOKE:,}; about 100 a user, a quarter of the cells at most), to check "
        "that the script runs here before a long run",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*OpenBLAS.*")
    if args.child:
        CHILDREN[args.child](args)
        return
    sizes = [10**7, 10**8] if args.size == "1e8" else [10**7]
    if args.only_largest:
        sizes = sizes[-1:]
    if args.smoke is not None:
        if args.smoke < MIN_SMOKE:
            sys.exit(f"scale.py: --smoke must be at least {MIN_SMOKE:,} ratings, got {args.smoke}")
        sizes = [args.smoke]
    results = {}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="latentrec-scale-") as folder:
            r = results[n] = {"generate": spawn("generate", n, folder, args)}
            if "error" in r["generate"]:
                continue
            r["warm"] = spawn("warm", n, folder, args)
            if not args.only_frame:
                r["run"] = spawn("run", n, folder, args)
                r["lrdata"] = spawn("lrdata", n, folder, args)
            r["implicit"] = spawn("implicit", n, folder, args)
            if n <= 10**7:
                r["frame"] = spawn("frame", n, folder, args)
                r["frame_drop"] = spawn("frame_drop", n, folder, args)
                r["frame_shared"] = spawn("frame_shared", n, folder, args)
                r["csr"] = spawn("csr", n, folder, args)
                r["implicit_frame"] = spawn("implicit_frame", n, folder, args)
                if not (args.skip_surprise or args.only_frame):
                    r["surprise"] = spawn("surprise", n, folder, args)
        print(json.dumps({str(n): r}), file=sys.stderr, flush=True)
    report(results, args)
    failed = failures(results)
    if failed:
        sys.exit(f"scale.py: {len(failed)} step(s) failed: " + "; ".join(failed))


def failures(results: dict) -> list[str]:
    """Each step that failed, as ``"kind at size: error"`` (steps left out are not failures).

    Example:
        >>> failures({1000: {"generate": {"peak_mib": 80.0}, "run": {"error": "exit 1: boom"}}})
        ['run at 1e+03: exit 1: boom']
    """
    return [
        f"{kind} at {n:.0e}: {r['error']}"
        for n, steps in results.items()
        for kind, r in steps.items()
        if "error" in r and r["error"] != "not run"
    ]


def report(results: dict, args) -> None:
    print(
        f"\nfactors {args.factors}, 2 threads; per-epoch / per-iteration seconds; peaks are VmHWM"
    )
    for n, r in results.items():
        shape = shape_of(n)
        print(f"\n## {n:.0e} ratings ({shape[0]:,} users x {shape[1]:,} items)")
        g = r["generate"]
        if "error" in g:
            print(f"generator: {g['error']}")
            continue
        skipped = {"error": "not run"}
        run, lr, imp = r.get("run", skipped), r.get("lrdata", skipped), r["implicit"]
        rows = [
            ("synthetic generator", f"{g['generate_s']:.1f} s", fmt(g, "peak_mib", "MiB")),
            ("load CSV (chunked)", fmt(run, "load_s"), fmt(run, "load_peak_mib", "MiB")),
            ("data convert -> .lrdata", fmt(lr, "convert_s"), "-"),
            ("load .lrdata (mmap)", fmt(lr, "load_s"), fmt(lr, "peak_mib", "MiB")),
            ("SGD BiasedMF, per epoch", fmt(run, "sgd_s"), fmt(run, "sgd_peak_mib", "MiB")),
            ("explicit ALS, per iteration", fmt(run, "als_s"), fmt(run, "als_peak_mib", "MiB")),
            ("implicit ALS, per iteration", fmt(run, "ials_s"), fmt(run, "ials_peak_mib", "MiB")),
            ("recommend_all top-10 -> Parquet", fmt(run, "recommend_s"), ""),
            ("latentrec whole run", "", fmt(run, "peak_mib", "MiB")),
            ("implicit: ALS per iteration", fmt(imp, "ials_s"), fmt(imp, "whole_mib", "MiB")),
            ("implicit: top-10 all users", fmt(imp, "recommend_s"), ""),
        ]  # fmt: skip
        s = r.get("surprise")
        if s is not None:
            rows += [
                ("Surprise: load + trainset", fmt(s, "load_s"), ""),
                ("Surprise: SVD per epoch", fmt(s, "sgd_s"), fmt(s, "peak_mib", "MiB")),
            ]
        elif n > 10**7:
            rows.append(("Surprise", "not run", surprise_estimate(results, n)))
        print(f"{'step':<36}{'time':>12}{'peak':>14}")
        for name, t, p in rows:
            print(f"{name:<36}{t:>12}{p:>14}")
        if "frame" in r:
            frame_comparison(r)
        if "error" not in run:
            per = (run["load_peak_mib"] - run["base_mib"]) * 2**20 / run["nnz"]
            print(f"load: {per:.1f} bytes per rating above the imports at the peak")


FRAME_RUNS = (
    ("frame", "latentrec from the DataFrame"),
    ("frame_drop", "  the same, frame deleted once built"),
    ("frame_shared", "  the same, copy=False (frame shared)"),
    ("csr", "latentrec handed the ready CSR"),
    ("implicit", "implicit handed a ready CSR"),
    ("implicit_frame", "implicit from the same DataFrame"),
)


def frame_comparison(r: dict) -> None:
    """The memory comparison from a DataFrame: from the input in hand, and for the whole process."""
    print(
        "\nMemory from a DataFrame against implicit (ImplicitALS, top-10 of every user).\n"
        "'in hand': resident set once the input (DataFrame or CSR) is loaded; 'peak': from\n"
        "then on (VmHWM reset there); 'whole': the whole process's peak, reading the input\n"
        "included."
    )
    print(f"{'':<38}{'in hand':>9}{'peak':>7}{'whole':>7}{'build':>8}{'s/iter':>8}{'top-10':>8}")
    for key, name in FRAME_RUNS:
        x = r.get(key, {"error": "not run"})
        if "error" in x:
            print(f"{name:<38}{x['error']}")
            continue
        hand = x.get("frame_mib", x.get("csr_mib"))
        build = f"{x['build_s']:.1f}" if "build_s" in x else "-"
        print(
            f"{name:<38}{hand:>9,.0f}{x['peak_mib']:>7,.0f}{x['whole_mib']:>7,.0f}{build:>8}"
            f"{x['ials_s']:>8.1f}{x['recommend_s']:>8.1f}"
        )
    for note in r.get("frame_shared", {}).get("notes", ()):
        print(f"copy=False: {note}")
    for key in ("frame", "frame_drop", "frame_shared", "csr"):
        for ref in ("implicit", "implicit_frame"):
            a, b = r.get(key, {}), r.get(ref, {})
            if "peak_mib" in a and "peak_mib" in b:
                print(
                    f"{key} / {ref}: peak {a['peak_mib'] / b['peak_mib']:.2f}, "
                    f"whole {a['whole_mib'] / b['whole_mib']:.2f}"
                )


def surprise_estimate(results: dict, n: int) -> str:
    small = results.get(10**7, {}).get("surprise")
    if not small or "error" in small:
        return "(no 1e7 figure)"
    per = (small["peak_mib"] - small["base_mib"]) / 10**7
    est = per * n / 1024
    return f"~{est:,.0f} GiB est."


if __name__ == "__main__":
    main()
