"""Fold-in of TruncatedSVD, SVDpp and GradientDescentMF against a slow solve of the
objective each documents (NMF's constrained fold-in is tested in test_nmf.py).

Each test folds in training users' own rows through the public ``fold_in`` and compares
with ``np.linalg.lstsq`` on the augmented system of that objective, built in plain
Python from the model's public learned arrays."""

import numpy as np
import pandas as pd
import pytest
from conftest import SEED_MATRIX, random_ratings

from latentrec import Interactions
from latentrec.models import GradientDescentMF, SVDpp, TruncatedSVD


def ridge_reference(X, y, penalties):
    """argmin ‖y − X w‖² + Σ_f penalties[f] w_f², by lstsq on the augmented system."""
    A = np.vstack([X, np.diag(np.sqrt(penalties))])
    return np.linalg.lstsq(A, np.concatenate([y, np.zeros(len(penalties))]), rcond=None)[0]


def user_rows(data, users):
    """(raw user id, item indices, ratings, the fold_in Series) for some training users."""
    M = data.matrix
    for u in users:
        cols = M.indices[M.indptr[u] : M.indptr[u + 1]]
        r = M.data[M.indptr[u] : M.indptr[u + 1]].astype(np.float64)
        yield u, cols, r, pd.Series(r, index=pd.Index(data.items.ids[cols], dtype=object))


@pytest.mark.parametrize(
    "params",
    [
        {"fill": "item_mean", "center": False},
        {"fill": "baseline", "center": False},
    ],
)
def test_uncentred_truncated_svd_with_an_item_fill_folds_in_by_the_default_ridge(params):
    # Documented: without the item part of the fill (not kept with center=False) a user's
    # row cannot be imputed, so the default ridge folds in: λ = 0.1 times the user's
    # count (the SVD has no λ of its own), no user bias.  The other settings project the
    # imputed row (tests/models/test_svd_foldin.py).
    data = random_ratings(seed=4)
    model = TruncatedSVD(n_factors=3, random_state=0, **params).fit(data)
    has_bias = bool(np.any(model.user_bias_))
    assert has_bias == (params["fill"] != "item_mean" and params.get("center", True))
    Q = model.item_factors_.astype(np.float64)
    offset = model.global_mean_ + model.item_bias_.astype(np.float64)
    for _, cols, r, series in user_rows(data, range(0, data.n_users, 3)):
        n = cols.size
        X = np.hstack([Q[cols], np.ones((n, 1))]) if has_bias else Q[cols]
        ref = ridge_reference(X, r - offset[cols], np.full(X.shape[1], 0.1 * n))
        vec = model.fold_in(series)
        np.testing.assert_allclose(vec.factors, ref[:3], rtol=1e-4, atol=1e-5)
        assert vec.bias == pytest.approx(ref[3] if has_bias else 0.0, abs=1e-5)


def test_svdpp_fold_in_solves_its_objective_with_y_fixed():
    # Before, SVDpp folded in z by the plain ridge, ignoring the y vectors of the items
    # the user rated (the point of SVD++); here s = |N|^-½ Σ y_j is fixed and p is fitted.
    data = random_ratings(seed=5)
    model = SVDpp(n_factors=3, n_epochs=10, learning_rate=0.02, random_state=0, num_threads=1)
    model.fit(data)
    Q, Y = model.item_factors_.astype(np.float64), model.y_.astype(np.float64)
    offset = model.global_mean_ + model.item_bias_.astype(np.float64)
    reg, reg_b = model.regularization, model.regularization  # bias_regularization=None
    expected = {}
    for u, cols, r, series in user_rows(data, range(data.n_users)):
        n = cols.size
        s = sum(Y[j] for j in cols) / np.sqrt(n)
        X = np.hstack([Q[cols], np.ones((n, 1))])
        y = r - offset[cols] - Q[cols] @ s
        ref = ridge_reference(X, y, n * np.array([reg, reg, reg, reg_b]))
        expected[u] = (ref[3], ref[:3] + s)
        if u % 4 == 0:
            vec = model.fold_in(series)
            np.testing.assert_allclose(vec.factors, ref[:3] + s, rtol=1e-4, atol=1e-5)
            assert vec.bias == pytest.approx(ref[3], abs=1e-5)
    # partial_fit_users stores the effective vector z for every recomputed user.
    model.partial_fit_users(data.to_frame())
    for u, (bias, z) in expected.items():
        np.testing.assert_allclose(model.user_factors_[u], z, rtol=1e-4, atol=1e-5)
        assert model.user_bias_[u] == pytest.approx(bias, abs=1e-5)


def test_gradient_descent_fold_in_is_its_unweighted_objective():
    # Full-batch GD minimises Σ e² + λ‖u‖² (λ once per vector, not once per rating):
    # before, its fold-in multiplied λ by the count, so a converged training user did
    # not fold in to its own row (off by 0.06 on the texts' 6 × 6 example).
    data = Interactions.from_dense(SEED_MATRIX)
    model = GradientDescentMF(n_epochs=20_000, random_state=1).fit(data)
    V = model.item_factors_.astype(np.float64)
    for u, cols, r, series in user_rows(data, range(data.n_users)):
        ref = ridge_reference(V[cols], r - model.global_mean_, np.full(2, 0.05))
        vec = model.fold_in(series)
        np.testing.assert_allclose(vec.factors, ref, rtol=1e-5, atol=1e-6)
        assert vec.bias == 0.0
        # converged: the minimiser is where the user step stops moving
        np.testing.assert_allclose(vec.factors, model.user_factors_[u], atol=1e-5)


def test_gradient_descent_fold_in_on_random_data():
    data = random_ratings(seed=6)
    model = GradientDescentMF(n_factors=3, n_epochs=300, regularization=0.3, random_state=0)
    model.fit(data)
    V = model.item_factors_.astype(np.float64)
    for _, cols, r, series in user_rows(data, range(0, data.n_users, 2)):
        ref = ridge_reference(V[cols], r - model.global_mean_, np.full(3, 0.3))
        np.testing.assert_allclose(model.fold_in(series).factors, ref, rtol=1e-4, atol=1e-5)


def test_svdpp_folds_in_a_user_who_rated_an_item_added_after_training():
    # partial_fit_items adds an item without a y row; a fold-in naming it raised IndexError.
    data = random_ratings(seed=6)
    model = SVDpp(n_factors=3, n_epochs=10, learning_rate=0.02, random_state=0, num_threads=1)
    model.fit(data)
    users = data.users.ids[:3]
    model.partial_fit_items(pd.DataFrame({"user_id": users, "item_id": 10**6, "rating": 4.0}))
    new = model.items_.index(np.array([10**6]))[0]
    assert new == data.n_items  # added at the end, with no y row
    Q, Y = model.item_factors_.astype(np.float64), model.y_.astype(np.float64)
    offset = model.global_mean_ + model.item_bias_.astype(np.float64)
    cols, r = np.array([0, 5, new]), np.array([4.0, 2.0, 5.0])
    s = (Y[0] + Y[5]) / np.sqrt(3)  # the new item's y is zero, but it counts in |N(u)|
    X = np.hstack([Q[cols], np.ones((3, 1))])
    reg = model.regularization
    ref = ridge_reference(X, r - offset[cols] - Q[cols] @ s, 3 * np.full(4, reg))
    vec = model.fold_in(pd.Series(r, index=pd.Index(model.items_.ids[cols], dtype=object)))
    np.testing.assert_allclose(vec.factors, ref[:3] + s, rtol=1e-4, atol=1e-5)
    assert vec.bias == pytest.approx(ref[3], abs=1e-5)
