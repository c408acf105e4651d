"""Train/test splitters over the stored cells of an :class:`Interactions`.

Every splitter returns subsets built with :meth:`Interactions.subset`, so train and test
share the vocabularies (and side tables) of the input: a ``user_idx`` means the same user
in both.  Randomness comes from ``numpy.random.default_rng(random_state)``; the same seed
and data give the same split.  All work is vectorised over cells: sorting by a per-cell
key and comparing each cell's rank inside its user with a per-user quota.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from collections.abc import Iterator

import numpy as np
import pandas as pd

from .interactions import Interactions

__all__ = ["kfold", "leave_last_out", "random_split", "temporal_split", "user_split"]


def random_split(
    data: Interactions, test_size: float = 0.2, random_state=None
) -> tuple[Interactions, Interactions]:
    """Split the cells uniformly at random, ignoring users and time.

    The test set has exactly ``round(test_size * nnz)`` cells (half rounded up), but at
    least one and never all of them.

    Args:
        data: the interactions to split (at least 2 cells).
        test_size: share of cells in the test set, strictly between 0 and 1.
        random_state: seed, ``numpy.random.Generator`` or ``None``.

    Returns:
        ``(train, test)``, disjoint, together exactly ``data``.

    Example:
        >>> import numpy as np
        >>> from latentrec.data import Interactions
        >>> data = Interactions.from_dense(np.arange(1.0, 21.0).reshape(4, 5))
        >>> train, test = random_split(data, test_size=0.25, random_state=0)
        >>> train.nnz, test.nnz, train.users is data.users
        (15, 5, True)
    """
    _check_data(data)
    test_size = check_share(test_size)
    n = data.nnz
    if n < 2:
        raise ValueError(f"random_split needs at least 2 cells, the data has {n}")
    n_test = min(max(_round_half_up(test_size * n), 1), n - 1)
    rng = np.random.default_rng(random_state)
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=n_test, replace=False)] = True
    return data.subset(~mask), data.subset(mask)


def user_split(
    data: Interactions,
    test_size: float | None = None,
    *,
    last_k: int | None = None,
    by_time: bool | None = None,
    min_train: int = 1,
    random_state=None,
) -> tuple[Interactions, Interactions]:
    """Hold out part of every user's cells (per-user holdout).

    Two modes:

    * fraction (default, ``test_size=0.2`` when neither is given): a user with ``n``
      cells gets ``round(test_size * n)`` test cells (half rounded up), reduced so that at
      least ``min_train`` stay in train.
    * ``last_k``: a user gets exactly ``last_k`` test cells, or none at all when they
      have fewer than ``last_k + min_train`` cells; so every test user is scored on the
      same number of cells.

    Users whose quota comes out as zero (too few cells) stay wholly in train; they are
    not dropped.  Which cells go to test: the latest by timestamp when ``by_time`` is
    true, else a random choice.  ``by_time=None`` means by time when ``last_k`` is given
    and the data has timestamps, random otherwise.  Ties in time are broken at random.

    Args:
        data: the interactions to split.
        test_size: share of each user's cells to hold out, strictly between 0 and 1;
            cannot be combined with ``last_k``.
        last_k: number of cells per user to hold out (>= 1).
        by_time: hold out the latest cells (needs timestamps) instead of random ones.
        min_train: cells each user keeps in train at the least (>= 0).
        random_state: seed, ``numpy.random.Generator`` or ``None``.

    Returns:
        ``(train, test)``, disjoint, together exactly ``data``.

    Example:
        >>> import numpy as np
        >>> from latentrec.data import Interactions
        >>> data = Interactions.from_dense(np.ones((3, 5)))
        >>> train, test = user_split(data, test_size=0.4, random_state=0)
        >>> test.user_counts().tolist(), train.user_counts().tolist()
        ([2, 2, 2], [3, 3, 3])
        >>> train, test = user_split(data, last_k=1, random_state=0)
        >>> test.user_counts().tolist()
        [1, 1, 1]
    """
    _check_data(data)
    if last_k is not None and test_size is not None:
        raise ValueError("pass either test_size or last_k to user_split, not both")
    min_train = _check_int(min_train, "min_train", low=0)
    counts = data.user_counts()
    if last_k is not None:
        last_k = _check_int(last_k, "last_k", low=1)
        quota = np.where(counts >= last_k + min_train, last_k, 0)
    else:
        test_size = check_share(0.2 if test_size is None else test_size)
        quota = np.floor(test_size * counts + 0.5).astype(np.int64)
        quota = np.clip(np.minimum(quota, counts - min_train), 0, None)

    if by_time is None:
        by_time = last_k is not None and data.timestamps is not None
    elif by_time and data.timestamps is None:
        raise ValueError(
            "by_time=True needs timestamps, but the data has none; build it with "
            "Interactions.from_frame(..., timestamp=...) or pass by_time=False"
        )
    rng = np.random.default_rng(random_state)
    return _take_last_per_user(data, quota, bool(by_time), rng)


def leave_last_out(data: Interactions, *, random_state=None) -> tuple[Interactions, Interactions]:
    """Hold out each user's latest cell (a random one when the data has no timestamps).

    Users with a single cell stay wholly in train.  Same as
    ``user_split(data, last_k=1, random_state=random_state)``.

    Example:
        >>> import pandas as pd
        >>> from latentrec.data import Interactions
        >>> df = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [7, 8, 9, 7],
        ...                    "rating": [4, 5, 3, 2], "t": [30, 10, 20, 5]})
        >>> train, test = leave_last_out(Interactions.from_frame(df, timestamp="t"))
        >>> test.to_frame()[["user_id", "item_id"]].values.tolist()
        [[1, 7]]
        >>> train.nnz
        3
    """
    return user_split(data, last_k=1, random_state=random_state)


def temporal_split(
    data: Interactions, cutoff=None, *, test_size: float | None = None
) -> tuple[Interactions, Interactions]:
    """Split at one global point in time: cells at or after ``cutoff`` go to test.

    Give either ``cutoff`` (a number in the units of ``data.timestamps``, or a date:
    ``datetime``, ``pandas.Timestamp``, ``numpy.datetime64`` or an ISO string, for data
    whose timestamps came from a datetime column) or ``test_size``: the cutoff is then
    the smallest of the latest ``round(test_size * nnz)`` timestamps, so the test set
    has that many cells or more when several share the cutoff time.

    Raises ``ValueError`` when the data has no timestamps, or when the cutoff leaves
    train or test empty.

    Example:
        >>> import pandas as pd
        >>> from latentrec.data import Interactions
        >>> df = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 2],
        ...                    "rating": 1.0, "t": [1, 2, 3, 4]})
        >>> data = Interactions.from_frame(df, timestamp="t")
        >>> train, test = temporal_split(data, 3)
        >>> sorted(test.timestamps.tolist()), sorted(train.timestamps.tolist())
        ([3.0, 4.0], [1.0, 2.0])
        >>> temporal_split(data, test_size=0.25)[1].nnz
        1
    """
    _check_data(data)
    ts = data.timestamps
    if ts is None:
        raise ValueError(
            "temporal_split needs timestamps, but the data has none; build it with "
            "Interactions.from_frame(..., timestamp=...) or use random_split / user_split"
        )
    if (cutoff is None) == (test_size is None):
        raise ValueError("pass exactly one of cutoff and test_size to temporal_split")
    if cutoff is None:
        test_size = check_share(test_size)
        n = ts.size
        # Leave at least one cell on each side (ties at the cutoff may still empty train).
        n_test = max(min(_round_half_up(test_size * n), n - 1), 1)
        cutoff_value = float(np.partition(ts, n - n_test)[n - n_test])
    else:
        cutoff_value = _cutoff_seconds(cutoff)
    test = ts >= cutoff_value
    n_test = int(np.count_nonzero(test))
    if n_test == 0 or n_test == ts.size:
        side = "test" if n_test == 0 else "train"
        # random_split and user_split take a share second: temporal_split(data, 0.2).
        share = isinstance(cutoff, numbers.Real) and not isinstance(cutoff, bool)
        share = share and 0 < cutoff_value < 1
        hint = f"; for the latest {cutoff_value:.0%} of cells pass test_size={cutoff!r}"
        raise ValueError(
            f"cutoff {timestamp_text(cutoff_value)} leaves the {side} set empty; timestamps range "
            f"from {timestamp_text(ts.min())} to {timestamp_text(ts.max())}{hint if share else ''}"
        )
    return data.subset(~test), data.subset(test)


def kfold(
    data: Interactions, n_splits: int = 5, *, random_state=None
) -> Iterator[tuple[Interactions, Interactions]]:
    """K-fold cross-validation over cells: yields ``n_splits`` pairs ``(train, test)``.

    Cells are shuffled once and dealt round-robin, so every cell is in exactly one test
    fold and fold sizes differ by at most one.  Arguments are checked when ``kfold`` is
    called, not when iteration starts.

    Example:
        >>> import numpy as np
        >>> from latentrec.data import Interactions
        >>> data = Interactions.from_dense(np.ones((2, 5)))
        >>> [(tr.nnz, te.nnz) for tr, te in kfold(data, n_splits=3, random_state=0)]
        [(6, 4), (7, 3), (7, 3)]
    """
    _check_data(data)
    n_splits = _check_int(n_splits, "n_splits", low=2)
    if n_splits > data.nnz:
        raise ValueError(f"n_splits={n_splits} is more than the {data.nnz} cells in the data")
    rng = np.random.default_rng(random_state)
    fold = np.empty(data.nnz, dtype=np.int64)
    fold[rng.permutation(data.nnz)] = np.arange(data.nnz) % n_splits
    return _kfold_pairs(data, fold, n_splits)


# ---------------------------------------------------------------------- helpers
def _kfold_pairs(data: Interactions, fold: np.ndarray, n_splits: int):
    for f in range(n_splits):
        test = fold == f
        yield data.subset(~test), data.subset(test)


def _take_last_per_user(
    data: Interactions, quota: np.ndarray, by_time: bool, rng: np.random.Generator
) -> tuple[Interactions, Interactions]:
    """Put the last ``quota[u]`` cells of user ``u`` (in time or random order) in test."""
    n = data.nnz
    users = data.user_idx
    if by_time:
        # Shuffling before a stable sort breaks ties in time at random, not by item index.
        perm = rng.permutation(n)
        by_ts = perm[np.argsort(data.timestamps[perm], kind="stable")]
        within = np.empty(n, dtype=np.int64)
        within[by_ts] = np.arange(n, dtype=np.int64)
    else:
        within = rng.permutation(n).astype(np.int64)
    # One exact int64 key (user major, then time or random rank) sorts faster than a
    # lexsort over two columns; keys are unique, so the sort kind does not matter.
    order = np.argsort(users.astype(np.int64) * n + within)
    # After the sort, position p still belongs to user users[p] (the groups did not move),
    # so its rank inside the user is p minus the user's first position.
    indptr = data.matrix.indptr
    rank = np.arange(n, dtype=np.int64) - indptr[users]
    counts = np.diff(indptr)
    in_test_sorted = rank >= (counts - quota)[users]
    test = np.empty(n, dtype=bool)
    test[order] = in_test_sorted
    return data.subset(~test), data.subset(test)


def _check_data(data) -> None:
    if not isinstance(data, Interactions):
        raise TypeError(f"expected an Interactions, got {type(data).__name__}")


def check_share(value, name: str = "test_size") -> float:
    """``value`` as a float, or a ValueError naming ``name`` unless it lies strictly
    between 0 and 1.  Shared with :func:`latentrec.evaluation.time_slices`.

    Example:
        >>> check_share(0.25)
        0.25
        >>> check_share(1, "validation_size")
        Traceback (most recent call last):
        ValueError: validation_size must be strictly between 0 and 1, got 1.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return value


