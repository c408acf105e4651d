"""Issue 10, the data layer: a new user's messy files, each step reproduced as they took it.

Each test writes the kind of file people export from spreadsheets and databases, reads
it the way the README shows, and checks what used to go wrong (the comment says what
happened before) now loads right, or is refused with a DataError naming the file, the
line and the column.
"""

from __future__ import annotations

import gzip
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from latentrec.data import DataError, Interactions, LoadReport, UnknownIdError


def _write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _cells(data: Interactions) -> dict:
    return {
        (data.users.ids[u], data.items.ids[i]): float(r)
        for u, i, r in zip(data.user_idx, data.item_idx, data.ratings, strict=True)
    }


def _balanced(report: LoadReport) -> bool:
    return report.loaded + report.merged + report.rejected == report.rows_read


# ---------------------------------------------------------------------- 1. spaces in ids
def test_ids_with_surrounding_spaces_are_one_user(tmp_path):
    # Before: " eve " and "eve" were two users, silently.
    path = _write(
        tmp_path / "ratings.csv",
        "user_id,item_id,rating\neve,1,4\n eve ,2,5\nbob, 1 ,3\n",
    )
    data = Interactions.from_csv(path)
    assert data.users.ids.tolist() == ["bob", "eve"]
    assert data.items.ids.tolist() == [1, 2]  # " 1 " is item 1, and the column stays integer
    assert _cells(data) == {("eve", 1): 4.0, ("eve", 2): 5.0, ("bob", 1): 3.0}
    assert data.load_report.ids_stripped == 2
    assert "stripped surrounding spaces from 2 id(s)" in data.load_report.summary()


def test_strip_ids_false_keeps_ids_as_written(tmp_path):
    path = _write(tmp_path / "ratings.csv", "user_id,item_id,rating\neve,a,4\n eve ,a,5\n")
    data = Interactions.from_csv(path, strip_ids=False)
    assert sorted(data.users.ids.tolist()) == [" eve ", "eve"]
    assert data.load_report.ids_stripped == 0


def test_spaces_in_frame_ids_and_side_tables(tmp_path):
    df = pd.DataFrame({"user_id": ["eve", "eve\u00a0"], "item_id": ["x ", "x"], "rating": [1, 2]})
    feats = pd.DataFrame({"title": ["Ex"]}, index=[" x"])
    data = Interactions.from_frame(df, item_features=feats)
    assert data.users.ids.tolist() == ["eve"] and data.items.ids.tolist() == ["x"]
    assert data.item_titles().tolist() == ["Ex"]  # no second, cold " x" item
    assert data.load_report.merged == 1 and data.load_report.ids_stripped == 2


# ---------------------------------------------------------------------- 2. byte-order mark
def test_utf8_file_with_a_byte_order_mark_reads(tmp_path):
    # Before: missing column(s) ['user_id']; the table has columns ['\ufeffuser_id', ...]
    path = _write(tmp_path / "export.csv", "user_id;item_id;rating\nzoë;1;4\n", "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    data = Interactions.from_csv(path)
    assert data.users.ids.tolist() == ["zoë"]
    assert data.load_report.encoding == "utf-8-sig" and data.load_report.separator == ";"
    # An explicit encoding="utf-8" still finds the first column.
    assert Interactions.from_csv(path, encoding="utf-8").users.ids.tolist() == ["zoë"]


def test_latin1_file_needs_its_encoding_and_says_so(tmp_path):
    path = _write(tmp_path / "old.csv", "user_id,item_id,rating\nu1,x,1\nzoë,1,4\n", "latin-1")
    with pytest.raises(DataError) as info:
        Interactions.from_csv(path)
    msg = str(info.value)
    assert f"line 3 of {path}" in msg and "encoding='latin-1'" in msg
    data = Interactions.from_csv(path, encoding="latin-1")
    assert "zoë" in data.users.ids.tolist()


def test_unknown_encoding_is_a_data_error(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating\n1,1,1\n")
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        Interactions.from_csv(path, encoding="klingon")


# ------------------------------------------------------------- 3. empty files, parse errors
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "is empty (0 bytes)"),
        ("\n\n  \n", "is empty (only blank lines)"),
        ("user_id,item_id,rating\n", "has a header (line 1) but no data rows"),
        ("user_id,item_id,rating\n\n\n", "has a header (line 1) but no data rows"),
    ],
)
def test_empty_file_is_a_data_error_naming_the_file(tmp_path, text, words):
    # Before: _csv.Error: Could not determine delimiter (a raw traceback).
    path = _write(tmp_path / "ratings.csv", text)
    with pytest.raises(DataError) as info:
        Interactions.from_csv(path)
    assert str(path) in str(info.value) and words in str(info.value)
    with pytest.raises(DataError):
        Interactions.read(path)


