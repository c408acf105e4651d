"""The model-file archive: one ``.npz`` of plain arrays plus a JSON manifest, never a pickle.

Layout (a zip archive that ``numpy.load(path, allow_pickle=False)`` also reads)::

    manifest.json     format, version, algorithm, hyperparameters, scalars, data info,
                      and a SHA-256 per array
    <array>.npy       one per learned array, the id vocabularies and the seen-item CSR

This module reads and writes that archive and checks it (format, version, digests); it
knows nothing of model classes: ``latentrec.models.persistence`` turns a model into a
manifest and arrays and back.  The file is written under a temporary name and renamed,
so a crash never leaves half a model behind.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from ..data.npyfile import PickledArrayError, member_size, read_npy, read_npy_header
from ..errors import ModelFileError
from .atomic import atomic_path

FORMAT = "latentrec-model"
FORMAT_VERSION = 1
# A manifest is a few kilobytes of JSON (a long training history: a few megabytes); a
# larger one is damage or a zip bomb, refused before it is decompressed.
_MANIFEST_LIMIT = 1 << 26
# A compressed array member may expand this many times over once it is larger than
# _SMALL_MEMBER bytes (below that, unpacking costs little whatever it holds): learned
# values and ids deflate a few-fold, titles padded to the longest one some tens-fold
# (MovieLens-100K's: 19), zeros a thousand-fold, the zip bomb's filling.
_MAX_EXPANSION = 100
_SMALL_MEMBER = 1 << 28


def digest(arr: np.ndarray) -> str:
    """SHA-256 of an array's bytes (C order), as stored in the manifest.

    Example:
        >>> len(digest(np.zeros(3)))
        64
    """
    return hashlib.sha256(np.asarray(arr, order="C").tobytes()).hexdigest()


def write_archive(path, manifest: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``manifest`` (JSON-able) and ``arrays`` to ``path`` atomically and durably.

    The format fields and a digest per array are added to the manifest here.  A
    ``path`` that is a symbolic link is refused (:func:`refuse_link`): the save would
    replace the link, not the file it points to.

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "m.npz")
        >>> write_archive(p, {"algorithm": "Demo"}, {"x": np.arange(3)})
        >>> read_archive(p)[1]["x"].tolist()
        [0, 1, 2]
    """
    refuse_link(path)
    for name, arr in arrays.items():
        if arr.dtype.hasobject:
            raise TypeError(f"array {name!r} holds Python objects and cannot be saved safely")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **manifest,
        "arrays": {
            name: {"dtype": arr.dtype.str, "shape": list(arr.shape), "sha256": digest(arr)}
            for name, arr in arrays.items()
        },
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=2))
            for name, arr in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asarray(arr, order="C"), allow_pickle=False)
                zf.writestr(name + ".npy", buf.getvalue())


def refuse_link(path) -> None:
    """Raise an ``OSError`` naming ``path`` and its target if ``path`` is a symbolic link.

    A save writes a new file and renames it onto ``path``, which replaces a link with a
    plain file and leaves the file it pointed to as it was; writing through the link
    instead would overwrite that file, often a kept version (``model.npz ->
    models/v3.npz``).  Which one the user meant is theirs to say, so neither is done.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> os.symlink("models/v3.npz", os.path.join(folder, "model.npz"))
        >>> try:
        ...     refuse_link(os.path.join(folder, "model.npz"))
        ... except OSError as err:
        ...     print(err.strerror)  # doctest: +NORMALIZE_WHITESPACE
        it is a symbolic link to models/v3.npz; save to that file, or to a new file and
        point the link at it
    """
    try:
        target = os.readlink(path)
    except OSError:  # not a link (or not there): nothing to refuse
        return
    raise OSError(
        errno.EEXIST,
        f"it is a symbolic link to {target}; save to that file, or to a new file and point "
        "the link at it",
        str(path),
    )


