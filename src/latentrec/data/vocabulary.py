"""Raw id <-> dense row index maps shared by data, models and model files."""

from __future__ import annotations

from collections import abc

import numpy as np
import pandas as pd


class UnknownIdError(KeyError, ValueError):
    """Raised when raw ids are not in a vocabulary.

    It is both a ``KeyError`` and a ``ValueError`` so either ``except`` works.

    Example:
        >>> vocab = Vocabulary(["a", "b"], name="item")
        >>> try:
        ...     vocab.index(["c"])
        ... except UnknownIdError as err:
        ...     print(err.ids)
        ['c']
        >>> print(UnknownIdError("item", [99], hint="try another"))
        unknown item id(s): 99; try another
    """

    def __init__(self, name: str, ids, hint: str | None = None, *, where: str | None = None):
        self.name = name
        self.ids = list(ids)
        # Where the ids were met, e.g. "column 'user_id', line 7 of ratings.csv".
        self.where = where
        shown = ", ".join(repr(i) for i in self.ids[:10])
        more = f" and {len(self.ids) - 10} more" if len(self.ids) > 10 else ""
        at = f" ({where})" if where else ""
        # The hint says what the caller can do instead (e.g. predict's unknown="baseline").
        tail = f"; {hint}" if hint else ""
        super().__init__(f"unknown {name} id(s): {shown}{more}{at}{tail}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


def _normalise_labels(values) -> np.ndarray:
    """Labels as an int64 array when they are all integers, else as Python strings."""
    arr = np.asarray(values)
    if arr.dtype.kind == "U" and not isinstance(values, np.ndarray):
        # NumPy would turn a NaN in a list of strings into the string "nan".
        arr = np.asarray(values, dtype=object)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "b":
        raise TypeError("ids must be integers or strings, not booleans")
    if arr.dtype.kind == "f":
        if arr.size and not np.all(np.isfinite(arr)):
            raise ValueError("ids contain NaN or infinite values")
        if np.all(arr == np.round(arr)):  # also an empty array
            return arr.astype(np.int64)
        raise TypeError("ids must be integers or strings; got non-integral floats")
    if (
        arr.dtype.kind == "O"
        and arr.size
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr.ravel())
    ):
        return arr.astype(np.int64)
    out = np.empty(arr.shape, dtype=object)
    flat = arr.ravel()
    for k, v in enumerate(flat):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            raise ValueError("ids contain missing values (None/NaN)")
        out.ravel()[k] = str(v)
    return out


