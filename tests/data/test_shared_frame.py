"""``Interactions.from_frame(df, copy=False)``: the frame's columns shared when it is in CSR order.

Every frame is loaded with ``copy=False`` and with the default copy; the two tables must
agree exactly (cells, ids and their dtypes, timestamps, flags, the report's counts), and
the columns must be shared exactly when a slow row-by-row check says the frame is laid
out as the CSR stores it.  Pieces are tiny so that users and runs straddle them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from latentrec.data import DataError, Interactions, ingest
from latentrec.models.implicit_als import ImplicitALS


@pytest.fixture(autouse=True)
def _tiny_pieces(monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 11)
    monkeypatch.setattr(ingest, "PIECE_ROWS", 4)


def in_csr_order(users, items) -> bool:
    """The slow, obvious reference: row by row."""
    for k in range(1, len(users)):
        if users[k] < users[k - 1]:
            return False
        if users[k] == users[k - 1] and items[k] <= items[k - 1]:
            return False
    return min(items) >= 0 and set(items.tolist()) == set(range(max(items) + 1))


def random_frame(rng) -> pd.DataFrame:
    n_users, n_items = rng.integers(1, 12), rng.integers(1, 9)
    cells = np.unique(rng.integers(0, n_users * n_items, rng.integers(1, 40)))
    users = rng.choice(np.array([-3, 0, 2, 5, 7, 10, 40, 41, 99, 1000, 1001, 5000]), n_users)
    users = np.sort(np.unique(users))
    u, i = users[cells // n_items % users.size], cells % n_items
    kind = rng.integers(0, 9)
    if kind == 1:  # a few rows out of place
        k = rng.integers(0, u.size)
        u, i = np.roll(u, k), np.roll(i, k)
    elif kind == 2:  # a repeated cell
        u, i = np.insert(u, 0, u[0]), np.insert(i, 0, i[0])
    elif kind == 3:  # items from 1, as MovieLens numbers them
        i = i + 1
    elif kind == 4:  # items in descending order within users
        order = np.lexsort((-i, u))
        u, i = u[order], i[order]
    elif kind == 5:  # a negative item id
        i = i - 1
    df = pd.DataFrame({"user_id": u, "item_id": i.astype(rng.choice(["int32", "int64"]))})
    df["rating"] = rng.integers(1, 6, u.size).astype(rng.choice(["float32", "float64", "int64"]))
    if rng.random() < 0.3:
        df["ts"] = rng.integers(0, 9, u.size).astype(rng.choice(["float64", "int64"]))
    if kind == 6:  # every other row of a frame with each row twice: strided columns
        df = df.loc[df.index.repeat(2)].reset_index(drop=True).iloc[::2]
    return df


def lends(ordered: bool, column: pd.Series, dtype) -> bool:
    values = column.to_numpy()
    return ordered and values.dtype == dtype and values.flags.c_contiguous


def counts(report):
    return replace(report, notes=())


def test_shared_tables_equal_copied_ones_and_share_exactly_when_in_csr_order():
    rng = np.random.default_rng(3)
    shared = 0
    for _ in range(300):
        df = random_frame(rng)
        ts = "ts" if "ts" in df else None
        rating = None if rng.random() < 0.15 else "rating"
        a = Interactions.from_frame(df, rating=rating, timestamp=ts, copy=False)
        b = Interactions.from_frame(df, rating=rating, timestamp=ts)
        assert a.users == b.users and a.items == b.items
        assert a.users.ids.dtype == b.users.ids.dtype and a.items.ids.dtype == b.items.ids.dtype
        assert a.shape == b.shape
        for x, y in zip(
            (a.matrix.indptr, a.matrix.indices, a.matrix.data),
            (b.matrix.indptr, b.matrix.indices, b.matrix.data),
            strict=True,
        ):
            assert np.array_equal(x, y) and x.dtype.kind == y.dtype.kind
        assert a.matrix.data.dtype == np.float32 and a.matrix.indices.dtype == np.int32
        assert (a.timestamps is None) == (b.timestamps is None)
        if ts is not None:
            assert np.array_equal(a.timestamps, b.timestamps)
        assert a.implicit == b.implicit and a.fingerprint() == b.fingerprint()
        assert counts(a.load_report) == counts(b.load_report) and b.load_report.notes == ()
        (note,) = a.load_report.notes
        ordered = in_csr_order(df["user_id"].to_numpy(), df["item_id"].to_numpy())
        lends_items = np.shares_memory(a.matrix.indices, df["item_id"].to_numpy())
        assert lends_items == lends(ordered, df["item_id"], np.int32)
        lends_values = rating is not None and np.shares_memory(
            a.matrix.data, df["rating"].to_numpy()
        )
        assert lends_values == (rating is not None and lends(ordered, df["rating"], np.float32))
        for arr in (a.matrix.indices, a.matrix.data, a.matrix.indptr):
            assert arr.flags.c_contiguous
        assert note.startswith("shares the frame's columns" if ordered else "copied, not shared")
        assert ("'item_id'" in note) == lends_items and ("'rating'" in note) == lends_values
        shared += lends_items
    assert shared > 12


def test_a_shared_table_is_read_only_and_trains_the_same_model():
    rng = np.random.default_rng(0)
    cells = np.unique(rng.integers(0, 60 * 25, 700))
    df = pd.DataFrame(
        {
            "user_id": cells // 25,
            "item_id": (cells % 25).astype(np.int32),
            "rating": rng.integers(1, 6, cells.size).astype(np.float32),
        }
    )
    if set(df["item_id"]) != set(range(25)):
        pytest.skip("an item never drawn")  # pragma: no cover - seed 0 draws them all
    before = df.copy()
    shared = Interactions.from_frame(df, copy=False)
    assert np.shares_memory(shared.matrix.data, df["rating"].to_numpy())
    with pytest.raises(ValueError, match="read-only"):
        shared.matrix.data[0] = 0.0
    pd.testing.assert_frame_equal(df, before)
    copied = Interactions.from_frame(df)
    models = [
        ImplicitALS(n_factors=4, n_epochs=3, random_state=1, num_threads=1).fit(d)
        for d in (shared, copied)
    ]
    assert np.array_equal(models[0].user_factors_, models[1].user_factors_)
    assert np.array_equal(models[0].item_factors_, models[1].item_factors_)
    pd.testing.assert_frame_equal(df, before)


def test_bad_input_raises_the_same_error_with_or_without_copy():
    df = pd.DataFrame({"user_id": [0, 0, 1], "item_id": [0, 1, 0], "rating": [4.0, np.inf, 2.0]})
    messages = []
    for copy in (False, True):
        with pytest.raises(DataError) as err:
            Interactions.from_frame(df, copy=copy)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "rating" in messages[0]


def test_a_frame_the_fast_path_declines_is_copied_and_says_so():
    df = pd.DataFrame({"user_id": ["a", "b"], "item_id": [0, 1], "rating": [4.0, 3.0]})
    data = Interactions.from_frame(df, copy=False)
    (note,) = data.load_report.notes
    assert note.startswith("copied, not shared (copy=False)") and "integer ids" in note
    assert not np.shares_memory(data.matrix.indices, df["item_id"].to_numpy())
