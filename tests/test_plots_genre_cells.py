"""The taste map colours items by genres given as lists exactly as by ``|``-joined text:
the same main genre per item and the same coloured genres, never a label like
"['Drama', 'War']"; blank and separator-only cells name none, a dict is refused."""

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions, plots

TEXT = ["Action|Adventure|Romance|Sci-Fi|War", "Drama| War", "", "|", None, "Drama", "unknown"]
LISTS = [
    ["Action", "Adventure", "Romance", "Sci-Fi", "War"],
    ("Drama", " War"),
    [],
    [" ", None],
    None,
    np.array(["Drama"], dtype=object),
    ["unknown"],
]


def data_with(cells):
    ids = np.arange(len(cells))
    table = pd.DataFrame({"genres": pd.Series(cells, index=ids, dtype=object)})
    ratings = pd.DataFrame({"user_id": 0, "item_id": ids, "rating": 1.0})
    return Interactions.from_frame(ratings, item_features=table)


def test_main_genres_read_list_cells_like_text():
    rows = np.arange(len(TEXT))
    want = plots._main_genres(data_with(TEXT), "genres", rows, 8)
    got = plots._main_genres(data_with(LISTS), "genres", rows, 8)
    assert got[0].tolist() == want[0].tolist() == ["Action", "Drama", "", "", "", "Drama", ""]
    assert got[1] == want[1]
    assert sorted(got[1]) == ["Action", "Adventure", "Drama", "Romance", "Sci-Fi", "War"]


def test_main_genres_refuses_a_dict_cell_naming_the_item():
    with pytest.raises(ValueError, match=r"'genres' of item 1 is a dict"):
        plots._main_genres(data_with(["Drama", {"Drama": 1}]), "genres", np.arange(2), 8)
