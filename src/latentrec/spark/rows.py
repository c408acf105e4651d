"""What an executor runs in one ALS half-step: CSR blocks of rows in, solved factor rows out.

Nothing here imports pyspark.  Once per fit, :func:`block_batches` turns a task's
row-sorted cells (users for the user half-step, items for the item half-step) into packed
CSR blocks of whole rows; :func:`unpack_block` makes each one a tuple of numpy arrays,
which Spark caches as an RDD (pickled numpy buffers: ~12 bytes a rating, streamed to the
Python workers as they are, with no conversion per row or per column).  Each half-step
hands a task its blocks and the other side's factors (a broadcast), and
:func:`solve_blocks` runs one of latentrec's own row solvers on each block:

* ``explicit`` with biases: :func:`latentrec.kernels.als.als_half_step`, the half-step of
  :class:`latentrec.models.ALS` (same objective, same arithmetic);
* ``explicit`` without biases (pyspark.ml's objective): :func:`latentrec.kernels.ridge.ridge_rows`
  with the weighted λ and no bias column;
* ``implicit``: :func:`latentrec.kernels.implicit_als.cholesky_half_step`, the exact solve of
  :class:`latentrec.models.ImplicitALS`; with pyspark.ml's objective λ is multiplied by the
  row's number of cells, so rows of equal length share one ``YᵀY + nλI``.

Each block's answer is one tuple of arrays (row indices, biases, factors), so the driver
collects a few large values instead of one Python row per user.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..kernels.als import als_half_step
from ..kernels.implicit_als import cholesky_half_step, exact_budget, row_chunks
from ..kernels.ridge import ridge_rows
from ..kernels.threads import numba_threads

#: The columns of a half-step's input (int32 row, int32 col, float32 value), sorted by row.
ROW, COL, VALUE = "row", "col", "value"
#: Spark DDL of the grouped ratings: one packed CSR block of whole rows per record.
BLOCK_SCHEMA = "rows binary, indptr binary, col binary, value binary"


@dataclass(frozen=True)
class HalfStep:
    """The settings of one half-step, the same on every executor.

    ``kind`` is ``"explicit"`` or ``"implicit"``; ``biases`` (explicit only) fits a bias
    per row against ``mu`` and the other side's biases; ``scaled`` multiplies λ by the
    row's number of cells (always true for explicit, pyspark.ml's choice for implicit).
    """

    kind: str
    k: int
    regularization: float
    bias_regularization: float = 0.0
    biases: bool = True
    scaled: bool = False
    alpha: float = 1.0
    mu: float = 0.0
    threads: int = 1


def csr_block(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(row ids, indptr, col, value)`` of a frame sorted by row: CSR without a copy per row.

    Example:
        >>> frame = pd.DataFrame({"row": [4, 4, 9], "col": [0, 2, 1], "value": [1.0, 2.0, 3.0]})
        >>> ids, indptr, col, value = csr_block(frame)
        >>> ids.tolist(), indptr.tolist(), col.tolist()
        ([4, 9], [0, 2, 3], [0, 2, 1])
    """
    rows = frame[ROW].to_numpy(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    if rows.size and (np.diff(rows) < 0).any():
        raise ValueError("a half-step's cells must arrive sorted by row")
    indptr = np.append(starts, rows.size).astype(np.int64)
    col = np.ascontiguousarray(frame[COL].to_numpy(), dtype=np.int32)
    value = np.ascontiguousarray(frame[VALUE].to_numpy(), dtype=np.float32)
    return rows[starts], indptr, col, value


def solve_block(
    step: HalfStep, indptr, col, value, factors, bias, gram
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the rows of one CSR block against the fixed other side; ``(bias, factors)``.

    ``factors`` (n_other, k) and ``bias`` (n_other,) are the other side, float32;
    ``gram`` is ``YᵀY`` (k, k) for implicit steps (computed once per half-step on the
    driver, not per block), else ignored.

    Example:
        >>> Y = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
        >>> step = HalfStep("explicit", k=2, regularization=0.0, biases=False)
        >>> b, x = solve_block(step, np.array([0, 2]), np.array([0, 1], np.int32),
        ...                    np.array([3.0, 1.0], np.float32), Y, np.zeros(2, np.float32), None)
        >>> x.round(3).tolist()
        [[3.0, 1.0]]
    """
    n = indptr.size - 1
    k = step.k
    if step.kind == "explicit" and step.biases:
        out_bias = np.zeros(n, np.float32)
        out = np.zeros((n, k), np.float32)
        with numba_threads(step.threads):
            failed = als_half_step(
                indptr,
                col,
                value,
                step.mu,
                bias,
                factors,
                step.regularization,
                step.bias_regularization,
                out_bias,
                out,
            )
        if failed:
            raise FloatingPointError(
                f"ALS: {failed} systems are singular; raise regularization above 0"
            )
        return out_bias, out
    if step.kind == "explicit":
        offset = np.zeros(factors.shape[0], np.float32)
        return ridge_rows(indptr, col, value, factors, offset, False, step.regularization, 0.0)
    return np.zeros(n, np.float32), _implicit(step, indptr, col, value, factors, gram)


def _implicit(step: HalfStep, indptr, col, value, factors, gram) -> np.ndarray:
    n = indptr.size - 1
    out = np.zeros((n, step.k), np.float32)
    counts = np.diff(indptr)
    # Unscaled λ: one system matrix for all rows.  Scaled λ (pyspark.ml): rows of equal
    # length share one, so the kernel runs once per distinct length in the block.
    groups = np.unique(counts) if step.scaled else np.array([1])
    for length in groups:
        if step.scaled:
            rows = np.flatnonzero(counts == length)
            keep = np.repeat(counts == length, counts)
            sub_ptr = np.arange(rows.size + 1, dtype=np.int64) * int(length)
            sub_col, sub_val = col[keep], value[keep]
        else:
            rows, sub_ptr, sub_col, sub_val = None, indptr, col, value
        A0 = np.array(gram, dtype=np.float64)
        A0[np.diag_indices_from(A0)] += step.regularization * float(length)
        condition, budget = exact_budget(A0)
        if not budget >= 0.0:
            raise FloatingPointError(
                f"implicit ALS: YᵀY + λI has condition number {condition:.3g}, too close "
                "to singular for an exact solve; raise regularization above 0"
            )
        X = np.zeros((sub_ptr.size - 1, step.k), np.float32)
        bounds = row_chunks(sub_ptr, step.k)
        chunk_loss = np.zeros(bounds.size - 1)
        failed = np.zeros(bounds.size - 1, np.int64)
        with numba_threads(step.threads):
            cholesky_half_step(
                sub_ptr,
                np.ascontiguousarray(sub_col),
                np.ascontiguousarray(sub_val),
                np.float32(step.alpha),
                X,
                factors,
                A0,
                budget,
                bounds,
                chunk_loss,
                failed,
            )
        if failed.any():
            raise FloatingPointError(
                "implicit ALS: a least-squares system is too close to singular for an exact "
                "solve; raise regularization above 0"
            )
        if rows is None:
            out = X
        else:
            out[rows] = X
    return out


def block_batches(batches, block_cells: int = 1 << 20):
    """Cut a task's stream of row-sorted cell batches into packed CSR blocks of whole rows.

    A row's cells may straddle batches (Arrow cuts batches by count, not by row): the
    last row of a batch is held back until a batch starts with another row.  Held cells
    are kept as a list and joined once, so a row spread over many batches costs one copy.
    Each block holds at least ``block_cells`` cells (the last one fewer), packed as raw
    bytes (see :data:`BLOCK_SCHEMA`): a half-step then moves a few large values per task
    from Spark to Python, not one Arrow row per rating.

    Example:
        >>> batches = [pd.DataFrame({"row": [0, 1], "col": [0, 0], "value": [2.0, 1.0]}),
        ...            pd.DataFrame({"row": [1], "col": [1], "value": [5.0]})]
        >>> blocks = list(block_batches(iter(batches)))
        >>> rows, indptr, col, value = unpack_block(blocks[0].iloc[0])
        >>> rows.tolist(), indptr.tolist(), col.tolist()
        ([0, 1], [0, 1, 3], [0, 0, 1])
    """
    pending: list[pd.DataFrame] = []
    size = 0
    held = None
    for frame in batches:
        if frame.empty:
            continue
        rows = frame[ROW].to_numpy()
        if size >= block_cells and rows[0] != held:  # the held row ended with its batch
            yield pack_block(*csr_block(pd.concat(pending, ignore_index=True)))
            pending, size = [], 0
        held = rows[-1]
        # Everything before the batch's last row is complete; the last row may go on.
        cut = int(np.searchsorted(rows, rows[-1], side="left"))
        if cut > 0:
            pending.append(frame.iloc[:cut])
            size += cut
            if size >= block_cells:
                yield pack_block(*csr_block(pd.concat(pending, ignore_index=True)))
                pending, size = [], 0
        pending.append(frame.iloc[cut:])
        size += len(frame) - cut
    if size:
        yield pack_block(*csr_block(pd.concat(pending, ignore_index=True)))


def pack_block(rows, indptr, col, value) -> pd.DataFrame:
    """A CSR block (row ids, indptr, col, value) as a one-row frame of raw bytes.

    Example:
        >>> frame = pack_block(np.array([7]), np.array([0, 1]), np.array([3]), np.array([1.0]))
        >>> frame.columns.tolist(), len(frame)
        (['rows', 'indptr', 'col', 'value'], 1)
    """
    return pd.DataFrame(
        {
            "rows": [np.ascontiguousarray(rows, np.int32).tobytes()],
            "indptr": [np.ascontiguousarray(indptr, np.int64).tobytes()],
            "col": [np.ascontiguousarray(col, np.int32).tobytes()],
            "value": [np.ascontiguousarray(value, np.float32).tobytes()],
        }
    )


def unpack_block(record):
    """``(row ids, indptr, col, value)`` of one packed CSR block (a Spark ``Row`` or pandas row).

    Example:
        >>> frame = pack_block(np.array([7]), np.array([0, 2]), np.array([1, 3]),
        ...                    np.array([4.0, 5.0]))
        >>> [a.tolist() for a in unpack_block(frame.iloc[0])]
        [[7], [0, 2], [1, 3], [4.0, 5.0]]
    """
    return (
        np.frombuffer(record["rows"], dtype=np.int32),
        np.frombuffer(record["indptr"], dtype=np.int64),
        np.frombuffer(record["col"], dtype=np.int32),
        np.frombuffer(record["value"], dtype=np.float32),
    )


def solve_blocks(blocks, step: HalfStep, factors, bias, gram):
    """Solve every CSR block of a task; yields ``(row ids, biases, factors)`` per block.

    ``blocks`` are ``(row ids, indptr, col, value)`` tuples (see :func:`unpack_block`).

    Example:
        >>> Y = np.eye(2, dtype=np.float32)
        >>> step = HalfStep("explicit", k=2, regularization=0.0, biases=False)
        >>> cells = pd.DataFrame({"row": [0, 1, 1], "col": [0, 0, 1], "value": [2.0, 1.0, 5.0]})
        >>> blocks = [unpack_block(b.iloc[0]) for b in block_batches(iter([cells]))]
        >>> ids, b, x = next(solve_blocks(blocks, step, Y, np.zeros(2, np.float32), None))
        >>> ids.tolist(), x.round(3).tolist()
        ([0, 1], [[2.0, 0.0], [1.0, 5.0]])
    """
    for ids, indptr, col, value in blocks:
        out_bias, out = solve_block(step, indptr, col, value, factors, bias, gram)
        yield (
            np.ascontiguousarray(ids, np.int32),
            np.ascontiguousarray(out_bias, np.float32),
            np.ascontiguousarray(out, np.float32),
        )
