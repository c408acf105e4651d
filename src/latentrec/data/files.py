"""File-system helpers for the layers that write files (here, below them all)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["creation_mode", "temporary_beside"]


def temporary_beside(path, *, make_folder: bool = True) -> tuple[int, Path]:
    """``(fd, name)`` of a new private temporary file in ``path``'s folder, for a write
    that will be renamed onto ``path``; with ``make_folder`` a missing folder is created
    (as ``mkdir -p`` does).

    Errors name ``path`` (what the user gave), not the temporary file, and come before
    anything is written: a folder where the file should go, a folder that cannot be
    created (a file has its name) or written to.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "new", "out.npz")
        >>> fd, tmp = temporary_beside(target)
        >>> os.close(fd); tmp.parent == Path(target).parent, tmp.name.startswith(".out.npz.")
        (True, True)
        >>> try:
        ...     temporary_beside(tmp.parent)
        ... except IsADirectoryError as err:
        ...     print(err.strerror)
        it is a folder, not a file
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "it is a folder, not a file", str(path))
    folder = path.parent if str(path.parent) else Path(".")
    for above in (folder, *folder.parents):
        if above.exists():
            if not above.is_dir():
                raise NotADirectoryError(20, f"{above} is a file, not a folder", str(path))
            break
    try:
        if make_folder:
            folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise OSError(
            err.errno, f"cannot write a file in {folder} ({err.strerror})", str(path)
        ) from None
    return fd, Path(tmp)


def creation_mode(path, *, directory: bool = False) -> int:
    """The permission bits a plain ``open(path, "w")`` (or ``mkdir``) would give ``path``:
    the existing file's when it replaces one, else the process's umask applied to 0666
    (0777 for a directory).  Files written under a temporary name (``mkstemp``, private
    0600, ``mkdtemp`` 0700) take this mode before they are renamed into place, so models
    and data others read are not left readable only by their writer.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> old = os.umask(0o022)
        >>> oct(creation_mode(os.path.join(folder, "new.npz")))
        '0o644'
        >>> _ = os.umask(old)
    """
    try:
        return os.stat(Path(path)).st_mode & 0o777
    except FileNotFoundError:
        return (0o777 if directory else 0o666) & ~_umask()


def _umask() -> int:
    # Linux shows the umask in /proc; os.umask can only read it by setting it, which
    # another thread creating a file at that moment would see.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
