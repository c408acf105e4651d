"""A determinantal point process re-ranker, by fast greedy MAP inference (an experiment).

Chen, Zhang and Zhou, "Fast Greedy MAP Inference for Determinantal Point Process to
Improve Recommendation Diversity" (NeurIPS 2018): the kernel is
``L = diag(r) S diag(r)`` with ``S`` the candidates' cosine similarity and
``r = exp(alpha * relevance)``, ``alpha = theta / (2 * (1 - theta))``, so that
``log det L_Y = theta / (1 - theta) * sum of relevance over Y + log det S_Y``: ``theta``
trades relevance against the volume the chosen items span.  The greedy step adds the
item that most increases ``log det L_Y``, found by the paper's incremental Cholesky
update in O(n^2 M) for ``n`` picks among ``M`` candidates.

Lives beside the benchmarks, not in the library, until it earns its place there
(``dpp_frontier.py`` measures whether it does).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["dpp_greedy"]

# A residual below this (of a unit diagonal) means the item lies in the span of those
# already chosen: det S_{Y+i} is zero up to rounding.
SINGULAR = 1e-9
_TIE = 1e-12
RELEVANCE = ("minmax", "rank")


def dpp_greedy(
    candidates,
    scores,
    item_vectors,
    n: int,
    theta: float,
    relevance: str = "minmax",
    pool: int | None = None,
) -> np.ndarray:
    """Up to ``n`` of ``candidates`` (item indices) chosen by greedy DPP MAP, in rank order.

    ``scores`` (any scale, higher is better) become relevance in ``[0, 1]`` as in
    :func:`latentrec.pipeline.mmr`: ``"minmax"`` rescales them, ``"rank"`` spaces them
    evenly by rank.  ``pool`` keeps the best ``max(pool, n)`` candidates by score first
    (``None``: all).  ``item_vectors`` is indexed by item; the similarity is the cosine of
    their vectors, and an item with a zero vector counts as unlike every item (its own
    direction).  ``theta`` in ``[0, 1]``: ``1`` is pure relevance (the top ``n`` by score,
    stable order), lower values weigh the spanned volume more.

    The greedy step maximises ``log det L_{Y+i}``, which equals
    ``2 * alpha * relevance_i + log d_i^2`` plus a constant, ``d_i^2`` being item ``i``'s
    squared Cholesky residual against the chosen items in ``S``; the update runs on ``S``
    (unit diagonal), so a large ``alpha`` cannot overflow.  Near-ties (within 1e-12,
    relative) go to the higher raw score, then the earlier candidate.

    When the kernel becomes singular (every item left has a residual below 1e-9: it lies
    in the span of those chosen, e.g. more picks than the vectors have dimensions) the
    greedy step stops and the rest of the list is filled with the next best by score.
    The result never holds an item twice nor more than ``n`` items.

    Example:
        >>> import numpy as np
        >>> vectors = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]])
        >>> dpp_greedy([0, 1, 2], [1.0, 0.9, 0.5], vectors, n=2, theta=1.0).tolist()
        [0, 1]
        >>> dpp_greedy([0, 1, 2], [1.0, 0.9, 0.5], vectors, n=2, theta=0.5).tolist()
        [0, 2]
        >>> # two dimensions span at most two items: the third comes by score
        >>> dpp_greedy([0, 1, 2], [1.0, 0.9, 0.5], vectors, n=3, theta=0.5).tolist()
        [0, 2, 1]
    """
    if isinstance(theta, bool) or not isinstance(theta, numbers.Real) or not 0 <= theta <= 1:
        raise ValueError(f"theta must be a number in [0, 1], got {theta!r}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    vectors = np.asarray(item_vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"item_vectors must be items x dimensions, got shape {vectors.shape}")
    cands, raw = _checked(candidates, scores, vectors.shape[0])
    cands, raw = _top_pool(cands, raw, pool, n)
    rel = _relevance(raw, relevance)
    n = min(int(n), cands.size)
    by_score = np.argsort(-raw, kind="stable")
    if theta == 1:
        return cands[by_score[:n]]

    unit = vectors[cands]
    norms = np.linalg.norm(unit, axis=1)
    unit = unit / np.where(norms > 0, norms, 1.0)[:, None]
    gain = (theta / (1.0 - theta)) * rel  # 2 * alpha * relevance
    residual = np.ones(cands.size)  # d_i^2: S has a unit diagonal
    chol = np.zeros((n, cands.size))  # row t: the t-th Cholesky coefficient of each item
    free = np.ones(cands.size, dtype=bool)
    chosen = []
    while len(chosen) < n:
        ok = free & (residual > SINGULAR)
        if not ok.any():
            break  # singular: no item left adds volume
        with np.errstate(divide="ignore"):
            objective = np.where(ok, gain + np.log(np.where(ok, residual, 1.0)), -np.inf)
        pick = _best(objective, raw, ok)
        t = len(chosen)
        chosen.append(pick)
        free[pick] = False
        # e_i = (S_ji - <c_j, c_i>) / d_j, then d_i^2 -= e_i^2 (Chen et al., Algorithm 1)
        row = unit @ unit[pick]
        row[pick] = 1.0  # a zero vector's own similarity is 1 too
        e = (row - chol[:t, pick] @ chol[:t]) / np.sqrt(residual[pick])
        chol[t] = e
        residual = residual - e**2
    picked = np.array(chosen, dtype=np.int64)
    if picked.size < n:
        rest = by_score[free[by_score]]
        picked = np.concatenate([picked, rest[: n - picked.size]])
    return cands[picked]


# The helpers below repeat pipeline.rerank's private ones (candidate checks, pool cut,
# relevance, tie rule) on purpose: benchmarks use the public API only
# (tests/test_architecture.py), and the experiment must differ from MMR in its objective
# only. Promoting DPP into the library would share them.
def _best(objective: np.ndarray, raw: np.ndarray, free: np.ndarray) -> int:
    """The free position with the best objective; near-ties to the higher raw score,
    then the earlier position (as the library's re-rankers break them)."""
    values = np.where(free, objective, -np.inf)
    top = values.max()
    tied = np.flatnonzero(free & (values >= top - _TIE * max(1.0, abs(top))))
    return int(tied[np.argmax(raw[tied])])


def _relevance(raw: np.ndarray, how: str) -> np.ndarray:
    """Relevance in [0, 1]: min-max rescaled, or evenly spaced by (stable) rank, ties
    taking the rank of their first position."""
    if how == "minmax":
        low, high = raw.min(), raw.max()
        return np.zeros_like(raw) if high == low else (raw - low) / (high - low)
    if how != "rank":
        raise ValueError(f"relevance must be one of {RELEVANCE}, got {how!r}")
    if raw.size == 1:
        return np.ones(1)
    order = np.argsort(-raw, kind="stable")
    ranked = raw[order]
    first = np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1]
    rank = np.empty(raw.size)
    rank[order] = first[np.searchsorted(first, np.arange(raw.size), side="right") - 1]
    return 1.0 - rank / (raw.size - 1)


