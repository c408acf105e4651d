"""``UserHistory`` holds whole item indices, sorted, each once.

It cast float indices (49.5 became item 49) and kept unsorted ones, though its
docstring said sorted and the service builds one from stored ratings followed by the
training history's extra items, in no order.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec.pipeline.history import UserHistory


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"items": [3, 49.5], "values": [1.0, 2.0], "seen": []},
            "items must be whole numbers, got 49.5 at position 1",
        ),
        ({"items": [-1], "values": None, "seen": []}, "items must be item indices >= 0, got -1"),
        ({"items": [1], "values": None, "seen": [0.5]}, "seen must be whole numbers, got 0.5"),
        (
            {"items": [1], "values": None, "seen": [], "exclude": [np.nan]},
            "exclude must be whole numbers, got nan",
        ),
        ({"items": [4, 2, 4], "values": None, "seen": []}, "items repeat item index 4"),
    ],
)
def test_what_is_no_item_index_is_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UserHistory(**kwargs)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 50), unique=True, max_size=10))
def test_items_are_sorted_with_their_values(items):
    values = [float(i) * 10 + 1 for i in items]  # each value names its item
    who = UserHistory(np.array(items, dtype=float), values, [])
    assert who.items.tolist() == sorted(items)
    assert who.values.tolist() == [float(i) * 10 + 1 for i in sorted(items)]
    assert who.seen.tolist() == sorted(items) == who.exclude.tolist()
