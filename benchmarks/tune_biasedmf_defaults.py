"""How BiasedMF's defaults were chosen: a small grid on a validation split only.

    .venv/bin/python benchmarks/tune_biasedmf_defaults.py

MovieLens-100K is split 80/10/10 at random (seed 123).  Models are fitted on the 80% and
scored on the next 10% per epoch; the last 10%, and the cross-validation folds of
cv_ml100k.py, are never looked at.  Takes about a minute on 2 cores.
"""

from __future__ import annotations

import itertools

import numpy as np

from latentrec.datasets import movielens
from latentrec.models import BiasedMF


def main() -> None:
    data = movielens("100k", verbose=False)
    perm = np.random.default_rng(123).permutation(data.nnz)
    n = data.nnz
    train = data.subset(perm[: int(0.8 * n)])
    valid = data.subset(perm[int(0.8 * n) : int(0.9 * n)])
    print(f"{'k':>4}{'lr':>7}{'reg':>6}{'best epoch':>12}{'best':>8}{'@40':>8}")
    results = []
    for k, lr, reg in itertools.product((50, 100, 150), (0.005, 0.01), (0.05, 0.08, 0.1)):
        model = BiasedMF(
            n_factors=k, learning_rate=lr, regularization=reg, n_epochs=60, random_state=0
        ).fit(train, validation=valid)
        curve = np.array(model.history_["valid_rmse"])
        best = int(curve.argmin())
        results.append((curve[39], k, lr, reg))
        print(f"{k:>4}{lr:>7}{reg:>6}{best + 1:>12}{curve[best]:>8.4f}{curve[39]:>8.4f}")
    for bias_reg in (0.05, 0.5, 1.0):
        model = BiasedMF(bias_regularization=bias_reg, random_state=0).fit(train, valid)
        print(
            f"defaults with bias_regularization={bias_reg}: "
            f"valid RMSE {model.history_['valid_rmse'][-1]:.4f}"
        )
    rmse, k, lr, reg = min(results)
    print(f"best at 40 epochs: k={k} learning_rate={lr} regularization={reg} ({rmse:.4f})")


if __name__ == "__main__":
    main()
