"""Behaviour every model shares (STYLE.md #11): one suite, run on each algorithm."""

import functools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import latentrec
from latentrec import Interactions, UnknownIdError
from latentrec.models import (
    BiasedMF,
    CannotRankError,
    NotFittedError,
    Popularity,
    PredictsNoRatingsError,
)
from latentrec.registry import model_class, model_names

# Every registered model is tested: small sizes and one thread keep the suite fast, as
# behaviour, not accuracy, is checked here.  A new model whose hyperparameters use the
# usual names needs no entry; these classes need settings of their own.
SMALL = {"n_factors": 4, "n_epochs": 10, "random_state": 0, "num_threads": 1}
OVERRIDES = {
    "GradientDescentMF": {"n_factors": 3, "n_epochs": 200},
    "BiasedMF": {"n_epochs": 30},
    "ALS": {"n_epochs": 3},
    "BayesianMF": {"n_factors": 3, "n_samples": 20, "burn_in": 10},
    "TruncatedSVD": {"n_factors": 3},
    "NMF": {"n_epochs": 20},
    "ImplicitALS": {"n_epochs": 5},
    "HybridMF": {"n_epochs": 5, "num_threads": None},
    "SVDpp": {"n_epochs": 30},
}
# Registered models this suite cannot cover, and why (a test checks the list stays true).
EXCLUDED = {
    "Blend": "combines other fitted models; tested in tests/evaluation/test_blend.py",
    "FactorModel": "made from factors, not fitted; tested in tests/models/test_fitted_state.py",
}


def make_model(name: str):
    """A small, seeded instance of the registered model ``name``."""
    cls = model_class(name)
    params = set(cls.param_names())
    given = {k: v for k, v in {**SMALL, **OVERRIDES.get(name, {})}.items() if k in params}
    return cls(**{k: v for k, v in given.items() if v is not None})


# The package's own models (tests elsewhere register subclasses of their own).
PACKAGE_MODELS = {n for n in model_names() if model_class(n).__module__.startswith("latentrec.")}
FACTORIES = {name: functools.partial(make_model, name) for name in PACKAGE_MODELS - set(EXCLUDED)}


def test_every_registered_model_is_in_the_suite():
    assert PACKAGE_MODELS == set(FACTORIES) | set(EXCLUDED)
    assert len(FACTORIES) >= 15


MODELS = pytest.mark.parametrize("name", sorted(FACTORIES))
# Models whose scores cannot order items (one score for every item): their ranked lists
# for known users are refused (CannotRankError), tested below; the list tests skip them.
UNORDERED = {"GlobalMean"}
RANKERS = pytest.mark.parametrize("name", sorted(set(FACTORIES) - UNORDERED))


@pytest.fixture(scope="module")
def fitted(request):
    from conftest import random_ratings

    data = random_ratings()
    return data, {name: make().fit(data) for name, make in FACTORIES.items()}


@MODELS
def test_fit_returns_self_and_sets_state(name, fitted):
    data, models = fitted
    model = models[name]
    assert model.is_fitted
    assert model.users_ == data.users and model.items_ == data.items
    assert model.seen_.nnz == data.nnz


@MODELS
def test_unfitted_model_raises_not_fitted(name):
    model = FACTORIES[name]()
    with pytest.raises(NotFittedError) as info:
        model.recommend("u0")
    assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)
    assert "fit" in str(info.value)


@MODELS
def test_init_only_stores_params_and_clone_round_trips(name):
    model = FACTORIES[name]()
    params = model.get_params()
    assert model.clone().get_params() == params
    assert not model.is_fitted
    with pytest.raises(ValueError, match="no hyperparameter"):
        model.set_params(not_a_param=1)


@MODELS
def test_fit_rejects_non_interactions(name):
    # A table needs its column names said (Interactions.from_frame); a matrix does not.
    with pytest.raises(TypeError, match="Interactions"):
        FACTORIES[name]().fit(pd.DataFrame({"u": [0, 1], "i": [1, 0]}))


