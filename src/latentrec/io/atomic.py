"""Atomic file writes: write under a temporary name in the same folder, then rename."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..data.files import creation_mode, temporary_beside


@contextmanager
def atomic_path(path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    A crash or an exception leaves ``path`` as it was (and no temporary file), so readers
    see the old file or the new one, never half of one.  With ``durable`` the data is
    fsynced before the rename and the folder after it, so an acknowledged write survives
    a power cut.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("done")
        >>> open(target).read()
        'done'
    """
    path = Path(path)
    # Creates a missing folder; refuses a folder in place of the file before any writing.
    fd, tmp = temporary_beside(path)
    # Everything from here on is inside the try, so that an exception at any point (a
    # SIGTERM the command line turns into SystemExit, say) removes the temporary file.
    try:
        try:
            # mkstemp makes the file private (0600); the result should have the mode a
            # plain open(path, "w") gives: the old file's, or the umask's for a new one.
            os.fchmod(fd, creation_mode(path))
        except (AttributeError, OSError):  # no fchmod (Windows), or a file system without modes
            pass
        finally:
            os.close(fd)
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if durable and hasattr(os, "O_DIRECTORY"):
            dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)