def read_manifest(path) -> dict:
    """The JSON manifest of a model file, without loading its arrays.

    Example:
        >>> import numpy as np, tempfile, os, latentrec
        >>> from latentrec.models import GlobalMean
        >>> m = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
        >>> p = os.path.join(tempfile.mkdtemp(), "m.npz"); m.save(p)
        >>> read_manifest(p)["algorithm"]
        'GlobalMean'
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            # Our archives start at byte 0.  zipfile also reads an archive found further
            # in (it takes what comes before as a prefix): the first part of a truncated
            # pipeline file is one, its first candidate's whole file.
            start = min((info.header_offset for info in zf.infolist()), default=0)
            if start != 0:
                raise zipfile.BadZipFile(f"{start} bytes come before the archive")
            names = set(zf.namelist())
            if "manifest.json" not in names and "meta.npy" in names:
                raise ModelFileError(
                    f"{path} is a converted ratings file (.lrdata), not a model file"
                )
            info = zf.getinfo("manifest.json")
            if info.file_size > _MANIFEST_LIMIT:
                raise zipfile.BadZipFile(f"its manifest declares {info.file_size} bytes")
            raw = zf.read(info)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, NotImplementedError) as err:
        raise ModelFileError(
            f"{path} is not a latentrec model file or is truncated ({err})"
        ) from None
    try:
        manifest = json.loads(raw)
    # Bytes that are not UTF-8 are a UnicodeDecodeError (a ValueError, not a JSON error);
    # a deeply nested value a RecursionError.
    except (ValueError, RecursionError) as err:
        raise ModelFileError(
            f"{path}: the manifest is not valid JSON ({_first_line(err)})"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a latentrec model file")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(
            f"{path} is damaged: its manifest has no format version (got {version!r})"
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version!r}; this latentrec reads up to "
            f"{FORMAT_VERSION} — upgrade latentrec"
        )
    return manifest


def read_archive(path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(manifest, arrays)`` of a model file; every array is checked against its digest.

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "m.npz")
        >>> write_archive(p, {"algorithm": "Demo"}, {"x": np.ones(2)})
        >>> manifest, arrays = read_archive(p)
        >>> manifest["algorithm"], sorted(arrays)
        ('Demo', ['x'])
    """
    path = Path(path)
    manifest = read_manifest(path)
    listed = manifest.get("arrays")
    if not isinstance(listed, dict) or not all(isinstance(v, dict) for v in listed.values()):
        raise ModelFileError(f"{path} is damaged: its manifest has no list of arrays")
    arrays: dict[str, np.ndarray] = {}
    name = None  # the array being read, for an error
    try:
        total = path.stat().st_size
        with zipfile.ZipFile(path) as zf:
            _check_memory(path, zf, listed, total)
            for name, info in listed.items():
                member = zf.getinfo(f"{name}.npy")
                # The .npy header is parsed under latentrec's one header lock (CPython
                # gh-106905: two threads parsing at once can fail); see data.npyfile.
                with zf.open(member) as fh:
                    arr = read_npy(fh, member_size(member, total), f"array {name!r}")
                if digest(arr) != info.get("sha256") or list(arr.shape) != info.get("shape"):
                    raise ModelFileError(
                        f"{path}: array {name!r} does not match its checksum; the file was "
                        "modified or damaged"
                    )
                arrays[name] = arr
    except ModelFileError:
        raise
    except PickledArrayError as err:
        raise ModelFileError(f"{path} is refused unread: {err}") from None
    except MemoryError:
        # The arrays fitted in what the system said was free, but not in what it gave.
        raise ModelFileError(
            f"{path}: not enough memory to load array {name!r} (a damaged or hostile file, "
            "or a model too big for this machine)"
        ) from None
    # A damaged zip entry can name a compression method or zip version zipfile does not
    # know (NotImplementedError); a damaged .npy header is a ValueError (data.npyfile).
    except (
        zipfile.BadZipFile,
        KeyError,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
    ) as err:
        raise ModelFileError(f"{path} is damaged or truncated ({_first_line(err)})") from None
    return manifest, arrays


