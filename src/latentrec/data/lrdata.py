"""The converted ratings file (``.lrdata``): an Interactions table that loads in seconds.

Owns :func:`write_lrdata` and :func:`read_lrdata`.  The file is an *uncompressed*
NumPy ``.npz`` (a zip of ``.npy`` arrays, never a pickle): the CSR arrays ``indptr``
(int64), ``indices`` (int32) and ``data`` (float32), optional ``timestamps`` (float64),
the user and item ids (int64, or fixed-width text as model files store them), and a
``meta`` member holding JSON (format version, shape, flags, fingerprint, what the
original read did).  Why ``.npz`` rather than Parquet: the arrays are stored byte for
byte as they sit in memory, so a stored (uncompressed) member can be memory-mapped in
place: loading 10^8 ratings costs no parse, no copy and no rebuild of the CSR, and
processes reading the same file share its pages.  Parquet would store the long
(user, item, rating) rows, encoded in pages, and reading it means decoding them and
building the CSR again (20 bytes per rating at the peak instead of none).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .files import creation_mode, temporary_beside
from .npyfile import PickledArrayError, member_size, read_npy, read_npy_header
from .report import DataError, LoadReport
from .vocabulary import Vocabulary

FORMAT = "latentrec-interactions"
VERSION = 1
SUFFIX = ".lrdata"
_SLICE = 1 << 22
_REPORT_FIELDS = (
    "source",
    "unit",
    "rows_read",
    "loaded",
    "merged",
    "duplicates",
    "encoding",
    "separator",
)


def write_lrdata(data, path: str | Path) -> Path:
    """Write ``data`` (an Interactions) to ``path``; acknowledged once on disk.

    The file is written under a temporary name in the same folder, flushed to disk and
    renamed, so a crash never leaves half a file under the final name.  Side tables
    (item or user features) are not part of the format: a table with them is refused.

    Example:
        >>> import tempfile, os, numpy as np
        >>> from latentrec import Interactions
        >>> path = os.path.join(tempfile.mkdtemp(), "r.lrdata")
        >>> data = Interactions.from_arrays([1, 2], ["a", "b"], [4.0, 5.0])
        >>> _ = write_lrdata(data, path)
        >>> read_lrdata(Interactions, path).fingerprint() == data.fingerprint()
        True
    """
    path = Path(path)
    if data.item_features is not None or data.user_features is not None:
        raise DataError(
            f"{path}: the .lrdata format holds ratings only; save the item/user feature "
            "tables separately (e.g. as Parquet) and pass them when you load"
        )
    report = data.load_report
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "shape": list(data.shape),
        "nnz": data.nnz,
        "implicit": data.implicit,
        "rating_scale": None if data.rating_scale is None else list(data.rating_scale),
        "fingerprint": data.fingerprint(),
        "load_report": None
        if report is None or report.rejections
        else {k: getattr(report, k) for k in _REPORT_FIELDS},
        # Beside load_report, not in it: a reader that predates notes ignores this key.
        "load_notes": [] if report is None or report.rejections else list(report.notes),
    }
    m = data.matrix
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        "indptr": np.asarray(m.indptr, dtype=np.int64),
        "indices": np.asarray(m.indices, dtype=np.int32),
        "data": np.asarray(m.data, dtype=np.float32),
        "user_ids": data.users.to_array(),
        "item_ids": data.items.to_array(),
    }
    if data.timestamps is not None:
        arrays["timestamps"] = data.timestamps
    folder = path.parent if str(path.parent) else Path(".")
    # A missing folder is an error (the command line checks for it), as is a folder in
    # place of the file; either names the path given, not the temporary file.
    fd, tmp = temporary_beside(path, make_folder=False)
    try:
        if hasattr(os, "fchmod"):  # mkstemp's 0600 would leave the file to its writer
            os.fchmod(fd, creation_mode(path))
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
                for name, arr in arrays.items():
                    with z.open(f"{name}.npy", "w", force_zip64=True) as member:
                        # Never a pickle: the reader refuses one, so the file would be lost.
                        np.lib.format.write_array(
                            member, np.ascontiguousarray(arr), allow_pickle=False
                        )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def read_lrdata(cls, path: str | Path, *, mmap: bool = True):
    """``cls(...)`` from a ``.lrdata`` file; the big arrays memory-mapped unless ``mmap=False``.

    Memory-mapped arrays are read-only and paged in from the file as they are used
    (the operating system shares and drops those pages as it needs).  A file that is
    not a ``.lrdata`` file, or is damaged (arrays of the wrong length, an ``indptr``
    that falls, an item index out of range, a NaN rating, a meta entry missing) is a
    :class:`DataError` naming it and the array or entry at fault, as is a truncated
    file; the checks read ``indptr``, ``indices``, the ratings and the timestamps once
    each, a slice at a time.

    Example:
        >>> import tempfile, os
        >>> from latentrec import Interactions
        >>> path = os.path.join(tempfile.mkdtemp(), "r.lrdata")
        >>> _ = write_lrdata(Interactions.from_arrays([1], [2], [3.0]), path)
        >>> read_lrdata(Interactions, path, mmap=False).ratings.tolist()
        [3.0]
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise DataError(f"{source} is a folder, not a .lrdata file", source=source)
    if not path.is_file():
        raise DataError(f"no such .lrdata file: {source}", source=source)
    try:
        total = path.stat().st_size
        with zipfile.ZipFile(path) as z:
            members = {info.filename: info for info in z.infolist()}
            if "meta.npy" not in members and "manifest.json" in members:
                raise DataError(
                    f"{source} is a latentrec model file, not a .lrdata ratings file",
                    source=source,
                )
            if "meta.npy" not in members:
                raise DataError(
                    f"{source} is not a latentrec .lrdata file: it is a zip archive without "
                    "the 'meta' member every .lrdata file has",
                    source=source,
                )
            # Every .npy header is parsed under latentrec's one header lock (CPython
            # gh-106905: two threads parsing at once can fail); see data.npyfile.
            info = members["meta.npy"]
            with z.open(info) as fh:
                meta = json.loads(read_npy(fh, member_size(info, total), "meta").tobytes())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise DataError(f"{source} is not a latentrec .lrdata file", source=source)
            version = meta.get("version")
            if not isinstance(version, int) or isinstance(version, bool):
                raise DataError(
                    f"{source} is damaged: its meta has no version number (got {version!r})",
                    source=source,
                )
            if version > VERSION:
                raise DataError(
                    f"{source} is .lrdata version {meta['version']}; this latentrec reads up "
                    f"to version {VERSION}: upgrade latentrec",
                    source=source,
                )
            arrays = {}
            for name in ("indptr", "indices", "data", "timestamps", "user_ids", "item_ids"):
                info = members.get(f"{name}.npy")
                if info is None:
                    if name == "timestamps":
                        continue
                    raise DataError(f"{source} lacks its {name!r} array", source=source)
                big = name in ("indices", "data", "timestamps")
                if mmap and big and info.compress_type == zipfile.ZIP_STORED:
                    arrays[name] = _mapped(path, info, total)
                else:
                    with z.open(info) as fh:
                        arrays[name] = read_npy(fh, member_size(info, total), name)
    except DataError:
        raise
    except PickledArrayError as err:
        raise DataError(
            f"{source}: {err}; a .lrdata file never holds one: refused unread "
            "(pickles can run code)",
            source=source,
        ) from None
    except zipfile.BadZipFile as err:
        # What a truncated file (its zip directory, at the end, cut off) or any other
        # kind of file says; the zip module's own words do not say which file it was.
        raise DataError(
            f"cannot read {source} as .lrdata: it is not a complete .lrdata file (a "
            f"truncated copy, or another kind of file): {err}",
            source=source,
        ) from err
    # NotImplementedError: a damaged zip entry naming a compression method or zip version
    # zipfile does not know; RecursionError: a meta of deeply nested JSON.
    except (OSError, ValueError, KeyError, EOFError, NotImplementedError, RecursionError) as err:
        raise DataError(f"cannot read {source} as .lrdata: {err}", source=source) from err
    shape, scale, implicit, info, notes = _meta_fields(source, meta)
    _check_layout(source, shape, meta.get("nnz"), arrays)
    matrix = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
    matrix.has_canonical_format = True
    report = None
    if info is not None:
        notes = (f"converted from {info['source']}; loaded from {source}", *notes)
        report = LoadReport(**{**info, "source": source}, notes=notes)
    try:
        return cls(
            Vocabulary.from_array(arrays["user_ids"], name="user"),
            Vocabulary.from_array(arrays["item_ids"], name="item"),
            matrix,
            arrays.get("timestamps"),
            rating_scale=scale,
            implicit=implicit,
            load_report=report,
        )
    except (TypeError, ValueError) as err:  # repeated ids, unsorted rows: not ours
        raise DataError(f"{source} is damaged: {err}", source=source) from None


