"""What loading did: :class:`LoadReport`, :class:`Rejection`, and how messages name rows.

Owns :class:`DataError` (re-exported by :mod:`latentrec.data.interactions`, its old
home), the report attached to every freshly loaded :class:`~latentrec.data.Interactions`
as ``load_report``, and :class:`Places`, which turns row positions into the words a
message uses: ``line 7 of ratings.csv`` (1-based file lines, the header included) for
delimited files, ``rows 5`` (the DataFrame's own row labels) for frames and arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """Input data that cannot be turned into interactions; the message names the fault.

    Besides the message it carries, where known, the ``source`` (a file name), the
    ``column`` at fault and ``where``: the file lines (1-based, header included) or the
    DataFrame row labels of the rows at fault, in the unit named by ``unit``
    (``"line"`` or ``"row"``).

    Example:
        >>> import pandas as pd
        >>> from latentrec.data import Interactions
        >>> try:
        ...     Interactions.from_frame(pd.DataFrame({"u": [1]}), user="u", item="i")
        ... except DataError as err:
        ...     print("missing" in str(err))
        True
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        column=None,
        where: Sequence = (),
        unit: str | None = None,
    ):
        super().__init__(message)
        self.source = source
        self.column = column
        self.where = tuple(where)
        self.unit = unit


def labels_text(labels: Sequence, limit: int = 5) -> str:
    """Up to ``limit`` labels, comma-separated, with how many more were left out.

    Example:
        >>> labels_text([3, 4, 5, 6, 7, 8, 9])
        '3, 4, 5, 6, 7 (and 2 more)'
    """
    labels = list(labels)
    shown = ", ".join(repr(x) for x in labels[:limit])
    more = f" (and {len(labels) - limit} more)" if len(labels) > limit else ""
    return f"{shown}{more}"


def case_hint(missing, names) -> str:
    """Advice when a missing column differs from a present one only in case or spaces.

    Column names are matched exactly (a header's surrounding spaces aside), so
    ``USER_ID`` is not ``user_id``; the hint names the column to pass instead.

    Example:
        >>> case_hint(["user_id", "rating"], ["USER_ID", "Item", "Rating "])
        "; names are matched exactly: pass 'USER_ID' for 'user_id', 'Rating' for 'rating'"
    """
    pairs = []
    for want in missing:
        if not isinstance(want, str):
            continue
        hits = [n for n in names if isinstance(n, str) and n.strip().lower() == want.lower()]
        if len(hits) == 1:
            pairs.append((hits[0].strip(), want))
    if not pairs:
        return ""
    return "; names are matched exactly: pass " + ", ".join(
        f"{have!r} for {want!r}" for have, want in pairs
    )


class Places:
    """How a message names rows: file lines, or a table's row labels.

    A delimited file counts as the file does: 1-based lines, the header line included,
    so a row can be found in an editor.  A DataFrame (or arrays) uses its own row labels
    (0-based positions for a default index); a Parquet file has no lines, so its rows
    are 0-based positions in the file.

    Example:
        >>> import numpy as np
        >>> Places.lines(np.array([2, 3, 5]), "ratings.csv").text([2])
        'line 5 of ratings.csv'
        >>> Places.rows(["a", "b"]).text([0, 1])
        "rows 'a', 'b'"
    """

    __slots__ = ("_labels", "source", "unit")

    def __init__(self, labels, unit: str, source: str | None = None):
        self._labels = labels
        self.unit = unit
        self.source = source

    @classmethod
    def lines(cls, lines: np.ndarray, source: str) -> Places:
        """File lines (1-based, the header included) of each row of ``source``.

        Example:
            >>> Places.lines([2, 4], "r.csv").text([0, 1])
            'lines 2, 4 of r.csv'
        """
        return cls(np.asarray(lines, dtype=np.int64), "line", source)

    @classmethod
    def rows(cls, labels, source: str | None = None) -> Places:
        """Row labels (a DataFrame's index, or positions) of each row.

        Example:
            >>> Places.rows(range(3), "r.parquet").text([2])
            'rows 2 of r.parquet'
        """
        return cls(labels, "row", source)

    def labels(self, positions) -> list:
        """The line numbers or row labels of these row positions, as Python scalars.

        Example:
            >>> Places.lines([2, 4], "r.csv").labels([1])
            [4]
        """
        pos = np.asarray(positions, dtype=np.int64)
        labels = self._labels
        if isinstance(labels, np.ndarray):
            return labels[pos].tolist()
        return labels[pos].tolist() if hasattr(labels, "tolist") else [labels[p] for p in pos]

    def text(self, positions, limit: int = 5) -> str:
        """``line 7 of f.csv``, ``lines 3, 7 of f.csv``, ``rows 2, 5`` or ``rows 0 of f.pq``.

        Example:
            >>> Places.rows([5, 6, 7]).text([2, 0])
            'rows 5, 7'
        """
        pos = np.sort(np.asarray(positions, dtype=np.int64))
        return self.text_of(self.labels(pos), limit)

    def text_of(self, labels: Sequence, limit: int = 5) -> str:
        """The same words for labels already looked up (see :meth:`labels`).

        Example:
            >>> Places(None, "line", "r.csv").text_of([7])
            'line 7 of r.csv'
        """
        labels = list(labels)
        if self.unit == "line":
            word = "line" if len(labels) == 1 else "lines"
            shown = labels_text(labels, limit)
        else:
            # "rows" even for one row: messages about frames have always said so.
            word = "rows"
            shown = labels_text(labels, limit)
        tail = f" of {self.source}" if self.source else ""
        return f"{word} {shown}{tail}"


