"""Thompson sampling: the posterior against a slow reference and the model's fold-in, the
draws' moments against the formulas, and the stage in a pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import latentrec
from latentrec import Interactions
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import Pipeline, Thompson, implicit_posterior, sample_scores
from latentrec.pipeline.thompson import strength


def posterior_reference(Y, items, strengths, alpha, lam):
    """Every item's term written out: confidence 1 + alpha v and preference 1 on the user's
    items, confidence 1 and preference 0 on all others; normal equations solved directly."""
    n_items, k = Y.shape
    A = lam * np.eye(k)
    b = np.zeros(k)
    mine = dict(zip(items, strengths, strict=True))
    for i in range(n_items):
        c = 1.0 + alpha * mine[i] if i in mine else 1.0
        p = 1.0 if i in mine else 0.0
        A += c * np.outer(Y[i], Y[i])
        b += c * p * Y[i]
    return np.linalg.solve(A, b), np.linalg.inv(A)


@pytest.mark.parametrize("seed", range(6))
def test_posterior_matches_the_written_out_normal_equations(seed):
    rng = np.random.default_rng(seed)
    n_items, k = rng.integers(3, 12), rng.integers(1, 5)
    Y = rng.normal(size=(n_items, k))
    items = rng.choice(n_items, size=rng.integers(0, n_items + 1), replace=False).tolist()
    v = rng.random(len(items)) * 4
    alpha, lam = float(rng.random() * 5), float(rng.random() + 0.1)
    mean, cov = implicit_posterior(Y, items, v, alpha, lam)
    want_mean, want_cov = posterior_reference(Y, items, v, alpha, lam)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cov, want_cov, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(cov, cov.T)


@pytest.mark.parametrize("values", ["binary", "stars"])
def test_posterior_mean_is_the_models_folded_in_vector(values):
    rng = np.random.default_rng(1)
    dense = (rng.random((30, 20)) < 0.3) * (
        rng.integers(1, 6, (30, 20)) if values == "stars" else 1
    )
    model = ImplicitALS(n_factors=4, random_state=0, num_threads=1).fit(
        Interactions.from_dense(dense.astype(float))
    )
    assert model.confidence_ == ("log" if values == "stars" else "linear")
    ratings = {3: 5.0, 7: 2.0, 11: 1.0} if values == "stars" else {3: 1.0, 7: 1.0, 11: 1.0}
    idx = model.items_.index(list(ratings))
    v = strength(list(ratings.values()), model.confidence_, model.epsilon_)
    mean, _ = implicit_posterior(model.item_factors_, idx, v, model.alpha_, model.regularization_)
    folded = model.fold_in(ratings).factors
    np.testing.assert_allclose(mean, folded, rtol=2e-4, atol=2e-5)


def test_draws_converge_to_the_score_and_its_variance():
    rng = np.random.default_rng(7)
    Y = rng.normal(size=(6, 3))
    mean, cov = implicit_posterior(Y, [0, 2], [1.0, 3.0], alpha=2.0, regularization=0.5)
    scale = 1.5
    draws = np.array([sample_scores(Y, mean, cov, rng, scale=scale) for _ in range(20_000)])
    want_mean = Y @ mean
    want_var = scale**2 * np.einsum("ik,kl,il->i", Y, cov, Y)
    # Five standard errors of a mean and of a variance (normal draws: var * sqrt(2 / n)).
    np.testing.assert_array_less(
        np.abs(draws.mean(axis=0) - want_mean), 5 * np.sqrt(want_var / len(draws))
    )
    np.testing.assert_array_less(
        np.abs(draws.var(axis=0) - want_var), 5 * want_var * np.sqrt(2 / len(draws))
    )
    # The joint covariance of the scores is Y cov Y^T, not only its diagonal.
    np.testing.assert_allclose(
        np.cov(draws.T), scale**2 * Y @ cov @ Y.T, atol=0.05 * want_var.max()
    )


def test_draws_are_seeded_and_scale_zero_is_the_mean_score():
    Y = np.random.default_rng(0).normal(size=(5, 2))
    mean, cov = implicit_posterior(Y, [1], [1.0], alpha=1.0, regularization=1.0)
    a = sample_scores(Y, mean, cov, np.random.default_rng(4))
    b = sample_scores(Y, mean, cov, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, sample_scores(Y, mean, cov, np.random.default_rng(5)))
    np.testing.assert_allclose(
        sample_scores(Y, mean, cov, np.random.default_rng(4), scale=0.0), Y @ mean
    )
    for scale in (-1.0, np.inf):  # an infinite scale would draw NaN scores
        with pytest.raises(ValueError, match="scale must be a non-negative"):
            sample_scores(Y, mean, cov, np.random.default_rng(4), scale=scale)
    with pytest.raises(ValueError, match="regularization must be above 0"):
        implicit_posterior(Y, [1], [1.0], alpha=1.0, regularization=0.0)
    with pytest.raises(ValueError, match="item_idx must lie in"):
        implicit_posterior(Y, [9], [1.0], alpha=1.0, regularization=1.0)


def small_data(seed=0) -> Interactions:
    rng = np.random.default_rng(seed)
    rows = [
        (u, int(i), float(rng.integers(1, 6)), int(rng.integers(0, 100)) * 86_400)
        for u in range(40)
        for i in rng.choice(30, size=rng.integers(3, 10), replace=False)
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "t"])
    return Interactions.from_frame(frame, timestamp="t")


def test_thompson_slots_keep_the_head_avoid_seen_items_and_reproduce(tmp_path):
    data = small_data()
    model = ImplicitALS(n_factors=3, random_state=0, num_threads=1).fit(data)
    n, share = 8, 0.5
    plain = Pipeline(model, n_candidates=25).fit(data)
    pipe = Pipeline(model, rerankers=[Thompson(share, None, random_state=1)], n_candidates=25)
    pipe = pipe.fit(data)
    users = np.arange(-1, data.n_users)
    head = n - round(share * n)
    a, _, _ = plain.recommend_batch_idx(users, n)
    b, scores, fallback = pipe.recommend_batch_idx(users, n)
    seen = data.matrix.tolil().rows
    for row, user in enumerate(users.tolist()):
        np.testing.assert_array_equal(b[row, :head], a[row, :head])
        listed = b[row][b[row] >= 0].tolist()
        assert len(set(listed)) == len(listed)
        if user >= 0:
            assert not set(listed) & set(seen[user])
    # With slots drawn from the posterior, lists differ from the plain ranking for some
    # users, and the same seed gives the same lists after a save and a load.
    assert (a != b).any()
    path = tmp_path / "thompson.npz"
    pipe.save(path)
    np.testing.assert_array_equal(latentrec.load(path).recommend_batch_idx(users, n)[0], b)
    again = Pipeline(model, rerankers=[Thompson(share, None, random_state=1)], n_candidates=25)
    np.testing.assert_array_equal(again.fit(data).recommend_batch_idx(users, n)[0], b)
    other = Pipeline(model, rerankers=[Thompson(share, None, random_state=2)], n_candidates=25)
    assert (other.fit(data).recommend_batch_idx(users, n)[0] != b).any()
    # Slots among the candidates keep their score (a ranking model has none for fallback rows).
    assert np.isfinite(scores[~fallback][b[~fallback] >= 0]).all()


def test_thompson_posterior_uses_the_training_values():
    data = small_data(3)
    model = ImplicitALS(n_factors=3, random_state=0, num_threads=1).fit(data)
    stage = Pipeline(model, rerankers=[Thompson(0.5, None)]).fit(data).rerankers[0]
    user = 5
    row = data.matrix[user]
    mean, cov = stage.posterior(stage_context(model, data), user)
    v = strength(row.data, model.confidence_, model.epsilon_)
    want = implicit_posterior(
        model.item_factors_, row.indices, v, model.alpha_, model.regularization_
    )
    np.testing.assert_allclose(mean, want[0], rtol=1e-10)
    np.testing.assert_allclose(cov, want[1], rtol=1e-10)
    prior_mean, prior_cov = stage.posterior(stage_context(model, data), -1)
    np.testing.assert_array_equal(prior_mean, np.zeros(3))
    assert np.trace(prior_cov) > np.trace(cov)  # a history only removes uncertainty


def stage_context(model, data):
    return Pipeline(model).fit(data).context_


def test_thompson_needs_an_implicit_als_model_and_ages():
    data = small_data()
    with pytest.raises(ValueError, match="confidence-weighted ALS"):
        Pipeline(Popularity(), rerankers=[Thompson(0.2, None)]).fit(data)
    untimed = Interactions.from_dense(np.eye(4) + np.eye(4, k=1))
    model = ImplicitALS(n_factors=2, random_state=0, num_threads=1)
    with pytest.raises(ValueError, match="needs item ages"):
        Pipeline(model, rerankers=[Thompson(0.2, 30.0)]).fit(untimed)
    with pytest.raises(ValueError, match="share must be a number in"):
        Pipeline(model, rerankers=[Thompson(1.5, None)]).fit(untimed)
    with pytest.raises(ValueError, match="scale must be a non-negative"):
        Pipeline(model, rerankers=[Thompson(0.5, None, scale=-1)]).fit(untimed)
    with pytest.raises(ValueError, match="scale must be a non-negative number, got inf"):
        Pipeline(model, rerankers=[Thompson(0.5, None, scale=np.inf)]).fit(untimed)
    with pytest.raises(ValueError, match="new_days must be a non-negative number or None"):
        Pipeline(model, rerankers=[Thompson(0.5, np.inf)]).fit(untimed)
    with pytest.raises(ValueError, match="random_state must be a non-negative int, got -1"):
        Pipeline(model, rerankers=[Thompson(0.5, None, random_state=-1)]).fit(untimed)


@pytest.mark.parametrize("seed", range(4))
def test_thompson_stage_matches_a_written_out_reference(seed):
    """Head by score, then the slots to the best drawn scores among the rest, the draw
    made from the written-out posterior with the stage's per-user seed."""
    data = small_data(seed)
    model = ImplicitALS(n_factors=3, random_state=0, num_threads=1).fit(data)
    stage = Thompson(0.4, None, scale=0.7, random_state=seed)
    pipe = Pipeline(model, rerankers=[stage], n_candidates=20).fit(data)
    ctx = pipe.context_
    rng = np.random.default_rng(seed)
    n = 10
    for user in (-1, *rng.choice(data.n_users, 5, replace=False).tolist()):
        seen = set(data.matrix[user].indices.tolist()) if user >= 0 else set()
        cands = np.array([i for i in rng.permutation(data.n_items) if i not in seen][:15])
        scores = rng.normal(size=cands.size)
        got = pipe.rerankers[0].rerank(ctx, user, cands, scores, n)
        if user >= 0:
            row = data.matrix[user]
            items = row.indices.tolist()
            v = strength(row.data, model.confidence_, model.epsilon_).tolist()
        else:
            items, v = [], []
        Y = np.asarray(model.item_factors_, dtype=np.float64)
        mean, cov = posterior_reference(Y, items, v, model.alpha_, model.regularization_)
        draw_rng = np.random.default_rng([seed, user + 1])
        drawn = sample_scores(Y[cands], mean, cov, draw_rng, scale=0.7)
        slots = round(0.4 * n)
        by_score = [int(cands[j]) for j in np.argsort(-scores, kind="stable")]
        head = by_score[: n - slots]
        rest = sorted(
            (j for j in range(cands.size) if int(cands[j]) not in head),
            key=lambda j: (-drawn[j], j),
        )
        want = head + [int(cands[j]) for j in rest[:slots]]
        assert got.tolist() == want
