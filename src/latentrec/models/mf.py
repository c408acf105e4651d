"""Biased matrix factorisation learned by SGD (Funk; Koren, Bell & Volinsky 2009)."""

from __future__ import annotations

import numpy as np

from ..data.interactions import Interactions
from ..kernels.sgd import rmse_cells, sgd_epoch
from ._training import check_float, check_int, run_epochs
from .base import FactorModel


class BiasedMF(FactorModel):
    """r̂ = μ + b_u + b_i + p_u · q_i fitted by stochastic gradient descent.

    Every epoch visits the training cells in a fresh random order drawn from
    ``random_state`` and, for each cell with error e = r − r̂, updates
    b_u += η(e − λ_b b_u), b_i += η(e − λ_b b_i), p_u += η(e q_i − λ p_u),
    q_i += η(e p_u − λ q_i).  The epoch runs in a compiled numba kernel.

    Args:
        n_factors: k, the number of latent factors.
        n_epochs: passes over the training cells (an upper bound with ``patience``).
        learning_rate: η.
        regularization: λ for the factors.
        bias_regularization: λ_b for the biases (defaults to ``regularization``).
        init_std: factors start as N(0, init_std²); biases start at 0.
        biased: ``False`` gives plain R ≈ PQᵀ (no μ, no biases).
        patience: with validation data passed to ``fit``, stop after this many epochs
            without a better validation RMSE and restore the best epoch.
        random_state: seed (or ``numpy.random.Generator``); fixed seed, identical results.
        verbose: show a progress bar.

    The defaults were chosen on a validation split of MovieLens-100K training data
    (never the test folds); see ``docs/benchmarks.md``.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
        >>> model = BiasedMF(n_factors=2, n_epochs=100, random_state=0)
        >>> model.fit(Interactions.from_dense(R)).predict([0], [2]).round(1).tolist() < [3.0]
        True
    """

    def __init__(
        self,
        n_factors: int = 100,
        n_epochs: int = 40,
        learning_rate: float = 0.01,
        regularization: float = 0.1,
        bias_regularization: float | None = None,
        init_std: float = 0.1,
        biased: bool = True,
        patience: int | None = None,
        random_state=None,
        verbose: bool = False,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.init_std = init_std
        self.biased = biased
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_int("n_epochs", self.n_epochs)
        check_float("learning_rate", self.learning_rate, positive=True)
        check_float("regularization", self.regularization)
        if self.bias_regularization is not None:
            check_float("bias_regularization", self.bias_regularization)
        check_float("init_std", self.init_std)
        if self.patience is not None:
            check_int("patience", self.patience)

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        users, items, ratings = data.user_idx, data.item_idx, data.ratings
        mu = data.global_mean() if self.biased else 0.0
        bu = np.zeros(data.n_users, dtype=np.float32)
        bi = np.zeros(data.n_items, dtype=np.float32)
        P = rng.normal(0.0, self.init_std, (data.n_users, k)).astype(np.float32)
        Q = rng.normal(0.0, self.init_std, (data.n_items, k)).astype(np.float32)
        lr = np.float32(self.learning_rate)
        reg = np.float32(self.regularization)
        reg_b = np.float32(
            self.regularization if self.bias_regularization is None else self.bias_regularization
        )
        has_valid = validation is not None and validation.nnz > 0

        def step(epoch):
            order = rng.permutation(ratings.shape[0]).astype(np.int64)
            sgd_epoch(users, items, ratings, order, mu, bu, bi, P, Q, lr, reg_b, reg, self.biased)

        def evaluate():
            train = rmse_cells(users, items, ratings, mu, bu, bi, P, Q)
            if not has_valid:
                return train, float("nan")
            valid = rmse_cells(
                validation.user_idx, validation.item_idx, validation.ratings, mu, bu, bi, P, Q
            )
            return train, valid

        def snapshot():
            return bu.copy(), bi.copy(), P.copy(), Q.copy()

        def restore(state):
            for dst, src in zip((bu, bi, P, Q), state, strict=True):
                dst[...] = src

        self.history_ = run_epochs(
            type(self).__name__,
            self.n_epochs,
            step,
            evaluate,
            snapshot=snapshot,
            restore=restore,
            patience=self.patience if has_valid else None,
            verbose=self.verbose,
        )
        self._set_state(mu, bu, bi, P, Q)
        self._zero_unseen(data)
