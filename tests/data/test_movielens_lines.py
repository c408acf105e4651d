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


# Spellings of a number: the fast read (pandas) takes some, Python's int()/float() more.
SPELLINGS = ["12", " 12 ", "+5", "-5", "00012", "12.0", "1e3", "1_000", "4_5", "1 000",
             "\u0663", "\uff11\uff12", "0x10", "1.5", "nan", "inf", ".5", "5.", "--5"]  # fmt: skip


def _pandas_reads(cell: str, whole: bool) -> bool:
    """The slow obvious reference: pandas' C reader on one cell, as the fast path reads."""
    import io
    import warnings

    import numpy as np
    import pandas as pd

    try:
        with warnings.catch_warnings():  # its own cast of 3E169 to int64 warns
            warnings.simplefilter("ignore", RuntimeWarning)
            value = pd.read_csv(
                io.StringIO(f"x\n{cell}\n"), dtype={"x": np.int64 if whole else np.float64}
            )["x"].iloc[0]
    except (ValueError, OverflowError):
        return False
    return whole or bool(np.isfinite(value))


def _random_spellings(n: int) -> list[str]:
    import random

    rng = random.Random(7)
    alphabet = "0123456789+-_.eE x\u0663"
    cells = ("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(n))
    return [c for c in cells if c.strip() and c.strip() == c.strip(" ")]


@pytest.mark.parametrize("cell", SPELLINGS + _random_spellings(60))
@pytest.mark.parametrize(
    ("name", "reader", "text", "line"),
    [
        ("ratings.dat", datasets.read_ml_dat, "2::10::4::978300760\n{u}::11::{r}::978300761\n", 2),
        ("ratings.csv", datasets.read_ml_csv,
         "userId,movieId,rating,timestamp\n2,10,4,978300760\n{u},11,{r},978300761\n", 3),
        ("u.data", datasets.read_ml100k, "2\t10\t4\t978300760\n{u}\t11\t{r}\t978300761\n", 2),
        ("ml-100k.inter", datasets.read_ml100k,
         "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
         "2\t10\t4\t978300760\n{u}\t11\t{r}\t978300761\n", 3),
    ],
)  # fmt: skip
def test_a_number_is_read_or_named_by_its_line_never_by_pandas(tmp_path, cell, name, reader,
                                                               text, line):  # fmt: skip
    """The fast read and the line-by-line check take the same spellings: what pandas
    refuses (1_000, another script's digits) is named by file, line and column, where
    Python's int() once passed it and pandas' own message, with no line, came out."""
    for field, values in (("user id", {"u": cell, "r": "3"}), ("rating", {"u": "1", "r": cell})):
        whole = field != "rating"
        (tmp_path / name).write_text(text.format(**values), encoding="utf-8")
        if _pandas_reads(cell, whole):
            try:
                assert reader(tmp_path).nnz == 2
            except DataError as err:  # a rating read, off the scale or float32: its line
                assert not whole and f"at line {line} of {tmp_path / name}" in str(err), err
            continue
        with pytest.raises(DataError) as err:
            reader(tmp_path)
        kind = "a whole number" if whole else "a finite number"
        assert str(err.value).startswith(
            f"line {line} of {tmp_path / name}: the {field} {cell!r} is not {kind}"
        ), str(err.value)
