"""Interactions: building the CSR table from frames, arrays and files, and using it."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec.data import DataError, Interactions, UnknownIdError, Vocabulary


# ---------------------------------------------------------------------- fixtures
def _ratings_frame() -> pd.DataFrame:
    """Unsorted rows, int user ids, string item ids, distinct timestamps, no duplicates."""
    return pd.DataFrame(
        {
            "uid": [30, 10, 20, 10, 30, 20, 10],
            "iid": ["c", "b", "a", "a", "a", "d", "d"],
            "score": [1.0, 2.0, 3.0, 4.0, 5.0, 2.5, 3.5],
            "when": [700.0, 100.0, 300.0, 50.0, 10.0, 900.0, 400.0],
        }
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return _ratings_frame()


@pytest.fixture
def data(frame) -> Interactions:
    return Interactions.from_frame(frame, "uid", "iid", "score", "when")


def _cells(data: Interactions) -> dict:
    """{(user_id, item_id): (rating, timestamp)} from the stored cells."""
    ts = data.timestamps if data.timestamps is not None else [None] * data.nnz
    return {
        (data.users.ids[u], data.items.ids[i]): (float(r), None if t is None else float(t))
        for u, i, r, t in zip(data.user_idx, data.item_idx, data.ratings, ts, strict=True)
    }


def _assert_canonical_csr(matrix) -> None:
    assert isinstance(matrix, sp.csr_matrix)
    assert matrix.format == "csr"
    assert matrix.data.dtype == np.float32
    assert matrix.has_sorted_indices
    for r in range(matrix.shape[0]):
        row = matrix.indices[matrix.indptr[r] : matrix.indptr[r + 1]]
        assert np.all(np.diff(row) > 0), f"row {r} has unsorted or repeated columns"


# ---------------------------------------------------------------------- from_frame
def test_from_frame_uses_given_column_names(data, frame):
    assert data.shape == (3, 4)
    assert data.nnz == len(frame)
    assert not data.implicit
    dense = data.matrix.toarray()
    for row in frame.itertuples():
        u = data.users.index(row.uid)[0]
        i = data.items.index(row.iid)[0]
        assert dense[u, i] == row.score


def test_default_column_names():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [5, 5], "rating": [3, 4], "x": [0, 0]})
    data = Interactions.from_frame(df)
    assert data.matrix.toarray().tolist() == [[3.0], [4.0]]
    assert data.timestamps is None


def test_csr_orientation_dtypes_and_sorted_indices(data):
    _assert_canonical_csr(data.matrix)
    assert data.matrix.shape == (data.n_users, data.n_items) == (len(data.users), len(data.items))
    assert data.n_users == 3 and data.n_items == 4
    assert data.item_idx.dtype == np.int32
    assert data.user_idx.dtype == np.int32
    assert data.ratings.dtype == np.float32
    assert data.timestamps.dtype == np.float64


def test_ids_are_sorted_so_order_is_deterministic(frame):
    a = Interactions.from_frame(frame, "uid", "iid", "score", "when")
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert not shuffled["uid"].equals(frame["uid"])
    b = Interactions.from_frame(shuffled, "uid", "iid", "score", "when")
    assert a.users.ids.tolist() == [10, 20, 30]
    assert a.items.ids.tolist() == ["a", "b", "c", "d"]
    assert a.users == b.users and a.items == b.items
    assert (a.matrix != b.matrix).nnz == 0
    np.testing.assert_array_equal(a.timestamps, b.timestamps)


def test_int_ids_stay_ints_and_string_ids_stay_strings(data):
    assert data.users.is_integer
    assert data.users.ids.dtype == np.int64
    assert not data.items.is_integer
    assert all(type(v) is str for v in data.items.ids)


def test_numeric_looking_string_ids_stay_strings():
    df = pd.DataFrame({"user_id": ["10", "9", "10"], "item_id": [1, 1, 2], "rating": [1, 2, 3]})
    data = Interactions.from_frame(df)
    assert not data.users.is_integer
    assert data.users.ids.tolist() == ["10", "9"]  # text order, not numeric order


def test_timestamps_aligned_with_cells(data, frame):
    out = data.to_frame()
    assert list(out.columns) == ["user_id", "item_id", "rating", "timestamp"]
    expected = frame.rename(
        columns={"uid": "user_id", "iid": "item_id", "score": "rating", "when": "timestamp"}
    )
    key = ["user_id", "item_id"]
    got = out.astype({"rating": np.float64}).sort_values(key).reset_index(drop=True)
    want = expected.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # Cell by cell, too: every stored cell carries its own input row's timestamp.
    by_pair = {(r.uid, r.iid): (r.score, r.when) for r in frame.itertuples()}
    assert _cells(data) == by_pair


def test_implicit_data_gives_ones(frame):
    data = Interactions.from_frame(frame, "uid", "iid", None)
    assert data.implicit
    assert np.all(data.ratings == 1.0)
    assert data.nnz == len(frame)
    assert "interactions" in repr(data)


def test_implicit_repeats_counted_with_sum():
    df = pd.DataFrame({"u": [1, 1, 1, 2], "i": ["x", "x", "y", "x"]})
    data = Interactions.from_frame(df, "u", "i", None, duplicates="sum")
    assert data.implicit
    assert data.matrix.toarray().tolist() == [[2.0, 1.0], [1.0, 0.0]]


# ---------------------------------------------------------------------- duplicates
def _dupes() -> pd.DataFrame:
    # (1, "x") appears three times; its latest timestamp is on the *first* of its rows.
    return pd.DataFrame(
        {
            "u": [1, 2, 1, 1, 2],
            "i": ["x", "y", "x", "x", "z"],
            "r": [5.0, 1.0, 2.0, 3.0, 4.0],
            "t": [90.0, 10.0, 20.0, 30.0, 40.0],
        }
    )


def test_duplicates_last_keeps_latest_by_timestamp():
    data = Interactions.from_frame(_dupes(), "u", "i", "r", "t")
    cells = _cells(data)
    assert data.nnz == 3
    assert cells[(1, "x")] == (5.0, 90.0)
    assert cells[(2, "y")] == (1.0, 10.0)
    assert cells[(2, "z")] == (4.0, 40.0)


def test_duplicates_last_keeps_last_row_without_timestamps():
    data = Interactions.from_frame(_dupes(), "u", "i", "r")
    assert _cells(data)[(1, "x")] == (3.0, None)
    assert data.nnz == 3


def test_duplicates_last_with_tied_timestamps_keeps_later_row():
    df = pd.DataFrame({"u": [1, 1, 1], "i": [7, 7, 7], "r": [1.0, 2.0, 3.0], "t": [5, 9, 9]})
    data = Interactions.from_frame(df, "u", "i", "r", "t")
    assert _cells(data) == {(1, 7): (3.0, 9.0)}


def test_duplicates_mean_and_sum():
    mean = Interactions.from_frame(_dupes(), "u", "i", "r", "t", duplicates="mean")
    total = Interactions.from_frame(_dupes(), "u", "i", "r", "t", duplicates="sum")
    assert mean.ratings[mean.users.index(1)[0]] == pytest.approx(10.0 / 3)
    assert _cells(total)[(1, "x")] == (10.0, 90.0)
    assert _cells(mean)[(2, "z")] == (4.0, 40.0)
    # The merged cell keeps its latest timestamp.
    assert _cells(mean)[(1, "x")][1] == 90.0
    _assert_canonical_csr(mean.matrix)
    _assert_canonical_csr(total.matrix)


def test_duplicates_error_names_pair_and_rows():
    df = _dupes()
    df.index = ["r0", "r1", "r2", "r3", "r4"]
    with pytest.raises(DataError) as info:
        Interactions.from_frame(df, "u", "i", "r", duplicates="error")
    msg = str(info.value)
    assert "(u, i)" in msg
    assert "(1, 'x')" in msg
    assert "'r0', 'r2', 'r3'" in msg
    assert "'r1'" not in msg and "'r4'" not in msg


def test_duplicates_error_passes_without_repeats(frame):
    data = Interactions.from_frame(frame, "uid", "iid", "score", duplicates="error")
    assert data.nnz == len(frame)


def test_unknown_duplicates_policy(frame):
    with pytest.raises(DataError, match="duplicates must be one of"):
        Interactions.from_frame(frame, "uid", "iid", "score", duplicates="first")


# ---------------------------------------------------------------------- bad input
def test_missing_columns_listed_with_available_columns(frame):
    with pytest.raises(DataError) as info:
        Interactions.from_frame(frame, "user", "iid", "rating")
    msg = str(info.value)
    assert "['user', 'rating']" in msg
    assert "['uid', 'iid', 'score', 'when']" in msg


def test_missing_timestamp_column(frame):
    with pytest.raises(DataError, match=r"missing column\(s\) \['ts'\]"):
        Interactions.from_frame(frame, "uid", "iid", "score", "ts")


def test_nan_ratings_name_rows(frame):
    frame.loc[[2, 5], "score"] = np.nan
    with pytest.raises(DataError, match=r"'score' has missing \(NaN\).* at rows 2, 5$"):
        Interactions.from_frame(frame, "uid", "iid", "score")


def test_infinite_ratings_name_rows(frame):
    frame.index = list("pqrstuv")
    frame.loc["t", "score"] = np.inf
    with pytest.raises(DataError, match="infinite ratings at rows 't'"):
        Interactions.from_frame(frame, "uid", "iid", "score")


def test_non_numeric_ratings_name_rows_and_value(frame):
    frame["score"] = frame["score"].astype(object)
    frame.loc[4, "score"] = "five"
    frame.loc[6, "score"] = "4"  # numeric text is accepted
    with pytest.raises(DataError) as info:
        Interactions.from_frame(frame, "uid", "iid", "score")
    msg = str(info.value)
    assert "non-numeric ratings" in msg
    assert "'five'" in msg
    assert msg.endswith("at rows 4")


def test_numeric_text_ratings_accepted(frame):
    frame["score"] = frame["score"].astype(str)
    data = Interactions.from_frame(frame, "uid", "iid", "score")
    assert sorted(data.ratings.tolist()) == sorted(_ratings_frame()["score"].tolist())


def test_missing_ids_name_rows(frame):
    users = frame.copy()
    users["uid"] = users["uid"].astype(object)
    users.loc[3, "uid"] = None
    with pytest.raises(DataError, match="'uid' has missing ids at rows 3"):
        Interactions.from_frame(users, "uid", "iid", "score")
    items = frame.copy()
    items.loc[[0, 1], "iid"] = np.nan
    with pytest.raises(DataError, match="'iid' has missing ids at rows 0, 1"):
        Interactions.from_frame(items, "uid", "iid", "score")


def test_many_bad_rows_are_summarised():
    df = pd.DataFrame({"u": range(8), "i": [1] * 8, "r": [np.nan] * 8})
    with pytest.raises(DataError, match=r"rows 0, 1, 2, 3, 4 \(and 3 more\)"):
        Interactions.from_frame(df, "u", "i", "r")


def test_empty_frame(frame):
    with pytest.raises(DataError, match="empty"):
        Interactions.from_frame(frame.iloc[:0], "uid", "iid", "score")


def test_not_a_frame():
    with pytest.raises(DataError, match="DataFrame"):
        Interactions.from_frame({"user_id": [1], "item_id": [1], "rating": [1]})


def test_data_error_is_value_error():
    assert issubclass(DataError, ValueError)


def test_rating_scale_violations_name_rows(frame):
    frame.index = [100, 101, 102, 103, 104, 105, 106]
    with pytest.raises(DataError) as info:
        Interactions.from_frame(frame, "uid", "iid", "score", rating_scale=(2, 4))
    msg = str(info.value)
    assert msg == "2 rating(s) outside the scale [2, 4] (e.g. 1) at rows 100, 104"


def test_rating_scale_bounds_inclusive_and_stored(frame):
    data = Interactions.from_frame(frame, "uid", "iid", "score", rating_scale=(1, 5))
    assert data.rating_scale == (1.0, 5.0)
    assert "scale 1-5" in repr(data)
    with pytest.raises(DataError, match="low < high"):
        Interactions.from_frame(frame, "uid", "iid", "score", rating_scale=(5, 1))


def test_datetime_timestamps_become_seconds():
    df = pd.DataFrame(
        {
            "u": [1, 2],
            "i": [1, 1],
            "r": [1.0, 2.0],
            "t": pd.to_datetime(["1970-01-01 00:01:40", "2020-01-01 00:00:00"]),
        }
    )
    data = Interactions.from_frame(df, "u", "i", "r", "t")
    assert data.timestamps.tolist() == [100.0, 1577836800.0]


def test_timezone_aware_timestamps_become_utc_seconds():
    t = pd.to_datetime(["2020-01-01 01:00:00", "2020-01-01 02:30:00"]).tz_localize("Europe/Paris")
    df = pd.DataFrame({"u": [1, 2], "i": [1, 1], "r": [1.0, 2.0], "t": t})
    data = Interactions.from_frame(df, "u", "i", "r", "t")
    assert data.timestamps.tolist() == [1577836800.0, 1577836800.0 + 5400]


def test_bad_timestamps_name_rows(frame):
    frame["when"] = frame["when"].astype(object)
    frame.loc[1, "when"] = "yesterday"
    with pytest.raises(DataError, match="non-numeric timestamps .*'yesterday'.* rows 1"):
        Interactions.from_frame(frame, "uid", "iid", "score", "when")


def _with_times(times):
    n = len(times)
    return pd.DataFrame({"u": range(n), "i": 1, "r": 1.0, "t": times})


def test_period_timestamps_are_their_start_times_not_their_ordinals():
    # Before: a period column entered as its ordinal, January 2020 by the month as 600
    # "seconds since 1970", silently (the order within a frequency even survived).
    months = pd.Series(pd.PeriodIndex(["2020-01", "1969-12", "0001-01"], freq="M"))
    data = Interactions.from_frame(_with_times(months), "u", "i", "r", "t")
    assert data.timestamps.tolist() == [1577836800.0, -2678400.0, -62135596800.0]
    days = pd.Series(pd.period_range("2020-01-01", periods=2, freq="D"))
    data = Interactions.from_frame(_with_times(days), "u", "i", "r", "t")
    assert data.timestamps.tolist() == [1577836800.0, 1577923200.0]
    with pytest.raises(DataError, match="missing timestamps at rows 1"):
        missing = pd.Series(pd.PeriodIndex(["2020-01", None], freq="M"))
        Interactions.from_frame(_with_times(missing), "u", "i", "r", "t")


def test_date_and_time_objects_become_utc_seconds():
    # Before: "non-numeric timestamps (e.g. datetime.date(2020, 1, 1))" for what pandas
    # leaves as objects: a .dt.date column, times in several zones (a concat of frames),
    # and a categorical column of dates or of ISO texts.
    import datetime as dt

    dates = [dt.date(2020, 1, 1), dt.date(1, 1, 1)]
    zones = [
        pd.Timestamp("2020-01-01 09:00", tz="Asia/Tokyo"),
        pd.Timestamp("2020-01-01 00:00", tz="UTC"),
        dt.datetime(2020, 1, 1),  # naive: UTC, as everywhere else
        np.datetime64("2020-01-01T00:00:00"),
    ]
    for times, expected in (
        (dates, [1577836800.0, -62135596800.0]),
        (zones, [1577836800.0] * 4),
        (pd.Categorical(["2020-01-01", "2020-01-02"]), [1577836800.0, 1577923200.0]),
        (pd.Categorical(pd.to_datetime(["2020-01-01", "2020-01-01"])), [1577836800.0] * 2),
    ):
        frame = _with_times(
            pd.Series(times, dtype="category" if hasattr(times, "categories") else object)
        )
        data = Interactions.from_frame(frame, "u", "i", "r", "t")
        assert data.timestamps.tolist() == expected
    with pytest.raises(DataError, match="missing timestamps at rows 1"):
        Interactions.from_frame(_with_times(pd.Series([dates[0], None])), "u", "i", "r", "t")
    # A duration is no point in time: named, not read as nanoseconds "since 1970".
    with pytest.raises(DataError, match="durations"):
        Interactions.from_frame(_with_times(pd.to_timedelta([1, 2], unit="D")), "u", "i", "r", "t")


def test_missing_datetime_timestamps_name_rows():
    df = pd.DataFrame(
        {"u": [1, 2], "i": [1, 1], "r": [1.0, 2.0], "t": pd.to_datetime(["2020-01-01", None])}
    )
    with pytest.raises(DataError, match="missing timestamps at rows 1"):
        Interactions.from_frame(df, "u", "i", "r", "t")


# ---------------------------------------------------------------------- side tables
def test_item_features_aligned_with_cold_start_items(frame):
    # Shuffled order, one cold item ("z", no ratings), one rated item ("b") missing.
    feats = pd.DataFrame(
        {"title": ["Dee", "Zed", "Ay", "Cee"], "year": [2004, 1999, 2001, 2003]},
        index=["d", "z", "a", "c"],
    )
    data = Interactions.from_frame(frame, "uid", "iid", "score", item_features=feats)
    assert data.items.ids.tolist() == ["a", "b", "c", "d", "z"]
    assert data.shape == (3, 5)
    assert data.item_counts().tolist() == [3, 1, 1, 2, 0]
    f = data.item_features
    assert f.index.tolist() == ["a", "b", "c", "d", "z"]
    assert f.index.name == "item_id"
    assert f.loc["a", "title"] == "Ay" and f.loc["z", "year"] == 1999
    assert f["year"].tolist()[:1] + f["year"].tolist()[2:] == [2001, 2003, 2004, 1999]
    assert pd.isna(f.loc["b", "title"]) and pd.isna(f.loc["b", "year"])
    # The caller's table is left alone.
    assert feats.index.tolist() == ["d", "z", "a", "c"]
    # Ratings still sit under the right items.
    assert _cells(data)[(20, "d")] == (2.5, None)
    _assert_canonical_csr(data.matrix)


def test_user_features_aligned_and_cold_users_appended(frame):
    feats = pd.DataFrame({"age": [33.0, 44.0, 55.0]}, index=[30, 99, 10])
    data = Interactions.from_frame(frame, "uid", "iid", "score", user_features=feats)
    assert data.users.is_integer
    assert data.users.ids.tolist() == [10, 20, 30, 99]
    assert data.user_counts().tolist() == [3, 2, 2, 0]
    ages = data.user_features["age"]
    assert ages.index.tolist() == [10, 20, 30, 99]
    assert ages.loc[10] == 55.0 and ages.loc[30] == 33.0 and ages.loc[99] == 44.0
    assert np.isnan(ages.loc[20])
    assert "user features ['age']" in repr(data)


def test_features_with_repeated_ids_rejected(frame):
    feats = pd.DataFrame({"title": ["x", "y"]}, index=["a", "a"])
    with pytest.raises(DataError, match="repeated item ids"):
        Interactions.from_frame(frame, "uid", "iid", "score", item_features=feats)


def test_features_must_be_a_frame(frame):
    with pytest.raises(DataError, match="item_features must be a DataFrame"):
        Interactions.from_frame(frame, "uid", "iid", "score", item_features={"a": 1})


# ---------------------------------------------------------------------- shared vocabularies
def test_shared_vocabularies(data):
    test = pd.DataFrame({"uid": [30, 10], "iid": ["b", "d"], "score": [4.0, 1.0]})
    other = Interactions.from_frame(test, "uid", "iid", "score", users=data.users, items=data.items)
    assert other.users is data.users and other.items is data.items
    assert other.shape == data.shape
    dense = other.matrix.toarray()
    assert dense[data.users.index(30)[0], data.items.index("b")[0]] == 4.0
    assert dense[data.users.index(10)[0], data.items.index("d")[0]] == 1.0
    assert other.nnz == 2
    _assert_canonical_csr(other.matrix)


def test_shared_vocabulary_accepts_text_for_int_ids(data):
    test = pd.DataFrame({"uid": ["30"], "iid": ["a"], "score": [4.0]})
    other = Interactions.from_frame(test, "uid", "iid", "score", users=data.users)
    assert other.users is data.users
    assert _cells(other) == {(30, "a"): (4.0, None)}


def test_shared_vocabulary_unknown_ids_named(data):
    test = pd.DataFrame({"uid": [30, 77, 77, 88], "iid": ["a", "a", "q", "a"], "score": 1.0})
    with pytest.raises(UnknownIdError) as info:
        Interactions.from_frame(test, "uid", "iid", "score", users=data.users, items=data.items)
    assert info.value.name == "user"
    assert info.value.ids == [77, 88]
    assert "unknown user id(s): 77, 88" in str(info.value)
    test = test[test["uid"] == 30].assign(iid=["q"])
    with pytest.raises(UnknownIdError, match="unknown item id\\(s\\): 'q'"):
        Interactions.from_frame(test, "uid", "iid", "score", users=data.users, items=data.items)


# ---------------------------------------------------------------------- from_dense
def test_from_dense_zero_is_missing():
    arr = np.array([[5, 0, 1], [0, 0, 2]])
    data = Interactions.from_dense(arr)
    assert data.nnz == 3
    assert data.matrix.toarray().tolist() == [[5.0, 0.0, 1.0], [0.0, 0.0, 2.0]]
    assert data.users.ids.tolist() == [0, 1]
    assert data.items.ids.tolist() == [0, 1, 2]
    assert data.users.is_integer
    _assert_canonical_csr(data.matrix)


def test_from_dense_nan_is_missing_and_zero_is_a_rating():
    arr = np.array([[0.0, np.nan, 3.0], [np.nan, np.nan, 0.0]])
    data = Interactions.from_dense(arr, missing=np.nan)
    assert data.nnz == 3
    assert data.matrix.nnz == 3
    assert data.ratings.tolist() == [0.0, 3.0, 0.0]
    assert data.item_idx.tolist() == [0, 2, 2]
    assert data.user_counts().tolist() == [2, 1]
    frame = data.to_frame()
    assert frame.values.tolist() == [[0, 0, 0.0], [0, 2, 3.0], [1, 2, 0.0]]
    _assert_canonical_csr(data.matrix)


def test_from_dense_custom_missing_marker():
    data = Interactions.from_dense(np.array([[-1, 0], [2, -1]]), missing=-1)
    assert data.nnz == 2
    assert sorted(_cells(data).items()) == [((0, 1), (0.0, None)), ((1, 0), (2.0, None))]


def test_from_dense_custom_ids():
    arr = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    data = Interactions.from_dense(arr, user_ids=["u3", "u1", "u2"], item_ids=[20, 10])
    assert data.users.ids.tolist() == ["u3", "u1", "u2"]  # given order, not sorted
    assert data.items.ids.tolist() == [20, 10]
    assert _cells(data) == {
        ("u3", 20): (1.0, None),
        ("u1", 10): (2.0, None),
        ("u2", 20): (3.0, None),
    }


@pytest.mark.parametrize("arr", [np.array([1.0, 2.0]), np.ones((2, 2, 2)), np.float64(3.0)])
def test_from_dense_needs_two_dimensions(arr):
    with pytest.raises(DataError, match="2-D"):
        Interactions.from_dense(arr)


def test_from_dense_id_lengths_must_match():
    with pytest.raises(DataError, match="lengths"):
        Interactions.from_dense(np.eye(2), user_ids=[1, 2, 3])
    with pytest.raises(DataError, match="lengths"):
        Interactions.from_dense(np.eye(2), item_ids=["a"])


def test_from_dense_rejects_infinite_and_nan_ratings():
    with pytest.raises(DataError, match=r"\(row, column\) \[\[1, 0\]\]"):
        Interactions.from_dense(np.array([[1.0, 0.0], [np.inf, 0.0]]))
    with pytest.raises(DataError, match=r"\[\[0, 1\]\]"):
        Interactions.from_dense(np.array([[1.0, -np.inf]]), missing=np.nan)
    with pytest.raises(DataError, match=r"\[\[0, 0\]\]"):
        Interactions.from_dense(np.array([[np.nan, 1.0]]), missing=0)


def test_from_dense_needs_an_observed_cell():
    with pytest.raises(DataError, match="no observed cells"):
        Interactions.from_dense(np.zeros((2, 3)))
    with pytest.raises(DataError, match="no observed cells"):
        Interactions.from_dense(np.full((2, 2), np.nan), missing=np.nan)


def test_from_dense_rating_scale_names_cells():
    with pytest.raises(DataError, match=r"outside the scale \[1, 5\] \(e.g. 9\) at rows \(0, 1\)$"):
        Interactions.from_dense(np.array([[1.0, 9.0]]), rating_scale=(1, 5))


# ---------------------------------------------------------------------- files
def _assert_same(a: Interactions, b: Interactions) -> None:
    assert a.users == b.users and a.items == b.items
    assert a.users.is_integer == b.users.is_integer
    assert a.items.is_integer == b.items.is_integer
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.matrix.indptr, b.matrix.indptr)
    np.testing.assert_array_equal(a.matrix.indices, b.matrix.indices)
    np.testing.assert_array_equal(a.matrix.data, b.matrix.data)
    if a.timestamps is None:
        assert b.timestamps is None
    else:
        np.testing.assert_array_equal(a.timestamps, b.timestamps)


def test_from_csv_with_header(tmp_path, frame, data):
    path = tmp_path / "ratings.csv"
    frame.to_csv(path, index=False)
    back = Interactions.from_csv(path, "uid", "iid", "score", "when")
    _assert_same(back, data)


def test_from_csv_without_header_uses_positions(tmp_path, frame, data):
    path = tmp_path / "ratings.data"
    frame[["when", "uid", "iid", "score"]].to_csv(path, index=False, header=False)
    back = Interactions.from_csv(str(path), 1, 2, 3, 0, header=False)
    _assert_same(back, data)


def test_from_csv_sniffs_tab_separator(tmp_path, frame, data):
    path = tmp_path / "ratings.txt"
    frame.to_csv(path, index=False, sep="\t")
    back = Interactions.from_csv(path, "uid", "iid", "score", "when")
    _assert_same(back, data)


def test_from_csv_explicit_separator_and_forwarded_options(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("u;i;r\n1;x;4\n1;x;2\n")
    data = Interactions.from_csv(path, "u", "i", "r", sep=";", duplicates="mean")
    assert _cells(data) == {(1, "x"): (3.0, None)}
    with pytest.raises(DataError, match="repeated"):
        Interactions.from_csv(path, "u", "i", "r", sep=";", duplicates="error")


def test_read_dispatches_on_extension(tmp_path, frame, data):
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    frame.to_parquet(tmp_path / "a.parquet")
    frame.to_parquet(tmp_path / "a.PQ")
    for name in ("a.csv", "a.tsv", "a.parquet", "a.PQ"):
        back = Interactions.read(
            tmp_path / name, user="uid", item="iid", rating="score", timestamp="when"
        )
        _assert_same(back, data)


def test_parquet_round_trip(tmp_path, data):
    path = tmp_path / "ratings.parquet"
    data.to_frame().to_parquet(path)
    back = Interactions.from_parquet(path, timestamp="timestamp")
    _assert_same(back, data)
    assert back.items.ids.tolist() == ["a", "b", "c", "d"]
    assert back.users.ids.dtype == np.int64


@pytest.mark.parametrize("reader", ["from_csv", "from_parquet", "read"])
@pytest.mark.parametrize("name", ["nope.csv", "nope.parquet"])
def test_missing_file(tmp_path, reader, name):
    with pytest.raises(FileNotFoundError, match="no such ratings file"):
        getattr(Interactions, reader)(tmp_path / name)


# ---------------------------------------------------------------------- subset
def test_subset_by_mask_shares_vocabularies_and_keeps_timestamps(data):
    mask = data.ratings >= 3.0
    part = data.subset(mask)
    assert part.users is data.users and part.items is data.items
    assert part.shape == data.shape
    assert part.nnz == int(mask.sum()) == 4
    full = _cells(data)
    kept = _cells(part)
    assert kept == {k: v for k, v in full.items() if v[0] >= 3.0}
    _assert_canonical_csr(part.matrix)


def test_subset_by_positions_in_any_order(data):
    by_pos = data.subset([5, 0, 3])
    mask = np.zeros(data.nnz, dtype=bool)
    mask[[0, 3, 5]] = True
    _assert_same(by_pos, data.subset(mask))
    assert by_pos.timestamps.tolist() == data.timestamps[[0, 3, 5]].tolist()


def test_subset_negative_positions_count_from_end(data):
    part = data.subset([-1, 0])
    _assert_same(part, data.subset([0, data.nnz - 1]))
    full = _cells(data)
    last = (data.users.ids[data.user_idx[-1]], data.items.ids[data.item_idx[-1]])
    first = (data.users.ids[data.user_idx[0]], data.items.ids[data.item_idx[0]])
    assert _cells(part) == {first: full[first], last: full[last]}
    _assert_canonical_csr(part.matrix)


def test_subset_rejects_bad_selections(data):
    with pytest.raises(ValueError, match="repeat"):
        data.subset([1, 1])
    with pytest.raises(ValueError, match="repeat"):
        data.subset([data.nnz - 1, -1])
    with pytest.raises(IndexError):
        data.subset([data.nnz])
    with pytest.raises(IndexError):
        data.subset([-data.nnz - 1])
    with pytest.raises(ValueError, match="mask must have length"):
        data.subset(np.ones(data.nnz + 1, dtype=bool))


def test_subset_keeps_side_tables_scale_and_kind(frame):
    feats = pd.DataFrame({"title": ["A"]}, index=["a"])
    data = Interactions.from_frame(
        frame, "uid", "iid", None, rating_scale=(0, 1), item_features=feats
    )
    part = data.subset(np.arange(data.nnz) < 2)
    assert part.implicit and part.rating_scale == (0.0, 1.0)
    assert part.item_features is data.item_features


def test_empty_subset(data):
    part = data.subset(np.zeros(data.nnz, dtype=bool))
    assert part.nnz == 0 and part.shape == data.shape
    assert part.global_mean() == 0.0
    assert part.timestamps.shape == (0,)
    assert data.subset([]).nnz == 0


# ---------------------------------------------------------------------- to_frame
def test_to_frame_round_trip(data):
    out = data.to_frame()
    assert out["user_id"].tolist() == data.users.ids[data.user_idx].tolist()
    assert out["rating"].dtype == np.float32
    back = Interactions.from_frame(out, timestamp="timestamp")
    _assert_same(back, data)


def test_to_frame_round_trip_from_dense_without_timestamps():
    data = Interactions.from_dense(np.array([[0.0, 2.5], [1.0, 4.0]]))
    out = data.to_frame()
    assert list(out.columns) == ["user_id", "item_id", "rating"]
    _assert_same(Interactions.from_frame(out), data)


# ---------------------------------------------------------------------- fingerprint
def test_fingerprint_stable_for_equal_data(frame, data):
    again = Interactions.from_frame(frame.iloc[::-1], "uid", "iid", "score", "when")
    fp = data.fingerprint()
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert again.fingerprint() == fp


def test_fingerprint_changes_with_one_rating(frame, data):
    changed = frame.copy()
    changed.loc[3, "score"] = 4.5
    other = Interactions.from_frame(changed, "uid", "iid", "score", "when")
    assert other.fingerprint() != data.fingerprint()


def test_fingerprint_changes_with_ids(frame, data):
    renamed = frame.assign(uid=frame["uid"].replace({30: 31}))
    other = Interactions.from_frame(renamed, "uid", "iid", "score", "when")
    assert (other.matrix != data.matrix).nnz == 0
    assert other.fingerprint() != data.fingerprint()


# ---------------------------------------------------------------------- item_titles
def test_item_titles_from_side_table(frame):
    feats = pd.DataFrame({"title": ["Cee", "Ay", "Zed"]}, index=["c", "a", "z"])
    data = Interactions.from_frame(frame, "uid", "iid", "score", item_features=feats)
    assert data.item_titles(["z", "a"]).tolist() == ["Zed", "Ay"]
    # "b" and "d" have ratings but no title: their ids stand in.
    assert data.item_titles().tolist() == ["Ay", "b", "Cee", "d", "Zed"]
    with pytest.raises(UnknownIdError, match="'q'"):
        data.item_titles(["q"])


def test_item_titles_without_side_table():
    data = Interactions.from_dense(np.eye(3), item_ids=[7, 8, 9])
    titles = data.item_titles([9, 7])
    assert titles.tolist() == ["9", "7"]
    assert data.item_titles().tolist() == ["7", "8", "9"]
    no_title = Interactions.from_frame(
        pd.DataFrame({"user_id": [1], "item_id": ["x"], "rating": [1]}),
        item_features=pd.DataFrame({"year": [2000]}, index=["x"]),
    )
    assert no_title.item_titles().tolist() == ["x"]


# ---------------------------------------------------------------------- counts
def test_counts_and_global_mean(data, frame):
    # users 10, 20, 30; items a, b, c, d
    assert data.user_counts().tolist() == [3, 2, 2]
    assert data.item_counts().tolist() == [3, 1, 1, 2]
    assert data.user_counts().dtype == np.int64
    assert data.item_counts().dtype == np.int64
    assert data.global_mean() == pytest.approx(frame["score"].mean())
    assert data.density == pytest.approx(7 / 12)
    assert len(data) == 7


# ---------------------------------------------------------------------- immutability
def test_arrays_are_read_only(data):
    for arr in (data.matrix.data, data.matrix.indices, data.matrix.indptr, data.timestamps):
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        data.matrix.data[0] = 99.0
    with pytest.raises(ValueError):
        data.ratings[:] = 0.0
    with pytest.raises(ValueError):
        data.timestamps[0] = 0.0
    part = data.subset([0, 1])
    assert not part.matrix.data.flags.writeable
    assert not part.timestamps.flags.writeable
    assert data.matrix.data[0] != 99.0


# ---------------------------------------------------------------------- constructor
def test_constructor_checks_shape_order_and_timestamps():
    users, items = Vocabulary([1, 2]), Vocabulary(["a", "b"])
    with pytest.raises(ValueError, match="does not match"):
        Interactions(users, items, sp.csr_matrix((3, 2)))
    unsorted = sp.csr_matrix(
        (np.array([1.0, 2.0]), np.array([1, 0]), np.array([0, 2, 2])), shape=(2, 2)
    )
    with pytest.raises(ValueError, match="sorted"):
        Interactions(users, items, unsorted)
    good = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
    with pytest.raises(ValueError, match="one value per stored rating"):
        Interactions(users, items, good, np.array([1.0]))
    ok = Interactions(users, items, good.astype(np.float64), np.array([5, 6]))
    assert ok.matrix.dtype == np.float32
    assert ok.timestamps.dtype == np.float64


def test_repr(data):
    text = repr(data)
    assert text.startswith("Interactions(3 users x 4 items, 7 ratings, density 58.33%")
    assert "timestamps" in text


# ---------------------------------------------------------------------- properties
def _reference_dense(df: pd.DataFrame, policy: str) -> tuple[list, list, np.ndarray]:
    """Slow reference: a dict of lists over rows, ids sorted, merged by ``policy``."""
    cells: dict = defaultdict(list)
    for u, i, r in zip(df["u"], df["i"], df["r"], strict=True):
        cells[(u, i)].append(float(r))
    users = sorted({u for u, _ in cells})
    items = sorted({i for _, i in cells})
    dense = np.zeros((len(users), len(items)))
    for (u, i), vals in cells.items():
        merged = {"mean": sum(vals) / len(vals), "sum": sum(vals), "last": vals[-1]}[policy]
        dense[users.index(u), items.index(i)] = merged
    return users, items, dense


_frames = st.lists(
    st.tuples(
        st.sampled_from(["ann", "bob", "cy", "dee", "ed"]),
        st.integers(0, 6),
        st.integers(1, 10).map(lambda x: x / 2),
    ),
    min_size=1,
    max_size=40,
).map(lambda rows: pd.DataFrame(rows, columns=["u", "i", "r"]))


@settings(max_examples=80, deadline=None)
@given(_frames, st.sampled_from(["mean", "sum", "last"]))
def test_property_matches_reference(df, policy):
    data = Interactions.from_frame(df, "u", "i", "r", duplicates=policy)
    users, items, dense = _reference_dense(df, policy)
    assert data.users.ids.tolist() == users
    assert data.items.ids.tolist() == items
    np.testing.assert_allclose(data.matrix.toarray(), dense, rtol=1e-6)
    # Every pair that occurs is stored, even if its value is 0 (ratings here are > 0).
    assert data.nnz == len(df.drop_duplicates(["u", "i"]))
    _assert_canonical_csr(data.matrix)


@settings(max_examples=60, deadline=None)
@given(_frames, st.randoms(use_true_random=False))
def test_property_last_follows_timestamps(df, rnd):
    times = list(range(len(df)))
    rnd.shuffle(times)
    df = df.assign(t=[float(t) for t in times])
    data = Interactions.from_frame(df, "u", "i", "r", "t")
    latest = df.sort_values("t").groupby(["u", "i"]).tail(1)
    expected = {(r.u, r.i): (float(r.r), r.t) for r in latest.itertuples()}
    assert _cells(data) == expected


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_matrix_rating_float32_would_store_as_zero_is_refused_naming_the_cell(kind):
    # 1e-50 is below float32's smallest value: stored, it would become a 0 rating.
    dense = np.array([[5.0, 0.0, 3.0], [0.0, -1e-50, 4.0]])
    with pytest.raises(DataError, match=r"too close to 0.*\(row, column\) \[\[1, 1\]\]"):
        if kind == "dense":
            Interactions.from_dense(dense)
        else:
            Interactions.from_sparse(sp.csr_matrix(dense))
    # The smallest float32 value itself is kept, as it is.
    dense[1, 1] = float(np.finfo(np.float32).smallest_subnormal)
    if kind == "dense":
        made = Interactions.from_dense(dense)
    else:
        made = Interactions.from_sparse(sp.csr_matrix(dense))
    assert made.nnz == 4 and made.matrix[1, 1] > 0


def test_matrix_repeated_cells_adding_up_to_a_float32_zero_are_refused():
    # Each value fits float32 (about 1e-40); their sum, about 1e-50, would be stored as 0.
    vals = [5.0, 1e-40, -1e-40 + 1e-50]
    assert 0 < abs(vals[1] + vals[2]) < float(np.finfo(np.float32).smallest_subnormal)
    coo = sp.coo_matrix((vals, ([0, 1, 1], [0, 1, 1])), shape=(2, 2))
    with pytest.raises(
        DataError, match=r"repeated cells.*too close to 0.*\(row, column\) \[\[1, 1\]\]"
    ):
        Interactions.from_sparse(coo)


def test_a_rating_scale_that_leaves_out_stored_ratings_is_refused_by_replace():
    # Before: data.replace(rating_scale=(2, 5)) on data holding a 1 was accepted; a model
    # fitted on it clipped to 2-5 and refused a fold-in of the 1 its own data held.
    data = Interactions.from_dense(np.array([[1.0, 5.0], [3.0, 0.0]]))
    with pytest.raises(
        ValueError, match=r"1 stored rating\(s\) lie outside the rating scale \[2, 5\]"
    ):
        data.replace(rating_scale=(2, 5))
    with pytest.raises(ValueError, match="low < high"):
        data.replace(rating_scale=(5, 1))
    assert data.replace(rating_scale=(1, 5)).rating_scale == (1.0, 5.0)
    # Stored as float32, a rating at the scale's end is on it (float32(1.1) > 1.1).
    tenths = Interactions.from_dense(np.array([[1.1, -1.1]]), rating_scale=(-1.1, 1.1))
    assert tenths.replace(rating_scale=(-1.1, 1.1)).rating_scale == (-1.1, 1.1)


def test_a_table_that_converts_itself_to_pandas_is_read():
    # Before: "expected a pandas DataFrame, got DataFrame" for a polars frame (its class
    # has the same name), and a pyarrow Table was refused too.
    pa = pytest.importorskip("pyarrow")
    columns = {"user_id": [1, 1, 2], "item_id": ["a", "b", "a"], "rating": [5.0, 3.0, 4.0]}
    data = Interactions.from_frame(pa.table(columns))
    expected = Interactions.from_frame(pd.DataFrame(columns))
    pd.testing.assert_frame_equal(data.to_frame(), expected.to_frame())

    class Broken:
        def to_pandas(self):
            raise RuntimeError("no pandas here")

    with pytest.raises(DataError, match="cannot convert the .*Broken to a pandas DataFrame"):
        Interactions.from_frame(Broken())
    with pytest.raises(DataError, match=r"such as a polars DataFrame\), got dict"):
        Interactions.from_frame(columns)


def test_a_side_table_with_its_ids_in_a_column_is_refused_not_misread():
    # Before: a features table with an item_id column and a default index was read by
    # its row numbers: items 10 and 20 got no genres, and items 0 and 1 joined the data
    # as new items (4 items instead of 2), without a word.
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": [5.0, 3.0, 4.0]})
    genres = pd.DataFrame({"item_id": [10, 20], "genres": ["A", "B"]})
    with pytest.raises(
        DataError,
        match=r"indexed by row numbers 0\.\.1 but has the column 'item_id'.*set_index\('item_id'\)",
    ):
        Interactions.from_frame(df, item_features=genres)
    people = pd.DataFrame({"uid": [1, 2], "age": [30, 40]})
    with pytest.raises(DataError, match=r"user_features .* column 'uid'"):
        Interactions.from_frame(
            df.rename(columns={"user_id": "uid"}), user="uid", user_features=people
        )
    data = Interactions.from_frame(df, item_features=genres.set_index("item_id"))
    assert data.items.ids.tolist() == [10, 20]
    assert data.item_features["genres"].tolist() == ["A", "B"]


def test_side_table_ids_without_rows_are_said_in_the_report():
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": [5.0, 3.0, 4.0]})
    genres = pd.DataFrame({"genres": ["A", "B", "C"]}, index=[10, 20, 30])
    data = Interactions.from_frame(df, item_features=genres)
    assert data.items.ids.tolist() == [10, 20, 30]  # item 30 kept for cold start, and said
    assert data.load_report.notes == (
        "1 item id(s) of item_features without rows added (cold start): 30",
    )
    assert Interactions.from_frame(df, item_features=genres.iloc[:2]).load_report.notes == ()


def test_a_pivot_table_keeps_its_ids_and_nan_blanks_are_pointed_to_missing():
    # Before: from_dense(df.pivot(...)) numbered rows and columns 0..n-1, so user 1 of
    # the data became row 0's label: predict(1, 50) answered for another user and item.
    df = pd.DataFrame({"u": [1, 1, 2, 3], "i": [50, 7, 50, 7], "r": [5.0, 3.0, 4.0, 2.0]})
    pivot = df.pivot(index="u", columns="i", values="r")  # NaN where unrated
    data = Interactions.from_dense(pivot, missing=np.nan)
    assert data.users.ids.tolist() == [1, 2, 3] and data.items.ids.tolist() == [7, 50]
    pd.testing.assert_frame_equal(
        data.to_frame().sort_values(["user_id", "item_id"], ignore_index=True),
        Interactions.from_frame(df, "u", "i", "r").to_frame(),
    )
    named = Interactions.from_dense(pivot, missing=np.nan, user_ids=["a", "b", "c"])
    assert named.users.ids.tolist() == ["a", "b", "c"]  # given ids still win
    with pytest.raises(
        DataError,
        match=r"NaN or infinite ratings at \(row, column\) \[\[0, 0\]\]: NaN.*missing=numpy.nan",
    ):
        Interactions.from_dense(pivot.to_numpy()[[1]])


def test_subset_positions_are_integers_and_a_0_1_mask_is_pointed_to_booleans():
    data = Interactions.from_dense(np.array([[5.0, 3.0, 0.0], [4.0, 0.0, 2.0]]))
    # Before: 0.5 was read as cell 0 and "1" as cell 1, silently.
    with pytest.raises(
        TypeError, match=r"positions must be integers .* float64 values such as 0.5"
    ):
        data.subset([0.5])
    with pytest.raises(TypeError, match="positions must be integers"):
        data.subset(["1"])
    with pytest.raises(ValueError, match="repeat a cell; a mask of 0s and 1s .* as booleans"):
        data.subset(np.array([1, 0, 1, 0]))
    assert data.subset(np.array([1, 0, 1, 0], dtype=bool)).ratings.tolist() == [5.0, 4.0]
    assert data.subset([3, 0]).ratings.tolist() == [5.0, 2.0]
    assert data.subset([]).nnz == 0


def test_summing_repeats_on_a_rating_scale_is_refused(tmp_path):
    """duplicates='sum' with a scale summed two 3s into a 6 on a 1-5 scale, silently;
    every reader now refuses the pair of options before reading."""
    from latentrec.data import DataError
    from latentrec.datasets import read_netflix

    df = pd.DataFrame({"user_id": [0, 0], "item_id": [0, 0], "rating": [3, 3]})
    with pytest.raises(DataError, match=r"duplicates='sum' adds repeated ratings.*\(1, 5\)"):
        Interactions.from_frame(df, duplicates="sum", rating_scale=(1, 5))
    assert Interactions.from_frame(df, duplicates="sum").ratings.tolist() == [6.0]
    csv = tmp_path / "r.csv"
    df.to_csv(csv, index=False)
    with pytest.raises(DataError, match="duplicates='sum' adds repeated ratings"):
        Interactions.read(csv, duplicates="sum", rating_scale=(1, 5))
    netflix = tmp_path / "combined_data_1.txt"
    netflix.write_text("1:\n7,3,2005-09-06\n")
    with pytest.raises(DataError, match="duplicates='sum' adds repeated ratings"):
        read_netflix(netflix, duplicates="sum")
    assert read_netflix(netflix, duplicates="sum", rating_scale=None).nnz == 1
