"""A side table must describe the data's ids: said when some do not, refused when none do
because the table's ids are of another kind (integers against text).

``from_frame(df, item_features=t)`` with t indexed by 'a'-'c' and items rated 1-3 added
'a'-'c' as unrated items and gave every rated item missing features, without a word.
"""

from __future__ import annotations

import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.data.report import DataError

DF = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 3], "rating": [5.0, 3.0, 4.0]})


@pytest.mark.parametrize("index", [["a", "b", "c"], ["7", "8", "9"]])
def test_integer_ids_against_text_ids_are_refused_naming_the_cause(index):
    table = pd.DataFrame({"genres": ["x", "y", "z"]}, index=index)
    with pytest.raises(DataError) as err:
        Interactions.from_frame(DF, item_features=table)
    text = str(err.value)
    assert "item_features matches none of the 3 rated item ids" in text
    assert f"the table {index[0]!r}" in text and "the data has 1, 2, 3" in text
    assert "the data's item ids are integers and the table's text" in text


def test_no_match_of_the_same_kind_is_said_not_refused():
    # A catalogue of other titles than the rated ones is data (a store's events on
    # titles it holds no entry for): every rated id is named as having no row.
    table = pd.DataFrame({"age": [30, 40]}, index=[8, 9])
    data = Interactions.from_frame(DF, user_features=table)
    assert data.load_report.notes[0] == (
        "2 of 2 rated user id(s) have no row in user_features (their features are missing): 1, 2"
    )
    assert data.users.ids.tolist() == [1, 2, 8, 9]


def test_rated_ids_without_features_are_named_in_the_report():
    table = pd.DataFrame({"genres": ["x"]}, index=[2])
    data = Interactions.from_frame(DF, item_features=table)
    assert data.load_report.notes == (
        "2 of 3 rated item id(s) have no row in item_features (their features are missing): 1, 3",
    )
    assert data.item_features["genres"].isna().tolist() == [True, False, True]
    full = pd.DataFrame({"genres": ["x", "y", "z"]}, index=[1, 2, 3])
    assert Interactions.from_frame(DF, item_features=full).load_report.notes == ()


def test_ids_differing_only_in_type_line_up_as_the_alignment_does():
    # Int ids 10/20/30 with a table indexed "10"/"20"/"30" used to attach each genre to
    # its item; the check refused them though the alignment matches ids as text.
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 30], "rating": [5.0, 3.0, 4]})
    table = pd.DataFrame({"genres": ["A", "B", "C"]}, index=["30", "10", "20"])
    data = Interactions.from_frame(df, item_features=table)
    assert data.item_features["genres"].tolist() == ["B", "C", "A"]
    assert data.items.ids.tolist() == [10, 20, 30]
    assert data.load_report.notes == ()
    # Text ids against an integer-indexed table, one id without a row: the note counts 1.
    text = df.assign(item_id=["10", "20", "30"])
    part = pd.DataFrame({"genres": ["B", "C"]}, index=[10, 20])
    data = Interactions.from_frame(text, item_features=part)
    assert data.item_features["genres"].tolist()[:2] == ["B", "C"]
    assert data.item_features["genres"].isna().tolist() == [False, False, True]
    assert data.load_report.notes == (
        "1 of 3 rated item id(s) have no row in item_features (their features are missing): '30'",
    )
