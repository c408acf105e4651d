"""Beyond-accuracy metrics: diversity, novelty, coverage, exposure, popularity, calibration.

They take ``recommended`` as the ranking metrics of :mod:`latentrec.evaluation.metrics`
do: a 2-D integer array ``(n_users, L)`` of item indices in rank order, ``-1`` marking an
empty slot, no item twice in a row; only the first ``k`` columns count (``k`` may exceed
``L``, and the catalogue: nothing wider than ``L`` is built). Empty slots are ignored
everywhere: they are neither an item nor a pair of items.

A per-user metric returns, with ``per_user=True``, one float per row, NaN where the
value is undefined for that row (an empty list, or a list of one item for a pairwise
measure); otherwise the mean over the rows where it is defined. If it is defined for no
row the mean is undefined and a ``ValueError`` says so. :func:`catalog_coverage` and
:func:`gini_exposure` describe the whole catalogue, so they return one number.

Item-side inputs are indexed by item: ``item_vectors`` (items x factors, e.g. a
model's ``item_factors_``), ``item_genres`` (items x genres, dense or ``scipy.sparse``,
or the side table's genres column itself, ``data.item_features["genres"]``: one
``"A|B"`` text or list of names per item, read by
:func:`latentrec.data.genres.genre_matrix`) and ``item_popularity`` (the number of
users who have seen each item, e.g. ``model.catalog_.item_popularity``). Their length
is the catalogue size that ``recommended`` is checked against.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.genres import genre_matrix, is_list_cell
from ..models._training import check_bool
from .metrics import (  # catalog_coverage: public here too, a beyond-accuracy measure
    catalog_coverage,
    check_count,
    check_recommended,
)

__all__ = [
    "average_popularity",
    "catalog_coverage",
    "gini_exposure",
    "intra_list_diversity",
    "miscalibration",
    "novelty",
]

# Rows of users handled at once by the pairwise measure: the (users, k, k) and
# (users, k, width) blocks stay near this many numbers however large the input.
_BLOCK = 1 << 21


# ---------------------------------------------------------------------- diversity
def intra_list_diversity(
    recommended, item_vectors=None, item_genres=None, *, k: int, per_user: bool = False
):
    """Mean pairwise distance between the items of each list (top ``k``).

    Pass exactly one item description:

    * ``item_vectors`` (items x factors): the latent distance ``1 - cos(v_i, v_j)``,
      in ``[0, 2]``; ``0`` for parallel vectors, ``1`` for orthogonal ones (the most
      two non-negative vectors can differ). A listed item with a zero vector has no
      direction, so it is an error.
    * ``item_genres`` (items x genres, binary, dense or ``scipy.sparse``), or the
      genres column of the item side table (``data.item_features["genres"]``: one
      ``"A|B"`` text or list of names per item): the genre distance
      ``1 - |G_i & G_j| / |G_i | G_j|`` (one minus Jaccard), in ``[0, 1]``. Two items
      without any genre have the same (empty) set, so their distance is 0.

    Each unordered pair of listed items counts once: the intra-list diversity of Ziegler
    et al. (2005) as a distance, averaged (Vargas and Castells 2011), which is rectools'
    ``IntraListDiversity`` given the same distance.  A list with fewer than two items has
    no pair, so its value is NaN and it is left out of the mean (rectools scores it 0 and
    keeps it).

    Example:
        >>> import numpy as np
        >>> vectors = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
        >>> rec = np.array([[0, 1, 2], [0, 2, -1]])
        >>> intra_list_diversity(rec, item_vectors=vectors, k=3, per_user=True).tolist()
        [0.6666666666666666, 0.0]
        >>> genres = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
        >>> intra_list_diversity(rec, item_genres=genres, k=2)  # pairs (0,1), (0,2)
        0.75
        >>> column = ["Comedy|Drama", "Drama", "War"]  # the same genres, as a side table has them
        >>> intra_list_diversity(rec, item_genres=column, k=2)
        0.75
    """
    k = check_count(k, "k")
    if (item_vectors is None) == (item_genres is None):
        raise ValueError(
            "pass exactly one of item_vectors (latent distance) or item_genres (genre distance)"
        )
    if item_vectors is not None:
        vectors = check_item_vectors(item_vectors)
        top = check_recommended(recommended, vectors.shape[0], k)
        norms = np.linalg.norm(vectors, axis=1)
        shown = np.unique(top[top >= 0])
        flat = shown[norms[shown] == 0]
        if flat.size:
            raise ValueError(
                f"item {int(flat[0])} has a zero vector in item_vectors and is recommended: "
                "its cosine distance to another item is undefined"
            )
        unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]

        def rows_of(items: np.ndarray) -> np.ndarray:
            return unit[items]

        def distances(rows: np.ndarray) -> np.ndarray:
            return 1.0 - np.einsum("uad,ubd->uab", rows, rows)

        width = unit.shape[1]
    else:
        genres = check_item_genres(item_genres)
        bad = genres.data != 1.0
        if bad.any():
            raise ValueError(
                "item_genres must be binary (0 or 1) for the genre distance, a set "
                f"measure; it holds {float(genres.data[bad][0])}. Pass item_genres > 0 to "
                "count any weight as membership"
            )
        top = check_recommended(recommended, genres.shape[0], k)

        def rows_of(items: np.ndarray) -> np.ndarray:
            return genres[items.ravel()].toarray().reshape(*items.shape, -1)

        def distances(rows: np.ndarray) -> np.ndarray:
            shared = np.einsum("uag,ubg->uab", rows, rows)
            size = rows.sum(axis=2)
            union = size[:, :, None] + size[:, None, :] - shared
            with np.errstate(divide="ignore", invalid="ignore"):
                return 1.0 - np.where(union > 0, shared / union, 1.0)

        width = genres.shape[1]

    n_users, depth = top.shape  # depth <= k: no pair involves an empty slot past the lists
    values = np.full(n_users, np.nan)
    if depth < 2:  # lists of one column or none (a k past them adds no pair)
        return _finish(values, per_user, "no list has two items or more in its top k")
    upper = np.triu(np.ones((depth, depth), dtype=bool), 1)
    step = max(1, _BLOCK // (max(depth, 1) * max(depth, width, 1)))
    for start in range(0, n_users, step):
        block = top[start : start + step]
        listed = block >= 0
        dist = np.clip(distances(rows_of(np.where(listed, block, 0))), 0.0, 2.0)
        pairs = listed[:, :, None] & listed[:, None, :] & upper
        n_pairs = pairs.sum(axis=(1, 2))
        total = np.where(pairs, dist, 0.0).sum(axis=(1, 2))
        values[start : start + step] = np.where(n_pairs > 0, total / np.maximum(n_pairs, 1), np.nan)
    return _finish(values, per_user, "no list has two items or more in its top k")


# ---------------------------------------------------------------------- popularity
def novelty(recommended, item_popularity, n_users: int, k: int, *, per_user: bool = False):
    """Mean self-information ``-log2(popularity_i / n_users)`` of the listed items.

    ``item_popularity[i]`` is the number of the ``n_users`` training users who have seen
    item ``i``, so ``popularity / n_users`` is the chance that a user knows the item and
    its self-information is how surprising it is, in bits (Zhou et al. 2010). An item
    that nobody has seen would be infinitely surprising; it counts as seen by one user
    instead, which gives it ``log2(n_users)``, the novelty of the rarest seen item, and
    keeps the mean finite. This is rectools' ``MeanInvUserFreq`` (which treats an unseen
    item the same way) when ``n_users`` is the number of users with a training cell.

    Example:
        >>> import numpy as np
        >>> popularity = np.array([8, 2, 0, 1])
        >>> rec = np.array([[0, 1], [2, 3]])
        >>> novelty(rec, popularity, n_users=8, k=2, per_user=True).tolist()
        [1.0, 3.0]
    """
    n_users = check_count(n_users, "n_users")
    popularity = _check_popularity(item_popularity)
    over = popularity > n_users
    if over.any():
        item = int(np.flatnonzero(over)[0])
        raise ValueError(
            f"item_popularity[{item}] = {popularity[item]:g} exceeds n_users = {n_users}; "
            "popularity counts the users who have seen the item, at most all of them"
        )
    top = check_recommended(recommended, popularity.shape[0], check_count(k, "k"))
    bits = -np.log2(np.maximum(popularity, 1.0) / n_users)
    return _list_mean(top, bits, per_user)


def average_popularity(recommended, item_popularity, k: int, *, per_user: bool = False):
    """Mean popularity of the listed items, per user (average recommended popularity).

    ``item_popularity`` is any non-negative per-item figure, usually the number of users
    who have seen each item. The overall value is the mean over users of each user's mean:
    the ARP of Abdollahpouri et al. (2019), rectools' ``AvgRecPopularity``.

    Example:
        >>> import numpy as np
        >>> popularity = np.array([10.0, 4.0, 0.0])
        >>> rec = np.array([[0, 1], [2, -1]])
        >>> average_popularity(rec, popularity, k=2, per_user=True).tolist()
        [7.0, 0.0]
        >>> average_popularity(rec, popularity, k=2)
        3.5
    """
    popularity = _check_popularity(item_popularity)
    top = check_recommended(recommended, popularity.shape[0], check_count(k, "k"))
    return _list_mean(top, popularity, per_user)


# ---------------------------------------------------------------------- exposure
def gini_exposure(recommended, n_items: int, k: int) -> float:
    """Gini coefficient of how often each catalogue item appears in the top ``k`` lists.

    Every one of the ``n_items`` items counts, also the ones never recommended (their
    exposure is 0), as in RecBole's ``GiniIndex``: ``sum_ij |x_i - x_j| / (2 n^2 mean)``
    over all items. ``0`` means every item is shown equally often; one item shown
    alone gives ``(n_items - 1) / n_items``, the largest value. Counting only the shown
    items would give a smaller figure that hides how much of the catalogue is never shown.

    Example:
        >>> import numpy as np
        >>> gini_exposure(np.array([[0, 1], [1, 0]]), n_items=2, k=2)  # equal exposure
        0.0
        >>> gini_exposure(np.array([[0], [0]]), n_items=4, k=1)  # all on one item: 3/4
        0.75
    """
    n_items = check_count(n_items, "n_items")
    top = check_recommended(recommended, n_items, check_count(k, "k"))
    exposure = np.bincount(top[top >= 0], minlength=n_items).astype(np.float64)
    total = exposure.sum()
    if total == 0:
        raise ValueError("no item is recommended in any top k, so exposure has no Gini")
    # Sorted form of sum_ij |x_i - x_j| / (2 n^2 mean): ranks 1..n weight the ascending counts.
    ranks = np.arange(1, n_items + 1)
    return float(2.0 * (ranks @ np.sort(exposure)) / (n_items * total) - (n_items + 1) / n_items)


# ---------------------------------------------------------------------- calibration
def miscalibration(
    recommended,
    history,
    item_genres,
    k: int,
    alpha: float = 0.01,
    *,
    per_user: bool = False,
):
    """Steck's miscalibration: ``KL(p || q~)`` between the history's and the list's genres.

    Each item's genre weights are normalised to sum to 1 (Steck 2018, "Calibrated
    recommendations"), so a film with two genres gives each half. ``p`` is the user's
    genre distribution over their history, each item weighted by its stored value in
    ``history`` (a ``scipy.sparse`` users x items matrix or an ``Interactions``, row ``u``
    belonging to ``recommended[u]``); ``q`` is the same over the top ``k`` list, items
    weighted equally (Steck's ``q`` may weight the items by rank; here each listed item
    weighs the same). ``q`` is smoothed, ``q~ = (1 - alpha) q + alpha p``, so the
    divergence ``sum_g p(g) ln(p(g) / q~(g))`` (natural log, nats) stays finite; it is at
    most ``ln(1 / alpha)``.

    ``item_genres`` is items x genres (dense or ``scipy.sparse``), or the item side
    table's genres column (``data.item_features["genres"]``: one ``"A|B"`` text or list
    of names per item). Both distributions are normalised over genres, so items without
    any genre add nothing (Steck divides by the items' total weight instead; the two agree
    when every item has a genre). The value is NaN for a user whose history has no genre,
    or whose list is empty; a non-empty list of genre-less items has ``q = 0``, the
    largest value.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> genres = np.array([[1, 0], [0, 1], [1, 1]])
        >>> history = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
        >>> rec = np.array([[2], [0]])  # item 2 is half/half, as user 0's history
        >>> miscalibration(rec, history, genres, k=1, per_user=True).tolist()
        [0.0, 0.0]
        >>> off = miscalibration(np.array([[0], [1]]), history, genres, k=1, per_user=True)
        >>> off.round(4).tolist()  # user 1: p = (1, 0), q~ = (0.01, 0.99), so ln(1 / 0.01)
        [1.9585, 4.6052]
        >>> column = ["Drama", "War", "Drama|War"]  # the same genres, as a side table has them
        >>> again = miscalibration(np.array([[0], [1]]), history, column, k=1, per_user=True)
        >>> again.round(4).tolist()
        [1.9585, 4.6052]
    """
    k = check_count(k, "k")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha <= 1:
        raise ValueError(f"alpha must be a number in (0, 1], got {alpha!r}")
    genres = check_item_genres(item_genres)
    n_items = genres.shape[0]
    hist = _check_history(history, n_items)
    top = check_recommended(recommended, n_items, k)
    if top.shape[0] != hist.shape[0]:
        raise ValueError(
            f"recommended has {top.shape[0]} rows but history has {hist.shape[0]}; "
            "row u of both must describe the same user"
        )
    genre_share = item_genre_shares(genres)

    p = np.asarray((hist @ genre_share).todense())
    n_users = top.shape[0]
    listed = top >= 0
    rows = np.repeat(np.arange(n_users), top.shape[1])[listed.ravel()]
    in_list = sp.csr_matrix((np.ones(rows.size), (rows, top[listed])), shape=(n_users, n_items))
    q = np.asarray((in_list @ genre_share).todense())

    p_mass = p.sum(axis=1, keepdims=True)
    q_mass = q.sum(axis=1, keepdims=True)
    p = np.divide(p, p_mass, out=np.zeros_like(p), where=p_mass > 0)
    q = np.divide(q, q_mass, out=np.zeros_like(q), where=q_mass > 0)
    smoothed = (1.0 - alpha) * q + alpha * p
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / smoothed), 0.0)
    values = np.maximum(terms.sum(axis=1), 0.0)
    defined = (p_mass[:, 0] > 0) & listed.any(axis=1)
    values = np.where(defined, values, np.nan)
    return _finish(values, per_user, "no user has both a history with genres and a non-empty list")


# ---------------------------------------------------------------------- helpers
def _first_bad(arr: np.ndarray, bad: np.ndarray, name: str, why: str) -> ValueError:
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    at = ", ".join(map(str, where))
    return ValueError(f"{name}[{at}] = {float(arr[where])} {why}")


def check_item_vectors(item_vectors) -> np.ndarray:
    """An items x factors array as float64, checked: 2-D and finite; a ValueError names the
    first bad cell.  Shared with the MMR re-ranker.

    Example:
        >>> check_item_vectors([[1, 0], [0, 1]]).dtype
        dtype('float64')
        >>> check_item_vectors([[1.0, float("nan")]])
        Traceback (most recent call last):
        ValueError: item_vectors[0, 1] = nan is not a finite number
    """
    vectors = np.asarray(item_vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(
            f"item_vectors must be a 2-D array (items x factors), got {vectors.ndim} dimensions"
        )
    bad = ~np.isfinite(vectors)
    if bad.any():
        raise _first_bad(vectors, bad, "item_vectors", "is not a finite number")
    return vectors


def check_item_genres(item_genres) -> sp.csr_matrix:
    """An items x genres matrix (dense or sparse) as float64 CSR, checked: finite and
    non-negative weights; a ValueError names the first bad cell.  Shared with the
    calibration re-ranker.

    A genres column (a Series or 1-D sequence of ``"A|B"`` texts or lists of names, one
    per item, as an item side table holds it) becomes its binary matrix through
    :func:`latentrec.data.genres.genre_matrix`, genres in sorted order.

    Example:
        >>> check_item_genres(np.array([[1, 0], [1, 1]])).nnz
        3
        >>> check_item_genres(["Drama", "Comedy|Drama"]).toarray().tolist()  # Comedy, Drama
        [[0.0, 1.0], [1.0, 1.0]]
    """
    if _is_genre_column(item_genres):
        cells = item_genres if isinstance(item_genres, pd.Series) else pd.Series(item_genres)
        cells = cells.rename(cells.name if cells.name is not None else "item_genres")
        matrix, _ = genre_matrix(cells.to_frame(), len(cells), column=cells.name)
        return matrix
    if sp.issparse(item_genres):
        genres = sp.csr_matrix(item_genres, dtype=np.float64)
        genres.sum_duplicates()
    else:
        dense = np.asarray(item_genres, dtype=np.float64)
        if dense.ndim != 2:
            raise ValueError(
                f"item_genres must be a 2-D array (items x genres) or a genres column "
                f"('A|B' text or a list of names per item), got {dense.ndim} dimensions"
            )
        genres = sp.csr_matrix(dense)
    genres.eliminate_zeros()
    return _finite_non_negative(genres, "item_genres", "genre weights")


def _is_genre_column(item_genres) -> bool:
    """Whether ``item_genres`` is a column of genre names rather than a genre matrix: a
    Series, a 1-D text or object array, or a list whose cells are text or lists of text
    (or all missing: a column in which no item has a genre)."""
    if isinstance(item_genres, pd.Series):
        return True
    if isinstance(item_genres, np.ndarray):
        return item_genres.ndim == 1 and item_genres.dtype.kind in "OUS"
    if not isinstance(item_genres, (list, tuple)) or not item_genres:
        return False
    if any(
        isinstance(cell, str) or (is_list_cell(cell) and any(isinstance(n, str) for n in cell))
        for cell in item_genres
    ):
        return True
    return all(not is_list_cell(cell) and pd.isna(cell) for cell in item_genres)


def item_genre_shares(item_genres: sp.csr_matrix) -> sp.csr_matrix:
    """Each item's genre row scaled to sum to 1 (an item with no genre stays empty): an
    item's genres share one unit, in the history and the list alike.  Shared with the
    pipeline's calibration and genre features.

    Example:
        >>> item_genre_shares(sp.csr_matrix(np.array([[1.0, 1.0], [0.0, 1.0]]))).toarray().tolist()
        [[0.5, 0.5], [0.0, 1.0]]
    """
    per_item = np.asarray(item_genres.sum(axis=1)).ravel()
    scale = np.divide(1.0, per_item, out=np.zeros_like(per_item), where=per_item > 0)
    return sp.csr_matrix(sp.diags(scale) @ item_genres)


def _check_popularity(item_popularity) -> np.ndarray:
    popularity = np.asarray(item_popularity, dtype=np.float64)
    if popularity.ndim != 1:
        raise ValueError(
            f"item_popularity must be a 1-D array (one value per item), got "
            f"{popularity.ndim} dimensions"
        )
    bad = ~np.isfinite(popularity) | (popularity < 0)
    if bad.any():
        raise _first_bad(popularity, bad, "item_popularity", "is not a non-negative number")
    return popularity


def _check_history(history, n_items: int) -> sp.csr_matrix:
    matrix = getattr(history, "matrix", history)  # an Interactions holds its CSR here
    if not sp.issparse(matrix):
        raise TypeError(
            "history must be a scipy.sparse matrix (users x items) or an Interactions, "
            f"got {type(history).__name__}"
        )
    if matrix.ndim != 2:
        raise ValueError(
            f"history must be a 2-D users x items matrix, got {matrix.ndim} dimension(s) "
            f"(shape {matrix.shape})"
        )
    hist = sp.csr_matrix(matrix, dtype=np.float64)
    if hist.shape[1] != n_items:
        raise ValueError(
            f"history has {hist.shape[1]} item columns but item_genres has {n_items} rows; "
            "both must index the same items"
        )
    return _finite_non_negative(hist, "history", "history weights")


def _finite_non_negative(matrix: sp.csr_matrix, name: str, what: str) -> sp.csr_matrix:
    """``matrix`` itself once every stored value is finite and non-negative; otherwise a
    ValueError naming the first bad cell (row, column, value)."""
    bad = ~np.isfinite(matrix.data) | (matrix.data < 0)
    if bad.any():
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}[{rows[first]}, {matrix.indices[first]}] = {float(matrix.data[first])}: "
            f"{what} must be finite and non-negative"
        )
    return matrix


def _list_mean(top: np.ndarray, per_item: np.ndarray, per_user: bool):
    """Each row's mean of ``per_item`` over its listed items; NaN for an empty list."""
    listed = top >= 0
    count = listed.sum(axis=1)
    total = np.where(listed, per_item[np.where(listed, top, 0)], 0.0).sum(axis=1)
    values = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return _finish(values, per_user, "every list is empty in its top k")


def _finish(values: np.ndarray, per_user: bool, why_undefined: str):
    check_bool("per_user", per_user)  # "no" is truthy: it would give the per-user array
    values = values.astype(np.float64)
    if per_user:
        return values
    if np.isnan(values).all():
        raise ValueError(
            f"{why_undefined}, so the mean is undefined; pass per_user=True to get NaN per user"
        )
    return float(np.nanmean(values))
