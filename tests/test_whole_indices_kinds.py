"""``whole_indices`` takes numbers only, as its docstring says.

It read text through a float cast (``["1", " 2 ", "1e3"]`` became items 1, 2 and 1000),
bytes (``b"3"`` was item 3), complex numbers (``1+1j`` was item 1, the imaginary part
dropped with a warning) and durations (their count of units).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from latentrec.retrieval import whole_indices


@pytest.mark.parametrize(
    ("values", "said"),
    [
        (["1", " 2 ", "1e3"], r"got text \(<U3 values\)"),
        (np.array([b"3"]), r"got bytes \(\|S1 values\)"),
        (np.array([1 + 1j]), r"got complex numbers \(complex128 values\)"),
        (np.array([3], dtype="timedelta64[s]"), r"got durations \(timedelta64\[s\] values\)"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), r"got dates \(datetime64\[D\]"),
        (np.array([1, "2"], dtype=object), r"got '2' \(str\) at position 1"),
        (np.array([1, 1 + 0j], dtype=object), r"got \(1\+0j\) \(complex\) at position 1"),
        (np.array([0, True], dtype=object), r"got True \(bool\) at position 1"),
        (np.array([None], dtype=object), r"got None \(NoneType\) at position 0"),
    ],
)
def test_what_is_no_number_is_refused_by_name(values, said):
    with pytest.raises(ValueError, match="items must be integer indices, " + said):
        whole_indices(values, "items")


@pytest.mark.parametrize(
    "values",
    [
        np.array([3, 0], dtype=np.int8),
        np.array([3, 0], dtype=np.uint32),
        np.array([3.0, 0.0], dtype=np.float16),
        np.array([3, 0.0], dtype=object),
        np.array([Decimal(3), Fraction(0)], dtype=object),
        np.array([np.int64(3), np.float32(0)], dtype=object),
    ],
)
def test_real_whole_numbers_of_any_numeric_kind_are_taken(values):
    assert whole_indices(values, "items").tolist() == [3, 0]
