"""Numba kernels: pure functions over NumPy arrays that write into caller-owned arrays.

Each module compiles lazily on first call (``cache=True``), never at import.  Numba keeps
the compiled kernels beside their source (``__pycache__``) or in the user's cache folder;
where neither can be written (a root-owned install run by a service user whose home is
``/nonexistent``), every ``cache=True`` kernel failed at import with numba's "no locator
available", so :func:`ensure_numba_cache` points numba at a folder of its own in the
temporary directory first.
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["ensure_numba_cache"]


def _writable(folder: str) -> bool:
    """Whether ``folder`` exists or can be made, and takes a file, as numba checks it."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def ensure_numba_cache(here: str | None = None, user_wide: str | None = None) -> str | None:
    """Give numba a cache folder where it would find none; the folder given, or None.

    Numba caches in ``NUMBA_CACHE_DIR`` when set, else beside the kernels' source
    (``here``), else in the user's cache folder (``user_wide``); where none can be
    written, this sets ``numba.config.CACHE_DIR`` to ``latentrec-numba-<uid>`` in the
    temporary directory.

    Example:
        >>> import tempfile
        >>> ensure_numba_cache(tempfile.mkdtemp()) is None  # a writable source folder
        True
    """
    from numba import config
    from numba.misc.appdirs import AppDirs

    if config.CACHE_DIR:
        return None
    if here is None:
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    if _writable(here):
        return None
    if user_wide is None:
        user_wide = AppDirs(appname="numba", appauthor=False).user_cache_dir
    if _writable(user_wide):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    fallback = os.path.join(tempfile.gettempdir(), f"latentrec-numba-{uid}")
    if not _writable(fallback):
        return None  # numba names the problem itself
    config.CACHE_DIR = fallback
    return fallback


ensure_numba_cache()
