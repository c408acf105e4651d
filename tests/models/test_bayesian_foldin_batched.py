"""BayesianMF's fold-in solves every kept sample in one kernel call (it was one call per
sample, 200 by default, for a single user too): the means are checked bit for bit
against that per-sample path, kept here as the slow reference."""

import numpy as np
import pytest
import scipy.sparse as sp

from latentrec import Interactions
from latentrec.kernels.bpmf import sample_rows
from latentrec.models import BayesianMF
from latentrec.models.als import check_rows


def per_sample_reference(model, indptr, indices, values, side):
    """The former ``_conditional_means``: one ``sample_rows`` call (zero normals) per
    kept sample, each on that sample's block of the other side's factors."""
    other = "item" if side == "user" else "user"
    other_bias = getattr(model, f"{other}_bias_")
    other_factors = getattr(model, f"{other}_factors_")
    indptr, indices, values = check_rows(indptr, indices, values, other_factors.shape[0], other)
    used, local = np.unique(indices, return_inverse=True)
    rows = (indptr, local.astype(np.int32).reshape(indices.shape), values)
    other_bias = other_bias[used]
    other_bias.flags.writeable = False
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
        other_s = np.ascontiguousarray(other_factors[used, block] * np.float32(root))
        prior = np.ascontiguousarray(precisions[s], dtype=np.float64)
        sample_rows(
            *rows,
            model.global_mean_,
            other_bias,
            other_s,
            float(model.alpha_samples_[s]),
            prior,
            prior @ means[s],
            zeros,
            bias_s,
            factors_s,
        )
        out_factors[:, block] = factors_s / np.float32(root)
        out_bias += bias_s
    return (out_bias / S).astype(np.float32), out_factors


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    dense = rng.integers(1, 6, (25, 18)).astype(float)
    dense[rng.random(dense.shape) < 0.5] = 0
    data = Interactions.from_dense(dense)
    model = BayesianMF(n_factors=3, n_samples=30, burn_in=5, random_state=0, verbose=False)
    return model.fit(data), rng


def random_rows(rng, n_rows, n_cols):
    """CSR rows of distinct indices with ratings; row 1 empty (drawn from the prior)."""
    m = sp.random(n_rows, n_cols, density=0.4, random_state=rng, format="csr")
    m.data = rng.integers(1, 6, m.data.size).astype(np.float32)
    m = m.tolil()
    m.rows[1], m.data[1] = [], []
    m = m.tocsr()
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float32)


@pytest.mark.parametrize("side", ["user", "item"])
def test_batched_fold_in_is_bit_identical_to_the_per_sample_path(fitted, side):
    model, rng = fitted
    n_other = model.n_items if side == "user" else model.n_users
    for n_rows in (1, 2, 40):
        indptr, indices, values = random_rows(rng, max(n_rows, 2), n_other)
        indptr = indptr[: n_rows + 1]
        indices, values = indices[: indptr[-1]], values[: indptr[-1]]
        hook = model._solve_user_rows if side == "user" else model._solve_item_rows
        bias, factors = hook(indptr, indices, values)
        ref_bias, ref_factors = per_sample_reference(model, indptr, indices, values, side)
        assert bias.dtype == ref_bias.dtype and factors.dtype == ref_factors.dtype
        np.testing.assert_array_equal(bias, ref_bias)
        np.testing.assert_array_equal(factors, ref_factors)


def test_fold_in_is_the_same_on_any_thread_count(fitted):
    model, rng = fitted
    indptr, indices, values = random_rows(rng, 300, model.n_items)
    answers = []
    for threads in (1, 2):
        model.set_params(num_threads=threads)
        answers.append(model.fold_in_idx(indptr, indices, values))
    model.set_params(num_threads=None)
    np.testing.assert_array_equal(answers[0][0], answers[1][0])
    np.testing.assert_array_equal(answers[0][1], answers[1][1])
