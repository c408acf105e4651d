"""Implicit ALS at scale: seconds per iteration, top-10 for all users and peak memory.

Synthetic implicit counts from ``latentrec.datasets.synthetic(..., implicit=True,
random_state=0)``; both libraries fit the same CSR matrix (the counts as strengths) with
64 factors, CG with 3 steps, the same alpha and regularization, the same number of threads
(numba / OpenMP) and OpenBLAS pinned to one thread (as implicit asks):

    .venv/bin/python benchmarks/implicit_scale.py --size 1M
    .venv/bin/python benchmarks/implicit_scale.py --size 10M
    .venv/bin/python benchmarks/implicit_scale.py --users 50000 --items 5000 --nnz 2000000

Sizes: ``1M`` = 10,000 users x 2,000 items x 1,000,000 cells (5% dense, like MovieLens);
``10M`` = 100,000 x 20,000 x 10,000,000.

Time: both fit in this process, alternating, ``--repeats`` times; per-iteration seconds
are fit seconds / iterations (latentrec's fit includes its per-iteration objective, which
costs nothing extra; implicit computes none).  numba is warmed up on tiny data first, so
compilation is excluded.

Recommend-all: after each timed fit, each library's own trained model gives the top-10
for every user with seen items excluded: latentrec through ``recommend_batch_idx`` (arrays,
like implicit's answer) and ``recommend_all`` (streamed to a Parquet file, when pyarrow is
installed), implicit through its batch ``recommend(userids, user_items, N=10,
filter_already_liked_items=True)``.  ``--skip-recommend`` leaves this out;
``benchmarks/topk_scale.py`` compares the two on the same factors.

Memory: each library fits in its own child process that loads the matrix from a ``.npz``
written by the parent; the child reports its resident set after loading (imports and the
matrix) and its peak resident set (``VmHWM``) after the fit.  The figure compared is
the peak; the extra over the loaded state is shown too.
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
import scipy.sparse as sp  # noqa: E402
from _memory import peak_mib, rss_mib  # noqa: E402

SIZES = {"1M": (10_000, 2_000, 1_000_000), "10M": (100_000, 20_000, 10_000_000)}


def load_csr(path: str) -> sp.csr_matrix:
    with np.load(path) as f:
        return sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))


def as_interactions(m: sp.csr_matrix):
    from latentrec import Interactions
    from latentrec.data.vocabulary import Vocabulary

    users = Vocabulary(np.arange(m.shape[0]), name="user")
    items = Vocabulary(np.arange(m.shape[1]), name="item")
    return Interactions(users, items, m, implicit=True)


def fit_latentrec(data, args):
    from latentrec.models.implicit_als import ImplicitALS

    model = ImplicitALS(
        n_factors=args.factors,
        n_epochs=args.iterations,
        confidence="linear",  # implicit's confidence, so both solve the same problem
        alpha=args.alpha,
        regularization=args.regularization,
        num_threads=args.threads,
        random_state=0,
    )
    start = time.perf_counter()
    model.fit(data)
    return model, time.perf_counter() - start


def fit_implicit(m, args):
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=args.factors,
        iterations=args.iterations,
        alpha=args.alpha,
        regularization=args.regularization,
        num_threads=args.threads,
        random_state=0,
    )
    start = time.perf_counter()
    model.fit(m, show_progress=False)
    return model, time.perf_counter() - start


def recommend_latentrec(model, args) -> dict[str, float]:
    users = np.arange(model.user_factors_.shape[0])
    out = {}
    start = time.perf_counter()
    model.recommend_batch_idx(users, n=args.n)
    out["latentrec recommend_batch_idx"] = time.perf_counter() - start
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model.recommend_all(os.path.join(tmp, "top.parquet"), n=args.n, verbose=False)
        out["latentrec recommend_all (Parquet)"] = time.perf_counter() - start
    return out


def recommend_implicit(model, m, args) -> float:
    users = np.arange(m.shape[0])
    start = time.perf_counter()
    model.recommend(users, m, N=args.n, filter_already_liked_items=True)
    return time.perf_counter() - start


def warm_up(args, recommend: bool = False) -> float:
    from latentrec import datasets
    from latentrec.models.implicit_als import ImplicitALS

    start = time.perf_counter()
    tiny = datasets.synthetic(50, 20, 300, implicit=True, random_state=0)
    model = ImplicitALS(n_factors=4, n_epochs=1, num_threads=args.threads).fit(tiny)
    if recommend:
        model.recommend_batch_idx(np.arange(3), n=2)
    return time.perf_counter() - start


def child(args) -> None:
    warnings.filterwarnings("ignore", message=".*OpenBLAS.*")
    if args.child == "latentrec":
        import latentrec.models.implicit_als  # noqa: F401  (imports count in the baseline)

        warm_up(args)  # compiled-code loading counts in the baseline, not the fit
        m = load_csr(args.matrix)
        data = as_interactions(m)
        loaded = rss_mib()
        fit_latentrec(data, args)
    else:
        import implicit.cpu.als  # noqa: F401

        m = load_csr(args.matrix)
        m.data = m.data.copy()  # implicit needs writable arrays; np.load gives them anyway
        loaded = rss_mib()
        fit_implicit(m, args)
    print(json.dumps({"loaded_mib": loaded, "peak_mib": peak_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="1M")
    parser.add_argument("--users", type=int, help="override the preset")
    parser.add_argument("--items", type=int)
    parser.add_argument("--nnz", type=int)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--regularization", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-time", action="store_true")
    parser.add_argument("--skip-recommend", action="store_true", help="time the fit only")
    parser.add_argument("-n", type=int, default=10, help="items per user for recommend-all")
    parser.add_argument("--child", choices=["latentrec", "implicit"], help=argparse.SUPPRESS)
    parser.add_argument("--matrix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    warnings.filterwarnings("ignore", message=".*OpenBLAS.*")

    n_users, n_items, nnz = SIZES[args.size]
    n_users = args.users or n_users
    n_items = args.items or n_items
    nnz = args.nnz or nnz
    from latentrec import datasets

    start = time.perf_counter()
    data = datasets.synthetic(n_users, n_items, nnz, implicit=True, random_state=0)
    print(
        f"synthetic({n_users}, {n_items}, {nnz}, implicit=True, random_state=0): "
        f"{time.perf_counter() - start:.1f}s; values {data.ratings.min():g}..{data.ratings.max():g}"
    )
    print(
        f"ALS: {args.factors} factors, {args.iterations} iterations, alpha={args.alpha:g}, "
        f"regularization={args.regularization:g}, CG 3 steps; threads={args.threads} for both, "
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, {os.cpu_count()} cores"
    )
    m = sp.csr_matrix(data.matrix, copy=True)
    print(f"numba warm-up (excluded): {warm_up(args, not args.skip_recommend):.2f}s")

    lat, imp = [], []
    rec: dict[str, list[float]] = {}
    for _ in range(0 if args.skip_time else args.repeats):
        model, sec = fit_latentrec(data, args)
        lat.append(sec / args.iterations)
        if not args.skip_recommend:
            for name, sec in recommend_latentrec(model, args).items():
                rec.setdefault(name, []).append(sec)
        del model
        model, sec = fit_implicit(m, args)
        imp.append(sec / args.iterations)
        if not args.skip_recommend:
            rec.setdefault("implicit recommend", []).append(recommend_implicit(model, m, args))
        del model
        print(f"  s/iteration: latentrec {lat[-1]:.3f}, implicit {imp[-1]:.3f}", flush=True)
    if lat:
        t_l, t_i = float(np.median(lat)), float(np.median(imp))
        print(f"median s/iteration: latentrec {t_l:.3f}, implicit {t_i:.3f}, ratio {t_l / t_i:.2f}")
    if rec:
        t_i = float(np.median(rec["implicit recommend"]))
        print(f"\ntop-{args.n} for all {n_users} users, trained models (median seconds):")
        for name, times in rec.items():
            t = float(np.median(times))
            print(f"  {name:<36}{t:>8.2f}   speed-up over implicit {t_i / t:.2f}x")

    if args.skip_memory:
        return
    del data
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "matrix.npz")
        np.savez(path, data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape))
        del m
        mem = {}
        for lib in ("latentrec", "implicit"):
            cmd = [sys.executable, __file__, "--child", lib, "--matrix", path]
            for opt in ("factors", "iterations", "alpha", "regularization", "threads"):
                cmd += [f"--{opt}", str(getattr(args, opt))]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            mem[lib] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n{'peak memory (MiB)':<20}{'after load':>12}{'peak':>10}{'peak - load':>13}")
    for lib, r in mem.items():
        extra = r["peak_mib"] - r["loaded_mib"]
        print(f"{lib:<20}{r['loaded_mib']:>12.0f}{r['peak_mib']:>10.0f}{extra:>13.0f}")
    ratio = mem["latentrec"]["peak_mib"] / mem["implicit"]["peak_mib"]
    extra_ratio = (mem["latentrec"]["peak_mib"] - mem["latentrec"]["loaded_mib"]) / (
        mem["implicit"]["peak_mib"] - mem["implicit"]["loaded_mib"]
    )
    print(f"peak ratio latentrec/implicit: {ratio:.2f}; fit-time extra ratio: {extra_ratio:.2f}")


if __name__ == "__main__":
    main()