def _meta_fields(source: str, meta: dict) -> tuple:
    """``(shape, rating_scale, implicit, load_report fields or None, notes)`` from the
    ``meta`` member, or a :class:`DataError` saying which entry is missing or wrong."""

    def bad(what: str) -> DataError:
        return DataError(f"{source} is damaged: its meta {what}", source=source)

    shape = meta.get("shape")
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in shape)
    ):
        raise bad(f"has no shape of two counts (got {shape!r})")
    scale = meta.get("rating_scale")
    if scale is not None:
        if not (
            isinstance(scale, list)
            and len(scale) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in scale)
        ):
            raise bad(f"has a rating_scale that is not (low, high): {scale!r}")
        scale = (float(scale[0]), float(scale[1]))
        # The scale every reader checks ratings against: low < high, both finite.
        if not (np.isfinite(scale).all() and scale[0] < scale[1]):
            raise bad(f"has a rating_scale that is not (low, high) with low < high: {scale}")
    implicit = meta.get("implicit", False)
    if not isinstance(implicit, bool):
        raise bad(f"has implicit={implicit!r}, not true or false")
    info = meta.get("load_report")
    if info is not None:
        if not isinstance(info, dict) or set(info) != set(_REPORT_FIELDS):
            raise bad("has a load_report without the fields a .lrdata file writes")
        if not isinstance(info["source"], str):
            raise bad("names no source in its load_report")
    notes = meta.get("load_notes", [])
    if not isinstance(notes, list):
        raise bad(f"has load_notes that are not a list: {notes!r}")
    return tuple(shape), scale, implicit, info, tuple(str(n) for n in notes)