@RANKERS
def test_fit_takes_a_sparse_matrix_or_an_array_as_interactions(name):
    rng = np.random.default_rng(4)
    dense = rng.integers(1, 6, (12, 9)) * (rng.random((12, 9)) < 0.5)
    dense[np.arange(12), np.arange(12) % 9] = 3  # every user rated something
    reference = FACTORIES[name]().fit(Interactions.from_dense(dense))
    users = np.arange(12)
    expected = reference.recommend_batch(users, n=3)
    for matrix in (sp.csr_matrix(dense), dense):
        model = FACTORIES[name]().fit(matrix)
        pd.testing.assert_frame_equal(model.recommend_batch(users, n=3), expected)


@MODELS
def test_predict_matches_scores_and_is_vectorised(name, fitted):
    data, models = fitted
    model = models[name]
    if not model.predicts_ratings:
        # Both kinds, as predict always raised TypeError and evaluate_ratings ValueError.
        for kind in (TypeError, ValueError, PredictsNoRatingsError):
            with pytest.raises(kind, match="does not predict ratings"):
                model.predict(["u0"], [100])
        return
    users = data.users.ids[[0, 1, 2, 0]]
    items = data.items.ids[[0, 5, 3, 7]]
    pred = model.predict(users, items)
    assert pred.shape == (4,) and pred.dtype == np.float64
    one_by_one = [model.predict([u], [i])[0] for u, i in zip(users, items, strict=True)]
    np.testing.assert_allclose(pred, one_by_one)
    # Scores used for ranking are the same function as predict.
    block = model._score_block(np.array([0, 1], dtype=np.int32))
    np.testing.assert_allclose(block[0, 0], pred[0], rtol=1e-5)
    np.testing.assert_allclose(block[1, 5], pred[1], rtol=1e-5)


@MODELS
def test_predict_unknown_ids(name, fitted):
    data, models = fitted
    model = models[name]
    if not model.predicts_ratings:
        return
    with pytest.raises(UnknownIdError, match="nobody"):
        model.predict(["nobody"], [100])
    with pytest.raises(UnknownIdError, match="999"):
        model.predict(["u0"], [999])
    base = model.predict(["nobody", "u0"], [100, 999], unknown="baseline")
    assert np.isfinite(base).all()
    # An unknown user gets μ + b_i: exactly the item's baseline without personalisation;
    # a model without μ (unbiased NMF) starts from the training mean, never from 0.
    if hasattr(model, "item_bias_"):
        mu = model.global_mean_ or model.rating_mean_
        assert base[0] == pytest.approx(mu + model.item_bias_[0], abs=1e-5)
    neither = model.predict(["nobody"], [999], unknown="baseline")[0]
    assert neither == pytest.approx(data.global_mean(), abs=1e-5)


@MODELS
def test_predict_clip(name, fitted):
    data, models = fitted
    model = models[name]
    if not model.predicts_ratings:
        return
    users = np.repeat(data.users.ids, data.n_items)
    items = np.tile(data.items.ids, data.n_users)
    clipped = model.predict(users, items, clip=True)
    assert clipped.min() >= 1 and clipped.max() <= 5


@RANKERS
def test_recommend_excludes_seen_and_batch_equals_one_by_one(name, fitted):
    data, models = fitted
    model = models[name]
    users = data.users.ids[:8]
    batch = model.recommend_batch(users, n=5)
    for u in users:
        ids, scores = model.recommend(u, n=5)
        seen = set(data.items.ids[data.matrix[data.users.index([u])[0]].indices].tolist())
        assert not seen & set(ids.tolist())
        assert np.all(np.diff(scores) <= 1e-6)
        rows = batch[batch["user_id"] == u]
        assert rows["item_id"].tolist() == ids.tolist()
        # atol: ranking models score near 0, where BLAS rounding differs by ~1e-9.
        np.testing.assert_allclose(rows["score"].to_numpy(), scores, rtol=1e-6, atol=1e-6)
        assert rows["rank"].tolist() == list(range(1, len(ids) + 1))


