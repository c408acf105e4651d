"""Blending: ridge weights against NumPy's closed forms, complementary members, model API."""

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings

import latentrec
from latentrec import Interactions
from latentrec.data.splits import random_split
from latentrec.evaluation import ndcg_at_k
from latentrec.evaluation.evaluate import evaluate_ranking, evaluate_ratings
from latentrec.models import BiasedMF, Biases, GlobalMean, NotFittedError, Popularity
from latentrec.models.blend import Blend, blend


@pytest.fixture(scope="module")
def planted():
    """r = 3 + a_u + c_i + noise: one member sees only a_u, the other only c_i."""
    rng = np.random.default_rng(0)
    n_users, n_items = 80, 60
    a = rng.normal(0, 0.8, n_users)
    c = rng.normal(0, 0.8, n_items)
    u, i = np.nonzero(rng.random((n_users, n_items)) < 0.5)
    r = 3 + a[u] + c[i] + rng.normal(0, 0.1, u.size)
    data = Interactions.from_frame(pd.DataFrame({"user_id": u, "item_id": i, "rating": r}))
    train, rest = random_split(data, 0.4, random_state=0)
    held_out, test = random_split(rest, 0.5, random_state=1)
    users_only = Biases(regularization=1e9, user_regularization=0.0).fit(train)
    items_only = Biases(regularization=0.0, user_regularization=1e9).fit(train)
    return train, held_out, test, users_only, items_only


@pytest.fixture(scope="module")
def mixed():
    """Three different members on small planted low-rank data."""
    data = random_ratings(n_users=50, n_items=30, density=0.4, seed=2)
    train, held_out = random_split(data, 0.3, random_state=0)
    members = [
        BiasedMF(n_factors=3, n_epochs=30, learning_rate=0.05, random_state=0).fit(train),
        Biases().fit(train),
        BiasedMF(n_factors=2, n_epochs=10, random_state=1).fit(train),
    ]
    return train, held_out, members


def _stacked(members, part):
    return np.column_stack([m._predict_idx(part.user_idx, part.item_idx) for m in members])


def test_weights_equal_least_squares_without_penalty(mixed):
    _, held_out, members = mixed
    fitted = blend(members, held_out, alpha=0.0)
    X = _stacked(members, held_out).astype(np.float64)
    A = np.column_stack([np.ones(len(X)), X])
    coef = np.linalg.lstsq(A, held_out.ratings.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(fitted.intercept_, coef[0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fitted.weights_, coef[1:], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 10.0, 1e4])
def test_weights_equal_the_ridge_closed_form_with_an_unpenalised_intercept(mixed, alpha):
    _, held_out, members = mixed
    fitted = blend(members, held_out, alpha=alpha)
    X = _stacked(members, held_out).astype(np.float64)
    y = held_out.ratings.astype(np.float64)
    A = np.column_stack([np.ones(len(X)), X])
    penalty = alpha * np.diag([0.0, 1.0, 1.0, 1.0])
    coef = np.linalg.solve(A.T @ A + penalty, A.T @ y)
    np.testing.assert_allclose(fitted.intercept_, coef[0], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fitted.weights_, coef[1:], rtol=1e-7, atol=1e-9)


def test_a_huge_penalty_shrinks_weights_to_zero_and_predicts_the_mean(mixed):
    _, held_out, members = mixed
    fitted = blend(members, held_out, alpha=1e12)
    assert np.abs(fitted.weights_).max() < 1e-6
    assert fitted.intercept_ == pytest.approx(held_out.ratings.mean(), abs=1e-4)


def test_complementary_members_blend_better_than_either(planted):
    _, held_out, test, users_only, items_only = planted
    fitted = blend([users_only, items_only], held_out)
    # Both members include μ, so the exact combination is 1·users + 1·items − μ.
    np.testing.assert_allclose(fitted.weights_, [1.0, 1.0], atol=0.1)
    for part in (held_out, test):  # the blending set itself and unseen cells
        scores = [evaluate_ratings(m, part)["rmse"] for m in (users_only, items_only, fitted)]
        assert scores[2] < 0.5 * min(scores[:2])
    assert fitted.blend_rmse_ < 0.5 * fitted.member_rmse_.min()
    assert fitted.member_rmse_.shape == (2,)


def test_predict_combines_member_predictions(mixed):
    train, _, members = mixed
    fitted = blend(members, mixed[1])
    users = train.users.ids[[0, 3, 7, 7]]
    items = train.items.ids[[1, 2, 0, 5]]
    expected = fitted.intercept_ + sum(
        w * m.predict(users, items) for w, m in zip(fitted.weights_, members, strict=True)
    )
    np.testing.assert_allclose(fitted.predict(users, items), expected, rtol=1e-12)
    clipped = fitted.predict(users, items, clip=True)
    assert clipped.min() >= 1 and clipped.max() <= 5


def test_scores_for_ranking_equal_predictions(mixed):
    train, held_out, members = mixed
    fitted = blend(members, held_out)
    u = np.array([0, 4, 9], dtype=np.int32)
    scores = fitted._score_block(u)
    grid_u = np.repeat(u, fitted.n_items)
    grid_i = np.tile(np.arange(fitted.n_items, dtype=np.int32), u.size)
    expected = fitted._predict_idx(grid_u, grid_i).reshape(u.size, -1)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-4)
    recs = fitted.recommend(train.users.ids[0], n=5)
    seen = set(train.items.ids[train.matrix[0].indices].tolist())
    assert len(recs.ids) == 5 and not seen & set(recs.ids.tolist())
    assert np.all(np.diff(recs.scores) <= 0)


