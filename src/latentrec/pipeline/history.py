"""Users given by what they had: the input a pipeline ranks from.

A pipeline ranks a user from their *history* (the items they had and the values they had
them with), what they must never be offered, and, for each candidate model, where the
model's scores for them come from: its training state (a user it was fitted on) or a user
vector folded in elsewhere (``FactorModel.fold_in_idx``). :class:`UserHistory` is one
user, as a re-ranker sees them; :class:`Histories` is a batch, as the candidate pools see
it. :meth:`Histories.stored` gives training users their stored history, so a training user
and a user whose ratings arrived after training (a live user of the service) go through
the same code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..retrieval import whole_indices
from .context import Context, binary_pattern

__all__ = ["Histories", "UserHistory", "as_history", "user_key"]

_EMPTY = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class UserHistory:
    """One user as the re-rankers see them.

    ``items`` (item indices, each once; kept sorted, ``values`` reordered with them) is the
    history the features and the Thompson posterior describe, with ``values`` (aligned,
    or None where the values are unknown: the prior);
    ``seen`` is everything the user is known to have had (a superset of ``items``; the
    genre mix :class:`~latentrec.pipeline.Calibrate` targets); ``exclude`` the items never
    to show them (``seen`` and any further exclusions); ``key`` the number that seeds the
    user's random choices (their training index; -1 for an unknown user).  Indices are
    whole numbers >= 0: ``49.5`` or ``-1`` is a ValueError naming it, never item 49 or
    the last item.

    Example:
        >>> import numpy as np
        >>> who = UserHistory(np.array([2]), np.array([1.0]), np.array([2, 5]))
        >>> who.exclude.tolist(), who.has_history
        ([2, 5], True)
        >>> UserHistory([5, 2], [4.0, 1.0], []).values.tolist()  # sorted by item
        [1.0, 4.0]
    """

    items: np.ndarray
    values: np.ndarray | None
    seen: np.ndarray
    exclude: np.ndarray | None = None
    key: int = -1

    def __post_init__(self):
        # A cast cut 49.5 to item 49; a negative index would read the last items' rows.
        items = _indices(self.items, "items")
        seen = np.union1d(_indices(self.seen, "seen"), items)
        exclude = (
            seen if self.exclude is None else np.union1d(_indices(self.exclude, "exclude"), seen)
        )
        # Sorted here: callers (the service's merge of stored and training history) pass
        # them in any order, and Histories.of, features and posteriors read them as a set.
        order = np.argsort(items, kind="stable")
        items = items[order]
        repeated = items[1:][items[1:] == items[:-1]]
        if repeated.size:
            raise ValueError(f"items repeat item index {int(repeated[0])}; give each item once")
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "seen", seen)
        object.__setattr__(self, "exclude", exclude.astype(np.int64))
        if self.values is not None:
            values = np.asarray(self.values, dtype=np.float64)
            if values.shape != order.shape:
                raise ValueError(f"values has shape {values.shape} but items has {order.shape}")
            object.__setattr__(self, "values", values[order])
        object.__setattr__(self, "key", int(self.key))

    @property
    def has_history(self) -> bool:
        """Whether there is a history to personalise from."""
        return self.items.size > 0


def _indices(values, what: str) -> np.ndarray:
    """``values`` as 1-D int64 item indices >= 0, refused by value otherwise.

    Example:
        >>> _indices([3.0, 1], "items").tolist()
        [3, 1]
    """
    arr = whole_indices(np.atleast_1d(values).ravel(), what)
    if arr.size and arr.min() < 0:
        pos = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{what} must be item indices >= 0, got {arr[pos]} at position {pos}")
    return arr


def as_history(context: Context, user) -> UserHistory:
    """``user`` as a :class:`UserHistory`: a training user index (-1: unknown) becomes its
    stored history; a :class:`UserHistory` is returned as it is.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.pipeline.context import build_context
        >>> ctx = build_context(Interactions.from_dense(np.array([[1, 0, 2], [0, 1, 0]])))
        >>> who = as_history(ctx, 0)
        >>> who.items.tolist(), who.values.tolist(), who.key
        ([0, 2], [1.0, 2.0], 0)
    """
    if isinstance(user, UserHistory):
        return user
    user = int(user)
    if user < 0:
        return UserHistory(_EMPTY, np.empty(0), _EMPTY, key=-1)
    start, stop = context.history.indptr[user], context.history.indptr[user + 1]
    items = context.history.indices[start:stop]
    values = None if context.history_values is None else context.history_values[start:stop]
    return UserHistory(items, values, context.seen_items(user), key=user)


def user_key(user_id, n_users: int) -> int:
    """A stable seed key for a user the models do not hold: at least ``n_users`` (so no
    training user's key), the same in every process for the same id.

    Example:
        >>> user_key("ann", 10) == user_key("ann", 10) >= 10
        True
    """
    digest = hashlib.sha256(str(user_id).encode("utf-8")).digest()
    return int(n_users) + int.from_bytes(digest[:4], "little")


@dataclass(frozen=True)
class Histories:
    """A batch of users given by history, for :meth:`Pipeline.recommend_histories`.

    ``user_idx`` (b,) is each user's training index, -1 for a user the models do not hold;
    ``history`` (b x items CSR, values as data) what the features describe; ``seen`` and
    ``exclude`` (b x items, stored cells) as in :class:`UserHistory`; ``keys`` (b,) the
    random stages' seeds. ``vectors`` has one entry per candidate model: None, or
    ``(bias (b,), factors (b, k), has (b,) bool)``, user vectors folded in elsewhere,
    used for the users where ``has`` is True in place of the model's training state.

    Per model and user, the scores come from the folded vector if given, else the
    model's training state for a training user; a :class:`~latentrec.models.Popularity`
    model scores everyone alike; any other model is skipped for that user (it proposes
    nothing, its features are missing). Build one with :meth:`stored` or :meth:`of`.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.pipeline.context import build_context
        >>> ctx = build_context(Interactions.from_dense(np.array([[1, 0, 2], [0, 1, 0]])))
        >>> batch = Histories.stored(ctx, [1, -1])
        >>> batch.user(0).items.tolist(), batch.user(1).has_history
        ([1], False)
    """

    user_idx: np.ndarray
    history: sp.csr_matrix
    seen: sp.csr_matrix
    exclude: sp.csr_matrix
    keys: np.ndarray
    vectors: tuple = ()
    values_known: bool = True

    def __len__(self) -> int:
        return int(self.user_idx.size)

    @property
    def counts(self) -> np.ndarray:
        """Items in each user's history."""
        return np.diff(self.history.indptr)

    def vector_of(self, j: int):
        """``(bias, factors, has)`` given for candidate model ``j``, or None."""
        return self.vectors[j] if j < len(self.vectors) else None

    def user(self, b: int) -> UserHistory:
        """The ``b``-th user as a :class:`UserHistory`."""
        h, s, e = self.history, self.seen, self.exclude
        items = h.indices[h.indptr[b] : h.indptr[b + 1]]
        values = h.data[h.indptr[b] : h.indptr[b + 1]] if self.values_known else None
        return UserHistory(
            items,
            values,
            s.indices[s.indptr[b] : s.indptr[b + 1]],
            e.indices[e.indptr[b] : e.indptr[b + 1]],
            key=int(self.keys[b]),
        )

    def take(self, rows) -> Histories:
        """The users at positions ``rows``, as a new batch.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.eye(3)))
            >>> Histories.stored(ctx, [0, 1, 2]).take([2]).user_idx.tolist()
            [2]
        """
        rows = np.asarray(rows, dtype=np.int64)
        vectors = tuple(
            None if v is None else (v[0][rows], v[1][rows], v[2][rows]) for v in self.vectors
        )
        return Histories(
            self.user_idx[rows],
            self.history[rows],
            self.seen[rows],
            self.exclude[rows],
            self.keys[rows],
            vectors,
            self.values_known,
        )

    @classmethod
    def stored(cls, context: Context, user_idx, exclude: sp.csr_matrix | None = None):
        """Training users (indices, -1 unknown) with their stored history; ``exclude`` is a
        users x items matrix of what each must not be offered (default: ``context.seen``).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.array([[1, 0, 2], [0, 1, 0]])))
            >>> batch = Histories.stored(ctx, [0, -1])
            >>> batch.counts.tolist(), batch.user(0).values.tolist(), batch.keys.tolist()
            ([2, 0], [1.0, 2.0], [0, -1])
        """
        u = np.asarray(user_idx, dtype=np.int64).ravel()
        n = context.n_items
        values_known = context.history_values is not None
        history = sp.csr_matrix(context.history, dtype=np.float64, copy=True)
        if values_known:
            history.data = np.asarray(context.history_values, dtype=np.float64)
        blocked = context.seen if exclude is None else binary_pattern(exclude, exclude.shape)
        return cls(
            u,
            _rows(history, u, n),
            _rows(context.seen, u, n),
            _rows(blocked, u, n),
            u.copy(),
            (),
            values_known,
        )

    @classmethod
    def of(cls, context: Context, users, vectors=()) -> Histories:
        """A batch from :class:`UserHistory` objects, each optionally with its training
        index: ``users`` is a list of ``UserHistory`` or ``(user_idx, UserHistory)``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.eye(3)))
            >>> batch = Histories.of(ctx, [UserHistory([1], [1.0], [1], key=7)])
            >>> batch.user_idx.tolist(), batch.user(0).exclude.tolist()
            ([-1], [1])
        """
        pairs = [(-1, who) if isinstance(who, UserHistory) else who for who in users]
        n = context.n_items

        def csr(arrays, data=None) -> sp.csr_matrix:
            indptr = np.zeros(len(arrays) + 1, dtype=np.int64)
            indptr[1:] = np.cumsum([a.size for a in arrays])
            cols = np.concatenate([np.asarray(a, np.int64) for a in arrays] or [_EMPTY])
            if cols.size and (cols.min() < 0 or cols.max() >= n):
                raise ValueError(f"item indices must lie in [0, {n})")
            vals = np.ones(cols.size) if data is None else np.concatenate(data or [np.empty(0)])
            return sp.csr_matrix((vals, cols, indptr), shape=(len(arrays), n))

        whos = [who for _, who in pairs]
        known = all(who.values is not None for who in whos)
        order = [np.argsort(who.items, kind="stable") for who in whos]
        history = csr(
            [who.items[o] for who, o in zip(whos, order, strict=True)],
            [
                (who.values[o] if known else np.ones(who.items.size))
                for who, o in zip(whos, order, strict=True)
            ],
        )
        return cls(
            np.array([int(u) for u, _ in pairs], dtype=np.int64),
            history,
            csr([who.seen for who in whos]),
            csr([who.exclude for who in whos]),
            np.array([who.key for who in whos], dtype=np.int64),
            tuple(vectors),
            known,
        )


def _rows(matrix: sp.csr_matrix, u: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Rows ``u`` of a CSR matrix, empty for -1, stored zeros kept."""
    indptr = [0]
    cols, vals = [], []
    for user in u.tolist():
        if user >= 0:
            a, b = matrix.indptr[user], matrix.indptr[user + 1]
            cols.append(matrix.indices[a:b])
            vals.append(matrix.data[a:b])
        indptr.append(indptr[-1] + (cols[-1].size if user >= 0 else 0))
    return sp.csr_matrix(
        (
            np.concatenate(vals) if vals else np.empty(0),
            np.concatenate(cols) if cols else _EMPTY,
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(u.size, n_items),
    )
