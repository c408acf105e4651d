"""time_slices: three periods of one time line, the same cells as two temporal splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.data.splits import temporal_split
from latentrec.evaluation import time_slices


def test_slices_partition_the_data_in_time_order():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 30, 500),
            "item_id": rng.integers(0, 40, 500),
            "rating": 1.0,
            "t": rng.permutation(500),
        }
    ).drop_duplicates(["user_id", "item_id"])
    data = Interactions.from_frame(frame, timestamp="t")
    early, valid, train, test = time_slices(data, 0.2, 0.125)
    assert early.nnz + valid.nnz == train.nnz
    assert train.nnz + test.nnz == data.nnz
    assert early.timestamps.max() < valid.timestamps.min()
    assert train.timestamps.max() < test.timestamps.min()
    assert abs(test.nnz - 0.2 * data.nnz) <= 1 and abs(valid.nnz - 0.125 * train.nnz) <= 1
    # Exactly the two nested temporal splits, sharing the data's vocabularies.
    want_train, want_test = temporal_split(data, test_size=0.2)
    want_early, want_valid = temporal_split(want_train, test_size=0.125)
    for got, want in zip(
        (early, valid, train, test), (want_early, want_valid, want_train, want_test), strict=True
    ):
        assert got.users == data.users and got.items == data.items
        assert (got.matrix != want.matrix).nnz == 0


def test_slices_need_timestamps():
    with pytest.raises(ValueError, match="needs timestamps"):
        time_slices(Interactions.from_dense(np.eye(3)))


def _timed(times):
    n = len(times)
    frame = pd.DataFrame(
        {"user_id": np.arange(n) % 3, "item_id": np.arange(n), "rating": 1.0, "t": times}
    )
    return Interactions.from_frame(frame, timestamp="t")


@pytest.mark.parametrize("share", [0, 1, 1.5, "0.1"])
def test_a_bad_validation_size_is_named_validation_size(share):
    # It was refused as "test_size must be strictly between 0 and 1".
    with pytest.raises(ValueError, match=r"^validation_size must be"):
        time_slices(_timed(range(10)), validation_size=share)
    with pytest.raises(ValueError, match=r"^test_size must be"):
        time_slices(_timed(range(10)), test_size=share)


def test_a_train_slice_too_small_to_cut_says_early_is_empty_not_train():
    # test_size=0.9 leaves one cell before the test cutoff: nothing is left for early.
    # It said "cutoff 0 leaves the train set empty", of a train slice that was not empty.
    with pytest.raises(ValueError, match=r"^no early slice is left") as caught:
        time_slices(_timed(range(10)), test_size=0.9)
    said = str(caught.value)
    assert "holds 1 cell(s) before the test cutoff" in said and "validation_size" in said
    assert "train set empty" not in said


def test_a_refused_cutoff_shows_every_digit_of_the_times():
    # ":g" wrote both ends of MovieLens' time range as 8.74725e+08 and 8.93287e+08.
    data = _timed([874724710, 874724999, 893286638])
    with pytest.raises(ValueError, match=r"from 874724710 to 893286638$"):
        temporal_split(data, 900000000)
