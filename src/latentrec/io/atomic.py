"""Atomic file writes: write under a temporary name in the same folder, then rename."""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..data.files import creation_mode, temporary_beside

try:
    import fcntl
except ImportError:  # Windows: no flock; a killed save's temporary file stays
    fcntl = None

# mkstemp's names: the prefix, eight characters from this set, the suffix.
_RANDOM_PART = re.compile(r"[a-z0-9_]{8}")
# A temporary file no save holds and unchanged this long is a killed save's.  The age
# also spares a file created an instant ago, before its writer could take the lock.
STALE_AFTER = 60.0


@contextmanager
def atomic_path(path, *, durable: bool = True, replace_read_only: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    A crash or an exception leaves ``path`` as it was (and no temporary file), so readers
    see the old file or the new one, never half of one.  With ``durable`` the data is
    fsynced before the rename and the folder after it, so an acknowledged write survives
    a power cut.

    A process killed outright (SIGKILL, the out-of-memory killer, a power cut) runs no
    clean-up and leaves its temporary file, hidden and as big as what it wrote.  Each
    write holds a lock on its own temporary file while it lasts, so the next write to
    ``path`` removes those of its kind that no live write holds (see :func:`sweep`).

    A ``path`` this process may not write is refused, as ``open(path, "w")`` would
    refuse it (:func:`refuse_read_only`), unless ``replace_read_only``: a file only its
    writer's own code keeps (a model directory's ``CURRENT``), whose mode came from the
    umask or a copy, not from anyone's wish to keep it.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("done")
        >>> open(target).read()
        'done'
    """
    path = Path(path)
    if not replace_read_only:
        refuse_read_only(path)
    # Creates a missing folder; refuses a folder in place of the file before any writing.
    fd, tmp = temporary_beside(path)
    # Everything from here on is inside the try, so that an exception at any point (a
    # SIGTERM the command line turns into SystemExit, say) removes the temporary file.
    try:
        # mkstemp makes the file private (0600); the result should have the mode a plain
        # open(path, "w") gives: the old file's, or the umask's for a new one.  It is set
        # once the file is written: a mode without write permission (under a umask of
        # 0222, say) would stop the writer itself, unless it is root.
        mode = creation_mode(path)
        try:
            # mkstemp's 0600 passes through the umask too: 0400 under a umask of 0222.
            os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
        except (AttributeError, OSError):  # no fchmod (Windows), or a file system without modes
            pass
        if not _hold(fd):
            os.close(fd)
            fd = -1
        else:
            sweep(path, keep=tmp)
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        try:
            os.chmod(tmp, mode)
        except (NotImplementedError, OSError):  # a file system without modes
            pass
        os.replace(tmp, path)
        if durable and hasattr(os, "O_DIRECTORY"):
            dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)
        if fd >= 0:
            os.close(fd)


def refuse_read_only(path) -> None:
    """Raise a ``PermissionError`` naming ``path`` if it is a file this process may not
    write, as a plain ``open(path, "w")`` would.

    A save replaces the file by renaming a new one onto it, which only the folder's
    permissions govern: without this check a model made read-only to keep it
    (``chmod a-w``) was replaced all the same.  Root may write any file, here as there.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "kept.npz")
        >>> refuse_read_only(path)  # no file yet: nothing to refuse
    """
    if not os.path.isfile(path):
        return
    effective = os.access in os.supports_effective_ids  # setuid runs: the effective user
    if not os.access(path, os.W_OK, effective_ids=effective):
        raise PermissionError(
            errno.EACCES, "it is read-only; make it writable to replace it", str(path)
        )


def _hold(fd: int) -> bool:
    """Lock the temporary file open at ``fd`` for as long as it stays open (it says "a
    live write" to :func:`sweep`); ``False`` where the system has no such lock."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a file system without flock (some network ones): no sweeping
        return False
    return True


def sweep(path, keep=None) -> list[str]:
    """Remove the temporary files that killed writes to ``path`` left; their names.

    A temporary file of ``path`` is named as :func:`atomic_path` names it
    (``.<name>.XXXXXXXX.tmp`` beside ``path``).  One is removed only when no process
    holds its lock (the write that made it is gone) and it has not changed for
    :data:`STALE_AFTER` seconds; ``keep`` (the caller's own) is never touched.  What
    cannot be opened, locked or removed is left as it is: a sweep never fails a write.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> left = os.path.join(folder, ".m.npz.k2x8q0z1.tmp")
        >>> _ = open(left, "w").write("half a model")
        >>> os.utime(left, (0, 0))  # a killed save's, long ago
        >>> sweep(os.path.join(folder, "m.npz"))
        ['.m.npz.k2x8q0z1.tmp']
        >>> os.listdir(folder)
        []
    """
    if fcntl is None:
        return []
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    try:
        entries = list(os.scandir(path.parent if str(path.parent) else "."))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not (
            name.startswith(prefix)
            and name.endswith(".tmp")
            and _RANDOM_PART.fullmatch(name[len(prefix) : -len(".tmp")])
        ):
            continue
        if keep is not None and name == Path(keep).name:
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < STALE_AFTER:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live write holds it
            os.unlink(entry.path)
            removed.append(name)
        except OSError:
            continue
        finally:
            os.close(fd)
    return sorted(removed)