@RANKERS
def test_recommend_more_than_exist_returns_fewer(name, fitted):
    data, models = fitted
    model = models[name]
    u = data.users.ids[0]
    n_seen = data.user_counts()[0]
    ids, _ = model.recommend(u, n=10_000)
    assert len(ids) == data.n_items - n_seen
    ids_all, _ = model.recommend(u, n=10_000, exclude_seen=False)
    assert len(ids_all) == data.n_items


@RANKERS
def test_recommend_candidates_and_filters(name, fitted):
    data, models = fitted
    model = models[name]
    u = data.users.ids[3]
    candidates = data.items.ids[:6]
    ids, _ = model.recommend(u, n=10, items=candidates, exclude_seen=False)
    assert set(ids.tolist()) == set(candidates.tolist())
    first = model.recommend(u, n=3).ids
    ids, _ = model.recommend(u, n=3, filter_items=first[:1])
    assert first[0] not in ids


@RANKERS
def test_unknown_user_falls_back_to_popularity(name, fitted):
    data, models = fitted
    model = models[name]
    rec = model.recommend("stranger", n=3)
    assert rec.fallback
    top = np.argsort(-data.item_counts(), kind="stable")[:3]
    assert rec.ids.tolist() == data.items.ids[top].tolist()
    known = model.recommend(data.users.ids[0], n=3)
    assert not known.fallback
    batch = model.recommend_batch(["stranger", data.users.ids[0]], n=3)
    assert batch.groupby("user_id")["fallback"].first().to_dict() == {
        "stranger": True,
        data.users.ids[0]: False,
    }


@MODELS
def test_lists_are_refused_only_where_the_scores_cannot_order_items(name, fitted, tmp_path):
    data, models = fitted
    model = models[name]
    assert getattr(model, "orders_items", True) == (name not in UNORDERED)
    if name not in UNORDERED:
        return
    known = data.users.ids[0]
    refused = [
        lambda: model.recommend(known, n=3),
        lambda: model.recommend_batch(["stranger", known], n=3),
        lambda: model.recommend_all(tmp_path / "all.csv", n=3, verbose=False),
        lambda: model.onboard({data.items.ids[0]: 5.0}, n=3),
        lambda: model.onboard({data.items.ids[0]: 5.0}, n=3, user_id="newcomer"),
    ]
    for call in refused:
        with pytest.raises(CannotRankError, match="same score.*index order"):
            call()
    assert not (tmp_path / "all.csv").exists()
    assert "newcomer" not in model.users_.ids  # refused before the user was added
    # The popularity fallback is ordered by counts, not by index: still given.
    rec = model.recommend("stranger", n=3)
    top = np.argsort(-data.item_counts(), kind="stable")[:3]
    assert rec.fallback and rec.ids.tolist() == data.items.ids[top].tolist()


@MODELS
def test_bad_n_is_an_error(name, fitted):
    data, models = fitted
    model = models[name]
    calls = [
        lambda n: model.recommend("u0", n=n),
        lambda n: model.recommend_batch(["u0", "stranger"], n=n),
    ]
    if hasattr(model, "similar_items") and getattr(model, "n_factors_", 1) != 0:
        calls.append(lambda n: model.similar_items(data.items.ids[0], n=n))
        calls.append(lambda n: model.similar_items(data.items.ids[:2], n=n))
    if hasattr(model, "similar_users") and getattr(model, "n_factors_", 1) != 0:
        calls.append(lambda n: model.similar_users("u0", n=n))
    for call in calls:
        for bad in (0, -1, 2.5, True):
            with pytest.raises(ValueError, match="positive integer"):
                call(bad)


