"""BPR and WARP stochastic gradient steps for hybrid (id + content feature) factor models.

An entity (user or item) is a sparse row of weighted *feature rows*: its own id row and
one row per content feature it has (``indptr/indices/weights`` in CSR form).  Its vector
is the weighted sum of those rows' vectors, as in LightFM.  Each step composes the three
vectors of a (user, positive item, negative item) triple from the current weights,
computes the gradient once, and applies it to every feature row that was used.  The
kernels are serial: rows such as ``gender=M`` take part in most steps, so lock-free
parallel updates would collide constantly, and serial steps keep a seed reproducible.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _compose(indptr, indices, weights, V, row, out):  # pragma: no cover - compiled
    k = V.shape[1]
    for f in range(k):
        out[f] = 0.0
    for p in range(indptr[row], indptr[row + 1]):
        w = weights[p]
        r = indices[p]
        for f in range(k):
            out[f] += w * V[r, f]


@njit(cache=True, nogil=True)
def _compose_bias(indptr, indices, weights, b, row):  # pragma: no cover - compiled
    acc = 0.0
    for p in range(indptr[row], indptr[row + 1]):
        acc += weights[p] * b[indices[p]]
    return acc


@njit(cache=True, nogil=True)
def _step(lr, grad, adagrad, acc, r, f):  # pragma: no cover - compiled
    """η·grad, or η·grad/√acc[r, f] after adding grad² to acc[r, f]."""
    if not adagrad:
        return lr * grad
    acc[r, f] += grad * grad
    return lr * grad / math.sqrt(acc[r, f])


@njit(cache=True, nogil=True)
def _apply(
    u,
    i,
    j,
    g,
    p,
    qi,
    qj,
    u_indptr,
    u_indices,
    u_weights,
    i_indptr,
    i_indices,
    i_weights,
    user_rows,
    item_rows,
    item_row_bias,
    lr,
    reg,
    reg_bias,
    adagrad,
    acc_user,
    acc_item,
    acc_bias,
):  # pragma: no cover - compiled
    """Descend g·(s_uj − s_ui) + the L2 terms of every row used by u, i and j.

    ``p``, ``qi``, ``qj`` are the composed vectors before the step, so every gradient is
    taken at the same point.
    """
    k = user_rows.shape[1]
    for q in range(u_indptr[u], u_indptr[u + 1]):
        w = u_weights[q]
        r = u_indices[q]
        for f in range(k):
            grad = -g * w * (qi[f] - qj[f]) + reg * user_rows[r, f]
            user_rows[r, f] -= _step(lr, grad, adagrad, acc_user, r, f)
    for side in range(2):
        e = i if side == 0 else j
        sign = 1.0 if side == 0 else -1.0
        for q in range(i_indptr[e], i_indptr[e + 1]):
            w = i_weights[q]
            r = i_indices[q]
            grad = -sign * g * w + reg_bias * item_row_bias[r]
            item_row_bias[r] -= _step(lr, grad, adagrad, acc_bias, r, 0)
            for f in range(k):
                grad = -sign * g * w * p[f] + reg * item_rows[r, f]
                item_rows[r, f] -= _step(lr, grad, adagrad, acc_item, r, f)


@njit(cache=True, nogil=True)
def _score(i_indptr, i_indices, i_weights, item_rows, item_row_bias, e, p, q):
    # pragma: no cover - compiled
    _compose(i_indptr, i_indices, i_weights, item_rows, e, q)
    s = _compose_bias(i_indptr, i_indices, i_weights, item_row_bias, e)
    for f in range(p.shape[0]):
        s += p[f] * q[f]
    return s


@njit(cache=True, nogil=True)
def bpr_feature_epoch(
    users,
    pos_items,
    neg_items,
    order,
    u_indptr,
    u_indices,
    u_weights,
    i_indptr,
    i_indices,
    i_weights,
    user_rows,
    item_rows,
    item_row_bias,
    lr,
    reg,
    reg_bias,
    adagrad,
    acc_user,
    acc_item,
    acc_bias,
):  # pragma: no cover - compiled
    """One BPR pass over the triples ``order`` indexes; updates the feature rows in place.

    For triple t = (u, i, j) with x = b_i − b_j + p_u·(q_i − q_j), the step descends
    −log σ(x) + λ/2 Σ‖row‖² over the vector rows used by u, i and j and
    λ_b/2 Σ b_row² over the bias rows used by i and j.  Every gradient is computed
    from the composed vectors before the step.  With ``adagrad`` each coordinate's step
    is η·grad/√acc, where ``acc_*`` (shaped like the weights, ``acc_bias`` as a column;
    they start at 1 as in LightFM) accumulate squared gradients; otherwise it is η·grad
    (and ``acc_*`` are not touched).  Returns the sum of −log σ(x) before each step.
    """
    k = user_rows.shape[1]
    p = np.empty(k, dtype=np.float64)
    qi = np.empty(k, dtype=np.float64)
    qj = np.empty(k, dtype=np.float64)
    total = 0.0
    for t in range(order.shape[0]):
        n = order[t]
        u = users[n]
        i = pos_items[n]
        j = neg_items[n]
        _compose(u_indptr, u_indices, u_weights, user_rows, u, p)
        x = _score(i_indptr, i_indices, i_weights, item_rows, item_row_bias, i, p, qi)
        x -= _score(i_indptr, i_indices, i_weights, item_rows, item_row_bias, j, p, qj)
        # g = σ(−x) = −d(−log σ(x))/dx, computed without overflow for either sign.
        if x >= 0.0:
            z = math.exp(-x)
            total += math.log1p(z)
            g = z / (1.0 + z)
        else:
            z = math.exp(x)
            total += -x + math.log1p(z)
            g = 1.0 / (1.0 + z)
        _apply(
            u,
            i,
            j,
            g,
            p,
            qi,
            qj,
            u_indptr,
            u_indices,
            u_weights,
            i_indptr,
            i_indices,
            i_weights,
            user_rows,
            item_rows,
            item_row_bias,
            lr,
            reg,
            reg_bias,
            adagrad,
            acc_user,
            acc_item,
            acc_bias,
        )
    return total


@njit(cache=True, nogil=True)
def warp_feature_epoch(
    users,
    pos_items,
    candidates,
    order,
    pos_indptr,
    pos_indices,
    n_negatives,
    u_indptr,
    u_indices,
    u_weights,
    i_indptr,
    i_indices,
    i_weights,
    user_rows,
    item_rows,
    item_row_bias,
    lr,
    reg,
    reg_bias,
    adagrad,
    acc_user,
    acc_item,
    acc_bias,
):  # pragma: no cover - compiled
    """One WARP pass (Weston, Bengio & Usunier 2011) over the positives ``order`` indexes.

    For the t-th positive n = order[t], (u, i), the candidates ``candidates[t, 0],
    candidates[t, 1], ...`` (drawn by the caller) are tried in turn, skipping the user's
    own positives (the sorted CSR ``pos_indptr/pos_indices``), until one, j, violates the
    margin:
    s_uj > s_ui − 1.  If that took N tries, the step descends
    L·(1 − s_ui + s_uj) + the L2 terms, with L = log⌊(n_negatives) / N⌋ (at least 0):
    a violation found at once means i ranks low, so the step is large; one found late
    means i is already near the top.  No violation among the candidates: no step.
    ``adagrad`` and the L2 terms are as in :func:`bpr_feature_epoch`.
    Returns the sum of L·(1 − s_ui + s_uj) over the steps taken.
    """
    k = user_rows.shape[1]
    m = candidates.shape[1]
    p = np.empty(k, dtype=np.float64)
    qi = np.empty(k, dtype=np.float64)
    qj = np.empty(k, dtype=np.float64)
    total = 0.0
    for t in range(order.shape[0]):
        n = order[t]
        u = users[n]
        i = pos_items[n]
        _compose(u_indptr, u_indices, u_weights, user_rows, u, p)
        s_i = _score(i_indptr, i_indices, i_weights, item_rows, item_row_bias, i, p, qi)
        lo = pos_indptr[u]
        hi = pos_indptr[u + 1]
        for c in range(m):
            j = candidates[t, c]
            at = lo + np.searchsorted(pos_indices[lo:hi], j)
            if at < hi and pos_indices[at] == j:
                continue
            s_j = _score(i_indptr, i_indices, i_weights, item_rows, item_row_bias, j, p, qj)
            if s_j > s_i - 1.0:
                weight = math.log(max(1.0, math.floor(n_negatives / (c + 1))))
                total += weight * (1.0 - s_i + s_j)
                _apply(
                    u,
                    i,
                    j,
                    weight,
                    p,
                    qi,
                    qj,
                    u_indptr,
                    u_indices,
                    u_weights,
                    i_indptr,
                    i_indices,
                    i_weights,
                    user_rows,
                    item_rows,
                    item_row_bias,
                    lr,
                    reg,
                    reg_bias,
                    adagrad,
                    acc_user,
                    acc_item,
                    acc_bias,
                )
                break
    return total


def bpr_loss(users, pos_items, neg_items, P, Q, item_bias) -> float:
    """Mean −log σ(b_i − b_j + p_u·(q_i − q_j)) over triples, from composed vectors.

    Example:
        >>> import numpy as np
        >>> z = np.zeros((2, 1), np.float32)
        >>> round(bpr_loss(np.array([0]), np.array([0]), np.array([1]), z, z,
        ...                np.zeros(2, np.float32)), 4)  # log 2
        0.6931
    """
    if users.shape[0] == 0:
        return float("nan")
    x = (item_bias[pos_items] - item_bias[neg_items]).astype(np.float64)
    x += np.einsum(
        "ij,ij->i", P[users].astype(np.float64), (Q[pos_items] - Q[neg_items]).astype(np.float64)
    )
    return float(np.mean(np.logaddexp(0.0, -x)))


def bpr_rows(indptr, indices, factors, bias, candidates, reg: float, max_iter: int = 50):
    """Per CSR row of positives, the vector that maximises the row's expected BPR objective.

    Row ``r`` holds positive items ``P`` (``indices[indptr[r]:indptr[r+1]]``); its
    negatives ``N`` are the ``candidates`` outside ``P``.  With ``s_i = bias[i] + p·q_i``
    (``q_i = factors[i]``) it maximises

        F(p) = Σ_{i∈P} mean_{j∈N} log σ(s_i − s_j) − (|P|·λ/2)‖p‖²,

    the objective whose stationary point BPR's stochastic steps seek (one uniform negative
    per positive, a penalty ``λ/2‖p‖²`` per step).  F is strictly concave for λ > 0, so
    Newton's method with a backtracking line search finds its one maximum from p = 0.
    Rows without positives or without negatives get zeros.  Deterministic: no sampling.

    Returns:
        ``(n, k)`` float32.

    Example:
        >>> import numpy as np
        >>> Q = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        >>> P = bpr_rows([0, 1], [0], Q, np.zeros(3), np.ones(3, bool), 0.1)
        >>> bool(P[0, 0] > 0), bool(P[0, 1] < 0)  # towards item 0, away from item 1
        (True, True)
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    Q = np.asarray(factors, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64)
    candidates = np.asarray(candidates, dtype=bool)
    n, k = indptr.size - 1, Q.shape[1]
    out = np.zeros((n, k))
    for r in range(n):
        pos = np.unique(indices[indptr[r] : indptr[r + 1]])
        keep = candidates.copy()
        keep[pos] = False
        neg = np.flatnonzero(keep)
        if pos.size and neg.size and k:
            out[r] = _bpr_newton(Q[pos], b[pos], Q[neg], b[neg], float(reg) * pos.size, max_iter)
    return out.astype(np.float32)


