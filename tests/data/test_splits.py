"""Splitters: partitions of the stored cells that share the input's vocabularies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec.data import Interactions
from latentrec.data.splits import kfold, leave_last_out, random_split, temporal_split, user_split


# ---------------------------------------------------------------------- fixtures
def _timed_frame() -> pd.DataFrame:
    """Users with 1..6 ratings; every timestamp distinct so 'latest' is unambiguous."""
    rows = []
    t = 0
    for u, n in enumerate([1, 2, 3, 4, 5, 6]):
        for j in range(n):
            # Time runs against item order, so picking the highest items would be wrong.
            rows.append((f"u{u}", f"i{(7 * j + u) % 9}", float(1 + (u + j) % 5), 1000 - t))
            t += 1
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "t"])


@pytest.fixture
def timed() -> Interactions:
    return Interactions.from_frame(_timed_frame(), timestamp="t")


@pytest.fixture
def untimed() -> Interactions:
    return Interactions.from_frame(_timed_frame().drop(columns="t"))


def _cells(data: Interactions) -> pd.DataFrame:
    out = pd.DataFrame(
        {"u": data.user_idx, "i": data.item_idx, "r": data.ratings.astype(np.float64)}
    )
    if data.timestamps is not None:
        out["t"] = data.timestamps
    return out.sort_values(["u", "i"]).reset_index(drop=True)


def _assert_partition(data: Interactions, train: Interactions, test: Interactions) -> None:
    assert train.users is data.users and test.users is data.users
    assert train.items is data.items and test.items is data.items
    assert train.shape == data.shape == test.shape
    assert train.nnz + test.nnz == data.nnz
    tr_keys = set(zip(train.user_idx.tolist(), train.item_idx.tolist(), strict=True))
    te_keys = set(zip(test.user_idx.tolist(), test.item_idx.tolist(), strict=True))
    assert not tr_keys & te_keys
    both = pd.concat([_cells(train), _cells(test)]).sort_values(["u", "i"])
    # Values and timestamps travel with their cell.
    pd.testing.assert_frame_equal(both.reset_index(drop=True), _cells(data))


def _id_pairs(frame: pd.DataFrame) -> list[tuple]:
    return sorted(zip(frame.user_id, frame.item_id, strict=True))


def _pairs(data: Interactions) -> list[tuple[int, int]]:
    return sorted(zip(data.user_idx.tolist(), data.item_idx.tolist(), strict=True))


# ---------------------------------------------------------------------- random_split
def test_random_split_partitions_with_exact_size(timed):
    train, test = random_split(timed, test_size=0.3, random_state=1)
    _assert_partition(timed, train, test)
    # 21 cells * 0.3 = 6.3 -> 6
    assert test.nnz == 6


def test_random_split_rounds_half_up():
    data = Interactions.from_dense(np.ones((2, 5)))
    assert random_split(data, test_size=0.25, random_state=0)[1].nnz == 3  # 2.5 -> 3


def test_random_split_keeps_at_least_one_cell_each_side():
    data = Interactions.from_dense(np.ones((1, 3)))
    assert random_split(data, test_size=0.01, random_state=0)[1].nnz == 1
    assert random_split(data, test_size=0.99, random_state=0)[0].nnz == 1


def test_random_split_is_reproducible(timed):
    a = random_split(timed, random_state=42)
    b = random_split(timed, random_state=42)
    c = random_split(timed, random_state=np.random.default_rng(42))
    assert _pairs(a[1]) == _pairs(b[1]) == _pairs(c[1])


def test_random_split_depends_on_seed():
    data = Interactions.from_dense(np.ones((10, 10)))
    tests = {tuple(_pairs(random_split(data, random_state=s)[1])) for s in range(5)}
    assert len(tests) == 5


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, "0.2", None, True, float("nan")])
def test_random_split_rejects_bad_test_size(timed, bad):
    with pytest.raises(ValueError, match="test_size"):
        random_split(timed, test_size=bad)


def test_random_split_needs_two_cells():
    data = Interactions.from_dense(np.array([[1.0]]))
    with pytest.raises(ValueError, match="at least 2 cells"):
        random_split(data)


def test_splitters_reject_non_interactions():
    with pytest.raises(TypeError, match="Interactions"):
        random_split(np.ones((3, 3)))


# ---------------------------------------------------------------------- user_split
def test_user_split_fraction_per_user(timed):
    train, test = user_split(timed, test_size=0.5, random_state=0)
    _assert_partition(timed, train, test)
    counts = timed.user_counts()  # [1, 2, 3, 4, 5, 6]
    # round-half-up(0.5 * n), keeping >= 1 in train: n=1 -> 1 capped to 0; 2 -> 1;
    # 3 -> 2 (1.5 up); 4 -> 2; 5 -> 3 (2.5 up); 6 -> 3
    assert counts.tolist() == [1, 2, 3, 4, 5, 6]
    assert test.user_counts().tolist() == [0, 1, 2, 2, 3, 3]
    assert train.user_counts().tolist() == [1, 1, 1, 2, 2, 3]


def test_user_split_default_test_size_is_a_fifth(timed):
    _, test = user_split(timed, random_state=0)
    # 0.2 * n rounded: n=1,2 -> 0; 3,4,5,6 -> 1
    assert test.user_counts().tolist() == [0, 0, 1, 1, 1, 1]


def test_user_split_min_train_keeps_small_users_in_train(timed):
    train, test = user_split(timed, test_size=0.5, min_train=3, random_state=0)
    _assert_partition(timed, train, test)
    # quota min(round(n/2), n - 3), floored at 0: n=1..3 -> 0; 4 -> 1; 5 -> 2; 6 -> 3
    assert test.user_counts().tolist() == [0, 0, 0, 1, 2, 3]
    assert train.user_counts().tolist() == [1, 2, 3, 3, 3, 3]


def test_user_split_min_train_zero_can_move_a_whole_user_to_test():
    data = Interactions.from_dense(np.array([[1.0, 2.0], [3.0, 0.0]]))
    _, test = user_split(data, test_size=0.6, min_train=0, random_state=0)
    assert test.user_counts().tolist() == [1, 1]  # round(1.2) = 1, round(0.6) = 1


def test_user_split_last_k_by_time_takes_the_latest(timed):
    train, test = user_split(timed, last_k=2, random_state=0)
    _assert_partition(timed, train, test)
    frame = timed.to_frame()
    counts = frame.groupby("user_id")["item_id"].transform("size")
    # Users with fewer than last_k + min_train = 3 cells keep everything in train.
    eligible = frame[counts >= 3]
    expected = eligible.sort_values("timestamp").groupby("user_id").tail(2)
    got = test.to_frame()
    assert _id_pairs(got) == _id_pairs(expected)
    # and every train cell of a test user is older than that user's test cells
    tr = train.to_frame().groupby("user_id")["timestamp"].max()
    te = got.groupby("user_id")["timestamp"].min()
    assert (tr[te.index] < te).all()


def test_user_split_fraction_by_time(timed):
    train, test = user_split(timed, test_size=0.5, by_time=True)
    tr = train.to_frame().groupby("user_id")["timestamp"].max()
    te = test.to_frame().groupby("user_id")["timestamp"].min()
    assert len(te) == 5 and (tr[te.index] < te).all()


def test_user_split_last_k_random_when_no_timestamps(untimed):
    train, test = user_split(untimed, last_k=1, random_state=3)
    _assert_partition(untimed, train, test)
    assert test.user_counts().tolist() == [0, 1, 1, 1, 1, 1]
    again = user_split(untimed, last_k=1, random_state=3)[1]
    assert _pairs(again) == _pairs(test)


def test_user_split_random_choice_varies_with_seed():
    data = Interactions.from_dense(np.ones((1, 30)))
    picks = {tuple(_pairs(user_split(data, last_k=3, random_state=s)[1])) for s in range(6)}
    assert len(picks) == 6


def test_user_split_by_time_false_ignores_timestamps(timed):
    # With 6 cells and 1 held out, the latest one comes up in about 1/6 of seeds.
    latest = user_split(timed, last_k=1)[1]
    picks = [
        _pairs(user_split(timed, last_k=1, by_time=False, random_state=s)[1]) for s in range(20)
    ]
    assert any(p != _pairs(latest) for p in picks)


def test_user_split_time_ties_are_broken_reproducibly():
    df = pd.DataFrame({"user_id": 1, "item_id": range(10), "rating": 1.0, "t": 5})
    data = Interactions.from_frame(df, timestamp="t")
    picks = [_pairs(user_split(data, last_k=2, random_state=s)[1]) for s in (0, 0, 1, 2, 3)]
    assert picks[0] == picks[1]
    assert len({tuple(p) for p in picks}) > 1  # ties go by the seed, not by item order


def test_user_split_errors(timed, untimed):
    with pytest.raises(ValueError, match="not both"):
        user_split(timed, 0.2, last_k=1)
    with pytest.raises(ValueError, match="needs timestamps"):
        user_split(untimed, last_k=1, by_time=True)
    with pytest.raises(ValueError, match="last_k"):
        user_split(timed, last_k=0)
    with pytest.raises(ValueError, match="last_k"):
        user_split(timed, last_k=1.5)
    with pytest.raises(ValueError, match="min_train"):
        user_split(timed, min_train=-1)
    with pytest.raises(ValueError, match="test_size"):
        user_split(timed, test_size=1.0)


# ---------------------------------------------------------------------- leave_last_out
def test_leave_last_out_takes_each_users_latest(timed):
    train, test = leave_last_out(timed)
    _assert_partition(timed, train, test)
    frame = timed.to_frame()
    latest = frame.loc[frame.groupby("user_id")["timestamp"].idxmax()]
    latest = latest[latest.user_id != "u0"]  # u0 has a single cell: stays in train
    got = test.to_frame()
    assert _id_pairs(got) == _id_pairs(latest)
    assert train.user_counts()[timed.users.index(["u0"])].tolist() == [1]


def test_leave_last_out_without_time_is_seeded(untimed):
    a = leave_last_out(untimed, random_state=7)
    b = leave_last_out(untimed, random_state=7)
    _assert_partition(untimed, *a)
    assert _pairs(a[1]) == _pairs(b[1])
    assert a[1].user_counts().tolist() == [0, 1, 1, 1, 1, 1]


# ---------------------------------------------------------------------- temporal_split
def test_temporal_split_respects_cutoff(timed):
    train, test = temporal_split(timed, cutoff=990)
    _assert_partition(timed, train, test)
    assert (test.timestamps >= 990).all() and (train.timestamps < 990).all()
    assert test.nnz == 11  # timestamps run 1000 down to 980: 990..1000 is 11 of them


def test_temporal_split_by_test_size(timed):
    train, test = temporal_split(timed, test_size=0.25)
    _assert_partition(timed, train, test)
    # round(0.25 * 21) = 5 latest cells: 996..1000
    assert test.nnz == 5
    assert test.timestamps.min() > train.timestamps.max()


def test_temporal_split_test_size_with_tied_times_keeps_the_tie_together():
    df = pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": 1, "rating": 1.0, "t": [1, 2, 2, 2]})
    data = Interactions.from_frame(df, timestamp="t")
    train, test = temporal_split(data, test_size=0.25)
    assert test.nnz == 3 and train.nnz == 1


def test_temporal_split_accepts_dates():
    df = pd.DataFrame(
        {
            "user_id": [1, 1, 2],
            "item_id": [1, 2, 1],
            "rating": 1.0,
            "when": pd.to_datetime(["2020-01-01", "2020-06-01", "2021-01-01"]),
        }
    )
    data = Interactions.from_frame(df, timestamp="when")
    for cutoff in ("2020-03-01", pd.Timestamp("2020-03-01"), np.datetime64("2020-03-01")):
        assert temporal_split(data, cutoff)[1].nnz == 2
    aware = pd.Timestamp("2020-06-01 02:00", tz="Europe/Paris")  # 00:00 UTC
    assert temporal_split(data, aware)[1].nnz == 2


def test_temporal_split_errors(timed, untimed):
    with pytest.raises(ValueError, match="needs timestamps"):
        temporal_split(untimed, cutoff=1)
    with pytest.raises(ValueError, match="exactly one"):
        temporal_split(timed)
    with pytest.raises(ValueError, match="exactly one"):
        temporal_split(timed, 990, test_size=0.2)
    with pytest.raises(ValueError, match="test set empty"):
        temporal_split(timed, cutoff=2000)
    with pytest.raises(ValueError, match="train set empty"):
        temporal_split(timed, cutoff=0)
    with pytest.raises(ValueError, match="test_size"):
        temporal_split(timed, test_size=0)
    with pytest.raises(ValueError, match="as a date"):
        temporal_split(timed, cutoff="not a date")
    with pytest.raises(ValueError, match="finite"):
        temporal_split(timed, cutoff=float("nan"))


# ---------------------------------------------------------------------- kfold
def test_kfold_covers_each_cell_once(timed):
    folds = list(kfold(timed, n_splits=4, random_state=0))
    assert len(folds) == 4
    seen = []
    for train, test in folds:
        _assert_partition(timed, train, test)
        seen.extend(_pairs(test))
    assert sorted(seen) == _pairs(timed)  # no repeats, nothing missing
    sizes = [test.nnz for _, test in folds]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 21


def test_kfold_is_reproducible_and_shuffled(timed):
    a = [_pairs(te) for _, te in kfold(timed, 3, random_state=5)]
    b = [_pairs(te) for _, te in kfold(timed, 3, random_state=5)]
    c = [_pairs(te) for _, te in kfold(timed, 3, random_state=6)]
    assert a == b and a != c


def test_kfold_checks_arguments_on_call(timed):
    with pytest.raises(ValueError, match="n_splits"):
        kfold(timed, n_splits=1)  # raised before any iteration
    with pytest.raises(ValueError, match="more than the 21 cells"):
        kfold(timed, n_splits=22)
    with pytest.raises(ValueError, match="n_splits"):
        kfold(timed, n_splits=2.0)


def test_kfold_leave_one_out_extreme(timed):
    folds = list(kfold(timed, n_splits=timed.nnz, random_state=0))
    assert [te.nnz for _, te in folds] == [1] * 21


# ---------------------------------------------------------------------- properties
@st.composite
def _interactions(draw):
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 8))
    mask = draw(st.lists(st.booleans(), min_size=n_users * n_items, max_size=n_users * n_items))
    mask = np.array(mask).reshape(n_users, n_items)
    if not mask.any():
        mask[0, 0] = True
    rows, cols = np.nonzero(mask)
    times = draw(st.lists(st.integers(0, 5), min_size=rows.size, max_size=rows.size))
    df = pd.DataFrame(
        {"user_id": rows, "item_id": cols, "rating": np.arange(rows.size) + 1.0, "t": times}
    )
    return Interactions.from_frame(df, timestamp="t")


@settings(max_examples=60, deadline=None)
@given(data=_interactions(), seed=st.integers(0, 2**16), frac=st.floats(0.05, 0.95))
def test_every_splitter_partitions(data, seed, frac):
    if data.nnz >= 2:
        _assert_partition(data, *random_split(data, frac, random_state=seed))
    train, test = user_split(data, frac, random_state=seed)
    _assert_partition(data, train, test)
    counts = data.user_counts()
    expected = np.clip(np.minimum(np.floor(frac * counts + 0.5), counts - 1), 0, None)
    assert test.user_counts().tolist() == expected.astype(int).tolist()
    train, test = user_split(data, last_k=2, random_state=seed)
    _assert_partition(data, train, test)
    assert test.user_counts().tolist() == np.where(counts >= 3, 2, 0).tolist()
    # by time: a test user's train cells are never later than their test cells
    tr, te = train.to_frame(), test.to_frame()
    if te.size:
        latest_train = tr.groupby("user_id")["timestamp"].max()
        earliest_test = te.groupby("user_id")["timestamp"].min()
        assert (latest_train[earliest_test.index] <= earliest_test).all()
    _assert_partition(data, *leave_last_out(data, random_state=seed))
    ts = data.timestamps
    if ts.min() < ts.max():
        cutoff = float(np.median(ts[ts > ts.min()]))
        train, test = temporal_split(data, cutoff)
        _assert_partition(data, train, test)
        assert (test.timestamps >= cutoff).all() and (train.timestamps < cutoff).all()
    if data.nnz >= 2:
        n_splits = min(data.nnz, 3)
        folds = list(kfold(data, n_splits, random_state=seed))
        sizes = [te.nnz for _, te in folds]
        assert max(sizes) - min(sizes) <= 1
        assert sorted(p for _, te in folds for p in _pairs(te)) == _pairs(data)


def test_temporal_split_test_size_leaves_train_nonempty():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": 1, "rating": 1.0, "t": [1, 2]})
    data = Interactions.from_frame(df, timestamp="t")
    train, test = temporal_split(data, test_size=0.99)  # round(1.98) = 2, capped to 1
    assert (train.nnz, test.nnz) == (1, 1)
