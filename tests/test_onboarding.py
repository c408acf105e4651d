"""Onboarding: the question design against a NumPy reference, onboard's contract, real data."""

import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings, skewed_ratings

import latentrec
from latentrec import UnknownIdError
from latentrec.models import BiasedMF, GlobalMean, ImplicitALS, NotFittedError, Popularity
from latentrec.onboarding import (
    PRIOR_SCALE,
    design_gain,
    onboard,
    onboarding_items,
)


@pytest.fixture(scope="module")
def data():
    return skewed_ratings()


@pytest.fixture(scope="module")
def fitted(data):
    return BiasedMF(n_factors=4, n_epochs=30, random_state=0).fit(data)


def reference_criterion(model, item_ids, criterion):
    """The design criterion straight from its definition, with explicit inverses."""
    Q = model.item_factors_.astype(np.float64)
    X = np.hstack([Q, np.ones((Q.shape[0], 1))]) if np.any(model.user_bias_) else Q
    active = np.count_nonzero(np.diff(model.seen_.indptr))
    rate = model.item_popularity_.astype(np.float64) / active
    W = sum(r * np.outer(x, x) for r, x in zip(rate, X, strict=True)) / rate.sum()
    lam = PRIOR_SCALE * np.trace(W)
    A0 = lam * np.eye(X.shape[1])
    A = A0.copy()
    for j in model.items_.index(list(item_ids)):
        A += rate[j] * np.outer(X[j], X[j])
    if criterion == "logdet":
        return np.linalg.slogdet(A)[1] - np.linalg.slogdet(A0)[1]
    return 1 - np.trace(W @ np.linalg.inv(A)) / np.trace(W @ np.linalg.inv(A0))


def model_arrays(model):
    arrays = {name: getattr(model, name).copy() for name in model._array_state}
    arrays["seen"] = model.seen_.toarray()
    arrays["popularity"] = model.item_popularity_.copy()
    arrays["users"] = model.users_.ids.copy()
    return arrays


# ---------------------------------------------------------------------------- questions
def test_questions_are_distinct_popular_and_deterministic(data, fitted):
    q = onboarding_items(fitted, k=5)
    assert q.columns.tolist() == ["item_id", "title", "popularity", "answer_rate", "gain"]
    assert q["item_id"].is_unique and len(q) == 5
    counts = data.item_counts()
    # Default pool: the top 15% of rated items by number of ratings.
    threshold = np.sort(counts)[::-1][int(np.ceil(0.15 * np.count_nonzero(counts))) - 1]
    assert (q["popularity"] >= threshold).all()
    assert q["popularity"].tolist() == counts[data.items.index(q["item_id"])].tolist()
    assert q["title"].tolist() == [f"film {i - 100}" for i in q["item_id"]]
    assert np.all(np.diff(q["gain"]) <= 1e-12)  # diminishing returns
    again = BiasedMF(n_factors=4, n_epochs=30, random_state=0).fit(data)
    pd.testing.assert_frame_equal(onboarding_items(again, k=5), q)


def test_pool_options(data, fitted):
    counts = data.item_counts()
    q = onboarding_items(fitted, k=6, min_ratings=20)
    assert (q["popularity"] >= 20).all()
    allowed = [100, 103, 105, 110, 120, 130]
    q = onboarding_items(fitted, k=10, candidates=allowed)
    assert sorted(q["item_id"]) == sorted(i for i in allowed if counts[i - 100] > 0)
    first = onboarding_items(fitted, k=3)["item_id"].tolist()
    later = onboarding_items(fitted, k=3, exclude=first)["item_id"].tolist()
    assert not set(first) & set(later)
    with pytest.raises(UnknownIdError):
        onboarding_items(fitted, exclude=[999])
    with pytest.raises(ValueError, match="min_ratings"):
        onboarding_items(fitted, min_ratings=-1)
    with pytest.raises(ValueError, match="criterion"):
        onboarding_items(fitted, criterion="aopt")
    with pytest.raises(ValueError, match=r"k \(the number of questions\)"):
        onboarding_items(fitted, k=0)


