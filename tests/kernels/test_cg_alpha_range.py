"""ImplicitALS's conjugate gradient across alpha: it matches a slow float64 dense solve on
random small inputs from alpha = 1e-3 up to the largest alpha ``fit`` accepts, stops
cleanly on a zero residual, reports float32 overflow instead of dividing by zero, and a
larger alpha is refused by name before anything is allocated."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from latentrec import Interactions
from latentrec.kernels.implicit_als import cg_half_step, gram, row_chunks
from latentrec.models import ImplicitALS
from latentrec.models.implicit_als import MAX_CONFIDENCE

LAM = 0.1


def counts(seed: int, n_users: int = 9, n_items: int = 7) -> np.ndarray:
    """1-5 counts, about 40% of cells, at least one per row."""
    rng = np.random.default_rng(seed)
    R = rng.integers(1, 6, (n_users, n_items)) * (rng.random((n_users, n_items)) < 0.4)
    R[np.arange(n_users), rng.integers(0, n_items, n_users)] = rng.integers(1, 6, n_users)
    return R.astype(np.float64)


def csr(R: np.ndarray):
    m = sp.csr_matrix(R)
    out = (
        np.asarray(m.indptr, np.int64),
        np.asarray(m.indices, np.int32),
        np.asarray(m.data, np.float32),
    )
    for a in out:  # read-only, as the model passes them
        a.flags.writeable = False
    return out


def reference_rows(R, Y, alpha, lam):
    """Row by row, the float64 dense system (YᵀC_uY + λI) x = YᵀC_u p_u and its solution."""
    Y = Y.astype(np.float64)
    C = np.where(R > 0, 1.0 + alpha * R, 1.0)
    P = (R > 0).astype(np.float64)
    for u in range(R.shape[0]):
        A = Y.T @ (C[u][:, None] * Y) + lam * np.eye(Y.shape[1])
        yield A, np.linalg.solve(A, Y.T @ (C[u] * P[u]))


def run_cg(R, X, Y, alpha, steps):
    indptr, indices, values = csr(R)
    bounds = row_chunks(indptr, Y.shape[1], n_chunks=3)
    loss = np.zeros(bounds.size - 1)
    overflowed = cg_half_step(
        indptr, indices, values, np.float32(alpha), X, Y, gram(Y, LAM), np.int64(steps),
        bounds, loss,
    )  # fmt: skip
    return overflowed, loss


LARGEST = (MAX_CONFIDENCE - 1.0) / 5.0  # the counts' largest strength is 5 (linear)


@pytest.mark.parametrize("scale", [1.0, 100.0])
@pytest.mark.parametrize("alpha", [1e-3, 1.0, 1e2, 1e4, 1e6, LARGEST])
def test_cg_matches_a_dense_float64_solve_up_to_the_largest_accepted_alpha(alpha, scale):
    k = 4
    for seed in range(4):
        rng = np.random.default_rng(seed)
        R = counts(seed)
        Y = rng.normal(0, scale, (R.shape[1], k)).astype(np.float32)
        X = rng.normal(0, 1 / scale, (R.shape[0], k)).astype(np.float32)
        overflowed, loss = run_cg(R, X, Y, alpha, steps=2 * k)
        assert overflowed == 0 and np.isfinite(loss).all(), (alpha, scale, seed)
        for u, (A, best) in enumerate(reference_rows(R, Y, alpha, LAM)):
            err = X[u].astype(np.float64) - best
            # Error in the system's own norm (what CG minimises), relative to the solution.
            rel = np.sqrt(err @ A @ err) / np.sqrt(best @ A @ best)
            assert rel < 2e-2, (alpha, scale, seed, u, rel)


def test_a_row_whose_residual_is_already_zero_stops_without_dividing():
    # Y = 0 and x = 0: b = 0 and A x = 0, so the first residual is exactly zero; a CG
    # step would divide 0 by pᵀAp = 0.
    R = counts(0)
    Y = np.zeros((R.shape[1], 3), np.float32)
    X = np.zeros((R.shape[0], 3), np.float32)
    overflowed, loss = run_cg(R, X, Y, 2.0, steps=3)
    assert overflowed == 0
    assert (X == 0).all()
    # The objective at x = 0 is Σ c over the row's cells (blank cells add 0 · 0 here).
    assert loss.sum() == pytest.approx(float((1.0 + 2.0 * R[R > 0]).sum()))


def test_overflowing_sums_are_reported_not_a_division_by_zero():
    # Before: alpha = 1e12 made pᵀAp infinite in float32; fastmath's no-infinity
    # assumption turned it into NaN and a ZeroDivisionError inside the parallel kernel
    # (a SystemError to the caller).  Now the kernel says how many chunks overflowed.
    R = counts(0)
    rng = np.random.default_rng(0)
    Y = rng.normal(0, 1, (R.shape[1], 4)).astype(np.float32)
    X = rng.normal(0, 1, (R.shape[0], 4)).astype(np.float32)
    overflowed, loss = run_cg(R, X, Y, 1e12, steps=8)
    assert overflowed > 0
    assert np.isnan(loss).sum() == overflowed


def _data() -> Interactions:
    return Interactions.from_dense(counts(3, 12, 9))


def test_an_alpha_beyond_float32_is_refused_by_name_before_the_fit():
    model = ImplicitALS(n_factors=2, n_epochs=2, alpha=1e12, confidence="linear", random_state=0)
    with pytest.raises(ValueError, match=r"^alpha=1000000000000.0 gives the strongest cell") as e:
        model.fit(_data())
    assert "at most 3.355e+06" in str(e.value)
    assert not model.is_fitted


def test_the_largest_accepted_alpha_fits():
    model = ImplicitALS(
        n_factors=2, n_epochs=2, alpha=LARGEST, confidence="linear", random_state=0
    ).fit(_data())
    assert np.isfinite(model.item_factors_).all()
    with pytest.raises(ValueError, match="^alpha="):
        model.clone().set_params(alpha=LARGEST * 1.01).fit(_data())


def test_the_exact_solver_is_not_bound_by_cgs_limit():
    # Cholesky works in float64 and refuses the rows it cannot solve by themselves.
    model = ImplicitALS(
        n_factors=2, n_epochs=2, alpha=LARGEST * 10, confidence="linear", solver="cholesky",
        random_state=0,
    )  # fmt: skip
    try:
        model.fit(_data())
    except FloatingPointError as err:
        assert "too close to singular" in str(err)
