"""Streamed table files: append DataFrame chunks to one Parquet or CSV file, atomically."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pandas as pd

from ..errors import needs_extra
from .atomic import atomic_path

_CSV_CODECS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}


def table_format(path) -> tuple[str, str | None]:
    """``("parquet", None)`` or ``("csv", compression)`` from the file name's suffix.

    Example:
        >>> table_format("top.parquet"), table_format("top.csv.gz")
        (('parquet', None), ('csv', 'gzip'))
    """
    path = Path(path)
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes[-1:] in ([".parquet"], [".pq"]):
        return "parquet", None
    if ".csv" not in suffixes[-2:]:
        raise ValueError(f"{path}: use a .parquet, .pq or .csv (.csv.gz, ...) file name")
    # The temporary file's name hides the suffix, so the compression is named here.
    last = path.suffix.lower()
    if last in _CSV_CODECS:
        return "csv", _CSV_CODECS[last]
    if last != ".csv":
        raise ValueError(f"{path}: a CSV file may be .csv, .csv.gz, .csv.bz2 or .csv.xz")
    return "csv", None


class TableWriter:
    """Write a table chunk by chunk; the file appears under its name only when all is written.

    Use as a context manager: chunks go to a temporary file beside ``path``, which
    replaces ``path`` when the block ends without an exception (see :func:`atomic_path`).
    The format follows the suffix (:func:`table_format`); Parquet needs pyarrow.

    Example:
        >>> import os, tempfile
        >>> import pandas as pd
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> with TableWriter(path) as out:
        ...     out.write(pd.DataFrame({"a": [1]}))
        ...     out.write(pd.DataFrame({"a": [2]}))
        >>> pd.read_csv(path)["a"].tolist()
        [1, 2]
    """

    def __init__(self, path):
        self.path = Path(path)
        self.format, self.compression = table_format(self.path)
        if self.format == "parquet":
            # Checked before any work is done; pyarrow is the 'parquet' extra's.
            with needs_extra("parquet", f"writing {self.path} (Parquet)", "or write a .csv file"):
                import pyarrow  # noqa: F401
        self.rows = 0
        self._stack: ExitStack | None = None
        self._tmp: Path | None = None
        self._parquet = None
        self._started = False

    def __enter__(self) -> TableWriter:
        self._stack = ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        return self

    def write(self, table: pd.DataFrame) -> None:
        """Append one chunk (the first chunk fixes the columns and, for Parquet, the schema).

        Example:
            >>> import os, tempfile
            >>> import pandas as pd
            >>> with TableWriter(os.path.join(tempfile.mkdtemp(), "t.csv")) as out:
            ...     out.write(pd.DataFrame({"a": [1, 2]}))
            >>> out.rows
            2
        """
        if self._tmp is None:
            raise RuntimeError("use TableWriter as a context manager: with TableWriter(p) as w:")
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            chunk = pa.Table.from_pandas(table, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._tmp, chunk.schema)
            else:
                chunk = chunk.cast(self._parquet.schema)
            self._parquet.write_table(chunk)
        else:
            table.to_csv(
                self._tmp,
                mode="a" if self._started else "w",
                header=not self._started,
                index=False,
                compression=self.compression,
            )
        self._started = True
        self.rows += len(table)

    def __exit__(self, exc_type, exc, tb):
        stack, self._stack, self._tmp = self._stack, None, None
        try:
            if self._parquet is not None:
                self._parquet.close()
        except BaseException as err:
            stack.__exit__(type(err), err, err.__traceback__)
            raise
        return stack.__exit__(exc_type, exc, tb)