@dataclass(frozen=True)
class Rejection:
    """Rows left out of the loaded data for one reason.

    ``where`` holds their file lines (1-based, the header included) or row labels, in
    the unit of the report (``LoadReport.unit``).

    Example:
        >>> r = Rejection("missing ids", "user_id", (4, 9))
        >>> r.count
        2
    """

    reason: str
    column: object
    where: tuple

    @property
    def count(self) -> int:
        """How many rows were rejected for this reason (see the class example)."""
        return len(self.where)


@dataclass(frozen=True)
class LoadReport:
    """What loading did, row by row: read = loaded + merged + rejected, exactly.

    - ``rows_read``: data rows in the input (a file's header and blank lines are not
      rows; a matrix counts its observed cells).
    - ``loaded``: cells stored in the result (its ``nnz``).
    - ``merged``: rows folded into another row with the same (user, item) by the
      ``duplicates`` policy.
    - ``rejected``: rows left out because they were bad, with ``on_bad_rows="skip"``;
      ``rejections`` groups them by reason with their lines or rows.  (With the default
      ``on_bad_rows="error"`` a bad row is an error, so this is 0.)
    - ``ids_stripped``: id cells of the kept rows whose surrounding whitespace was
      removed (``strip_ids=True``).

    Example:
        >>> import pandas as pd
        >>> from latentrec.data import Interactions
        >>> df = pd.DataFrame({"user_id": [" eve ", "eve", "bob"], "item_id": [1, 1, 2],
        ...                    "rating": [4, 5, 3]})
        >>> report = Interactions.from_frame(df).load_report
        >>> report.rows_read, report.loaded, report.merged, report.rejected
        (3, 2, 1, 0)
        >>> report.ids_stripped
        1
    """

    source: str
    unit: str
    rows_read: int
    loaded: int
    merged: int = 0
    rejections: tuple[Rejection, ...] = ()
    ids_stripped: int = 0
    duplicates: str | None = None
    encoding: str | None = None
    separator: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.loaded + self.merged + self.rejected != self.rows_read:
            raise ValueError(
                f"inconsistent load report: loaded {self.loaded} + merged {self.merged} + "
                f"rejected {self.rejected} != read {self.rows_read}"
            )

    @property
    def rejected(self) -> int:
        """How many rows were rejected, over all reasons.

        Example:
            >>> LoadReport("r.csv", "line", rows_read=3, loaded=1,
            ...            rejections=(Rejection("missing ids", "u", (4, 9)),)).rejected
            2
        """
        return sum(r.count for r in self.rejections)

    def summary(self) -> str:
        """One line: read, loaded, merged, rejected (with reasons), ids stripped.

        Example:
            >>> LoadReport("r.csv", "line", rows_read=5, loaded=4, merged=1,
            ...            duplicates="last").summary()
            "r.csv: read 5 rows, loaded 4, merged 1 duplicate (duplicates='last'), rejected 0"
        """
        noun = "cell" if self.unit == "cell" else "row"
        parts = [f"{self.source}: read {self.rows_read} {noun}{_s(self.rows_read)}"]
        parts.append(f"loaded {self.loaded}")
        if self.merged:
            policy = f" (duplicates={self.duplicates!r})" if self.duplicates else ""
            parts.append(f"merged {self.merged} duplicate{_s(self.merged)}{policy}")
        parts.append(f"rejected {self.rejected}")
        line = ", ".join(parts)
        if self.rejections:
            line += " (" + "; ".join(self.rejection_texts()) + ")"
        if self.ids_stripped:
            line += f"; stripped surrounding spaces from {self.ids_stripped} id(s)"
        for note in self.notes:
            line += f"; {note}"
        return line

    def rejection_texts(self, limit: int = 5) -> list[str]:
        """One phrase per reason: ``"2 with missing ids in column 'u' (lines 4, 9)"``.

        Example:
            >>> LoadReport("r.csv", "line", rows_read=3, loaded=1,
            ...            rejections=(Rejection("missing ids", "u", (4, 9)),)
            ...            ).rejection_texts()
            ["2 with missing ids in column 'u' (lines 4, 9)"]
        """
        out = []
        places = Places(None, self.unit)
        for r in self.rejections:
            col = f" in column {r.column!r}" if r.column is not None else ""
            out.append(f"{r.count} with {r.reason}{col} ({places.text_of(r.where, limit)})")
        return out

    def __str__(self) -> str:
        return self.summary()


def _s(n: int) -> str:
    return "" if n == 1 else "s"
