"""Re-rankers as plain functions over one user's candidates: MMR, calibration, freshness,
exploration slots.

Each takes one user's ``candidates`` (distinct item indices) with their ``scores`` (any
scale, higher is better) and returns up to ``n`` of those item indices, chosen greedily,
in rank order. Scores are first rescaled to ``[0, 1]`` over the candidates (min-max; all
equal scores become 0), so the trade-off knob means the same for any model's score
scale.

At each step the candidate with the highest objective is taken. Objectives within
``1e-12`` (relative) of the best count as tied, so rounding does not decide; a tie goes
to the higher raw score, then to the earlier candidate. With the knob at pure relevance
the result is therefore the top ``n`` by score, in the order of a stable sort.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..evaluation.beyond import check_item_genres, check_item_vectors, item_genre_shares
from ..evaluation.metrics import check_count
from .params import check_share

__all__ = ["calibrate", "explore", "freshness", "mmr"]

_TIE = 1e-12


def mmr(
    candidates,
    scores,
    item_vectors,
    n: int,
    lambda_: float,
    *,
    relevance: str = "minmax",
    pool: int | None = None,
    center: bool = False,
) -> np.ndarray:
    """Maximal marginal relevance in the latent space (Carbonell and Goldstein, 1998).

    Each step takes the candidate maximising
    ``lambda_ * relevance - (1 - lambda_) * max cos(v, v_chosen)``, the cosine
    similarity to the closest item already chosen (0 for the first pick).
    ``lambda_ = 1`` is pure relevance (the top ``n`` by score); lower values trade
    relevance for items unlike those already listed. An item with a zero vector has
    no direction and counts as unlike every item.

    ``item_vectors`` is indexed by item (e.g. a model's ``item_factors_``).
    ``relevance`` says how scores become relevance in ``[0, 1]``: ``"minmax"`` (the
    scores rescaled) or ``"rank"`` (``1 - rank / (m - 1)`` over the ``m`` candidates,
    evenly spaced whatever the scores' spread, so a few outlying scores cannot make the
    similarity term negligible). ``pool`` keeps only the best ``max(pool, n)`` candidates
    by score before anything else (``None``: all of them). ``center=True`` subtracts the
    mean of all ``item_vectors`` before the cosine, so that a direction every item shares
    (in a factor model's space, popular items point much the same way) does not make
    every candidate look alike to the similarity term.

    Example:
        >>> import numpy as np
        >>> vectors = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]])
        >>> mmr([0, 1, 2], [1.0, 0.9, 0.5], vectors, n=2, lambda_=1.0).tolist()
        [0, 1]
        >>> mmr([0, 1, 2], [1.0, 0.9, 0.5], vectors, n=2, lambda_=0.5).tolist()
        [0, 2]
        >>> mmr([0, 1, 2], [1.0, 0.9, 0.5], vectors, n=2, lambda_=0.5, pool=2).tolist()
        [0, 1]
    """
    lambda_ = check_share(lambda_, "lambda_")
    vectors = check_item_vectors(item_vectors)
    cands, raw = _check_candidates(candidates, scores, vectors.shape[0])
    n = check_count(n, "n")
    cands, raw = _top_pool(cands, raw, pool, n)
    relevance = _relevance(raw, relevance)
    unit = vectors[cands] - vectors.mean(axis=0) if center else vectors[cands]
    norms = np.linalg.norm(unit, axis=1)
    unit = unit / np.where(norms > 0, norms, 1.0)[:, None]

    closest = np.zeros(cands.size)  # similarity to the nearest chosen item so far
    free = np.ones(cands.size, dtype=bool)
    chosen = []
    for step in range(min(n, cands.size)):
        objective = lambda_ * relevance - (1.0 - lambda_) * closest
        pick = _best(objective, raw, free)
        chosen.append(pick)
        free[pick] = False
        similarity = unit @ unit[pick]
        closest = similarity if step == 0 else np.maximum(closest, similarity)
    return cands[np.array(chosen, dtype=np.int64)]


def calibrate(
    candidates,
    scores,
    history_genre_dist,
    item_genres,
    n: int,
    weight: float,
    *,
    alpha: float = 0.01,
    relevance: str = "minmax",
) -> np.ndarray:
    """Steck's calibrated recommendations (RecSys 2018), by his greedy algorithm.

    Each step adds the candidate that maximises, for the list ``S`` so far plus it,
    ``(1 - weight) * sum of relevance over S - weight * KL(p || q~(S))``: ``p`` is the
    user's genre distribution (``history_genre_dist``, normalised to sum to 1), ``q(S)``
    the list's, each item's genre weights in ``item_genres`` (items x genres, dense or
    ``scipy.sparse``) normalised to sum to 1 per item, items weighted equally, and
    ``q~ = (1 - alpha) q + alpha p``. This is the divergence that
    :func:`latentrec.evaluation.miscalibration` reports. ``weight = 0`` is pure relevance
    (the top ``n`` by score). A user with no genre history has nothing to be calibrated
    to, so their list is the top ``n`` by score as well. ``relevance`` turns scores into
    relevance in ``[0, 1]`` as in :func:`mmr` (``"minmax"`` or ``"rank"``).

    Example:
        >>> import numpy as np
        >>> genres = np.array([[1, 0], [1, 0], [0, 1]])
        >>> taste = [0.5, 0.5]  # half genre 0, half genre 1
        >>> calibrate([0, 1, 2], [1.0, 0.9, 0.1], taste, genres, n=2, weight=0.0).tolist()
        [0, 1]
        >>> calibrate([0, 1, 2], [1.0, 0.9, 0.1], taste, genres, n=2, weight=0.5).tolist()
        [0, 2]
    """
    weight = check_share(weight, "weight")
    alpha = check_share(alpha, "alpha")
    if alpha == 0:
        raise ValueError("alpha must be above 0: without smoothing the divergence can be infinite")
    genres = check_item_genres(item_genres)
    cands, raw = _check_candidates(candidates, scores, genres.shape[0])
    n = check_count(n, "n")
    p = _check_taste(history_genre_dist, genres.shape[1])
    if p is None:
        weight = 0.0
        p = np.zeros(genres.shape[1])
    relevance = _relevance(raw, relevance)
    share = item_genre_shares(genres[cands]).toarray()  # rows scale alone: only these

    mass = np.zeros(genres.shape[1])  # the chosen items' summed genre shares
    gained = 0.0  # their summed relevance
    free = np.ones(cands.size, dtype=bool)
    chosen = []
    for _ in range(min(n, cands.size)):
        if weight == 0:
            objective = relevance
        else:
            trial = mass + share
            total = trial.sum(axis=1, keepdims=True)
            q = np.divide(trial, total, out=np.zeros_like(trial), where=total > 0)
            smoothed = (1.0 - alpha) * q + alpha * p
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(p > 0, p * np.log(p / smoothed), 0.0)
            objective = (1.0 - weight) * (gained + relevance) - weight * terms.sum(axis=1)
        pick = _best(objective, raw, free)
        chosen.append(pick)
        free[pick] = False
        mass = mass + share[pick]
        gained += relevance[pick]
    return cands[np.array(chosen, dtype=np.int64)]


def freshness(
    candidates, scores, item_age, n: int, weight: float, *, half_life: float = 30.0
) -> np.ndarray:
    """Boost by item age: the top ``n`` by ``relevance + weight * 0.5 ** (age / half_life)``.

    ``item_age`` is indexed by item (e.g. days since the item's first interaction); NaN
    means unknown and gets no boost. A brand-new item (age 0) gains ``weight``, one
    ``half_life`` old half of it. ``weight = 0`` is pure relevance (the top ``n`` by score).

    Example:
        >>> import numpy as np
        >>> age = np.array([400.0, 2.0, np.nan])
        >>> freshness([0, 1, 2], [1.0, 0.8, 0.9], age, n=2, weight=0.0).tolist()
        [0, 2]
        >>> freshness([0, 1, 2], [1.0, 0.8, 0.9], age, n=2, weight=1.0).tolist()
        [0, 1]
    """
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not weight >= 0:
        raise ValueError(f"weight must be a non-negative number, got {weight!r}")
    if isinstance(half_life, bool) or not isinstance(half_life, numbers.Real) or not half_life > 0:
        raise ValueError(f"half_life must be a positive number, got {half_life!r}")
    age = np.asarray(item_age, dtype=np.float64)
    if age.ndim != 1:
        raise ValueError(
            f"item_age must be a 1-D array (one value per item), got {age.ndim} dimensions"
        )
    bad = (age < 0) | np.isinf(age)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"item_age[{i}] = {float(age[i])}: an age is finite and non-negative")
    cands, raw = _check_candidates(candidates, scores, age.size)
    n = check_count(n, "n")
    mine = age[cands]
    boost = np.where(np.isnan(mine), 0.0, np.exp2(-np.nan_to_num(mine) / float(half_life)))
    objective = _rescaled(raw) + float(weight) * boost
    return cands[_greedy_static(objective, raw, n)]


def explore(
    candidates, scores, new_items, n: int, share: float, *, new_scores=None, rng=None
) -> np.ndarray:
    """Exploration slots: the last ``round(share * n)`` places go to new items.

    The first ``n - s`` places hold the top candidates by score; the ``s`` slots after
    them hold items of ``new_items`` not already listed: the best by ``new_scores``
    (aligned with ``new_items``; NaN last, ties to the earlier item) or, with ``rng`` (a
    ``numpy.random.Generator``), a uniformly random choice, which spreads exposure
    across all new items. When there are fewer new items than slots, the next
    candidates by score fill the rest. ``share = 0`` is pure relevance.

    Example:
        >>> explore([0, 1, 2, 3], [4.0, 3.0, 2.0, 1.0], [7, 8], n=4, share=0.5).tolist()
        [0, 1, 7, 8]
        >>> explore([0, 1, 2, 3], [4.0, 3.0, 2.0, 1.0], [1], n=3, share=0.5).tolist()
        [0, 1, 2]
    """
    share = check_share(share, "share")
    n = check_count(n, "n")
    cands = np.asarray(candidates)
    new = np.asarray(new_items)
    if new.ndim != 1 or (new.size and new.dtype.kind not in "iu"):
        raise ValueError(
            f"new_items must be a 1-D array of integer item indices, got shape {new.shape}"
        )
    new = new.astype(np.int64)
    if new.size and new.min() < 0:
        raise ValueError(f"new_items holds {int(new.min())}, which is not an item index")
    if new_scores is None:
        wanted = np.zeros(new.size)
    else:
        wanted = np.asarray(new_scores, dtype=np.float64)
        if wanted.shape != new.shape:
            raise ValueError(f"new_scores has shape {wanted.shape} but new_items has {new.shape}")
    upper = int(max(cands.max(initial=-1), new.max(initial=-1))) + 1
    cands, raw = _check_candidates(cands, scores, upper)
    by_score = cands[np.argsort(-raw, kind="stable")]
    slots = int(np.floor(share * n + 0.5))
    head = by_score[: n - slots]
    listed = set(head.tolist())
    if rng is not None:
        order = rng.permutation(new.size)
    else:
        order = np.lexsort((np.arange(new.size), -np.nan_to_num(wanted, nan=-np.inf)))
        order = order[np.argsort(np.isnan(wanted[order]), kind="stable")]
    picks = []
    for i in new[order].tolist():
        if len(picks) == slots:
            break
        if i not in listed:
            listed.add(i)
            picks.append(i)
    rest = [i for i in by_score[n - slots :].tolist() if i not in listed]
    picks.extend(rest[: slots - len(picks)])
    return np.concatenate([head, np.array(picks, dtype=np.int64)])


# ---------------------------------------------------------------------- helpers
def _best(objective: np.ndarray, raw: np.ndarray, free: np.ndarray) -> int:
    """The free position with the best objective; near-ties go to the higher raw score,
    then to the earlier position."""
    values = np.where(free, objective, -np.inf)
    top = values.max()
    tied = np.flatnonzero(free & (values >= top - _TIE * max(1.0, abs(top))))
    return int(tied[np.argmax(raw[tied])])  # argmax keeps the first of equal scores


def _greedy_static(objective: np.ndarray, raw: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` best by a fixed ``objective``, with :func:`_best`'s ties."""
    free = np.ones(objective.size, dtype=bool)
    chosen = []
    for _ in range(min(n, objective.size)):
        pick = _best(objective, raw, free)
        chosen.append(pick)
        free[pick] = False
    return np.array(chosen, dtype=np.int64)


def rescaled(raw: np.ndarray) -> np.ndarray:
    """``raw`` min-max scaled to ``[0, 1]``; all-equal values become 0.

    Example:
        >>> rescaled(np.array([2.0, 4.0, 3.0])).tolist()
        [0.0, 1.0, 0.5]
    """
    return _rescaled(np.asarray(raw, dtype=np.float64))


RELEVANCE = ("minmax", "rank")


def _relevance(raw: np.ndarray, how: str) -> np.ndarray:
    """Relevance in [0, 1] from raw scores: min-max rescaled, or evenly spaced by rank
    (ties take the rank of their first position, as in a stable sort)."""
    if how == "minmax":
        return _rescaled(raw)
    if how != "rank":
        raise ValueError(f"relevance must be one of {RELEVANCE}, got {how!r}")
    if raw.size == 1:
        return np.ones(1)
    order = np.argsort(-raw, kind="stable")
    sorted_raw = raw[order]
    first = np.r_[0, np.flatnonzero(sorted_raw[1:] != sorted_raw[:-1]) + 1]
    rank_sorted = first[np.searchsorted(first, np.arange(raw.size), side="right") - 1]
    rank = np.empty(raw.size)
    rank[order] = rank_sorted
    return 1.0 - rank / (raw.size - 1)


def _top_pool(cands: np.ndarray, raw: np.ndarray, pool, n: int):
    """The best ``max(pool, n)`` candidates by score (stable), or all with ``pool=None``."""
    if pool is None:
        return cands, raw
    if isinstance(pool, bool) or not isinstance(pool, numbers.Integral) or pool < 1:
        raise ValueError(f"pool must be a positive integer or None, got {pool!r}")
    keep = np.sort(np.argsort(-raw, kind="stable")[: max(int(pool), n)])
    return cands[keep], raw[keep]


def _rescaled(raw: np.ndarray) -> np.ndarray:
    low, high = raw.min(), raw.max()
    if high == low:
        return np.zeros_like(raw)
    return (raw - low) / (high - low)


def _check_candidates(candidates, scores, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    cands = np.asarray(candidates)
    raw = np.asarray(scores, dtype=np.float64)
    if cands.ndim != 1 or (cands.size and cands.dtype.kind not in "iu"):
        raise ValueError(
            f"candidates must be a 1-D array of integer item indices, got shape "
            f"{cands.shape} and dtype {cands.dtype}"
        )
    cands = cands.astype(np.int64)
    if raw.shape != cands.shape:
        raise ValueError(
            f"scores has shape {raw.shape} but candidates has shape {cands.shape}; "
            "score j belongs to candidate j"
        )
    if cands.size == 0:
        raise ValueError("candidates is empty: there is nothing to re-rank")
    bad = (cands < 0) | (cands >= n_items)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"candidates[{j}] = {cands[j]} is not an item index in [0, {n_items})")
    bad = ~np.isfinite(raw)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"scores[{j}] = {float(raw[j])} (candidate {cands[j]}) is not a finite number"
        )
    order = np.argsort(cands, kind="stable")
    repeated = np.flatnonzero(cands[order][1:] == cands[order][:-1])
    if repeated.size:
        raise ValueError(
            f"candidates lists item {cands[order][repeated[0]]} more than once; "
            "a list shows an item once"
        )
    return cands, raw


def _check_taste(history_genre_dist, n_genres: int) -> np.ndarray | None:
    """``p`` normalised to sum to 1, or None for a user without any genre history."""
    p = np.asarray(history_genre_dist, dtype=np.float64)
    if p.shape != (n_genres,):
        raise ValueError(
            f"history_genre_dist has shape {p.shape}; expected ({n_genres},), one weight "
            "per column of item_genres"
        )
    bad = ~np.isfinite(p) | (p < 0)
    if bad.any():
        g = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"history_genre_dist[{g}] = {float(p[g])}: genre weights must be finite and "
            "non-negative"
        )
    total = p.sum()
    return p / total if total > 0 else None
