"""Top-10 for every user with seen items excluded: latentrec against implicit, same factors.

    .venv/bin/python benchmarks/topk_scale.py --scale 1m     # 10k users x 20k items, 1M cells
    .venv/bin/python benchmarks/topk_scale.py --scale 10m    # 100k users x 20k items, 10M cells

Both libraries get the same float32 factors (random N(0, 0.1²), 64 by default) and the
same seen-item CSR from ``latentrec.datasets.synthetic(..., implicit=True)``.  implicit's
model is ``implicit.cpu.als.AlternatingLeastSquares(factors=k)`` with ``user_factors`` /
``item_factors`` assigned, timed through its batch
``recommend(userids, user_items, N=10, filter_already_liked_items=True)``.  latentrec is
timed through ``recommend_batch_idx`` (arrays, like implicit's answer) and
``recommend_batch`` (the long DataFrame with raw ids).

Runs alternate between the libraries in one process with the same numba/OpenMP threads;
implicit runs both as installed (OpenBLAS threads left as they are, which implicit warns
about) and with BLAS limited to one thread, as implicit recommends.  Compilation is
excluded: both warm up on a few users first.  The top-10 sets are compared: a user whose
sets differ must owe it to ties (the 10th best scores agree to float32 rounding).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np

SCALES = {
    "1m": (10_000, 20_000, 1_000_000),
    "10m": (100_000, 20_000, 10_000_000),
}


def latentrec_model(data, P, Q):
    """A factor model with the given factors, no biases and ``data``'s seen items."""
    from latentrec.models import Catalog, FactorModel

    return FactorModel.from_factors(Catalog.from_interactions(data), Q, P)


def implicit_model(P, Q):
    from implicit.cpu.als import AlternatingLeastSquares

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its BLAS-threads advice; measured both ways below
        model = AlternatingLeastSquares(factors=P.shape[1], random_state=0)
    model.user_factors = P
    model.item_factors = Q
    return model


