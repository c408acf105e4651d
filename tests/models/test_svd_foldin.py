"""TruncatedSVD folds a user in by projecting their imputed row: p = m Q Σ⁻¹.

A training user folded in with their full row gets back their trained vector and bias;
a new user's vector matches a slow reference that imputes their dense row by hand.
"""

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import Biases, TruncatedSVD

PROJECTED = [
    ("user_mean", True),
    ("user_mean", False),
    ("item_mean", True),
    ("baseline", True),
]


def _data(seed):
    rng = np.random.default_rng(seed)
    R = (rng.integers(1, 6, (30, 18)) * (rng.random((30, 18)) < 0.4)).astype(float)
    R[0] = 0.0
    R[0, 3] = 4.0  # a user with one rating
    return R, Interactions.from_dense(R)


@pytest.mark.parametrize(("fill", "center"), PROJECTED)
@pytest.mark.parametrize("seed", [0, 1])
def test_training_user_folded_in_is_their_trained_vector(fill, center, seed):
    R, data = _data(seed)
    model = TruncatedSVD(n_factors=4, fill=fill, center=center, random_state=0).fit(data)
    for u in range(R.shape[0]):
        row = {int(j): float(R[u, j]) for j in np.flatnonzero(R[u])}
        vec = model.fold_in(row)
        np.testing.assert_allclose(vec.factors, model.user_factors_[u], atol=1e-6)
        assert vec.bias == pytest.approx(float(model.user_bias_[u]), abs=1e-6)


def reference_projection(model, R, row, fill, center):
    """Impute the new user's dense row by hand, subtract the fill if centred, project."""
    rated = np.flatnonzero(row)
    mu = R[R > 0].mean()
    if fill == "user_mean":
        a, c = (row[rated].mean() if rated.size else mu), np.zeros(R.shape[1])
    elif fill == "item_mean":
        c = np.array([R[R[:, j] > 0, j].mean() - mu if (R[:, j] > 0).any() else 0.0
                      for j in range(R.shape[1])])  # fmt: skip
        a = mu
    else:
        base = Biases().fit(Interactions.from_dense(R))
        c = base.item_bias_.astype(np.float64)
        resid = [row[j] - mu - c[j] for j in rated]
        a = mu + sum(resid) / (Biases().user_regularization + rated.size)
    m = np.array([row[j] if row[j] > 0 else a + c[j] for j in range(R.shape[1])])
    if center:
        m = m - a - c
    Q = model.item_factors_.astype(np.float64)
    s = model.singular_values_
    p = np.array([sum(m[j] * Q[j, f] for j in range(R.shape[1])) / s[f] for f in range(s.size)])
    return (a - mu if center else 0.0), p


@pytest.mark.parametrize(("fill", "center"), PROJECTED)
def test_new_user_matches_the_dense_reference(fill, center):
    R, data = _data(2)
    model = TruncatedSVD(n_factors=4, fill=fill, center=center, random_state=0).fit(data)
    rng = np.random.default_rng(5)
    for _ in range(5):
        row = np.zeros(R.shape[1])
        items = rng.choice(R.shape[1], int(rng.integers(1, 7)), replace=False)
        row[items] = rng.integers(1, 6, items.size)
        bias, p = reference_projection(model, R, row, fill, center)
        vec = model.fold_in({int(j): float(row[j]) for j in items})
        np.testing.assert_allclose(vec.factors, p, atol=1e-5)
        assert vec.bias == pytest.approx(bias, abs=1e-5)


def test_partial_fit_users_adds_the_projected_user():
    R, data = _data(3)
    model = TruncatedSVD(n_factors=4, random_state=0).fit(data)
    ratings = {2: 5.0, 7: 1.0, 11: 4.0}
    expected = model.fold_in(ratings)
    frame = pd.DataFrame(
        {"user_id": 99, "item_id": list(ratings), "rating": list(ratings.values())}
    )
    model.partial_fit_users(frame)
    u = model.users_.lookup([99])[0]
    np.testing.assert_allclose(model.user_factors_[u], expected.factors, atol=1e-6)
