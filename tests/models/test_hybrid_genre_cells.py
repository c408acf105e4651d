"""A side-table column whose cells are lists of names is a multi-label column exactly like
``|``-joined text: the FeatureEncoder gives the same matrix, names and stored encoding for
both, HybridMF learns the same factors from either, and the encoding a model file keeps
reads both forms. An unreadable cell is refused naming the column and the entity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import latentrec
from latentrec import Interactions
from latentrec.models.hybrid import FeatureEncoder, HybridMF, encode_features

NAMES = ["Drama", "War", "Comedy", "Sci-Fi", "Film-Noir"]


def as_text(rng, genres):
    """The genres as MovieLens writes them; no genre in any of the empty spellings."""
    if not genres:
        return [None, np.nan, "", "|", " | "][rng.integers(5)]
    return "|".join(genres) if rng.random() < 0.5 else " | ".join(genres) + "|"


def as_list(rng, genres):
    """The same genres as a list-like cell, sometimes with blank or missing elements."""
    shape = rng.integers(5)
    if not genres:
        return [None, [], (), np.array([], dtype=object), [None, " "]][shape]
    return [
        list(genres),
        tuple(genres),
        np.array(genres, dtype=object),
        [*genres, None, ""],
        ["|".join(genres)],
    ][shape]


def random_tables(seed, n=60):
    """(text table, list table, truth): one item side table written both ways, with a
    single-label text column and a number column that are the same in both."""
    rng = np.random.default_rng(seed)
    truth = [list(dict.fromkeys(rng.choice(NAMES, rng.integers(0, 4)).tolist())) for _ in range(n)]
    truth[0] = ["Drama", "War"]  # at least one cell with two genres, so text is multi-label
    common = {
        "kind": rng.choice(["film", "series", "short"], n),
        "year": rng.integers(1950, 2020, n),
    }
    text = pd.DataFrame({"genres": [as_text(rng, g) for g in truth], **common})
    lists = pd.DataFrame({"genres": pd.Series([as_list(rng, g) for g in truth], dtype=object)})
    lists = lists.assign(**common)
    return text, lists, truth


def reference(truth, names):
    """The slow obvious encoding of the genres column: 1/m on each of an item's m genres."""
    out = np.zeros((len(truth), len(names)))
    for r, genres in enumerate(truth):
        for g in genres:
            out[r, names.index(g)] = 1.0 / len(genres)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_list_cells_encode_exactly_like_joined_text(seed):
    text, lists, truth = random_tables(seed)
    a = FeatureEncoder(n_buckets=3).fit(text)
    b = FeatureEncoder(n_buckets=3).fit(lists)
    assert a.names_ == b.names_
    assert a.to_dict() == b.to_dict()  # the same stored encoding, kind multilabel
    X, Y = a.transform(text).toarray(), b.transform(lists).toarray()
    np.testing.assert_array_equal(X, Y)
    genres = sorted({g for row in truth for g in row})
    cols = [a.names_.index(f"genres={g}") for g in genres]
    np.testing.assert_allclose(X[:, cols], reference(truth, genres), rtol=1e-6)
    # Either form goes through either encoder, and through the stored encoding read back.
    stored = FeatureEncoder.from_dict(json.loads(json.dumps(b.to_dict())))
    np.testing.assert_array_equal(stored.transform(text).toarray(), X)
    np.testing.assert_array_equal(stored.transform(lists).toarray(), X)
    np.testing.assert_array_equal(a.transform(lists).toarray(), X)


