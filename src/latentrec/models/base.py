"""The recommender contract: estimator rules, the fit template, fitted state, top-k.

:class:`Recommender` is what every model shares.  Hyperparameters are set in
``__init__`` and checked in ``fit`` (the scikit-learn contract).  ``fit`` runs the
algorithm's ``_fit`` and then freezes what it learned, together with the training data's
:class:`~latentrec.models.catalog.Catalog`, into one
:class:`~latentrec.models.catalog.Fitted` that the model references.  Every read
(``predict``, ``recommend``, ...) works on one snapshot of that reference, and every
update builds a new ``Fitted`` and swaps the reference, so a reader in another thread
sees the old model or the new one, never a mix.

Algorithms add ``_fit`` and a scoring primitive (``_score_block``, ``_predict_idx``);
ranking with seen-item exclusion and popularity fallback, batch forms and the index-level
API are written once here.  Factor models build on :class:`~latentrec.models.factor.FactorModel`.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import retrieval
from ..data.interactions import Interactions
from ..data.vocabulary import UnknownIdError
from ..errors import NotFittedError
from ..io.tables import TableWriter
from ..registry import register
from . import persistence
from .catalog import Catalog, Fitted
from .results import Recommendations

__all__ = ["NotFittedError", "Recommender", "check_n", "reads_fitted"]

# Attributes that read the catalogue, under the names models have always had.
CATALOG_ATTRIBUTES = {
    "users_": "users",
    "items_": "items",
    "seen_": "seen",
    "item_popularity_": "item_popularity",
    "item_titles_": "item_titles",
    "rating_scale_": "rating_scale",
    "data_fingerprint_": "fingerprint",
}


def reads_fitted(method):
    """Run a read operation on one snapshot of the model's fitted state.

    The method gets a pinned view of the model whose ``Fitted`` reference cannot change
    while it runs, however many learned attributes it reads; a concurrent update is seen
    by the next call.  Nested calls on the view reuse it.

    Example:
        >>> class Toy(Recommender):
        ...     @reads_fitted
        ...     def on_view(self):
        ...         return self.__dict__.get("_pinned", False)
        >>> Toy().on_view()
        True
    """

    @functools.wraps(method)
    def on_snapshot(self, *args, **kwargs):
        if self.__dict__.get("_pinned"):
            return method(self, *args, **kwargs)
        return method(self.pinned(), *args, **kwargs)

    return on_snapshot


def check_n(n) -> None:
    """Raise a ValueError unless ``n`` (a list length) is a positive integer.

    Example:
        >>> check_n(3)
        >>> try:
        ...     check_n(0)
        ... except ValueError as err:
        ...     print(err)
        n must be a positive integer, got 0
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")


