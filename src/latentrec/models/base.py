"""What every recommender shares: the estimator contract, ids, scoring, top-k, saving.

Algorithms subclass :class:`FactorModel` (or :class:`Recommender` when they have no
factors) and add only ``_fit``; prediction, recommendation, similarity, explanation and
model files are written once here.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import retrieval
from ..data.interactions import Interactions
from ..data.vocabulary import UnknownIdError, Vocabulary, _normalise_labels
from ..explain import Explanation, supporting_items
from ..registry import register

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


@dataclass(frozen=True)
class UserVector:
    """A user's bias and factors computed from ratings by :meth:`FactorModel.fold_in`.

    ``ignored`` lists the item ids that were dropped because the model does not know them
    (only with ``unknown="ignore"``).

    Example:
        >>> import numpy as np
        >>> UserVector(0.5, np.array([0.1, -0.2], np.float32)).ignored
        []
    """

    bias: float
    factors: np.ndarray
    ignored: list = field(default_factory=list)


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
        # The index arrays of an Interactions are read-only, so the model shares them
        # instead of copying, and the all-ones values are a zero-stride view: together
        # 120 MiB saved at 10M interactions.  Partial fits build new arrays.
        self.seen_ = sp.csr_matrix(
            (np.broadcast_to(np.float32(1), (seen.nnz,)), seen.indices, seen.indptr),
            shape=seen.shape,
            copy=False,
        )
        self.item_popularity_ = data.item_counts().astype(np.float32)
        self.rating_scale_ = data.rating_scale
        self.data_fingerprint_ = data.fingerprint()
        titles = None
        if data.item_features is not None and "title" in data.item_features.columns:
            titles = data.item_features["title"].astype(str).to_numpy()
        self.item_titles_ = titles
        try:
            self._fit(data, validation)
        except BaseException:
            # A fit stopped part-way (divergence, a pruned tuning trial, Ctrl-C) must not
            # leave a model that claims to be fitted without learned state.
            del self.users_
            raise
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

    def _can_personalise(self, user_idx: np.ndarray) -> np.ndarray:
        """Which of these (known) users get personal scores rather than popularity.

        By default those with training history; models that can place a user without
        history (content features) override it.
        """
        return np.diff(self.seen_.indptr)[user_idx] > 0

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
        self._check_fitted()
        _check_n(n)
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
        self._check_fitted()
        _check_n(n)
        u = np.atleast_1d(np.asarray(user_idx))
        if u.ndim != 1 or (u.size and u.dtype.kind not in "iu"):
            raise ValueError("user_idx must be a 1-D array of integer user indices")
        u = u.astype(np.int64)
        if u.size and (u.min() < -1 or u.max() >= self.n_users):
            raise IndexError(f"user_idx must lie in [-1, {self.n_users})")
        cand = None if items is None else self._item_indices(items, "items")
        banned = None if filter_items is None else self._item_indices(filter_items, "filter_items")
        return self._topk_idx(u, n, exclude_seen, cand, banned)

    def _item_indices(self, values, name: str) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(values))
        if arr.size == 0:
            return np.empty(0, dtype=np.int64)
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of integer item indices")
        if arr.min() < 0 or arr.max() >= self.n_items:
            raise IndexError(f"{name} must lie in [0, {self.n_items})")
        return arr.astype(np.int64)

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
        from tqdm.auto import tqdm

        self._check_fitted()
        _check_n(n)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        path = Path(path)
        suffixes = [x.lower() for x in path.suffixes]
        if suffixes[-1:] in ([".parquet"], [".pq"]):
            fmt = "parquet"
        elif ".csv" in suffixes[-2:]:
            fmt = "csv"
        else:
            raise ValueError(f"{path}: use a .parquet, .pq or .csv (.csv.gz, ...) file name")
        compression = _csv_compression(path) if fmt == "csv" else None
        raw = self.users_.ids if users is None else np.atleast_1d(np.asarray(users))
        u_all = self.users_.lookup(raw)
        cand = None if items is None else self.items_.index(items).astype(np.int64)
        banned = None if filter_items is None else self.items_.index(filter_items)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        written = 0
        writer = None
        try:
            with tqdm(
                total=raw.size, unit="user", disable=not verbose, desc="recommend_all"
            ) as bar:
                for start in range(0, max(raw.size, 1), chunk_size):
                    sl = slice(start, start + chunk_size)
                    idx, vals, fallback = self._topk_idx(u_all[sl], n, exclude_seen, cand, banned)
                    table = self._long_table(raw[sl], idx, vals, fallback)
                    if fmt == "parquet":
                        writer = _write_parquet_chunk(writer, tmp, table)
                    else:
                        table.to_csv(
                            tmp,
                            mode="w" if start == 0 else "a",
                            header=start == 0,
                            index=False,
                            compression=compression,
                        )
                    written += len(table)
                    bar.update(raw[sl].size)
            if writer is not None:
                writer.close()
                writer = None
            os.replace(tmp, path)
        except BaseException:
            if writer is not None:
                writer.close()
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return written

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
    # Learned arrays with one row per user / per item: partial fits grow them (new rows
    # start at zero unless the solve hooks fill them).  Subclasses add their own.
    _user_arrays: tuple[str, ...] = ("user_bias_", "user_factors_")
    _item_arrays: tuple[str, ...] = ("item_bias_", "item_factors_")

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

    def _topk_users(self, u, k, exclude_seen, cand, banned):
        # A subclass that scores differently keeps the generic path through _score_block.
        if self.n_factors_ == 0 or type(self)._score_block is not FactorModel._score_block:
            return super()._topk_users(u, k, exclude_seen, cand, banned)
        # Same float32 arithmetic as _score_block: (p·q + b_i) + (b_u + μ).
        return retrieval.topk_dot(
            self.user_factors_,
            self.item_factors_,
            k,
            rows=u,
            row_offset=self.user_bias_[u] + np.float32(self.global_mean_),
            col_offset=self.item_bias_,
            items=cand,
            exclude=self.seen_ if exclude_seen else None,
            banned=banned,
            num_threads=getattr(self, "num_threads", None),
        )

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
            supporting=supporting_items(self, user_id, item_id) if self.n_factors_ else None,
        )

    # ----------------------------------------------------------- fold-in
    def fold_in(self, ratings, *, unknown: str = "error") -> UserVector:
        """A new user's bias and factors from their ratings, with the item side fixed.

        Pure: the model is not changed (use :meth:`partial_fit_users` to add the user).
        ``ratings`` is a dict ``{item_id: value}``, a pandas Series indexed by item id, or
        a sequence of item ids (implicit feedback: every value 1.0).  Unknown item ids
        raise :class:`UnknownIdError` naming them, unless ``unknown="ignore"``, which drops
        them and lists them in ``UserVector.ignored``.  No known rating gives zeros.

        The default solve is, per user, the ridge regression
        ``min Σ_j (r_j − μ − b_j − b − p·q_j)² + λ·n·(‖p‖² + b²)`` over the user's ``n``
        ratings (λ = ``regularization``); models with their own exact update (implicit
        ALS, BPR) replace it.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> fan = model.fold_in({0: 5, 1: 5, 2: 1})
            >>> fan.factors.shape
            (2,)
            >>> bool(model.user_factors_.shape[0] == 4)  # the model is unchanged
            True
        """
        self._check_fitted()
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        item_ids, values = _parse_ratings(ratings)
        self._check_values(item_ids, values, "item")
        idx = self.items_.lookup(item_ids)
        ignored: list = []
        if (idx < 0).any():
            if unknown == "error":
                raise UnknownIdError("item", pd.unique(item_ids[idx < 0]).tolist())
            ignored = item_ids[idx < 0].tolist()
            values = values[idx >= 0]
            idx = idx[idx >= 0]
        order = np.argsort(idx, kind="stable")
        bias, factors = self._solve_rows(
            "user",
            np.array([0, idx.size], dtype=np.int64),
            idx[order].astype(np.int32),
            values[order].astype(np.float32),
        )
        return UserVector(float(bias[0]), np.array(factors[0], dtype=np.float32), ignored)

    def partial_fit_users(self, data, *, unknown: str = "error") -> FactorModel:
        """Add new users (or recompute existing ones) from their ratings; items stay fixed.

        ``data`` is a DataFrame with columns ``user_id``, ``item_id`` and optionally
        ``rating`` (default 1.0), or an :class:`Interactions`.  Each user's rows are taken
        as their whole history: an existing user's bias, factors and seen items are
        replaced.  A repeated (user, item) pair keeps its last row.  Unknown item ids are
        an error unless ``unknown="ignore"`` (their rows are dropped with a warning).
        The vocabulary, ``user_bias_``, ``user_factors_``, the seen items and the item
        popularity grow together, so the new users can be recommended to, predicted,
        explained and saved at once.  Returns ``self``.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> new = pd.DataFrame({"user_id": [9, 9], "item_id": [0, 1], "rating": [5, 5]})
            >>> model.partial_fit_users(new).n_users
            5
            >>> model.recommend(9, n=2).ids.tolist()
            [3, 2]
        """
        return self._partial_fit(data, "user", unknown)

    def partial_fit_items(self, data, *, unknown: str = "error") -> FactorModel:
        """Add new items (or recompute existing ones) from their ratings; users stay fixed.

        The mirror image of :meth:`partial_fit_users`: ``data`` has ``user_id``,
        ``item_id`` and optionally ``rating``; unknown *user* ids are an error unless
        ``unknown="ignore"``.  Grows the item vocabulary, ``item_bias_``,
        ``item_factors_``, the item popularity, the titles (a new item's title is its id)
        and the seen items.  Returns ``self``.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> new = pd.DataFrame({"user_id": [0, 1, 2], "item_id": 7, "rating": [5, 5, 1]})
            >>> sorted(model.partial_fit_items(new).similar_items(7, n=2).ids.tolist())
            [0, 1]
        """
        return self._partial_fit(data, "item", unknown)

    def onboarding_items(
        self,
        k: int = 5,
        *,
        min_ratings: int | None = None,
        candidates=None,
        exclude=None,
        criterion: str = "variance",
    ) -> pd.DataFrame:
        """The ``k`` items to ask a new user to rate, in asking order.

        Popular items (people can rate only what they have seen) spread across the
        latent factors; see :func:`latentrec.onboarding.onboarding_items` for the design
        and the columns (``item_id``, ``title``, ``popularity``, ``answer_rate``, ``gain``).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> len(model.onboarding_items(k=2, min_ratings=1))
            2
        """
        from ..onboarding import onboarding_items

        return onboarding_items(
            self,
            k,
            min_ratings=min_ratings,
            candidates=candidates,
            exclude=exclude,
            criterion=criterion,
        )

    def onboard(
        self,
        answers,
        n: int = 10,
        *,
        user_id=None,
        unknown: str = "error",
        items=None,
        filter_items=None,
    ) -> Recommendations:
        """Top-``n`` items for a new user from their answers ``{item_id: rating}``.

        The answers are folded in (:meth:`fold_in`) and every item is ranked with the new
        vector, answered items excluded.  The model is unchanged unless ``user_id`` is
        given, which adds the user (:meth:`partial_fit_users`).  No usable answer gives
        the popularity list with ``fallback=True``.  See
        :func:`latentrec.onboarding.onboard`.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> model.onboard({0: 5, 2: 1}, n=2).ids.tolist()
            [1, 3]
        """
        from ..onboarding import onboard

        return onboard(
            self,
            answers,
            n,
            user_id=user_id,
            unknown=unknown,
            items=items,
            filter_items=filter_items,
        )

    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (item_idx, value) for n users -> (user_bias (n,), user_factors (n, k)).

        Item factors and biases stay fixed.  The default is the weighted-λ ridge of
        :meth:`fold_in`; algorithms with an exact update of their own override it.
        """
        reg_f, reg_b, weighted = self._fold_in_regularization("user")
        return ridge_rows(
            indptr,
            indices,
            values,
            self.item_factors_,
            self.global_mean_ + self.item_bias_.astype(np.float64),
            bool(np.any(self.user_bias_)),
            reg_f,
            reg_b,
            weighted,
        )

    def _solve_item_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (user_idx, value) for n items -> (item_bias (n,), item_factors (n, k)).

        The mirror image of :meth:`_solve_user_rows`, with user factors and biases fixed.
        """
        reg_f, reg_b, weighted = self._fold_in_regularization("item")
        return ridge_rows(
            indptr,
            indices,
            values,
            self.user_factors_,
            self.global_mean_ + self.user_bias_.astype(np.float64),
            bool(np.any(self.item_bias_)),
            reg_f,
            reg_b,
            weighted,
        )

    def _fold_in_regularization(self, side: str) -> tuple[float, float, bool]:
        """(λ for factors, λ for the bias, whether λ is multiplied by the row's count).

        Defaults: ``regularization`` (0.1 when the model has none), ``bias_regularization``
        when set, weighted by the count as SGD's per-visit penalty adds up to.
        """
        reg = getattr(self, "regularization", None)
        reg = 0.1 if reg is None else float(reg)
        reg_b = getattr(self, "bias_regularization", None)
        return reg, reg if reg_b is None else float(reg_b), True

    def _solve_rows(self, side, indptr, indices, values):
        hook = self._solve_user_rows if side == "user" else self._solve_item_rows
        n_rows, k = indptr.size - 1, self.n_factors_
        bias, factors = hook(indptr, indices, values)
        bias = np.asarray(bias, dtype=np.float32).reshape(-1)
        factors = np.asarray(factors, dtype=np.float32)
        if bias.shape != (n_rows,) or factors.shape != (n_rows, k):
            raise ValueError(
                f"{type(self).__name__}._solve_{side}_rows returned shapes {bias.shape} and "
                f"{factors.shape}; expected ({n_rows},) and ({n_rows}, {k})"
            )
        if not (np.isfinite(bias).all() and np.isfinite(factors).all()):
            raise FloatingPointError(
                f"{type(self).__name__}: the {side} solve gave NaN or infinite values; "
                "raise regularization"
            )
        return bias, factors

    def _check_values(self, ids, values, what) -> None:
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"ratings for {what} id(s) {ids[bad][:5].tolist()} are not finite")
        if self.rating_scale_ is not None:
            lo, hi = self.rating_scale_
            out = (values < lo) | (values > hi)
            if out.any():
                raise ValueError(
                    f"ratings for {what} id(s) {ids[out][:5].tolist()} lie outside the "
                    f"model's rating scale {lo:g}-{hi:g}"
                )

    def _partial_fit(self, data, side: str, unknown: str) -> FactorModel:
        self._check_fitted()
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        users_raw, items_raw, values = _partial_frame(data)
        if side == "user":
            row_raw, col_raw, row_vocab, col_vocab = users_raw, items_raw, self.users_, self.items_
        else:
            row_raw, col_raw, row_vocab, col_vocab = items_raw, users_raw, self.items_, self.users_
        self._check_values(items_raw, values, "item")
        col = col_vocab.lookup(col_raw).astype(np.int64)
        if (col < 0).any():
            if unknown == "error":
                raise UnknownIdError(col_vocab.name, pd.unique(col_raw[col < 0]).tolist())
            warnings.warn(
                f"partial_fit_{side}s ignored {int((col < 0).sum())} row(s) with unknown "
                f"{col_vocab.name} ids: {pd.unique(col_raw[col < 0])[:5].tolist()}",
                stacklevel=3,
            )
            keep = col >= 0
            row_raw, col, values = row_raw[keep], col[keep], values[keep]
            if row_raw.size == 0:
                return self
        codes, uniq = pd.factorize(row_raw, sort=False)
        uniq = np.asarray(uniq)
        # Repeated (row, column) pairs: the last row wins, as in Interactions' default.
        key = codes.astype(np.int64) * len(col_vocab) + col
        last = key.size - 1 - np.unique(key[::-1], return_index=True)[1]
        order = last[np.lexsort((col[last], codes[last]))]
        codes, col, values = codes[order], col[order], values[order]
        indptr = np.zeros(uniq.size + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(codes, minlength=uniq.size))
        bias, factors = self._solve_rows(
            side, indptr, col.astype(np.int32), values.astype(np.float32)
        )
        target = row_vocab.lookup(uniq).astype(np.int64)
        new = target < 0
        n_old = len(row_vocab)
        target[new] = n_old + np.arange(int(new.sum()))
        if new.any():
            grown = _grow_vocabulary(row_vocab, uniq[new])
            arrays = self._user_arrays if side == "user" else self._item_arrays
            for name in arrays:
                arr = getattr(self, name)
                pad = np.zeros((int(new.sum()),) + arr.shape[1:], dtype=arr.dtype)
                setattr(self, name, np.ascontiguousarray(np.concatenate([arr, pad])))
            if side == "user":
                self.users_ = grown
            else:
                self.items_ = grown
                if self.item_titles_ is not None:
                    extra = grown.ids[n_old:].astype(str)
                    self.item_titles_ = np.concatenate([self.item_titles_.astype(str), extra])
        if side == "user":
            self.user_bias_[target] = bias
            self.user_factors_[target] = factors
            self.seen_ = _replace_rows(self.seen_, target, indptr, col, len(self.users_))
        else:
            self.item_bias_[target] = bias
            self.item_factors_[target] = factors
            seen_t = _replace_rows(self.seen_.T.tocsr(), target, indptr, col, len(self.items_))
            self.seen_ = _canonical_seen(seen_t.T.tocsr())
        self.item_popularity_ = np.bincount(self.seen_.indices, minlength=len(self.items_)).astype(
            np.float32
        )
        self._check_finite()
        return self

    def similar_items(self, item_id, n: int = 10, *, items=None, filter_items=None):
        """Items closest to ``item_id`` by cosine of their factor vectors (itself excluded).

        ``items`` restricts the candidates (e.g. to titles with enough ratings for a
        reliable vector) and ``filter_items`` removes some, as in :meth:`recommend`.
        Items without a vector (no training data) are never returned.

        One id gives :class:`Recommendations`; a list or array of ids gives a long table
        with columns ``query_id``, ``rank``, ``item_id``, ``score``, computed in one batch.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model.fit(Interactions.from_dense(R)).similar_items(0, n=1).ids.tolist()
            [1]
            >>> model.similar_items([0, 2], n=1)["item_id"].tolist()
            [1, 3]
        """
        return self._similar(item_id, n, True, items, filter_items)

    def similar_users(self, user_id, n: int = 10):
        """Users closest to ``user_id`` by cosine of their factor vectors (itself excluded).

        One id gives :class:`Recommendations` (of user ids); a list or array of ids gives
        a long table with columns ``query_id``, ``rank``, ``user_id``, ``score``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model.fit(Interactions.from_dense(R)).similar_users(2, n=1).ids.tolist()
            [3]
            >>> model.similar_users([2, 0], n=1)["user_id"].tolist()
            [3, 1]
        """
        return self._similar(user_id, n, False)

    def _similar(self, raw_ids, n, of_items, candidates=None, exclude=None):
        self._check_fitted()
        _check_n(n)
        vocab, factors = (
            (self.items_, self.item_factors_) if of_items else (self.users_, self.user_factors_)
        )
        if factors.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} has no latent factors, so it has no similarity"
            )
        scalar = np.ndim(raw_ids) == 0
        raw = np.atleast_1d(np.asarray([raw_ids] if scalar else raw_ids))
        query = vocab.index(raw).astype(np.int64)
        unit = _unit_rows(factors)
        # Rows without a vector (no training data) are not similar to anything.
        banned = ~unit.any(axis=1)
        if exclude is not None:
            banned[self.items_.index(exclude)] = True
        cand = None if candidates is None else self.items_.index(candidates)
        itself = sp.csr_matrix(
            (np.ones(query.size, np.float32), query, np.arange(query.size + 1)),
            shape=(query.size, len(vocab)),
        )
        top, vals = retrieval.topk_dot(
            unit,
            unit,
            n,
            rows=query,
            items=cand,
            exclude=itself,
            exclude_rows=np.arange(query.size),
            banned=banned,
            num_threads=getattr(self, "num_threads", None),
        )
        if scalar:
            keep = top[0] >= 0
            top, vals = top[0][keep], vals[0][keep]
            if of_items:
                return self._as_recommendations(top, vals, False)
            return Recommendations(vocab.ids[top], vals)
        rows, cols = np.nonzero(top >= 0)
        return pd.DataFrame(
            {
                "query_id": raw[rows],
                "rank": cols + 1,
                ("item_id" if of_items else "user_id"): vocab.ids[top[rows, cols]],
                "score": vals[rows, cols],
            }
        )


def ridge_rows(
    indptr,
    indices,
    values,
    factors,
    offset,
    with_bias: bool,
    reg_factors: float,
    reg_bias: float,
    weighted: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Per CSR row, the ridge fit of its values on fixed factor rows (the fold-in solve).

    Row ``r`` holds cells ``(j, v_j)``; with ``y_j = v_j − offset[j]`` and ``x_j =
    factors[j]`` it solves ``min_{b, p} Σ_j (y_j − b − p·x_j)² + w·(λ_f‖p‖² + λ_b b²)``,
    ``w`` the row's count when ``weighted`` (else 1), as a (k+1)x(k+1) system (k x k
    without the bias).  Rows are solved together in batches of similar length through
    BLAS and LAPACK, never one rating at a time; rows without cells get zeros.  Without
    factor regularisation (λ_f = 0) a singular row gets the minimum-norm least-squares
    answer.

    Returns:
        ``(bias (n,), factors (n, k))`` as float32.

    Example:
        >>> import numpy as np
        >>> Q = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
        >>> b, P = ridge_rows(np.array([0, 2]), np.array([0, 1]), np.array([3.0, 1.0]),
        ...                   Q, np.zeros(2), False, 0.0, 0.0)
        >>> P.round(3).tolist()
        [[3.0, 1.0]]
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    n_rows = indptr.size - 1
    factors = np.asarray(factors)
    k = factors.shape[1]
    d = k + int(bool(with_bias))
    bias = np.zeros(n_rows)
    out = np.zeros((n_rows, k))
    counts = np.diff(indptr)
    nnz = int(indptr[-1])
    if d == 0 or nnz == 0:
        return bias.astype(np.float32), out.astype(np.float32)
    # Row nnz of X and y is a zero sentinel that pads short rows in a batch.
    X = np.zeros((nnz + 1, d))
    X[:nnz, :k] = factors[indices[:nnz]]
    if with_bias:
        X[:nnz, k] = 1.0
    y = np.zeros(nnz + 1)
    y[:nnz] = np.asarray(values[:nnz], dtype=np.float64) - np.asarray(offset)[indices[:nnz]]
    penalty = np.full(d, float(reg_factors))
    if with_bias:
        penalty[k] = float(reg_bias)
    order = np.flatnonzero(counts > 0)
    order = order[np.argsort(counts[order], kind="stable")]
    budget = 1 << 21  # padded cells x d per batch (16 MiB of float64)
    start = 0
    while start < order.size:
        stop = min(order.size, start + max(1, budget // (int(counts[order[start]]) * d)))
        while stop - start > 1 and (stop - start) * int(counts[order[stop - 1]]) * d > budget:
            stop = start + (stop - start) // 2
        rows = order[start:stop]
        longest = int(counts[rows[-1]])
        if rows.size == 1 and longest * d > budget:
            A, rhs = _gram_long_row(X, y, int(indptr[rows[0]]), longest, budget // d)
            A, rhs = A[None], rhs[None]
        else:
            slot = np.arange(longest)
            pos = indptr[rows][:, None] + slot[None, :]
            pos = np.where(slot[None, :] < counts[rows][:, None], pos, nnz)
            Xb = X[pos]
            A = np.matmul(Xb.transpose(0, 2, 1), Xb)
            rhs = np.matmul(Xb.transpose(0, 2, 1), y[pos][:, :, None])[:, :, 0]
        weight = counts[rows].astype(np.float64) if weighted else np.ones(rows.size)
        diag = np.arange(d)
        A[:, diag, diag] += weight[:, None] * penalty[None, :]
        sol = _solve_batch(A, rhs, definite=float(reg_factors) > 0)
        out[rows] = sol[:, :k]
        if with_bias:
            bias[rows] = sol[:, k]
        start = stop
    return bias.astype(np.float32), out.astype(np.float32)


def _gram_long_row(X, y, first: int, length: int, step: int):
    # One row too long to pad: accumulate XᵀX and Xᵀy over slices of its cells.
    d = X.shape[1]
    A = np.zeros((d, d))
    rhs = np.zeros(d)
    for s in range(first, first + length, max(1, step)):
        e = min(s + max(1, step), first + length)
        A += X[s:e].T @ X[s:e]
        rhs += X[s:e].T @ y[s:e]
    return A, rhs


def _solve_batch(A: np.ndarray, rhs: np.ndarray, definite: bool) -> np.ndarray:
    # With λ > 0 on the factors every system is positive definite (the bias column cannot
    # be explained away once p is penalised), so LU is exact.  Without it a row with fewer
    # cells than factors is singular, and LU would return one of its infinitely many
    # solutions blown up by rounding: take the minimum-norm least-squares one instead.
    if definite:
        return np.linalg.solve(A, rhs[:, :, None])[:, :, 0]
    pinv = np.linalg.pinv(A, rtol=1e-10, hermitian=True)
    return np.matmul(pinv, rhs[:, :, None])[:, :, 0]


def _parse_ratings(ratings) -> tuple[np.ndarray, np.ndarray]:
    """Item ids and values from a dict, a Series or a sequence of ids (values 1.0)."""
    if isinstance(ratings, dict):
        ids = list(ratings.keys())
        values = np.asarray(list(ratings.values()), dtype=np.float64)
    elif isinstance(ratings, pd.Series):
        ids = list(ratings.index)
        values = pd.to_numeric(ratings, errors="coerce").to_numpy(dtype=np.float64)
    elif isinstance(ratings, pd.DataFrame):
        raise TypeError(
            "fold_in takes one user's ratings (dict, Series or item ids); for a table of "
            "users use partial_fit_users"
        )
    else:
        ids = [ratings] if np.ndim(ratings) == 0 else list(ratings)
        values = np.ones(len(ids))
    arr = np.empty(len(ids), dtype=object)
    arr[:] = ids
    if len(ids) and pd.Index(arr).has_duplicates:
        dup = pd.Index(arr)[pd.Index(arr).duplicated()].unique()[:5].tolist()
        raise ValueError(f"ratings repeat item id(s) {dup}; give each item once")
    return arr, values


def _partial_frame(data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, item ids, values) from a long table or an Interactions."""
    if isinstance(data, Interactions):
        data = data.to_frame()
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            "expected a DataFrame with user_id, item_id (and rating) columns or an "
            f"Interactions, got {type(data).__name__}"
        )
    missing = [c for c in ("user_id", "item_id") if c not in data.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; the table has {list(data.columns)}")
    if len(data) == 0:
        raise ValueError("the table is empty: no ratings to fit")
    for col in ("user_id", "item_id"):
        nulls = data[col].isna().to_numpy()
        if nulls.any():
            raise ValueError(
                f"column {col!r} has missing ids at rows {data.index[nulls][:5].tolist()}"
            )
    if "rating" in data.columns:
        values = pd.to_numeric(data["rating"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"column 'rating' has missing or non-numeric values at rows "
                f"{data.index[bad][:5].tolist()}"
            )
    else:
        values = np.ones(len(data))
    return data["user_id"].to_numpy(), data["item_id"].to_numpy(), values


def _grow_vocabulary(vocab: Vocabulary, new_ids) -> Vocabulary:
    new = _normalise_labels(np.asarray(new_ids))
    if vocab.is_integer and new.dtype.kind != "i":
        raise TypeError(
            f"the model's {vocab.name} ids are integers; got non-integer new ids {new[:5].tolist()}"
        )
    if not vocab.is_integer:
        new = np.array([str(v) for v in new], dtype=object)
    return Vocabulary(np.concatenate([vocab.ids, new]), name=vocab.name)


def _replace_rows(matrix, target, indptr, cols, n_rows) -> sp.csr_matrix:
    """``matrix`` grown to ``n_rows`` rows with rows ``target`` set to the given CSR rows."""
    n_old, n_cols = matrix.shape
    old_ptr = np.concatenate([matrix.indptr, np.full(n_rows - n_old, matrix.indptr[-1])])
    data = np.ones(matrix.indices.size, dtype=np.float32)
    replaced = np.zeros(n_rows, dtype=bool)
    replaced[target] = True
    data[np.repeat(replaced, np.diff(old_ptr))] = 0
    grown = sp.csr_matrix((data, matrix.indices.copy(), old_ptr), shape=(n_rows, n_cols))
    grown.eliminate_zeros()
    rows = np.repeat(np.asarray(target, dtype=np.int64), np.diff(indptr))
    fresh = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (rows, np.asarray(cols, dtype=np.int64))),
        shape=(n_rows, n_cols),
    )
    return _canonical_seen(grown + fresh)


def _canonical_seen(matrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return sp.csr_matrix(
        (
            np.ones(matrix.indices.size, dtype=np.float32),
            matrix.indices.astype(np.int32),
            matrix.indptr.astype(np.int32 if matrix.nnz < 2**31 else np.int64),
        ),
        shape=matrix.shape,
    )


def _write_parquet_chunk(writer, path, table: pd.DataFrame):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is in the dev extra
        raise ImportError(
            "writing Parquet needs pyarrow (pip install pyarrow), or use a .csv file name"
        ) from None
    chunk = pa.Table.from_pandas(table, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(path, chunk.schema)
    else:
        chunk = chunk.cast(writer.schema)
    writer.write_table(chunk)
    return writer


def _csv_compression(path: Path):
    # The temporary file's name hides the suffix, so the compression is named here.
    suffix = path.suffix.lower()
    codecs = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}
    if suffix in codecs:
        return codecs[suffix]
    if suffix != ".csv":
        raise ValueError(f"{path}: a CSV file may be .csv, .csv.gz, .csv.bz2 or .csv.xz")
    return None


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