def test_the_small_example_of_the_task():
    enc = FeatureEncoder().fit(pd.DataFrame({"g": [["A", "B"], ["C"]]}))
    same = FeatureEncoder().fit(pd.DataFrame({"g": ["A|B", "C"]}))
    assert enc.names_ == same.names_ == ["g=A", "g=B", "g=C"]
    want = [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    assert enc.transform(pd.DataFrame({"g": [["A", "B"], ["C"]]})).toarray().tolist() == want
    assert same.transform(pd.DataFrame({"g": ["A|B", "C"]})).toarray().tolist() == want
    assert not any("[" in name for name in enc.names_)


def test_single_label_text_columns_stay_one_hot_and_read_a_one_name_list():
    enc = FeatureEncoder().fit(pd.DataFrame({"gender": ["F", "M", None]}))
    assert enc.to_dict()["columns"] == [
        {"column": "gender", "kind": "onehot", "values": ["F", "M"]}
    ]
    got = enc.transform(pd.DataFrame({"gender": ["M", ["M"], ("F",), [], "X"]}))
    assert got.toarray().tolist() == [[0, 1], [0, 1], [1, 0], [0, 0], [0, 0]]
    with pytest.raises(ValueError, match=r"'gender' of row 0 names 2 values \('F', 'M'\)"):
        enc.transform({"gender": ["F", "M"]})


def test_a_one_hot_value_with_spaces_encodes_as_fitting_read_it():
    # Fitting strips " F" to the category "F"; encoding must read the same cell the same
    # way, or the training table's own rows lose their feature.
    table = pd.DataFrame({"gender": [" F", "M ", "F"]})
    enc = FeatureEncoder().fit(table)
    assert enc.names_ == ["gender=F", "gender=M"]
    want = [[1, 0], [0, 1], [1, 0]]
    assert enc.transform(table).toarray().tolist() == want
    assert enc.fit_transform(table).toarray().tolist() == want
    mixed = pd.DataFrame({"gender": [" F ", [" M"], "F", ("M ",)]})
    assert enc.transform(mixed).toarray().tolist() == [[1, 0], [0, 1], [1, 0], [0, 1]]


@pytest.mark.parametrize("cell", [{"Drama": 1}, [["Drama"]]])
def test_an_unreadable_cell_is_refused_naming_column_and_item(cell):
    table = pd.DataFrame({"genres": pd.Series(["Drama|War", cell], index=[7, 9], dtype=object)})
    with pytest.raises(ValueError, match=r"'genres' of row 9 is a"):
        FeatureEncoder().fit(table)
    spec = FeatureEncoder().fit(table.iloc[:1]).to_dict()
    with pytest.raises(ValueError, match=r"'genres' of item 9 is a"):
        encode_features(spec, table, what="item")


def planted(list_cells: bool, seed: int = 0):
    """Two tastes, items of one genre or both; the genres as text or as lists."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 16, 30
    genres = [["Sci-Fi"], ["Romance"], ["Sci-Fi", "Romance"]]
    item_genres = [genres[i % 3] for i in range(n_items)]
    rows = [
        (u, i, 5.0)
        for u in range(n_users)
        for i in range(n_items - 6)
        if ["Sci-Fi", "Romance"][u % 2] in item_genres[i] and rng.random() < 0.7
    ]
    cells = [list(g) if list_cells else "|".join(g) for g in item_genres]
    items = pd.DataFrame(
        {"genres": pd.Series(cells, dtype=object), "year": rng.integers(1980, 2000, n_items)}
    )
    users = pd.DataFrame({"likes": [[["Sci-Fi"], ["Romance"]][u % 2] for u in range(n_users)]})
    if not list_cells:
        users["likes"] = users["likes"].str.join("|")
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    return Interactions.from_frame(df, item_features=items, user_features=users)


def test_hybrid_fitted_on_lists_equals_hybrid_fitted_on_text(tmp_path):
    text, lists = planted(False), planted(True)
    a = HybridMF(n_factors=3, n_epochs=6, random_state=4).fit(text)
    b = HybridMF(n_factors=3, n_epochs=6, random_state=4).fit(lists)
    for name in HybridMF._array_state:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.item_feature_spec_ == b.item_feature_spec_
    # One name per user: text is one-hot, one-name lists multi-label; the same features.
    assert a.user_feature_names_ == b.user_feature_names_ == ["likes=Romance", "likes=Sci-Fi"]
    assert "genres=Sci-Fi" in b.item_feature_names_
    # The model file keeps an encoding that reads new items given either way.
    b.save(tmp_path / "hybrid.npz")
    loaded = latentrec.load(tmp_path / "hybrid.npz")
    assert loaded.item_feature_spec_ == b.item_feature_spec_
    want = b.item_vector_from_features({"genres": "Romance|Sci-Fi", "year": 1990})
    for cell in (["Sci-Fi", "Romance"], ("Romance", " Sci-Fi"), np.array(["Sci-Fi", "Romance"])):
        q, bias = loaded.item_vector_from_features({"genres": cell, "year": 1990})
        np.testing.assert_allclose(q, want[0], rtol=1e-6)
        assert bias == pytest.approx(want[1])
    with pytest.raises(ValueError, match=r"'likes' of user 3 is a dict"):
        loaded.user_vector_from_features(pd.DataFrame({"likes": [{"a": 1}]}, index=[3]))
