"""ImplicitALS's solvers, given an alpha so large that float32 loses the system, stop with
an error that names alpha and what to change, and name rows by their ids."""

from __future__ import annotations

import pytest
from test_params_checks import sweep_data

from latentrec.models import ImplicitALS


def test_an_alpha_that_breaks_conjugate_gradient_is_refused_naming_alpha():
    # Before: "SystemError: CPUDispatcher(...) returned a result with an exception set"
    # (a ZeroDivisionError in a numba worker), then a FloatingPointError after the fact;
    # now refused before the fit allocates anything (tests/kernels/test_cg_alpha_range.py).
    model = ImplicitALS(n_factors=2, n_epochs=2, alpha=1e12, random_state=0, num_threads=1)
    with pytest.raises(ValueError, match=r"^alpha=1000000000000.0 .*lower alpha to at most"):
        model.fit(sweep_data())
    assert not model.is_fitted


def test_a_singular_cholesky_system_names_the_user_by_its_id():
    # Before: "the least-squares system of user np.int64(0) ..."
    model = ImplicitALS(
        n_factors=2, n_epochs=2, alpha=1e12, solver="cholesky", random_state=0, num_threads=1
    )
    with pytest.raises(FloatingPointError) as err:
        model.fit(sweep_data())
    assert "np.int64" not in str(err.value)
    assert "system of user 0 " in str(err.value) or "system of item 0 " in str(err.value)
