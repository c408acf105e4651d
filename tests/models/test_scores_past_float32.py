"""A factor model whose scores would leave float32's range is refused, however it comes to
be: a fit (as diverged), ``from_factors`` (naming the arguments), a model file (naming
the file) and a fold-in (naming the user or item, as diverged)."""

import numpy as np
import pandas as pd
import pytest

import latentrec
from latentrec import Interactions, ModelFileError
from latentrec.models import BiasedMF, FactorModel, GradientDescentMF
from latentrec.models.onboarding import onboard
from latentrec.models.persistence import scores_past_float32


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


# ------------------------------------------------------------ every other way a model comes
def test_the_shared_bound_never_lets_through_a_score_past_float32():
    # Against the exact scores in float64, biases included, at sizes around the limit.
    rng = np.random.default_rng(2)
    limit = float(np.finfo(np.float32).max)
    kept = refused = 0
    for scale in (1.0, 1e18, 3e18, 1e19, 3e19, 1e20):
        P, Q = rng.normal(size=(7, 3)) * scale, rng.normal(size=(5, 3)) * scale
        bu, bi = rng.normal(size=7) * 1e37, rng.normal(size=5) * 1e37
        exact = np.abs(P @ Q.T + bu[:, None] + bi[None, :] + 2.0).max()
        past = scores_past_float32(2.0, (bu, P), (bi, Q))
        if past is None:
            assert exact <= limit
            kept += 1
        else:
            base, user_len, item_len = past
            assert base + user_len * item_len > limit
            assert user_len == pytest.approx(np.linalg.norm(P, axis=1).max())
            refused += 1
    assert kept and refused


def test_from_factors_refuses_factors_or_biases_that_score_past_float32():
    # Before: each value was finite, so the model was made; its recommend listed +inf
    # ties in item order.
    ids = (["ann"], ["a", "b"])
    with pytest.raises(FloatingPointError, match=r"^user_factors and item_factors have rows"):
        FactorModel.from_factors(ids, [[1e20, 0.0], [0.0, 1.0]], [[1e20, 1.0]])
    with pytest.raises(FloatingPointError, match=r"^global_mean, user_bias and item_bias add"):
        FactorModel.from_factors(ids, np.eye(2), global_mean=3e38, item_bias=[3e38, 0.0])
    # Large but in range: kept.
    model = FactorModel.from_factors(ids, [[1e19, 0.0], [0.0, 1.0]], [[1e19, 1.0]])
    assert np.isfinite(model.score_users([0])).all()


def test_a_model_file_whose_scores_pass_float32_is_refused_naming_the_file(tmp_path):
    model = BiasedMF(n_factors=4, n_epochs=2, random_state=0).fit(_ratings())
    huge = model.fitted_.evolve(
        user_factors_=np.full_like(model.user_factors_, 1e20),
        item_factors_=np.full_like(model.item_factors_, 1e20),
    )
    model._swap(huge)  # as a diverged fit saved before the fit checked, or an edited file
    path = tmp_path / "huge.npz"
    model.save(path)
    # Before: every array was finite, so it loaded, and its lists were +inf ties.
    with pytest.raises(ModelFileError, match=r"huge\.npz holds a BiasedMF that cannot score"):
        latentrec.load(path)


def _tiny_and_huge_items():
    # A fold-in against a tiny item vector with no penalty gives a huge (finite) user,
    # p = r / q, whose score against the large item is past float32's range.
    items = [[1e-20, 0.0], [1e20, 0.0], [0.0, 1.0]]
    return FactorModel.from_factors(
        (["u"], ["a", "b", "c"]), items, [[1.0, 1.0]], regularization=0.0
    )


def test_a_fold_in_whose_scores_pass_float32_is_refused_as_diverged():
    # Before: the user was added, and recommend listed 'b' at +inf.
    model = _tiny_and_huge_items()
    new = pd.DataFrame({"user_id": ["new"], "item_id": ["a"], "rating": [5.0]})
    with pytest.raises(FloatingPointError, match=r"fold-in of user 'new' diverged"):
        model.partial_fit_users(new)
    assert model.n_users == 1  # nothing swapped in
    with pytest.raises(FloatingPointError, match=r"fold-in of the user diverged"):
        model.fold_in({"a": 5.0})
    with pytest.raises(FloatingPointError, match=r"fold-in of the user in row 0 diverged"):
        onboard(model, {"a": 5.0}, n=2)


def test_an_item_fold_in_whose_scores_pass_float32_is_refused_as_diverged():
    model = FactorModel.from_factors(
        (["u", "w"], ["a"]), [[1.0, 1.0]], [[1e-20, 0.0], [1e20, 0.0]], regularization=0.0
    )
    new = pd.DataFrame({"user_id": ["u"], "item_id": ["z"], "rating": [5.0]})
    with pytest.raises(FloatingPointError, match=r"fold-in of item 'z' diverged: its factors"):
        model.partial_fit_items(new)
    assert model.n_items == 1


def test_a_fold_in_against_huge_but_finite_items_is_kept():
    # Huge fixed vectors give a small folded one (p = r / q): its scores are in range.
    model = FactorModel.from_factors(
        (["u"], ["a", "b"]), [[1e25, 0.0], [0.0, 1e25]], global_mean=3.0, item_bias=[0, 0]
    )
    model.partial_fit_users(pd.DataFrame({"user_id": ["n"], "item_id": ["a"], "rating": [5.0]}))
    scores = model.score_users([1])
    assert np.isfinite(scores).all() and scores.max() == pytest.approx(5.0, rel=1e-3)
