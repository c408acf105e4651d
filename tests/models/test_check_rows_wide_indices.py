"""Fold-in rows whose column indices come as int64 are range-checked as given.

``check_rows`` cast the indices to int32 before it checked their range: 2**32 + 3
wrapped to 3 and was folded in as that column's rating, with no error.
"""

from __future__ import annotations

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import ALS, BayesianMF
from latentrec.models.als import check_rows


@pytest.mark.parametrize("index", [2**32 + 3, -(2**32) + 1, 2**31])
def test_an_index_past_int32_is_refused_not_wrapped(index):
    with pytest.raises(ValueError, match=f"item index {index} is out of range for 20 items"):
        check_rows([0, 1], np.array([index], dtype=np.int64), [4.0], 20, "item")


def test_in_range_int64_indices_are_kept_as_int32():
    indptr, indices, values = check_rows([0, 2], np.array([19, 0], dtype=np.int64), [4, 5], 20, "i")
    assert indices.dtype == np.int32 and indices.tolist() == [19, 0]
    assert indptr.dtype == np.int64 and values.dtype == np.float32


@pytest.mark.parametrize(
    "model", [ALS(n_factors=2, n_epochs=2), BayesianMF(n_factors=2, n_samples=3, burn_in=2)]
)
def test_a_fold_in_refuses_a_wrapped_index(model):
    dense = np.arange(1, 31, dtype=float).reshape(6, 5) % 5 + 1
    model.set_params(random_state=0).fit(Interactions.from_dense(dense))
    with pytest.raises(ValueError, match="out of range"):
        model._solve_user_rows(
            np.array([0, 1]), np.array([2**32 + 1], dtype=np.int64), np.array([4.0])
        )


@pytest.mark.parametrize("index", [1.7, float("nan"), float("inf"), 0.5])
def test_an_index_that_is_not_a_whole_number_is_refused_not_cut(index):
    with pytest.raises(ValueError, match="item indices must be whole numbers"):
        check_rows([0, 2], np.array([3.0, index]), [4.0, 5.0], 20, "item")


def test_whole_float_indices_are_indices_and_still_range_checked():
    _, indices, _ = check_rows([0, 2], np.array([3.0, 19.0]), [4.0, 5.0], 20, "item")
    assert indices.dtype == np.int32 and indices.tolist() == [3, 19]
    with pytest.raises(ValueError, match="item index 1000000000000 is out of range for 20 items"):
        check_rows([0, 1], np.array([1e12]), [4.0], 20, "item")
