"""Multiplicative updates for non-negative factors fitted on the observed cells only."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, nogil=True)
def nmf_half_step(
    indptr, indices, ratings, mu, row_bias, col_bias, X, Y, reg, biased
):  # pragma: no cover - compiled
    """Update every row x_r of ``X`` in place with ``Y`` fixed (Lee & Seung, masked).

    The rows are those of a CSR (users for P, or items for Q with the transposed matrix).
    For row r with observed columns c and current estimates est_rc = [μ + b_r + b_c +]
    x_r·y_c:  x_rf ← x_rf · Σ_c y_cf r_rc / (Σ_c y_cf est_rc + n_r λ x_rf).
    Every row reads only ``Y`` and its own ``x_r``, so rows update in parallel and the
    result does not depend on the number of threads.  A coordinate whose denominator is
    not positive (only possible with biases that push estimates below 0) is left as is.
    """
    n_rows, k = X.shape
    for r in prange(n_rows):
        start = indptr[r]
        end = indptr[r + 1]
        if start == end:
            continue
        num = np.zeros(k)
        den = np.zeros(k)
        for n in range(start, end):
            c = indices[n]
            est = 0.0
            for f in range(k):
                est += X[r, f] * Y[c, f]
            if biased:
                est += mu + row_bias[r] + col_bias[c]
            rating = ratings[n]
            for f in range(k):
                num[f] += Y[c, f] * rating
                den[f] += Y[c, f] * est
        shrink = (end - start) * reg
        for f in range(k):
            x = X[r, f]
            d = den[f] + shrink * x
            if d > 0.0:
                X[r, f] = x * num[f] / d


@njit(cache=True, nogil=True)
def nmf_bias_sgd(
    user_idx, item_idx, ratings, order, mu, user_bias, item_bias, P, Q, lr, reg
):  # pragma: no cover - compiled
    """One SGD pass over the cells in ``order`` that updates the biases only.

    b_u += η(e − λ b_u), b_i += η(e − λ b_i) with e = r − μ − b_u − b_i − p_u·q_i, as
    Surprise's biased NMF does; the factors are left to the multiplicative updates.
    """
    k = P.shape[1]
    for t in range(order.shape[0]):
        n = order[t]
        u = user_idx[n]
        i = item_idx[n]
        est = mu + user_bias[u] + item_bias[i]
        for f in range(k):
            est += P[u, f] * Q[i, f]
        err = ratings[n] - est
        user_bias[u] += lr * (err - reg * user_bias[u])
        item_bias[i] += lr * (err - reg * item_bias[i])


@njit(cache=True, parallel=True, nogil=True)
def squared_errors(indptr, indices, ratings, mu, row_bias, col_bias, X, Y):  # pragma: no cover
    """Σ (r − μ − b_r − b_c − x_r·y_c)² over the cells of a CSR, one slot per row."""
    n_rows, k = X.shape
    out = np.zeros(n_rows)
    for r in prange(n_rows):
        acc = 0.0
        for n in range(indptr[r], indptr[r + 1]):
            c = indices[n]
            est = mu + row_bias[r] + col_bias[c]
            for f in range(k):
                est += X[r, f] * Y[c, f]
            e = ratings[n] - est
            acc += e * e
        out[r] = acc
    return out


def nmf_objective(
    indptr, indices, ratings, mu, user_bias, item_bias, P, Q, reg, bias_reg
) -> tuple[float, float]:
    """``(objective, sse)`` of the regularised NMF problem on a users × items CSR.

    objective = ½ Σ_obs e² + ½ λ (Σ_u n_u ‖p_u‖² + Σ_i n_i ‖q_i‖²)
    + ½ λ_b (Σ_u n_u b_u² + Σ_i n_i b_i²), the loss whose (masked) multiplicative updates
    are :func:`nmf_half_step`; the bias terms are 0 for the unbiased model.

    Example:
        >>> import numpy as np
        >>> z = np.zeros(1, np.float32); one = np.ones((1, 1), np.float32)
        >>> indptr, indices = np.array([0, 1], np.int32), np.array([0], np.int32)
        >>> ratings = np.array([3.0], np.float32)
        >>> for a in (indptr, indices, ratings):  # read-only, as NMF passes its data
        ...     a.flags.writeable = False
        >>> obj, sse = nmf_objective(indptr, indices, ratings, 0.0, z, z, one, one, 0.5, 0.0)
        >>> obj, sse
        (2.5, 4.0)
    """
    sse = float(squared_errors(indptr, indices, ratings, mu, user_bias, item_bias, P, Q).sum())
    n_u = np.diff(indptr).astype(np.float64)
    n_i = np.bincount(indices, minlength=Q.shape[0]).astype(np.float64)
    P64, Q64 = P.astype(np.float64), Q.astype(np.float64)
    penalty = reg * (n_u @ (P64 * P64).sum(axis=1) + n_i @ (Q64 * Q64).sum(axis=1))
    b_u, b_i = user_bias.astype(np.float64), item_bias.astype(np.float64)
    penalty += bias_reg * (n_u @ (b_u * b_u) + n_i @ (b_i * b_i))
    return float(0.5 * (sse + penalty)), sse
