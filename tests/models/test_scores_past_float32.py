"""A factor fit whose scores would leave float32's range is refused as diverged."""

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import BiasedMF, GradientDescentMF


def _ratings():
    rng = np.random.default_rng(0)
    cells = (rng.random((80, 40)) < 0.3) * rng.integers(1, 6, (80, 40))
    return Interactions.from_dense(cells.astype(float))


def _gd(learning_rate):
    return GradientDescentMF(
        n_factors=8, n_epochs=3, regularization=0.0, learning_rate=learning_rate, random_state=0
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_fit_whose_scores_overflow_float32_is_refused_as_diverged():
    # Before: every factor was finite, so the fit passed; its float32 scores were +inf,
    # -inf and NaN, and evaluate_ranking, recommend and tune took them as a model.
    with pytest.raises(FloatingPointError, match=r"^GradientDescentMF: its scores could pass "):
        _gd(2.0).fit(_ratings())
    with pytest.raises(FloatingPointError, match=r"training diverged — lower learning_rate"):
        _gd(3.0).fit(_ratings())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_fit_with_large_but_representable_scores_is_kept():
    # Far from a good model, but every score is a float32 number: nothing to refuse here.
    model = _gd(1.0).fit(_ratings())
    scores = model.score_users(np.arange(model.n_users))
    assert np.isfinite(scores).all()
    assert np.abs(scores).max() > 1e6


def test_factors_let_through_never_score_past_float32():
    # The check bounds |p.q| by |p| |q|: a model it lets through has no score past float32,
    # one it refuses has factor lengths whose product is past it (factors of many sizes).
    rng = np.random.default_rng(1)
    limit = np.finfo(np.float32).max
    kept = refused = 0
    for scale in (1.0, 1e10, 1e17, 1e18, 1e19, 1e20):
        P = (rng.normal(size=(30, 4)) * scale).astype(np.float32)
        Q = (rng.normal(size=(20, 4)) * scale).astype(np.float32)
        model = BiasedMF(n_factors=4)
        try:
            model._set_state(0.5, np.zeros(30), np.zeros(20), P, Q)
        except FloatingPointError:
            norms = (
                np.linalg.norm(P.astype(np.float64), axis=1).max()
                * np.linalg.norm(Q.astype(np.float64), axis=1).max()
            )
            assert 0.5 + norms > limit
            refused += 1
            continue
        exact = P.astype(np.float64) @ Q.astype(np.float64).T + 0.5
        assert np.abs(exact).max() <= limit
        kept += 1
    assert kept and refused
