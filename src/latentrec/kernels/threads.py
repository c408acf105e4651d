"""How many threads the numba kernels run on: one setting, used by every caller."""

from __future__ import annotations

import contextlib

import numba


@contextlib.contextmanager
def numba_threads(num_threads):
    """Run the block with ``num_threads`` numba threads (capped), then restore the count.

    ``None`` leaves numba's setting alone.  Yields the count in force.

    Example:
        >>> with numba_threads(1) as n:
        ...     n, numba.get_num_threads()
        (1, 1)
    """
    if num_threads is None:
        yield numba.get_num_threads()
        return
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(num_threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield numba.get_num_threads()
    finally:
        numba.set_num_threads(old)
