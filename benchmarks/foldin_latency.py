"""Fold-in latency of one user (20 items), median and p95, old path vs new, idle and loaded.

    .venv/bin/python benchmarks/foldin_latency.py
    .venv/bin/python benchmarks/foldin_latency.py --repeats 500 --hogs 2
    .venv/bin/python benchmarks/foldin_latency.py --models WARP BayesianMF

A served model folds a user in per request (``model.fold_in({item: value})``).  For each
model (fitted on 20,000 random cells, 500 users x 800 items, 32 factors, seed 0) the
script (``--models``, default ImplicitALS, BPR and BiasedMF) times ``--repeats``
fold-ins of one user with 20 items, in three ways:

- ``all`` (the path before the fix): every fold-in computes the fixed side's
  Gram again (the remembered one is dropped first) and its numba kernel runs on all of
  numba's threads;
- ``auto`` (the product): the Gram is computed once per fitted state and a fold-in of at
  most ``SERIAL_ROWS`` rows (at 32 factors) runs on one numba thread;
- ``write``: as ``auto``, but each fold-in is on a new fitted state made as a write
  (``partial_fit_users``) makes it: new user arrays, the item side's arrays left as
  they are, so the item Gram carries over (before it did, every write's first fold-in
  computed it again).

Each is measured idle and with ``--hogs`` busy-looping processes beside it (default: one
per CPU).  The answers of the three ways are checked to be bit-identical.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import numpy as np
import pandas as pd

import latentrec.kernels.threads as threads_mod
import latentrec.models as models_mod
from latentrec.data import Interactions
from latentrec.models.catalog import Fitted


def _hog(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _data() -> tuple[Interactions, dict]:
    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 500, n).astype(str),
            "item_id": rng.integers(0, 800, n).astype(str),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )
    items = list(frame.item_id.unique()[:20])
    return Interactions.from_frame(frame), dict(zip(items, [4.0] * 20, strict=True))


def _time(model, ratings: dict, repeats: int, path: str):
    serial_rows = threads_mod.SERIAL_ROWS
    if path == "all":
        threads_mod.SERIAL_ROWS = -1  # every batch on numba's whole pool
    try:
        times = []
        answer = None
        for _ in range(repeats + 5):
            user = model
            f = model.fitted_
            if path == "all":  # a state built anew remembers nothing: the Gram is computed
                user = type(model).from_fitted(
                    Fitted.build(f.catalog, dict(f.state)), **model.get_params()
                )
            elif path == "write":  # what partial_fit_users swaps in: new user arrays only
                users = {name: np.array(f.state[name]) for name in ("user_bias_", "user_factors_")}
                user = type(model).from_fitted(f.evolve(**users), **model.get_params())
            start = time.perf_counter()
            answer = user.fold_in(ratings)
            times.append(time.perf_counter() - start)
    finally:
        threads_mod.SERIAL_ROWS = serial_rows
    ms = np.array(times[5:]) * 1e3  # the first ones compile and warm caches
    return float(np.median(ms)), float(np.percentile(ms, 95)), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--models",
        nargs="+",
        default=["ImplicitALS", "BPR", "BiasedMF"],
        help="model classes of latentrec.models (ALS, WARP, BayesianMF, SVDpp, NMF, ...)",
    )
    args = parser.parse_args()
    data, ratings = _data()
    models = [getattr(models_mod, name)(n_factors=32, random_state=0) for name in args.models]
    for model in models:
        model.fit(data)
    print(f"{'model':<12} {'load':<6} {'threads':<8} {'median ms':>10} {'p95 ms':>10}")
    for load in ("idle", "hog"):
        stop = mp.Event()
        hogs = []
        if load == "hog":
            hogs = [mp.Process(target=_hog, args=(stop,)) for _ in range(args.hogs)]
            for h in hogs:
                h.start()
            time.sleep(0.5)
        try:
            for model in models:
                answers = []
                for label in ("all", "auto", "write"):
                    med, p95, answer = _time(model, ratings, args.repeats, label)
                    answers.append(answer)
                    name = type(model).__name__
                    print(f"{name:<12} {load:<6} {label:<8} {med:>10.3f} {p95:>10.3f}")
                a = answers[0]
                for b in answers[1:]:
                    if a.bias != b.bias or not np.array_equal(a.factors, b.factors):
                        raise SystemExit(f"{type(model).__name__}: the paths' answers differ")
        finally:
            stop.set()
            for h in hogs:
                h.join()


if __name__ == "__main__":
    main()
