"""File-system helpers for the layers that write files (here, below them all)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["creation_mode"]


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
