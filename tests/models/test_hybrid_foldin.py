"""HybridMF fold-in: its own BPR objective (checked pair by pair), not a rating regression,
and answers below ``min_rating`` are seen only, as in training."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from latentrec import Interactions
from latentrec.kernels.hybrid import bpr_item_rows, bpr_rows
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
    # Added as a user: the same vector, the disliked item still never recommended.
    added = onboard(model, {12: 5.0, 13: 4.0, 0: 1.0}, n=17, user_id=1000)
    np.testing.assert_array_equal(added.ids, rec.ids)
    u = model.users_.lookup([1000])[0]
    np.testing.assert_allclose(model.user_factors_[u], liked_only.factors, rtol=1e-6)
    # Only dislikes: nothing to fold in, the popularity list without them.
    rec = onboard(model, {0: 1.0, 1: 2.0}, n=3)
    assert rec.fallback and not {0, 1} & set(rec.ids.tolist())
    # Given values are still checked as given.
    with pytest.raises(ValueError, match="rating scale"):
        model.fold_in({12: 9.0})
    with pytest.raises(ValueError, match="not finite"):
        onboard(model, {12: float("nan")})


def slow_item_objective(theta, liked, P, Q, b, seen, candidates, reg, reg_b):
    """bpr_item_rows' objective, one user and one item at a time."""
    q, bias = theta[:-1], theta[-1]
    n_e = int(candidates.sum())
    total, steps = 0.0, float(len(liked))
    for v in range(P.shape[0]):
        items = [int(i) for i in seen[v].indices]
        s = bias + P[v] @ q
        if v in liked:
            neg = [j for j in range(Q.shape[0]) if candidates[j] and j not in items]
            for j in neg:
                total += -np.log1p(np.exp(-(s - b[j] - P[v] @ Q[j]))) / len(neg)
        elif items and n_e - sum(candidates[i] for i in items) > 0:
            w = 1.0 / (n_e - sum(candidates[i] for i in items))
            for i in items:
                total += -w * np.log1p(np.exp(-(b[i] + P[v] @ Q[i] - s)))
            steps += w * len(items)
    return total - 0.5 * steps * (reg * q @ q + reg_b * bias**2)


@pytest.mark.parametrize("seed", [0, 1])
def test_bpr_item_rows_is_the_maximum_of_the_objective(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 9, 7, 2
    P = rng.normal(0, 1.0, (n_users, k))
    Q = rng.normal(0, 1.0, (n_items, k))
    b = rng.normal(0, 1.0, n_items)
    seen = sp.csr_matrix((rng.random((n_users, n_items)) < 0.4).astype(np.float32))
    candidates = np.ones(n_items, bool)
    candidates[0] = False
    rows = [np.array([0, 3]), np.array([1, 2, 5, 8])]
    indptr = np.cumsum([0] + [r.size for r in rows])
    bias, Qn = bpr_item_rows(indptr, np.concatenate(rows), P, Q, b, seen, candidates, 0.05, 0.01)
    for r, liked in enumerate(rows):
        theta = np.append(Qn[r], bias[r]).astype(np.float64)
        args = (list(liked), P, Q, b, seen, candidates, 0.05, 0.01)
        best = slow_item_objective(theta, *args)
        for axis in range(k + 1):  # a numeric gradient of zero at the maximum
            e = np.zeros(k + 1)
            e[axis] = 1e-5
            slope = slow_item_objective(theta + e, *args) - slow_item_objective(theta - e, *args)
            assert abs(slope / 2e-5) < 1e-3
        for _ in range(5):
            assert slow_item_objective(theta + rng.normal(0, 0.05, k + 1), *args) < best


def test_an_item_added_from_its_fans_does_not_top_every_list():
    model = two_tastes()
    # A new niche item, liked by five of the niche users.
    fans = [40, 41, 42, 43, 44]
    model.partial_fit_items(pd.DataFrame({"user_id": fans, "item_id": 99, "rating": 5.0}))
    j = model.items_.lookup([99])[0]
    # The ridge fold-in gave it a bias above every trained item's (unpenalised, fitted
    # to 1): first on every list, the popular group's users included.
    assert model.item_bias_[j] < model.item_bias_[:20].max()
    scores = model.item_bias_ + model.user_factors_ @ model.item_factors_.T
    rank = (scores > scores[:, [j]]).sum(1)
    assert np.median(rank[45:60]) < np.median(rank[:40])  # niche users rank it higher
    assert np.median(rank[:40]) >= 5  # the popular group's users see their own first