def _softplus(z):
    """log(1 + e^z) without overflow (np.logaddexp(0, z) is several times slower)."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(z):
    """σ(z), stable for either sign."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _newton_max(value, derivatives, d: int, max_iter: int = 50):
    """argmax of a strictly concave function from zero: Newton steps, each shortened
    until it gains (Armijo).  ``value(θ)`` is the function, ``derivatives(θ)`` its
    gradient and its negated Hessian (positive definite)."""
    theta = np.zeros(d)
    current = value(theta)
    for _ in range(max_iter):
        grad, hess = derivatives(theta)
        step = np.linalg.solve(hess, grad)
        slope = float(grad @ step)  # twice the expected gain of the full step
        if not slope > 1e-12 * max(1.0, abs(current)):
            break
        t = 1.0
        while True:
            trial = value(theta + t * step)
            if trial >= current + 1e-4 * t * slope:
                break
            t *= 0.5
            if t < 1e-10:  # no gain left at the precision of the sums
                return theta
        theta = theta + t * step
        current = trial
    return theta


def _bpr_newton(Qp, bp, Qn, bn, lam, max_iter):
    """argmax_p Σ_i mean_j log σ(s_i − s_j) − (lam/2)‖p‖² (see :func:`bpr_rows`)."""
    k, m = Qp.shape[1], bn.size
    # Positives in blocks: the pair table is |P| x |N|, kept to about 4M cells at a time.
    step_rows = max(1, (1 << 22) // m)
    lam = max(lam, 1e-8)  # without a penalty a separable row has no finite maximum

    def pairs(p):
        sp_, sn = bp + Qp @ p, bn + Qn @ p
        for a in range(0, sp_.size, step_rows):
            yield a, sp_[a : a + step_rows, None] - sn[None, :]

    def value(p):
        total = sum(float(_softplus(-x).sum()) for _, x in pairs(p))
        return -total / m - 0.5 * lam * float(p @ p)

    def derivatives(p):
        grad, hess = np.zeros(k), np.zeros((k, k))
        for a, x in pairs(p):
            g = _sigmoid(-x)
            w = g * (1.0 - g)
            qp = Qp[a : a + step_rows]
            grad += g.sum(1) @ qp - g.sum(0) @ Qn
            cross = qp.T @ (w @ Qn)
            hess += (qp.T * w.sum(1)) @ qp + (Qn.T * w.sum(0)) @ Qn - cross - cross.T
        return grad / m - lam * p, hess / m + lam * np.eye(k)

    return _newton_max(value, derivatives, k, max_iter)


def bpr_item_rows(
    indptr, indices, user_factors, item_factors, item_bias, seen, candidates, reg, reg_bias
):
    """Per CSR row of users who liked a new item, its vector and bias under BPR.

    The mirror of :func:`bpr_rows` with the users and the other items fixed.  In BPR
    training an item meets users twice: as the positive of each user who liked it (``U``,
    the row), against negatives drawn uniformly from the ``candidates`` the user has not
    seen, and as the negative drawn for another user's positive, with chance
    ``1/|E∖S_v|`` per positive (``E`` the candidates, ``S_v`` the user's positives, the
    ``seen`` CSR: pass the positives alone, not every item the user has seen, when
    some seen cells are not positives).  With ``s_v = b + p_v·q`` and ``a_vi`` the fixed
    score of item i for user v, the expected objective of one epoch is

        F(q, b) = Σ_{u∈U} mean_{j∈E∖S_u} log σ(s_u − a_uj)
                + Σ_{v∉U} Σ_{i∈S_v} log σ(a_vi − s_v) / |E∖S_v|
                − (N/2)(λ‖q‖² + λ_b b²),

    ``N`` the expected number of steps that use the item (each adds its penalty).
    Without the second sum an unpenalised bias would grow without bound: a new item
    would top every list.  F is concave in (q, b); Newton's method with a line search
    finds its maximum from zero.

    Returns:
        ``(bias (n,), factors (n, k))``, float32.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> P = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> Q = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> seen = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]]))
        >>> b, q = bpr_item_rows([0, 2], [0, 1], P, Q, np.zeros(2), seen,
        ...                      np.ones(2, bool), 0.1, 0.1)
        >>> bool(q[0, 0] > 0 > q[0, 1])  # liked by users 0 and 1, not by user 2
        True
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    P = np.asarray(user_factors, dtype=np.float64)
    Q = np.asarray(item_factors, dtype=np.float64)
    b = np.asarray(item_bias, dtype=np.float64)
    candidates = np.asarray(candidates, dtype=bool)
    n_users, k = P.shape
    n = indptr.size - 1
    out = np.zeros((n, k + 1))
    raw_indptr = seen_indptr = np.asarray(seen.indptr, dtype=np.int64)[: n_users + 1]
    raw_items = seen_items = np.asarray(seen.indices, dtype=np.int64)[: seen_indptr[-1]]
    cell_user = np.repeat(np.arange(n_users), np.diff(seen_indptr))
    # Only items with fixed vectors (the old ones) are scored.
    keep = seen_items < Q.shape[0]
    cell_user, seen_items = cell_user[keep], seen_items[keep]
    a_cells = b[seen_items] + np.einsum("ij,ij->i", P[cell_user], Q[seen_items])
    in_e = np.bincount(cell_user[candidates[seen_items]], minlength=n_users)
    per_user = np.bincount(cell_user, minlength=n_users)
    others = int(candidates.sum()) - in_e  # |E∖S_v|
    has_history = (per_user > 0) & (others > 0)
    X = np.hstack([P, np.ones((n_users, 1))])
    for r in range(n):
        liked = np.unique(indices[indptr[r] : indptr[r + 1]])
        liked = liked[liked < n_users]
        if liked.size == 0:
            continue
        # As a positive: each liker's scores of its negatives (E outside what it saw).
        A = b[None, :] + P[liked] @ Q.T
        neg = np.broadcast_to(candidates, A.shape).copy()
        for row, u in enumerate(liked):
            items = raw_items[raw_indptr[u] : raw_indptr[u + 1]]
            neg[row, items[items < Q.shape[0]]] = False
        count = neg.sum(1)
        # As a negative: every other user with a history, each positive with 1/|E∖S_v|.
        other = has_history.copy()
        other[liked] = False
        cells = other[cell_user]
        cu, ca = cell_user[cells], a_cells[cells]
        cw = 1.0 / others[cu]
        steps = liked.size + float(np.sum(per_user[other] / others[other]))
        out[r] = _item_newton(X, liked, A, neg, count, cu, ca, cw, steps, reg, reg_bias)
    return out[:, k].astype(np.float32), out[:, :k].astype(np.float32)


def _item_newton(X, liked, A, neg, count, cu, ca, cw, steps, reg, reg_bias, max_iter=50):
    """argmax_θ of :func:`bpr_item_rows`' objective for one item, θ = [q, b]."""
    d = X.shape[1]
    n_users = X.shape[0]
    penalty = np.full(d, max(float(reg), 1e-8) * steps)
    penalty[-1] = max(float(reg_bias), 1e-8) * steps
    usable = count > 0
    share = np.where(neg & usable[:, None], 1.0 / np.maximum(count, 1)[:, None], 0.0)

    def value(theta):
        s = X @ theta
        total = float(np.sum(share * _softplus(A - s[liked][:, None])))  # −log σ(s_u − a_uj)
        total += float(np.sum(cw * _softplus(s[cu] - ca)))  # −log σ(a_vi − s_v)
        return -total - 0.5 * float(theta @ (penalty * theta))

    def derivatives(theta):
        s = X @ theta
        g_pos = _sigmoid(A - s[liked][:, None])  # σ(−x), x = s_u − a_uj
        g_neg = _sigmoid(ca - s[cu])  # σ(−x), x = a_vi − s_v
        d1 = np.zeros(n_users)
        d2 = np.zeros(n_users)
        d1[liked] += (share * g_pos).sum(1)
        d2[liked] += (share * g_pos * (1.0 - g_pos)).sum(1)
        d1 -= np.bincount(cu, cw * (1.0 - g_neg), minlength=n_users)
        d2 += np.bincount(cu, cw * g_neg * (1.0 - g_neg), minlength=n_users)
        return X.T @ d1 - penalty * theta, (X.T * d2) @ X + np.diag(penalty)

    return _newton_max(value, derivatives, d, max_iter)
