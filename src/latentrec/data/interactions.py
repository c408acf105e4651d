"""The immutable user x item interaction table every model and metric consumes."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .build import (
    DUPLICATE_POLICIES,
    ON_BAD_ROWS,
    align_side_table,
    as_series,
    assemble,
    check_names,
    check_options,
    csr_from_cells,
    default_duplicates,
    frame_columns,
    from_cells,
    is_nan,
    keys,
)
from .ingest import NOT_SHAREABLE, lean_batches, lean_frame, plain_options
from .lrdata import SUFFIX as LRDATA_SUFFIX
from .lrdata import read_lrdata, write_lrdata
from .netflix import is_netflix_file, netflix_options, read_netflix_as
from .readers import (
    DEFAULT_ITEM,
    DEFAULT_USER,
    DefaultColumn,
    default_columns,
    delimited_batches,
    header_fields,
    parquet_batches,
    parquet_columns,
    read_delimited,
    read_parquet_frame,
)
from .report import DataError, LoadReport, Places
from .vocabulary import Vocabulary

__all__ = ["DUPLICATE_POLICIES", "ON_BAD_ROWS", "DataError", "Interactions", "LoadReport"]


_SLICE = 1 << 22


def pairwise_sum64(values: np.ndarray) -> float:
    """``values.astype(numpy.float64).sum()``, bit for bit, without the float64 copy.

    NumPy sums a contiguous float64 array pairwise, halving it (at a multiple of 8)
    until a piece is short; halving the same way here and converting only the pieces
    gives the same additions in the same order.

    Example:
        >>> x = np.random.default_rng(0).random(3 * _SLICE + 5, dtype=np.float32)
        >>> bool(pairwise_sum64(x) == x.astype(np.float64).sum())
        True
    """
    n = values.shape[0]
    if n <= _SLICE:
        return float(np.add.reduce(values.astype(np.float64)))
    half = n // 2
    half -= half % 8
    return pairwise_sum64(values[:half]) + pairwise_sum64(values[half:])


class Interactions:
    """Observed (user, item, value) cells as a CSR matrix with raw-id vocabularies.

    Rows are users, columns items; values are float32 ratings (or 1.0 / counts for
    implicit data).  Blank cells are *unobserved*, never zero ratings.  Optional
    timestamps are aligned with ``matrix.data``.  Instances are immutable: splits and
    subsets return new objects sharing the same vocabularies.  ``load_report`` (a
    :class:`~latentrec.data.report.LoadReport`) says what the constructor or reader did:
    rows read, loaded, merged as duplicates, rejected with their reasons, ids stripped.

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
        load_report: LoadReport | None = None,
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
        # Row i must describe id i: a table in another order is put in it, by id.
        self.item_features = align_side_table(item_features, items, "item")
        self.user_features = align_side_table(user_features, users, "user")
        # What the reader or constructor did (rows read, loaded, merged, rejected); None
        # for tables derived from others (subsets, splits), which read nothing.
        self.load_report = load_report

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
        # In slices: bincount casts int32 indices to int64, a copy as large as the data.
        out = np.zeros(self.n_items, dtype=np.int64)
        indices = self._matrix.indices
        for start in range(0, indices.size, _SLICE):
            out += np.bincount(indices[start : start + _SLICE], minlength=self.n_items)
        return out

    def global_mean(self) -> float:
        """Mean of the observed values (0.0 when empty)."""
        return float(pairwise_sum64(self._matrix.data) / self.nnz) if self.nnz else 0.0

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
            if sel.size and sel.dtype.kind not in "iu":
                # astype(int64) would read 0.5 as cell 0 and "3" as cell 3, silently.
                first = sel.ravel()[0]
                first = first.item() if isinstance(first, np.generic) else first
                raise TypeError(
                    f"positions must be integers (or a boolean mask), got {sel.dtype} "
                    f"values such as {first!r}"
                )
            positions = sel.astype(np.int64).ravel()
            if positions.size and (positions.min() < -self.nnz or positions.max() >= self.nnz):
                raise IndexError(f"positions must lie in [-{self.nnz}, {self.nnz})")
            # Negative positions count from the end; sorting them as they are would
            # misplace their cells, and a repeated position would store a cell twice.
            positions = np.sort(np.where(positions < 0, positions + self.nnz, positions))
            if (positions[1:] == positions[:-1]).any():
                hint = ""
                if sel.size == self.nnz and np.isin(sel, (0, 1)).all():
                    hint = "; a mask of 0s and 1s is positions here: pass it as booleans"
                raise ValueError(f"positions must not repeat a cell{hint}")
        rows = self.user_idx[positions]
        cols = self._matrix.indices[positions]
        vals = self._matrix.data[positions]
        ts = None if self._timestamps is None else self._timestamps[positions]
        return self._with_cells(rows, cols, vals, ts, presorted=True)

    def _with_cells(self, rows, cols, vals, ts, presorted: bool = False) -> Interactions:
        matrix, ts = csr_from_cells(rows, cols, vals, ts, self.shape, presorted=presorted)
        out = Interactions(
            self._users,
            self._items,
            matrix,
            ts,
            rating_scale=self.rating_scale,
            implicit=self.implicit,
        )
        return out._sharing_tables_of(self)

    def _sharing_tables_of(self, other: Interactions) -> Interactions:
        """``self`` given ``other``'s side tables, which are in the order of the same
        vocabularies already: checking them again compared every id, half a second and
        50 MiB on each split or subset of data with 10^6 text item ids."""
        if self._items is other._items:
            self.item_features = other.item_features
        if self._users is other._users:
            self.user_features = other.user_features
        return self

    #: The fields :meth:`replace` takes: the constructor's arguments.
    FIELDS = (
        "users",
        "items",
        "matrix",
        "timestamps",
        "rating_scale",
        "implicit",
        "item_features",
        "user_features",
        "load_report",
    )

    def replace(self, **fields) -> Interactions:
        """A new table with the given fields changed, like :func:`dataclasses.replace`.

        ``fields`` are constructor arguments (:data:`FIELDS`); every one not given is
        taken from ``self``, ``load_report`` included (pass ``load_report=None`` for a
        table that read nothing).  The result is checked as construction checks it: a
        matrix whose shape does not match the vocabularies, or timestamps that do not
        match its cells, or a ``rating_scale`` that leaves out stored ratings, is a
        ``ValueError``; an unknown field is a ``TypeError`` naming it.  ``self`` is not
        changed.

        Example:
            >>> import numpy as np, pandas as pd
            >>> data = Interactions.from_dense(np.eye(2))
            >>> titles = pd.DataFrame({"title": ["a", "b"]}, index=data.items.ids)
            >>> with_titles = data.replace(item_features=titles)
            >>> with_titles.item_titles().tolist(), data.item_features is None
            (['a', 'b'], True)
            >>> data.replace(implicit=True).implicit
            True
        """
        unknown = sorted(set(fields) - set(self.FIELDS))
        if unknown:
            raise TypeError(
                f"Interactions.replace got unknown field(s) {unknown}; the fields are "
                f"{list(self.FIELDS)}"
            )
        current = {
            "users": self._users,
            "items": self._items,
            "matrix": self._matrix,
            "timestamps": self._timestamps,
            "rating_scale": self.rating_scale,
            "implicit": self.implicit,
            "item_features": self.item_features,
            "user_features": self.user_features,
            "load_report": self.load_report,
        }
        merged = {**current, **fields}
        if merged["rating_scale"] is not None and {"rating_scale", "matrix"} & set(fields):
            # A scale given here must hold the ratings: a model would clip to it and
            # refuse fold-in values the data itself holds.
            _checked_scale(merged["rating_scale"], sp.csr_matrix(merged["matrix"]))
        # A table not given is ours, in our order: it is handed on, not checked again.
        kept = {name for name in ("item_features", "user_features") if name not in fields}
        for name in kept:
            merged[name] = None
        out = type(self)(
            merged.pop("users"),
            merged.pop("items"),
            merged.pop("matrix"),
            merged.pop("timestamps"),
            **merged,
        )
        for name in kept:
            side = name.split("_")[0]
            vocab = out._items if side == "item" else out._users
            same = vocab is (self._items if side == "item" else self._users)
            table = current[name]
            # Onto new vocabularies (replace(items=...)) it is put in their order, by id.
            setattr(out, name, table if same else align_side_table(table, vocab, side))
        return out

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

        ``missing`` is 0 by default (a 0 is a blank, not a rating); pass
        ``missing=numpy.nan`` when 0 is a rating and blanks are NaN (a pivot table's).
        Rows and columns are labelled ``0..n-1`` unless ``user_ids`` / ``item_ids`` are
        given; a DataFrame (``df.pivot(index="user_id", columns="item_id",
        values="rating")``) gives its index and columns as the ids.  A
        ``scipy.sparse`` matrix is accepted too: its unstored cells (and, with the default
        ``missing=0``, its stored zeros) are blank; see :meth:`from_sparse`.

        Example:
            >>> import numpy as np
            >>> data = Interactions.from_dense(np.array([[5, 0], [0, 1]]))
            >>> data.nnz, data.users.ids.tolist()
            (2, [0, 1])
            >>> Interactions.from_dense(np.array([[0, np.nan]]), missing=np.nan).nnz
            1
        """
        if sp.issparse(matrix):
            if is_nan(missing) or missing != 0:
                raise DataError(
                    f"a sparse matrix's blank cells are its unstored ones, so missing must "
                    f"be 0, got {missing!r}; use Interactions.from_sparse(matrix, "
                    "explicit_zeros=True) to keep stored zeros as observations"
                )
            return cls.from_sparse(
                matrix, rating_scale=rating_scale, user_ids=user_ids, item_ids=item_ids
            )
        if isinstance(matrix, pd.DataFrame):
            # A pivot table's rows and columns are labelled by the ids: numbered 0..n-1
            # instead, user 1 of MovieLens would be row 0's label and predict(1, 50) the
            # guess for another user and another film.
            user_ids = matrix.index.to_numpy() if user_ids is None else user_ids
            item_ids = matrix.columns.to_numpy() if item_ids is None else item_ids
        try:
            arr = np.asarray(matrix, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise DataError(
                f"from_dense needs a rectangular 2-D array of numbers; {type(matrix).__name__} "
                f"cannot be read as one ({err})"
            ) from None
        if arr.ndim != 2:
            raise DataError(f"from_dense needs a 2-D array, got {arr.ndim} dimensions")
        try:
            observed = ~np.isnan(arr) if is_nan(missing) else arr != float(missing)
        except (TypeError, ValueError):
            raise DataError(f"missing must be a number or NaN, got {missing!r}") from None
        rows, cols = np.nonzero(observed)
        if not is_nan(missing) and np.isnan(arr).any():
            where = np.argwhere(np.isnan(arr))[:5].tolist()
            raise DataError(
                f"matrix has NaN or infinite ratings at (row, column) {where}: NaN; if NaN "
                "marks a blank"
                " (as in a pivot table), pass missing=numpy.nan"
            )
        return from_cells(
            cls,
            rows,
            cols,
            arr[rows, cols],
            arr.shape,
            source="a dense matrix",
            rating_scale=rating_scale,
            user_ids=user_ids,
            item_ids=item_ids,
        )

    @classmethod
    def from_sparse(
        cls,
        matrix,
        *,
        explicit_zeros: bool = False,
        rating_scale: tuple[float, float] | None = None,
        user_ids=None,
        item_ids=None,
    ) -> Interactions:
        """Build from a ``scipy.sparse`` matrix (users x items): stored cells are observed.

        Stored zeros are blanks by default, as scipy treats them (and as
        ``from_dense(matrix.toarray())`` would); with ``explicit_zeros=True`` they are
        observations of value 0.  A COO matrix may store one cell several times: the
        values are added (scipy's rule), and the report counts them as merged; with a
        ``rating_scale`` that is refused, naming the cells, as ``duplicates="sum"`` is in
        :meth:`from_arrays` (a sum of ratings is no rating).  Rows and
        columns are labelled ``0..n-1`` unless ``user_ids`` / ``item_ids`` are given.

        Example:
            >>> import numpy as np, scipy.sparse as sp
            >>> m = sp.csr_matrix((np.array([0.0, 4.0]), (np.array([0, 1]), np.array([1, 0]))))
            >>> Interactions.from_sparse(m).nnz
            1
            >>> Interactions.from_sparse(m, explicit_zeros=True).nnz
            2
        """
        if not sp.issparse(matrix):
            raise DataError(
                f"from_sparse needs a scipy.sparse matrix, got {type(matrix).__name__}; "
                "use from_dense for arrays"
            )
        if len(matrix.shape) != 2:
            raise DataError(f"from_sparse needs a 2-D matrix, got shape {matrix.shape}")
        coo = matrix.tocoo()
        try:
            vals = np.asarray(coo.data, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"the matrix holds {coo.data.dtype} values, not numbers") from None
        rows = np.asarray(coo.row, dtype=np.int64)
        cols = np.asarray(coo.col, dtype=np.int64)
        notes = ()
        if not explicit_zeros:
            zero = vals == 0
            if zero.any():
                notes = (f"{int(zero.sum())} stored zero(s) read as blank (explicit_zeros=False)",)
                rows, cols, vals = rows[~zero], cols[~zero], vals[~zero]
        return from_cells(
            cls,
            rows,
            cols,
            vals,
            coo.shape,
            source="a sparse matrix",
            rating_scale=rating_scale,
            user_ids=user_ids,
            item_ids=item_ids,
            notes=notes,
        )

    @classmethod
    def from_arrays(
        cls,
        users,
        items,
        values=None,
        *,
        timestamps=None,
        duplicates: str | None = None,
        rating_scale: tuple[float, float] | None = None,
        implicit: bool | None = None,
        strip_ids: bool = True,
        on_bad_rows: str = "error",
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
    ) -> Interactions:
        """Build from parallel 1-D arrays: one (user, item, value) observation per position.

        ``values=None`` is implicit data (every observation 1.0, repeated ones added up
        unless ``duplicates`` says otherwise).  The options mean what they mean in
        :meth:`from_frame`; messages name bad rows by their 0-based position (``rows 5``)
        and the argument (``column 'users'``).

        Example:
            >>> data = Interactions.from_arrays(["ann", "bob", "ann"], [1, 2, 2], [5, 3, 4])
            >>> data.shape, data.ratings.tolist()
            ((2, 2), [5.0, 4.0, 3.0])
            >>> Interactions.from_arrays([1, 1], ["x", "x"]).ratings.tolist()
            [2.0]
            >>> Interactions.from_arrays([1, 1], ["x", "x"], duplicates="last").ratings.tolist()
            [1.0]
        """
        duplicates = default_duplicates(duplicates, values, implicit)
        names = ("users", "items", "values", "timestamps")
        given = dict(zip("uirt", (users, items, values, timestamps), strict=True))
        series = {
            key: as_series(arr, name, ids=key in "ui")
            for (key, arr), name in zip(given.items(), names, strict=True)
            if arr is not None or key in "ui"
        }
        lengths = {
            name: len(series[key]) for key, name in zip("uirt", names, strict=True) if key in series
        }
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
            raise DataError(f"the arrays must have one value per observation; {shown}")
        frame = pd.DataFrame(series)
        return assemble(
            cls,
            frame,
            (
                "users",
                "items",
                "values" if values is not None else None,
                "timestamps" if timestamps is not None else None,
            ),
            Places.rows(frame.index),
            source="arrays",
            duplicates=duplicates,
            rating_scale=rating_scale,
            implicit=implicit,
            strip_ids=strip_ids,
            on_bad_rows=on_bad_rows,
            item_features=item_features,
            user_features=user_features,
        )

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        user: str = "user_id",
        item: str = "item_id",
        rating: str | None = "rating",
        timestamp: str | None = None,
        *,
        duplicates: str | None = None,
        rating_scale: tuple[float, float] | None = None,
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
        users: Vocabulary | None = None,
        items: Vocabulary | None = None,
        implicit: bool | None = None,
        strip_ids: bool = True,
        on_bad_rows: str = "error",
        copy: bool = True,
    ) -> Interactions:
        """Build from a long DataFrame with one row per (user, item) observation.

        Args:
            df: the observations: a pandas DataFrame, or a table that converts itself to
                one (``to_pandas()``: a polars DataFrame, a pyarrow Table).
            user, item: names of the id columns.  Ids are integers (int64) or text; an
                integer column stays integer, text stays text.
            rating: name of the value column; ``None`` for implicit data: every row is
                one event of weight 1.0, and a pair's repeated rows add up (see
                ``duplicates``).
            timestamp: optional column of numbers (seconds since 1970, UTC), datetimes,
                or ISO 8601 text (``2020-01-31``, ``2020-01-31T10:00:00+02:00``; UTC
                unless an offset is given).  A time outside the years 1-9999, a date
                that does not exist or a missing time is a bad row.  A text column with
                more ISO dates than numbers is one of dates, where a cell that is no
                date is a bad row of its own (a typo fails its row, not the column);
                else it is one of numbers, where a cell that is no number is.
            duplicates: policy for repeated (user, item) pairs: ``"last"`` keeps the
                latest by timestamp (else the last row), ``"mean"`` averages, ``"sum"``
                adds (counts; refused with a ``rating_scale``, which sums leave),
                ``"error"`` raises naming the pairs.  By default ``"last"`` for ratings
                and ``"sum"`` for events (``rating=None``; not with ``implicit=False``):
                two rows of one play are two plays, as the ratings store adds them.
                Merged rows are counted in ``load_report.merged``, and the report
                names the policy.
            rating_scale: ``(low, high)``; ratings outside it are bad rows.
            item_features, user_features: side tables indexed by raw id.  Ids that have
                features but no interactions are added to the vocabulary (so cold-start
                entities keep their features); ids missing from a table get NaN.
            implicit: whether values are implicit feedback (plays, clicks, counts); by
                default only data without a rating column is implicit.
            users, items: existing vocabularies to share (e.g. a test file read against a
                training set); ids outside them are an :class:`UnknownIdError` (or bad
                rows, with ``on_bad_rows="skip"``).
            strip_ids: remove surrounding whitespace from text ids (``" eve "`` is
                ``"eve"``), on by default; ``load_report.ids_stripped`` counts the cells
                changed.  ``False`` keeps ids exactly as given.
            on_bad_rows: ``"error"`` (the default) raises a :class:`DataError` naming the
                column and the rows of the first kind of fault; ``"skip"`` leaves bad rows
                out and lists them, with their reason, in ``load_report.rejections``.
                Bad rows: a missing, empty, boolean or non-integral id; a missing,
                non-numeric or infinite rating or one outside ``rating_scale``; a bad
                timestamp; an id outside ``users`` / ``items``.
            copy: ``False`` lets the result share the frame's memory instead of copying
                it, when the frame is already laid out as the result stores it: rows
                grouped by user in ascending order, items strictly increasing within a
                user, integer item ids that are the column numbers ``0 .. n_items - 1``
                (every one present), int32 items and float32 ratings (each column of
                another type is converted, a copy of that column alone).  That saves
                8 bytes a rating (0.8 GB at 10^8).  The shared columns must not be
                changed afterwards: writing to the frame then writes to the result
                (pandas' copy-on-write does not see the result's arrays).  Any other
                frame is copied as with ``True``; ``load_report.notes`` says which
                columns were shared, or why none were.

        Messages name rows by the frame's row labels (``rows 5``); the readers
        (:meth:`from_csv`) name them by file line (``line 7 of ratings.csv``).  The
        result's ``load_report`` says how many rows were read, loaded, merged and
        rejected.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"u": ["x", "x"], "i": [1, 1], "r": [2.0, 4.0]})
            >>> Interactions.from_frame(df, "u", "i", "r", duplicates="mean").ratings.tolist()
            [3.0]
            >>> bad = pd.DataFrame({"u": ["x", None], "i": [1, 2], "r": [2.0, 4.0]})
            >>> data = Interactions.from_frame(bad, "u", "i", "r", on_bad_rows="skip")
            >>> data.nnz, data.load_report.rejection_texts()
            (1, ["1 with missing ids in column 'u' (rows 1)"])
        """
        if not isinstance(df, pd.DataFrame):
            df = _as_pandas(df)
        names = (user, item, rating, timestamp)
        check_names(names)
        duplicates = default_duplicates(duplicates, rating, implicit)
        # The scale bounds ratings: implicit data (no rating column) is not held to it.
        check_options(duplicates, on_bad_rows, rating_scale if rating is not None else None)
        plain = plain_options(
            dict(
                duplicates=duplicates,
                rating_scale=rating_scale,
                implicit=implicit,
                item_features=item_features,
                user_features=user_features,
                users=users,
                items=items,
            )
        )
        if plain is not None:
            lean = lean_frame(cls, df, names, plain, share=not copy)
            if lean is not None:
                return lean
        frame = frame_columns(df, names, "the table")
        return assemble(
            cls,
            frame,
            names,
            Places.rows(df.index),
            source="a DataFrame",
            duplicates=duplicates,
            rating_scale=rating_scale,
            implicit=implicit,
            strip_ids=strip_ids,
            on_bad_rows=on_bad_rows,
            item_features=item_features,
            user_features=user_features,
            users=users,
            items=items,
            notes=() if copy else (NOT_SHAREABLE,),
        )

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        user: str | int = DEFAULT_USER,
        item: str | int = DEFAULT_ITEM,
        rating: str | int | None = "rating",
        timestamp: str | int | None = None,
        *,
        sep: str | None = None,
        header: bool = True,
        encoding: str | None = "utf-8-sig",
        **kwargs,
    ) -> Interactions:
        """Read a CSV/TSV file (separator guessed unless given), with or without a header.

        Without a header, ``user``/``item``/``rating``/``timestamp`` are column positions
        (0-based).  With ``user`` / ``item`` left at their defaults, a header without
        ``user_id`` / ``item_id`` is read from the one well-known name it holds
        (``userId`` or ``user``; ``movieId``, ``itemId`` or ``item``: MovieLens'
        ``ratings.csv`` needs no names), and ``load_report.notes`` says which; a header
        with two such names for one column is a :class:`DataError` saying which to pass.
        A column passed by name is matched exactly.  ``sep`` is guessed from the first
        line (the one of ``,``, tab, ``;`` and ``|`` that splits it into the most fields)
        unless given.  ``encoding`` is ``"utf-8-sig"`` by default: UTF-8 with or without
        the byte-order mark that spreadsheet programs write; pass e.g. ``"latin-1"`` for
        other files.  ``.gz``, ``.bz2``, ``.xz`` and one-file ``.zip`` files are unpacked.

        Id cells are read as text, so ``NA``, ``null``, ``None`` or ``nan`` are ids,
        never missing values; an id column whose cells are all whole numbers becomes
        integer, as pandas reads it: there ``"007"``, ``"7"`` and ``"7.0"`` are one id,
        7 (their rows are repeats of one pair, merged by ``duplicates`` and counted in
        ``load_report.merged``).  One id that is not a whole number keeps every id of
        the column as text, so ``"007"`` and ``"7"`` stay two ids; to keep the
        spellings of an all-number column, read it with pandas as text
        (``dtype=str``) and pass the frame to :meth:`from_frame`, where text stays
        text.  An empty id cell is a bad row.  In the rating and timestamp columns,
        pandas' NA markers (``""``, ``NA``, ``null``, ...) are missing values; a
        timestamp is a number of seconds since 1970 or an ISO 8601 date (see
        :meth:`from_frame`); a rating written with a decimal comma (``4,5``) is not a
        number.

        Remaining keyword arguments go to :meth:`from_frame`: ``duplicates``,
        ``rating_scale``, ``strip_ids``, ``on_bad_rows``, ``implicit``, ``users``,
        ``items``, ``item_features``, ``user_features``.  Every message names file lines
        as an editor counts them: 1-based, the header line included.  Anything that
        cannot be read (an empty file, a wrong encoding, an unclosed quote, a row with too
        many fields) is a :class:`DataError` naming the file and the line.

        Example:
            >>> import tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "r.tsv")
            >>> _ = open(path, "w").write("1\\t10\\t4\\n2\\t10\\t5\\n")
            >>> Interactions.from_csv(path, 0, 1, 2, header=False).nnz
            2
            >>> bad = os.path.join(tempfile.mkdtemp(), "bad.csv")
            >>> _ = open(bad, "w").write("user_id,item_id,rating\\n1,2,4\\n1,,5\\n")
            >>> try:
            ...     Interactions.from_csv(bad)
            ... except DataError as err:
            ...     print(str(err).replace(bad, "bad.csv"))
            column 'item_id' has empty ids at line 3 of bad.csv
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no such ratings file: {path}")
        names = (user, item, rating, timestamp)
        note = None
        if header and any(isinstance(c, DefaultColumn) for c in names):
            head = header_fields(path, sep=sep, encoding=encoding)
            if head is not None:
                fields, line = head
                where = f"the header (line {line} of {path})"
                error = {"source": str(path), "where": (line,), "unit": "line"}
                names, note = default_columns(names, fields, where, **error)
                user, item, rating, timestamp = names
        check_names(names)
        kwargs["duplicates"] = default_duplicates(
            kwargs.get("duplicates"), rating, kwargs.get("implicit")
        )
        check_options(
            kwargs["duplicates"],
            kwargs.get("on_bad_rows", "error"),
            kwargs.get("rating_scale") if rating is not None else None,
        )
        plain = plain_options(kwargs)
        found = None
        if plain is not None:
            found = delimited_batches(path, names, sep=sep, header=header, encoding=encoding)
        if found is not None:
            batches, separator, used = found
            lean = lean_batches(
                cls, batches, names, plain, source=str(path), unit="line",
                encoding=used, separator=separator,
            )  # fmt: skip
            if lean is not None:
                return _noted(lean, note)
        wanted = list(dict.fromkeys(c for c in names if c is not None))
        table = read_delimited(
            path, wanted, id_columns=(user, item), sep=sep, header=header, encoding=encoding
        )
        frame = pd.DataFrame({k: table.frame[c] for k, c in keys(names).items()})
        data = assemble(
            cls,
            frame,
            names,
            table.places,
            source=table.source,
            from_text=True,
            bad_fields=table.bad_fields,
            encoding=table.encoding,
            separator=table.separator,
            **kwargs,
        )
        return _noted(data, note)

    @classmethod
    def from_parquet(
        cls,
        path: str | Path,
        user: str = DEFAULT_USER,
        item: str = DEFAULT_ITEM,
        rating: str | None = "rating",
        timestamp: str | None = None,
        **kwargs,
    ) -> Interactions:
        """Read a Parquet file (needs pyarrow, the ``parquet`` extra).

        ``user`` / ``item`` left at their defaults are found among well-known names as
        :meth:`from_csv` finds them (``userId``, ``movieId``...).  Keyword arguments go
        to :meth:`from_frame`.  Messages name rows by their 0-based
        position in the file (``rows 5 of ratings.parquet``); a file that cannot be read
        (not Parquet, truncated, pyarrow missing) is a :class:`DataError` naming it.

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
        names = (user, item, rating, timestamp)
        note = None
        if any(isinstance(c, DefaultColumn) for c in names):
            fields = parquet_columns(path)
            if fields is not None:
                names, note = default_columns(names, fields, str(path), source=str(path))
        check_names(names)
        kwargs["duplicates"] = default_duplicates(
            kwargs.get("duplicates"), names[2], kwargs.get("implicit")
        )
        check_options(
            kwargs["duplicates"],
            kwargs.get("on_bad_rows", "error"),
            kwargs.get("rating_scale") if names[2] is not None else None,
        )
        plain = plain_options(kwargs)
        batches = None if plain is None else parquet_batches(path, names)
        if batches is not None:
            lean = lean_batches(cls, batches, names, plain, source=str(path), unit="row")
            if lean is not None:
                return _noted(lean, note)
        df = read_parquet_frame(path)
        source = str(path)
        frame = frame_columns(df, names, source)
        data = assemble(
            cls, frame, names, Places.rows(np.arange(len(df)), source), source=source, **kwargs
        )
        return _noted(data, note)

    def to_lrdata(self, path: str | Path) -> Path:
        """Write the table as a ``.lrdata`` file, which :meth:`read` loads in seconds.

        An uncompressed ``.npz`` of the CSR arrays and the ids (never a pickle), written
        under a temporary name and renamed once on disk; see :mod:`latentrec.data.lrdata`.

        Example:
            >>> import tempfile, os, numpy as np
            >>> path = os.path.join(tempfile.mkdtemp(), "r.lrdata")
            >>> data = Interactions.from_dense(np.eye(3))
            >>> Interactions.read(data.to_lrdata(path)).fingerprint() == data.fingerprint()
            True
        """
        return write_lrdata(self, path)

    @classmethod
    def read(cls, path: str | Path, **kwargs) -> Interactions:
        """Read a ratings file by extension: ``.lrdata``, ``.parquet``/``.pq`` or text.

        A text file whose first line is a movie id and ``:`` is a Netflix-prize file,
        read by ``latentrec.datasets.read_netflix`` (which takes ``duplicates`` and
        ``rating_scale``; column options other than the defaults are refused).  A
        ``.lrdata`` file (written by :meth:`to_lrdata` or ``latentrec data convert``)
        is memory-mapped (``mmap=True``, the default; ``mmap=False`` reads it into
        memory) and takes no other option.  The delimited-text options (``sep``,
        ``header``, ``encoding``) are refused for a Parquet file unless ``None``.
        Read without a rating column (``rating=None``), a file holds events, and the
        repeated rows of a pair add up unless ``duplicates`` says otherwise (see
        :meth:`from_frame`).

        Example:
            >>> import tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
            >>> _ = open(path, "w").write("user_id,item_id,rating\\n1,2,3\\n")
            >>> Interactions.read(path).nnz
            1
        """
        suffix = Path(path).suffix.lower()
        if suffix == LRDATA_SUFFIX:
            mmap = kwargs.pop("mmap", True)
            given = [k for k, v in kwargs.items() if v is not None]
            if given:
                raise DataError(
                    f"{', '.join(given)} apply when reading ratings, not to the converted "
                    f"file {path} (they were applied when it was converted)"
                )
            return read_lrdata(cls, path, mmap=mmap)
        if suffix in (".parquet", ".pq"):
            text_only = {k: kwargs.pop(k) for k in ("sep", "header", "encoding") if k in kwargs}
            given = [k for k, v in text_only.items() if v is not None]
            if given:
                raise DataError(
                    f"{', '.join(given)} apply to delimited text files, not to the Parquet "
                    f"file {path}"
                )
            return cls.from_parquet(path, **kwargs)
        if is_netflix_file(path):
            return read_netflix_as(cls, path, **netflix_options(path, kwargs))
        return cls.from_csv(path, **kwargs)


def _noted(data: Interactions, note: str | None) -> Interactions:
    """``data`` just read, its load report saying ``note`` (which columns were read for
    the default ones) first; the table is new, so nobody else holds it yet.

    Example:
        >>> data = Interactions.from_dense(np.eye(2))
        >>> _noted(data, "user ids from column 'userId'").load_report.notes[0]
        "user ids from column 'userId'"
    """
    report = data.load_report
    if note is not None and report is not None:
        data.load_report = dataclasses.replace(report, notes=(note, *report.notes))
    return data


def _checked_scale(rating_scale, matrix: sp.csr_matrix) -> tuple[float, float]:
    """``rating_scale`` as ``(low, high)`` floats, or a ValueError when it is no scale or
    a stored rating lies off it (a model would clip to it and refuse fold-in values the
    data itself holds).

    Example:
        >>> _checked_scale([1, 5], sp.csr_matrix(np.array([[1.0, 5.0]])))
        (1.0, 5.0)
    """
    try:
        lo, hi = (float(x) for x in rating_scale)
    except (TypeError, ValueError):
        raise ValueError(f"rating_scale must be (low, high), got {rating_scale!r}") from None
    if not lo < hi:
        raise ValueError(f"rating_scale must be (low, high) with low < high, got {rating_scale}")
    values = matrix.data
    # Ratings are stored as float32: a 1.1 on a scale ending at 1.1 is stored above 1.1.
    off = (values < np.float32(lo)) | (values > np.float32(hi))
    if off.any():
        raise ValueError(
            f"{int(off.sum())} stored rating(s) lie outside the rating scale [{lo:g}, {hi:g}] "
            f"(e.g. {float(values[off][0]):g})"
        )
    return lo, hi


def _as_pandas(table) -> pd.DataFrame:
    """A pandas DataFrame from a table that converts itself (polars, pyarrow: their
    ``to_pandas()``), or a DataError naming what was given.

    Example:
        >>> class Table:  # as polars.DataFrame and pyarrow.Table do
        ...     def to_pandas(self):
        ...         return pd.DataFrame({"user_id": [1], "item_id": [2]})
        >>> _as_pandas(Table()).columns.tolist()
        ['user_id', 'item_id']
    """
    module = type(table).__module__.split(".")[0]
    name = f"{module}.{type(table).__name__}" if module != "builtins" else type(table).__name__
    convert = getattr(table, "to_pandas", None)
    if not callable(convert) or isinstance(table, type):
        raise DataError(
            f"expected a pandas DataFrame (or a table with to_pandas(), such as a polars "
            f"DataFrame), got {name}"
        )
    try:
        frame = convert()
    except Exception as err:  # the library's own error, say what it was converting
        raise DataError(f"cannot convert the {name} to a pandas DataFrame: {err}") from None
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{name}.to_pandas() gave a {type(frame).__name__}, not a DataFrame")
    return frame
