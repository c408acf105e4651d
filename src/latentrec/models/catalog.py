"""The catalogue: what a fitted model knows about its users and items, frozen.

A :class:`Catalog` holds the id vocabularies, the seen-items CSR (users x items), item
popularity and the side tables (titles), plus the training data's rating scale, mean,
fingerprint and kind (explicit ratings or implicit feedback).  It is immutable: an
update (a new user, a new item, a replaced history) builds a new catalogue, so a model
can swap it whole.  Algorithms never see it being built; every model's learned arrays
are kept beside it in a :class:`Fitted`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..data.interactions import Interactions
from ..data.vocabulary import Vocabulary
from .results import Recommendations


def freeze(value):
    """A read-only view of an array (other values are returned as they are).

    Example:
        >>> frozen = freeze(np.zeros(2))
        >>> frozen.flags.writeable
        False
    """
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    return value


def seen_matrix(indptr, indices, shape) -> sp.csr_matrix:
    """The seen-items CSR with values that are a zero-stride view of one ``1.0``.

    The index arrays are shared, not copied, and the all-ones values take no memory:
    together 120 MiB saved at 10M interactions.

    Example:
        >>> m = seen_matrix(np.array([0, 1]), np.array([2]), (1, 3))
        >>> m.toarray().tolist()
        [[0.0, 0.0, 1.0]]
    """
    indices = freeze(np.asarray(indices))
    return sp.csr_matrix(
        (np.broadcast_to(np.float32(1), (indices.size,)), indices, freeze(np.asarray(indptr))),
        shape=shape,
        copy=False,
    )


def canonical_seen(matrix) -> sp.csr_matrix:
    """Any sparse matrix as a seen-items CSR: sorted int32 indices, duplicates merged.

    Example:
        >>> m = canonical_seen(sp.csr_matrix(np.array([[0, 3], [2, 0]])))
        >>> m.indices.tolist(), m.indices.dtype.name
        ([1, 0], 'int32')
    """
    matrix = sp.csr_matrix(matrix)
    matrix.sum_duplicates()
    matrix.sort_indices()
    matrix.eliminate_zeros()
    return seen_matrix(
        matrix.indptr.astype(np.int32 if matrix.nnz < 2**31 else np.int64),
        matrix.indices.astype(np.int32),
        matrix.shape,
    )


def replace_rows(matrix, target, indptr, cols, n_rows) -> sp.csr_matrix:
    """``matrix`` grown to ``n_rows`` rows with rows ``target`` set to the given CSR rows.

    Example:
        >>> m = canonical_seen(sp.csr_matrix(np.eye(2)))
        >>> replace_rows(m, [1, 2], [0, 1, 2], [0, 1], 3).toarray().tolist()
        [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """
    n_old, n_cols = matrix.shape
    old_ptr = np.concatenate([matrix.indptr, np.full(n_rows - n_old, matrix.indptr[-1])])
    data = np.ones(matrix.indices.size, dtype=np.float32)
    replaced = np.zeros(n_rows, dtype=bool)
    replaced[np.asarray(target, dtype=np.int64)] = True
    data[np.repeat(replaced, np.diff(old_ptr))] = 0
    kept = sp.csr_matrix((data, matrix.indices.copy(), old_ptr), shape=(n_rows, n_cols))
    kept.eliminate_zeros()
    rows = np.repeat(np.asarray(target, dtype=np.int64), np.diff(np.asarray(indptr)))
    fresh = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (rows, np.asarray(cols, dtype=np.int64))),
        shape=(n_rows, n_cols),
    )
    return canonical_seen(kept + fresh)


@dataclass(frozen=True, eq=False)
class Catalog:
    """Id maps, seen items and side tables of a fitted model; never edited in place.

    ``seen`` is users x items (CSR, sorted int32 indices, values all 1);
    ``item_popularity`` the number of users who have seen each item (float32);
    ``item_titles`` one string per item or ``None``.  ``implicit`` is the training
    data's ``Interactions.implicit`` (events such as plays or clicks, not ratings);
    ``None`` when it is not known (factors made elsewhere, a model file written before
    it was recorded).  ``rating_mean`` is the mean of the training values: the baseline
    a rating model without μ in its formula (unbiased MF, NMF) predicts for an id it
    does not know; ``None`` for catalogues not built from training data.
    ``rating_range`` is the lowest and highest training value: what a fold-in of explicit
    ratings may be given when there is no ``rating_scale`` (see
    :func:`~latentrec.models.foldin.answer_range`); ``None`` when not known.
    ``trained_shape`` is (users, items) of the training data: ids gained later (fold-in,
    onboarding) come after them, so the model's first ids are the training data's id
    maps; ``None`` when not known (factors made elsewhere, older model files).

    Example:
        >>> cat = Catalog.from_ids(["ann", "bob"], [10, 20, 30])
        >>> cat.n_users, cat.n_items, cat.seen.nnz
        (2, 3, 0)
    """

    users: Vocabulary
    items: Vocabulary
    seen: sp.csr_matrix
    item_popularity: np.ndarray
    item_titles: np.ndarray | None = None
    rating_scale: tuple[float, float] | None = None
    fingerprint: str | None = None
    implicit: bool | None = None
    rating_mean: float | None = None
    rating_range: tuple[float, float] | None = None
    trained_shape: tuple[int, int] | None = None

    def __post_init__(self):
        shape = (len(self.users), len(self.items))
        if self.seen.shape != shape:
            raise ValueError(f"seen matrix has shape {self.seen.shape}; expected {shape}")
        if self.item_popularity.shape != (shape[1],):
            raise ValueError(
                f"item_popularity has shape {self.item_popularity.shape}; expected ({shape[1]},)"
            )
        if self.item_titles is not None and len(self.item_titles) != shape[1]:
            raise ValueError(f"{len(self.item_titles)} item titles for {shape[1]} items")
        object.__setattr__(self, "item_popularity", freeze(self.item_popularity))
        object.__setattr__(self, "item_titles", freeze(self.item_titles))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_interactions(cls, data: Interactions) -> Catalog:
        """The catalogue of a training set (its ids, seen cells, popularity, titles, mean
        value and whether it is implicit feedback).

        Example:
            >>> cat = Catalog.from_interactions(Interactions.from_dense(np.eye(2) + 2))
            >>> cat.item_popularity.tolist(), cat.implicit, cat.rating_mean, cat.rating_range
            ([2.0, 2.0], False, 2.5, (2.0, 3.0))
            >>> cat.trained_shape
            (2, 2)
        """
        m = data.matrix
        titles = None
        if data.item_features is not None and "title" in data.item_features.columns:
            titles = data.item_features["title"].astype(str).to_numpy()
        return cls(
            users=data.users,
            items=data.items,
            # An Interactions' index arrays are read-only, so they are shared, not copied.
            seen=seen_matrix(m.indptr, m.indices, m.shape),
            item_popularity=data.item_counts().astype(np.float32),
            item_titles=titles,
            rating_scale=data.rating_scale,
            fingerprint=data.fingerprint(),
            implicit=data.implicit,
            rating_mean=data.global_mean() if data.nnz else None,
            rating_range=_value_range(m.data),
            trained_shape=(data.n_users, data.n_items),
        )

    @classmethod
    def from_ids(
        cls,
        user_ids,
        item_ids,
        *,
        seen=None,
        item_titles=None,
        rating_scale=None,
        fingerprint: str | None = None,
        rating_mean: float | None = None,
    ) -> Catalog:
        """A catalogue from raw id arrays and an optional seen matrix (users x items).

        ``seen`` is anything ``scipy.sparse.csr_matrix`` accepts (nonzero cells are
        seen); without it nobody has seen anything and popularity is zero.
        ``rating_mean`` is the training data's mean value, when known.

        Example:
            >>> seen = np.array([[1, 0], [1, 1]])
            >>> Catalog.from_ids([1, 2], ["a", "b"], seen=seen).item_popularity.tolist()
            [2.0, 1.0]
        """
        users = user_ids if isinstance(user_ids, Vocabulary) else Vocabulary(user_ids, "user")
        items = item_ids if isinstance(item_ids, Vocabulary) else Vocabulary(item_ids, "item")
        shape = (len(users), len(items))
        if seen is None:
            matrix = seen_matrix(np.zeros(shape[0] + 1, np.int32), np.empty(0, np.int32), shape)
        else:
            matrix = canonical_seen(seen)
            if matrix.shape != shape:
                raise ValueError(f"seen has shape {matrix.shape}; the ids give {shape}")
        popularity = np.bincount(matrix.indices, minlength=shape[1]).astype(np.float32)
        titles = None if item_titles is None else np.asarray(item_titles).astype(str)
        scale = None if rating_scale is None else tuple(float(x) for x in rating_scale)
        mean = None if rating_mean is None else float(rating_mean)
        return cls(users, items, matrix, popularity, titles, scale, fingerprint, rating_mean=mean)

    # ------------------------------------------------------------------ reading
    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.items)

    def history_counts(self, user_idx) -> np.ndarray:
        """How many items each of these users has seen.

        Example:
            >>> Catalog.from_ids([1, 2], [1], seen=[[1], [0]]).history_counts([0, 1]).tolist()
            [1, 0]
        """
        return np.diff(self.seen.indptr)[np.asarray(user_idx)]

    def recommendations(self, item_idx, scores, fallback: bool = False) -> Recommendations:
        """A ranked list in raw item ids (with titles when the catalogue has them).

        Example:
            >>> cat = Catalog.from_ids([1], ["a", "b"], item_titles=["A", "B"])
            >>> cat.recommendations(np.array([1]), np.array([0.5])).titles.tolist()
            ['B']
        """
        titles = None if self.item_titles is None else self.item_titles[item_idx]
        return Recommendations(self.items.ids[item_idx], scores, bool(fallback), titles)

    # ------------------------------------------------------------------ updating
    def with_rows(self, side: str, target, indptr, cols, new_ids=()) -> Catalog:
        """A new catalogue where rows ``target`` of ``side`` ("user" or "item") hold the
        given seen cells, after appending ``new_ids`` to that side's vocabulary.

        Example:
            >>> cat = Catalog.from_ids([1], ["a", "b"], seen=[[1, 0]])
            >>> new = cat.with_rows("user", [1], [0, 2], [0, 1], new_ids=[7])
            >>> new.n_users, new.item_popularity.tolist(), cat.n_users
            (2, [2.0, 1.0], 1)
        """
        new_ids = np.asarray(new_ids)
        if side == "user":
            users = self.users.extend(new_ids) if new_ids.size else self.users
            seen = replace_rows(self.seen, target, indptr, cols, len(users))
            items, titles = self.items, self.item_titles
        elif side == "item":
            items = self.items.extend(new_ids) if new_ids.size else self.items
            seen_t = replace_rows(self.seen.T.tocsr(), target, indptr, cols, len(items))
            seen = canonical_seen(seen_t.T.tocsr())
            users, titles = self.users, self.item_titles
            if titles is not None and new_ids.size:
                # A new item's title is its id until someone says otherwise.
                titles = np.concatenate(
                    [titles.astype(str), items.ids[-new_ids.size :].astype(str)]
                )
        else:
            raise ValueError(f"side must be 'user' or 'item', got {side!r}")
        popularity = np.bincount(seen.indices, minlength=len(items)).astype(np.float32)
        return replace(
            self,
            users=users,
            items=items,
            seen=seen,
            item_popularity=popularity,
            item_titles=titles,
        )


@dataclass(frozen=True, eq=False)
class Fitted:
    """A model's whole fitted state: its catalogue and its learned values, both frozen.

    A model holds one reference to a ``Fitted``; updates build a new one and replace that
    reference, so readers in other threads see the old state or the new, never a mix.
    ``state`` maps attribute names (``user_factors_``, ``global_mean_``, ...) to read-only
    arrays and plain values.

    Example:
        >>> cat = Catalog.from_ids([1], [1])
        >>> f = Fitted.build(cat, {"global_mean_": 3.5, "item_bias_": np.zeros(1)})
        >>> f.state["item_bias_"].flags.writeable
        False
    """

    catalog: Catalog
    state: Mapping[str, Any]

    def __reduce__(self):
        # copy.deepcopy and multiprocessing rebuild it frozen (a mappingproxy cannot pickle).
        return (Fitted.build, (self.catalog, dict(self.state)))

    @classmethod
    def build(cls, catalog: Catalog, state: Mapping[str, Any]) -> Fitted:
        """Freeze ``state`` (read-only arrays, a read-only mapping) beside ``catalog``.

        Example:
            >>> Fitted.build(Catalog.from_ids([1], [1]), {}).state
            mappingproxy({})
        """
        return cls(catalog, MappingProxyType({k: freeze(v) for k, v in state.items()}))

    def evolve(self, catalog: Catalog | None = None, **changes) -> Fitted:
        """A new ``Fitted`` with another catalogue and/or some learned values replaced.

        Values remembered by :meth:`derived` with ``inputs`` carry over when every one of
        those entries is left alone (or given again as the very same object); the rest
        are computed afresh on the new state.

        Example:
            >>> f = Fitted.build(Catalog.from_ids([1], [1]), {"global_mean_": 3.5})
            >>> f.evolve(global_mean_=4.0).state["global_mean_"], f.state["global_mean_"]
            (4.0, 3.5)
        """
        new = Fitted.build(catalog or self.catalog, {**self.state, **changes})
        same = {name for name, value in self.state.items() if changes.get(name, value) is value}
        with _DERIVED_LOCK:
            values = _DERIVED.get(self, {})
            inputs = {
                key: names
                for key, names in _DERIVED_INPUTS.get(self, {}).items()
                if key in values and same.issuperset(names)
            }
            if inputs:
                _DERIVED[new] = {key: values[key] for key in inputs}
                _DERIVED_INPUTS[new] = inputs
        return new

    def derived(
        self, key: Any, compute: Callable[[], Any], inputs: tuple[str, ...] | None = None
    ) -> Any:
        """``compute()``, run once for this state on first use and remembered beside it.

        For values that follow from the learned values alone (a fold-in's Gram of the
        fixed factors): they are kept outside ``state`` (never saved, never pickled).
        Without ``inputs`` a value dies with this ``Fitted``, so a refit or an update,
        which builds a new one, starts afresh.  ``inputs`` names the state entries the
        value follows from alone: a state made from this one by :meth:`evolve` that
        leaves each of them the very same (read-only) array keeps the value, so an
        update of the users does not recompute what depends on the items only; one
        that replaces any of them computes it again.  Threads asking at once may each
        compute; all get the first value stored.  An exception is not remembered.

        Example:
            >>> f = Fitted.build(Catalog.from_ids([1], [1]), {"global_mean_": 3.5})
            >>> calls = []
            >>> [f.derived("twice", lambda: calls.append(1) or 7.0) for _ in range(2)], calls
            ([7.0, 7.0], [1])
            >>> f.evolve(global_mean_=4.0).derived("twice", lambda: 8.0)
            8.0
            >>> f.derived("mean", lambda: 3.5 * 2, inputs=("global_mean_",))
            7.0
            >>> f.evolve(metrics_={}).derived("mean", lambda: 9.0, inputs=("global_mean_",))
            7.0
            >>> f.evolve(global_mean_=4.0).derived("mean", lambda: 8.0, inputs=("global_mean_",))
            8.0
        """
        with _DERIVED_LOCK:
            values = _DERIVED.setdefault(self, {})
            if key in values:
                return values[key]
        # Outside the lock: one slow first computation must not hold up other models.
        value = compute()
        with _DERIVED_LOCK:
            if inputs is not None and key not in values:
                _DERIVED_INPUTS.setdefault(self, {})[key] = tuple(inputs)
            return values.setdefault(key, value)


# Keyed by the Fitted itself (identity: eq=False), held weakly: not an attribute of the
# frozen state, so state stays exactly what fit produced and what a file holds.
# _DERIVED_INPUTS holds, per value given inputs, the state entries it follows from: what
# evolve checks before it hands the value on.
_DERIVED: weakref.WeakKeyDictionary[Fitted, dict] = weakref.WeakKeyDictionary()
_DERIVED_INPUTS: weakref.WeakKeyDictionary[Fitted, dict] = weakref.WeakKeyDictionary()
_DERIVED_LOCK = threading.Lock()


def _value_range(values: np.ndarray) -> tuple[float, float] | None:
    """(lowest, highest) of the training values, ``None`` for no values."""
    if values.size == 0:
        return None
    return float(values.min()), float(values.max())