def test_evaluate_ratings_and_ranking_work_on_a_blend(planted):
    train, held_out, test, users_only, items_only = planted
    fitted = blend([users_only, items_only], held_out)
    scores = evaluate_ratings(fitted, test)
    pred = fitted.predict(test.users.ids[test.user_idx], test.items.ids[test.item_idx])
    if fitted.rating_scale_ is not None:
        pred = np.clip(pred, *fitted.rating_scale_)
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean((pred - test.ratings) ** 2)))
    assert scores["n"] == test.nnz
    ranking = evaluate_ranking(fitted, test, k=5)
    assert 0 <= ranking["ndcg"] <= 1
    # The figure is the blend's own top 5 scored on every user with a held-out cell ...
    users = np.flatnonzero(test.user_counts() > 0).astype(np.int32)
    top = fitted.recommend_batch_idx(users, 5)[0]
    relevant = test.matrix[users]
    assert ranking["n_users"] == users.size
    assert ranking["ndcg"] == pytest.approx(ndcg_at_k(top, relevant, 5), abs=1e-12)
    # ... and NDCG computed by hand from those lists gives it too.
    by_hand = []
    for row, u in zip(top, users, strict=True):
        held = set(test.matrix[u].indices.tolist())
        dcg = sum(1 / np.log2(r + 2) for r, i in enumerate(row) if i in held)
        ideal = sum(1 / np.log2(r + 2) for r in range(min(len(held), 5)))
        by_hand.append(dcg / ideal)
    assert ranking["ndcg"] == pytest.approx(np.mean(by_hand), abs=1e-12)


def test_unknown_ids_fall_back_through_the_members(mixed):
    train, held_out, members = mixed
    fitted = blend(members, held_out)
    out = fitted.predict(["nobody"], [train.items.ids[0]], unknown="baseline")
    expected = fitted.intercept_ + sum(
        w * m.predict(["nobody"], [train.items.ids[0]], unknown="baseline")
        for w, m in zip(fitted.weights_, members, strict=True)
    )
    np.testing.assert_allclose(out, expected)
    with pytest.raises(latentrec.UnknownIdError):
        fitted.predict(["nobody"], [train.items.ids[0]])


def test_save_is_refused_and_from_weights_rebuilds_from_saved_members(mixed, tmp_path):
    train, held_out, members = mixed
    fitted = blend(members, held_out)
    with pytest.raises(NotImplementedError, match="from_weights"):
        fitted.save(tmp_path / "blend.npz")
    assert not (tmp_path / "blend.npz").exists()
    loaded = []
    for k, m in enumerate(members):
        m.save(tmp_path / f"m{k}.npz")
        loaded.append(latentrec.load(tmp_path / f"m{k}.npz"))
    rebuilt = Blend.from_weights(loaded, fitted.weights_, fitted.intercept_)
    np.testing.assert_allclose(
        rebuilt._predict_idx(held_out.user_idx, held_out.item_idx),
        fitted._predict_idx(held_out.user_idx, held_out.item_idx),
        rtol=1e-6,
    )


def test_from_weights_checks_its_input(mixed):
    _, _, members = mixed
    with pytest.raises(ValueError, match="one per model"):
        Blend.from_weights(members, [1.0, 2.0])
    with pytest.raises(ValueError, match="intercept"):
        Blend.from_weights(members, [1.0, 0.0, 0.0], float("nan"))


def test_unfitted_blend_raises_not_fitted(mixed):
    _, _, members = mixed
    with pytest.raises(NotFittedError):
        Blend(members).predict([0], [0])
    assert not Blend(members).clone().is_fitted
    assert Blend(members, alpha=3.0).clone().get_params()["alpha"] == 3.0


def test_bad_members_and_arguments_are_errors(mixed, seed_data):
    train, held_out, members = mixed
    cases = [
        ([], {}, ValueError, "non-empty list"),
        (members[0], {}, ValueError, "non-empty list"),
        ([members[0], "x"], {}, TypeError, r"models\[1\]"),
        ([members[0], Biases()], {}, ValueError, r"models\[1\] \(Biases\) is not fitted"),
        ([Popularity().fit(train)], {}, ValueError, "does not predict ratings"),
        ([members[0], GlobalMean().fit(seed_data)], {}, ValueError, "other vocabularies"),
        (members, {"alpha": -1.0}, ValueError, "alpha"),
        (members, {"alpha": float("inf")}, ValueError, "alpha"),
    ]
    for models, kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            blend(models, held_out, **kwargs)
    with pytest.raises(ValueError, match="vocabularies"):
        blend(members, seed_data)
    with pytest.raises(ValueError, match="validation must be None"):
        Blend(members).fit(held_out, held_out)
    with pytest.raises(TypeError, match="Interactions"):
        Blend(members).fit(held_out.to_frame())


def test_a_blending_set_with_training_cells_is_refused(mixed):
    # Before: blending on the members' own training cells was accepted, and the ridge
    # trusted the member that fits them best (the unregularised one): on MovieLens-100K
    # the blend's held-out RMSE went from 0.923 (blended on held-out cells) to 1.042.
    train, held_out, members = mixed
    with pytest.raises(
        ValueError, match=rf"shares {train.nnz} of its {train.nnz} cells .*models\[0\] \(BiasedMF\)"
    ):
        blend(members, train)
    # Every member is checked; the message names the one that saw the cells.
    other = Biases().fit(held_out)
    n = held_out.nnz
    with pytest.raises(ValueError, match=rf"shares {n} of its {n} cells .*models\[1\] \(Biases\)"):
        Blend([members[0], other]).fit(held_out)
    assert blend(members, held_out).is_fitted  # held-out cells: blended as before
