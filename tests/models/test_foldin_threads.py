"""Fold-in of a few users: the fixed side's Gram is computed once per fitted state, and
small batches run on one numba thread; answers are unchanged by either."""

from __future__ import annotations

import pickle
import threading

import numba
import numpy as np
import scipy.sparse as sp
from two_threads import on_two_threads

import latentrec.kernels.threads as threads_mod
import latentrec.models.implicit_als as ials
from latentrec import Interactions
from latentrec.models import ALS, BPR, WARP, BayesianMF, ImplicitALS
from latentrec.models.catalog import _DERIVED


def _data(seed=0, users=40, items=30):
    rng = np.random.default_rng(seed)
    M = sp.random(users, items, density=0.2, format="csr", random_state=seed, dtype=np.float32)
    M.data[:] = rng.integers(1, 5, M.nnz)
    return Interactions.from_sparse(M)


def _rows(seed=1, n=5, items=30):
    M = sp.random(n, items, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    M.data[:] = np.random.default_rng(seed).integers(1, 5, M.nnz)
    return M.indptr, M.indices, M.data


def _implicit(seed=0, reg=0.5):
    model = ImplicitALS(
        n_factors=4, n_epochs=3, confidence="linear", alpha=2.0, regularization=reg,
        random_state=seed, solver="cholesky",
    )  # fmt: skip
    return model.fit(_data(seed))


def slow_implicit(model, indptr, indices, values):
    """Each row's normal equations built and solved in float64 with numpy."""
    Y = model.item_factors_.astype(np.float64)
    k = Y.shape[1]
    out = np.zeros((len(indptr) - 1, k))
    for r in range(len(indptr) - 1):
        idx, v = indices[indptr[r] : indptr[r + 1]], values[indptr[r] : indptr[r + 1]]
        c = 1.0 + model.alpha_ * v.astype(np.float64)
        A = Y.T @ Y + model.regularization_ * np.eye(k) + (Y[idx].T * (c - 1.0)) @ Y[idx]
        out[r] = np.linalg.solve(A, Y[idx].T @ c)
    return out


def test_implicit_fold_in_matches_slow_reference():
    model = _implicit()
    rows = _rows()
    _, X = model._solve_user_rows(*rows)
    # float32 factors out of a float64 solve: agreement to float32 rounding.
    np.testing.assert_allclose(X, slow_implicit(model, *rows), rtol=1e-4, atol=1e-5)


def test_gram_computed_once_per_fitted_state(monkeypatch):
    calls = []
    real = ials._exact_gram
    monkeypatch.setattr(ials, "_exact_gram", lambda *a: calls.append(1) or real(*a))
    model = _implicit()
    calls.clear()  # the fit's own half-steps
    first = model._solve_user_rows(*_rows())[1]
    second = model._solve_user_rows(*_rows())[1]
    assert len(calls) == 1
    assert np.array_equal(first, second)
    # A pinned view holds the same Fitted: it reuses the Gram.
    model.pinned()._solve_user_rows(*_rows())
    assert len(calls) == 1


def test_refit_model_gets_a_new_gram():
    model = _implicit(seed=0)
    before = model._solve_user_rows(*_rows())[1]
    old_fitted = model.fitted_
    model.fit(_data(seed=3))  # other data: other item factors, other Gram
    after = model._solve_user_rows(*_rows())[1]
    fresh = ImplicitALS(**model.get_params()).fit(_data(seed=3))
    assert model.fitted_ is not old_fitted
    assert not np.array_equal(before, after)
    assert np.array_equal(after, fresh._solve_user_rows(*_rows())[1])
    np.testing.assert_allclose(after, slow_implicit(model, *_rows()), rtol=1e-4, atol=1e-5)


def test_gram_not_pickled_and_state_untouched():
    model = _implicit()
    keys = set(model.fitted_.state)
    model._solve_user_rows(*_rows())
    assert set(model.fitted_.state) == keys  # derived values stay outside the state
    assert _DERIVED.get(model.fitted_)
    copy = pickle.loads(pickle.dumps(model))
    assert _DERIVED.get(copy.fitted_) is None
    assert np.array_equal(copy._solve_user_rows(*_rows())[1], model._solve_user_rows(*_rows())[1])


def test_thread_count_restored_after_a_fold_in():
    model = _implicit()
    before = numba.get_num_threads()
    model._solve_user_rows(*_rows())
    assert numba.get_num_threads() == before


def test_concurrent_fold_ins_are_correct():
    model = _implicit()
    batches = [_rows(seed=s) for s in range(8)]
    expected = [slow_implicit(model, *b) for b in batches]
    results = [None] * len(batches)
    barrier = threading.Barrier(len(batches))

    def work(i):
        barrier.wait()  # all ask for the not yet computed Gram at once
        results[i] = model._solve_user_rows(*batches[i])[1]

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _serial_and_pool(solve, n_rows):
    """``solve()`` on one thread (small-batch path) and on the pool (threshold 0)."""
    serial = solve()
    old = threads_mod.SERIAL_ROWS
    threads_mod.SERIAL_ROWS = -1
    try:
        assert threads_mod.fold_in_threads(None, n_rows) is None
        pooled = solve()
    finally:
        threads_mod.SERIAL_ROWS = old
    return serial, pooled


def check_one_and_two_threads_identical():
    rows = _rows(n=20)
    models = [
        _implicit(),
        BPR(n_factors=4, n_epochs=3, random_state=0).fit(_data()),
        WARP(n_factors=4, n_epochs=3, random_state=0).fit(_data()),
        BayesianMF(n_factors=3, n_samples=3, burn_in=1, random_state=0).fit(_data()),
    ]
    numba.set_num_threads(2)
    try:
        for model in models:
            serial, pooled = _serial_and_pool(lambda m=model: m._solve_user_rows(*rows), 20)
            assert np.array_equal(serial[0], pooled[0]), type(model).__name__
            assert np.array_equal(serial[1], pooled[1]), type(model).__name__
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_one_and_two_threads_identical():
    on_two_threads(check_one_and_two_threads_identical)


def test_remembered_values_hold_no_copy_of_the_factors():
    # Only the k x k Gram is worth keeping; a kept float32 copy of the item factors (the
    # frozen state is read-only, the kernel takes a writable array) doubled their memory
    # for as long as the fitted state lived.
    model = _implicit()
    model._solve_user_rows(*_rows())
    kept = [
        a
        for value in _DERIVED[model.fitted_].values()
        for a in (value if isinstance(value, tuple) else (value,))
        if isinstance(a, np.ndarray)
    ]
    k = model.item_factors_.shape[1]
    assert kept and all(a.shape == (k, k) for a in kept)


def check_small_als_fold_in_runs_on_one_thread():
    # ALS's fold-in kernel (als_half_step, a parallel region) was left on numba's whole
    # pool: 44-48 ms per user beside CPU hogs, where the other fold-ins took 0.3 ms.
    import latentrec.models.als as als_mod

    seen = []
    real = als_mod.als_half_step

    def spy(*args):
        seen.append(numba.get_num_threads())
        return real(*args)

    model = ALS(n_factors=4, n_epochs=3, random_state=0).fit(_data())
    rows = _rows(n=20)
    numba.set_num_threads(2)
    als_mod.als_half_step = spy
    try:
        serial, pooled = _serial_and_pool(lambda: model._solve_user_rows(*rows), 20)
    finally:
        als_mod.als_half_step = real
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert seen == [1, 2]
    assert np.array_equal(serial[0], pooled[0]) and np.array_equal(serial[1], pooled[1])


def test_small_als_fold_in_runs_on_one_thread():
    on_two_threads(check_small_als_fold_in_runs_on_one_thread)


def test_the_one_thread_bound_shrinks_with_the_factor_count():
    """A row's solve grows with k² or more: at k = 32 up to 64 rows run on one thread, at
    k = 256 only a single row (one thread's work at any k); an explicit count applies
    above the bound."""
    fit = threads_mod.fold_in_threads
    assert [fit(8, n, 32) for n in (1, 64, 65)] == [1, 1, 8]
    assert [fit(8, n, 64) for n in (16, 17)] == [1, 8]
    assert [fit(8, n, 256) for n in (1, 2)] == [1, 8]
    assert [fit(None, n, 8) for n in (1024, 1025)] == [1, None]