def test_parse_errors_name_file_and_line(tmp_path):
    unclosed = _write(tmp_path / "q.csv", 'user_id,item_id,rating\n1,2,3\n"eve,2,3\n4,5,6\n')
    with pytest.raises(DataError, match=rf"line 3 of {unclosed}: .*quoted field .*never closed"):
        Interactions.from_csv(unclosed)
    wide = _write(tmp_path / "w.csv", "user_id,item_id,rating\n1,2,3\n1,2,3,4\n")
    with pytest.raises(DataError) as info:
        Interactions.from_csv(wide)
    assert str(info.value) == f"line 3 of {wide} has 4 fields where the header has 3"
    assert info.value.where == (3,) and info.value.unit == "line"


def test_files_that_are_not_tables(tmp_path):
    folder = tmp_path / "ratings.csv"
    folder.mkdir()
    with pytest.raises(DataError, match="is a folder"):
        Interactions.from_csv(folder)
    fake = _write(tmp_path / "r.parquet", "user_id,item_id\n1,2\n")
    with pytest.raises(DataError, match=rf"cannot read {fake} as Parquet"):
        Interactions.read(fake)
    good = tmp_path / "good.parquet"
    pd.DataFrame({"user_id": [1], "item_id": [2], "rating": [3.0]}).to_parquet(good)
    assert Interactions.read(good, sep=None, encoding=None).nnz == 1  # as the CLI passes them
    with pytest.raises(DataError, match="sep apply to delimited text files"):
        Interactions.read(good, sep=";")
    packed = tmp_path / "r.csv.gz"
    packed.write_bytes(gzip.compress(b"user_id,item_id,rating\n1,2,3\n"))
    assert Interactions.from_csv(packed).nnz == 1
    broken = tmp_path / "b.csv.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot unpack"):
        Interactions.from_csv(broken)


# ---------------------------------------------------------------------- 4. duplicates
def test_merged_duplicates_are_counted(tmp_path):
    # Before: duplicates were collapsed with no word about it.
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating\n1,a,4\n1,a,2\n1,a,5\n2,a,1\n2,b,3\n")
    for policy, value in (("last", 5.0), ("mean", 11 / 3), ("sum", 11.0)):
        data = Interactions.from_csv(path, duplicates=policy)
        report = data.load_report
        assert (report.rows_read, report.loaded, report.merged, report.rejected) == (5, 3, 2, 0)
        assert _cells(data)[(1, "a")] == pytest.approx(value)
        assert f"merged 2 duplicates (duplicates={policy!r})" in report.summary()
    with pytest.raises(DataError, match=rf"at lines 2, 3, 4 of {path}"):
        Interactions.from_csv(path, duplicates="error")


def test_duplicates_default_is_stated():
    doc = " ".join(Interactions.from_frame.__doc__.split())
    assert 'By default ``"last"`` for ratings and ``"sum"`` for events' in doc
    assert "load_report.merged" in doc


# ---------------------------------------------------------------------- 5. line numbers
def test_file_errors_count_lines_as_the_file_does(tmp_path):
    # Before: errors counted data rows from 0, pandas' own errors counted file lines.
    # Line 5 holds the bad rating: a blank line (3) and a quoted id spanning two lines
    # (6-7) sit around it, and neither shifts the count.
    path = _write(
        tmp_path / "ratings.csv",
        'user_id,item_id,rating\n1,a,4\n\n2,a,5\n3,a,five\n"x\ny",a,1\n4,a,oops\n',
    )
    with pytest.raises(DataError) as info:
        Interactions.from_csv(path)
    err = info.value
    assert str(err) == (
        f"column 'rating' has non-numeric ratings (e.g. 'five') at lines 5, 8 of {path}"
    )
    assert err.where == (5, 8) and err.column == "rating" and err.source == str(path)
    lines = path.read_text().split("\n")
    assert lines[5 - 1] == "3,a,five" and lines[8 - 1] == "4,a,oops"


