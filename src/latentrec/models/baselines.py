"""Baselines the texts compare against: global mean, regularised biases, popularity."""

from __future__ import annotations

import numpy as np

from ..data.interactions import Interactions
from ._training import check_float, check_int
from .base import Recommender
from .factor import FactorModel


def _empty_factors(n: int) -> np.ndarray:
    return np.zeros((n, 0), dtype=np.float32)


class GlobalMean(FactorModel):
    """Predicts μ, the mean of all training ratings, for every cell.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> GlobalMean().fit(Interactions.from_dense(np.array([[5, 1]]))).global_mean_
        3.0
    """

    def __init__(self):
        pass

    def _fit(self, data: Interactions, validation) -> None:
        self._set_state(
            data.global_mean(),
            np.zeros(data.n_users),
            np.zeros(data.n_items),
            _empty_factors(data.n_users),
            _empty_factors(data.n_items),
        )


class Biases(FactorModel):
    """r̂ = μ + b_u + b_i with shrunk biases, fitted by alternating least squares.

    Each pass sets b_i = Σ(r − μ − b_u) / (λ_i + n_i), then b_u = Σ(r − μ − b_i) / (λ_u + n_u)
    (Koren's baseline predictor; Surprise's ``BaselineOnly`` with ALS).

    Args:
        regularization: λ_i, shrinkage of item biases towards 0.
        user_regularization: λ_u, shrinkage of user biases.
        n_epochs: alternating passes.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> data = Interactions.from_dense(np.array([[5, 4], [3, 0]]))
        >>> model = Biases(regularization=0, user_regularization=0).fit(data)
        >>> bool(model.user_bias_[0] > model.user_bias_[1])
        True
    """

    def __init__(
        self, regularization: float = 10.0, user_regularization: float = 15.0, n_epochs: int = 10
    ):
        self.regularization = regularization
        self.user_regularization = user_regularization
        self.n_epochs = n_epochs

    def _check_params(self) -> None:
        check_float("regularization", self.regularization)
        check_float("user_regularization", self.user_regularization)
        check_int("n_epochs", self.n_epochs)

    def _fit(self, data: Interactions, validation) -> None:
        u, i = data.user_idx, data.item_idx
        r = data.ratings.astype(np.float64)
        mu = r.mean()
        n_u = np.bincount(u, minlength=data.n_users)
        n_i = np.bincount(i, minlength=data.n_items)
        bu = np.zeros(data.n_users)
        bi = np.zeros(data.n_items)
        for _ in range(self.n_epochs):
            bi = _safe_div(np.bincount(i, r - mu - bu[u], data.n_items), self.regularization + n_i)
            bu = _safe_div(
                np.bincount(u, r - mu - bi[i], data.n_users), self.user_regularization + n_u
            )
        self._set_state(mu, bu, bi, _empty_factors(data.n_users), _empty_factors(data.n_items))

    def _fold_in_regularization(self, side: str) -> tuple[float, float, bool]:
        # Biases shrink additively (λ / (λ + n)), not per rating as the default assumes.
        reg = self.user_regularization if side == "user" else self.regularization
        return 0.0, float(reg), False


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # A user or item with no cells and zero regularisation has 0/0: its bias is 0.
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


class Popularity(Recommender):
    """Ranks items by how many users interacted with them; predicts no ratings.

    It is the fallback for unknown users and the floor every ranking model must beat.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> data = Interactions.from_dense(np.array([[1, 1, 0], [0, 1, 0]]))
        >>> Popularity().fit(data).recommend(99, n=2, exclude_seen=False).ids.tolist()
        [1, 0]
    """

    predicts_ratings = False

    def __init__(self):
        pass

    def _fit(self, data: Interactions, validation) -> None:
        pass  # the base class already stores item_popularity_

    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        return np.repeat(self.item_popularity_[None, :], len(user_idx), axis=0)

    def _fallback_scores(self, item_idx: np.ndarray) -> np.ndarray:
        # Popularity is this model's own score, for known and unknown users alike.
        return np.asarray(self.item_popularity_[item_idx], dtype=np.float32)
