"""5-fold cross-validation of latentrec's rating models on MovieLens-100K.

Reproduces the RMSE and MAE of the GlobalMean, Biases and BiasedMF rows of the explicit
MovieLens-100K table in docs/benchmarks.md (``make bench-ml100k`` runs it):

    .venv/bin/python benchmarks/cv_ml100k.py            # all models, folds seeded with 0

The numba kernels are compiled (or loaded from cache) on a tiny warm-up fit first, so
per-fold fit times measure training, not compilation; the warm-up time is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from latentrec import Interactions
from latentrec.datasets import movielens
from latentrec.evaluation import cross_validate
from latentrec.models import BiasedMF, Biases, GlobalMean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = movielens("100k", verbose=False)
    print(f"{data!r}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}"
    )
    t0 = time.perf_counter()
    BiasedMF(n_factors=2, n_epochs=1).fit(Interactions.from_dense(np.eye(3) + 1))
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - t0:.2f}s")

    models = {
        "GlobalMean": GlobalMean(),
        "Biases": Biases(),
        "BiasedMF (defaults)": BiasedMF(random_state=0),
    }
    print(f"\n{args.folds}-fold cross-validation, folds seeded with {args.seed}")
    print(f"{'model':<22}{'RMSE':>8}{'MAE':>8}{'fit s/fold':>12}")
    for name, model in models.items():
        cv = cross_validate(model, data, args.folds, random_state=args.seed)
        mean = cv.mean()
        print(f"{name:<22}{mean['rmse']:>8.4f}{mean['mae']:>8.4f}{mean['fit_seconds']:>12.3f}")


if __name__ == "__main__":
    main()
