"""Synthetic ratings with a planted biased matrix-factorization model.

Which cells are observed follows two skews seen in real rating data: item popularity is
Zipf-like and user activity lognormal.  Cells are drawn one after another without
replacement, each with probability proportional to ``activity[u] * popularity[i]`` among
the cells not drawn yet, after first giving every user and every item one cell (so ids
``0..n-1`` all appear and row ``u`` of the truth is user ``u``).  Values come from
``mu + b_u + b_i + p_u . q_i + noise``.

From 2**25 ratings on (beyond the dense sampler's table) the table is drawn a block of
users at a time straight into its CSR, about 8 bytes per rating at the peak (10**8
ratings in 1.3 GB): each user's number of cells first (a seed cell plus a multinomial
share by activity), then that many distinct items by popularity.  Per user that is the
sequential draw's distribution; across users the counts follow activity directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .interactions import Interactions
from .report import LoadReport
from .vocabulary import Vocabulary

__all__ = ["synthetic"]

#: Exponent of the Zipf-like popularity: the item of rank r gets weight r ** -ZIPF_EXPONENT.
ZIPF_EXPONENT = 1.0
#: Sigma of the lognormal user activity.
ACTIVITY_SIGMA = 1.0
EXPLICIT_MEAN = 3.6
IMPLICIT_MEAN = 0.0
USER_BIAS_STD = 0.35
ITEM_BIAS_STD = 0.45
#: Standard deviation of p_u . q_i; factors are drawn so that it comes out at this.
INTERACTION_STD = 0.8
# Giving every cell a random key costs ~8 bytes and a few tens of ns per cell; drawing
# pairs and discarding repeats costs several times more per rating and wastes more draws
# the denser the table.  Keys win up to about 8 cells per rating, within a memory cap.
_DENSE_CELLS_PER_RATING = 8
_DENSE_MAX_CELLS = 1 << 26
_DENSE_CELLS = 1 << 20
_CHUNK = 1 << 20
# From this many ratings on (and beyond the dense sampler's table), cells are drawn a
# block of users at a time straight into the CSR (see _synthetic_blocked): the stream
# sampler's sorts of all cells would cost ~50 bytes per rating.
_BLOCKED_RATINGS = 1 << 25


def synthetic(
    n_users: int = 1000,
    n_items: int = 500,
    n_ratings: int = 20000,
    *,
    n_factors: int = 8,
    implicit: bool = False,
    noise: float = 0.5,
    random_state=None,
    return_truth: bool = False,
):
    """Random interactions from a known model, for tests, demos and benchmarks.

    Exactly ``n_ratings`` distinct (user, item) cells are observed; every user ``0..n_users-1``
    and item ``0..n_items-1`` has at least one, so ``data.users.ids`` is ``arange(n_users)``
    and index ``u`` of each truth array belongs to user ``u`` (likewise items).

    Explicit (default): ``rating = clip(round(mu + b_u + b_i + p_u . q_i + e), 1, 5)`` with
    ``e ~ N(0, noise**2)``, rating scale (1, 5).  Implicit: counts
    ``1 + Poisson(exp(mu + b_u + b_i + p_u . q_i + e))`` (log-rate clipped at 8), no rating
    scale, ``data.implicit`` is true.

    Args:
        n_users, n_items: size of the table.
        n_ratings: observed cells, between ``max(n_users, n_items)`` and ``n_users * n_items``.
        n_factors: rank ``k`` of the planted ``P`` (users x k) and ``Q`` (items x k).
        implicit: make positive counts instead of 1-5 stars.
        noise: standard deviation of the noise added before rounding.
        random_state: seed, ``numpy.random.Generator`` or ``None``.
        return_truth: also return the planted model as a dict with ``mu``, ``user_bias``,
            ``item_bias``, ``P``, ``Q`` and the sampling weights ``user_activity`` and
            ``item_popularity`` (each summing to 1).

    Returns:
        ``Interactions``, or ``(Interactions, truth)`` when ``return_truth`` is true.

    Example:
        >>> data, truth = synthetic(200, 50, 3000, n_factors=4, random_state=0,
        ...                         return_truth=True)
        >>> data.shape, data.nnz, truth["P"].shape
        ((200, 50), 3000, (200, 4))
        >>> sorted(set(data.ratings.tolist())) == [1.0, 2.0, 3.0, 4.0, 5.0]
        True
    """
    n_users, n_items, n_ratings, n_factors = _check_args(
        n_users, n_items, n_ratings, n_factors, noise
    )
    rng = np.random.default_rng(random_state)

    popularity = np.arange(1, n_items + 1, dtype=np.float64) ** -ZIPF_EXPONENT
    # Shuffled so that item id says nothing about popularity, as in real catalogues.
    popularity = rng.permutation(popularity)
    popularity /= popularity.sum()
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, size=n_users)
    activity /= activity.sum()

    mu = IMPLICIT_MEAN if implicit else EXPLICIT_MEAN
    user_bias = rng.normal(0.0, USER_BIAS_STD, size=n_users)
    item_bias = rng.normal(0.0, ITEM_BIAS_STD, size=n_items)
    # Var(p . q) = k * s**4 for independent N(0, s**2) entries.
    scale = (INTERACTION_STD**2 / n_factors) ** 0.25 if n_factors else 0.0
    P = rng.normal(0.0, scale, size=(n_users, n_factors))
    Q = rng.normal(0.0, scale, size=(n_items, n_factors))

    if n_ratings >= _BLOCKED_RATINGS and n_users * n_items > _DENSE_MAX_CELLS:
        data = _synthetic_blocked(
            rng, activity, popularity, n_ratings, implicit, noise,
            (mu, user_bias, item_bias, P.astype(np.float32), Q.astype(np.float32)),
        )  # fmt: skip
    else:
        data = _synthetic_frame(
            rng, activity, popularity, n_ratings, implicit, noise,
            (mu, user_bias, item_bias, P.astype(np.float32), Q.astype(np.float32)),
        )  # fmt: skip
    if not return_truth:
        return data
    truth = {
        "mu": float(mu),
        "user_bias": user_bias,
        "item_bias": item_bias,
        "P": P,
        "Q": Q,
        "user_activity": activity,
        "item_popularity": popularity,
    }
    return data, truth


def _values(rng, u, i, model, noise, implicit) -> np.ndarray:
    mu, user_bias, item_bias, P32, Q32 = model
    score = mu + user_bias[u] + item_bias[i]
    score += np.einsum("ij,ij->i", P32[u], Q32[i], dtype=np.float64)
    score += rng.normal(0.0, noise, size=u.size) if noise > 0 else 0.0
    if implicit:
        return (1 + rng.poisson(np.exp(np.minimum(score, 8.0)))).astype(np.float32)
    return np.clip(np.rint(score), 1, 5).astype(np.float32)


def _synthetic_frame(rng, activity, popularity, n_ratings, implicit, noise, model):
    n_items = popularity.size
    cells = _sample_cells(rng, activity, popularity, n_ratings)
    users = (cells // n_items).astype(np.int32)
    items = (cells % n_items).astype(np.int32)
    del cells

    values = np.empty(n_ratings, dtype=np.float32)
    for start in range(0, n_ratings, _CHUNK):
        u = users[start : start + _CHUNK]
        i = items[start : start + _CHUNK]
        values[start : start + u.size] = _values(rng, u, i, model, noise, implicit)

    frame = pd.DataFrame({"user_id": users, "item_id": items, "rating": values})
    return Interactions.from_frame(
        frame,
        duplicates="error",
        rating_scale=None if implicit else (1.0, 5.0),
        implicit=implicit,
    )


def _synthetic_blocked(rng, activity, popularity, n_ratings, implicit, noise, model):
    """The CSR filled a block of users at a time: about 8 bytes per rating at the peak.

    Each user's number of cells is fixed first (one seed cell, plus a multinomial share
    of the rest by activity, at most ``n_items``); then each user's cells are a draw
    without replacement proportional to popularity, seeds first.  Per user this is the
    distribution of the sequential sampler; across users, counts follow activity
    exactly in expectation rather than through the shrinking pool of undrawn cells.
    """
    n_users, n_items = activity.size, popularity.size
    seeds = np.sort(_seed_cells(rng, activity, popularity, n_ratings))
    seed_users = (seeds // n_items).astype(np.int64)
    counts = np.bincount(seed_users, minlength=n_users)
    counts += rng.multinomial(n_ratings - seeds.size, activity)
    while True:  # a user cannot have more cells than there are items: hand the excess on
        excess = int(np.maximum(counts - n_items, 0).sum())
        if not excess:
            break
        np.minimum(counts, n_items, out=counts)
        room = (counts < n_items) * activity
        counts += rng.multinomial(excess, room / room.sum())
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(n_ratings, dtype=np.int32)
    values = np.empty(n_ratings, dtype=np.float32)
    cdf = np.cumsum(popularity)
    cdf /= cdf[-1]
    seed_ptr = np.searchsorted(seed_users, np.arange(n_users + 1))
    a = 0
    while a < n_users:
        b = int(np.searchsorted(indptr, indptr[a] + _CHUNK, side="right"))
        b = min(max(b, a + 1), n_users)
        block = _block_items(rng, counts[a:b], seeds[seed_ptr[a] : seed_ptr[b]] - a * n_items,
                             popularity, cdf)  # fmt: skip
        lo, hi = indptr[a], indptr[b]
        indices[lo:hi] = block
        u = np.repeat(np.arange(a, b, dtype=np.int64), counts[a:b])
        values[lo:hi] = _values(rng, u, block, model, noise, implicit)
        a = b
    matrix = sp.csr_matrix((values, indices, indptr), shape=(n_users, n_items))
    matrix.has_canonical_format = True
    report = LoadReport("synthetic", "cell", rows_read=n_ratings, loaded=n_ratings)
    return Interactions(
        Vocabulary(np.arange(n_users), "user"),
        Vocabulary(np.arange(n_items), "item"),
        matrix,
        rating_scale=None if implicit else (1.0, 5.0),
        implicit=implicit,
        load_report=report,
    )


def _block_items(rng, need, seeds, popularity, cdf) -> np.ndarray:
    """Sorted item columns of a block of users: ``need[u]`` distinct items each."""
    n_items = popularity.size
    n = need.size
    out_rows, out_cells = [], []
    pending = np.arange(n)
    factor = 1.3
    while pending.size:
        want = need[pending]
        draws = np.ceil(want * factor).astype(np.int64) + 8
        local = np.repeat(pending, draws)
        cells = local * n_items + np.minimum(
            np.searchsorted(cdf, rng.random(local.size), side="right"), n_items - 1
        )
        mine = np.isin(seeds // n_items, pending)
        stream = np.concatenate([seeds[mine], cells])  # seeds first: always kept
        codes, first = np.unique(stream, return_index=True)
        codes = codes[np.argsort(first, kind="stable")]  # in draw order
        codes = codes[np.argsort(codes // n_items, kind="stable")]  # grouped by user
        users = codes // n_items
        starts = np.searchsorted(users, pending)
        rank = np.arange(codes.size) - starts[np.searchsorted(pending, users)]
        got = np.bincount(np.searchsorted(pending, users), minlength=pending.size)
        done = got >= want
        keep = done[np.searchsorted(pending, users)] & (
            rank < want[np.searchsorted(pending, users)]
        )
        out_cells.append(codes[keep])
        out_rows.append(users[keep])
        pending = pending[~done]
        factor *= 3
        if factor > 50 and pending.size:
            # Users asking for most of the catalogue: Gumbel top-k over all items.
            for u in pending:
                keys = np.log(popularity) + rng.gumbel(size=n_items)
                keys[seeds[seeds // n_items == u] % n_items] = np.inf
                top = np.argpartition(-keys, need[u] - 1)[: need[u]]
                out_cells.append(u * n_items + top)
            break
    cells = np.sort(np.concatenate(out_cells))
    return (cells % n_items).astype(np.int32)


def _check_args(n_users, n_items, n_ratings, n_factors, noise):
    checked = []
    for name, value, low in (
        ("n_users", n_users, 1),
        ("n_items", n_items, 1),
        ("n_ratings", n_ratings, 1),
        ("n_factors", n_factors, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")
        checked.append(int(value))
    n_users, n_items, n_ratings, n_factors = checked
    if n_ratings > n_users * n_items:
        raise ValueError(
            f"n_ratings={n_ratings} exceeds the {n_users} x {n_items} = {n_users * n_items} "
            f"cells of the table"
        )
    if n_ratings < max(n_users, n_items):
        raise ValueError(
            f"n_ratings={n_ratings} is too few to give each of the {n_users} users and "
            f"{n_items} items a rating; use at least {max(n_users, n_items)}"
        )
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    return n_users, n_items, n_ratings, n_factors


def _sample_cells(rng, activity, popularity, n_ratings) -> np.ndarray:
    """Sorted flat cell codes ``u * n_items + i`` of ``n_ratings`` distinct cells."""
    n_users, n_items = activity.size, popularity.size
    seeds = _seed_cells(rng, activity, popularity, n_ratings)
    n_cells = n_users * n_items
    dense_pays = n_cells <= _DENSE_CELLS_PER_RATING * n_ratings and n_cells <= _DENSE_MAX_CELLS
    if n_cells <= _DENSE_CELLS or dense_pays:
        return _sample_dense(rng, activity, popularity, n_ratings, seeds)
    return _sample_stream(rng, activity, popularity, n_ratings, seeds)


def _seed_cells(rng, activity, popularity, n_ratings) -> np.ndarray:
    """Cell codes covering every user and item once, the fewest that can."""
    n_users, n_items = activity.size, popularity.size
    # One cell per user, then one for each item still without one: ids stay contiguous.
    first_items = rng.choice(n_items, size=n_users, p=popularity)
    lonely = np.setdiff1d(np.arange(n_items), first_items)
    seed_users = np.concatenate([np.arange(n_users), rng.choice(n_users, lonely.size, p=activity)])
    seed_items = np.concatenate([first_items, lonely])
    if seed_users.size > n_ratings:
        # Too few ratings for that: cover with the fewest cells, max(n_users, n_items),
        # pairing a permutation of the shorter side with the longer side.
        if n_users >= n_items:
            seed_users = rng.permutation(n_users)
            seed_items = np.concatenate(
                [rng.permutation(n_items), rng.choice(n_items, n_users - n_items, p=popularity)]
            )
        else:
            seed_items = rng.permutation(n_items)
            seed_users = np.concatenate(
                [rng.permutation(n_users), rng.choice(n_users, n_items - n_users, p=activity)]
            )
    return seed_users.astype(np.int64) * n_items + seed_items


def _sample_dense(rng, activity, popularity, n_ratings, seeds) -> np.ndarray:
    # Gumbel-top-k: the n largest of log(weight) + Gumbel noise are a draw without
    # replacement proportional to weight.
    n_users, n_items = activity.size, popularity.size
    # float32 halves the memory; a tie at the cut-off is broken by position below.
    keys = np.empty(n_users * n_items, dtype=np.float32)
    log_pop = np.log(popularity)
    rows = max(1, _CHUNK // n_items)
    for start in range(0, n_users, rows):
        stop = min(n_users, start + rows)
        block = rng.gumbel(size=(stop - start, n_items))
        block += np.log(activity[start:stop])[:, None]
        block += log_pop[None, :]
        keys[start * n_items : stop * n_items] = block.ravel()
    keys[seeds] = np.inf
    cut = keys.size - n_ratings
    threshold = np.partition(keys, cut)[cut]
    chosen = np.flatnonzero(keys > threshold)
    tied = np.flatnonzero(keys == threshold)[: n_ratings - chosen.size]
    return np.sort(np.concatenate([chosen, tied]))


def _sample_stream(rng, activity, popularity, n_ratings, seeds) -> np.ndarray:
    # Drawing cells with replacement and keeping each cell's first appearance is the
    # same as drawing without replacement; the seeds come first in the stream.  Each
    # round keeps the new cells in draw order, so the first n_ratings kept are the answer.
    n_items = popularity.size
    kept = [seeds]
    taken = np.sort(seeds)
    n_kept = seeds.size
    hit_rate = 0.9
    for _ in range(200):
        deficit = n_ratings - n_kept
        size = int(min(deficit / hit_rate * 1.02 + 1024, 4 * n_ratings))
        # Multinomial counts in shuffled order are i.i.d. draws, several times faster
        # than choice() over many users.
        drawn = np.repeat(
            np.arange(activity.size, dtype=np.int64) * n_items, rng.multinomial(size, activity)
        )
        rng.shuffle(drawn)
        drawn += rng.choice(n_items, size, p=popularity)
        codes, first = np.unique(drawn, return_index=True)
        pos = np.searchsorted(taken, codes)
        pos[pos == taken.size] = 0
        new = taken[pos] != codes
        fresh = drawn[np.sort(first[new])]
        hit_rate = max(fresh.size / size, 1e-3)
        kept.append(fresh[:deficit])
        n_kept += min(fresh.size, deficit)
        if n_kept >= n_ratings:
            return np.sort(np.concatenate(kept))
        taken = np.sort(np.concatenate([taken, fresh]))
    raise RuntimeError(  # pragma: no cover - the dense path takes over long before this
        f"could not draw {n_ratings} distinct cells; lower n_ratings"
    )
