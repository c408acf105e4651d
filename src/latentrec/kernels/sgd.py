"""Stochastic gradient descent over observed cells for r̂ = μ + b_u + b_i + p_u·q_i."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def sgd_epoch(
    user_idx,
    item_idx,
    ratings,
    order,
    mu,
    user_bias,
    item_bias,
    P,
    Q,
    lr,
    reg_bias,
    reg_factor,
    biased,
):  # pragma: no cover - compiled
    """One pass over the cells in ``order``; updates biases and factors in place.

    Returns the sum of squared errors seen before each update (the usual running loss).
    Both p_u and q_i are updated from their values before this step.
    """
    k = P.shape[1]
    sse = 0.0
    for t in range(order.shape[0]):
        n = order[t]
        u = user_idx[n]
        i = item_idx[n]
        dot = 0.0
        for f in range(k):
            dot += P[u, f] * Q[i, f]
        pred = dot
        if biased:
            pred += mu + user_bias[u] + item_bias[i]
        err = ratings[n] - pred
        sse += err * err
        if biased:
            user_bias[u] += lr * (err - reg_bias * user_bias[u])
            item_bias[i] += lr * (err - reg_bias * item_bias[i])
        for f in range(k):
            puf = P[u, f]
            qif = Q[i, f]
            P[u, f] = puf + lr * (err * qif - reg_factor * puf)
            Q[i, f] = qif + lr * (err * puf - reg_factor * qif)
    return sse


@njit(cache=True, parallel=True, nogil=True)
def predict_cells(user_idx, item_idx, mu, user_bias, item_bias, P, Q, out):  # pragma: no cover
    """out[n] = μ + b_u + b_i + p_u·q_i for each cell n, in float64."""
    k = P.shape[1]
    for n in prange(user_idx.shape[0]):
        u = user_idx[n]
        i = item_idx[n]
        acc = 0.0
        for f in range(k):
            acc += P[u, f] * Q[i, f]
        out[n] = mu + user_bias[u] + item_bias[i] + acc


def rmse_cells(user_idx, item_idx, ratings, mu, user_bias, item_bias, P, Q) -> float:
    """Root-mean-square error of the model on the given cells.

    Example:
        >>> import numpy as np
        >>> z = np.zeros((1, 1), np.float32)
        >>> rmse_cells(np.array([0]), np.array([0]), np.array([3.0], np.float32), 1.0,
        ...            np.zeros(1, np.float32), np.zeros(1, np.float32), z, z)
        2.0
    """
    if user_idx.shape[0] == 0:
        return float("nan")
    out = np.empty(user_idx.shape[0], dtype=np.float64)
    predict_cells(user_idx, item_idx, mu, user_bias, item_bias, P, Q, out)
    return float(np.sqrt(np.mean((ratings - out) ** 2)))
