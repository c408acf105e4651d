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


# A fold-in of at most this many rows of 32 factors runs on one numba thread; with k
# factors the bound is this many rows of k² work (a row's solve grows with k² to k³, so
# fewer rows at a larger k).  Waking numba's pool for a few rows costs more than their
# solves, and its spinning OpenMP threads then slow every BLAS call of the process: on a
# loaded 2-core machine 64 ImplicitALS rows (k = 32) took 0.3 ms on one thread while one
# wake of the pool alone took several ms (benchmarks/foldin_latency.py).  A single row is
# one thread's work at any k.  Callers use it only where rows are solved independently,
# so the answer does not depend on the thread count.
SERIAL_ROWS = 64


def fold_in_threads(num_threads, n_rows: int, n_factors: int = 32):
    """The thread count for a fold-in of ``n_rows`` independent rows of ``n_factors``:
    one when the work is small (a model's ``num_threads`` applies to larger batches).

    Example:
        >>> fold_in_threads(None, 1), fold_in_threads(4, 1000), fold_in_threads(None, 1000)
        (1, 4, None)
        >>> fold_in_threads(8, 64, 32), fold_in_threads(8, 64, 256), fold_in_threads(8, 1, 256)
        (1, 8, 1)
    """
    rows = SERIAL_ROWS
    if rows > 0:
        rows = max(1, rows * 32 * 32 // max(int(n_factors), 1) ** 2)
    return 1 if n_rows <= rows else num_threads
