"""What every recommender shares: the estimator contract, ids, scoring, top-k, saving.

Algorithms subclass :class:`FactorModel` (or :class:`Recommender` when they have no
factors) and add only ``_fit``; prediction, recommendation, similarity, explanation and
model files are written once here.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import retrieval
from ..data.interactions import Interactions
from ..data.vocabulary import UnknownIdError
from ..explain import Explanation

_REGISTRY: dict[str, type[Recommender]] = {}


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit`` (both a ``ValueError`` and an ``AttributeError``).

    Example:
        >>> from latentrec.models import Biases
        >>> try:
        ...     Biases().predict([1], [2])
        ... except NotFittedError as err:
        ...     print("fit" in str(err))
        True
    """


@dataclass(frozen=True)
class Recommendations:
    """Ranked items for one user (or one query item); unpacks as ``ids, scores``.

    ``fallback`` is True when the list could not be personalised (an unknown user or one
    with no history) and comes from item popularity instead.

    Example:
        >>> import numpy as np
        >>> ids, scores = Recommendations(np.array([3, 1]), np.array([0.9, 0.2]))
        >>> ids.tolist()
        [3, 1]
    """

    ids: np.ndarray
    scores: np.ndarray
    fallback: bool = False
    titles: np.ndarray | None = None

    def __iter__(self):
        yield self.ids
        yield self.scores

    def to_frame(self) -> pd.DataFrame:
        """The list as a table with ``rank``, ``item_id``, ``score`` (and ``title``).

        Example:
            >>> import numpy as np
            >>> Recommendations(np.array([3]), np.array([0.5])).to_frame().columns.tolist()
            ['rank', 'item_id', 'score']
        """
        out = pd.DataFrame(
            {"rank": np.arange(1, len(self.ids) + 1), "item_id": self.ids, "score": self.scores}
        )
        if self.titles is not None:
            out["title"] = self.titles
        return out


