"""Ids given as a set, a dict's keys or a generator are several ids; a mask is none."""

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings

from latentrec.models import BiasedMF


@pytest.fixture(scope="module")
def model():
    data = random_ratings(n_users=12, n_items=10, seed=2)
    return BiasedMF(n_factors=2, n_epochs=20, random_state=0).fit(data)


def lazy_forms(ids):
    return {
        "set": set(ids),
        "dict keys": dict.fromkeys(ids).keys(),
        "generator": (u for u in ids),
        "iterator": iter(list(ids)),
    }


@pytest.mark.parametrize("form", ["set", "dict keys", "generator", "iterator"])
def test_recommend_batch_takes_every_collection_of_ids(model, form):
    # Before: NumPy made one object of a set or a generator, an id nobody has, and every
    # row was the popularity list for "{1, 2}" (fallback=True) without a word.
    users = model.users_.ids[:2].tolist()
    table = model.recommend_batch(lazy_forms(users)[form], n=3)
    expected = model.recommend_batch(users, n=3)
    table = table.sort_values(["user_id", "rank"], ignore_index=True)
    pd.testing.assert_frame_equal(
        table, expected.sort_values(["user_id", "rank"], ignore_index=True)
    )
    assert not table["fallback"].any()


@pytest.mark.parametrize("form", ["set", "generator"])
def test_predict_similar_and_recommend_all_take_them_too(model, form, tmp_path):
    users = model.users_.ids[:2].tolist()
    items = model.items_.ids[:2].tolist()
    pairs = sorted(zip(users, items, strict=True))  # a set iterates in its own order
    expected = model.predict([u for u, _ in pairs], [i for _, i in pairs])
    np.testing.assert_array_equal(
        model.predict(lazy_forms([u for u, _ in pairs])["generator"], [i for _, i in pairs]),
        expected,
    )
    # A collection of one item is the table form of similar_items, not an unknown id.
    table = model.similar_items(lazy_forms(items[:1])[form], n=2)
    assert isinstance(table, pd.DataFrame)
    assert table["item_id"].tolist() == model.similar_items(items[0], n=2).ids.tolist()
    path = tmp_path / "top.csv"
    assert model.recommend_all(path, n=1, users=lazy_forms(users)[form], verbose=False) == 2
    assert sorted(pd.read_csv(path)["user_id"].tolist()) == sorted(users)
    unseen = set(model.items_.ids) - set(model.items_.ids[model.seen_[0].indices])
    got = model.recommend(model.users_.ids[0], n=10, items=lazy_forms(model.items_.ids)[form])
    assert set(got.ids) == unseen


def test_a_boolean_mask_is_no_list_of_ids(model):
    # Before: a mask passed as items= was looked up as ids, True as the id 1: every
    # candidate was item 1, and the list came back empty or holding only it.
    mask = np.ones(model.n_items, dtype=bool)
    with pytest.raises(TypeError, match=r"not booleans.*items_\.ids\[mask\]"):
        model.recommend(model.users_.ids[0], n=3, items=mask)
    with pytest.raises(TypeError, match="not booleans"):
        model.predict([True], [model.items_.ids[0]])
    ids = model.items_.ids[mask]  # what the message says to give instead
    assert len(model.recommend(model.users_.ids[0], n=3, items=ids).ids) == 3


def test_explain_takes_one_pair_and_says_so(model):
    # Before: a list of ids died in pandas ("Index data must be 1-dimensional").
    user, item = model.users_.ids[0], model.items_.ids[0]
    with pytest.raises(TypeError, match=r"^explain takes one id, got a list of 2; for many"):
        model.explain([user, model.users_.ids[1]], item)
    with pytest.raises(TypeError, match=r"^explain takes one id, got a ndarray of 2"):
        model.explain(user, model.items_.ids[:2])
    assert model.explain(user, item).prediction == pytest.approx(model.predict([user], [item])[0])


def test_a_nested_list_of_ids_is_named():
    # Before: "Index data must be 1-dimensional", from pandas inside the lookup.
    data = random_ratings(n_users=12, n_items=10, seed=2)
    model = BiasedMF(n_factors=2, n_epochs=2, random_state=0).fit(data)
    nested = [model.users_.ids[:2].tolist()]
    with pytest.raises(ValueError, match=r"flat list of ids, got an array of shape \(1, 2\)"):
        model.recommend_batch(nested, n=2)
    with pytest.raises(ValueError, match="flat list of ids"):
        model.predict(nested, [model.items_.ids[:2].tolist()])
