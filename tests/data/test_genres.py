"""The one reader of genre cells lives in ``latentrec.data.genres``, below every layer
that reads a genres column (models, pipeline, plots, reports), and the pipeline's old
import path still names the same functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec.data import genres
from latentrec.pipeline import context


def test_pipeline_context_reexports_the_data_helpers():
    assert context.genre_labels is genres.genre_labels
    assert context.genre_label_lists is genres.genre_label_lists


def test_genre_label_lists_reads_text_and_lists_alike():
    cells = pd.Series(["A| B", ("B", "A"), None, "|", ["C|A", None]], name="genres")
    assert genres.genre_label_lists(cells) == [["A", "B"], ["B", "A"], [], [], ["C", "A"]]


@pytest.mark.parametrize("what", ["item", "user", "row"])
def test_an_unreadable_cell_is_refused_naming_column_and_entity(what):
    cells = pd.Series(["A", [["B"]]], index=["x", "y"], name="tags")
    with pytest.raises(ValueError, match=rf"'tags' of {what} 'y' is a list inside a list"):
        genres.genre_label_lists(cells, what=what)


def test_genre_label_pairs_match_the_cell_by_cell_reader_on_random_columns():
    # The one-pass text path must agree with genre_labels cell by cell: stripped names,
    # each once per row, blanks and missing cells naming none.
    rng = np.random.default_rng(7)
    names = ["A", " B", "C ", "", " ", "Sci-Fi", "A"]
    for trial in range(40):
        n = int(rng.integers(0, 30))
        cells = []
        for _ in range(n):
            if rng.random() < 0.15:
                cells.append(None if rng.random() < 0.5 else np.nan)
            else:
                k = int(rng.integers(1, 5))
                cells.append("|".join(rng.choice(names, size=k)))
        if trial % 4 == 3 and n:
            cells[0] = ["A", "B|C"]  # a list cell takes the cell-by-cell path
        col = pd.Series(cells, dtype=object, index=rng.permutation(n) + 100, name="genres")
        rows, labels = genres.genre_label_pairs(col)
        expected = [
            (r, label) for r, cell in enumerate(cells) for label in genres.genre_labels(cell)
        ]
        assert list(zip(rows.tolist(), labels.tolist(), strict=True)) == expected
