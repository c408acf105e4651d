"""Reading ``.npy`` members (of model files and ``.lrdata`` files) safely, from any thread.

Owns the one lock every ``.npy`` header parse in latentrec takes.  NumPy parses each
header with ``ast.literal_eval``, and CPython 3.11's AST builder keeps its recursion depth
in state shared by all threads: two threads reading files at once (a service's reload
beside a worker's refresh, two requests loading data) can fail with "SystemError: AST
constructor recursion depth mismatch" (CPython gh-106905).  Only the header needs the
lock; the array's bytes are read outside it, so a long read blocks no other load.

The readers here never unpickle (an object array is refused before any of it is read)
and never trust the sizes a header declares: an array that says it holds more bytes than
its member has is refused before memory is allocated for it, so a damaged or hostile
file costs an error, not terabytes.
"""

from __future__ import annotations

import math
import threading
import tokenize
import zipfile

import numpy as np

__all__ = ["PickledArrayError", "member_size", "read_npy", "read_npy_header"]

_HEADER_LOCK = threading.Lock()
_CHUNK = 1 << 24  # bytes per read: bounded temporaries when the source copies (zip members)
_DEFLATE_RATIO = 1032  # the most that deflate can expand: 258 bytes from 2 bits


class PickledArrayError(ValueError):
    """An ``.npy`` member holds Python objects (a pickle), which latentrec never loads."""


def member_size(info: zipfile.ZipInfo, archive_size: int) -> int:
    """The bytes a zip member can really hold: its declared size, but never more than the
    archive holds (stored members) or than deflate can expand its compressed bytes to.

    The zip directory's sizes are as easy to damage or forge as any other byte, and the
    readers here allocate what a header declares up to this bound.  A member compressed
    any other way is a ValueError (latentrec writes stored members; NumPy's
    ``savez_compressed`` deflates).

    Example:
        >>> info = zipfile.ZipInfo("x.npy")
        >>> info.file_size = info.compress_size = 10**15  # a forged size
        >>> member_size(info, archive_size=4096)
        4096
    """
    if info.compress_type == zipfile.ZIP_STORED:
        return min(info.file_size, archive_size)
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return min(info.file_size, min(info.compress_size, archive_size) * _DEFLATE_RATIO)
    raise ValueError(f"{info.filename} is compressed in a way latentrec never writes")


def read_npy_header(fh, name: str = "array") -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of the ``.npy`` data at ``fh``'s position, which
    is left at the first byte of the array; parsed under the shared lock.

    A ValueError names ``name`` for a header that is not one NumPy writes (including the
    object dtype of a pickle, :class:`PickledArrayError`).

    Example:
        >>> import io
        >>> buf = io.BytesIO()
        >>> np.lib.format.write_array(buf, np.zeros((2, 3), np.float32))
        >>> _ = buf.seek(0)
        >>> read_npy_header(buf)
        ((2, 3), False, dtype('float32'))
    """
    version = np.lib.format.read_magic(fh)
    if version not in ((1, 0), (2, 0)):  # 3.0: structured dtypes with non-ASCII names
        raise ValueError(f"{name} is in .npy format {version}, which latentrec never writes")
    try:
        with _HEADER_LOCK:
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    # A damaged header that NumPy retries as a Python 2 header goes through tokenize,
    # which raises its own TokenError (or SyntaxError) rather than a ValueError.
    except (SyntaxError, tokenize.TokenError) as err:
        raise ValueError(f"{name} has a damaged header ({err})") from None
    if dtype.hasobject:
        raise PickledArrayError(
            f"{name} is a pickled array of Python objects, which latentrec never loads"
        )
    if any(n < 0 for n in shape):
        raise ValueError(f"{name} declares a negative size {shape}")
    return shape, fortran, dtype


def read_npy(fh, size: int | None = None, name: str = "array") -> np.ndarray:
    """The array stored as ``.npy`` at ``fh`` (a binary file object), read in full.

    ``size`` is the member's length in bytes, when known: an array that declares more
    bytes than that is refused before anything is allocated.  A short read (a truncated
    file) is an ``EOFError``; a bad header a ``ValueError`` naming ``name``.

    Example:
        >>> import io
        >>> buf = io.BytesIO()
        >>> np.lib.format.write_array(buf, np.arange(4).reshape(2, 2))
        >>> _ = buf.seek(0)
        >>> read_npy(buf, size=len(buf.getvalue())).tolist()
        [[0, 1], [2, 3]]
    """
    shape, fortran, dtype = read_npy_header(fh, name)
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if size is not None and nbytes > size - fh.tell():
        raise ValueError(
            f"{name} declares {shape} {dtype} values ({nbytes} bytes) but its member holds "
            f"{max(size - fh.tell(), 0)} bytes"
        )
    # np.ndarray, not np.empty: the latter mishandles zero-width string dtypes.
    flat = np.ndarray(count, dtype=dtype)
    if nbytes:
        view = memoryview(flat.view(np.uint8))
        done = 0
        while done < nbytes:
            got = fh.readinto(view[done : min(done + _CHUNK, nbytes)])
            if not got:
                raise EOFError(f"{name} ends after {done} of its {nbytes} bytes (truncated)")
            done += got
    if fortran:
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)
