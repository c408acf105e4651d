"""Nested time slices for a two-stage system: candidates, the ranker's labels, the test.

A learned second stage needs three periods of one time line: the candidate models learn
from the first (``early``), the ranker learns from what users did next (``valid``), and
the test comes last. :func:`time_slices` cuts them with
:func:`latentrec.data.splits.temporal_split`, so every slice shares the data's ID maps.
"""

from __future__ import annotations

from typing import NamedTuple

from ..data.interactions import Interactions
from ..data.splits import check_share, temporal_split, timestamp_text

__all__ = ["TimeSlices", "time_slices"]


class TimeSlices(NamedTuple):
    """``early`` + ``valid`` = ``train``, then ``test``, in time order (see :func:`time_slices`).

    Example:
        >>> import pandas as pd
        >>> from latentrec import Interactions
        >>> df = pd.DataFrame({"user_id": [1, 2, 1, 2, 1], "item_id": [1, 1, 2, 2, 3],
        ...                    "rating": 1.0, "t": range(5)})
        >>> early, valid, train, test = time_slices(Interactions.from_frame(df, timestamp="t"))
        >>> early.nnz + valid.nnz == train.nnz, train.nnz + test.nnz
        (True, 5)
    """

    early: Interactions
    valid: Interactions
    train: Interactions
    test: Interactions


def time_slices(
    data: Interactions, test_size: float = 0.2, validation_size: float = 0.125
) -> TimeSlices:
    """Cut ``data`` at two points in time: ``train`` is the first ``1 - test_size`` of
    the cells, ``test`` the rest; ``valid`` is the last ``validation_size`` of ``train``
    and ``early`` the part before it.

    The defaults give 70% / 10% / 20% of the cells (``0.125 * 0.8 = 0.1``). Cells that
    share a cutoff's timestamp go to the later slice, as in
    :func:`~latentrec.data.splits.temporal_split`.

    Example:
        >>> import pandas as pd
        >>> from latentrec import Interactions
        >>> df = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 1, 2, 3, 1],
        ...                    "item_id": [1, 2, 1, 3, 2, 3, 3, 2, 1, 4],
        ...                    "rating": 1.0, "t": range(10)})
        >>> s = time_slices(Interactions.from_frame(df, timestamp="t"), 0.2, 0.25)
        >>> [part.nnz for part in s]
        [6, 2, 8, 2]
        >>> float(s.early.timestamps.max()) < float(s.valid.timestamps.min())
        True
    """
    # Each share is checked under its own name: temporal_split would call both test_size.
    check_share(test_size, "test_size")
    check_share(validation_size, "validation_size")
    train, test = temporal_split(data, test_size=test_size)
    try:
        early, valid = temporal_split(train, test_size=validation_size)
    except ValueError:
        # temporal_split would say that "the train set" is empty: here that is early.
        first = timestamp_text(train.timestamps.min())
        raise ValueError(
            f"no early slice is left: the train slice holds {train.nnz} cell(s) before the "
            f"test cutoff, and the cutoff of its latest {validation_size:.1%} falls on its "
            f"first time, {first}, so all of them would be valid; give the train slice more "
            "cells (a smaller test_size) or a smaller validation_size"
        ) from None
    return TimeSlices(early, valid, train, test)
