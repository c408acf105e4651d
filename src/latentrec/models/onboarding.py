"""Onboarding: which few items to ask a new user about, and recommendations from the answers.

A new user has no history, so a factor model can only offer the popular items.  Asking
them to rate a handful of well-chosen items pins down their vector: :func:`onboarding_items`
picks the questions, :func:`onboard` folds the answers in (:meth:`FactorModel.fold_in`)
and ranks every item with the new vector.  ``benchmarks/onboarding_ml100k.py`` measures on
held-out users how much the answers help over the popularity list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.vocabulary import UnknownIdError
from ..errors import CannotRankError
from .base import check_n
from .foldin import FoldIn, answer_values, is_id_list, parse_ratings, refuse_same_id
from .results import Recommendations

__all__ = ["design_gain", "onboard", "onboarding_items"]

# Without min_ratings or candidates the questions come from this top share of the rated items.
POPULAR_SHARE = 0.15


def onboarding_items(
    model: FoldIn,
    k: int = 5,
    *,
    min_ratings: int | None = None,
    candidates=None,
    exclude=None,
    criterion: str = "variance",
) -> pd.DataFrame:
    """The ``k`` items to ask a new user to rate, in the order to ask them.

    Each rating a new user gives is one noisy equation ``r_j − μ − b_j ≈ x_jᵀ θ`` for
    their unknown ``θ = [p, b]`` (factors and bias), with ``x_j = [q_j, 1]`` (models
    without user biases use ``q_j`` alone).  With a Gaussian prior ``θ ~ N(0, I/λ₀)`` and
    unit noise, the answers to a set ``S`` leave ``θ`` with covariance ``A⁻¹``, ``A = λ₀I +
    Σ_{j∈S} x_j x_jᵀ``, and the score of item ``i`` with variance ``x_iᵀ A⁻¹ x_i``.

    Two things make a good question: people must be able to answer it (a person can rate
    only what they have seen) and its answer must settle what the recommendations depend
    on.  So the default ``criterion="variance"`` minimises the popularity-weighted mean
    variance of the item scores, ``U(S) = Σ_i π_i x_iᵀ A⁻¹ x_i / Σ_i π_i`` (a Bayesian
    I-/V-optimal design), where ``π_i`` is the share of training users who rated item ``i``
    and each question ``j`` enters with its *expected* information ``π_j x_j x_jᵀ``
    (answered with probability ``π_j``).  Greedily, one item at a time, it picks the
    largest drop ``π_j x_jᵀA⁻¹WA⁻¹x_j / (1 + π_j x_jᵀA⁻¹x_j)`` (``W = Σ_i π_i x_i x_iᵀ /
    Σ_i π_i``) and updates ``A⁻¹`` by Sherman-Morrison.  The result is popular items that
    cover different directions of the factor space: once a direction is pinned down,
    items along it gain little.  ``criterion="logdet"`` is the classical D-optimal design,
    maximising ``log det A`` (the same expected-information weighting, every direction
    counting equally); on MovieLens-100K it helps recommendations less (see
    ``benchmarks/onboarding_harness.py``).  ``λ₀`` is ``0.3 · tr W``, a weak prior on the scale of
    the item vectors (the results change little for 0.1-1).

    Candidates are the items with at least ``min_ratings`` training ratings; by default
    (no ``min_ratings`` and no ``candidates``) the top 15 % of rated items by popularity,
    which keeps obscure titles out even when their factors are unusual.  ``candidates``
    (raw ids) restricts the pool further and ``exclude`` (raw ids, e.g. questions asked
    before) removes items.  The result is deterministic; ties go to the lower item index.
    A model without factors or biases (``GlobalMean``) asks the most popular items.

    Ask the list in order and let the user skip what they have not seen; asking further
    down a longer list until ``k`` are answered pins the user down better still (see
    ``benchmarks/onboarding_harness.py``).  Re-choosing each next question after a skip, with the
    skipped item excluded, did worse on MovieLens-100K than the fixed list: a skip also
    says the user is unlikely to know the items like it, which the expected-information
    weighting of the fixed list already allows for.

    Returns:
        A DataFrame in asking order with columns ``item_id``, ``title`` (when the training
        data had titles), ``popularity`` (training ratings), ``answer_rate`` (π) and
        ``gain``: its improvement of the criterion when it was chosen, for ``"variance"``
        the share of the prior's weighted score variance it removes (the column sums to
        :func:`design_gain` of the chosen items).  Fewer than ``k`` rows when the pool is
        smaller.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import BiasedMF
        >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
        >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
        >>> model = model.fit(Interactions.from_dense(R))
        >>> questions = onboarding_items(model, k=2, min_ratings=1)
        >>> questions.columns.tolist()
        ['item_id', 'popularity', 'answer_rate', 'gain']
        >>> len(set(questions["item_id"]))
        2
    """
    _check_factor_model(model)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        # Named k, as the caller wrote it (check_n would say "n").
        raise ValueError(f"k (the number of questions) must be a positive integer, got {k!r}")
    _check_criterion(criterion)
    pop = np.asarray(model.item_popularity_, dtype=np.float64)
    rate = _answer_rate(model)
    pool = pop > 0
    if candidates is not None:
        pool[~np.isin(np.arange(pool.size), _indices(model, candidates, "candidates"))] = False
    if min_ratings is not None:
        if isinstance(min_ratings, bool) or not isinstance(min_ratings, (int, np.integer)):
            raise ValueError(f"min_ratings must be a non-negative integer, got {min_ratings!r}")
        if min_ratings < 0:
            raise ValueError(f"min_ratings must be a non-negative integer, got {min_ratings!r}")
        pool &= pop >= min_ratings
    elif candidates is None:
        pool &= pop >= _default_min_ratings(pop, k)
    pool[_indices(model, exclude, "exclude")] = False
    chosen, gains = _Design(model, rate, criterion).greedy(np.flatnonzero(pool), k)
    out = pd.DataFrame({"item_id": model.items_.ids[chosen]})
    if model.item_titles_ is not None:
        out["title"] = model.item_titles_[chosen]
    out["popularity"] = pop[chosen].astype(np.int64)
    out["answer_rate"] = rate[chosen]
    out["gain"] = gains
    return out


def design_gain(model: FoldIn, item_ids, *, criterion: str = "variance") -> float:
    """How much a set of questions is worth by the criterion of :func:`onboarding_items`.

    ``"variance"``: the share of the prior's popularity-weighted score variance that the
    expected answers remove, ``1 − U(S)/U(∅)``, between 0 and 1.  ``"logdet"``:
    ``log det A − log det(λ₀I)``.  Higher is better: the expected answers pin the new
    user's scores down more tightly.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import BiasedMF
        >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
        >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
        >>> model = model.fit(Interactions.from_dense(R))
        >>> q = onboarding_items(model, k=2, min_ratings=1)
        >>> bool(np.isclose(design_gain(model, q["item_id"]), q["gain"].sum()))
        True
    """
    _check_factor_model(model)
    _check_criterion(criterion)
    rate = _answer_rate(model)
    design = _Design(model, rate, criterion)
    idx = _indices(model, item_ids, "item_ids")
    return design.value(idx, rate[idx])


def onboard(
    model: FoldIn,
    answers,
    n: int = 10,
    *,
    user_id=None,
    unknown: str = "error",
    items=None,
    filter_items=None,
) -> Recommendations:
    """Top-``n`` items for a new user from their answers to the onboarding questions.

    ``answers`` is a dict ``{item_id: rating}`` or a Series (each value read as the
    model's fit read a training cell, :meth:`~FactorModel.training_values`: as given for
    most models; for a HybridMF a rating below its ``min_rating`` is seen only), or a list
    of item ids: "these I have seen / like", without a rating.  A list is read by the
    fold-in rule (:func:`~latentrec.models.foldin.fold_in_values`, events of weight 1):
    a ranking model (ImplicitALS, BPR, WARP, HybridMF) folds each in as a positive; a
    rating model learns taste from stars only, so for it the listed items are seen only
    and the answer gives the popularity list (``fallback=True``) without them, as the
    service does for a visitor with events alone.  Give a rating model ratings.  The
    usable answers are folded in with the item side fixed and every item is ranked with
    the new vector by the model's own score ``μ + b + b_i + p·q_i``; the answered items
    (usable or seen only) are never recommended, ``items`` restricts the candidates and
    ``filter_items`` removes more (raw ids, as in :meth:`~FactorModel.recommend`).

    Without ``user_id`` the model is not changed.  With ``user_id`` (a new id, or a known
    user without history) the user is added through :meth:`FactorModel.partial_fit_users`
    from the known answers as given (which reads them by the same rule; the seen-only
    ones join the user's seen items), so later ``recommend``, ``predict``, ``explain``
    and ``save`` know them; the result is then ``model.recommend(user_id, ...)``.
    Unknown item ids raise :class:`~latentrec.UnknownIdError` unless
    ``unknown="ignore"``.  When no answer is usable (none given, all unknown and ignored,
    or all seen only) the result is the popularity list with ``fallback=True``, answered
    items excluded, and no user is added.
    A rating off the model's rating scale raises ``ValueError``; so does, for a rating
    model fitted without a scale, one outside the range of its training ratings
    (:func:`~latentrec.models.foldin.answer_range`).  A model whose scores cannot order
    items (``GlobalMean``: :attr:`~FactorModel.orders_items` false) raises
    :class:`~latentrec.errors.CannotRankError` for usable answers, before any user is
    added: its list would be the items in index order.  As :meth:`~FactorModel.recommend`,
    it answers when at most one candidate is left (``items`` less ``filter_items`` and
    the answered items): one item has nothing to be ordered against.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import BiasedMF
        >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
        >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
        >>> model = model.fit(Interactions.from_dense(R))
        >>> onboard(model, {0: 5, 2: 1}, n=2).ids.tolist()
        [1, 3]
        >>> model.n_users  # unchanged
        4
        >>> onboard(model, {0: 5, 2: 1}, n=2, user_id=9).ids.tolist()
        [1, 3]
        >>> model.n_users
        5
    """
    _check_factor_model(model)
    check_n(n)
    if unknown not in ("error", "ignore"):
        raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
    ids, values = answer_values(model, answers)
    given = parse_ratings(answers)[1]
    idx = model.items_.lookup(ids)
    refuse_same_id(ids, idx, "item")
    known = idx >= 0
    if not known.all() and unknown == "error":
        raise UnknownIdError("item", pd.unique(ids[~known]).tolist())
    # Seen only (a listed item for a rating model, a rating below a HybridMF's
    # min_rating): never recommended, not folded in.  answer_values has checked given
    # values and read them as the fit reads a training cell; they go on as read.
    usable = known & ~np.isnan(values)
    if user_id is not None:
        u = model.users_.lookup([user_id])[0]
        if u >= 0 and model.catalog_.history_counts([u])[0] > 0:
            raise ValueError(
                f"user {user_id!r} already has a history in this model; onboarding adds new "
                "users (use partial_fit_users to replace a history)"
            )
    cand = None if items is None else model.items_.index(items).astype(np.int64)
    banned = np.zeros(model.n_items, dtype=bool)
    if filter_items is not None:
        banned[model.items_.index(filter_items)] = True
    seen_only = idx[known & ~usable]
    banned[seen_only] = True
    if not usable.any():
        top, vals, _ = model.recommend_batch_idx(
            [-1], n, items=cand, filter_items=np.flatnonzero(banned)
        )
        keep = top[0] >= 0
        return model.catalog_.recommendations(top[0][keep], vals[0][keep], True)
    if not model.orders_items and _candidates_left(model.n_items, cand, banned, idx[usable]) > 1:
        # Refused before partial_fit_users adds the user: their list would rank by index.
        # One candidate or none left has nothing to be ordered against, and is answered,
        # as recommend answers a user with their seen items excluded (_refuse_unordered).
        raise CannotRankError.of(model)
    if user_id is not None:
        # The answers as given, which partial_fit_users reads by the rule answer_values
        # read them with: given ratings as the fit read its cells, a list as events.
        # Values read already (a HybridMF's positives, 1.0) were read again there, as
        # ratings below its min_rating.  The seen-only answers go too: they join the
        # user's seen items, as a low rating in training does, never recommended later.
        table = pd.DataFrame({"user_id": user_id, "item_id": ids[known]})
        if not is_id_list(answers):
            table["rating"] = given[known]
        model.partial_fit_users(table)
        return model.recommend(user_id, n, items=items, filter_items=filter_items)
    # The index-level fold-in: fold_in would read the values a second time.
    order = np.argsort(idx[usable], kind="stable")
    bias, factors = model.fold_in_idx(
        [0, int(usable.sum())], idx[usable][order], values[usable][order]
    )
    banned[idx[usable]] = True
    top, vals = model.recommend_vectors(bias, factors, n, items=cand, filter_items=banned)
    keep = top[0] >= 0
    return model.catalog_.recommendations(top[0][keep], vals[0][keep], False)


def _candidates_left(n_items: int, cand, banned: np.ndarray, answered: np.ndarray) -> int:
    """How many items a new user's list may hold: the candidates (``cand``, indices;
    ``None``: every item) less the ``banned`` (filtered or seen only) and the
    ``answered`` ones, never recommended.

    Example:
        >>> banned = np.array([False, False, True, False])
        >>> _candidates_left(4, None, banned, np.array([0]))
        2
        >>> _candidates_left(4, [0, 2], banned, [])
        1
    """
    left = np.zeros(n_items, dtype=bool)
    left[slice(None) if cand is None else cand] = True
    left[banned] = False
    left[np.asarray(answered, dtype=np.int64)] = False
    return int(left.sum())


# ---------------------------------------------------------------------------- design
# λ₀ = PRIOR_SCALE · tr W: chosen on validation splits of MovieLens-100K (seeds 10-12 of
# onboarding_benchmark with ImplicitALS); 0.1 to 1 gave nearly the same NDCG gains.
PRIOR_SCALE = 0.3
CRITERIA = ("variance", "logdet")


class _Design:
    """The Bayesian design of :func:`onboarding_items`: ``A⁻¹`` and the greedy step."""

    def __init__(self, model: FoldIn, rate: np.ndarray, criterion: str):
        Q = np.asarray(model.item_factors_, dtype=np.float64)
        if np.any(model.user_bias_):
            Q = np.hstack([Q, np.ones((Q.shape[0], 1))])
        self.X = Q
        self.rate = rate
        self.criterion = criterion
        total = rate.sum()
        weights = rate / total if total > 0 else rate
        self.W = (Q * weights[:, None]).T @ Q
        scale = PRIOR_SCALE * float(np.trace(self.W))
        # No factors, no biases, or all-zero vectors: nothing to learn; ask by popularity.
        self.trivial = Q.shape[1] == 0 or scale <= 0
        self.prior = scale
        self.A_inv = np.eye(Q.shape[1]) / scale if not self.trivial else None
        self.logdet = 0.0
        self.U0 = float(np.trace(self.W)) / scale if not self.trivial else 0.0

    def add(self, idx: np.ndarray, weights: np.ndarray) -> None:
        """Add the information ``w_j x_j x_jᵀ`` of items ``idx`` (Sherman-Morrison)."""
        if self.trivial:
            return
        for j, w in zip(idx, weights, strict=True):
            if w <= 0:
                continue
            u = self.A_inv @ self.X[j]
            denom = 1.0 / w + self.X[j] @ u
            self.A_inv -= np.outer(u, u) / denom
            self.logdet += float(np.log1p(w * (self.X[j] @ u)))

    def gains(self, idx: np.ndarray) -> np.ndarray:
        """Improvement of the criterion from adding each item of ``idx`` alone."""
        if self.trivial:
            return self.rate[idx].copy()
        Xp = self.X[idx]
        w = self.rate[idx]
        AX = Xp @ self.A_inv
        v = np.einsum("ij,ij->i", AX, Xp)
        if self.criterion == "logdet":
            return np.log1p(w * v)
        drop = np.einsum("ij,ij->i", AX @ self.W, AX)
        return w * drop / (1.0 + w * v) / self.U0

    def greedy(self, pool: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if pool.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if self.trivial:
            order = pool[np.argsort(-self.rate[pool], kind="stable")][:k]
            return order.astype(np.int64), np.zeros(order.size)
        taken = np.zeros(pool.size, dtype=bool)
        chosen, gained = [], []
        for _ in range(min(k, pool.size)):
            gain = self.gains(pool)
            gain[taken] = -np.inf
            best = int(np.argmax(gain))
            taken[best] = True
            chosen.append(pool[best])
            gained.append(float(gain[best]))
            self.add(pool[best : best + 1], self.rate[pool[best : best + 1]])
        return np.asarray(chosen, dtype=np.int64), np.asarray(gained)

    def value(self, idx: np.ndarray, weights: np.ndarray) -> float:
        if self.trivial:
            return 0.0
        self.add(idx, weights)
        if self.criterion == "logdet":
            return self.logdet
        return 1.0 - float(np.sum(self.A_inv * self.W)) / self.U0


def _check_criterion(criterion) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")


def _check_factor_model(model) -> None:
    if not isinstance(model, FoldIn):
        raise TypeError(
            f"onboarding needs a FactorModel (one with item factors), got {type(model).__name__}"
        )
    model.check_fitted()


def _answer_rate(model: FoldIn) -> np.ndarray:
    """π_j: the share of training users (with any history) who rated item j."""
    active = max(1, int(np.count_nonzero(np.diff(model.seen_.indptr))))
    return np.clip(np.asarray(model.item_popularity_, dtype=np.float64) / active, 0.0, 1.0)


def _default_min_ratings(pop: np.ndarray, k: int) -> float:
    rated = np.sort(pop[pop > 0])[::-1]
    if rated.size == 0:
        return 1.0
    top = max(k, int(np.ceil(POPULAR_SHARE * rated.size)))
    return float(rated[min(top, rated.size) - 1])


def _indices(model: FoldIn, raw, name: str) -> np.ndarray:
    if raw is None:
        return np.empty(0, dtype=np.int64)
    arr = np.atleast_1d(np.asarray(list(raw) if isinstance(raw, pd.Series) else raw))
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    return np.unique(model.items_.index(arr).astype(np.int64))
