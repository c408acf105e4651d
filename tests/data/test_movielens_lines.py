"""The MovieLens ratings readers name the file and line of a bad rating line (pandas reads
them fast but names none), and read byte-order marks, CRLF and blank lines."""

from __future__ import annotations

import pytest

from latentrec import datasets
from latentrec.data import DataError


def _dat(folder, text: str):
    (folder / "ratings.dat").write_bytes(text.encode())
    return folder / "ratings.dat"


def _csv(folder, text: str):
    (folder / "ratings.csv").write_bytes(text.encode())
    return folder / "ratings.csv"


def test_dat_with_bom_crlf_and_blank_lines_loads(tmp_path):
    _dat(tmp_path, "\ufeff1::10::5::978300760\r\n\r\n1::11::3::978302109\r\n2::10::4::978301968")
    data = datasets.read_ml_dat(tmp_path)
    assert data.users.ids.tolist() == [1, 2] and sorted(data.ratings.tolist()) == [3, 4, 5]


@pytest.mark.parametrize(
    ("lines", "line", "says"),
    [
        (["1::10::5::1", "", "1::11::4,5::2"], 3, "the rating '4,5' is not a finite number"),
        (["1::10::5::1", "1::11::nan::2"], 2, "the rating 'nan' is not a finite number"),
        (["1::10::5::1", "x7::11::4::2"], 2, "the user id 'x7' is not a whole number"),
        (["1::10::5::1", "2::1.5::4::2"], 2, "the movie id '1.5' is not a whole number"),
        (["1::10::5::1", "2::11::4::"], 2, "the timestamp '' is not a whole number"),
        (["1::10::5::1", "", "", "2::11::4"], 4, "has 3 field(s) separated by '::' where 4"),
        (["1,10,5,1"], 1, "has 1 field(s) separated by '::' where 4"),
    ],
)
def test_a_bad_dat_line_is_named(tmp_path, lines, line, says):
    path = _dat(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_dat(tmp_path)
    assert str(err.value).startswith(f"line {line} of {path}"), str(err.value)
    assert says in str(err.value)
    assert err.value.where == (line,) and err.value.unit == "line"


def test_dat_repeated_pair_and_off_scale_rating_name_their_lines(tmp_path):
    # Line numbers by hand: the blank line 2 counts, as an editor counts it.
    path = _dat(tmp_path, "1::10::5::1\n\n2::10::4::2\n1::10::3::3\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_dat(tmp_path)  # duplicates="error" by default
    assert f"at lines 1, 4 of {path}" in str(err.value), str(err.value)
    assert datasets.read_ml_dat(tmp_path, duplicates="last").nnz == 2
    path = _dat(tmp_path, "1::10::5::1\n\n2::10::7::2\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_dat(tmp_path)
    assert f"(e.g. 7) at line 3 of {path}" in str(err.value), str(err.value)


def test_csv_bad_lines_are_named(tmp_path):
    head = "\ufeffuserId,movieId,rating,timestamp\r\n"
    path = _csv(tmp_path, head + "1,10,4.5,978300760\r\n\r\n1,11,,978300760\r\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_csv(tmp_path)
    assert str(err.value).startswith(f"line 4 of {path}: the rating '' is not"), str(err.value)
    path = _csv(tmp_path, head + "1,10,4.5,1\r\n2,10,3,2\r\n1,10,4,3\r\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_csv(tmp_path)
    assert f"at lines 2, 4 of {path}" in str(err.value), str(err.value)
    path = _csv(tmp_path, "userId,itemId,rating,timestamp\n1,10,4.5,1\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_csv(tmp_path)
    assert f"line 1 of {path}: the header has no column(s) ['movieId']" in str(err.value)
    _csv(tmp_path, head + "1,10,4.5,1\r\n\r\n2,10,3,2")
    assert datasets.read_ml_csv(tmp_path).nnz == 2
