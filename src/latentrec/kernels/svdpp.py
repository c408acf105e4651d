"""SVD++ (Koren 2008) by user-grouped SGD: r̂ = μ + b_u + b_i + q_i·(p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j).

Textbook SGD (and Surprise) recomputes the implicit sum |N(u)|^-½ Σ y_j and updates every
y_j after *each* rating, which costs O(|N(u)|·k) per rating and O(|N(u)|²·k) per user.
Here the ratings of one user are processed together: the sum is computed once when the
user's turn comes, the user's ratings are then visited in random order with the usual
SGD steps for b_u, b_i, p_u and q_i, the gradient for the y_j is accumulated on the way,
and it is applied to every y_j of the user once at the end.  That is the sum of the
per-rating updates with y frozen during the user's turn, for O(|N(u)|·k) per user.

Users are visited in a random order, cut into chunks of about equal numbers of ratings
that run at once on numba threads (Hogwild!: a user belongs to one chunk; item rows q_i,
y_j and b_i are shared without locks).  One chunk is sequential and deterministic.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .sgd import FASTMATH, PREFETCH_AHEAD, below, next_bits, prefetch_rows, stream


@njit(cache=True, parallel=True)
def shuffle_rows(seed, indptr, items, ratings):  # pragma: no cover - compiled
    """Shuffle the cells of every CSR row in place; row ``u`` uses stream ``u`` of ``seed``."""
    for u in prange(indptr.shape[0] - 1):
        state = stream(seed, u)
        lo = indptr[u]
        for t in range(indptr[u + 1] - 1, lo, -1):
            state, bits = next_bits(state)
            j = lo + below(bits, t - lo + 1)
            items[t], items[j] = items[j], items[t]
            ratings[t], ratings[j] = ratings[j], ratings[t]


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _implicit_sum(items, lo, hi, Y, out):  # pragma: no cover - compiled
    """out = |N|^-½ Σ_{t in lo:hi} Y[items[t]]; returns |N|^-½."""
    k = Y.shape[1]
    for f in range(k):
        out[f] = 0.0
    for t in range(lo, hi):
        ahead = t + PREFETCH_AHEAD
        if ahead < hi:
            prefetch_rows(Y, items[ahead])
        yj = Y[items[t]]
        for f in range(k):
            out[f] += yj[f]
    norm = 1.0 / np.sqrt(np.float64(hi - lo))
    for f in range(k):
        out[f] *= norm
    return norm


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _svdpp_users(
    user_order, lo, hi, indptr, items, ratings, mu, user_bias, item_bias, P, Q, Y,
    lr, reg_bias, reg_factor, reg_implicit, s, z, g,
):  # pragma: no cover - compiled  # fmt: skip
    k = P.shape[1]
    one = P.dtype.type(1.0)
    shrink = one - lr * reg_factor
    shrink_b = one - lr * reg_bias
    mu_ = P.dtype.type(mu)
    sse = 0.0
    for x in range(lo, hi):
        u = user_order[x]
        start = indptr[u]
        stop = indptr[u + 1]
        if stop == start:
            continue
        norm = P.dtype.type(_implicit_sum(items, start, stop, Y, s))
        pu = P[u]
        for f in range(k):
            z[f] = pu[f] + s[f]
            g[f] = 0.0
        bu = user_bias[u]
        for t in range(start, stop):
            ahead = t + PREFETCH_AHEAD
            if ahead < stop:
                prefetch_rows(Q, items[ahead])
            i = items[t]
            qi = Q[i]
            dot = P.dtype.type(0.0)
            for f in range(k):
                dot += z[f] * qi[f]
            err = ratings[t] - (mu_ + bu + item_bias[i] + dot)
            sse += np.float64(err) * np.float64(err)
            bu = shrink_b * bu + lr * err
            item_bias[i] = shrink_b * item_bias[i] + lr * err
            step = lr * err
            # p += lr (e q - reg p); q += lr (e z - reg q); dL/dy_j gathers e q |N|^-½.
            for f in range(k):
                q = qi[f]
                p = shrink * pu[f] + step * q
                g[f] += err * q
                qi[f] = shrink * q + step * z[f]
                pu[f] = p
                z[f] = p + s[f]
        user_bias[u] = bu
        # n successive per-rating shrinks of y_j by (1 - lr reg) compound to this; unlike
        # 1 - n lr reg it stays in (0, 1] for users with thousands of ratings.
        shrink_y = P.dtype.type((1.0 - lr * reg_implicit) ** (stop - start))
        for f in range(k):
            g[f] *= lr * norm
        for t in range(start, stop):
            ahead = t + PREFETCH_AHEAD
            if ahead < stop:
                prefetch_rows(Y, items[ahead])
            yj = Y[items[t]]
            for f in range(k):
                yj[f] = shrink_y * yj[f] + g[f]
    return sse


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def svdpp_epoch(
    user_order, indptr, items, ratings, mu, user_bias, item_bias, P, Q, Y,
    lr, reg_bias, reg_factor, reg_implicit, n_chunks,
):  # pragma: no cover - compiled  # fmt: skip
    """One user-grouped SGD pass of SVD++; updates everything in place, returns the SSE.

    Users are taken in ``user_order``; user u's cells are ``indptr[u]:indptr[u + 1]`` of
    ``(items, ratings)`` in array order, and N(u) is that same set of items.  With
    z = p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j (computed once at the start of the user's turn and
    kept equal to p_u + that sum as p_u moves), each cell with error e = r − r̂ updates
    b_u += lr(e − reg_bias b_u), b_i likewise, p_u += lr(e q_i − reg_factor p_u),
    q_i += lr(e z − reg_factor q_i), from the values before the step.  After the user's
    cells, every j ∈ N(u) gets y_j ← (1 − lr reg_implicit)^|N(u)| y_j +
    lr |N(u)|^-½ Σ_i e_i q_i (the q_i and e_i as used in each step).  ``lr`` and ``reg_*``
    have the factors' dtype.

    Users are cut into ``n_chunks`` contiguous runs of ``user_order`` with about equal
    numbers of cells, run in parallel without locks; one chunk is deterministic.
    Returns the sum of squared errors of each prediction before its update.
    """
    n_users = user_order.shape[0]
    k = P.shape[1]
    # Chunk c takes the users before which the running cell count first reaches c/n.
    bounds = np.zeros(n_chunks + 1, dtype=np.int64)
    total = 0
    for x in range(n_users):
        u = user_order[x]
        total += indptr[u + 1] - indptr[u]
    c = 1
    seen = 0
    for x in range(n_users):
        while c < n_chunks and seen * n_chunks >= c * total:
            bounds[c] = x
            c += 1
        u = user_order[x]
        seen += indptr[u + 1] - indptr[u]
    while c <= n_chunks:
        bounds[c] = n_users
        c += 1
    sse = np.zeros(n_chunks, dtype=np.float64)
    for c in prange(n_chunks):
        s = np.empty(k, dtype=P.dtype)
        z = np.empty(k, dtype=P.dtype)
        g = np.empty(k, dtype=P.dtype)
        sse[c] = _svdpp_users(
            user_order, bounds[c], bounds[c + 1], indptr, items, ratings, mu, user_bias,
            item_bias, P, Q, Y, lr, reg_bias, reg_factor, reg_implicit, s, z, g,
        )  # fmt: skip
    return sse.sum()


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def effective_user_factors(indptr, items, P, Y, out):  # pragma: no cover - compiled
    """out[u] = p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j (just p_u for users without cells)."""
    k = P.shape[1]
    for u in prange(indptr.shape[0] - 1):
        start = indptr[u]
        stop = indptr[u + 1]
        row = out[u]
        if stop == start:
            for f in range(k):
                row[f] = P[u, f]
            continue
        _implicit_sum(items, start, stop, Y, row)
        for f in range(k):
            row[f] += P[u, f]