def test_frame_errors_name_row_labels():
    df = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [1, 1, 1], "rating": [1.0, 2.0, 9.0]})
    df.index = [3, 4, 5]
    with pytest.raises(DataError, match=r"at rows 5$"):
        Interactions.from_frame(df, rating_scale=(1, 5))


def test_parquet_errors_name_rows_of_the_file(tmp_path):
    path = tmp_path / "r.parquet"
    pd.DataFrame({"user_id": [1, None], "item_id": [1, 2], "rating": [1.0, 2.0]}).to_parquet(path)
    with pytest.raises(DataError, match=rf"column 'user_id' has missing ids at rows 1 of {path}"):
        Interactions.from_parquet(path)


# ---------------------------------------------------------------------- 6. NA-like ids
def test_na_like_ids_are_ids(tmp_path):
    # Before: users "NA" and "null" were read as missing values.
    path = _write(
        tmp_path / "r.csv",
        "user_id,item_id,rating\nNA,None,4\nnull,nan,5\nNone,N/A,3\nnan,NULL,\n",
    )
    with pytest.raises(
        DataError, match=rf"missing \(NaN\) or infinite ratings at line 5 of {path}"
    ):
        Interactions.from_csv(path)  # an empty *rating* is a missing value
    data = Interactions.from_csv(path, on_bad_rows="skip")
    assert sorted(data.users.ids.tolist()) == ["NA", "None", "null"]
    assert sorted(data.items.ids.tolist()) == ["N/A", "None", "nan"]


def test_empty_id_cell_is_an_error_naming_the_line(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating\n1,2,3\n,2,4\n  ,3,5\n")
    with pytest.raises(DataError) as info:
        Interactions.from_csv(path)
    assert str(info.value) == f"column 'user_id' has empty ids at lines 3, 4 of {path}"


# ---------------------------------------------------------------------- 7. the load report
def test_load_report_counts_every_row(tmp_path):
    path = _write(
        tmp_path / "r.csv",
        "user_id,item_id,rating\n"
        "1,a,4\n"  # 2 loaded
        "1,a,5\n"  # 3 merged into line 2
        ",a,5\n"  # 4 empty id
        "2,b,9\n"  # 5 out of scale
        "2,c\n"  # 6 too few fields
        " 3 ,c,1\n",  # 7 loaded, id stripped
    )
    with pytest.raises(DataError, match=rf"line 6 of {path} has 2 fields where the header has 3"):
        Interactions.from_csv(path, rating_scale=(1, 5))  # strict by default
    data = Interactions.from_csv(path, rating_scale=(1, 5), on_bad_rows="skip")
    report = data.load_report
    assert (report.rows_read, report.loaded, report.merged, report.rejected) == (6, 2, 1, 3)
    assert _balanced(report)
    assert report.ids_stripped == 1
    by_reason = {r.reason: (r.column, r.where) for r in report.rejections}
    assert by_reason == {
        "2 fields where the header has 3": (None, (6,)),
        "empty ids": ("user_id", (4,)),
        "ratings outside the scale [1, 5]": ("rating", (5,)),
    }
    assert "rejected 3" in report.summary() and "(line 5)" in report.summary()
    assert data.users.ids.tolist() == [1, 3]


def test_skip_never_hides_all_rows(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating\n,a,1\n,b,2\n")
    with pytest.raises(DataError, match="no rows left to load .* all 2 rows are bad"):
        Interactions.from_csv(path, on_bad_rows="skip")


def test_skip_unknown_ids_against_a_training_vocabulary():
    train = Interactions.from_frame(
        pd.DataFrame({"user_id": [1, 2], "item_id": ["a", "b"], "rating": [1, 2]})
    )
    test = pd.DataFrame({"user_id": [1, 7], "item_id": ["b", "a"], "rating": [3, 4]})
    with pytest.raises(
        UnknownIdError, match=r"unknown user id\(s\): 7 \(column 'user_id', rows 1\)"
    ):
        Interactions.from_frame(test, users=train.users, items=train.items)
    kept = Interactions.from_frame(test, users=train.users, items=train.items, on_bad_rows="skip")
    assert kept.nnz == 1
    assert kept.load_report.rejections[0].reason == "unknown user ids"


def test_bad_option_values():
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "rating": [1]})
    with pytest.raises(DataError, match="on_bad_rows must be one of"):
        Interactions.from_frame(df, on_bad_rows="drop")


