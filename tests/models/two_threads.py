"""Run a thread-count check on two numba threads, also on a one-CPU runner.

numba caps its thread count at ``NUMBA_NUM_THREADS``, fixed when numba starts (the
number of CPUs unless set), so on a one-CPU runner ``num_threads=2`` silently means one
thread and a "1 thread == 2 threads" test compares one thread with itself.  There the
check runs instead in a fresh Python started with ``NUMBA_NUM_THREADS=2``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba

import latentrec


def on_two_threads(check) -> None:
    """Call ``check()`` (a module-level function of a test module) where two numba
    threads exist: here, or else in a subprocess with ``NUMBA_NUM_THREADS=2``.

    Example:
        >>> def check():
        ...     assert numba.config.NUMBA_NUM_THREADS >= 2
        >>> on_two_threads(check) if numba.config.NUMBA_NUM_THREADS >= 2 else None
    """
    if numba.config.NUMBA_NUM_THREADS >= 2:
        check()
        return
    here = Path(__file__).resolve().parent
    # The subprocess imports the same latentrec, conftest and test module as this run.
    paths = [str(Path(latentrec.__file__).resolve().parents[1]), str(here.parent), str(here)]
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    code = (
        "import numba\n"
        "assert numba.config.NUMBA_NUM_THREADS == 2\n"
        f"from {check.__module__} import {check.__name__}\n"
        f"{check.__name__}()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{check.__name__} on two threads failed:\n{done.stderr[-4000:]}"
