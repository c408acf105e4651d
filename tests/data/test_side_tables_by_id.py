"""A side table given to ``Interactions`` (or ``replace``) is matched to the data by id.

Its rows were taken by position: a title table sorted otherwise (by title, by year, read
from another file) gave every item another item's title, and a model's content features
another item's genres, without a word.  Now a table in another order is put in the
data's order by id, and one that cannot be matched (a row for an id the data lacks, a
repeated id, a table indexed by position) is refused naming what is wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import HybridMF


def _data(ids):
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 12, n),
            "item_id": np.asarray(ids, dtype=object)[rng.integers(0, len(ids), n)],
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )
    return Interactions.from_frame(frame)


@pytest.mark.parametrize("kind", ["int", "str"])
@pytest.mark.parametrize("seed", range(5))
def test_titles_follow_the_ids_in_any_order_and_with_rows_left_out(kind, seed):
    rng = np.random.default_rng(seed)
    ids = [10 * i + 7 for i in range(15)] if kind == "int" else [f"m{i:02d}" for i in range(15)]
    data = _data(ids)
    held = data.items.ids.tolist()
    kept = rng.permutation(len(held))[: rng.integers(1, len(held) + 1)]  # some ids lack a row
    table = pd.DataFrame(
        {"title": [f"title of {held[k]}" for k in kept]}, index=[held[k] for k in kept]
    )
    want = {held[k]: f"title of {held[k]}" for k in kept}
    for given in (data.replace(item_features=table), Interactions(
        data.users, data.items, data.matrix, item_features=table
    )):  # fmt: skip
        got = given.item_titles().tolist()
        # Slow and obvious: each id's own title, or its id where the table has no row.
        assert got == [want.get(x, str(x)) for x in held]
        assert given.item_features.index.tolist() == held


def test_a_table_already_in_order_is_kept_as_it_is():
    data = _data([1, 2, 3, 4])
    table = pd.DataFrame({"title": list("abcd")}, index=data.items.ids)
    assert data.replace(item_features=table).item_features is table


def test_tables_that_cannot_be_matched_are_refused_by_name():
    data = _data([1, 2, 3])
    titles = pd.DataFrame({"title": ["one", "two", "three", "four"]}, index=[1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"a row for 1 item id the data does not hold \(4\)"):
        data.replace(item_features=titles)
    twice = pd.DataFrame({"title": ["a", "b", "c"]}, index=[1, 1, 2])
    with pytest.raises(ValueError, match=r"more than one row for item id\(s\) 1"):
        data.replace(item_features=twice)
    # Indexed by position (read_csv without index_col): row 0 is no item of 1..3, and
    # rows 1 and 2 would have named items 1 and 2 one place off.
    by_position = titles.iloc[:3].reset_index(drop=True)
    with pytest.raises(ValueError, match=r"does not hold \(0\)"):
        data.replace(item_features=by_position)
    with pytest.raises(ValueError, match="describes none of the data's user ids"):
        data.replace(user_features=pd.DataFrame({"age": [30]}, index=["nobody"]))
    with pytest.raises(TypeError, match="item_features must be a pandas DataFrame"):
        data.replace(item_features={"title": ["a"]})


def test_a_hybrid_model_learns_the_same_from_a_table_in_another_order():
    rng = np.random.default_rng(1)
    data = _data(list(range(100, 130)))
    genres = pd.DataFrame(
        {
            "genres": [
                "|".join(rng.choice(["A", "B", "C", "D"], 2, replace=False))
                for _ in range(data.n_items)
            ]
        },
        index=data.items.ids,
    )
    ordered = HybridMF(n_factors=4, n_epochs=5, random_state=0).fit(
        data.replace(item_features=genres)
    )
    shuffled = HybridMF(n_factors=4, n_epochs=5, random_state=0).fit(
        data.replace(item_features=genres.sample(frac=1.0, random_state=3))
    )
    np.testing.assert_array_equal(ordered.item_factors_, shuffled.item_factors_)


def test_splits_subsets_and_replace_hand_their_tables_on_without_checking_them_again(
    monkeypatch,
):
    """Every split, subset and replace(matrix=...) checked the tables it shares against
    the ids again: at 10^6 text item ids half a second and 50 MiB each.  The tables are
    in the order of the same vocabularies: they are handed on as they are."""
    import latentrec.data.interactions as module
    from latentrec.data.splits import random_split
    from latentrec.data.vocabulary import Vocabulary

    data = _data([f"m{i:02d}" for i in range(15)])
    films = pd.DataFrame({"title": [f"t {x}" for x in data.items.ids]}, index=data.items.ids)
    people = pd.DataFrame({"age": np.arange(data.n_users)}, index=data.users.ids)
    data = data.replace(item_features=films, user_features=people)
    checked = []
    real = module.align_side_table

    def counting(table, vocab, side):
        if table is not None:
            checked.append(side)
        return real(table, vocab, side)

    monkeypatch.setattr(module, "align_side_table", counting)
    train, test = random_split(data, 0.3, random_state=0)
    derived = [train, test, data.subset(np.arange(5)), data.replace(implicit=True)]
    derived.append(data.replace(matrix=data.matrix * 2))
    assert checked == []
    for part in derived:
        assert part.item_features is data.item_features
        assert part.user_features is data.user_features
    # A table given is still put in order; one handed onto new vocabularies too.
    shuffled = films.sample(frac=1.0, random_state=0)
    assert data.replace(item_features=shuffled).item_titles().tolist() == [
        f"t {x}" for x in data.items.ids
    ]
    reversed_items = Vocabulary(data.items.ids[::-1], "item")
    flipped = data.matrix[:, ::-1].tocsr()
    flipped.sort_indices()
    moved = data.replace(items=reversed_items, matrix=flipped)
    assert moved.item_titles().tolist() == [f"t {x}" for x in reversed_items.ids]
    assert checked == ["item", "item"]


def test_an_empty_table_leaves_every_id_without_values():
    """An empty table (a filter that kept no row) describes no id and misplaces none:
    from_frame failed with pandas' IndexError and Interactions refused it as
    indexed by position.  Every id now has missing values, the columns kept."""
    frame = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": [5, 3, 4.0]})
    empty = pd.DataFrame(
        {"title": pd.Series([], dtype=object), "year": pd.Series([], dtype=np.int64)},
        index=pd.Index([], dtype=np.int64),
    )
    for data in (
        Interactions.from_frame(frame, item_features=empty),
        Interactions.from_frame(frame).replace(item_features=empty),
    ):
        table = data.item_features
        assert table.index.tolist() == [10, 20] and list(table.columns) == ["title", "year"]
        assert table.isna().all().all() and str(table["year"].dtype) == "Int64"
        assert data.item_titles().tolist() == ["10", "20"]


@pytest.mark.parametrize("missing", [np.nan, None])
def test_a_missing_id_in_the_index_is_refused_naming_the_table(missing):
    data = _data([1, 2, 3])
    table = pd.DataFrame({"title": ["a", "b", "c"]}, index=[1, missing, 3])
    with pytest.raises(ValueError, match=r"item_features is indexed by item id, and its index"):
        data.replace(item_features=table)
