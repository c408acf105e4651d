"""The immutable user x item interaction table every model and metric consumes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .vocabulary import UnknownIdError, Vocabulary

DUPLICATE_POLICIES = ("last", "mean", "sum", "error")


class DataError(ValueError):
    """Input data that cannot be turned into interactions; the message names the fault.

    Example:
        >>> import pandas as pd
        >>> try:
        ...     Interactions.from_frame(pd.DataFrame({"u": [1]}), user="u", item="i")
        ... except DataError as err:
        ...     print("missing" in str(err))
        True
    """


def _rows_text(labels: Sequence, limit: int = 5) -> str:
    labels = list(labels)
    shown = ", ".join(repr(x) for x in labels[:limit])
    more = f" (and {len(labels) - limit} more)" if len(labels) > limit else ""
    return f"{shown}{more}"


class Interactions:
    """Observed (user, item, value) cells as a CSR matrix with raw-id vocabularies.

    Rows are users, columns items; values are float32 ratings (or 1.0 / counts for
    implicit data).  Blank cells are *unobserved*, never zero ratings.  Optional
    timestamps are aligned with ``matrix.data``.  Instances are immutable: splits and
    subsets return new objects sharing the same vocabularies.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": ["a", "b", "a"],
        ...                    "rating": [5, 3, 4]})
        >>> data = Interactions.from_frame(df)
        >>> data.shape, data.nnz
        ((2, 2), 3)
        >>> data.matrix.toarray().tolist()
        [[5.0, 3.0], [4.0, 0.0]]
    """

    def __init__(
        self,
        users: Vocabulary,
        items: Vocabulary,
        matrix: sp.csr_matrix,
        timestamps: np.ndarray | None = None,
        *,
        rating_scale: tuple[float, float] | None = None,
        implicit: bool = False,
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
    ):
        matrix = sp.csr_matrix(matrix)
        if matrix.shape != (len(users), len(items)):
            raise ValueError(
                f"matrix shape {matrix.shape} does not match vocabularies "
                f"({len(users)} users, {len(items)} items)"
            )
        if not matrix.has_sorted_indices:
            raise ValueError("matrix must have sorted column indices in each row")
        matrix.data = matrix.data.astype(np.float32, copy=False)
        if timestamps is not None:
            timestamps = np.asarray(timestamps, dtype=np.float64)
            if timestamps.shape != (matrix.nnz,):
                raise ValueError("timestamps must have one value per stored rating")
        for arr in (matrix.data, matrix.indices, matrix.indptr, timestamps):
            if arr is not None:
                arr.flags.writeable = False
        self._users = users
        self._items = items
        self._matrix = matrix
        self._timestamps = timestamps
        self.rating_scale = None if rating_scale is None else tuple(float(x) for x in rating_scale)
        self.implicit = bool(implicit)
        self.item_features = item_features
        self.user_features = user_features

    # ------------------------------------------------------------------ properties
    @property
    def users(self) -> Vocabulary:
        """User vocabulary (raw ``user_id`` <-> row ``user_idx``)."""
        return self._users

    @property
    def items(self) -> Vocabulary:
        """Item vocabulary (raw ``item_id`` <-> column ``item_idx``)."""
        return self._items

    @property
    def matrix(self) -> sp.csr_matrix:
        """The CSR user x item matrix (float32 values, sorted int32 column indices)."""
        return self._matrix

    @property
    def timestamps(self) -> np.ndarray | None:
        """Timestamps (float64 seconds) aligned with ``matrix.data``, or ``None``."""
        return self._timestamps

    @property
    def shape(self) -> tuple[int, int]:
        return self._matrix.shape

    @property
    def n_users(self) -> int:
        return self._matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self._matrix.shape[1]

    @property
    def nnz(self) -> int:
        """Number of observed cells."""
        return int(self._matrix.nnz)

    def __len__(self) -> int:
        return self.nnz

    @property
    def density(self) -> float:
        n = self.n_users * self.n_items
        return self.nnz / n if n else 0.0

    @property
    def user_idx(self) -> np.ndarray:
        """Row index of every stored cell (int32), aligned with :attr:`ratings`."""
        counts = np.diff(self._matrix.indptr)
        return np.repeat(np.arange(self.n_users, dtype=np.int32), counts)

    @property
    def item_idx(self) -> np.ndarray:
        """Column index of every stored cell (int32)."""
        return self._matrix.indices

    @property
    def ratings(self) -> np.ndarray:
        """Value of every stored cell (float32)."""
        return self._matrix.data

    def user_counts(self) -> np.ndarray:
        """Number of observed cells per user."""
        return np.diff(self._matrix.indptr).astype(np.int64)

    def item_counts(self) -> np.ndarray:
        """Number of observed cells per item."""
        return np.bincount(self._matrix.indices, minlength=self.n_items).astype(np.int64)

    def global_mean(self) -> float:
        """Mean of the observed values (0.0 when empty)."""
        return float(self._matrix.data.astype(np.float64).mean()) if self.nnz else 0.0

    def __repr__(self) -> str:
        kind = "interactions" if self.implicit else "ratings"
        extra = []
        if self.rating_scale is not None:
            lo, hi = self.rating_scale
            extra.append(f"scale {lo:g}-{hi:g}")
        if self._timestamps is not None:
            extra.append("timestamps")
        if self.item_features is not None:
            extra.append(f"item features {list(self.item_features.columns)}")
        if self.user_features is not None:
            extra.append(f"user features {list(self.user_features.columns)}")
        tail = (", " + ", ".join(extra)) if extra else ""
        return (
            f"Interactions({self.n_users} users x {self.n_items} items, {self.nnz} {kind}, "
            f"density {self.density:.2%}{tail})"
        )

    def fingerprint(self) -> str:
        """A short SHA-256 digest of ids and cells, stored in model manifests.

        Example:
            >>> import numpy as np
            >>> a = Interactions.from_dense(np.eye(2))
            >>> a.fingerprint() == Interactions.from_dense(np.eye(2)).fingerprint()
            True
        """
        h = hashlib.sha256()
        for arr in (
            self._users.to_array(),
            self._items.to_array(),
            self._matrix.indptr,
            self._matrix.indices,
            self._matrix.data,
        ):
            # memoryview avoids a full copy of each array (.tobytes() would make one).
            h.update(memoryview(np.ascontiguousarray(arr)).cast("B"))
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ conversions
    def to_frame(self) -> pd.DataFrame:
        """Long table with ``user_id``, ``item_id``, ``rating`` (and ``timestamp``).

        Example:
            >>> import numpy as np
            >>> Interactions.from_dense(np.array([[0, 4.0]])).to_frame().values.tolist()
            [[0.0, 1.0, 4.0]]
        """
        out = pd.DataFrame(
            {
                "user_id": self._users.ids[self.user_idx],
                "item_id": self._items.ids[self.item_idx],
                "rating": self.ratings,
            }
        )
        if self._timestamps is not None:
            out["timestamp"] = self._timestamps
        return out

    def subset(self, mask_or_positions) -> Interactions:
        """The cells selected by a boolean mask (or positions) over the stored cells.

        Vocabularies, side tables and the rating scale are shared with ``self``.

        Example:
            >>> import numpy as np
            >>> data = Interactions.from_dense(np.array([[1.0, 2.0], [3.0, 0.0]]))
            >>> data.subset(data.ratings > 1.5).nnz
            2
        """
        sel = np.asarray(mask_or_positions)
        if sel.dtype == bool:
            if sel.shape != (self.nnz,):
                raise ValueError(f"mask must have length {self.nnz}, got {sel.shape}")
            positions = np.flatnonzero(sel)
        else:
            positions = sel.astype(np.int64).ravel()
            if positions.size and (positions.min() < -self.nnz or positions.max() >= self.nnz):
                raise IndexError(f"positions must lie in [-{self.nnz}, {self.nnz})")
            # Negative positions count from the end; sorting them as they are would
            # misplace their cells, and a repeated position would store a cell twice.
            positions = np.sort(np.where(positions < 0, positions + self.nnz, positions))
            if (positions[1:] == positions[:-1]).any():
                raise ValueError("positions must not repeat a cell")
        rows = self.user_idx[positions]
        cols = self._matrix.indices[positions]
        vals = self._matrix.data[positions]
        ts = None if self._timestamps is None else self._timestamps[positions]
        return self._with_cells(rows, cols, vals, ts, presorted=True)

    def _with_cells(self, rows, cols, vals, ts, presorted: bool = False) -> Interactions:
        matrix, ts = _csr_from_cells(rows, cols, vals, ts, self.shape, presorted=presorted)
        return Interactions(
            self._users,
            self._items,
            matrix,
            ts,
            rating_scale=self.rating_scale,
            implicit=self.implicit,
            item_features=self.item_features,
            user_features=self.user_features,
        )

    def item_titles(self, item_ids=None) -> np.ndarray:
        """Titles from the item side table (``title`` column), else the ids as text.

        Example:
            >>> import numpy as np
            >>> Interactions.from_dense(np.eye(2)).item_titles([1]).tolist()
            ['1']
        """
        idx = np.arange(self.n_items) if item_ids is None else self._items.index(item_ids)
        ids = self._items.ids[idx].astype(str)
        if self.item_features is not None and "title" in self.item_features.columns:
            titles = self.item_features["title"].to_numpy()[idx]
            # Items without a title (NaN after alignment) fall back to their id, not "nan".
            return np.where(pd.isna(titles), ids, titles.astype(str))
        return ids

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dense(
        cls,
        matrix,
        missing: float = 0,
        *,
        rating_scale: tuple[float, float] | None = None,
        user_ids=None,
        item_ids=None,
    ) -> Interactions:
        """Build from a dense 2-D array in which ``missing`` marks an unobserved cell.

        Rows and columns are labelled ``0..n-1`` unless ``user_ids`` / ``item_ids`` are given.
        ``missing`` may be ``numpy.nan``.

        Example:
            >>> import numpy as np
            >>> data = Interactions.from_dense(np.array([[5, 0], [0, 1]]))
            >>> data.nnz, data.users.ids.tolist()
            (2, [0, 1])
        """
        arr = np.asarray(matrix, dtype=np.float64)
        if arr.ndim != 2:
            raise DataError(f"from_dense needs a 2-D array, got {arr.ndim} dimensions")
        observed = ~np.isnan(arr) if _is_nan(missing) else arr != missing
        if not np.isfinite(arr[observed]).all():
            bad = np.argwhere(observed & ~np.isfinite(arr))[:5].tolist()
            raise DataError(f"matrix has NaN or infinite ratings at (row, column) {bad}")
        rows, cols = np.nonzero(observed)
        if rows.size == 0:
            raise DataError("matrix has no observed cells")
        users = Vocabulary(np.arange(arr.shape[0]) if user_ids is None else user_ids, "user")
        items = Vocabulary(np.arange(arr.shape[1]) if item_ids is None else item_ids, "item")
        if len(users) != arr.shape[0] or len(items) != arr.shape[1]:
            raise DataError("user_ids / item_ids lengths must match the matrix shape")
        vals = arr[rows, cols]
        _check_scale(
            vals,
            rating_scale,
            lambda pos: [(int(r), int(c)) for r, c in zip(rows[pos], cols[pos], strict=True)],
        )
        csr, _ = _csr_from_cells(rows, cols, vals, None, arr.shape, presorted=True)
        return cls(users, items, csr, None, rating_scale=rating_scale)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        user: str = "user_id",
        item: str = "item_id",
        rating: str | None = "rating",
        timestamp: str | None = None,
        *,
        duplicates: str = "last",
        rating_scale: tuple[float, float] | None = None,
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
        users: Vocabulary | None = None,
        items: Vocabulary | None = None,
        implicit: bool | None = None,
    ) -> Interactions:
        """Build from a long DataFrame with one row per (user, item) observation.

        Args:
            df: the observations.
            user, item: names of the id columns.
            rating: name of the value column; ``None`` for implicit data (every row 1.0,
                or use ``duplicates="sum"`` to count repeats).
            timestamp: optional column of numbers or datetimes.
            duplicates: policy for repeated (user, item) pairs: ``"last"`` keeps the latest
                by timestamp (else the last row), ``"mean"`` averages, ``"sum"`` adds,
                ``"error"`` raises naming the pairs.
            rating_scale: ``(low, high)``; ratings outside it are an error naming the rows.
            item_features, user_features: side tables indexed by raw id.  Ids that have
                features but no interactions are added to the vocabulary (so cold-start
                entities keep their features); ids missing from a table get NaN.
            implicit: whether values are implicit feedback (plays, clicks, counts); by
                default only data without a rating column is implicit.
            users, items: existing vocabularies to share (e.g. a test file read against a
                training set); ids outside them are an error.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"u": ["x", "x"], "i": [1, 1], "r": [2.0, 4.0]})
            >>> Interactions.from_frame(df, "u", "i", "r", duplicates="mean").ratings.tolist()
            [3.0]
        """
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
        if duplicates not in DUPLICATE_POLICIES:
            raise DataError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
        wanted = [c for c in (user, item, rating, timestamp) if c is not None]
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise DataError(
                f"missing column(s) {missing}; the table has columns {list(df.columns)}"
            )
        if len(df) == 0:
            raise DataError("the table is empty: no interactions to build from")
        for col in (user, item):
            nulls = df[col].isna().to_numpy()
            if nulls.any():
                raise DataError(
                    f"column {col!r} has missing ids at rows {_rows_text(df.index[nulls])}"
                )

        if rating is None:
            vals = np.ones(len(df), dtype=np.float64)
        else:
            vals = _numeric_column(df, rating, "rating")
            _check_scale(vals, rating_scale, lambda pos: list(df.index[pos]))
        ts = None
        if timestamp is not None:
            ts = _timestamp_column(df, timestamp)

        item_extra = _feature_ids(item_features, "item")
        user_extra = _feature_ids(user_features, "user")
        u_idx, users = _encode(df[user].to_numpy(), users, "user", user_extra)
        i_idx, items = _encode(df[item].to_numpy(), items, "item", item_extra)

        u_idx, i_idx, vals, ts = _resolve_duplicates(
            u_idx, i_idx, vals, ts, duplicates, df.index, (user, item), users, items
        )
        # _resolve_duplicates returns cells sorted by (user, item) already.
        csr, ts = _csr_from_cells(u_idx, i_idx, vals, ts, (len(users), len(items)), presorted=True)
        return cls(
            users,
            items,
            csr,
            ts,
            rating_scale=rating_scale,
            implicit=(rating is None) if implicit is None else bool(implicit),
            item_features=_align_features(item_features, items),
            user_features=_align_features(user_features, users),
        )

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        user: str | int = "user_id",
        item: str | int = "item_id",
        rating: str | int | None = "rating",
        timestamp: str | int | None = None,
        *,
        sep: str | None = None,
        header: bool = True,
        **kwargs,
    ) -> Interactions:
        """Read a CSV/TSV file (separator sniffed unless given), with or without a header.

        Without a header, ``user``/``item``/``rating``/``timestamp`` are column positions
        (0-based).  Remaining keyword arguments go to :meth:`from_frame`.

        Example:
            >>> import tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "r.tsv")
            >>> _ = open(path, "w").write("1\\t10\\t4\\n2\\t10\\t5\\n")
            >>> Interactions.from_csv(path, 0, 1, 2, header=False).nnz
            2
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no such ratings file: {path}")
        read_kw = {"sep": sep, "engine": "python"} if sep is None else {"sep": sep}
        if header:
            df = pd.read_csv(path, **read_kw)
        else:
            df = pd.read_csv(path, header=None, **read_kw)
            df.columns = list(range(df.shape[1]))
        return cls.from_frame(df, user, item, rating, timestamp, **kwargs)

    @classmethod
    def from_parquet(
        cls,
        path: str | Path,
        user: str = "user_id",
        item: str = "item_id",
        rating: str | None = "rating",
        timestamp: str | None = None,
        **kwargs,
    ) -> Interactions:
        """Read a Parquet file (needs pyarrow, the ``parquet`` extra).

        Example:
            >>> import tempfile, os, pandas as pd
            >>> path = os.path.join(tempfile.mkdtemp(), "r.parquet")
            >>> pd.DataFrame({"user_id": [1], "item_id": [2], "rating": [3.0]}).to_parquet(path)
            >>> Interactions.from_parquet(path).nnz
            1
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no such ratings file: {path}")
        df = pd.read_parquet(path)
        return cls.from_frame(df, user, item, rating, timestamp, **kwargs)

    @classmethod
    def read(cls, path: str | Path, **kwargs) -> Interactions:
        """Read a ratings file by extension: ``.parquet``/``.pq`` or delimited text.

        Example:
            >>> import tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
            >>> _ = open(path, "w").write("user_id,item_id,rating\\n1,2,3\\n")
            >>> Interactions.read(path).nnz
            1
        """
        suffix = Path(path).suffix.lower()
        if suffix in (".parquet", ".pq"):
            return cls.from_parquet(path, **kwargs)
        return cls.from_csv(path, **kwargs)


# ---------------------------------------------------------------------- helpers
def _is_nan(x) -> bool:
    try:
        return bool(np.isnan(x))
    except TypeError:
        return False


def _numeric_column(df: pd.DataFrame, col: str, what: str) -> np.ndarray:
    raw = df[col]
    if raw.dtype == bool:
        raw = raw.astype(np.float64)
    nums = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad_type = np.isnan(nums) & raw.notna().to_numpy()
    if bad_type.any():
        first = raw[bad_type].iloc[0]
        raise DataError(
            f"column {col!r} has non-numeric {what}s (e.g. {first!r}) at rows "
            f"{_rows_text(df.index[bad_type])}"
        )
    bad = ~np.isfinite(nums)
    if bad.any():
        raise DataError(
            f"column {col!r} has missing (NaN) or infinite {what}s at rows "
            f"{_rows_text(df.index[bad])}"
        )
    return nums


def _timestamp_column(df: pd.DataFrame, col: str) -> np.ndarray:
    raw = df[col]
    if pd.api.types.is_datetime64_any_dtype(raw):
        if raw.isna().any():
            rows = df.index[raw.isna().to_numpy()]
            raise DataError(f"column {col!r} has missing timestamps at rows {_rows_text(rows)}")
        # Aware times become naive UTC: subtracting the naive epoch from aware ones fails.
        as_utc = raw.dt.tz_convert("UTC").dt.tz_localize(None) if raw.dt.tz is not None else raw
        return (as_utc - pd.Timestamp(0)).dt.total_seconds().to_numpy(np.float64)
    return _numeric_column(df, col, "timestamp")


def _check_scale(vals: np.ndarray, scale, where) -> None:
    if scale is None:
        return
    lo, hi = scale
    if not lo < hi:
        raise DataError(f"rating_scale must be (low, high) with low < high, got {scale}")
    out = (vals < lo) | (vals > hi)
    if out.any():
        pos = np.flatnonzero(out)
        raise DataError(
            f"{pos.size} rating(s) outside the scale [{lo:g}, {hi:g}] "
            f"(e.g. {vals[pos[0]]:g}) at rows {_rows_text(where(pos))}"
        )


def _feature_ids(table: pd.DataFrame | None, what: str) -> np.ndarray | None:
    if table is None:
        return None
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"{what}_features must be a DataFrame indexed by {what} id")
    if not table.index.is_unique:
        dup = table.index[table.index.duplicated()].unique()[:5].tolist()
        raise DataError(f"{what}_features has repeated {what} ids: {dup}")
    return table.index.to_numpy()


def _encode(raw: np.ndarray, vocab: Vocabulary | None, what: str, extra) -> tuple:
    if vocab is not None:
        idx = vocab.lookup(raw)
        if (idx < 0).any():
            raise UnknownIdError(what, pd.unique(raw[idx < 0]).tolist())
        return idx.astype(np.int32), vocab
    codes, uniques = pd.factorize(raw, sort=True)
    ids = np.asarray(uniques)
    if extra is not None and len(extra):
        tmp = Vocabulary(ids, what)
        extra = np.asarray(extra)
        new = extra[tmp.lookup(extra) < 0]
        if new.size:
            ids = np.concatenate([ids.astype(object), new.astype(object)])
    return codes.astype(np.int32), Vocabulary(ids, what)


def _align_features(table: pd.DataFrame | None, vocab: Vocabulary) -> pd.DataFrame | None:
    if table is None:
        return None
    pos = Vocabulary(table.index.to_numpy(), vocab.name).lookup(vocab.ids)
    out = table.iloc[np.where(pos >= 0, pos, 0)].copy()
    if (pos < 0).any():
        # Integer columns become nullable so that a missing row does not turn 24 into 24.0.
        for col in out.columns:
            if pd.api.types.is_integer_dtype(out[col]) and not isinstance(
                out[col].dtype, pd.api.extensions.ExtensionDtype
            ):
                out[col] = out[col].astype("Int64")
        out.iloc[np.flatnonzero(pos < 0)] = pd.NA
    out.index = pd.Index(vocab.ids, name=f"{vocab.name}_id")
    return out


def _resolve_duplicates(u, i, vals, ts, policy, row_labels, cols, users, items):
    order = np.arange(u.size)
    keys = (order, ts, i, u) if (ts is not None and policy == "last") else (order, i, u)
    perm = np.lexsort(keys)
    u, i, vals = u[perm], i[perm], vals[perm]
    ts = None if ts is None else ts[perm]
    same_as_next = (u[1:] == u[:-1]) & (i[1:] == i[:-1])
    if not same_as_next.any():
        return u, i, vals, ts
    if policy == "error":
        pos = np.flatnonzero(same_as_next)
        pairs = list(
            zip(users.ids[u[pos[:5]]].tolist(), items.ids[i[pos[:5]]].tolist(), strict=True)
        )
        rows = row_labels[perm[np.concatenate([pos, pos + 1])]]
        raise DataError(
            f"{pos.size} repeated ({cols[0]}, {cols[1]}) pair(s), e.g. {pairs}, at rows "
            f"{_rows_text(sorted(set(rows.tolist())))}; pass duplicates='last', 'mean' or 'sum'"
        )
    starts = np.flatnonzero(np.concatenate([[True], ~same_as_next]))
    ends = np.concatenate([starts[1:], [u.size]]) - 1
    if policy == "last":
        keep_vals = vals[ends]
    else:
        sums = np.add.reduceat(vals, starts)
        keep_vals = sums / (ends - starts + 1) if policy == "mean" else sums
    keep_ts = (
        None if ts is None else (ts[ends] if policy == "last" else np.maximum.reduceat(ts, starts))
    )
    return u[starts], i[starts], keep_vals, keep_ts


def _csr_from_cells(rows, cols, vals, ts, shape, presorted: bool = False):
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int32)
    vals = np.asarray(vals, dtype=np.float32)
    if not presorted:
        perm = np.lexsort((cols, rows))
        rows, cols, vals = rows[perm], cols[perm], vals[perm]
        ts = None if ts is None else np.asarray(ts)[perm]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    csr = sp.csr_matrix((vals, cols, indptr), shape=shape)
    # Cells are unique and sorted by construction; saying so stops scipy from
    # re-sorting (and from summing what it would take for duplicates).
    csr.has_canonical_format = True
    return csr, (None if ts is None else np.asarray(ts, dtype=np.float64))
