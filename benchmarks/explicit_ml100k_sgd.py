"""BiasedMF and SVDpp against Surprise's SVD and SVDpp on the same MovieLens-100K folds.

    .venv/bin/python benchmarks/explicit_ml100k_sgd.py                 # ~2 min on 2 cores
    .venv/bin/python benchmarks/explicit_ml100k_sgd.py --no-svdpp      # SVD pair only

Every model uses its library's defaults.  The folds are
``latentrec.data.splits.kfold(data, 5, random_state=0)`` (what
``latentrec.evaluation.cross_validate`` uses); each fold's training and test cells are
handed to Surprise as a trainset built from ``train.to_frame()`` and a list of
``(user, item, rating)``, so both libraries see exactly the same cells.  Within each fold
the four fits run one after another in this process, so machine load hits both libraries
alike; speed is reported as the ratio of mean fit times.

Both libraries clip predictions to the 1-5 scale before scoring.  Fit times cover
``fit`` only: latentrec's numba kernels are compiled (or loaded from cache) on a tiny
warm-up fit first, and Surprise's trainset construction is timed separately.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd
from _explicit_folds import run_latentrec, run_surprise, surprise_fold

from latentrec import Interactions
from latentrec.data.splits import kfold
from latentrec.datasets import movielens
from latentrec.models import BiasedMF
from latentrec.models.svdpp import SVDpp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-svdpp", action="store_true", help="skip both SVD++ models")
    args = parser.parse_args()

    import surprise

    data = movielens("100k", verbose=False)
    print(repr(data))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"surprise {surprise.__version__}"
    )
    start = time.perf_counter()
    tiny = Interactions.from_dense(np.eye(3) + 1)
    BiasedMF(n_factors=2, n_epochs=1).fit(tiny)
    SVDpp(n_factors=2, n_epochs=1).fit(tiny)
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - start:.2f}s")

    models = {
        "latentrec BiasedMF": lambda: BiasedMF(random_state=0),
        "surprise SVD": lambda: surprise.SVD(random_state=0),
    }
    if not args.no_svdpp:
        models["latentrec SVDpp"] = lambda: SVDpp(random_state=0)
        models["surprise SVDpp"] = lambda: surprise.SVDpp(random_state=0)

    rows = []
    build = []
    print(f"\n{args.folds}-fold cross-validation, folds seeded with {args.seed}")
    for fold, (train, test) in enumerate(kfold(data, args.folds, random_state=args.seed), 1):
        t0 = time.perf_counter()
        trainset, testset = surprise_fold(train, test)
        build.append(time.perf_counter() - t0)
        for name, make in models.items():
            if name.startswith("latentrec"):
                r = run_latentrec(make(), train, test)
            else:
                r = run_surprise(make(), trainset, testset)
            rows.append({"model": name, "fold": fold, **r})
            print(
                f"  fold {fold} {name:<20} RMSE {r['rmse']:.4f}  MAE {r['mae']:.4f}  "
                f"fit {r['fit_s']:.3f}s"
            )

    table = pd.DataFrame(rows).groupby("model", sort=False)[["rmse", "mae", "fit_s"]].mean()
    print(f"\nmeans over {args.folds} folds (Surprise trainset build {np.mean(build):.3f}s/fold,")
    print("not included in its fit time)")
    print(f"{'model':<22}{'RMSE':>8}{'MAE':>8}{'fit s/fold':>12}")
    for name, r in table.iterrows():
        print(f"{name:<22}{r['rmse']:>8.4f}{r['mae']:>8.4f}{r['fit_s']:>12.4f}")
    pairs = [("latentrec BiasedMF", "surprise SVD")]
    if not args.no_svdpp:
        pairs.append(("latentrec SVDpp", "surprise SVDpp"))
    print()
    for ours, theirs in pairs:
        a, b = table.loc[ours], table.loc[theirs]
        print(
            f"{ours} vs {theirs}: RMSE {a['rmse'] - b['rmse']:+.4f}, "
            f"fit {b['fit_s'] / a['fit_s']:.1f}x faster"
        )


if __name__ == "__main__":
    main()
