"""The one reader of genre cells lives in ``latentrec.data.genres``, below every layer
that reads a genres column (models, pipeline, plots, reports), and the pipeline's old
import path still names the same functions."""

from __future__ import annotations

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
