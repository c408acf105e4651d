"""Explicit ALS and Bayesian MF on MovieLens-100K: settings chosen on validation, then 5-fold CV.

    .venv/bin/python benchmarks/explicit_ml100k_als_bpmf.py               # selection + CV
    .venv/bin/python benchmarks/explicit_ml100k_als_bpmf.py --skip-selection --threads 1

1. Selection.  MovieLens-100K is split 80/10/10 at random (seed 123, the split of
   tune_biasedmf_defaults.py).  Each setting is fitted on the 80% and scored on the next
   10% after every iteration (ALS) or sweep (BayesianMF, whose history holds the RMSE of
   the running average of kept samples, i.e. of every smaller ``n_samples`` at once).
   The last 10% and the cross-validation folds are never looked at.  The rule: the
   cheapest setting within 0.001 of the best validation RMSE (see ``TOLERANCE``).
2. 5-fold cross-validation (folds ``kfold(data, 5, random_state=0)``, the folds of
   ``latentrec.evaluation.cross_validate(model, data, 5, random_state=0)``) of the chosen
   ALS and BayesianMF, with Surprise's SVD (defaults, ``random_state=0``) fitted on the
   same training folds in the same process, fold by fold, for reference.  RMSE and MAE
   use predictions clipped to 1–5 for all three.  Fit seconds exclude numba compilation
   (a warm-up fit on tiny data runs first).

With ``--skip-selection`` the CV uses the class defaults (which are the selected values).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import numpy as np

from latentrec import Interactions
from latentrec.data.splits import kfold
from latentrec.datasets import movielens
from latentrec.evaluation import evaluate_ratings
from latentrec.models.als import ALS
from latentrec.models.bayesian import BayesianMF

ALS_GRID = {"n_factors": (10, 20, 50, 100), "regularization": (0.08, 0.1, 0.12, 0.15)}
ALS_ITERATIONS = 30
BPMF_GRID = {"n_factors": (10, 20, 30), "alpha": (1.0, 1.5, 2.0, None)}
BPMF_BURN_IN = 50
BPMF_SAMPLES = 300
BPMF_CHOSEN_SAMPLES = 200  # a cost/accuracy choice; the curve is printed to judge it
# Selection rule for both models: the cheapest setting whose validation RMSE is within
# TOLERANCE of the best one (cost ~ iterations x (k+1)^2, the per-rating work), so that a
# gain below the split-to-split noise does not buy several times the fit time.
TOLERANCE = 0.001


def cheapest_within_tolerance(results):
    """results: (rmse, cost, params) tuples -> the chosen (rmse, params)."""
    best = min(r[0] for r in results)
    rmse, _, params = min(
        (r for r in results if r[0] <= best + TOLERANCE), key=lambda r: (r[1], r[0])
    )
    return rmse, params


def validation_split(data: Interactions):
    perm = np.random.default_rng(123).permutation(data.nnz)
    n = data.nnz
    return data.subset(perm[: int(0.8 * n)]), data.subset(perm[int(0.8 * n) : int(0.9 * n)])


def select_als(train, valid, threads) -> dict:
    print(f"\nALS on the validation split ({ALS_ITERATIONS} iterations)")
    print(f"{'k':>5}{'reg':>8}{'best it':>9}{'best':>8}{'@30':>8}{'fit s':>8}")
    results = []
    for k, reg in itertools.product(*ALS_GRID.values()):
        start = time.perf_counter()
        model = ALS(
            n_factors=k,
            n_epochs=ALS_ITERATIONS,
            regularization=reg,
            random_state=0,
            num_threads=threads,
        ).fit(train, validation=valid)
        seconds = time.perf_counter() - start
        curve = np.array(model.history_["valid_rmse"])
        best = int(curve.argmin())
        params = {"n_factors": k, "regularization": reg, "n_epochs": best + 1}
        results.append((curve[best], (best + 1) * (k + 1) ** 2, params))
        print(f"{k:>5}{reg:>8}{best + 1:>9}{curve[best]:>8.4f}{curve[-1]:>8.4f}{seconds:>8.2f}")
    rmse, chosen = cheapest_within_tolerance(results)
    print(f"cheapest within {TOLERANCE} of the best: {chosen} ({rmse:.4f})")
    best_bias_reg = None
    for bias_reg in (0.03, 0.3, 1.0):
        model = ALS(
            **chosen, bias_regularization=bias_reg, random_state=0, num_threads=threads
        ).fit(train, validation=valid)
        got = model.history_["valid_rmse"][-1]
        print(f"  chosen with bias_regularization={bias_reg}: valid RMSE {got:.4f}")
        if got < rmse - TOLERANCE:
            rmse, best_bias_reg = got, bias_reg
    if best_bias_reg is not None:
        chosen["bias_regularization"] = best_bias_reg
    print(f"ALS chosen: {chosen} (valid RMSE {rmse:.4f})")
    return chosen


def select_bpmf(train, valid, threads) -> dict:
    marks = (50, 100, 200, 300)
    print(f"\nBayesianMF on the validation split (burn_in={BPMF_BURN_IN}); valid RMSE of the")
    print("average of the first S kept samples, for S in", marks)
    print(f"{'k':>5}{'alpha':>7}" + "".join(f"{'S=' + str(s):>9}" for s in marks) + "   fit s")
    results = []
    for k, alpha in itertools.product(*BPMF_GRID.values()):
        start = time.perf_counter()
        model = BayesianMF(
            n_factors=k,
            n_samples=BPMF_SAMPLES,
            burn_in=BPMF_BURN_IN,
            alpha=alpha,
            random_state=0,
            num_threads=threads,
        ).fit(train, validation=valid)
        seconds = time.perf_counter() - start
        curve = model.history_["valid_rmse"]
        at = {s: curve[BPMF_BURN_IN + s - 1] for s in marks}
        results.append((at[BPMF_CHOSEN_SAMPLES], (k + 1) ** 2, {"n_factors": k, "alpha": alpha}))
        extra = ""
        if alpha is None:
            extra = f"   (mean sampled alpha {np.mean(model.history_['alpha'][BPMF_BURN_IN:]):.3f})"
        print(
            f"{k:>5}{alpha!s:>7}"
            + "".join(f"{at[s]:>9.4f}" for s in marks)
            + f"{seconds:>8.1f}{extra}",
            flush=True,
        )
    rmse, chosen = cheapest_within_tolerance(results)
    chosen = {**chosen, "burn_in": BPMF_BURN_IN, "n_samples": BPMF_CHOSEN_SAMPLES}
    print(f"BayesianMF chosen: {chosen} (valid RMSE {rmse:.4f})")
    return chosen


def surprise_svd(train: Interactions, test: Interactions):
    """Fit Surprise's SVD on ``train``; return (fit seconds, clipped predictions for test)."""
    from surprise import SVD, Dataset, Reader

    frame = train.to_frame()[["user_id", "item_id", "rating"]]
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = SVD(random_state=0)
    start = time.perf_counter()
    algo.fit(trainset)
    seconds = time.perf_counter() - start
    test_frame = test.to_frame()
    pred = np.array(
        [
            algo.predict(u, i).est  # Surprise clips to the rating scale itself
            for u, i in zip(test_frame["user_id"], test_frame["item_id"], strict=True)
        ]
    )
    return seconds, pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-selection", action="store_true")
    parser.add_argument("--no-surprise", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="numba threads")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    data = movielens("100k", verbose=False)
    print(f"{data!r}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}, numba threads {args.threads or 'default'}"
    )
    start = time.perf_counter()
    tiny = Interactions.from_dense(np.eye(3) + 1)
    ALS(n_factors=2, n_epochs=1, num_threads=args.threads).fit(tiny, validation=tiny)
    BayesianMF(n_factors=2, n_samples=1, burn_in=1, alpha=None, num_threads=args.threads).fit(
        tiny, validation=tiny
    )
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - start:.2f}s")

    if args.skip_selection:
        als_params, bpmf_params = {}, {}
    else:
        train, valid = validation_split(data)
        als_params = select_als(train, valid, args.threads)
        bpmf_params = select_bpmf(train, valid, args.threads)

    models = {
        "ALS": lambda: ALS(**als_params, random_state=0, num_threads=args.threads),
        "BayesianMF": lambda: BayesianMF(**bpmf_params, random_state=0, num_threads=args.threads),
    }
    print(f"\n{args.folds}-fold cross-validation, folds kfold(data, {args.folds}, random_state=0)")
    for name, make in models.items():
        print(f"  {name}: {make()!r}")
    rows: dict[str, list] = {name: [] for name in [*models, "Surprise SVD"]}
    for fold, (train, test) in enumerate(kfold(data, args.folds, random_state=0), 1):
        for name, make in models.items():
            model = make()
            start = time.perf_counter()
            model.fit(train)
            seconds = time.perf_counter() - start
            scores = evaluate_ratings(model, test)
            rows[name].append((scores["rmse"], scores["mae"], seconds))
        if not args.no_surprise:
            seconds, pred = surprise_svd(train, test)
            err = pred - test.ratings.astype(np.float64)
            rows["Surprise SVD"].append(
                (float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err))), seconds)
            )
        shown = ", ".join(
            f"{name} {vals[-1][0]:.4f} ({vals[-1][2]:.1f}s)" for name, vals in rows.items() if vals
        )
        print(f"  fold {fold}: {shown}", flush=True)
    print(f"\n{'model':<14}{'RMSE':>8}{'MAE':>8}{'fit s/fold':>12}")
    for name, vals in rows.items():
        if vals:
            rmse, mae, seconds = np.mean(vals, axis=0)
            print(f"{name:<14}{rmse:>8.4f}{mae:>8.4f}{seconds:>12.2f}")


if __name__ == "__main__":
    main()
