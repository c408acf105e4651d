"""The texts' explicit baselines on MovieLens-100K: latentrec vs Surprise on the same folds.

    .venv/bin/python benchmarks/explicit_ml100k_baselines.py            # 5 folds, seed 0
    .venv/bin/python benchmarks/explicit_ml100k_baselines.py --threads 1
    .venv/bin/python benchmarks/explicit_ml100k_baselines.py --tune   # how k was chosen

``--tune`` shows how ``TruncatedSVD``'s default ``n_factors`` was chosen: validation RMSE
over a grid of k for each fill, on a validation split carved from fold 1's *training*
cells only (``random_split(train, 0.2, random_state=1)``); no test fold is looked at.

Protocol: the folds are ``latentrec.data.splits.kfold(data, 5, random_state=0)``, the
splits ``latentrec.evaluation.cross_validate(model, data, 5, random_state=0)`` uses.  For
each fold, each Surprise algorithm is fitted on a trainset built from that fold's training
cells (``train.to_frame()`` → ``Dataset.load_from_df(...).build_full_trainset()``) and
tested on that fold's test cells as ``(user_id, item_id, rating)`` tuples; Surprise clips
its estimates to [1, 5] and latentrec's ``evaluate_ratings`` clips too, and both are
scored by latentrec's ``rmse``/``mae`` on the same cells.

Pairs (latentrec ↔ Surprise):

* ``ItemKNN()`` ↔ ``KNNBaseline(k=40, sim_options={"name": "pearson_baseline",
  "user_based": False})`` (baselines by ALS, shrinkage 100, min_k 1 on both sides);
* ``NMF(random_state=0)`` ↔ ``NMF(random_state=0)`` (the same defaults: 15 factors,
  50 epochs, λ 0.06, uniform [0, 1) start), and both with ``biased=True``;
* ``Biases()`` ↔ ``BaselineOnly()`` (ALS, λ_i 10, λ_u 15, 10 epochs);
* ``TruncatedSVD`` (no Surprise counterpart; shown for reference).

Fit and test seconds are per fold, latentrec and Surprise alternating fold by fold in
the same process; numba kernels are compiled or loaded from cache on a tiny warm-up fit
first, so times exclude compilation.  latentrec uses ``--threads`` numba threads
(default: numba's), Surprise is single-threaded.  The latentrec figures are checked
against ``cross_validate`` for one model at the end.
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
from latentrec.data.splits import kfold, random_split
from latentrec.datasets import movielens
from latentrec.evaluation import cross_validate, evaluate_ratings
from latentrec.models import Biases
from latentrec.models.knn import ItemKNN
from latentrec.models.nmf import NMF
from latentrec.models.svd import TruncatedSVD


def surprise_pairs():
    import surprise

    knn_sim = {"name": "pearson_baseline", "user_based": False}
    return {
        "ItemKNN": lambda: surprise.KNNBaseline(k=40, sim_options=knn_sim, verbose=False),
        "NMF": lambda: surprise.NMF(random_state=0),
        "NMF biased": lambda: surprise.NMF(biased=True, random_state=0),
        "Biases": lambda: surprise.BaselineOnly(verbose=False),
    }


# How the page names each Surprise model (its class, with the settings that matter).
SURPRISE_NAMES = {
    "ItemKNN": "KNNBaseline (item, pearson_baseline, k 40)",
    "NMF": "NMF",
    "NMF biased": "NMF biased",
    "Biases": "BaselineOnly",
}


def latentrec_models(threads):
    return {
        "ItemKNN": ItemKNN(num_threads=threads),
        "ItemKNN max_neighbors=200": ItemKNN(max_neighbors=200, num_threads=threads),
        "NMF": NMF(random_state=0, num_threads=threads),
        "NMF biased": NMF(biased=True, random_state=0, num_threads=threads),
        "Biases": Biases(),
        "TruncatedSVD": TruncatedSVD(random_state=0),
        "TruncatedSVD fill=baseline": TruncatedSVD(fill="baseline", random_state=0),
    }


def warm_up(models) -> float:
    tiny = Interactions.from_dense(np.array([[5, 3, 0, 1], [4, 0, 1, 2], [1, 2, 5, 4]]))
    start = time.perf_counter()
    for model in models.values():
        fitted = model.clone().set_params(
            **({"n_factors": 2} if "n_factors" in model.get_params() else {})
        )
        fitted.fit(tiny)
        fitted.predict([0], [1])
        fitted.recommend(0, n=2)
    return time.perf_counter() - start


def tune_svd(data) -> None:
    train, _ = next(iter(kfold(data, 5, random_state=0)))
    fit, valid = random_split(train, 0.2, random_state=1)
    grid = (2, 4, 8, 12, 16, 24, 32, 50)
    print("TruncatedSVD validation RMSE (fold-1 training cells split 80/20, seed 1)")
    print(f"{'fill':<12}{'center':<8}" + "".join(f"{'k=' + str(k):>8}" for k in grid))
    for center in (True, False):
        for fill in ("user_mean", "item_mean", "baseline"):
            errs = [
                evaluate_ratings(
                    TruncatedSVD(n_factors=k, fill=fill, center=center, random_state=0).fit(fit),
                    valid,
                )["rmse"]
                for k in grid
            ]
            print(f"{fill:<12}{center!s:<8}" + "".join(f"{e:>8.4f}" for e in errs), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--tune", action="store_true", help="also show the SVD k grid")
    args = parser.parse_args()

    import numba
    import surprise

    data = movielens("100k", verbose=False)
    print(f"{data!r}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}, numba {numba.__version__} "
        f"({args.threads or numba.get_num_threads()} threads), surprise {surprise.__version__}"
    )
    ours = latentrec_models(args.threads)
    theirs = surprise_pairs()
    print(f"numba warm-up (compile or cache load): {warm_up(ours):.2f}s")
    if args.tune:
        tune_svd(data)

    rows = []
    folds = kfold(data, args.folds, random_state=args.seed)
    for fold, (train, test) in enumerate(folds, 1):
        for name, model in ours.items():
            rows.append(
                {
                    "fold": fold,
                    "lib": "latentrec",
                    "model": name,
                    **run_latentrec(model.clone(), train, test),
                }
            )
            if name in theirs:
                rows.append(
                    {
                        "fold": fold,
                        "lib": "Surprise",
                        "model": name,
                        **run_surprise(theirs[name](), *surprise_fold(train, test)),
                    }
                )
        done = [r for r in rows if r["fold"] == fold]
        print(
            f"  fold {fold}: "
            + ", ".join(f"{r['lib'][0]}:{r['model']}={r['rmse']:.4f}" for r in done),
            flush=True,
        )

    table = (
        pd.DataFrame(rows)
        .groupby(["model", "lib"], sort=False)[["rmse", "mae", "fit_s", "test_s"]]
        .mean()
    )
    print(f"\n{args.folds}-fold CV on MovieLens-100K, folds seeded with {args.seed} (means)")
    print(f"{'library':<11}{'model':<44}{'RMSE':>8}{'MAE':>8}{'fit s/fold':>12}{'test s/fold':>13}")
    for (model, lib), r in table.iterrows():
        shown = SURPRISE_NAMES[model] if lib == "Surprise" else model
        print(
            f"{lib:<11}{shown:<44}{r['rmse']:>8.4f}{r['mae']:>8.4f}{r['fit_s']:>12.3f}"
            f"{r['test_s']:>13.3f}"
        )
    # The direction docs/benchmarks.md reports: RMSE difference latentrec − Surprise, and
    # speed-ups as Surprise's time over latentrec's ("x faster").
    print("\npair (latentrec – Surprise): RMSE diff, speed-up = Surprise time / latentrec time")
    for name in theirs:
        a, b = table.loc[(name, "latentrec")], table.loc[(name, "Surprise")]
        pair = f"{name} – {SURPRISE_NAMES[name]}"
        print(
            f"{pair:<58}RMSE {a['rmse'] - b['rmse']:+.2e}  fit {b['fit_s'] / a['fit_s']:.1f}x  "
            f"test {b['test_s'] / a['test_s']:.1f}x faster"
        )

    per_fold = pd.DataFrame(rows)
    knn = per_fold[per_fold["model"] == "ItemKNN"].pivot(index="fold", columns="lib", values="rmse")
    diff = knn["latentrec"] - knn["Surprise"]
    print(
        f"\nItemKNN RMSE <= Surprise KNNBaseline on {int((diff <= 0).sum())}/{len(knn)} folds; "
        f"per-fold latentrec − Surprise: {', '.join(f'{d:+.2e}' for d in diff)}"
    )
    cv = cross_validate(ours["ItemKNN"], data, args.folds, random_state=args.seed)
    mine = per_fold[(per_fold["model"] == "ItemKNN") & (per_fold["lib"] == "latentrec")]
    same = np.allclose(cv.folds["rmse"].to_numpy(), mine["rmse"].to_numpy(), rtol=0, atol=1e-12)
    print(
        f"cross_validate(ItemKNN(), data, {args.folds}, random_state={args.seed}) mean RMSE "
        f"{cv.mean()['rmse']:.4f}; equals this script's folds: {same}"
    )


if __name__ == "__main__":
    main()
