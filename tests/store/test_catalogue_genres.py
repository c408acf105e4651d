"""A side table's genres reach the store's catalogue as the pipeline and the models read
them: ``"A|B"`` text or a list of names, stripped, each once; blank cells name none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec.data import Interactions
from latentrec.data.genres import genre_labels
from latentrec.store.catalogue import catalogue_items


def items_of(genres) -> dict:
    side = pd.DataFrame({"title": [f"t{i}" for i in range(len(genres))], "genres": genres})
    side.index = np.arange(10, 10 + len(genres))
    data = Interactions.from_arrays(
        np.zeros(len(genres), dtype=int),
        side.index.to_numpy(),
        np.ones(len(genres)),
        item_features=side,
    )
    text = [str(i) for i in data.items.ids.tolist()]
    return {it.item_id: it.genres for it in catalogue_items(data, text)}


def test_list_cells_give_the_same_catalogue_as_text():
    text = ["Crime| Action", "Drama", None, " | ", "A|A|B"]
    lists = [["Crime", " Action"], np.array(["Drama"]), [], ["|"], ("A", "A|B")]
    assert items_of(text) == items_of(lists)
    assert items_of(text) == {
        "10": ("Crime", "Action"),
        "11": ("Drama",),
        "12": (),
        "13": (),
        "14": ("A", "B"),
    }


@pytest.mark.parametrize("seed", range(4))
def test_random_cells_match_genre_labels(seed):
    rng = np.random.default_rng(seed)
    names = ["Drama", "War", "Sci-Fi", " Comedy ", ""]
    cells = []
    for _ in range(30):
        picked = list(rng.choice(names, size=rng.integers(0, 4)))
        cells.append(picked if rng.random() < 0.5 else "|".join(picked))
    got = items_of(cells)
    want = {str(10 + i): tuple(genre_labels(c)) for i, c in enumerate(cells)}
    assert got == want


def test_a_dict_cell_is_refused_naming_the_item():
    with pytest.raises(ValueError, match="item 11"):
        items_of(["Drama", {"a": 1}])