class Recommender:
    """Base estimator: hyperparameters in ``__init__``, learned state after ``fit``.

    Subclasses implement ``_fit(data, validation)`` and ``_score_block(user_idx)``; they
    list learned arrays in ``_array_state`` and learned scalars in ``_scalar_state`` so
    that model files need no per-class code.
    """

    _array_state: tuple[str, ...] = ()
    _scalar_state: tuple[str, ...] = ()
    predicts_ratings = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # ----------------------------------------------------------- estimator contract
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict:
        """Hyperparameters as given to ``__init__``.

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF(n_factors=8).get_params()["n_factors"]
            8
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> Recommender:
        """Change hyperparameters; unknown names are an error.

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF().set_params(n_epochs=3).n_epochs
            3
        """
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no hyperparameter {name!r}; valid: {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def clone(self) -> Recommender:
        """An unfitted copy with the same hyperparameters.

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF(n_factors=4).clone().n_factors
            4
        """
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        shown = [
            f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k, object()) != v
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "users_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(interactions) first"
            )

    # ----------------------------------------------------------- fitting
    def fit(self, data: Interactions, validation: Interactions | None = None) -> Recommender:
        """Learn from ``data``; ``validation`` (same vocabularies) is used where supported.

        Returns ``self``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> Biases().fit(Interactions.from_dense(np.array([[5, 1], [4, 0]]))).is_fitted
            True
        """
        if not isinstance(data, Interactions):
            raise TypeError(
                f"fit expects latentrec.Interactions, got {type(data).__name__}; "
                "build one with Interactions.from_frame(df, user=..., item=..., rating=...)"
            )
        if data.nnz == 0:
            raise ValueError("cannot fit on empty interactions")
        if validation is not None:
            if not isinstance(validation, Interactions):
                raise TypeError("validation must be latentrec.Interactions")
            if validation.users != data.users or validation.items != data.items:
                raise ValueError(
                    "validation data must share the training vocabularies; build both from "
                    "one Interactions with a splitter (latentrec.data.splits)"
                )
        self._check_params()
        self.users_ = data.users
        self.items_ = data.items
        seen = data.matrix
        self.seen_ = sp.csr_matrix(
            (np.ones(seen.nnz, dtype=np.float32), seen.indices.copy(), seen.indptr.copy()),
            shape=seen.shape,
        )
        self.item_popularity_ = data.item_counts().astype(np.float32)
        self.rating_scale_ = data.rating_scale
        self.data_fingerprint_ = data.fingerprint()
        titles = None
        if data.item_features is not None and "title" in data.item_features.columns:
            titles = data.item_features["title"].astype(str).to_numpy()
        self.item_titles_ = titles
        self._fit(data, validation)
        return self

    def _check_params(self) -> None:
        """Validate hyperparameters (called by ``fit``, never by ``__init__``)."""

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------- scoring primitives
    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores of every item for each user index (float32, shape (len, n_items))."""
        raise NotImplementedError

    def _predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _popularity_scores(self) -> np.ndarray:
        return self.item_popularity_

    # ----------------------------------------------------------- public operations
    @property
    def n_users(self) -> int:
        self._check_fitted()
        return len(self.users_)

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return len(self.items_)

    def predict(self, user_ids, item_ids, *, clip: bool = False, unknown: str = "error"):
        """Predicted ratings for aligned arrays of raw user and item ids.

        Args:
            clip: clip to the training data's rating scale.
            unknown: ``"error"`` raises :class:`UnknownIdError` naming unknown ids;
                ``"baseline"`` predicts from the parts that are known (μ and the known
                bias), as Surprise does when a prediction is impossible.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import GlobalMean
            >>> model = GlobalMean().fit(Interactions.from_dense(np.array([[5, 3]])))
            >>> model.predict([0, 0], [0, 1]).tolist()
            [4.0, 4.0]
        """
        self._check_fitted()
        if not self.predicts_ratings:
            raise TypeError(
                f"{type(self).__name__} ranks items but does not predict ratings; "
                "use Biases or a factor model for rating predictions"
            )
        if unknown not in ("error", "baseline"):
            raise ValueError(f"unknown must be 'error' or 'baseline', got {unknown!r}")
        u_ids = np.atleast_1d(np.asarray(user_ids))
        i_ids = np.atleast_1d(np.asarray(item_ids))
        if u_ids.shape != i_ids.shape or u_ids.ndim != 1:
            raise ValueError(
                f"user_ids and item_ids must be 1-D and of equal length, got shapes "
                f"{u_ids.shape} and {i_ids.shape}"
            )
        u = self.users_.lookup(u_ids)
        i = self.items_.lookup(i_ids)
        if unknown == "error":
            if (u < 0).any():
                raise UnknownIdError("user", pd.unique(u_ids[u < 0]).tolist())
            if (i < 0).any():
                raise UnknownIdError("item", pd.unique(i_ids[i < 0]).tolist())
        out = self._predict_idx(u, i).astype(np.float64)
        if clip:
            if self.rating_scale_ is None:
                raise ValueError("clip=True needs a rating scale; the training data declared none")
            np.clip(out, *self.rating_scale_, out=out)
        return out

    def recommend(
        self,
        user_id,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        items=None,
        filter_items=None,
    ) -> Recommendations:
        """Top-``n`` items for one user, best first.

        Seen items are excluded unless ``exclude_seen=False``; ``items`` restricts the
        candidates, ``filter_items`` removes more.  An unknown user (or one with no
        history) gets the most popular items with ``fallback=True``.  Asking for more
        items than remain returns fewer.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]]))
            >>> Popularity().fit(data).recommend(0, n=5).ids.tolist()
            [1]
        """
        self._check_fitted()
        _check_n(n)
        u = self.users_.lookup([user_id])
        idx, vals, fallback = self._recommend_idx(u, n, exclude_seen, items, filter_items)
        keep = idx[0] >= 0
        return self._as_recommendations(idx[0][keep], vals[0][keep], fallback[0])

    def recommend_batch(
        self, user_ids, n: int = 10, *, exclude_seen: bool = True, items=None, filter_items=None
    ) -> pd.DataFrame:
        """Top-``n`` for many users at once, as a long table.

        Columns: ``user_id``, ``rank`` (1-based), ``item_id``, ``score``, ``fallback``.
        Users are scored in blocks through BLAS, so memory stays bounded.  The rows for
        each user equal ``recommend(user_id, n, ...)``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]]))
            >>> Popularity().fit(data).recommend_batch([0, 1], n=1)["item_id"].tolist()
            [1, 2]
        """
        self._check_fitted()
        _check_n(n)
        raw = np.atleast_1d(np.asarray(user_ids))
        u = self.users_.lookup(raw)
        idx, vals, fallback = self._recommend_idx(u, n, exclude_seen, items, filter_items)
        counts = (idx >= 0).sum(axis=1)
        flat = idx[idx >= 0]
        return pd.DataFrame(
            {
                "user_id": np.repeat(raw, counts),
                "rank": np.concatenate([np.arange(1, c + 1) for c in counts])
                if len(counts)
                else np.empty(0, int),
                "item_id": self.items_.ids[flat],
                "score": vals[idx >= 0],
                "fallback": np.repeat(fallback, counts),
            }
        )

    def _recommend_idx(self, u, n, exclude_seen=True, items=None, filter_items=None):
        """Top-n item indices for user indices ``u`` (-1 = unknown), in blocks."""
        n_eff = min(n, self.n_items)
        idx = np.full((u.size, n_eff), -1, dtype=np.int32)
        vals = np.full((u.size, n_eff), -np.inf, dtype=np.float32)
        has_history = np.zeros(u.size, dtype=bool)
        known = u >= 0
        has_history[known] = np.diff(self.seen_.indptr)[u[known]] > 0
        step = retrieval.block_size(self.n_items, u.size)
        for start in range(0, u.size, step):
            block_u = u[start : start + step]
            personal = has_history[start : start + step]
            scores = np.empty((block_u.size, self.n_items), dtype=np.float32)
            if personal.any():
                scores[personal] = self._score_block(block_u[personal])
            if (~personal).any():
                scores[~personal] = self._popularity_scores()[None, :]
            if exclude_seen:
                retrieval.mask_seen(scores, self.seen_, block_u)
            self._restrict(scores, items, filter_items)
            b_idx, b_vals = retrieval.topk(scores, n_eff)
            idx[start : start + step, : b_idx.shape[1]] = b_idx
            vals[start : start + step, : b_vals.shape[1]] = b_vals
        return idx, vals, ~has_history

    def _restrict(self, scores: np.ndarray, items, filter_items) -> None:
        if items is not None:
            allowed = np.zeros(self.n_items, dtype=bool)
            allowed[self.items_.index(items)] = True
            scores[:, ~allowed] = -np.inf
        if filter_items is not None:
            scores[:, self.items_.index(filter_items)] = -np.inf

    def _as_recommendations(self, idx, vals, fallback) -> Recommendations:
        titles = None if self.item_titles_ is None else self.item_titles_[idx]
        return Recommendations(self.items_.ids[idx], vals, bool(fallback), titles)

    def item_title(self, item_id) -> str | None:
        """Title of one item when the training data carried titles.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> Popularity().fit(Interactions.from_dense(np.eye(2))).item_title(0) is None
            True
        """
        self._check_fitted()
        if self.item_titles_ is None:
            return None
        return str(self.item_titles_[self.items_.index([item_id])[0]])

    # ----------------------------------------------------------- persistence
    def save(self, path) -> None:
        """Write the fitted model to ``path`` (.npz arrays + JSON manifest, no pickle).

        Example:
            >>> import numpy as np, tempfile, os, latentrec
            >>> from latentrec.models import Biases
            >>> model = Biases().fit(latentrec.Interactions.from_dense(np.eye(3) + 1))
            >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
            >>> model.save(path)
            >>> type(latentrec.load(path)).__name__
            'Biases'
        """
        from ..store.modelfile import save_model

        save_model(self, path)


