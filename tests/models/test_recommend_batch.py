"""Batch top-k: properties against a full-sort reference, batch = one by one, files."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec import Interactions, UnknownIdError
from latentrec.errors import CannotRankError
from latentrec.models import BiasedMF, Biases, Popularity


def quantised_mf(data, seed):
    """A fitted BiasedMF whose parameters are small multiples of 1/4.

    Every score is then exact in float32 whichever BLAS kernel computes it, so the
    reference below can demand identical scores and tie order; ties are frequent.
    """
    model = BiasedMF(n_factors=2, n_epochs=2, random_state=seed).fit(data)
    rng = np.random.default_rng(seed)
    # Fitted state is immutable: build the quantised state aside and make a model of it.
    changes = {"global_mean_": float(rng.integers(8, 16) / 4)}
    for name in ("user_bias_", "item_bias_", "user_factors_", "item_factors_"):
        arr = getattr(model, name)
        changes[name] = (rng.integers(-4, 5, arr.shape) / 4).astype(arr.dtype)
    # As every fit does: users without training cells have no vector (popularity fallback).
    no_history = data.user_counts() == 0
    changes["user_bias_"][no_history] = 0
    changes["user_factors_"][no_history] = 0
    return BiasedMF.from_fitted(model.fitted_.evolve(**changes), **model.get_params())


def reference(model, user_id, n, exclude_seen, items, filter_items):
    """Full sort of every eligible item: score descending, then item index ascending."""
    u = model.users_.lookup([user_id])[0]
    personal = u >= 0 and model.seen_[u].nnz > 0
    if personal:
        scores = model._score_block(np.array([u]))[0].astype(np.float32)
    else:
        scores = model.item_popularity_.astype(np.float32)
    eligible = np.ones(model.n_items, bool)
    if items is not None:
        eligible[:] = False
        eligible[model.items_.index(items)] = True
    if filter_items is not None:
        eligible[model.items_.index(filter_items)] = False
    if exclude_seen and personal:
        eligible[model.seen_[u].indices] = False
    order = sorted(np.flatnonzero(eligible), key=lambda j: (-scores[j], j))[:n]
    shown = scores[order]
    if not personal and model.predicts_ratings:
        # Fallback lists are ranked by popularity but show the model's baseline μ + b_i.
        shown = model.predict_idx(np.full(len(order), -1), np.array(order, dtype=np.int64))
        shown = shown.astype(np.float32)
    return model.items_.ids[order], shown, not personal


@settings(max_examples=80, deadline=None)
@given(
    n_users=st.integers(1, 7),
    n_items=st.integers(1, 12),
    seed=st.integers(0, 10_000),
    n=st.integers(1, 15),
    density=st.floats(0.05, 1.0),
    kind=st.sampled_from(["mf", "popularity", "biases"]),
    exclude_seen=st.booleans(),
    restrict=st.sampled_from(["none", "items", "filter", "both"]),
)
def test_batch_topk_matches_reference_and_one_by_one(
    n_users, n_items, seed, n, density, kind, exclude_seen, restrict
):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[0, 0] = True
    values = rng.integers(1, 6, (n_users, n_items)) * mask
    data = Interactions.from_dense(values, item_ids=np.arange(n_items) * 10)
    if kind == "mf":
        model = quantised_mf(data, seed)
    else:
        model = (Popularity() if kind == "popularity" else Biases()).fit(data)
    item_ids = data.items.ids
    items = filter_items = None
    if restrict in ("items", "both"):
        items = rng.choice(item_ids, rng.integers(1, n_items + 1), replace=True)
    if restrict in ("filter", "both"):
        filter_items = rng.choice(item_ids, rng.integers(0, n_items + 1), replace=False)
    users = list(data.users.ids[rng.permutation(n_users)]) + [-5, 999]
    kw = dict(exclude_seen=exclude_seen, items=items, filter_items=filter_items)
    try:
        batch = model.recommend_batch(users, n=n, **kw)
    except CannotRankError:
        # Every item scores alike (Biases on data whose item means coincide): refused by
        # the rule tests/models/test_cannot_rank.py checks; one user alone is refused too.
        assert not model.orders_items
        refused = 0
        for user in users:
            try:
                model.recommend(user, n=n, **kw)
            except CannotRankError:
                refused += 1
        assert refused > 0
        return
    for user in users:
        rec = model.recommend(user, n=n, **kw)
        ids, scores, fallback = reference(model, user, n, exclude_seen, items, filter_items)
        assert rec.ids.tolist() == ids.tolist()
        np.testing.assert_array_equal(rec.scores, scores)
        assert rec.fallback == fallback
        rows = batch[batch["user_id"] == user]
        assert rows["item_id"].tolist() == ids.tolist()
        np.testing.assert_array_equal(rows["score"].to_numpy(), scores)
        assert rows["rank"].tolist() == list(range(1, len(ids) + 1))
        assert set(rows["fallback"]) <= {fallback}
        # The properties the reference encodes, said outright.
        u = data.users.lookup([user])[0]
        if exclude_seen and u >= 0:
            assert not set(ids.tolist()) & set(item_ids[data.matrix[u].indices].tolist())
        if filter_items is not None:
            assert not set(ids.tolist()) & set(filter_items.tolist())
        if items is not None:
            assert set(ids.tolist()) <= set(items.tolist())
        assert len(set(ids.tolist())) == len(ids) <= n


@pytest.fixture(scope="module")
def model_and_data():
    from conftest import random_ratings

    data = random_ratings(n_users=40, n_items=30, seed=2)
    return BiasedMF(n_factors=4, n_epochs=20, random_state=0).fit(data), data


def test_recommend_batch_idx_is_the_index_form(model_and_data):
    model, data = model_and_data
    u = np.array([3, -1, 0, 7])
    idx, scores, fallback = model.recommend_batch_idx(u, n=5, filter_items=[0, 1])
    assert idx.dtype == np.int32 and scores.dtype == np.float32 and idx.shape == (4, 5)
    assert fallback.tolist() == [False, True, False, False]
    raw = np.where(u >= 0, data.users.ids[np.maximum(u, 0)], "nobody")
    table = model.recommend_batch(raw, n=5, filter_items=data.items.ids[[0, 1]])
    for r, user in enumerate(raw):
        got = idx[r][idx[r] >= 0]
        assert table[table["user_id"] == user]["item_id"].tolist() == data.items.ids[got].tolist()
    cand, _, _ = model.recommend_batch_idx([3], n=50, items=[5, 2, 2, 9])
    assert cand.shape == (1, 3)
    with pytest.raises(IndexError, match="user_idx"):
        model.recommend_batch_idx([data.n_users])
    with pytest.raises(IndexError, match="items"):
        model.recommend_batch_idx([0], items=[data.n_items])
    with pytest.raises(ValueError, match="integer"):
        model.recommend_batch_idx(["u1"])


@pytest.mark.parametrize("many", [list, tuple, np.array])
def test_recommend_refuses_many_users_and_points_to_recommend_batch(model_and_data, many):
    model, data = model_and_data
    ids = many(data.users.ids[:2].tolist())
    # Before: string ids read as one unknown id gave the popularity list with
    # fallback=True; integer ids failed inside pandas ("Index data must be 1-dimensional").
    with pytest.raises(TypeError, match=r"recommend takes one id.*recommend_batch"):
        model.recommend(ids, n=3)
    ints = BiasedMF(n_factors=2, n_epochs=2, random_state=0).fit(
        Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1], [1, 1, 5]]))
    )
    with pytest.raises(TypeError, match="recommend_batch"):
        ints.recommend(many([1, 2]), n=3)
    with pytest.raises(TypeError, match="recommend_batch"):
        ints.recommend(many([1]), n=3)
    assert len(ints.recommend(np.int64(1), n=3).ids) == 1  # a NumPy scalar is one id


def test_threads_do_not_change_results(model_and_data):
    model, data = model_and_data
    import numba

    users = data.users.ids
    a = model.recommend_batch(users, n=7)

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = model.recommend_batch(users, n=7)
    finally:
        numba.set_num_threads(before)
    pd.testing.assert_frame_equal(a, b)


def test_similar_batch_equals_single_calls(model_and_data):
    model, data = model_and_data
    items = data.items.ids[[0, 5, 5, 9]]
    table = model.similar_items(items, n=4, filter_items=data.items.ids[[1]])
    assert table.columns.tolist() == ["query_id", "rank", "item_id", "score"]
    for pos, item in enumerate(items):
        single = model.similar_items(item, n=4, filter_items=data.items.ids[[1]])
        rows = table.iloc[4 * pos : 4 * pos + 4]
        assert (rows["query_id"] == item).all()
        assert rows["item_id"].tolist() == single.ids.tolist()
        np.testing.assert_allclose(rows["score"], single.scores, rtol=1e-6)
        assert item not in single.ids and data.items.ids[1] not in single.ids
    users = data.users.ids[:3]
    table = model.similar_users(users, n=2)
    assert table.columns.tolist() == ["query_id", "rank", "user_id", "score"]
    for user in users:
        rows = table[table["query_id"] == user]
        assert rows["user_id"].tolist() == model.similar_users(user, n=2).ids.tolist()
    with pytest.raises(UnknownIdError, match="nobody"):
        model.similar_users(["nobody"])


def test_similar_items_never_returns_items_without_a_vector(model_and_data):
    model, data = model_and_data
    model = BiasedMF(n_factors=4, n_epochs=5, random_state=0).fit(data)
    Q = model.item_factors_.copy()
    Q[[2, 4]] = 0
    model = BiasedMF.from_fitted(model.fitted_.evolve(item_factors_=Q), **model.get_params())
    got = model.similar_items(data.items.ids[0], n=100).ids
    assert len(got) == data.n_items - 3
    assert not set(got.tolist()) & set(data.items.ids[[0, 2, 4]].tolist())
    cosine = model.similar_items(data.items.ids[0], n=1, items=data.items.ids[[3, 6]])
    q = model.item_factors_.astype(np.float64)
    cos = [q[0] @ q[j] / np.linalg.norm(q[0]) / np.linalg.norm(q[j]) for j in (3, 6)]
    expected = 3 if cos[0] >= cos[1] else 6
    assert cosine.ids.tolist() == [data.items.ids[expected]]


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_recommend_all_streams_chunks_to_a_file(model_and_data, tmp_path, suffix):
    model, data = model_and_data
    path = tmp_path / f"top{suffix}"
    users = list(data.users.ids[:7]) + ["stranger"]
    n_rows = model.recommend_all(path, n=3, users=users, chunk_size=3, verbose=False)
    expected = model.recommend_batch(users, n=3)
    got = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    assert n_rows == len(expected) == len(got)
    assert got.columns.tolist() == expected.columns.tolist()
    assert got["user_id"].astype(str).tolist() == expected["user_id"].astype(str).tolist()
    assert got["item_id"].tolist() == expected["item_id"].tolist()
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-6)
    assert got["fallback"].tolist() == expected["fallback"].tolist()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left


def test_recommend_all_defaults_to_every_user_and_checks_its_arguments(model_and_data, tmp_path):
    model, data = model_and_data
    path = tmp_path / "all.csv"
    assert model.recommend_all(path, n=2, verbose=False) == 2 * data.n_users
    assert pd.read_csv(path)["user_id"].nunique() == data.n_users
    with pytest.raises(ValueError, match="parquet"):
        model.recommend_all(tmp_path / "top.json", verbose=False)
    with pytest.raises(ValueError, match="chunk_size"):
        model.recommend_all(path, chunk_size=0, verbose=False)
    with pytest.raises(UnknownIdError):
        model.recommend_all(tmp_path / "x.csv", items=[12345], verbose=False)
    assert not (tmp_path / "x.csv").exists()
