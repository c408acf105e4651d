"""The ridge row solver: per CSR row, a small ridge regression on fixed factor rows.

This is the fold-in and partial-fit solve of every factor model without an exact update
of its own.  It is a pure function over arrays, batched through BLAS and LAPACK (NumPy's
batched ``matmul`` and ``solve``), so it needs no numba: the per-row systems are
(k+1)x(k+1) and the batching, not a compiled loop, is what makes it fast.
"""

from __future__ import annotations

import numpy as np


def ridge_rows(
    indptr,
    indices,
    values,
    factors,
    offset,
    with_bias: bool,
    reg_factors: float,
    reg_bias: float,
    weighted: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Per CSR row, the ridge fit of its values on fixed factor rows (the fold-in solve).

    Row ``r`` holds cells ``(j, v_j)``; with ``y_j = v_j − offset[j]`` and ``x_j =
    factors[j]`` it solves ``min_{b, p} Σ_j (y_j − b − p·x_j)² + w·(λ_f‖p‖² + λ_b b²)``,
    ``w`` the row's count when ``weighted`` (else 1), as a (k+1)x(k+1) system (k x k
    without the bias).  Rows are solved together in batches of similar length through
    BLAS and LAPACK, never one rating at a time; rows without cells get zeros.  Without
    factor regularisation (λ_f = 0) a singular row gets the minimum-norm least-squares
    answer.

    Returns:
        ``(bias (n,), factors (n, k))`` as float32.

    Example:
        >>> import numpy as np
        >>> Q = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
        >>> b, P = ridge_rows(np.array([0, 2]), np.array([0, 1]), np.array([3.0, 1.0]),
        ...                   Q, np.zeros(2), False, 0.0, 0.0)
        >>> P.round(3).tolist()
        [[3.0, 1.0]]
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    n_rows = indptr.size - 1
    factors = np.asarray(factors)
    k = factors.shape[1]
    d = k + int(bool(with_bias))
    bias = np.zeros(n_rows)
    out = np.zeros((n_rows, k))
    counts = np.diff(indptr)
    nnz = int(indptr[-1])
    if d == 0 or nnz == 0:
        return bias.astype(np.float32), out.astype(np.float32)
    # Row nnz of X and y is a zero sentinel that pads short rows in a batch.
    X = np.zeros((nnz + 1, d))
    X[:nnz, :k] = factors[indices[:nnz]]
    if with_bias:
        X[:nnz, k] = 1.0
    y = np.zeros(nnz + 1)
    y[:nnz] = np.asarray(values[:nnz], dtype=np.float64) - np.asarray(offset)[indices[:nnz]]
    penalty = np.full(d, float(reg_factors))
    if with_bias:
        penalty[k] = float(reg_bias)
    order = np.flatnonzero(counts > 0)
    order = order[np.argsort(counts[order], kind="stable")]
    budget = 1 << 21  # padded cells x d per batch (16 MiB of float64)
    start = 0
    while start < order.size:
        stop = min(order.size, start + max(1, budget // (int(counts[order[start]]) * d)))
        while stop - start > 1 and (stop - start) * int(counts[order[stop - 1]]) * d > budget:
            stop = start + (stop - start) // 2
        rows = order[start:stop]
        longest = int(counts[rows[-1]])
        if rows.size == 1 and longest * d > budget:
            A, rhs = _gram_long_row(X, y, int(indptr[rows[0]]), longest, budget // d)
            A, rhs = A[None], rhs[None]
        else:
            slot = np.arange(longest)
            pos = indptr[rows][:, None] + slot[None, :]
            pos = np.where(slot[None, :] < counts[rows][:, None], pos, nnz)
            Xb = X[pos]
            A = np.matmul(Xb.transpose(0, 2, 1), Xb)
            rhs = np.matmul(Xb.transpose(0, 2, 1), y[pos][:, :, None])[:, :, 0]
        weight = counts[rows].astype(np.float64) if weighted else np.ones(rows.size)
        diag = np.arange(d)
        A[:, diag, diag] += weight[:, None] * penalty[None, :]
        sol = _solve_batch(A, rhs, definite=float(reg_factors) > 0)
        out[rows] = sol[:, :k]
        if with_bias:
            bias[rows] = sol[:, k]
        start = stop
    return bias.astype(np.float32), out.astype(np.float32)


def _gram_long_row(X, y, first: int, length: int, step: int):
    # One row too long to pad: accumulate XᵀX and Xᵀy over slices of its cells.
    d = X.shape[1]
    A = np.zeros((d, d))
    rhs = np.zeros(d)
    for s in range(first, first + length, max(1, step)):
        e = min(s + max(1, step), first + length)
        A += X[s:e].T @ X[s:e]
        rhs += X[s:e].T @ y[s:e]
    return A, rhs


def _solve_batch(A: np.ndarray, rhs: np.ndarray, definite: bool) -> np.ndarray:
    # With λ > 0 on the factors every system is positive definite (the bias column cannot
    # be explained away once p is penalised), so LU is exact.  Without it a row with fewer
    # cells than factors is singular, and LU would return one of its infinitely many
    # solutions blown up by rounding: take the minimum-norm least-squares one instead.
    if definite:
        return np.linalg.solve(A, rhs[:, :, None])[:, :, 0]
    pinv = np.linalg.pinv(A, rtol=1e-10, hermitian=True)
    return np.matmul(pinv, rhs[:, :, None])[:, :, 0]
