"""What a model accepts as training data, checked before any fitting starts.

:func:`as_interactions` turns the matrices people already have (scipy.sparse, NumPy)
into :class:`~latentrec.Interactions`; :func:`check_has_ratings` refuses data with nothing
for a rating model to learn (no rating column, or clicks), naming the models that fit it.
:func:`with_model_ids` takes the data a fitted model was trained on, after the model
grew (fold-in, onboarding, partial fits), over the model's own id maps.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..data.interactions import Interactions

__all__ = [
    "IMPLICIT_MODELS",
    "MIN_EQUAL_VALUES",
    "as_interactions",
    "check_has_ratings",
    "gained",
    "trained_shape",
    "with_model_ids",
]

# The models to name when a rating model is given data without ratings to learn from.
IMPLICIT_MODELS = (
    "ImplicitALS, BPR, WARP or Popularity (CLI: -a implicit-als, bpr, warp, popularity)"
)

# Equal values that no longer pass for chance agreement of real ratings (5⁻⁹ on a 1-5
# scale); data read without a rating column is refused at any size.
MIN_EQUAL_VALUES = 10


def as_interactions(data, what: str = "data") -> Interactions:
    """``data`` as :class:`~latentrec.Interactions`, for anything a model can learn from.

    An ``Interactions`` is returned as it is; a scipy.sparse matrix (users x items)
    becomes one whose stored cells are the observations
    (:meth:`Interactions.from_sparse`); a dense NumPy array becomes one where 0 marks a
    blank (:meth:`Interactions.from_dense`; call it with ``missing=np.nan`` when 0 is a
    real value).  Ids are the row and column positions.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> as_interactions(sp.csr_matrix(np.array([[5.0, 0.0], [0.0, 3.0]]))).nnz
        2
    """
    if isinstance(data, Interactions):
        return data
    if sp.issparse(data):
        return Interactions.from_sparse(data)
    if isinstance(data, np.ndarray):
        return Interactions.from_dense(data)
    raise TypeError(
        f"{what} expects latentrec.Interactions, a scipy.sparse matrix or a NumPy array, got "
        f"{type(data).__name__}; build one with Interactions.from_frame(df, user=..., "
        "item=..., rating=...)"
    )


def count_shared_cells(a, b) -> int:
    """How many cells are stored in both sparse matrices ``a`` and ``b`` (same shape),
    whatever their values (a stored 0 counts).

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> a = sp.csr_matrix(np.array([[1, 0], [0, 2]]))
        >>> b = sp.csr_matrix(np.array([[3, 4], [0, 0]]))
        >>> count_shared_cells(a, b)
        1
    """
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    ones_a = sp.csr_matrix((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape)
    ones_b = sp.csr_matrix((np.ones(b.nnz), b.indices, b.indptr), shape=b.shape)
    return int(ones_a.multiply(ones_b).nnz)


def check_has_ratings(model_name: str, data: Interactions) -> None:
    """Raise a ValueError when ``data`` has no ratings for a rating model to learn from.

    Implicit data (``data.implicit``: read without a rating column, ``rating=None``,
    ``--rating-col none``, or marked ``implicit=True``) holds events: 1.0 per event, and
    repeated events add up to counts.  Counts are no ratings: a model that predicts
    ratings would learn to predict how often, and rank by it, so the error names the
    implicit models, whatever the values.  A table of explicit values that are all equal
    is refused too when it has at least :data:`MIN_EQUAL_VALUES` of them: a constant
    teaches nothing, while a handful of real ratings can agree by chance (two users who
    both gave 4 stars).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> check_has_ratings("BiasedMF", Interactions.from_dense(np.array([[5, 3]])))
        >>> try:
        ...     check_has_ratings("BiasedMF", Interactions.from_dense(np.ones((4, 5))))
        ... except ValueError as err:
        ...     print(str(err).split(" (")[0])
        BiasedMF predicts ratings, but every value in the data is 1
        >>> events = Interactions.from_arrays([0, 0, 1], [0, 0, 1])  # no values: events
        >>> events.ratings.tolist()  # the repeated event adds up
        [2.0, 1.0]
        >>> try:
        ...     check_has_ratings("BiasedMF", events)
        ... except ValueError as err:
        ...     print(str(err).split(" (")[0])
        BiasedMF predicts ratings, but the data holds implicit feedback
    """
    if getattr(data, "implicit", False):
        raise ValueError(
            f"{model_name} predicts ratings, but the data holds implicit feedback (read "
            "without a rating column, or marked implicit: events, whose repeats add up to "
            f"counts, not ratings), so there is nothing to learn; for implicit data use "
            f"{IMPLICIT_MODELS}"
        )
    values = data.ratings
    if values.size < 2 or values.min() != values.max():
        return
    if values.size >= MIN_EQUAL_VALUES:
        raise ValueError(
            f"{model_name} predicts ratings, but every value in the data is {values[0]:g} "
            "(no rating column, or implicit feedback such as clicks), so there is nothing "
            f"to learn; for implicit data use {IMPLICIT_MODELS}"
        )


def with_model_ids(model, data, what: str = "data") -> Interactions:
    """``data`` over ``model``'s user and item id maps, or a ValueError saying why not.

    Data whose ids are the model's (the training data, or a split of it) is returned as
    it is.  A model that gained users or items after training (``partial_fit_users``,
    ``partial_fit_items``, ``onboard(user_id=...)``) has those ids last in its maps; data
    with the id maps the model had when trained is accepted as it would be before the
    model grew (the training data, or another split of the same data).  Where the model
    does not know its training shape (older model files), data whose ids are the model's
    first ones, in order, is accepted when it is the very data trained on (the digest the
    model keeps of it, ``data_fingerprint_``, where it keeps one).  Accepted data is
    returned with the later ids appended: no cells, empty side-table rows.  Anything else
    is refused, the message beginning with ``what``.  The command line applies the same
    rule to ``--data``.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec.models import BiasedMF
        >>> data = Interactions.from_dense(np.array([[5, 1], [4, 2]]))
        >>> model = BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(data)
        >>> new = pd.DataFrame({"user_id": [7], "item_id": [0], "rating": [5]})
        >>> _ = model.partial_fit_users(new)
        >>> grown = with_model_ids(model, data)
        >>> grown.n_users, grown.nnz, grown.users == model.users_
        (3, 4, True)
    """
    if not isinstance(data, Interactions):
        raise TypeError(f"{what} must be latentrec.Interactions, got {type(data).__name__}")
    users, items = model.users_, model.items_
    if data.users == users and data.items == items:
        return data
    shape = trained_shape(model)
    prefix = _first_of(data.users, users) and _first_of(data.items, items)
    if shape is not None:
        # The id maps the model was trained over: the same rule as before it grew.
        grown = prefix and (data.n_users, data.n_items) == shape
    else:
        grown = prefix and getattr(model, "data_fingerprint_", None) in (
            None,
            data.fingerprint(),
        )
    if not grown:
        raise ValueError(
            f"{what} must share the model's id vocabularies: it has {data.n_users} users x "
            f"{data.n_items} items, the model {len(users)} x {len(items)} (or other ids); "
            f"{_what_fits(model, shape)}"
        )
    m = data.matrix
    extra = np.full(len(users) - data.n_users, m.indptr[-1], dtype=m.indptr.dtype)
    matrix = sp.csr_matrix(
        (m.data, m.indices, np.concatenate([m.indptr, extra])), shape=(len(users), len(items))
    )
    matrix.has_sorted_indices = True  # the rows of `data`, sorted, then empty ones

    def side(table, vocab):  # side tables are aligned with the ids, indexed by them
        return None if table is None else table.reindex(vocab.ids)

    return Interactions(
        users,
        items,
        matrix,
        data.timestamps,
        rating_scale=data.rating_scale,
        implicit=data.implicit,
        item_features=side(data.item_features, items),
        user_features=side(data.user_features, users),
        load_report=data.load_report,
    )


def trained_shape(model) -> tuple[int, int] | None:
    """(users, items) of the data ``model`` was trained on, where the model knows it.

    Example:
        >>> import numpy as np
        >>> from latentrec.models import Popularity
        >>> trained_shape(Popularity().fit(Interactions.from_dense(np.ones((2, 3)))))
        (2, 3)
    """
    catalog = getattr(model, "catalog_", None)
    return getattr(catalog, "trained_shape", None)


def gained(model) -> tuple[int, int]:
    """How many users and items ``model`` gained after training (0, 0 when not known).

    Example:
        >>> import numpy as np
        >>> from latentrec.models import Popularity
        >>> gained(Popularity().fit(Interactions.from_dense(np.ones((2, 3)))))
        (0, 0)
    """
    shape = trained_shape(model)
    if shape is None:
        return 0, 0
    return len(model.users_) - shape[0], len(model.items_) - shape[1]


def _what_fits(model, shape) -> str:
    """The data a model takes, in words, for the refusal of other data."""
    if shape is None:
        return (
            "pass the Interactions the model was trained on (users or items it gained "
            "later may be missing), or a split of it"
        )
    n_users, n_items = gained(model)
    later = f" (it gained {n_users} users and {n_items} items later)" if n_users or n_items else ""
    return (
        f"pass the Interactions the model was trained on, {shape[0]} users x {shape[1]} "
        f"items{later}, or a split of it"
    )


def _first_of(vocab, model_vocab) -> bool:
    """Whether ``vocab`` is ``model_vocab`` or its first ids (the rest added later)."""
    n = len(vocab)
    return n <= len(model_vocab) and np.array_equal(vocab.ids, model_vocab.ids[:n])
