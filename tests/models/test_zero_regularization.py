"""Regularization 0: what ALS and implicit ALS do when some row systems are singular.

Explicit ALS solves ``(Σ q qᵀ) p = Σ r q`` over a user's own ratings only, so a user with
fewer ratings than factors has a singular system at λ = 0: ALS refuses with an error that
names the fix.  Implicit ALS adds the whole Gram ``YᵀY`` to every row, so a user with one
item is singular only when the item factors themselves are (fewer items with data than
factors).  Its Cholesky solver then refuses (tests/models/test_cholesky_singular.py); its
conjugate-gradient solver stays in the range of the system, so from zero it converges to
the minimum-norm least-squares solution (the numpy.linalg.lstsq reference below), and from
any start to a minimiser whose scores ``Y x`` are the reference's: the null-space part it
keeps from the start is orthogonal to every item vector, so no score sees it.  That holds
because CG stops on a direction in the null space (``CG_BREAKDOWN``); before it did, the
steps after convergence divided rounding by rounding and threw the factors off by up to
50 times their size.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from latentrec import Interactions
from latentrec.kernels.implicit_als import cg_half_step, gram, row_chunks
from latentrec.models import ALS, ImplicitALS
from latentrec.models.implicit_als import _readonly

ALPHA = 2.0


def lstsq_rows(R, Y, alpha):
    """Per row, the minimum-norm minimiser of ``Σ_j c_j (p_j − y_j·x)²`` (λ = 0), float64."""
    Y = np.asarray(Y, dtype=np.float64)
    out = np.zeros((R.shape[0], Y.shape[1]))
    for u in range(R.shape[0]):
        c = np.where(R[u] > 0, 1.0 + alpha * R[u], 1.0)
        p = (R[u] > 0).astype(np.float64)
        out[u] = np.linalg.lstsq(np.sqrt(c)[:, None] * Y, np.sqrt(c) * p, rcond=None)[0]
    return out


def cg_solve(R, Y, X0, steps):
    m = sp.csr_matrix(R)
    indptr = _readonly(m.indptr, np.int64)
    indices = _readonly(m.indices, np.int32)
    values = _readonly(m.data, np.float32)
    X = np.array(X0, np.float32)
    bounds = row_chunks(indptr, Y.shape[1], n_chunks=2)
    loss = np.zeros(bounds.size - 1)
    cg_half_step(
        indptr, indices, values, np.float32(ALPHA), X, Y, gram(Y, 0.0),
        np.int64(steps), bounds, loss,
    )  # fmt: skip
    return X


@pytest.mark.parametrize("seed", range(5))
def test_cg_at_zero_regularization_matches_lstsq_on_singular_systems(seed):
    rng = np.random.default_rng(seed)
    k, n_items = 6, 3  # Y has rank 3 < k: every row system is singular at λ = 0
    Y = rng.normal(size=(n_items, k)).astype(np.float32)
    R = (rng.integers(1, 6, (8, n_items)) * (rng.random((8, n_items)) < 0.6)).astype(float)
    R[0] = [2.0, 0.0, 0.0]  # a user with one item
    ref = lstsq_rows(R, Y, ALPHA)
    from_zero = cg_solve(R, Y, np.zeros((8, k)), steps=2 * k)
    assert np.isfinite(from_zero).all()
    np.testing.assert_allclose(from_zero, ref, atol=2e-3 * max(1.0, np.abs(ref).max()))
    # From a random start: a different minimiser, the same scores for every item.
    X0 = rng.normal(size=(8, k))
    warm = cg_solve(R, Y, X0, steps=2 * k)
    Yd = Y.astype(np.float64)
    np.testing.assert_allclose(warm @ Yd.T, ref @ Yd.T, atol=5e-4)


def test_implicit_als_cg_fits_finite_factors_at_zero_regularization():
    small = Interactions.from_arrays([0, 0, 1, 1, 2], [0, 1, 1, 2, 0], [1.0, 2, 3, 1, 1])
    model = ImplicitALS(n_factors=6, n_epochs=5, regularization=0.0, random_state=0).fit(small)
    assert np.isfinite(model.user_factors_).all() and np.isfinite(model.item_factors_).all()
    with pytest.raises(FloatingPointError, match="raise regularization"):
        ImplicitALS(
            n_factors=6, n_epochs=5, regularization=0.0, solver="cholesky", random_state=0
        ).fit(small)


def test_implicit_als_one_item_user_is_not_singular():
    # A user with one item, k > 1: the full Gram makes the system regular when Y is.
    rng = np.random.default_rng(0)
    users = [0] + [u for u in range(1, 30) for _ in range(6)]
    items = [3] + [int(i) for _ in range(1, 30) for i in rng.choice(20, 6, replace=False)]
    data = Interactions.from_arrays(users, items, np.ones(len(users)))
    for solver in ("cg", "cholesky"):
        model = ImplicitALS(
            n_factors=4, n_epochs=4, regularization=0.0, solver=solver, random_state=0
        ).fit(data)
        assert np.isfinite(model.user_factors_).all()


def test_explicit_als_refuses_singular_systems_at_zero_regularization():
    data = Interactions.from_arrays([0, 1, 1, 2, 2], [0, 0, 1, 1, 2], [4.0, 5, 3, 2, 1])
    with pytest.raises(FloatingPointError, match=r"singular; raise regularization"):
        ALS(n_factors=4, n_epochs=3, regularization=0.0, random_state=0).fit(data)