def timestamp_text(x: float) -> str:
    """A timestamp for a message, every digit kept (``:g`` writes 874724710 and 874724999
    both as 8.74725e+08).

    Example:
        >>> timestamp_text(874724710.0), timestamp_text(0.5)
        ('874724710', '0.5')
    """
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


def _round_half_up(x: float) -> int:
    # Python's round() sends 2.5 to 2; a split of 5 cells at 0.5 should hold out 3.
    return int(np.floor(x + 0.5))


def _cutoff_seconds(cutoff) -> float:
    """A cutoff in the units of ``Interactions.timestamps`` (seconds for datetimes)."""
    if isinstance(cutoff, (str, _dt.datetime, _dt.date, np.datetime64, pd.Timestamp)):
        try:
            stamp = pd.Timestamp(cutoff)
        except (ValueError, TypeError) as err:
            raise ValueError(f"cannot read cutoff {cutoff!r} as a date: {err}") from None
        # Matches how Interactions.from_frame stores datetime columns: seconds since the
        # epoch, naive times taken as UTC.
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return (stamp - pd.Timestamp(0)).total_seconds()
    if isinstance(cutoff, bool) or not isinstance(cutoff, numbers.Real):
        raise ValueError(f"cutoff must be a number or a date, got {cutoff!r}")
    value = float(cutoff)
    if not np.isfinite(value):
        raise ValueError(f"cutoff must be finite, got {cutoff!r}")
    return value