def compare_sets(ours_idx, ours_val, theirs_idx, theirs_val, rtol=1e-5):
    """(users with equal top-k sets, users whose difference is explained by ties)."""
    same = np.array(
        [set(a.tolist()) == set(b.tolist()) for a, b in zip(ours_idx, theirs_idx, strict=True)]
    )
    diff = np.flatnonzero(~same)
    tied = 0
    for r in diff:
        # Where the sets differ, the k-th best score must be the same number (a tie) up to
        # float32 rounding, and each side's list must be sorted the same way.
        a, b = np.sort(ours_val[r])[::-1], np.sort(theirs_val[r])[::-1]
        tied += bool(np.allclose(a, b, rtol=rtol, atol=1e-6))
    return int(same.sum()), tied, diff.size - tied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="1m")
    parser.add_argument("--users", type=int, help="override the scale's users")
    parser.add_argument("--items", type=int, help="override the scale's items")
    parser.add_argument("--interactions", type=int, help="override the scale's cells")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("-n", type=int, default=10, help="items per user")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-dataframe", action="store_true", help="time arrays only")
    parser.add_argument("--tile-rows", type=int, help="override retrieval.TILE_ROWS")
    parser.add_argument("--tile-cols", type=int, help="override retrieval.TILE_COLS")
    args = parser.parse_args()
    import latentrec.retrieval

    if args.tile_rows:
        latentrec.retrieval.TILE_ROWS = args.tile_rows
    if args.tile_cols:
        latentrec.retrieval.TILE_COLS = args.tile_cols

    import numba
    from implicit.cpu.topk import topk as implicit_topk  # noqa: F401  (import cost outside)
    from threadpoolctl import threadpool_info, threadpool_limits

    import latentrec
    from latentrec.datasets import synthetic

    n_users, n_items, nnz = SCALES[args.scale]
    n_users = args.users or n_users
    n_items = args.items or n_items
    nnz = args.interactions or nnz
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"numba threads {numba.get_num_threads()} ({numba.config.THREADING_LAYER}); "
        f"BLAS {[(b['internal_api'], b['num_threads']) for b in threadpool_info()]}; "
        f"latentrec {latentrec.__version__}, numpy {np.__version__}; top-k tiles "
        f"{latentrec.retrieval.TILE_ROWS} users x {latentrec.retrieval.TILE_COLS} items"
    )
    t0 = time.perf_counter()
    data = synthetic(n_users, n_items, nnz, implicit=True, random_state=0)
    print(f"{data!r}  (generated in {time.perf_counter() - t0:.1f}s)")
    rng = np.random.default_rng(0)
    P = rng.normal(0.0, 0.1, (n_users, args.factors)).astype(np.float32)
    Q = rng.normal(0.0, 0.1, (n_items, args.factors)).astype(np.float32)
    ours = latentrec_model(data, P, Q)
    theirs = implicit_model(P, Q)
    seen = data.matrix
    users = np.arange(n_users)
    raw_users = data.users.ids

    t0 = time.perf_counter()
    ours.recommend_batch_idx(users[:3], n=args.n)
    ours.recommend_batch(raw_users[:3], n=args.n)
    theirs.recommend(users[:300], seen[:300], N=args.n, filter_already_liked_items=True)
    print(f"warm-up (numba compile or cache load): {time.perf_counter() - t0:.1f}s")

    runs: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def timed(name, fn):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        runs.setdefault(name, []).append(time.perf_counter() - t)
        cpu.setdefault(name, []).append(time.process_time() - c)
        return out

    for _ in range(args.repeats):
        o_idx, o_val, _ = timed(
            "latentrec recommend_batch_idx", lambda: ours.recommend_batch_idx(users, n=args.n)
        )
        if not args.skip_dataframe:
            timed(
                "latentrec recommend_batch (DataFrame)",
                lambda: ours.recommend_batch(raw_users, n=args.n),
            )
        t_idx, t_val = timed(
            "implicit recommend (BLAS threads as installed)",
            lambda: theirs.recommend(users, seen, N=args.n, filter_already_liked_items=True),
        )
        with threadpool_limits(1, "blas"):
            timed(
                "implicit recommend (BLAS limited to 1 thread)",
                lambda: theirs.recommend(users, seen, N=args.n, filter_already_liked_items=True),
            )

    print(
        f"\ntop-{args.n} for {n_users} users x {n_items} items, k={args.factors}, "
        f"{args.repeats} alternating runs (seconds)"
    )
    print(f"{'':<48}{'min':>9}{'median':>9}{'CPU s':>9}")
    for name, times in runs.items():
        print(
            f"{name:<48}{min(times):>9.2f}{statistics.median(times):>9.2f}"
            f"{statistics.median(cpu[name]):>9.2f}"
        )
    best_implicit = min(
        statistics.median(t) for name, t in runs.items() if name.startswith("implicit")
    )
    ours_median = statistics.median(runs["latentrec recommend_batch_idx"])
    print(
        f"\nspeed-up (median, arrays) over implicit's faster configuration: "
        f"{best_implicit / ours_median:.2f}x"
    )
    if not args.skip_dataframe:
        df_median = statistics.median(runs["latentrec recommend_batch (DataFrame)"])
        print(f"speed-up (median, DataFrame with raw ids): {best_implicit / df_median:.2f}x")

    same, tied, other = compare_sets(o_idx, o_val, t_idx, t_val)
    print(
        f"\ntop-{args.n} sets: {same} of {n_users} users identical, {tied} differ only by "
        f"tied scores, {other} differ otherwise"
    )
    leaked = sum(
        np.isin(o_idx[u], seen.indices[seen.indptr[u] : seen.indptr[u + 1]]).any()
        for u in range(0, n_users, max(1, n_users // 2000))
    )
    print(f"seen items returned by latentrec (sampled users): {leaked}")
    if other or leaked:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