@RANKERS
def test_batch_equals_one_by_one_for_every_user_and_a_stranger(name, fitted):
    data, models = fitted
    model = models[name]
    users = [*data.users.ids[8:20], "stranger"]  # the first 8: the test above
    batch = model.recommend_batch(users, n=7)
    for u in users:
        rec = model.recommend(u, n=7)
        rows = batch[batch["user_id"] == u]
        assert rows["item_id"].tolist() == rec.ids.tolist()
        assert rows["fallback"].eq(rec.fallback).all()
        # equal_nan: a ranking model's fallback rows have no score.
        np.testing.assert_allclose(
            rows["score"].to_numpy(), rec.scores, rtol=1e-6, atol=1e-6, equal_nan=True
        )


@MODELS
def test_fitting_twice_with_one_random_state_gives_one_model(name, fitted):
    data, models = fitted
    model = models[name]
    again = FACTORIES[name]()
    assert again.get_params() == model.get_params()
    # The same instance refitted, too: nothing of the first fit may leak into the second.
    again.fit(data).fit(data)
    users = data.users.ids
    if name not in UNORDERED:
        pd.testing.assert_frame_equal(
            again.recommend_batch(users, n=5), model.recommend_batch(users, n=5)
        )
    if model.predicts_ratings:
        items = np.resize(data.items.ids, users.size)
        np.testing.assert_array_equal(again.predict(users, items), model.predict(users, items))


