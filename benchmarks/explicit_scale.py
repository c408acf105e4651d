"""BiasedMF against Surprise's SVD at scale: seconds per epoch and peak memory.

    .venv/bin/python benchmarks/explicit_scale.py                   # 1M ratings, ~1 min
    .venv/bin/python benchmarks/explicit_scale.py --sizes 1m,10m    # + 10M: ~6 min, 3.5 GB
    .venv/bin/python benchmarks/explicit_scale.py --users 50000 --items 10000 --ratings 5000000

Data: ``latentrec.datasets.synthetic(n_users, n_items, n_ratings, random_state=0)`` (Zipf
item popularity, lognormal user activity), generated once and written to a temporary
file.  Each library then runs in its own child process, which loads the raw
(user, item, rating) arrays, builds the structures that library needs (latentrec:
``Interactions.from_frame``; Surprise: ``Dataset.load_from_df(...).build_full_trainset()``)
and fits.  Peak memory is that child's high-water mark of resident memory (``VmHWM``),
so it covers the interpreter, the libraries, the raw arrays, the data structures and
the fit; the import-time baseline of each child is reported beside it.

Both fit the same model with the same hyperparameters (Surprise SVD's defaults:
``--factors`` 100, learning rate 0.005, regularisation 0.02, init std 0.1; latentrec with a
constant learning rate), the same number of epochs.  Seconds per epoch = fit time /
epochs (Surprise), mean epoch time of ``history_`` (latentrec; numba kernels are
compiled or loaded from cache on a tiny fit before timing).  CPU seconds per epoch =
the process's CPU time during ``fit`` / epochs for both (all threads; for latentrec it
includes the one-off set-up of the fit), a figure that the machine's other load
disturbs less than wall time.  The children run one after
another, alternating libraries when ``--repeats`` > 1; the machine's other load affects
both.  This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {
    "1m": (10_000, 5_000, 1_000_000),
    "10m": (100_000, 20_000, 10_000_000),
}


def memory_kib() -> dict:
    """Current and peak resident memory of this process, from /proc/self/status."""
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


# ------------------------------------------------------------------ children
def child_latentrec(path: str, args) -> dict:
    import pandas as pd

    from latentrec import Interactions
    from latentrec.models import BiasedMF

    BiasedMF(n_factors=2, n_epochs=1).fit(Interactions.from_dense(np.eye(3) + 1))
    base = memory_kib()["VmRSS"]
    raw = np.load(path)
    start = time.perf_counter()
    frame = pd.DataFrame({"user": raw["users"], "item": raw["items"], "rating": raw["ratings"]})
    data = Interactions.from_frame(
        frame, user="user", item="item", rating="rating", rating_scale=(1, 5)
    )
    del frame
    build = time.perf_counter() - start
    model = BiasedMF(
        n_factors=args.factors,
        n_epochs=args.epochs,
        learning_rate=0.005,
        learning_rate_decay=1.0,
        regularization=0.02,
        init_std=0.1,
        num_threads=args.threads,
        random_state=0,
    )
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(data)
    fit, cpu = time.perf_counter() - start, time.process_time() - cpu
    import numba

    return {
        "build_s": build,
        "fit_s": fit,
        "epoch_s": float(np.mean(model.history_["seconds"])),
        "cpu_epoch_s": cpu / args.epochs,
        "train_rmse": model.history_["train_rmse"][-1],
        "threads": args.threads or numba.get_num_threads(),
        "base_kib": base,
        "peak_kib": memory_kib()["VmHWM"],
    }


def child_surprise(path: str, args) -> dict:
    import pandas as pd
    import surprise

    base = memory_kib()["VmRSS"]
    raw = np.load(path)
    start = time.perf_counter()
    frame = pd.DataFrame({"user": raw["users"], "item": raw["items"], "rating": raw["ratings"]})
    dataset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5)))
    trainset = dataset.build_full_trainset()
    del frame, dataset
    build = time.perf_counter() - start
    algo = surprise.SVD(n_factors=args.factors, n_epochs=args.surprise_epochs, random_state=0)
    start, cpu = time.perf_counter(), time.process_time()
    algo.fit(trainset)
    fit, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "build_s": build,
        "fit_s": fit,
        "epoch_s": fit / args.surprise_epochs,
        "cpu_epoch_s": cpu / args.surprise_epochs,
        "threads": 1,
        "base_kib": base,
        "peak_kib": memory_kib()["VmHWM"],
    }


# ------------------------------------------------------------------ parent
def run_child(library: str, path: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        library,
        "--data",
        path,
        "--factors",
        str(args.factors),
        "--epochs",
        str(args.epochs),
        "--surprise-epochs",
        str(args.surprise_epochs),
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{library} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m", help="comma list of " + ", ".join(SIZES))
    parser.add_argument("--users", type=int, help="custom size: users (with --items, --ratings)")
    parser.add_argument("--items", type=int)
    parser.add_argument("--ratings", type=int)
    parser.add_argument("--factors", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3, help="epochs for latentrec")
    parser.add_argument("--surprise-epochs", type=int, default=None, help="default: --epochs")
    parser.add_argument("--threads", type=int, default=None, help="latentrec threads")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", choices=("latentrec", "surprise"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.surprise_epochs is None:
        args.surprise_epochs = args.epochs
    if args.child:
        child = child_latentrec if args.child == "latentrec" else child_surprise
        print(json.dumps(child(args.data, args)))
        return

    from latentrec.datasets import synthetic

    if args.users:
        sizes = [(f"{args.ratings:,}", (args.users, args.items, args.ratings))]
    else:
        sizes = [(name, SIZES[name]) for name in args.sizes.split(",")]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{args.factors} factors; latentrec {args.epochs} epochs, Surprise "
        f"{args.surprise_epochs}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (n_users, n_items, n_ratings) in sizes:
            start = time.perf_counter()
            data = synthetic(n_users, n_items, n_ratings, random_state=0)
            path = str(Path(tmp) / f"{name}.npz")
            np.savez(path, users=data.user_idx, items=data.item_idx, ratings=data.ratings)
            del data
            print(
                f"\n{name}: {n_users:,} users x {n_items:,} items, {n_ratings:,} ratings "
                f"(generated in {time.perf_counter() - start:.1f}s)",
                flush=True,
            )
            for rep in range(args.repeats):
                for library in ("latentrec", "surprise"):
                    r = run_child(library, path, args)
                    r.update(size=name, library=library, repeat=rep)
                    rows.append(r)
                    print(
                        f"  {library:<10} build {r['build_s']:7.2f}s  fit {r['fit_s']:8.2f}s  "
                        f"epoch {r['epoch_s']:8.3f}s (cpu {r['cpu_epoch_s']:7.3f}s)  "
                        f"peak {r['peak_kib'] / 1024:7.0f} MiB "
                        f"(imports {r['base_kib'] / 1024:4.0f} MiB)  threads {r['threads']}",
                        flush=True,
                    )

    print(
        f"\n{'size':<8}{'library':<11}{'s/epoch':>9}{'speed-up':>10}{'cpu s/epoch':>12}"
        f"{'cpu ratio':>10}{'peak MiB':>10}{'above imports':>15}{'memory ratio':>14}"
    )
    for name, _ in sizes:
        ours = [r for r in rows if r["size"] == name and r["library"] == "latentrec"]
        theirs = [r for r in rows if r["size"] == name and r["library"] == "surprise"]
        med = lambda rs, key: float(np.median([r[key] for r in rs]))  # noqa: E731
        for library, rs in (("latentrec", ours), ("surprise", theirs)):
            speed = med(theirs, "epoch_s") / med(rs, "epoch_s")
            cpu = med(theirs, "cpu_epoch_s") / med(rs, "cpu_epoch_s")
            mem = med(rs, "peak_kib") / med(theirs, "peak_kib")
            above = (med(rs, "peak_kib") - med(rs, "base_kib")) / 1024
            print(
                f"{name:<8}{library:<11}{med(rs, 'epoch_s'):>9.3f}{speed:>9.1f}x"
                f"{med(rs, 'cpu_epoch_s'):>12.3f}{cpu:>9.1f}x"
                f"{med(rs, 'peak_kib') / 1024:>10.0f}{above:>15.0f}{mem:>14.2f}"
            )


if __name__ == "__main__":
    main()
