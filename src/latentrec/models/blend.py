"""Linear blending of fitted models, as the Netflix Prize teams combined theirs.

Each member predicts the held-out cells of a blending set it was not trained on; a ridge
regression of the true ratings on those predictions (plus an intercept) gives one weight
per member.  The blend then scores r̂ = b + Σ_m w_m r̂_m everywhere a member can.
"""

from __future__ import annotations

import numpy as np

from ..data.interactions import Interactions
from ._training import check_float
from .base import Recommender
from .catalog import Fitted
from .inputs import count_shared_cells


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Weights and intercept minimising ‖y − b − Xw‖² + α‖w‖² (the intercept is not shrunk).

    Centring removes the intercept from the penalised problem; stacking √α·I under the
    centred X turns the ridge into one least-squares solve, which stays well defined when
    members are collinear and ``alpha`` is 0 (it then gives the minimum-norm weights).
    """
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc, yc = X - x_mean, y - y_mean
    m = X.shape[1]
    A = np.vstack([Xc, np.sqrt(alpha) * np.eye(m)])
    b = np.concatenate([yc, np.zeros(m)])
    w = np.linalg.lstsq(A, b, rcond=None)[0]
    return w, float(y_mean - x_mean @ w)


def _check_held_out(data: Interactions, member: Recommender, m: int) -> None:
    """Refuse a blending set that shares cells with what ``member`` was trained on.

    On its own training cells a member predicts too well (an unregularised one exactly),
    so the ridge would trust it there and the blend would be worse on new data than its
    members; :func:`~latentrec.evaluation.evaluate_ratings` refuses such cells too.
    """
    shared = count_shared_cells(data.matrix, member.seen_)
    if shared:
        raise ValueError(
            f"the blending set shares {shared} of its {data.nnz} cells with the data "
            f"models[{m}] ({type(member).__name__}) was trained on; blend on held-out "
            "ratings: split the training part again (latentrec.data.splits) and fit the "
            "members on the rest"
        )


class Blend(Recommender):
    """A weighted sum of fitted models' predictions, learned on held-out ratings.

    ``fit(data)`` takes the *blending set*: ratings that none of the members was trained
    on (a validation split; a cell one of them was trained on is refused with a
    ``ValueError``, as :func:`~latentrec.evaluation.evaluate_ratings` refuses it), sharing
    the members' vocabularies.  The weights come from
    ridge regression with penalty ``alpha`` on the weights (not on the intercept).
    Predictions are r̂ = ``intercept_`` + Σ_m ``weights_[m]`` · r̂_m, so
    ``predict``, ``recommend`` and :func:`~latentrec.evaluation.evaluate_ratings` work as
    for any model.  Seen items and the popularity fallback are the first member's.

    Members are kept by reference, not copied or refitted.  A blend cannot be saved to
    one model file (it holds whole models); save each member and rebuild the blend with
    :meth:`from_weights`.

    Args:
        models: fitted models that predict ratings, all with the same vocabularies.
        alpha: ridge penalty on the weights (>= 0; 0 is ordinary least squares).

    Attributes:
        weights_: one weight per member (float64).
        intercept_: the constant b.
        member_rmse_: each member's RMSE on the blending set (unclipped).
        blend_rmse_: the blend's RMSE there (unclipped; optimistic, as the weights were
            fitted to those very ratings).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.data.splits import random_split
        >>> from latentrec.models import Biases, GlobalMean
        >>> data = Interactions.from_dense(np.arange(1, 49).reshape(8, 6) % 5 + 1)
        >>> train, held_out = random_split(data, 0.3, random_state=0)
        >>> members = [Biases().fit(train), GlobalMean().fit(train)]
        >>> blended = Blend(members).fit(held_out)
        >>> blended.weights_.shape, blended.predict([0], [1]).shape
        ((2,), (1,))
    """

    def __init__(self, models, alpha: float = 1.0):
        self.models = models
        self.alpha = alpha

    def _check_params(self) -> None:
        check_float("alpha", self.alpha)
        models = self.models
        if isinstance(models, Recommender) or not isinstance(models, (list, tuple)) or not models:
            raise ValueError("models must be a non-empty list of fitted latentrec models")
        first = models[0]
        for m, member in enumerate(models):
            if not isinstance(member, Recommender):
                raise TypeError(f"models[{m}] is a {type(member).__name__}, not a latentrec model")
            if not member.is_fitted:
                raise ValueError(
                    f"models[{m}] ({type(member).__name__}) is not fitted; fit it first"
                )
            if not member.predicts_ratings:
                raise ValueError(
                    f"models[{m}] ({type(member).__name__}) does not predict ratings, "
                    "so it cannot be blended on ratings"
                )
            if member.users_ != first.users_ or member.items_ != first.items_:
                raise ValueError(
                    f"models[{m}] has other vocabularies than models[0]; fit every member on "
                    "splits of one Interactions"
                )

    def fit(self, data: Interactions, validation: Interactions | None = None) -> Blend:
        """Learn the weights from the blending set ``data`` (cells no member trained on).

        ``validation`` is not used (there is nothing to stop early) and must be ``None``.
        Returns ``self``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.data.splits import random_split
            >>> from latentrec.models import GlobalMean
            >>> data = Interactions.from_dense(np.arange(1, 21).reshape(4, 5) % 5 + 1)
            >>> train, held_out = random_split(data, 0.3, random_state=0)
            >>> Blend([GlobalMean().fit(train)]).fit(held_out).is_fitted
            True
        """
        if not isinstance(data, Interactions):
            raise TypeError(f"fit expects latentrec.Interactions, got {type(data).__name__}")
        if validation is not None:
            raise ValueError("Blend.fit takes only the blending set; validation must be None")
        self._check_params()
        first = self.models[0]
        if data.users != first.users_ or data.items != first.items_:
            raise ValueError(
                "the blending set must share the members' vocabularies: split one "
                "Interactions and fit the members on the other part"
            )
        if data.nnz <= 1:
            raise ValueError(f"the blending set needs at least 2 ratings, it has {data.nnz}")
        for m, member in enumerate(self.models):
            _check_held_out(data, member, m)
        X = self._member_predictions(data.user_idx, data.item_idx)
        y = data.ratings.astype(np.float64)
        weights, intercept = _ridge(X, y, float(self.alpha))
        learned = {
            "weights_": weights,
            "intercept_": intercept,
            "member_rmse_": np.sqrt(np.mean((X - y[:, None]) ** 2, axis=0)),
            "blend_rmse_": float(np.sqrt(np.mean((intercept + X @ weights - y) ** 2))),
        }
        # Seen items, popularity and ids are the first member's catalogue.
        self._swap(Fitted.build(first.catalog_, learned))
        return self

    @classmethod
    def from_weights(cls, models, weights, intercept: float = 0.0) -> Blend:
        """A fitted blend from known weights (e.g. to rebuild one from saved members).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import GlobalMean
            >>> mean = GlobalMean().fit(Interactions.from_dense(np.array([[4, 2]])))
            >>> Blend.from_weights([mean], [0.5], 1.0).predict([0], [0]).tolist()
            [2.5]
        """
        blend = cls(list(models), alpha=0.0)
        blend._check_params()
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(blend.models),) or not np.isfinite(weights).all():
            raise ValueError(
                f"weights must be {len(blend.models)} finite numbers, one per model, got {weights}"
            )
        if not np.isfinite(intercept):
            raise ValueError(f"intercept must be finite, got {intercept!r}")
        learned = {"weights_": weights.copy(), "intercept_": float(intercept)}
        fitted = Fitted.build(blend.models[0].catalog_, learned)
        return cls.from_fitted(fitted, **blend.get_params())

    def _member_predictions(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        return np.column_stack([m.predict_idx(user_idx, item_idx) for m in self.models])

    def _predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        return self.intercept_ + self._member_predictions(user_idx, item_idx) @ self.weights_

    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        scores = np.full((len(user_idx), self.n_items), self.intercept_, dtype=np.float32)
        for weight, member in zip(self.weights_, self.models, strict=True):
            scores += np.float32(weight) * member.score_users(user_idx)
        return scores

    def save(self, path) -> None:
        """Not supported: a blend holds whole models, which one model file cannot store.

        Save each member with ``member.save(...)`` and keep ``weights_`` and
        ``intercept_``; rebuild with :meth:`Blend.from_weights`.

        Example:
            >>> try:
            ...     Blend([]).save("blend.npz")
            ... except NotImplementedError as err:
            ...     print("from_weights" in str(err))
            True
        """
        raise NotImplementedError(
            "a Blend holds whole fitted models, which one latentrec model file cannot store; "
            "save each member with member.save(path), keep blend.weights_ and "
            "blend.intercept_, and rebuild with Blend.from_weights(members, weights, intercept)"
        )


def blend(models, validation: Interactions, *, alpha: float = 1.0) -> Blend:
    """Blend fitted ``models`` by ridge regression on the held-out ratings ``validation``.

    Fit every member on the same training split and pass ratings none of them saw; the
    blend is then a model like any other (``predict``, ``recommend``,
    ``evaluate_ratings``).  Judge it on a third split: the weights were fitted to
    ``validation``, so its error there is optimistic.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.data.splits import random_split
        >>> from latentrec.models import BiasedMF, Biases
        >>> rng = np.random.default_rng(0)
        >>> data = Interactions.from_dense(rng.integers(1, 6, (20, 10)))
        >>> train, held_out = random_split(data, 0.2, random_state=0)
        >>> mf = BiasedMF(n_factors=2, n_epochs=10, random_state=0).fit(train)
        >>> b = blend([mf, Biases().fit(train)], held_out, alpha=0.0)
        >>> bool(b.blend_rmse_ <= b.member_rmse_.min())
        True
    """
    return Blend(models, alpha=alpha).fit(validation)