# ---------------------------------------------------------------------- 8. input kinds
def _reference(rows, cols, vals) -> dict:
    """Slow reference: a dict of cell -> summed value."""
    out: dict = defaultdict(float)
    for r, c, v in zip(rows, cols, vals, strict=True):
        out[(int(r), int(c))] += float(v)
    return dict(out)


def test_from_dense_accepts_a_sparse_matrix():
    # Before: ValueError: setting an array element with a sequence.
    rng = np.random.default_rng(0)
    dense = np.where(rng.random((6, 5)) < 0.4, rng.integers(1, 6, (6, 5)), 0).astype(float)
    dense[0, 0] = 3.0
    for kind in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array):
        data = Interactions.from_dense(kind(dense))
        assert data.shape == dense.shape
        np.testing.assert_array_equal(data.matrix.toarray(), dense)
        assert data.load_report.loaded == np.count_nonzero(dense)
        assert data.load_report.source == "a sparse matrix"
    with pytest.raises(DataError, match="explicit_zeros=True"):
        Interactions.from_dense(sp.csr_matrix(dense), missing=np.nan)


def test_from_dense_missing_marker_against_reference():
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 4, (5, 6)).astype(float)
    arr[rng.random(arr.shape) < 0.3] = np.nan
    # Slow reference: every cell, one by one.
    with_nan_blank = {
        (r, c): arr[r, c]
        for r in range(arr.shape[0])
        for c in range(arr.shape[1])
        if not np.isnan(arr[r, c])
    }
    data = Interactions.from_dense(arr, missing=np.nan)
    assert _cells(data) == with_nan_blank  # zeros are ratings here
    assert data.load_report.loaded == len(with_nan_blank)
    with pytest.raises(DataError, match=r"NaN or infinite ratings at \(row, column\)"):
        Interactions.from_dense(arr)  # missing=0: a NaN is then a bad rating, not a blank
    zero_blank = np.nan_to_num(arr)
    want = {k: v for k, v in with_nan_blank.items() if v != 0}
    assert _cells(Interactions.from_dense(zero_blank)) == want


def test_from_sparse_stored_cells_and_explicit_zeros():
    rows = np.array([0, 0, 1, 2, 2, 2])
    cols = np.array([1, 1, 0, 2, 0, 1])
    vals = np.array([2.0, 3.0, 0.0, 4.0, 1.0, 0.0])
    coo = sp.coo_matrix((vals, (rows, cols)), shape=(3, 3))
    data = Interactions.from_sparse(coo, explicit_zeros=True)
    assert _cells(data) == _reference(rows, cols, vals)  # (0, 1) summed, zeros kept
    report = data.load_report
    assert (report.rows_read, report.loaded, report.merged) == (6, 5, 1) and _balanced(report)
    blank_zeros = Interactions.from_sparse(coo)
    assert _cells(blank_zeros) == {k: v for k, v in _reference(rows, cols, vals).items() if v}
    assert "2 stored zero(s) read as blank" in blank_zeros.load_report.summary()


def test_from_arrays_against_reference():
    users = ["ann", "bob", "ann", 7, "ann"]
    items = [1, 1, 2, 2, 1]
    values = [5.0, 3.0, 4.0, 2.0, 1.0]
    data = Interactions.from_arrays(users, items, values, duplicates="sum")
    want: dict = defaultdict(float)
    for u, i, v in zip(users, items, values, strict=True):
        want[(str(u), i)] += v
    assert _cells(data) == dict(want)
    assert data.load_report.merged == 1 and not data.implicit
    implicit = Interactions.from_arrays(np.array([1, 2]), np.array([3, 3]))
    assert implicit.implicit and implicit.ratings.tolist() == [1.0, 1.0]
    with pytest.raises(DataError, match="users has 2, items has 3"):
        Interactions.from_arrays([1, 2], [1, 2, 3])
    with pytest.raises(DataError, match=r"column 'values' has non-numeric ratings .* at rows 1"):
        Interactions.from_arrays([1, 2], [1, 2], [1, "x"])
