"""A ratings file whose header lacks ``user_id`` / ``item_id`` is read from the one
well-known name it holds (MovieLens' ``userId`` / ``movieId``, or ``user`` / ``item``,
``userId`` / ``itemId``) when the caller named no column; the load report says which.
Two such names for one column are refused; a column the caller names is matched exactly.
Each case is checked against reading the same file with the columns named by hand."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.data import DataError

ROWS = [(1, 10, 4.0), (1, 20, 3.5), (2, 10, 5.0), (3, 30, 1.0)]


def write(path, header, rows=ROWS, sep=","):
    lines = [sep.join(header)] + [sep.join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def by_hand(path, user, item, **kwargs):
    return Interactions.read(path, user=user, item=item, **kwargs)


@pytest.mark.parametrize(
    ("user", "item"),
    [("userId", "movieId"), ("user", "item"), ("userId", "itemId"), ("user_id", "movieId")],
)
def test_well_known_header_names_are_read_and_said(tmp_path, user, item):
    path = write(tmp_path / "ratings.csv", [user, item, "rating", "timestamp"],
                 [(*row, 964982703) for row in ROWS])  # fmt: skip
    data = Interactions.read(path)
    expected = by_hand(path, user, item)
    assert data.fingerprint() == expected.fingerprint()
    assert data.users.ids.tolist() == [1, 2, 3] and data.items.ids.tolist() == [10, 20, 30]
    said = [f"user ids from column {user!r}"] if user != "user_id" else []
    said.append(f"item ids from column {item!r}")
    lacks = ", ".join(repr(d) for d, got in (("user_id", user), ("item_id", item)) if d != got)
    assert data.load_report.notes[0] == f"{', '.join(said)} (no column {lacks})"
    # Named by hand, nothing is said about columns.
    assert not any("from column" in n for n in expected.load_report.notes)


def test_the_exact_reader_and_the_fast_one_agree(tmp_path):
    # A quoted cell makes the fast (pyarrow) reader decline: the exact reader reads it.
    clean = write(tmp_path / "clean.csv", ["userId", "movieId", "rating"])
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(clean.read_text().replace("3,30,1.0", '"3",30,1.0'))
    a, b = Interactions.read(clean), Interactions.read(quoted)
    assert a.fingerprint() == b.fingerprint() == by_hand(clean, "userId", "movieId").fingerprint()
    assert a.load_report.notes == b.load_report.notes
    # A bad row named by its line, under the column actually read.
    bad = tmp_path / "bad.csv"
    bad.write_text("userId,movieId,rating\n1,10,4\n2,,5\n")
    with pytest.raises(DataError, match=f"column 'movieId' has empty ids at line 3 of {bad}"):
        Interactions.read(bad)


def test_packed_tab_separated_and_spaced_headers(tmp_path):
    plain = write(tmp_path / "r.csv", ["userId", "movieId", "rating"])
    packed = tmp_path / "r.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    tsv = write(tmp_path / "r.tsv", ["userId", "movieId", "rating"], sep="\t")
    spaced = write(tmp_path / "s.csv", ["userId", " movieId", " rating"], sep=",")
    want = by_hand(plain, "userId", "movieId").fingerprint()
    for path in (packed, tsv, spaced):
        assert Interactions.read(path).fingerprint() == want, path


def test_parquet_reads_the_same_names(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(ROWS, columns=["userId", "movieId", "rating"])
    path = tmp_path / "r.parquet"
    frame.to_parquet(path)
    data = Interactions.read(path)
    assert data.fingerprint() == by_hand(path, "userId", "movieId").fingerprint()
    assert data.load_report.notes[0].startswith("user ids from column 'userId', item ids from")
    frame.insert(0, "user", frame["userId"])
    frame.to_parquet(path)
    with pytest.raises(DataError, match="2 that could hold the user ids"):
        Interactions.read(path)


def test_two_candidates_are_refused_naming_both_and_the_flag(tmp_path):
    path = write(tmp_path / "r.csv", ["user", "userId", "item_id", "rating"],
                 [(1, 1, 10, 4.0)])  # fmt: skip
    with pytest.raises(DataError) as err:
        Interactions.read(path)
    assert str(err.value) == (
        f"the header (line 1 of {path}) has no column 'user_id' and 2 that could hold the "
        "user ids ('userId', 'user'); name one: user='userId' (--user-col userId)"
    )
    assert err.value.where == (1,) and err.value.unit == "line"
    # Naming one reads it, the other left as an ordinary column.
    assert Interactions.read(path, user="user").nnz == 1


def test_a_named_column_is_matched_exactly(tmp_path):
    path = write(tmp_path / "r.csv", ["userId", "movieId", "rating"])
    # "user_id" given by the caller is their column, not the reader's default.
    with pytest.raises(DataError, match=r"missing column\(s\) \['user_id'\]"):
        Interactions.read(path, user="user_id")
    # The case hint for other spellings stays.
    with pytest.raises(DataError, match="names are matched exactly: pass 'userId' for 'userid'"):
        Interactions.read(path, user="userid")
    # The default name wins over an alias when the header has both.
    both = write(tmp_path / "b.csv", ["user_id", "userId", "item_id", "rating"],
                 [(1, 7, 10, 4.0)])  # fmt: skip
    data = Interactions.read(both)
    assert data.users.ids.tolist() == [1]
    assert not any("from column" in n for n in data.load_report.notes)
    # A header with no known name still names the missing defaults, case hint included.
    other = write(tmp_path / "o.csv", ["USER_ID", "Item", "rating"])
    with pytest.raises(DataError, match="pass 'USER_ID' for 'user_id'"):
        Interactions.read(other)
