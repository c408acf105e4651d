"""The documented rule for ids read from a file: an all-number column becomes integer ids
(so "007", "7" and "7.0" are one id there, and their rows repeats of one pair, counted);
one id that is not a number keeps the column text, every spelling its own id; pandas'
dtype=str and from_frame keep spellings; long, unicode and spaced ids come back as
written (spaces around them stripped and counted)."""

from __future__ import annotations

import pandas as pd
import pytest

from latentrec.data import DataError, Interactions
from latentrec.data import interactions as interactions_module


@pytest.fixture(params=["chunked", "line-accurate"])
def reader(request, monkeypatch):
    """Both readers of a file; they must agree."""
    if request.param == "line-accurate":
        monkeypatch.setattr(interactions_module, "delimited_batches", lambda *a, **k: None)
    return request.param


def _write(path, rows) -> None:
    path.write_text("user_id,item_id,rating\n" + "\n".join(rows) + "\n")


def test_an_all_number_column_reads_spellings_of_one_number_as_one_id(tmp_path, reader):
    path = tmp_path / "r.csv"
    _write(path, ["007,1,3", "7,1,4", "8,2,5"])
    data = Interactions.from_csv(path)
    assert data.users.ids.tolist() == [7, 8]
    assert data.load_report.merged == 1 and data.load_report.rows_read == 3
    assert data.to_frame().query("user_id == 7")["rating"].tolist() == [4.0]  # the last row


def test_whole_numbers_written_as_floats_are_the_same_id(tmp_path):
    path = tmp_path / "r.csv"
    _write(path, ["7.0,1,3", "7,2,4", "1e1,2,5"])
    data = Interactions.from_csv(path)
    assert data.users.ids.tolist() == [7, 10] and data.load_report.merged == 0


def test_one_text_id_keeps_every_spelling_apart(tmp_path, reader):
    path = tmp_path / "r.csv"
    _write(path, ["007,1,3", "7,1,4", "7.0,1,2", "bob,1,5"])
    data = Interactions.from_csv(path)
    assert sorted(data.users.ids.tolist()) == ["007", "7", "7.0", "bob"]
    assert data.load_report.merged == 0
    assert data.load_report.notes == (f"user ids read as text: line 5 of {path} has 'bob'",)


def test_pandas_text_and_from_frame_keep_spellings(tmp_path):
    path = tmp_path / "r.csv"
    _write(path, ["007,1,3", "7,1,4"])
    frame = pd.read_csv(path, dtype={"user_id": str})
    data = Interactions.from_frame(frame)
    assert sorted(data.users.ids.tolist()) == ["007", "7"] and data.load_report.merged == 0


def test_long_unicode_and_spaced_ids_come_back_as_written(tmp_path, reader):
    long_id = "u" * 5000
    path = tmp_path / "r.csv"
    path.write_text(
        f'user_id,item_id,rating\n{long_id},ñ,3\n日本,ñ,4\n" bob ",ñ,5\n"a b",ñ,2\n',
        encoding="utf-8",
    )
    data = Interactions.from_csv(path)
    assert sorted(data.users.ids.tolist()) == sorted([long_id, "日本", "bob", "a b"])
    assert data.items.ids.tolist() == ["ñ"]
    assert data.load_report.ids_stripped == 1
    kept = Interactions.from_csv(path, strip_ids=False)
    assert " bob " in kept.users.ids.tolist()


def test_a_decimal_comma_rating_is_named_with_the_fix(tmp_path, reader):
    path = tmp_path / "r.csv"
    path.write_text("user_id;item_id;rating\n1;10;4\n2;10;4,5\n")
    with pytest.raises(DataError) as err:
        Interactions.from_csv(path)
    assert str(err.value) == (
        f"column 'rating' has non-numeric ratings (e.g. '4,5') at line 3 of {path}; "
        "write decimals with a point (4.5)"
    )


def test_a_header_in_another_case_is_named_with_the_names_to_pass(tmp_path, reader):
    path = tmp_path / "r.csv"
    path.write_text("USER_ID, Item_Id ,rating\n1,10,4\n")
    with pytest.raises(DataError) as err:
        Interactions.from_csv(path)
    assert str(err.value).endswith(
        "; names are matched exactly: pass 'USER_ID' for 'user_id', 'Item_Id' for 'item_id'"
    ), str(err.value)
    assert Interactions.from_csv(path, "USER_ID", "Item_Id").nnz == 1
    frame = pd.DataFrame({"User_Id": [1], "item_id": [2], "rating": [3.0]})
    with pytest.raises(DataError, match="pass 'User_Id' for 'user_id'$"):
        Interactions.from_frame(frame)
    path.write_text("uid,iid,rating\n1,10,4\n")
    with pytest.raises(DataError) as err:
        Interactions.from_csv(path)
    assert "matched exactly" not in str(err.value)  # no name is close: no hint


def test_a_float_spelling_at_2_to_the_53_is_no_neighbour_of_another_id(tmp_path, reader):
    """9007199254740993.0 rounds to the float 2**53, which passed as exact ("up to
    2**53"): the user was read as 9007199254740992 and merged with that user's row."""
    path = tmp_path / "r.csv"
    _write(path, ["9007199254740992,1,3", "9007199254740993.0,1,4"])
    data = Interactions.from_csv(path)
    assert data.users.ids.tolist() == ["9007199254740992", "9007199254740993.0"]
    assert data.load_report.merged == 0
