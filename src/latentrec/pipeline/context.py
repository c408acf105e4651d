"""What a pipeline knows about its items and users beyond the models: the ``Context``.

A :class:`Context` is built once by ``Pipeline.fit`` from the training data and the
candidate models, and saved with the pipeline: the history the features describe, the
items never to recommend to each user, item popularity and age, item genres and the
latent item vectors that MMR compares. The learned ranker's features and every
re-ranker read it, so none of them needs the training data again after a load.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.genres import genre_label_lists, genre_labels, genre_matrix
from ..data.interactions import Interactions
from ..data.vocabulary import Vocabulary
from ..evaluation.beyond import item_genre_shares

__all__ = ["Context", "build_context", "genre_label_lists", "genre_labels", "genre_matrix"]

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Context:
    """Item and user facts for features and re-rankers, all indexed like the models.

        ``history`` (users x items, 1 where the user interacted) is the data the candidate
        models were fitted on; ``seen`` holds it and anything else the user is known to have
        had (e.g. the ranker's validation slice), never recommended. ``item_age`` is in days
        from an item's first interaction in ``history`` to the latest one of all (NaN without
        timestamps or for an item nobody had); ``item_genres`` is items x genres (binary CSR)
        or None; ``item_vectors`` the item factors of the first candidate model that has
    them, or None;
        ``history_values`` the training value of each stored cell of ``history`` (aligned
        with ``history.data``), which the Thompson stage's posterior weighs; ``later`` the
        cells of the ranker's validation slice with their values (users x items), from
        which a user the candidate models were not fitted on is folded in, or None;
        ``later_implicit`` whether those cells are implicit feedback (the validation
        slice's ``Interactions.implicit``), None without them or in a file written before
        it was kept.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [5, 6, 5], "rating": 1.0,
            ...                    "t": [0, 86400, 172800]})
            >>> ctx = build_context(Interactions.from_frame(df, timestamp="t"))
            >>> ctx.item_age.tolist(), ctx.item_popularity.tolist()
            ([2.0, 1.0], [2.0, 1.0])
    """

    users: Vocabulary
    items: Vocabulary
    history: sp.csr_matrix
    seen: sp.csr_matrix
    item_popularity: np.ndarray
    item_age: np.ndarray
    item_genres: sp.csr_matrix | None = None
    genre_names: np.ndarray | None = None
    item_vectors: np.ndarray | None = None
    item_features: pd.DataFrame | None = None  # only while fitting; not saved
    history_values: np.ndarray | None = None  # the stored value of each cell of history
    later: sp.csr_matrix | None = None  # the validation slice's cells, with their values
    later_implicit: bool | None = None  # whether those cells are events (None: not known)

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.items)

    def has_history(self, user_idx: np.ndarray) -> np.ndarray:
        """Which of these user indices (-1: unknown) have a history to personalise from.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> ctx = build_context(Interactions.from_dense(np.array([[1, 0], [0, 0]])))
            >>> ctx.has_history(np.array([0, 1, -1])).tolist()
            [True, False, False]
        """
        u = np.asarray(user_idx, dtype=np.int64)
        counts = np.diff(self.history.indptr)
        return (u >= 0) & (counts[np.maximum(u, 0)] > 0)

    def seen_items(self, user: int) -> np.ndarray:
        """Item indices never to recommend to one user (none for -1).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> build_context(Interactions.from_dense(np.eye(2))).seen_items(1).tolist()
            [1]
        """
        if user < 0:
            return np.empty(0, dtype=np.int64)
        return self.seen.indices[self.seen.indptr[user] : self.seen.indptr[user + 1]].astype(
            np.int64
        )

    def genre_taste(self, user: int, *, seen: bool = False) -> np.ndarray:
        """The user's genre mix over their history: each item's genres share one unit.

        With ``seen=True``, over everything the user is known to have had (``seen``)
        instead. Zeros for an unknown user, one without history, or data without genres
        (``len(genre_names)`` values; none when there are no genres).

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> df = pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6], "rating": 1.0})
            >>> table = pd.DataFrame({"genres": ["A|B", "B"]}, index=[5, 6])
            >>> ctx = build_context(Interactions.from_frame(df, item_features=table))
            >>> ctx.genre_taste(0).tolist()
            [0.5, 1.5]
        """
        if self.item_genres is None:
            return np.zeros(0)
        if user < 0:
            return np.zeros(self.item_genres.shape[1])
        rows = self.seen if seen else self.history
        return self.genre_mix(rows.indices[rows.indptr[user] : rows.indptr[user + 1]])

    def genre_mix(self, items) -> np.ndarray:
        """The genre mix of these items (indices): each item's genres share one unit.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> df = pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6], "rating": 1.0})
            >>> table = pd.DataFrame({"genres": ["A|B", "B"]}, index=[5, 6])
            >>> ctx = build_context(Interactions.from_frame(df, item_features=table))
            >>> ctx.genre_mix(np.array([0])).tolist()
            [0.5, 0.5]
        """
        if self.item_genres is None:
            return np.zeros(0)
        row = np.asarray(items, dtype=np.int64)
        return np.asarray(self.genre_shares[row].sum(axis=0)).ravel()

    @cached_property
    def genre_shares(self) -> sp.csr_matrix | None:
        """``item_genres`` with each item's row scaled to sum to 1 (computed once)."""
        return None if self.item_genres is None else item_genre_shares(self.item_genres)

    def new_items(self, days: float) -> np.ndarray:
        """Items first had within the last ``days`` days of the history (age <= days).

        Items nobody had are not included: in a temporal split they come from the future.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> df = pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6], "rating": 1.0,
            ...                    "t": [0, 864000]})
            >>> build_context(Interactions.from_frame(df, timestamp="t")).new_items(3).tolist()
            [1]
        """
        with np.errstate(invalid="ignore"):
            return np.flatnonzero(self.item_age <= days).astype(np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        """The context as plain arrays for a model file (see :meth:`from_arrays`).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> ctx = build_context(Interactions.from_dense(np.eye(2)))
            >>> sorted(Context.from_arrays(ctx.arrays(), ctx.users, ctx.items).arrays()) == sorted(
            ...     ctx.arrays())
            True
        """
        out = {
            "history_indptr": self.history.indptr,
            "history_indices": self.history.indices,
            "seen_indptr": self.seen.indptr,
            "seen_indices": self.seen.indices,
            "item_popularity": self.item_popularity,
            "item_age": self.item_age,
        }
        if self.item_genres is not None:
            out["genres_indptr"] = self.item_genres.indptr
            out["genres_indices"] = self.item_genres.indices
            out["genre_names"] = np.asarray(self.genre_names).astype(str)
        if self.item_vectors is not None:
            out["item_vectors"] = self.item_vectors
        if self.history_values is not None:
            out["history_values"] = self.history_values
        if self.later is not None:
            out["later_indptr"] = self.later.indptr
            out["later_indices"] = self.later.indices
            out["later_data"] = self.later.data
            if self.later_implicit is not None:
                out["later_implicit"] = np.array(self.later_implicit, dtype=bool)
        return {k: np.asarray(v) for k, v in out.items()}

    @classmethod
    def from_arrays(cls, arrays: dict, users: Vocabulary, items: Vocabulary) -> Context:
        """Inverse of :meth:`arrays`, given the vocabularies (which the models hold)."""
        shape = (len(users), len(items))

        def csr(prefix: str, rows_cols, dtype=np.float32) -> sp.csr_matrix:
            indices = arrays[prefix + "_indices"]
            ones = np.ones(indices.size, dtype=dtype)
            return sp.csr_matrix((ones, indices, arrays[prefix + "_indptr"]), shape=rows_cols)

        genres = names = later = later_implicit = None
        if "later_indptr" in arrays:  # absent in files written before it was kept
            later = sp.csr_matrix(
                (arrays["later_data"], arrays["later_indices"], arrays["later_indptr"]),
                shape=shape,
            )
        if "later_implicit" in arrays:  # absent in files written before it was kept
            later_implicit = bool(arrays["later_implicit"].item())
        if "genres_indptr" in arrays:
            names = arrays["genre_names"]
            # float64, as genre_matrix builds it at fit: in float32 an item's share of
            # each of three genres (1/3) moved by 1e-8, and with it the ranker's genre
            # match and Calibrate's objective, so a loaded pipeline answered otherwise.
            genres = csr("genres", (len(items), names.size), np.float64)
        return cls(
            users,
            items,
            csr("history", shape),
            csr("seen", shape),
            arrays["item_popularity"],
            arrays["item_age"],
            genres,
            names,
            arrays.get("item_vectors"),
            history_values=arrays.get("history_values"),
            later=later,
            later_implicit=later_implicit,
        )


def binary_pattern(matrix, shape) -> sp.csr_matrix:
    """The stored cells of a sparse matrix as a float32 CSR of ones, indices sorted and
    repeated cells merged.

    A stored zero counts: in an :class:`~latentrec.Interactions` matrix it is an
    interaction rated 0 (on a scale from 0), which the user had all the same.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> m = sp.csr_matrix((np.array([0.0, 3.0]), np.array([0, 1]), np.array([0, 1, 2])))
        >>> binary_pattern(m, (2, 2)).toarray().tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    out = sp.csr_matrix(matrix, shape=shape, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.data[:] = 1.0
    out.sort_indices()
    return out


def build_context(
    train: Interactions,
    models=(),
    validation: Interactions | None = None,
) -> Context:
    """The :class:`Context` of a pipeline over ``train`` (the candidates' data).

    ``seen`` joins ``train``, ``validation`` and what each model saw; ``later`` keeps
    ``validation``'s cells with their values and ``later_implicit`` their kind;
    ``item_vectors`` comes from the first model with ``item_factors_``.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> ctx = build_context(Interactions.from_dense(np.array([[1, 0], [1, 1]])))
        >>> ctx.seen.toarray().tolist(), bool(np.isnan(ctx.item_age).all())
        ([[1.0, 0.0], [1.0, 1.0]], True)
    """
    shape = train.shape
    history = binary_pattern(train.matrix, shape)
    # The same steps as binary_pattern, keeping the values: the same cells in the same order.
    stored = sp.csr_matrix(train.matrix, shape=shape, dtype=np.float32, copy=True)
    stored.sum_duplicates()
    stored.sort_indices()
    seen = history.copy()
    later = later_implicit = None
    if validation is not None:
        later_implicit = bool(validation.implicit)
        seen = seen + binary_pattern(validation.matrix, shape)
        later = sp.csr_matrix(validation.matrix, shape=shape, dtype=np.float32, copy=True)
        later.sum_duplicates()
        later.sort_indices()
    for model in models:
        seen = seen + binary_pattern(model.catalog_.seen, shape)
    seen = binary_pattern(seen, shape)
    popularity = np.diff(history.tocsc().indptr).astype(np.float64)
    age = np.full(train.n_items, np.nan)
    if train.timestamps is not None and train.nnz:
        first = np.full(train.n_items, np.inf)
        np.minimum.at(first, train.item_idx, train.timestamps)
        known = np.isfinite(first)
        age[known] = (train.timestamps.max() - first[known]) / SECONDS_PER_DAY
    genres, names = genre_matrix(train.item_features, train.n_items)
    vectors = None
    for model in models:
        factors = getattr(model, "item_factors_", None) if model.is_fitted else None
        if factors is not None:
            vectors = np.asarray(factors, dtype=np.float64)
            break
    return Context(
        train.users,
        train.items,
        history,
        seen,
        popularity,
        age,
        genres,
        names,
        vectors,
        train.item_features,
        np.asarray(stored.data, dtype=np.float64),
        later,
        later_implicit,
    )
