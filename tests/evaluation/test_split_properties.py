"""What evaluation relies on from the splitters, as properties on random data with ties
in time: no leak across the time line, the same split for the same seed, and the nested
time slices of a two-stage system."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec import Interactions
from latentrec.data.splits import kfold, leave_last_out, random_split, temporal_split, user_split
from latentrec.evaluation import time_slices

FAST = settings(max_examples=40, deadline=None)


@st.composite
def timed_data(draw):
    """2..60 distinct cells of up to 8 users x 8 items, timestamps drawn from few values
    (so many ties)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_users, n_items = draw(st.integers(1, 8)), draw(st.integers(2, 8))
    n = draw(st.integers(2, min(60, n_users * n_items)))
    cells = rng.choice(n_users * n_items, n, replace=False)
    frame = pd.DataFrame(
        {
            "user_id": cells // n_items,
            "item_id": cells % n_items,
            "rating": rng.integers(1, 6, n).astype(float),
            "t": rng.integers(0, draw(st.integers(3, 12)), n),
        }
    )
    return Interactions.from_frame(frame, timestamp="t")


def _cells(part: Interactions) -> pd.DataFrame:
    frame = pd.DataFrame({"u": part.user_idx, "i": part.item_idx, "t": part.timestamps})
    return frame.sort_values(["u", "i"]).reset_index(drop=True)


def _same(a: tuple, b: tuple) -> bool:
    return all(_cells(x).equals(_cells(y)) for x, y in zip(a, b, strict=True))


@FAST
@given(timed_data(), st.floats(0.05, 0.95))
def test_a_temporal_split_by_share_never_trains_on_the_future(data, share):
    try:
        train, test = temporal_split(data, test_size=share)
    except ValueError as err:  # every cell ties at the cutoff: no train left
        assert "leaves the train set empty" in str(err)
        return
    assert train.nnz + test.nnz == data.nnz
    assert train.timestamps.max() < test.timestamps.min()  # ties go to test
    assert test.nnz >= min(max(int(np.floor(share * data.nnz + 0.5)), 1), data.nnz - 1)
    assert train.users is data.users and test.items is data.items  # cold users stay indexable


@FAST
@given(timed_data(), st.floats(0.1, 0.5), st.floats(0.1, 0.5))
def test_time_slices_are_in_time_order_and_nest(data, test_size, validation_size):
    try:
        early, valid, train, test = time_slices(data, test_size, validation_size)
    except ValueError as err:  # ties at the test cutoff (no train) or at the valid one
        assert "leaves the train set empty" in str(err) or "no early slice" in str(err)
        return
    assert early.timestamps.max() < valid.timestamps.min()
    assert valid.timestamps.max() <= train.timestamps.max() < test.timestamps.min()
    assert early.nnz + valid.nnz == train.nnz and train.nnz + test.nnz == data.nnz
    both = pd.concat([_cells(early), _cells(valid)]).sort_values(["u", "i"])
    assert both.reset_index(drop=True).equals(_cells(train))


@FAST
@given(timed_data(), st.integers(0, 2**16))
def test_leave_last_out_holds_out_one_latest_cell_per_user(data, seed):
    train, test = leave_last_out(data, random_state=seed)
    counts = data.user_counts()
    assert test.user_counts().tolist() == np.where(counts >= 2, 1, 0).tolist()
    latest = pd.DataFrame({"u": data.user_idx, "t": data.timestamps}).groupby("u")["t"].max()
    held = _cells(test)
    assert (held["t"].to_numpy() == latest[held["u"]].to_numpy()).all()
    assert _same(leave_last_out(data, random_state=seed), (train, test))


@FAST
@given(timed_data(), st.integers(0, 2**16), st.floats(0.1, 0.9))
def test_per_user_by_time_keeps_each_users_test_after_their_train(data, seed, share):
    train, test = user_split(data, share, by_time=True, random_state=seed)
    last_train = _cells(train).groupby("u")["t"].max()
    first_test = _cells(test).groupby("u")["t"].min()
    both = first_test.index.intersection(last_train.index)
    assert (last_train[both] <= first_test[both]).all()


@FAST
@given(timed_data(), st.integers(0, 2**16))
def test_every_random_splitter_is_a_function_of_its_seed(data, seed):
    assert _same(random_split(data, 0.3, seed), random_split(data, 0.3, seed))
    assert _same(user_split(data, 0.3, random_state=seed), user_split(data, 0.3, random_state=seed))
    by_time = user_split(data, last_k=1, by_time=True, random_state=seed)  # ties: seeded
    assert _same(by_time, user_split(data, last_k=1, by_time=True, random_state=seed))
    folds = [f for pair in kfold(data, 2, random_state=seed) for f in pair]
    again = [f for pair in kfold(data, 2, random_state=seed) for f in pair]
    assert _same(tuple(folds), tuple(again))


def test_ties_at_the_last_cutoff_are_refused_by_name():
    frame = pd.DataFrame({"user_id": [1, 2, 3], "item_id": 1, "rating": 1.0, "t": [5, 5, 5]})
    with pytest.raises(ValueError, match="leaves the train set empty"):
        time_slices(Interactions.from_frame(frame, timestamp="t"))


def test_a_share_given_as_the_cutoff_is_pointed_to_test_size():
    # random_split(data, 0.2) takes a share second; temporal_split(data, 0.2) read it as
    # the time 0.2 and said only that train was empty.
    df = pd.DataFrame({"u": [1, 1, 2, 2], "i": [1, 2, 1, 2], "r": 1.0, "t": [1e9, 2e9, 3e9, 4e9]})
    data = Interactions.from_frame(df, "u", "i", "r", "t")
    with pytest.raises(
        ValueError, match=r"train set empty;.*latest 20% of cells pass test_size=0.2$"
    ):
        temporal_split(data, 0.2)
    with pytest.raises(
        ValueError, match=r"train set empty; timestamps range from 1000000000 to 4000000000$"
    ):
        temporal_split(data, 5)  # a time, not a share: no hint
    assert temporal_split(data, test_size=0.25)[1].nnz == 1