@pytest.mark.parametrize("criterion", ["variance", "logdet"])
def test_criterion_matches_reference_and_gains_add_up(fitted, criterion):
    q = onboarding_items(fitted, k=5, criterion=criterion)
    total = design_gain(fitted, q["item_id"], criterion=criterion)
    assert total == pytest.approx(reference_criterion(fitted, q["item_id"], criterion), rel=1e-9)
    assert q["gain"].sum() == pytest.approx(total, rel=1e-9)
    for m in range(1, 5):
        prefix = q["item_id"][:m]
        assert q["gain"][:m].sum() == pytest.approx(
            reference_criterion(fitted, prefix, criterion), rel=1e-9
        )


@pytest.mark.parametrize("criterion", ["variance", "logdet"])
def test_greedy_first_pick_is_the_best_single_item(fitted, criterion):
    pool = onboarding_items(fitted, k=100, criterion=criterion)["item_id"]
    singles = {j: reference_criterion(fitted, [j], criterion) for j in pool}
    best = max(singles, key=singles.get)
    assert pool.iloc[0] == best


@pytest.mark.parametrize("criterion", ["variance", "logdet"])
def test_greedy_design_beats_random_popular_questions(fitted, criterion):
    q = onboarding_items(fitted, k=5, criterion=criterion)
    pool = onboarding_items(fitted, k=100, criterion=criterion)["item_id"].to_numpy()
    assert pool.size >= 6
    ours = design_gain(fitted, q["item_id"], criterion=criterion)
    rng = np.random.default_rng(0)
    random_sets = [rng.choice(pool, 5, replace=False) for _ in range(30)]
    theirs = [design_gain(fitted, s, criterion=criterion) for s in random_sets]
    assert ours > max(theirs)
    # Not the popularity ranking in disguise: the k most popular items score lower.
    top = pool[np.argsort(-fitted.item_popularity_[fitted.items_.index(pool)], kind="stable")]
    assert ours > design_gain(fitted, top[:5], criterion=criterion)


def test_logdet_greedy_is_within_the_submodular_bound_of_the_best_pair():
    data = random_ratings(n_users=40, n_items=10, density=0.5, seed=3)
    model = BiasedMF(n_factors=3, n_epochs=30, random_state=0).fit(data)
    pool = onboarding_items(model, k=10, min_ratings=1, criterion="logdet")["item_id"]
    best = max(
        design_gain(model, list(pair), criterion="logdet")
        for pair in itertools.combinations(pool, 2)
    )
    greedy = design_gain(model, pool[:2], criterion="logdet")
    assert greedy >= (1 - 1 / np.e) * best


def test_models_without_biases_or_factors():
    data = skewed_ratings(n_users=60, n_items=20, seed=1)
    implicit = ImplicitALS(n_factors=4, n_epochs=5, random_state=0).fit(data)
    q = onboarding_items(implicit, k=3, criterion="logdet")
    # No user bias: x_j = q_j, and the criterion still matches its definition.
    assert design_gain(implicit, q["item_id"], criterion="logdet") == pytest.approx(
        reference_criterion(implicit, q["item_id"], "logdet"), rel=1e-9
    )
    flat = GlobalMean().fit(data)
    q = onboarding_items(flat, k=4, min_ratings=1)
    order = np.argsort(-data.item_counts(), kind="stable")[:4]
    assert q["item_id"].tolist() == data.items.ids[order].tolist()
    assert (q["gain"] == 0).all()


def test_needs_a_fitted_factor_model(data):
    with pytest.raises(TypeError, match="FactorModel"):
        onboarding_items(Popularity().fit(data))
    with pytest.raises(NotFittedError):
        onboarding_items(BiasedMF())
    with pytest.raises(TypeError, match="FactorModel"):
        onboard(Popularity().fit(data), {100: 5})