class Vocabulary:
    """An ordered set of raw ids; position in it is the internal ``*_idx``.

    Integer ids stay int64; anything else is kept as ``str``.  Lookups are vectorised
    through a pandas ``Index``.

    Example:
        >>> vocab = Vocabulary([10, 20, 30], name="user")
        >>> vocab.index([30, 10]).tolist()
        [2, 0]
        >>> vocab.ids.tolist()
        [10, 20, 30]
    """

    __slots__ = ("_ids", "_index", "name")

    def __init__(self, ids, name: str = "id"):
        ids = _normalise_labels(ids)
        if ids.ndim != 1:
            raise ValueError(f"{name} ids must be one-dimensional")
        index = pd.Index(ids, dtype=ids.dtype if ids.dtype != object else object)
        if not index.is_unique:
            dup = index[index.duplicated()].unique()[:5].tolist()
            raise ValueError(f"{name} ids must be unique; repeated: {dup}")
        self._ids = ids
        self._ids.flags.writeable = False
        self._index = index
        self.name = name

    @property
    def ids(self) -> np.ndarray:
        """The raw ids, in index order (read-only)."""
        return self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, raw_id) -> bool:
        return self.lookup([raw_id])[0] >= 0

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and np.array_equal(self._ids, other._ids)

    def __hash__(self):  # pragma: no cover - vocabularies are not dict keys
        raise TypeError("Vocabulary is unhashable")

    def __repr__(self) -> str:
        return f"Vocabulary({self.name}, n={len(self)})"

    @property
    def is_integer(self) -> bool:
        """Whether the raw ids are integers."""
        return self._ids.dtype.kind == "i"

    def lookup(self, raw_ids) -> np.ndarray:
        """Indices of ``raw_ids`` with -1 for ids not in the vocabulary.

        Text is found as the loaders store it, without surrounding whitespace (``" u1"``
        is ``"u1"``, as ``" 1 "`` is the integer id 1), unless the vocabulary holds the
        id exactly as given (data read with ``strip_ids=False``).

        Example:
            >>> Vocabulary(["x", "y"]).lookup(["y", "z", " x "]).tolist()
            [1, -1, 0]
        """
        if isinstance(raw_ids, (set, frozenset, abc.KeysView, abc.ValuesView, abc.Iterator)):
            raw_ids = list(raw_ids)  # NumPy would make one object of them
        arr = np.atleast_1d(np.asarray(raw_ids))
        if arr.size == 0:
            return np.empty(0, dtype=np.int32)
        if arr.dtype.kind == "b":
            # True would be found as the id 1: a boolean mask is no list of ids.
            raise TypeError(
                f"{self.name} ids are integers or strings, not booleans; to pick "
                f"{self.name}s by a mask, give their ids (e.g. model.{self.name}s_.ids[mask])"
            )
        if self.is_integer:
            keys = _integer_keys(arr)
            if keys is not None:
                return self._index.get_indexer(keys).astype(np.int32)
            found = np.full(arr.shape, -1, dtype=np.int32)
            # Mixed input (e.g. "12" typed at a command line, or 12.0): convert one by one.
            conv = [_as_int_or_none(v) for v in arr.ravel()]
            valid = np.array([c is not None for c in conv], dtype=bool)
            if valid.any():
                vals = np.array([c for c in conv if c is not None], dtype=np.int64)
                found[valid] = self._index.get_indexer(vals)
            return found
        if arr.dtype.kind == "O":
            keys = np.array([str(v) for v in arr], dtype=object)
        else:
            keys = arr.astype(str).astype(object)
        found = self._index.get_indexer(keys).astype(np.int32)
        # The loaders strip ids (strip_ids=True), so " u1" at a lookup means "u1": a
        # model on "u1" answered recommend(" u1") with the popularity list.
        retry = np.flatnonzero(found < 0)
        if retry.size:
            stripped = np.array([keys[k].strip() for k in retry], dtype=object)
            changed = stripped != keys[retry]
            if changed.any():
                found[retry[changed]] = self._index.get_indexer(stripped[changed])
        return found

    def index(self, raw_ids) -> np.ndarray:
        """Indices of ``raw_ids``; raises :class:`UnknownIdError` naming any unknown id.

        Example:
            >>> Vocabulary(["x", "y"]).index(["y"]).tolist()
            [1]
        """
        idx = self.lookup(raw_ids)
        if (idx < 0).any():
            raw = np.atleast_1d(np.asarray(raw_ids, dtype=object))
            raise UnknownIdError(self.name, raw[idx < 0].tolist())
        return idx

    def extend(self, new_ids) -> Vocabulary:
        """A new vocabulary: these ids followed by ``new_ids`` (which must be new).

        The ids keep their kind: a vocabulary of integer ids accepts only integers.

        Example:
            >>> Vocabulary([10, 20], name="user").extend([5]).ids.tolist()
            [10, 20, 5]
        """
        new = _normalise_labels(np.asarray(new_ids))
        if self.is_integer and new.dtype.kind != "i":
            raise TypeError(
                f"the {self.name} ids are integers; got non-integer new ids {new[:5].tolist()}"
            )
        if not self.is_integer:
            new = np.array([str(v) for v in new], dtype=object)
        if (self.lookup(new) >= 0).any() or pd.Index(new).has_duplicates:
            raise ValueError(f"extend takes new {self.name} ids only, got {new[:5].tolist()}")
        return Vocabulary(np.concatenate([self.ids, new]), name=self.name)

    def to_array(self) -> np.ndarray:
        """Ids as a plain (pickle-free) NumPy array: int64 or fixed-width unicode."""
        if self.is_integer:
            return self._ids
        return self._ids.astype(str)

    @classmethod
    def from_array(cls, arr: np.ndarray, name: str = "id") -> Vocabulary:
        """Inverse of :meth:`to_array`.

        Example:
            >>> v = Vocabulary(["a", "b"], name="item")
            >>> Vocabulary.from_array(v.to_array(), name="item") == v
            True
        """
        arr = np.asarray(arr)
        if arr.dtype.kind == "U":
            arr = arr.astype(object)
        return cls(arr, name=name)


_INT64 = np.iinfo(np.int64)


def _as_int_or_none(value):
    as_int = None
    if isinstance(value, (int, np.integer)):
        as_int = int(value)
    elif isinstance(value, str):
        try:
            as_int = int(value)  # exact, unlike float(), for ids above 2**53
        except ValueError:
            pass
    if as_int is None:
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            return None
        if not np.isfinite(as_float) or as_float != int(as_float):
            return None
        as_int = int(as_float)
    # Anything outside int64 cannot be in the vocabulary (and would overflow the lookup).
    return as_int if _INT64.min <= as_int <= _INT64.max else None


def _integer_keys(arr: np.ndarray):
    """``arr`` as int64 when that conversion is exact, else ``None``."""
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind in "fO":
        try:
            with np.errstate(invalid="ignore"):  # NaN / out-of-range floats: checked below
                as_int = arr.astype(np.int64)
        except (TypeError, ValueError, OverflowError):
            return None
        try:
            same = bool(np.all(as_int == arr.astype(np.float64)))
        except (TypeError, ValueError):
            return None
        return as_int if same else None
    return None