@MODELS
def test_save_load_round_trip(name, fitted, tmp_path):
    data, models = fitted
    model = models[name]
    path = tmp_path / f"{name}.npz"
    model.save(path)
    loaded = latentrec.load(path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    users = data.users.ids[:5]
    if name not in UNORDERED:
        pd.testing.assert_frame_equal(
            loaded.recommend_batch(users, n=4), model.recommend_batch(users, n=4)
        )
    if model.predicts_ratings:
        items = data.items.ids[:5]
        np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    # The file is a plain npz: NumPy reads it with pickles disabled.
    with np.load(path, allow_pickle=False) as npz:
        assert "users.npy" not in npz.files and "users" in npz.files


PARTIAL = pytest.mark.parametrize(
    "name", sorted(n for n in FACTORIES if hasattr(model_class(n), "partial_fit_users"))
)


@PARTIAL
def test_save_load_round_trip_after_partial_fits(name, fitted, tmp_path):
    data, _ = fitted
    model = FACTORIES[name]().fit(data)
    users = data.users.ids
    model.partial_fit_users(
        pd.DataFrame(
            {
                "user_id": ["new", "new", users[0]],
                "item_id": data.items.ids[[0, 1, 2]],
                "rating": [5.0, 4.0, 3.0],
            }
        )
    )
    model.partial_fit_items(
        pd.DataFrame({"user_id": ["new", users[1]], "item_id": 999, "rating": [5.0, 2.0]})
    )
    assert (model.n_users, model.n_items) == (data.n_users + 1, data.n_items + 1)
    model.save(tmp_path / "grown.npz")
    loaded = latentrec.load(tmp_path / "grown.npz")
    asked = ["new", users[0], users[1], "stranger"]
    if name not in UNORDERED:
        pd.testing.assert_frame_equal(
            loaded.recommend_batch(asked, n=30), model.recommend_batch(asked, n=30)
        )
    if model.predicts_ratings:
        items = [999, data.items.ids[0], 999, data.items.ids[3]]
        np.testing.assert_array_equal(
            loaded.predict(asked[:3] + [users[2]], items),
            model.predict(asked[:3] + [users[2]], items),
        )
    if model.n_factors_:
        for ask in (lambda m: m.similar_items(999, n=5), lambda m: m.similar_users("new", n=5)):
            assert ask(loaded).ids.tolist() == ask(model).ids.tolist()
        assert loaded.explain("new", 999).prediction == model.explain("new", 999).prediction
    answers = {data.items.ids[0]: 5.0, 999: 4.0}
    np.testing.assert_array_equal(loaded.fold_in(answers).factors, model.fold_in(answers).factors)


@settings(max_examples=40, deadline=None)
@given(
    n_users=st.integers(1, 6),
    n_items=st.integers(1, 8),
    seed=st.integers(0, 10_000),
    n=st.integers(1, 12),
    density=st.floats(0.05, 1.0),
)
def test_topk_never_returns_seen_items_property(n_users, n_items, seed, n, density):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[0, 0] = True
    values = rng.integers(1, 6, (n_users, n_items)) * mask
    data = Interactions.from_dense(values)
    for model in (Popularity().fit(data), BiasedMF(n_factors=2, n_epochs=2).fit(data)):
        out = model.recommend_batch(data.users.ids, n=n)
        for u in range(n_users):
            got = out[out["user_id"] == u]["item_id"].to_numpy()
            seen = np.flatnonzero(mask[u])
            assert not set(got) & set(seen)
            assert len(got) == min(n, n_items - seen.size)
            assert len(set(got)) == len(got)


@pytest.fixture(scope="module")
def held_out():
    """Every model fitted with item 105's cells and user u3's cells held out: both stay
    in the vocabularies, with no training data (a random split does this to rare ids)."""
    from conftest import random_ratings

    data = random_ratings()
    held = data.subset((data.item_idx != 5) & (data.user_idx != 3))
    models = {
        name: make().fit(held)
        for name, make in FACTORIES.items()
        if hasattr(model_class(name), "similar_items")
    }
    return held, models


SIMILAR = pytest.mark.parametrize(
    "name", sorted(n for n in FACTORIES if hasattr(model_class(n), "similar_items"))
)


@SIMILAR
def test_similar_to_an_id_without_training_data_is_empty(name, held_out):
    # Before: factor models answered with the first items by index, score 0 and
    # fallback=False (a zero vector's cosine with everything); ItemKNN with nothing.
    data, models = held_out
    model = models[name]
    item, user = data.items.ids[5], data.users.ids[3]
    if getattr(model, "n_factors_", None) == 0:  # the baselines: no space to compare in
        with pytest.raises(ValueError, match="no latent factors"):
            model.similar_items(item)
        return
    rec = model.similar_items(item, n=5)
    assert len(rec.ids) == 0 and len(rec.scores) == 0 and not rec.fallback
    others = model.similar_items(data.items.ids[0], n=data.n_items)
    assert item not in others.ids.tolist()
    # A list of ids gives the long form, for every model with similar_items (ItemKNN
    # took one id only): no rows for the id without a vector, the others' as alone.
    table = model.similar_items(data.items.ids[[0, 5, 1]], n=3)
    assert list(table.columns) == ["query_id", "rank", "item_id", "score"]
    assert item not in table["query_id"].tolist()
    for query in data.items.ids[[0, 1]]:
        alone = model.similar_items(query, n=3)
        rows = table[table["query_id"] == query]
        assert rows["item_id"].tolist() == alone.ids.tolist()
        np.testing.assert_allclose(rows["score"].to_numpy(), alone.scores, rtol=1e-6)
        assert rows["rank"].tolist() == list(range(1, len(alone.ids) + 1))
    if hasattr(model, "similar_users"):
        rec = model.similar_users(user, n=5)
        assert len(rec.ids) == 0 and not rec.fallback
        assert user not in model.similar_users(data.users.ids[0], n=data.n_users).ids.tolist()
    with pytest.raises(UnknownIdError, match="999"):
        model.similar_items(999)


@SIMILAR
def test_similar_items_never_returns_the_item_itself(name, fitted):
    data, models = fitted
    model = models[name]
    if getattr(model, "n_factors_", None) == 0:
        return
    table = model.similar_items(data.items.ids, n=data.n_items)
    assert not (table["query_id"] == table["item_id"]).any()
    assert table["query_id"].nunique() > data.n_items // 2  # most items have neighbours
    for item in data.items.ids[:3]:
        assert item not in model.similar_items(item, n=data.n_items).ids.tolist()
    if hasattr(model, "similar_users"):
        users = model.similar_users(data.users.ids, n=data.n_users)
        assert not (users["query_id"] == users["user_id"]).any()