class Recommender:
    """Base estimator: hyperparameters in ``__init__``, learned state after ``fit``.

    Subclasses implement ``_fit(data, validation)``, which sets learned attributes (names
    ending in ``_``), and ``_score_block(user_idx)``; they list the learned arrays a
    model cannot do without in ``_array_state`` and scalars in ``_scalar_state``.
    """

    _array_state: tuple[str, ...] = ()
    _scalar_state: tuple[str, ...] = ()
    predicts_ratings = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)

    # ----------------------------------------------------------- estimator contract
    @classmethod
    def param_names(cls) -> list[str]:
        """The hyperparameter names ``__init__`` takes, in order.

        Example:
            >>> from latentrec.models import Biases
            >>> Biases.param_names()
            ['regularization', 'user_regularization', 'n_epochs']
        """
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
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params) -> Recommender:
        """Change hyperparameters; unknown names are an error.

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF().set_params(n_epochs=3).n_epochs
            3
        """
        valid = set(self.param_names())
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

    # ----------------------------------------------------------- fitted state
    def __getattr__(self, name: str):
        # Called only when normal lookup fails: learned attributes and the catalogue live
        # in the one Fitted object (during _fit, in the one being built).
        if name.startswith("__") or not name.endswith("_"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        d = self.__dict__
        fitted = d.get("_fitting") or d.get("_fitted")
        if fitted is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(interactions) first "
                f"(no attribute {name!r})"
            )
        field = CATALOG_ATTRIBUTES.get(name)
        if field is not None:
            return getattr(fitted.catalog, field)
        try:
            return fitted.state[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}"
            ) from None

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if d.get("_fitted") is not None and "_fitting" not in d and name.endswith("_"):
            fitted = d["_fitted"]
            if name in CATALOG_ATTRIBUTES or name in fitted.state:
                raise AttributeError(
                    f"{name} of a fitted model cannot be replaced: fitted state is swapped "
                    "whole (fit, partial_fit_users, partial_fit_items, from_factors)"
                )
        object.__setattr__(self, name, value)

    @property
    def catalog_(self) -> Catalog:
        """The frozen catalogue: id maps, seen items, popularity, titles."""
        return self.fitted_.catalog

    @property
    def fitted_(self) -> Fitted:
        """The whole fitted state (catalogue and learned values), one frozen object."""
        fitted = self.__dict__.get("_fitted")
        if fitted is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(interactions) first"
            )
        return fitted

    @property
    def is_fitted(self) -> bool:
        """Whether the model has fitted state.

        Example:
            >>> from latentrec.models import Biases
            >>> Biases().is_fitted
            False
        """
        return self.__dict__.get("_fitted") is not None

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless the model is fitted.

        Example:
            >>> from latentrec.models import Biases
            >>> try:
            ...     Biases().check_fitted()
            ... except NotFittedError:
            ...     print("not fitted")
            not fitted
        """
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(interactions) first"
            )

    def pinned(self) -> Recommender:
        """A read-only view of this model fixed to its current fitted state.

        The view shares everything (hyperparameters, arrays) but its ``Fitted``
        reference never changes: use it for several reads that must agree while
        another thread may update the model.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> model = Biases().fit(Interactions.from_dense(np.array([[5, 3]])))
            >>> model.pinned().fitted_ is model.fitted_
            True
        """
        view = object.__new__(type(self))
        fitted = self.__dict__.get("_fitted")
        # Hyperparameters and helpers only: learned values come from the one Fitted.
        view.__dict__.update(
            (k, v)
            for k, v in list(self.__dict__.items())
            if not k.endswith("_") and k not in ("_fitting", "_fitted")
        )
        view.__dict__["_fitted"] = fitted
        view.__dict__["_pinned"] = True
        return view

    @classmethod
    def from_fitted(cls, fitted: Fitted, **params) -> Recommender:
        """A fitted model from hyperparameters and a fitted state built elsewhere.

        Used by model files, :meth:`FactorModel.from_factors` and the Spark engine; the
        state must hold every array the class needs (``_array_state``).

        Example:
            >>> import numpy as np
            >>> from latentrec.models import GlobalMean
            >>> m = GlobalMean().fit(__import__("latentrec").Interactions.from_dense(np.eye(2) + 1))
            >>> GlobalMean.from_fitted(m.fitted_).predict([0], [0]).tolist()
            [1.5]
        """
        if not isinstance(fitted, Fitted):
            raise TypeError(f"from_fitted needs a Fitted, got {type(fitted).__name__}")
        missing = [n for n in (*cls._array_state, *cls._scalar_state) if n not in fitted.state]
        if missing:
            raise ValueError(f"{cls.__name__} needs learned values {missing} in the state")
        model = cls(**params)
        model._fitted = fitted
        return model

    def _swap(self, fitted: Fitted) -> None:
        """Publish a new fitted state: one reference replaced, readers see old or new."""
        object.__setattr__(self, "_fitted", fitted)

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
        self.__dict__["_fitting"] = Fitted.build(Catalog.from_interactions(data), {})
        try:
            self._fit(data, validation)
            learned = self._take_learned()
            self._swap(Fitted.build(self.__dict__["_fitting"].catalog, learned))
        except BaseException:
            # A fit stopped part-way (divergence, a pruned tuning trial, Ctrl-C) leaves a
            # model that is not fitted, never one with part of its learned state.
            self._take_learned()
            self.__dict__.pop("_fitted", None)
            raise
        finally:
            self.__dict__.pop("_fitting", None)
        return self

    def _take_learned(self) -> dict[str, Any]:
        """Remove the learned attributes ``_fit`` set on the instance and return them."""
        params = set(self.param_names())
        names = [k for k in self.__dict__ if k.endswith("_") and not k.startswith("_")]
        return {k: self.__dict__.pop(k) for k in names if k not in params}

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

    def _can_personalise(self, user_idx: np.ndarray) -> np.ndarray:
        """Which of these (known) users get personal scores rather than popularity.

        By default those with training history; models that can place a user without
        history (content features) override it.
        """
        return np.diff(self.seen_.indptr)[user_idx] > 0

    def _popularity_scores(self) -> np.ndarray:
        return self.item_popularity_

    # ----------------------------------------------------------- index-level API
    @reads_fitted
    def predict_idx(self, user_idx, item_idx) -> np.ndarray:
        """Predictions for aligned arrays of internal indices (-1: unknown, baseline part).

        The index-level form of :meth:`predict` for evaluation, serving and Spark: no
        id lookups, no clipping.  An index of -1 contributes nothing of its side (the
        prediction falls back to μ and the known bias).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import GlobalMean
            >>> model = GlobalMean().fit(Interactions.from_dense(np.array([[5, 3]])))
            >>> model.predict_idx([0, -1], [1, 0]).tolist()
            [4.0, 4.0]
        """
        self.check_fitted()
        u = self._index_array(user_idx, self.n_users, "user_idx", allow_unknown=True)
        i = self._index_array(item_idx, self.n_items, "item_idx", allow_unknown=True)
        if u.shape != i.shape:
            raise ValueError(f"user_idx and item_idx differ in length: {u.size} and {i.size}")
        return np.asarray(self._predict_idx(u, i), dtype=np.float64)

    @reads_fitted
    def score_users(self, user_idx) -> np.ndarray:
        """The model's score of every item for each user index: float32 (len, n_items).

        Dense, so use it for small batches (a re-ranker's input, a service request);
        :meth:`recommend_batch_idx` ranks any number of users in bounded memory.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> model = Popularity().fit(Interactions.from_dense(np.array([[1, 0], [1, 1]])))
            >>> model.score_users([0]).tolist()
            [[2.0, 1.0]]
        """
        self.check_fitted()
        u = self._index_array(user_idx, self.n_users, "user_idx")
        return np.asarray(self._score_block(u), dtype=np.float32)

    @staticmethod
    def _index_array(values, size: int, name: str, allow_unknown: bool = False) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(values))
        if arr.size == 0:
            return np.empty(0, dtype=np.int64)
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ValueError(f"{name} must be a 1-D array of integer indices")
        low = -1 if allow_unknown else 0
        if arr.min() < low or arr.max() >= size:
            raise IndexError(f"{name} must lie in [{low}, {size})")
        return arr.astype(np.int64)

    # ----------------------------------------------------------- public operations
    @property
    def n_users(self) -> int:
        """Number of users the model knows."""
        return self.fitted_.catalog.n_users

    @property
    def n_items(self) -> int:
        """Number of items the model knows."""
        return self.fitted_.catalog.n_items

    @reads_fitted
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
        self.check_fitted()
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

    @reads_fitted
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
        self.check_fitted()
        check_n(n)
        u = self.users_.lookup([user_id])
        idx, vals, fallback = self._recommend_idx(u, n, exclude_seen, items, filter_items)
        keep = idx[0] >= 0
        return self.catalog_.recommendations(idx[0][keep], vals[0][keep], fallback[0])

    @reads_fitted
    def recommend_batch(
        self, user_ids, n: int = 10, *, exclude_seen: bool = True, items=None, filter_items=None
    ) -> pd.DataFrame:
        """Top-``n`` for many users at once, as a long table.

        Columns: ``user_id``, ``rank`` (1-based), ``item_id``, ``score``, ``fallback``.
        Users are scored in tiles through BLAS and the best items are picked by a parallel
        kernel that skips seen and filtered items, so memory stays bounded.  The rows for
        each user equal ``recommend(user_id, n, ...)`` (scores up to float32 rounding: BLAS
        may round a dot product's last bit differently in a product of another shape); a
        user with fewer eligible items gets fewer rows.  :meth:`recommend_batch_idx` is the
        same in internal indices and :meth:`recommend_all` streams every user to a file.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]]))
            >>> Popularity().fit(data).recommend_batch([0, 1], n=1)["item_id"].tolist()
            [1, 2]
        """
        self.check_fitted()
        check_n(n)
        raw = np.atleast_1d(np.asarray(user_ids))
        u = self.users_.lookup(raw)
        idx, vals, fallback = self._recommend_idx(u, n, exclude_seen, items, filter_items)
        return self._long_table(raw, idx, vals, fallback)

    def _long_table(self, raw_users, idx, vals, fallback) -> pd.DataFrame:
        # Filled slots are a prefix of each row, so a slot's column is its rank - 1.
        rows, cols = np.nonzero(idx >= 0)
        return pd.DataFrame(
            {
                "user_id": raw_users[rows],
                "rank": cols + 1,
                "item_id": self.items_.ids[idx[rows, cols]],
                "score": vals[rows, cols],
                "fallback": fallback[rows],
            }
        )

    @reads_fitted
    def recommend_batch_idx(
        self,
        user_idx,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        items=None,
        filter_items=None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-``n`` as arrays of internal indices: the low-level form of ``recommend_batch``.

        Everything is in internal indices (``users_.index(...)``, ``items_.index(...)``):
        ``user_idx`` (-1 for an unknown user, who gets the popularity fallback),
        ``items`` (candidates) and ``filter_items`` (exclusions).  Nothing is converted
        to raw ids, which makes it the fastest form for evaluation and serving.

        Returns:
            ``(item_idx, scores, fallback)``: int32 and float32 arrays of shape
            ``(len(user_idx), min(n, n_candidates))``, best first, ties broken by the lower
            item index, short rows padded with -1 / -inf; and a bool array saying which
            users got the popularity fallback.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]]))
            >>> idx, scores, fallback = Popularity().fit(data).recommend_batch_idx([0, -1], 2)
            >>> idx.tolist(), fallback.tolist()
            ([[1, -1], [0, 1]], [False, True])
        """
        self.check_fitted()
        check_n(n)
        u = self._index_array(user_idx, self.n_users, "user_idx", allow_unknown=True)
        cand = None if items is None else self._index_array(items, self.n_items, "items")
        banned = (
            None
            if filter_items is None
            else self._index_array(filter_items, self.n_items, "filter_items")
        )
        return self._topk_idx(u, n, exclude_seen, cand, banned)

    def _recommend_idx(self, u, n, exclude_seen=True, items=None, filter_items=None):
        """Top-n item indices for user indices ``u`` (-1 = unknown); raw-id restrictions."""
        cand = None if items is None else self.items_.index(items).astype(np.int64)
        banned = None if filter_items is None else self.items_.index(filter_items)
        return self._topk_idx(np.asarray(u, dtype=np.int64), n, exclude_seen, cand, banned)

    def _topk_idx(self, u, n, exclude_seen, cand, banned):
        n_cols = self.n_items if cand is None else np.unique(cand).size
        n_eff = min(n, n_cols)
        idx = np.full((u.size, n_eff), -1, dtype=np.int32)
        vals = np.full((u.size, n_eff), -np.inf, dtype=np.float32)
        has_history = np.zeros(u.size, dtype=bool)
        known = u >= 0
        has_history[known] = self._can_personalise(u[known])
        if n_eff == 0:
            return idx, vals, ~has_history
        personal = np.flatnonzero(has_history)
        if personal.size:
            p_idx, p_vals = self._topk_users(u[personal], n_eff, exclude_seen, cand, banned)
            idx[personal] = p_idx
            vals[personal] = p_vals
        rest = np.flatnonzero(~has_history)
        if rest.size:
            # Users without history have no seen items: they all share one popularity list.
            pop = np.asarray(self._popularity_scores(), dtype=np.float32)
            if cand is not None:
                cand_sorted = np.unique(cand)
                pop, col_items = pop[cand_sorted], cand_sorted
            else:
                col_items = None
            f_idx, f_vals = retrieval.select_topk(
                pop[None, :], n_eff, items=col_items, banned=banned
            )
            idx[rest] = f_idx[0]
            vals[rest] = f_vals[0]
        return idx, vals, ~has_history

    def _topk_users(self, u, k, exclude_seen, cand, banned):
        """Best ``k`` item indices for known users ``u`` from ``_score_block`` in blocks."""
        cand_sorted = None if cand is None else np.unique(cand)
        idx = np.empty((u.size, k), dtype=np.int32)
        vals = np.empty((u.size, k), dtype=np.float32)
        step = retrieval.block_size(self.n_items, u.size)
        for start in range(0, u.size, step):
            block_u = u[start : start + step]
            scores = self._score_block(block_u)
            if cand_sorted is not None:
                scores = scores[:, cand_sorted]
            b_idx, b_vals = retrieval.select_topk(
                scores,
                k,
                items=cand_sorted,
                exclude=self.seen_ if exclude_seen else None,
                exclude_rows=block_u,
                banned=banned,
            )
            idx[start : start + step, : b_idx.shape[1]] = b_idx
            vals[start : start + step, : b_vals.shape[1]] = b_vals
        return idx, vals

    @reads_fitted
    def recommend_all(
        self,
        path,
        n: int = 10,
        users=None,
        exclude_seen: bool = True,
        *,
        items=None,
        filter_items=None,
        chunk_size: int = 65_536,
        verbose: bool = True,
    ) -> int:
        """Stream the top-``n`` of every user (or of ``users``) to a Parquet or CSV file.

        Users are processed ``chunk_size`` at a time and each chunk is appended to the
        file, so memory stays bounded however many users there are; a progress bar shows
        the users done.  The format follows the suffix: ``.parquet`` / ``.pq`` (needs
        pyarrow) or ``.csv`` (optionally compressed, e.g. ``.csv.gz``).  The columns are
        those of :meth:`recommend_batch`.  The file is written under a temporary name and
        renamed at the end, so an interrupted run leaves no partial file.

        Returns:
            The number of rows written.

        Example:
            >>> import numpy as np, os, tempfile
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> model = Popularity().fit(Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]])))
            >>> path = os.path.join(tempfile.mkdtemp(), "top.csv")
            >>> model.recommend_all(path, n=2, verbose=False)
            2
            >>> pd.read_csv(path)["item_id"].tolist()
            [1, 2]
        """
        self.check_fitted()
        check_n(n)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        writer = TableWriter(path)
        raw = self.users_.ids if users is None else np.atleast_1d(np.asarray(users))
        u_all = self.users_.lookup(raw)
        cand = None if items is None else self.items_.index(items).astype(np.int64)
        banned = None if filter_items is None else self.items_.index(filter_items)
        with (
            writer,
            tqdm(total=raw.size, unit="user", disable=not verbose, desc="recommend_all") as bar,
        ):
            # At least one chunk, so that an empty selection still writes the header.
            for start in range(0, max(raw.size, 1), chunk_size):
                sl = slice(start, start + chunk_size)
                idx, vals, fallback = self._topk_idx(u_all[sl], n, exclude_seen, cand, banned)
                writer.write(self._long_table(raw[sl], idx, vals, fallback))
                bar.update(raw[sl].size)
        return writer.rows

    @reads_fitted
    def item_title(self, item_id) -> str | None:
        """Title of one item when the training data carried titles.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> Popularity().fit(Interactions.from_dense(np.eye(2))).item_title(0) is None
            True
        """
        self.check_fitted()
        if self.item_titles_ is None:
            return None
        return str(self.item_titles_[self.items_.index([item_id])[0]])

    # ----------------------------------------------------------- persistence
    @reads_fitted
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
        persistence.save_model(self, path)