def _check_layout(source: str, shape: tuple, nnz, arrays: dict) -> None:
    """A :class:`DataError` naming the array at fault unless the arrays form the CSR the
    meta describes.  The item indices are range-checked (one sequential read of 4 bytes
    per rating) because the numba kernels index with them unchecked: a damaged index
    would read or write outside an array instead of failing."""

    def bad(what: str) -> DataError:
        return DataError(f"{source} is damaged: {what}", source=source)

    n_users, n_items = (int(x) for x in shape)
    indptr, indices = arrays["indptr"], arrays["indices"]
    for name, arr in (("indptr", indptr), ("indices", indices)):
        # Integers only: converting another kind (1.5) would change the table silently.
        if arr.dtype.kind not in "iu":
            raise bad(f"{name} holds {arr.dtype} values, not integers")
    if indptr.ndim != 1 or indptr.size != n_users + 1:
        raise bad(f"indptr has {indptr.size} entries for {n_users} users (needs {n_users + 1})")
    if indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise bad("indptr does not start at 0 and rise row by row")
    cells = int(indptr[-1])
    if nnz is not None and cells != int(nnz):
        raise bad(f"indptr ends at {cells} but the file holds {nnz} ratings")
    for name in ("indices", "data", "timestamps"):
        arr = arrays.get(name)
        if arr is not None and arr.shape != (cells,):
            raise bad(f"{name} has {arr.shape[0] if arr.ndim else 0} entries for {cells} ratings")
    if cells:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= n_items:
            raise bad(f"indices hold item {lo if lo < 0 else hi}, outside [0, {n_items})")
    for name, n in (("user_ids", n_users), ("item_ids", n_items)):
        if arrays[name].ndim != 1 or arrays[name].shape[0] != n:
            raise bad(f"{name} has {arrays[name].shape[0]} ids for {n} {name[:4]}s")
    for name, what in (("data", "rating"), ("timestamps", "timestamp")):
        arr = arrays.get(name)
        if arr is None:
            continue
        if arr.dtype.kind != "f":
            raise bad(f"{name} holds {arr.dtype} values, not floating-point {what}s")
        # In slices: a whole-array isfinite would be a temporary of a byte per rating.
        for start in range(0, cells, _SLICE):
            part = arr[start : start + _SLICE]
            if not np.isfinite(part).all():
                first = start + int(np.flatnonzero(~np.isfinite(part))[0])
                raise bad(f"{name} holds a {what} that is NaN or infinite (cell {first})")


def _mapped(path: Path, info: zipfile.ZipInfo, total: int) -> np.ndarray:
    """A read-only memory map of a stored (uncompressed) ``.npy`` member, in place; an
    array that declares more bytes than its member holds is refused (it would map the
    next members' bytes, or fail to map)."""
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"bad zip entry for {info.filename}")
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
        start = info.header_offset + 30 + name_len + extra_len
        fh.seek(start)
        shape, fortran, dtype = read_npy_header(fh, info.filename)
        offset = fh.tell()
    if fortran or len(shape) != 1:
        raise ValueError(f"{info.filename} is not a plain 1-D array")
    held = min(start + member_size(info, total), total) - offset
    if shape[0] * dtype.itemsize > held:
        raise ValueError(
            f"{info.filename} declares {shape[0]} {dtype} values but its member holds "
            f"{max(held, 0)} bytes"
        )
    if shape[0] == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