def _check_memory(path: Path, zf: zipfile.ZipFile, listed: dict, total: int) -> None:
    """Refuse, before anything is allocated, arrays that need more memory than is free,
    and a compressed array that expands as no model's arrays do.

    Each array's size is what its ``.npy`` header declares, bounded by what its member
    can hold (see ``data.npyfile.member_size``): a stored member no more than the file,
    but a deflated one up to about a thousand times its compressed bytes, so a file of
    a few megabytes of deflated zeros (a zip bomb) can declare, honestly, gigabytes.
    Loading it would fill the memory (a MemoryError, or the system killing the process)
    or take minutes unpacking zeros, where an error naming the file is what helps.
    latentrec never compresses a model file; learned values and ids deflate a few-fold,
    so a member beyond :data:`_MAX_EXPANSION` times its compressed size, and beyond
    :data:`_SMALL_MEMBER` bytes, is refused as the bomb it is.
    """
    need = 0
    for name in listed:
        member = zf.getinfo(f"{name}.npy")
        with zf.open(member) as fh:
            shape, _, dtype = read_npy_header(fh, f"array {name!r}")
        size = min(math.prod(shape) * dtype.itemsize, member_size(member, total))
        if size > max(_SMALL_MEMBER, _MAX_EXPANSION * member.compress_size):
            raise ModelFileError(
                f"{path}: array {name!r} unpacks from {_size(member.compress_size)} to "
                f"{_size(size)}, more than any model's arrays expand (a damaged or hostile "
                "file, a zip bomb)"
            )
        need += size
    free = free_memory()
    if free is not None and need > free:
        raise ModelFileError(
            f"{path}: its arrays take {_size(need)} unpacked, more than the {_size(free)} of "
            f"memory free here (a compressed file of {_size(total)} that is damaged or "
            "hostile, or a model too big for this machine)"
            if need > total
            else f"{path}: its arrays take {_size(need)}, more than the {_size(free)} of "
            "memory free here (a model too big for this machine)"
        )


def free_memory() -> int | None:
    """Bytes of memory this process can still take, as far as the system says (Linux:
    ``MemAvailable`` and free swap, within the cgroup's limit); ``None`` where it does
    not say.

    Example:
        >>> free = free_memory()
        >>> free is None or free >= 0
        True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info = {k: v.split() for k, v in (line.split(":", 1) for line in fh if ":" in line)}
        free = (int(info["MemAvailable"][0]) + int(info.get("SwapFree", ["0"])[0])) * 1024
    except (OSError, ValueError, KeyError, IndexError):
        return None
    room = cgroup_room()
    return free if room is None else min(free, room)


def cgroup_room(root: str = "/sys/fs/cgroup") -> int | None:
    """Bytes left under a cgroup v2 memory limit (a container's, which ``/proc/meminfo``
    does not show), or ``None`` where there is no limit.

    The cgroup's usage counts the page cache of files it read, which the kernel drops
    before it refuses memory; its reclaimable part (``inactive_file``) is left out, as
    container runtimes do for their "working set", so a fit after reading a large CSV
    is not refused for memory the kernel would give back.

    Example:
        >>> import os, tempfile
        >>> root = tempfile.mkdtemp()
        >>> files = {"memory.max": ["1000000"], "memory.current": ["900000"],
        ...          "memory.stat": ["anon 100000", "inactive_file 700000"]}
        >>> for name, lines in files.items():
        ...     _ = open(os.path.join(root, name), "w").write("".join(x + chr(10) for x in lines))
        >>> cgroup_room(root)
        800000
    """
    try:
        with open(os.path.join(root, "memory.max"), encoding="ascii") as fh:
            limit = fh.read().strip()
        if limit == "max":
            return None
        with open(os.path.join(root, "memory.current"), encoding="ascii") as fh:
            used = int(fh.read().strip())
    except (OSError, ValueError):
        return None
    try:
        with open(os.path.join(root, "memory.stat"), encoding="ascii") as fh:
            stat = dict(line.split(None, 1) for line in fh if line.strip())
        used -= min(int(stat.get("inactive_file", 0)), used)
    except (OSError, ValueError):
        pass
    return max(int(limit) - used, 0)


def _size(n: int) -> str:
    """A byte count for people.

    Example:
        >>> _size(512), _size(3 * 2**20), _size(5 * 2**30)
        ('512 bytes', '3.0 MiB', '5.0 GiB')
    """
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KiB"
    for larger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.1f} {unit}"


def _first_line(err: BaseException) -> str:
    """The first line of an error's text (a SyntaxError's spans several).

    Example:
        >>> _first_line(ValueError("bad header\\n  more"))
        'bad header'
    """
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