# ---------------------------------------------------------------------------- onboard
def test_onboard_leaves_the_model_unchanged(data):
    model = BiasedMF(n_factors=4, n_epochs=30, random_state=0).fit(data)
    before = model_arrays(model)
    answers = {100: 5, 101: 1, 104: 4}
    rec = onboard(model, answers, n=8)
    assert len(rec.ids) == 8 and not rec.fallback
    after = model_arrays(model)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_onboard_equals_adding_the_user(data):
    answers = {100: 5, 101: 1, 104: 4, 107: 2}
    model = BiasedMF(n_factors=4, n_epochs=30, random_state=0).fit(data)
    rec = onboard(model, answers, n=10)
    vec = model.fold_in(answers)
    scores = model.global_mean_ + vec.bias + model.item_bias_ + model.item_factors_ @ vec.factors
    expected = [i for i in np.argsort(-scores, kind="stable") if i not in (0, 1, 4, 7)][:10]
    assert rec.ids.tolist() == data.items.ids[expected].tolist()
    np.testing.assert_allclose(rec.scores, scores[expected], rtol=1e-5)
    assert rec.titles.tolist() == [f"film {i - 100}" for i in rec.ids]

    added = onboard(model, answers, n=10, user_id=9999)
    assert added.ids.tolist() == rec.ids.tolist()
    np.testing.assert_allclose(added.scores, rec.scores, rtol=1e-5)
    assert model.n_users == data.n_users + 1


def test_answered_items_are_never_recommended(data, fitted):
    answers = {100: 5, 102: 3, 105: 1}
    rec = onboard(fitted, answers, n=data.n_items)
    assert len(rec.ids) == data.n_items - 3
    assert not set(rec.ids) & set(answers)
    rec = onboard(fitted, answers, n=5, items=[100, 101, 102, 103], filter_items=[103])
    assert rec.ids.tolist() == [101]
    rec = onboard(fitted, [100, 102], n=5)  # item ids only: every value 1.0
    assert not set(rec.ids) & {100, 102}


def test_onboard_with_user_id_can_be_recommended_saved_and_loaded(data, tmp_path):
    model = BiasedMF(n_factors=4, n_epochs=30, random_state=0).fit(data)
    answers = {100: 5, 101: 1, 104: 4}
    rec = onboard(model, answers, n=5, user_id=9999)
    assert model.recommend(9999, n=5).ids.tolist() == rec.ids.tolist()
    assert model.predict([9999], [110]).shape == (1,)
    assert model.explain(9999, 110).user_id == 9999
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = latentrec.load(path)
    assert loaded.recommend(9999, n=5).ids.tolist() == rec.ids.tolist()
    assert not set(loaded.recommend(9999, n=data.n_items).ids) & set(answers)
    with pytest.raises(ValueError, match="already has a history"):
        onboard(model, answers, user_id=9999)
    with pytest.raises(ValueError, match="already has a history"):
        onboard(model, answers, user_id=0)


def test_unknown_and_missing_answers(data, fitted):
    with pytest.raises(UnknownIdError):
        onboard(fitted, {100: 5, 999: 4})
    kept = onboard(fitted, {100: 5, 999: 4}, unknown="ignore")
    assert kept.ids.tolist() == onboard(fitted, {100: 5}).ids.tolist()
    popular = fitted.recommend("nobody", n=4)
    for empty in ({}, {999: 4}):
        rec = onboard(fitted, empty, n=4, unknown="ignore")
        assert rec.fallback and rec.ids.tolist() == popular.ids.tolist()
    n_users = fitted.n_users
    rec = onboard(fitted, {999: 4}, n=4, unknown="ignore", user_id="ghost")
    assert rec.fallback and fitted.n_users == n_users
    with pytest.raises(ValueError, match="outside"):
        onboard(fitted, {100: 9})
    with pytest.raises(ValueError, match="unknown must be"):
        onboard(fitted, {100: 5}, unknown="skip")


def test_onboard_implicit_model():
    data = skewed_ratings(n_users=60, n_items=20, seed=1)
    model = ImplicitALS(n_factors=4, n_epochs=5, random_state=0).fit(data)
    before = model_arrays(model)
    rec = onboard(model, {100: 5, 103: 4}, n=5)
    assert len(rec.ids) == 5 and not {100, 103} & set(rec.ids)
    for name, arr in model_arrays(model).items():
        np.testing.assert_array_equal(arr, before[name], err_msg=name)


# ---------------------------------------------------------------------------- benchmark


@pytest.mark.parametrize("k", [0, -2, 2.0, True])
def test_a_bad_number_of_questions_is_named_k(fitted, k):
    # It used to be refused as "n must be a positive integer": there is no n here.
    with pytest.raises(ValueError, match=r"^k \(the number of questions\)"):
        onboarding_items(fitted, k)
