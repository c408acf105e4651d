"""Truncated SVD of the imputed matrix against a dense NumPy SVD on tiny data."""

import numpy as np
import pytest
from conftest import random_ratings

import latentrec
from latentrec import Interactions
from latentrec.models import Biases
from latentrec.models.svd import TruncatedSVD, imputed_operator


def dense_imputed(data, fill):
    """The imputed matrix M and the fill F, built cell by cell from the definitions."""
    R = data.matrix.toarray().astype(np.float64)
    mask = np.zeros(R.shape, dtype=bool)
    mask[data.user_idx, data.item_idx] = True
    mu = R[mask].mean()
    base = Biases().fit(data)
    F = np.empty_like(R)
    for u in range(R.shape[0]):
        for i in range(R.shape[1]):
            if fill == "user_mean":
                F[u, i] = R[u, mask[u]].mean() if mask[u].any() else mu
            elif fill == "item_mean":
                F[u, i] = R[mask[:, i], i].mean() if mask[:, i].any() else mu
            else:
                F[u, i] = base.global_mean_ + float(base.user_bias_[u]) + float(base.item_bias_[i])
    return np.where(mask, R, F), F


def rank_k(A, k):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k], s


def all_predictions(model, data):
    users = np.repeat(data.users.ids, data.n_items)
    items = np.tile(data.items.ids, data.n_users)
    return model.predict(users, items).reshape(data.n_users, data.n_items)


def data_with_empty_rows():
    """Random ratings where one user and one item have no training cell at all."""
    data = random_ratings(n_users=25, n_items=18, density=0.35, seed=7)
    keep = (data.user_idx != 3) & (data.item_idx != 5)
    return data.subset(keep)


@pytest.mark.parametrize("fill", ["user_mean", "item_mean", "baseline"])
@pytest.mark.parametrize("center", [True, False])
def test_predictions_equal_dense_rank_k_reconstruction(fill, center):
    data = data_with_empty_rows()
    k = 4
    model = TruncatedSVD(n_factors=k, fill=fill, center=center, random_state=0).fit(data)
    M, F = dense_imputed(data, fill)
    target = M - F if center else M
    low, s = rank_k(target, k)
    expected = F + low if center else low
    np.testing.assert_allclose(all_predictions(model, data), expected, atol=2e-5)
    np.testing.assert_allclose(model.singular_values_, s[:k], rtol=1e-9)
    total = (target**2).sum()
    assert model.total_energy_ == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(model.explained_energy_ratio_, s[:k] ** 2 / total, rtol=1e-9)
    # The factors are U√Σ and V√Σ: P·Q reproduces the low-rank part alone.
    P, Q = model.user_factors_.astype(np.float64), model.item_factors_.astype(np.float64)
    np.testing.assert_allclose(P @ Q.T, low, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(P, axis=0), np.sqrt(s[:k]), rtol=1e-5)


def test_operator_is_the_imputed_matrix_and_its_transpose():
    data = data_with_empty_rows()
    rng = np.random.default_rng(0)
    row_fill = rng.normal(3, 1, data.n_users)
    col_fill = rng.normal(0, 0.5, data.n_items)
    R = data.matrix.toarray().astype(np.float64)
    mask = R != 0
    F = row_fill[:, None] + col_fill[None, :]
    M = np.where(mask, R, F)
    op, energy = imputed_operator(data, row_fill, col_fill, dense_fill=True)
    x, y = rng.normal(size=data.n_items), rng.normal(size=data.n_users)
    np.testing.assert_allclose(op.matvec(x), M @ x)
    np.testing.assert_allclose(op.rmatvec(y), M.T @ y)
    np.testing.assert_allclose(op.matmat(np.eye(data.n_items)), M)
    assert energy == pytest.approx((M**2).sum(), rel=1e-12)
    centred, c_energy = imputed_operator(data, row_fill, col_fill, dense_fill=False)
    np.testing.assert_allclose(centred.matmat(np.eye(data.n_items)), M - F, atol=1e-12)
    assert c_energy == pytest.approx(((M - F) ** 2).sum(), rel=1e-12)


def test_planted_low_rank_matrix_is_recovered_exactly():
    rng = np.random.default_rng(3)
    R = rng.uniform(0.5, 1.5, (20, 2)) @ rng.uniform(0.5, 1.5, (2, 15))
    model = TruncatedSVD(n_factors=2, center=False, random_state=0)
    model.fit(Interactions.from_dense(R))
    data = Interactions.from_dense(R)
    np.testing.assert_allclose(all_predictions(model, data), R, atol=1e-5)
    assert model.explained_energy_ratio_.sum() == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("wide", [False, True])
def test_full_rank_uses_the_dense_path_and_reconstructs_the_imputed_matrix(wide):
    R = np.array([[5, 3, 0], [4, 0, 1], [1, 1, 5], [0, 2, 4]])
    data = Interactions.from_dense(R.T if wide else R)
    model = TruncatedSVD(n_factors=3, center=False).fit(data)
    M, _ = dense_imputed(data, "user_mean")
    np.testing.assert_allclose(all_predictions(model, data), M, atol=1e-5)


def test_a_zero_centred_matrix_gives_the_fill():
    # One rating per user: every residual from the user mean is 0.
    data = Interactions.from_dense(np.array([[4.0, 0, 0], [0, 2.0, 0], [0, 0, 5.0]]))
    model = TruncatedSVD(n_factors=1).fit(data)
    assert model.total_energy_ == 0 and not model.singular_values_.any()
    np.testing.assert_allclose(all_predictions(model, data), [[4] * 3, [2] * 3, [5] * 3])


def test_seed_gives_identical_factors_and_sign_is_fixed():
    data = random_ratings(seed=2)
    a = TruncatedSVD(n_factors=5, random_state=1).fit(data)
    b = TruncatedSVD(n_factors=5, random_state=1).fit(data)
    c = TruncatedSVD(n_factors=5, random_state=2).fit(data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    # Another start vector converges to the same triplets, with the same signs.
    np.testing.assert_allclose(a.item_factors_, c.item_factors_, atol=1e-4)
    pivot = np.abs(a.item_factors_).argmax(axis=0)
    assert (a.item_factors_[pivot, np.arange(5)] > 0).all()


def test_bad_parameters_are_named():
    data = random_ratings()
    with pytest.raises(ValueError, match="n_factors=21 exceeds"):
        TruncatedSVD(n_factors=21).fit(data)
    with pytest.raises(ValueError, match="fill must be one of"):
        TruncatedSVD(fill="zeros").fit(data)
    with pytest.raises(ValueError, match="center"):
        TruncatedSVD(center="yes").fit(data)


def test_save_load_keeps_the_spectrum(tmp_path):
    data = random_ratings(seed=5)
    model = TruncatedSVD(n_factors=3, fill="baseline", random_state=0).fit(data)
    path = tmp_path / "svd.npz"
    model.save(path)
    loaded = latentrec.load(path)
    np.testing.assert_array_equal(loaded.singular_values_, model.singular_values_)
    np.testing.assert_array_equal(loaded.explained_energy_ratio_, model.explained_energy_ratio_)
    assert loaded.total_energy_ == model.total_energy_
    np.testing.assert_array_equal(all_predictions(loaded, data), all_predictions(model, data))
