"""HybridMF fold-in: its own BPR objective (checked pair by pair), not a rating regression,
and answers below ``min_rating`` are seen only, as in training."""

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.kernels.hybrid import bpr_rows
from latentrec.models import HybridMF
from latentrec.onboarding import onboard


def slow_objective(p, pos, neg, Q, b, reg):
    """F(p) = Σ_{i∈P} mean_{j∈N} log σ(s_i − s_j) − (|P|λ/2)‖p‖², one pair at a time."""
    total = 0.0
    for i in pos:
        for j in neg:
            x = b[i] - b[j] + p @ (Q[i] - Q[j])
            total += -np.log1p(np.exp(-x)) / len(neg)
    return total - 0.5 * reg * len(pos) * p @ p


def slow_gradient(p, pos, neg, Q, b, reg):
    grad = -reg * len(pos) * p
    for i in pos:
        for j in neg:
            x = b[i] - b[j] + p @ (Q[i] - Q[j])
            grad = grad + (Q[i] - Q[j]) / (1.0 + np.exp(x)) / len(neg)
    return grad


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bpr_rows_is_the_maximum_of_the_objective(seed):
    rng = np.random.default_rng(seed)
    n_items, k = 12, 3
    Q = rng.normal(0, 1.0, (n_items, k))
    b = rng.normal(0, 1.0, n_items)
    candidates = rng.random(n_items) < 0.8
    rows = [rng.choice(n_items, size, replace=False) for size in (1, 3, 5)]
    indptr = np.cumsum([0] + [r.size for r in rows])
    P = bpr_rows(indptr, np.concatenate(rows), Q, b, candidates, 0.05).astype(np.float64)
    for r, pos in enumerate(rows):
        neg = [j for j in range(n_items) if candidates[j] and j not in pos]
        grad = slow_gradient(P[r], pos, neg, Q, b, 0.05)
        assert np.abs(grad).max() < 1e-4
        best = slow_objective(P[r], pos, neg, Q, b, 0.05)
        for _ in range(5):  # a concave objective: every nearby point is lower
            near = P[r] + rng.normal(0, 0.05, k)
            assert slow_objective(near, pos, neg, Q, b, 0.05) < best
    # A row without positives, or whose positives are every candidate, gets zeros.
    P = bpr_rows([0, 0, 2], [0, 1], Q, b, np.isin(np.arange(n_items), [0, 1]), 0.05)
    assert not P.any()


def two_tastes():
    """Users 0-39 like items 0-9 (5 stars), users 40-59 like items 10-19 and gave two of
    items 0-9 one star each (below min_rating 4: not positives)."""
    rng = np.random.default_rng(0)
    rows, cols, values = [], [], []
    for u in range(60):
        liked = np.arange(10) if u < 40 else np.arange(10, 20)
        for i in rng.choice(liked, 5, replace=False):
            rows, cols, values = rows + [u], cols + [int(i)], values + [5.0]
        if u >= 40:
            for i in rng.choice(10, 2, replace=False):
                rows, cols, values = rows + [u], cols + [int(i)], values + [1.0]
    data = Interactions.from_arrays(rows, cols, values, rating_scale=(1, 5))
    model = HybridMF(n_factors=4, n_epochs=40, learning_rate=0.05, min_rating=4, random_state=0)
    return model.fit(data)


def test_hybrid_fold_in_maximises_the_fits_objective():
    model = two_tastes()
    Q, b = model.item_factors_.astype(np.float64), model.item_bias_.astype(np.float64)
    for liked in ([12, 13], [2, 3, 15], [7]):
        vector = model.fold_in(liked)
        assert vector.bias == 0.0
        # Negatives: every item seen in training outside the answers (all 20 here).
        neg = [j for j in range(20) if j not in liked]
        p = vector.factors.astype(np.float64)
        # The former ridge fold-in (regressing 1 − b_i) is far from this maximum.
        assert np.abs(slow_gradient(p, liked, neg, Q, b, 0.01)).max() < 1e-4
    # The vector points towards what was liked: the rest of that group comes first.
    assert set(onboard(model, [12, 13], n=6).ids.tolist()) < set(range(10, 20))
    assert set(onboard(model, [2, 3], n=6).ids.tolist()) < set(range(10))


def test_ratings_below_min_rating_are_seen_only_as_in_training():
    model = two_tastes()
    liked_only = model.fold_in({12: 5.0, 13: 4.0})
    with_dislike = model.fold_in({12: 5.0, 13: 4.0, 0: 1.0})
    np.testing.assert_array_equal(liked_only.factors, with_dislike.factors)
    # Onboarding answers read the same way; the disliked item is never recommended.
    rec = onboard(model, {12: 5.0, 13: 4.0, 0: 1.0}, n=17)
    assert 0 not in rec.ids.tolist() and not rec.fallback
    np.testing.assert_array_equal(
        rec.ids, onboard(model, {12: 5.0, 13: 4.0}, n=17, filter_items=[0]).ids
    )
    # Only dislikes: nothing to fold in, the popularity list without them.
    rec = onboard(model, {0: 1.0, 1: 2.0}, n=3)
    assert rec.fallback and not {0, 1} & set(rec.ids.tolist())
    # Given values are still checked as given.
    with pytest.raises(ValueError, match="rating scale"):
        model.fold_in({12: 9.0})
    with pytest.raises(ValueError, match="not finite"):
        onboard(model, {12: float("nan")})