def _top_pool(cands: np.ndarray, raw: np.ndarray, pool, n: int):
    """The best ``max(pool, n)`` candidates by score (stable), in their given order."""
    if pool is None:
        return cands, raw
    if isinstance(pool, bool) or not isinstance(pool, numbers.Integral) or pool < 1:
        raise ValueError(f"pool must be a positive integer or None, got {pool!r}")
    keep = np.sort(np.argsort(-raw, kind="stable")[: max(int(pool), n)])
    return cands[keep], raw[keep]


def _checked(candidates, scores, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    cands = np.asarray(candidates)
    raw = np.asarray(scores, dtype=np.float64)
    if cands.ndim != 1 or cands.size == 0 or cands.dtype.kind not in "iu":
        raise ValueError(
            f"candidates must be a non-empty 1-D array of integer item indices, got shape "
            f"{cands.shape} and dtype {cands.dtype}"
        )
    cands = cands.astype(np.int64)
    if raw.shape != cands.shape:
        raise ValueError(f"scores has shape {raw.shape} but candidates has shape {cands.shape}")
    if ((cands < 0) | (cands >= n_items)).any():
        raise ValueError(f"candidates hold an index outside [0, {n_items}) of item_vectors")
    if not np.isfinite(raw).all():
        raise ValueError("scores must all be finite numbers")
    if np.unique(cands).size != cands.size:
        raise ValueError("candidates lists an item more than once")
    return cands, raw
