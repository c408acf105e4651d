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