class FactorModel(Recommender):
    """r̂(u, i) = μ + b_u + b_i + p_u · q_i, with every operation written once.

    Learned state: ``global_mean_`` (μ), ``user_bias_``, ``item_bias_``,
    ``user_factors_`` (P, users x k) and ``item_factors_`` (Q, items x k), float32.
    Baselines are factor models with ``k = 0``.
    """

    _array_state = ("user_bias_", "item_bias_", "user_factors_", "item_factors_")
    _scalar_state = ("global_mean_",)

    def _set_state(self, mu, user_bias, item_bias, user_factors, item_factors) -> None:
        self.global_mean_ = float(mu)
        self.user_bias_ = np.ascontiguousarray(user_bias, dtype=np.float32)
        self.item_bias_ = np.ascontiguousarray(item_bias, dtype=np.float32)
        self.user_factors_ = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(item_factors, dtype=np.float32)
        self._check_finite()

    def _check_finite(self) -> None:
        for name in self._array_state:
            if not np.isfinite(getattr(self, name)).all():
                raise FloatingPointError(
                    f"{type(self).__name__}: {name} has NaN or infinite values; training "
                    "diverged — lower learning_rate or raise regularization"
                )

    def _zero_unseen(self, data: Interactions) -> None:
        """Users/items without training cells get zero bias and factors.

        Their random initial vectors would otherwise add noise to every prediction;
        with zeros they predict from μ and the known side's bias.
        """
        no_user = data.user_counts() == 0
        no_item = data.item_counts() == 0
        self.user_bias_[no_user] = 0
        self.user_factors_[no_user] = 0
        self.item_bias_[no_item] = 0
        self.item_factors_[no_item] = 0

    @property
    def n_factors_(self) -> int:
        """Number of latent factors k."""
        return int(self.item_factors_.shape[1])

    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        scores = self.user_factors_[user_idx] @ self.item_factors_.T
        scores += self.item_bias_[None, :]
        scores += (self.user_bias_[user_idx] + np.float32(self.global_mean_))[:, None]
        return scores

    def _predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        known_u = user_idx >= 0
        known_i = item_idx >= 0
        u = np.where(known_u, user_idx, 0)
        i = np.where(known_i, item_idx, 0)
        both = known_u & known_i
        dot = np.einsum(
            "ij,ij->i",
            self.user_factors_[u].astype(np.float64),
            self.item_factors_[i].astype(np.float64),
        )
        return (
            self.global_mean_
            + np.where(known_u, self.user_bias_[u], 0.0)
            + np.where(known_i, self.item_bias_[i], 0.0)
            + np.where(both, dot, 0.0)
        )

    def explain(self, user_id, item_id) -> Explanation:
        """Split the prediction for (user, item) into μ, b_u, b_i and per-factor terms.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> model = Biases().fit(Interactions.from_dense(np.array([[5, 3], [4, 1]])))
            >>> e = model.explain(0, 1)
            >>> bool(abs(e.prediction - model.predict([0], [1])[0]) < 1e-6)
            True
        """
        self._check_fitted()
        u = self.users_.index([user_id])[0]
        i = self.items_.index([item_id])[0]
        contrib = self.user_factors_[u].astype(np.float64) * self.item_factors_[i]
        return Explanation(
            user_id=user_id,
            item_id=item_id,
            global_mean=float(self.global_mean_),
            user_bias=float(self.user_bias_[u]),
            item_bias=float(self.item_bias_[i]),
            factor_contributions=contrib,
            item_title=None if self.item_titles_ is None else str(self.item_titles_[i]),
            rating_scale=self.rating_scale_,
        )

    def similar_items(self, item_id, n: int = 10, *, items=None, filter_items=None):
        """Items closest to ``item_id`` by cosine of their factor vectors (itself excluded).

        ``items`` restricts the candidates (e.g. to titles with enough ratings for a
        reliable vector) and ``filter_items`` removes some, as in :meth:`recommend`.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model.fit(Interactions.from_dense(R)).similar_items(0, n=1).ids.tolist()
            [1]
        """
        return self._similar(item_id, n, self.items_, self.item_factors_, True, items, filter_items)

    def similar_users(self, user_id, n: int = 10) -> Recommendations:
        """Users closest to ``user_id`` by cosine of their factor vectors (itself excluded).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model.fit(Interactions.from_dense(R)).similar_users(2, n=1).ids.tolist()
            [3]
        """
        return self._similar(user_id, n, self.users_, self.user_factors_, False)

    def _similar(self, raw_id, n, vocab, factors, of_items, candidates=None, exclude=None):
        self._check_fitted()
        _check_n(n)
        if factors.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} has no latent factors, so it has no similarity"
            )
        idx = vocab.index([raw_id])[0]
        unit = _unit_rows(factors)
        scores = (unit @ unit[idx])[None, :].astype(np.float32)
        scores[0, idx] = -np.inf
        # Rows without a vector (no training data) are not similar to anything.
        scores[0, ~unit.any(axis=1)] = -np.inf
        if of_items:
            self._restrict(scores, candidates, exclude)
        top, vals = retrieval.topk(scores, n)
        keep = top[0] >= 0
        top, vals = top[0][keep], vals[0][keep]
        if of_items:
            return self._as_recommendations(top, vals, False)
        return Recommendations(vocab.ids[top], vals)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _check_n(n) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")


def model_class(name: str) -> type[Recommender]:
    """The model class registered under ``name`` (used by model files and the CLI).

    Example:
        >>> model_class("BiasedMF").__name__
        'BiasedMF'
    """
    from .. import models  # noqa: F401  (importing registers every algorithm)

    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model class {name!r}; known: {sorted(_REGISTRY)}") from None
