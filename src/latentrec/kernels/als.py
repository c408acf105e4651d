"""Explicit alternating least squares: one small ridge system per row, rows in parallel.

For a row (a user, or an item in the transposed matrix) with observed cells j, the
half-step solves for z = [p, b] (k factors and the row's bias) against the fixed other
side x_j = [q_j, 1]:

    min_z  Σ_j (v_j − μ − b'_j − x_j · z)² + n · (λ ‖p‖² + λ_b b²)

i.e. (Σ_j x_j x_jᵀ + n·diag(λ, …, λ, λ_b)) z = Σ_j (v_j − μ − b'_j) x_j, where n is the
row's number of cells (the weighted-λ regularisation of Zhou et al. 2008).  Systems are
accumulated in float64 and solved by a hand-written Cholesky factorisation (no LAPACK
call per row, no allocation inside the parallel loop beyond two small work arrays).

The helpers ``accumulate_gram`` / ``cholesky_lower`` / ``solve_lower`` /
``solve_lower_transposed`` are shared with the Gibbs sampler in :mod:`.bpmf`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def accumulate_gram(
    start, end, indices, values, mu, other_bias, other_factors, A, b
):  # pragma: no cover - compiled
    """A += Σ x_j x_jᵀ (lower triangle) and b += Σ (v_j − μ − b'_j) x_j, x_j = [q_j, 1].

    ``A`` is (k+1)×(k+1) and ``b`` (k+1,), float64; cells are ``start:end`` of a CSR row.
    """
    k = other_factors.shape[1]
    for t in range(start, end):
        j = indices[t]
        y = values[t] - mu - other_bias[j]
        for a in range(k):
            xa = np.float64(other_factors[j, a])
            b[a] += y * xa
            for c in range(a + 1):
                A[a, c] += xa * other_factors[j, c]
            A[k, a] += xa
        A[k, k] += 1.0
        b[k] += y


@njit(cache=True, nogil=True)
def cholesky_lower(A, n):  # pragma: no cover - compiled
    """Overwrite the lower triangle of A[:n, :n] with L, A = L Lᵀ; False if not positive."""
    for j in range(n):
        s = A[j, j]
        for c in range(j):
            s -= A[j, c] * A[j, c]
        if not s > 0.0:
            return False
        d = np.sqrt(s)
        A[j, j] = d
        for i in range(j + 1, n):
            s = A[i, j]
            for c in range(j):
                s -= A[i, c] * A[j, c]
            A[i, j] = s / d
    return True


@njit(cache=True, nogil=True)
def solve_lower(L, b, n):  # pragma: no cover - compiled
    """b ← L⁻¹ b (forward substitution over the lower triangle of L[:n, :n])."""
    for i in range(n):
        s = b[i]
        for c in range(i):
            s -= L[i, c] * b[c]
        b[i] = s / L[i, i]


@njit(cache=True, nogil=True)
def solve_lower_transposed(L, b, n):  # pragma: no cover - compiled
    """b ← L⁻ᵀ b (back substitution with the transpose of the lower triangle)."""
    for i in range(n - 1, -1, -1):
        s = b[i]
        for c in range(i + 1, n):
            s -= L[c, i] * b[c]
        b[i] = s / L[i, i]


@njit(cache=True, parallel=True, nogil=True)
def als_half_step(
    indptr,
    indices,
    values,
    mu,
    other_bias,
    other_factors,
    reg_factor,
    reg_bias,
    out_bias,
    out_factors,
):  # pragma: no cover - compiled
    """Solve every row's weighted-λ ridge system; write [p, b] into out_factors / out_bias.

    Rows without cells get zeros.  Rows are independent, so the result does not depend
    on the number of threads.  Returns the number of rows whose system was not positive
    definite (only possible with zero regularisation); those rows are left unchanged.
    """
    n_rows = indptr.shape[0] - 1
    k = other_factors.shape[1]
    failed = np.zeros(n_rows, dtype=np.int64)
    for r in prange(n_rows):
        start = indptr[r]
        end = indptr[r + 1]
        if end == start:
            out_bias[r] = 0.0
            for f in range(k):
                out_factors[r, f] = 0.0
            continue
        A = np.zeros((k + 1, k + 1))
        b = np.zeros(k + 1)
        accumulate_gram(start, end, indices, values, mu, other_bias, other_factors, A, b)
        n = np.float64(end - start)
        for f in range(k):
            A[f, f] += reg_factor * n
        A[k, k] += reg_bias * n
        if not cholesky_lower(A, k + 1):
            failed[r] = 1
            continue
        solve_lower(A, b, k + 1)
        solve_lower_transposed(A, b, k + 1)
        for f in range(k):
            out_factors[r, f] = b[f]
        out_bias[r] = b[k]
    return failed.sum()


@njit(cache=True, parallel=True, nogil=True)
def squared_error_rows(indptr, indices, values, mu, row_bias, col_bias, P, Q):  # pragma: no cover
    """Per row, Σ over its cells of (v − μ − b_row − b_col − p_row·q_col)², in float64.

    The caller sums the rows (in NumPy): a ``.sum()`` here would be a parallel reduction
    whose grouping, and so whose rounding, follows the number of threads.
    """
    n_rows = indptr.shape[0] - 1
    k = P.shape[1]
    per_row = np.zeros(n_rows)
    for r in prange(n_rows):
        acc = 0.0
        for t in range(indptr[r], indptr[r + 1]):
            j = indices[t]
            dot = 0.0
            for f in range(k):
                dot += np.float64(P[r, f]) * Q[j, f]
            e = values[t] - mu - row_bias[r] - col_bias[j] - dot
            acc += e * e
        per_row[r] = acc
    return per_row


def weighted_ridge_loss(
    indptr, indices, values, mu, user_bias, item_bias, P, Q, reg_factor, reg_bias
) -> float:
    """The objective ALS minimises, for a users × items CSR (indptr, indices, values).

    Σ (r − μ − b_u − b_i − p_u·q_i)² + Σ_u n_u (λ‖p_u‖² + λ_b b_u²)
    + Σ_i n_i (λ‖q_i‖² + λ_b b_i²).

    Example:
        >>> import numpy as np
        >>> one = np.ones((1, 1), np.float32)
        >>> indices, values = np.array([0], np.int32), np.array([3.0], np.float32)
        >>> indices.flags.writeable = values.flags.writeable = False  # as ALS passes them
        >>> weighted_ridge_loss(np.array([0, 1]), indices, values,
        ...                     1.0, np.zeros(1, np.float32), np.zeros(1, np.float32),
        ...                     one, one, 0.5, 0.0)
        2.0
    """
    n_u = np.diff(indptr).astype(np.float64)
    n_i = np.bincount(indices, minlength=Q.shape[0]).astype(np.float64)
    sse = squared_error_rows(indptr, indices, values, mu, user_bias, item_bias, P, Q).sum()
    P64, Q64 = P.astype(np.float64), Q.astype(np.float64)
    penalty = reg_factor * (n_u @ (P64 * P64).sum(axis=1) + n_i @ (Q64 * Q64).sum(axis=1))
    penalty += reg_bias * (n_u @ user_bias.astype(np.float64) ** 2)
    penalty += reg_bias * (n_i @ item_bias.astype(np.float64) ** 2)
    return float(sse + penalty)
