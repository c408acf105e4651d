"""Genres given as lists read as genres everywhere a pipeline reads them: the context's
genre matrix (the ranker's genre-match feature, Calibrate), a Rules cap on genres, and
the genres a retrain fills in; blank and separator-only cells name no genre."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import Popularity
from latentrec.pipeline import Calibrate, Pipeline, Rules
from latentrec.pipeline.context import build_context, genre_labels, genre_matrix
from latentrec.service.retrain import with_known_genres

NAMES = ["Drama", "War", "Comedy", "Sci-Fi", "Film-Noir"]


def random_cell(rng, genres: list[str]):
    """One item's genres written in one of the shapes a side table may hold them."""
    shape = rng.integers(7)
    if not genres:
        return [None, np.nan, "", " ", "|", " | ", []][shape]
    if shape == 0:
        return "|".join(genres)
    if shape == 1:
        return " | ".join(genres) + "|"  # spaces around the separator, a trailing one
    if shape == 2:
        return list(genres)
    if shape == 3:
        return tuple(genres)
    if shape == 4:
        return np.array(genres, dtype=object)
    if shape == 5:
        return pd.Series(genres)
    return [*genres, None, ""]  # missing and blank elements name nothing


def reference(item_genres: list[list[str]]):
    """The slow obvious matrix: a column per distinct name, sorted; 1 where it is had."""
    names = sorted({g for row in item_genres for g in row})
    dense = np.array([[float(n in row) for n in names] for row in item_genres])
    return dense.reshape(len(item_genres), len(names)), names


@pytest.mark.parametrize("seed", range(5))
def test_genre_matrix_reads_every_cell_shape_as_the_genres_it_names(seed):
    rng = np.random.default_rng(seed)
    truth = [sorted(set(rng.choice(NAMES, rng.integers(0, 4)).tolist())) for _ in range(40)]
    cells = [random_cell(rng, g) for g in truth]
    table = pd.DataFrame({"genres": pd.Series(cells, dtype=object)})
    matrix, names = genre_matrix(table, len(cells))
    want, want_names = reference(truth)
    assert names.tolist() == want_names
    assert np.array_equal(matrix.toarray(), want)
    # A retrain's fill-in reads the cells the same way (one helper), and its text reads
    # back as the same matrix.
    assert [sorted(genre_labels(c)) for c in cells] == truth
    ids = np.arange(len(cells))
    data = Interactions.from_frame(
        pd.DataFrame({"user_id": 0, "item_id": ids, "rating": 1.0}),
        item_features=table.set_index(pd.Index(ids)),
    )
    filled = with_known_genres(data, None).item_features
    again, again_names = genre_matrix(filled, len(cells))
    assert again_names.tolist() == want_names
    assert np.array_equal(again.toarray(), want)


def test_genre_labels_keeps_order_and_drops_repeats_and_blanks():
    assert genre_labels(["War", "Drama", "War", " ", None]) == ["War", "Drama"]
    assert genre_labels("War| Drama |War||") == ["War", "Drama"]
    assert genre_labels(["Drama|War"]) == ["Drama", "War"]
    assert genre_labels(pd.NA) == [] and genre_labels(" | ") == []
    assert genre_labels([np.float32("nan"), "War"]) == ["War"]


@pytest.mark.parametrize(
    "cell, what",
    [({"Drama": 1}, "a dict"), ([["Drama"], "War"], "a list inside a list")],
)
def test_a_cell_that_names_no_genres_in_a_readable_way_is_refused_by_item(cell, what):
    table = pd.DataFrame({"genres": pd.Series(["Drama", cell], index=[5, 6], dtype=object)})
    with pytest.raises(ValueError, match=f"'genres' of item 6 is {what}"):
        genre_matrix(table, 2)


def listed_data():
    df = pd.DataFrame(
        {"user_id": [1, 1, 2, 2, 3, 3, 4], "item_id": [5, 6, 6, 7, 7, 8, 9], "rating": 1.0}
    )
    table = pd.DataFrame(
        {"genres": [["Drama", "War"], ("Drama",), np.array(["Comedy"]), "|", ["War"]]},
        index=[5, 6, 7, 8, 9],
    )
    return Interactions.from_frame(df, item_features=table)


def test_a_pipeline_fitted_on_list_genres_has_the_genres_not_their_repr():
    pipe = Pipeline(Popularity(), rerankers=[Calibrate(0.5)], n_candidates=5).fit(listed_data())
    ctx = pipe.context_
    assert ctx.genre_names.tolist() == ["Comedy", "Drama", "War"]
    assert ctx.item_genres.toarray().tolist() == [
        [0, 1, 1],
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 0],  # "|" names no genre
        [0, 0, 1],
    ]


def test_a_rules_cap_on_list_genres_caps_each_genre():
    data = listed_data()
    ctx = build_context(data)
    stage = Rules(max_per={"genres": 1}).fit(ctx)
    # Items 5 and 6 (indices 0, 1) are both Drama: one of them only. Item 9 (4) is War,
    # as 5 is, so it cannot follow 5.
    assert stage.rerank(ctx, -1, [0, 1, 2, 3, 4], [5.0, 4.0, 3.0, 2.0, 1.0], 5).tolist() == [
        0,
        2,
        3,
    ]


def test_calibrate_refuses_genres_of_which_no_item_has_one():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [5, 6], "rating": 1.0})
    table = pd.DataFrame({"genres": [None, [" ", "|"]]}, index=[5, 6])
    data = Interactions.from_frame(df, item_features=table)
    with pytest.raises(ValueError, match="no item has a genre"):
        Pipeline(Popularity(), rerankers=[Calibrate(0.5)], n_candidates=2).fit(data)
