"""BayesianMF fold-in reads only the rated rows of the fixed side: its answers are
bit-identical to the per-sample copy of the whole side that it used to make, and the
factors of rows nobody rated are never read."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_ratings

import latentrec.models.bayesian as bayesian_mod
from latentrec.kernels.bpmf import sample_rows
from latentrec.models import BayesianMF
from latentrec.models.als import check_rows
from latentrec.models.catalog import Fitted


def whole_side_conditional_means(model, indptr, indices, values, side):
    """The fold-in as it was: each sample's block of the whole other side scaled into a
    copy, and the kernel run on the rows' original indices."""
    other = "item" if side == "user" else "user"
    other_bias = getattr(model, f"{other}_bias_")
    other_factors = getattr(model, f"{other}_factors_")
    rows = check_rows(indptr, indices, values, other_factors.shape[0], other)
    precisions = getattr(model, f"{side}_prior_precision_")
    means = getattr(model, f"{side}_prior_mean_")
    S, k1 = means.shape
    k = k1 - 1
    n = rows[0].size - 1
    root = np.sqrt(S)
    out_bias = np.zeros(n)
    out_factors = np.zeros((n, S * k), dtype=np.float32)
    zeros = np.zeros((n, k1))
    bias_s = np.zeros(n, dtype=np.float32)
    factors_s = np.zeros((n, k), dtype=np.float32)
    for s in range(S):
        block = slice(s * k, (s + 1) * k)
        other_s = np.ascontiguousarray(other_factors[:, block] * np.float32(root))
        prior = np.ascontiguousarray(precisions[s], dtype=np.float64)
        sample_rows(
            *rows, model.global_mean_, other_bias, other_s, float(model.alpha_samples_[s]),
            prior, prior @ means[s], zeros, bias_s, factors_s,
        )  # fmt: skip
        out_factors[:, block] = factors_s / np.float32(root)
        out_bias += bias_s
    return (out_bias / S).astype(np.float32), out_factors


@pytest.fixture(scope="module")
def model():
    data = random_ratings(n_users=40, n_items=30, density=0.4, seed=3)
    return BayesianMF(n_factors=3, n_samples=7, burn_in=2, alpha=None, random_state=0).fit(data)


def _random_rows(seed, n_rows, n_columns):
    rng = np.random.default_rng(seed)
    M = sp.random(n_rows, n_columns, density=0.25, format="csr", random_state=seed)
    M.data[:] = rng.integers(1, 6, M.nnz)
    M.data[M.indptr[-2] :] = 0  # a row with no cells: the prior mean
    M.eliminate_zeros()
    # Indices unsorted within rows: the kernel's order of cells is kept as given.
    order = np.concatenate(
        [rng.permutation(np.arange(a, b)) for a, b in pairwise(M.indptr)]
    ).astype(np.int64)
    return M.indptr, M.indices[order], M.data[order]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("side", ["user", "item"])
def test_fold_in_is_bit_identical_to_the_whole_side_copy(model, seed, side):
    n_columns = model.n_items if side == "user" else model.n_users
    rows = _random_rows(seed, n_rows=1 + seed * 3, n_columns=n_columns)
    solve = model._solve_user_rows if side == "user" else model._solve_item_rows
    bias, factors = solve(*rows)
    want_bias, want_factors = whole_side_conditional_means(model, *rows, side)
    assert bias.dtype == want_bias.dtype and factors.dtype == want_factors.dtype
    assert np.array_equal(bias, want_bias)
    assert np.array_equal(factors, want_factors)


def test_fold_in_reads_only_the_rated_items(model, monkeypatch):
    # NaN in every item nobody in the batch rated: read, they would poison the answer.
    rows = (np.array([0, 2, 3]), np.array([4, 1, 4]), np.array([5.0, 2.0, 3.0], np.float32))
    f = model.fitted_
    poisoned = np.full_like(model.item_factors_, np.nan)
    poisoned[[1, 4]] = model.item_factors_[[1, 4]]
    bias = np.full_like(model.item_bias_, np.nan)
    bias[[1, 4]] = model.item_bias_[[1, 4]]
    state = {**f.state, "item_factors_": poisoned, "item_bias_": bias}
    other = BayesianMF.from_fitted(Fitted.build(f.catalog, state), **model.get_params())
    assert np.array_equal(other._solve_user_rows(*rows)[1], model._solve_user_rows(*rows)[1])
    # And the samples' blocks gathered (one kernel call for all) hold the rated rows only.
    shapes = []
    real = bayesian_mod.conditional_means
    monkeypatch.setattr(
        bayesian_mod, "conditional_means", lambda *a: shapes.append(a[5].shape) or real(*a)
    )
    model._solve_user_rows(*rows)
    assert shapes == [(model.alpha_samples_.size, 2, 3)]
