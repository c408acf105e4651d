"""Pairwise ranking SGD for implicit feedback: BPR and WARP, lock-free (Hogwild) in parallel.

Both losses compare a positive item ``i`` of user ``u`` with a sampled negative ``j`` (an
item the user never interacted with) through x_uij = s(u, i) − s(u, j), where
s(u, i) = b_i + p_u · q_i.  One update, for a gradient weight ``g`` on x_uij, is::

    p_u += lr (g (q_i − q_j) − reg p_u)
    q_i += lr (g p_u − reg q_i)          b_i += lr (g − reg b_i)
    q_j += lr (−g p_u − reg q_j)         b_j += lr (−g − reg b_j)

with every right-hand side read before the step.  BPR (Rendle et al. 2009) ascends
ln σ(x_uij), so g = σ(−x_uij).  WARP (Weston et al. 2011) draws negatives until one breaks
the margin (s(u, j) > s(u, i) − 1) and descends the weighted hinge
L(⌊(n_items − 1) / N⌋) · (1 − x_uij), so g = L(⌊(n_items − 1) / N⌋), where N is the
number of draws and L(k) = Σ_{m=1..k} 1/m.  With AdaGrad (as in LightFM) each coordinate's
step ``lr · d`` becomes ``lr · d / sqrt(G)``, G being 1 plus the sum of that coordinate's
earlier squared ascent directions d².

Randomness comes from splitmix64 generators whose 64-bit states the caller seeds from its
``numpy.random.Generator`` (one per thread share, or one per folded-in row), so a fixed
seed with one thread gives bit-identical results.  Negatives are drawn by rejection
against the user's sorted CSR row (binary search), with an exact draw from the row's
complement after a few rejections so that dense rows never loop long.

Performance notes: the hot loop of :func:`pairwise_epoch` calls only leaf helpers, whose
generator state is a scalar passed in and returned: nested calls of numba functions that
take arrays are not always inlined, and each such call then costs reference counting on
every array (atomic operations, shared between threads) — more than the arithmetic.
``error_model="numpy"`` keeps Python's zero-divisor checks out of the per-factor loops,
which LLVM then vectorises.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

BPR = 0
WARP = 1

# Rejection draws before switching to the exact complement draw: with a row holding a
# share d of the items, rejection fails this many times in a row with probability d**8.
_MAX_REJECTIONS = 8

# Float reassociation lets LLVM vectorise the length-k loops; NaN and infinity keep their
# IEEE meaning (no "nnan"/"ninf"), so a diverging run is still caught.
_FAST = {"reassoc", "contract", "nsz", "arcp"}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


# ---------------------------------------------------------------------- random numbers
@njit(nogil=True, error_model="numpy")
def _rand_unit(state):  # pragma: no cover - compiled
    """splitmix64 step: ``(new_state, u)`` with u uniform in [0, 1)."""
    state = state + _GOLDEN
    z = (state ^ (state >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return state, np.float64(z >> _S11) * _INV53


@njit(nogil=True, error_model="numpy")
def _rand_below(state, n):  # pragma: no cover - compiled
    """``(new_state, r)`` with r uniform in [0, n) (n >= 1)."""
    state, u = _rand_unit(state)
    r = np.int64(u * n)
    return state, (r if r < n else n - 1)


# ---------------------------------------------------------------------- negative sampling
@njit(nogil=True, error_model="numpy")
def _kth_absent(indices, lo, hi, r):  # pragma: no cover - compiled
    """The ``r``-th (0-based) non-negative integer missing from sorted ``indices[lo:hi]``.

    ``indices[m] - (m - lo)`` counts the missing values below ``indices[m]`` and never
    decreases, so a binary search finds how many row entries lie below the answer.
    """
    a, b = lo, hi
    while a < b:
        mid = (a + b) >> 1
        if indices[mid] - (mid - lo) <= r:
            a = mid + 1
        else:
            b = mid
    return r + (a - lo)


@njit(nogil=True, error_model="numpy")
def _sample_negative(indptr, indices, row, n, state):  # pragma: no cover - compiled
    """``(new_state, j)``: j uniform on [0, n) minus the sorted CSR row ``row``; -1 if full."""
    lo = indptr[row]
    hi = indptr[row + 1]
    m = hi - lo
    if m >= n:
        return state, -1
    for _ in range(_MAX_REJECTIONS):
        state, j = _rand_below(state, n)
        a, b = lo, hi  # binary search for j in the row
        while a < b:
            mid = (a + b) >> 1
            v = indices[mid]
            if v < j:
                a = mid + 1
            elif v > j:
                b = mid
            else:
                break
        if a >= b:
            return state, j
    state, r = _rand_below(state, n - m)
    return state, _kth_absent(indices, lo, hi, r)


@njit(cache=True, nogil=True, error_model="numpy")
def sample_negatives(indptr, indices, rows, n, states):  # pragma: no cover - compiled
    """One negative per entry of ``rows``: out[s] in [0, n) and not in CSR row ``rows[s]``.

    Uses generator ``states[0]`` (uint64, advanced in place); -1 where a row is full.
    """
    out = np.empty(rows.shape[0], dtype=np.int64)
    state = states[0]
    for s in range(rows.shape[0]):
        state, j = _sample_negative(indptr, indices, rows[s], n, state)
        out[s] = j
    states[0] = state
    return out


def seed_states(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` generator states (uint64) drawn from ``rng``, for the kernels of this module.

    Example:
        >>> import numpy as np
        >>> seed_states(np.random.default_rng(0), 2).dtype
        dtype('uint64')
    """
    return rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)


def row_seed_states(base: int, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """One generator state (uint64) per CSR row that depends only on ``base`` and the set
    of column indices in that row: a row folded in alone, or anywhere in a batch, draws
    the same negatives (``seed_states`` gives a row the state of its place instead).

    Each index is mixed by SplitMix64 and the row's mixes are summed (so the order
    within the row does not count), then the sum, the row's length and ``base`` are
    mixed once more.

    Example:
        >>> import numpy as np
        >>> a = row_seed_states(7, np.array([0, 2]), np.array([3, 5]))
        >>> b = row_seed_states(7, np.array([0, 1, 3]), np.array([9, 5, 3]))
        >>> bool(a[0] == b[1]), bool(a[0] == b[0]), a.dtype
        (True, False, dtype('uint64'))
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    mixed = _splitmix64(np.asarray(indices, dtype=np.uint64))
    with np.errstate(over="ignore"):
        sums = np.zeros(mixed.size + 1, dtype=np.uint64)
        np.cumsum(mixed, dtype=np.uint64, out=sums[1:])
        # uint64 arithmetic wraps: the difference of two prefix sums is the row's sum.
        row_sums = sums[indptr[1:]] - sums[indptr[:-1]]
        lengths = np.diff(indptr).astype(np.uint64)
        key = row_sums ^ _splitmix64(lengths ^ np.uint64(int(base) & 0xFFFFFFFFFFFFFFFF))
    return _splitmix64(key)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on each value (uint64, wrapping)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def warp_rank_weights(n_items: int) -> np.ndarray:
    """WARP's rank weights: ``out[k] = L(k) = Σ_{m=1..k} 1/m`` for k = 0 .. n_items − 1.

    WARP weighs an update found after N draws by ``out[(n_items - 1) // N]``.

    Example:
        >>> warp_rank_weights(4).tolist()  # L(0), L(1), L(2), L(3)
        [0.0, 1.0, 1.5, 1.8333333333333333]
    """
    out = np.zeros(max(int(n_items), 1), dtype=np.float64)
    out[1:] = np.cumsum(1.0 / np.arange(1, out.shape[0], dtype=np.float64))
    return out


# ---------------------------------------------------------------------- scores and steps
@njit(nogil=True, fastmath=_FAST, error_model="numpy")
def _score(P, u, Q, b, i):  # pragma: no cover - compiled
    acc = np.float32(0.0)
    for f in range(P.shape[1]):
        acc += P[u, f] * Q[i, f]
    return acc + b[i]


@njit(nogil=True, fastmath=_FAST, error_model="numpy")
def _margin(P, u, Q, b, i, j):  # pragma: no cover - compiled
    """x_uij = s(u, i) − s(u, j) in one pass."""
    acc = np.float32(0.0)
    for f in range(P.shape[1]):
        acc += P[u, f] * (Q[i, f] - Q[j, f])
    return acc + (b[i] - b[j])


@njit(nogil=True, error_model="numpy")
def _logistic(x):  # pragma: no cover - compiled
    """(σ(−x), −ln σ(x)) = (1 / (1 + e^x), ln(1 + e^−x)), with one exp and no overflow."""
    if x >= 0:
        e = math.exp(-x)
        return e / (1.0 + e), math.log1p(e)
    e = math.exp(x)
    return 1.0 / (1.0 + e), math.log1p(e) - x


@njit(nogil=True, fastmath=_FAST, error_model="numpy")
def _step(P, u, Q, b, GP, GQ, Gb, i, j, g, lr, reg, use_bias, adagrad):  # pragma: no cover
    """The full update of p_u, q_i, q_j (and b_i, b_j) for gradient weight ``g`` on x_uij.

    With ``adagrad`` each coordinate's step is divided by the root of its accumulator in
    ``GP``, ``GQ`` or the one-column ``Gb`` (which start at 1), and the accumulator then
    grows by the squared direction: LightFM's order.
    """
    g = np.float32(g)
    if adagrad:
        for f in range(P.shape[1]):
            pu = P[u, f]
            qi = Q[i, f]
            qj = Q[j, f]
            du = g * (qi - qj) - reg * pu
            di = g * pu - reg * qi
            dj = -g * pu - reg * qj
            gu = GP[u, f]
            gi = GQ[i, f]
            gj = GQ[j, f]
            P[u, f] = pu + lr * du / np.sqrt(gu)
            Q[i, f] = qi + lr * di / np.sqrt(gi)
            Q[j, f] = qj + lr * dj / np.sqrt(gj)
            GP[u, f] = gu + du * du
            GQ[i, f] = gi + di * di
            GQ[j, f] = gj + dj * dj
        if use_bias:
            di = g - reg * b[i]
            dj = -g - reg * b[j]
            gi = Gb[i, 0]
            gj = Gb[j, 0]
            b[i] += lr * di / np.sqrt(gi)
            b[j] += lr * dj / np.sqrt(gj)
            Gb[i, 0] = gi + di * di
            Gb[j, 0] = gj + dj * dj
    else:
        for f in range(P.shape[1]):
            pu = P[u, f]
            qi = Q[i, f]
            qj = Q[j, f]
            P[u, f] = pu + lr * (g * (qi - qj) - reg * pu)
            Q[i, f] = qi + lr * (g * pu - reg * qi)
            Q[j, f] = qj + lr * (-g * pu - reg * qj)
        if use_bias:
            bi = b[i]
            bj = b[j]
            b[i] = bi + lr * (g - reg * bi)
            b[j] = bj + lr * (-g - reg * bj)


@njit(nogil=True, fastmath=_FAST, error_model="numpy")
def _step_user(P, u, Q, GP, i, j, g, lr, reg, adagrad):  # pragma: no cover - compiled
    """The update of p_u alone (items fixed), as in :func:`_step`."""
    g = np.float32(g)
    for f in range(P.shape[1]):
        pu = P[u, f]
        d = g * (Q[i, f] - Q[j, f]) - reg * pu
        if adagrad:
            acc = GP[u, f]
            P[u, f] = pu + lr * d / np.sqrt(acc)
            GP[u, f] = acc + d * d
        else:
            P[u, f] = pu + lr * d


@njit(nogil=True, fastmath=_FAST, error_model="numpy")
def _step_item(P, u, Q, b, GQ, Gb, c, g, lr, reg, use_bias, adagrad):  # pragma: no cover
    """The update of item c alone (users and other items fixed): q_c += lr (g p_u − reg q_c).

    ``g`` > 0 when c is the positive of the triple, < 0 when it is the negative.
    """
    g = np.float32(g)
    for f in range(P.shape[1]):
        qc = Q[c, f]
        d = g * P[u, f] - reg * qc
        if adagrad:
            acc = GQ[c, f]
            Q[c, f] = qc + lr * d / np.sqrt(acc)
            GQ[c, f] = acc + d * d
        else:
            Q[c, f] = qc + lr * d
    if use_bias:
        d = g - reg * b[c]
        if adagrad:
            acc = Gb[c, 0]
            b[c] += lr * d / np.sqrt(acc)
            Gb[c, 0] = acc + d * d
        else:
            b[c] += lr * d


@njit(nogil=True, error_model="numpy")
def _warp_draw(
    P, u, Q, b, s_i, indptr, indices, row, n_neg, state, max_sampled
):  # pragma: no cover
    """WARP's draws for a positive scoring ``s_i``: ``(state, j, n_drawn, s_j, first_j_score)``.

    j is the first negative with s(u, j) > s_i − 1, or -1 when ``max_sampled`` draws find
    none (or the row has no negative at all, then ``n_drawn`` is 0).
    """
    state, j = _sample_negative(indptr, indices, row, n_neg, state)
    if j < 0:
        return state, -1, 0, 0.0, 0.0
    s_j = _score(P, u, Q, b, j)
    first = s_j
    n_drawn = 1
    while s_j <= s_i - 1.0 and n_drawn < max_sampled:
        state, j = _sample_negative(indptr, indices, row, n_neg, state)
        s_j = _score(P, u, Q, b, j)
        n_drawn += 1
    if s_j <= s_i - 1.0:
        j = -1
    return state, j, n_drawn, s_j, first


# ---------------------------------------------------------------------- training epochs
@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def pairwise_epoch(
    indptr,
    indices,
    cell_user,
    m,
    opts,
    loss_kind,
    order,
    max_sampled,
    weights,
    states,
    loss_out,
    correct_out,
    used_out,
):  # pragma: no cover - compiled
    """One step per (user, positive) cell listed in ``order`` (cell numbers of the CSR).

    ``m`` = (P, Q, b, GP, GQ, Gb) is updated in place (the AdaGrad accumulators GP, GQ, Gb
    only when ``opts`` = (lr, reg, use_bias, adagrad) asks for AdaGrad; they may be empty
    otherwise); ``loss_kind`` is :data:`BPR` or :data:`WARP`.  Lock-free: ``order`` is cut
    into ``len(states)`` contiguous shares run at once, share t drawing from generator
    ``states[t]``, all updating the shared arrays without locks (Hogwild); with one state
    the pass is sequential and deterministic.  Per share it writes the summed loss, the
    number of samples whose positive outscored the (first) negative and the number of
    samples used (a user holding every item has no negative and is skipped).
    """
    P, Q, b, GP, GQ, Gb = m
    lr, reg, use_bias, adagrad = opts
    n_shares = states.shape[0]
    n_samples = order.shape[0]
    n_items = Q.shape[0]
    for t in prange(n_shares):
        state = states[t]
        loss = 0.0
        correct = 0
        used = 0
        for s in range(n_samples * t // n_shares, n_samples * (t + 1) // n_shares):
            c = order[s]
            u = cell_user[c]
            i = indices[c]
            if loss_kind == BPR:
                state, j = _sample_negative(indptr, indices, u, n_items, state)
                if j < 0:
                    continue
                used += 1
                x = _margin(P, u, Q, b, i, j)
                g, ell = _logistic(x)
                loss += ell
                if x > 0:
                    correct += 1
            else:
                s_i = _score(P, u, Q, b, i)
                state, j, n_drawn, s_j, first = _warp_draw(
                    P, u, Q, b, s_i, indptr, indices, u, n_items, state, max_sampled
                )
                if n_drawn == 0:
                    continue
                used += 1
                if s_i > first:
                    correct += 1
                if j < 0:
                    continue
                g = weights[(n_items - 1) // n_drawn]
                loss += g * (1.0 - s_i + s_j)
            _step(P, u, Q, b, GP, GQ, Gb, i, j, g, lr, reg, use_bias, adagrad)
        states[t] = state
        loss_out[t] = loss
        correct_out[t] = correct
        used_out[t] = used


# ---------------------------------------------------------------------- fold-in
@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def fold_in_users(
    indptr, indices, m, opts, loss_kind, n_epochs, max_sampled, weights, states
):  # pragma: no cover - compiled
    """Steps on new user vectors ``m[0]`` (rows of the CSR ``indptr, indices``), items fixed.

    ``m`` = (P_new, Q, b, GP_new, GQ, Gb) with P_new zeroed by the caller (and GP_new all
    ones for AdaGrad).  Row r gets ``n_epochs * len(row)`` steps, each on a positive drawn
    uniformly from its row and negatives drawn from the other items.  Rows are independent
    and row r has its own generator ``states[r]``, so the result does not depend on the
    number of threads.
    """
    P, Q, b, GP, GQ, Gb = m
    lr, reg, use_bias, adagrad = opts
    n_items = Q.shape[0]
    for r in prange(indptr.shape[0] - 1):
        state = states[r]
        lo = indptr[r]
        n_pos = indptr[r + 1] - lo
        if n_pos == 0 or n_pos >= n_items:
            continue
        for _ in range(n_epochs * n_pos):
            state, k = _rand_below(state, n_pos)
            i = indices[lo + k]
            if loss_kind == BPR:
                state, j = _sample_negative(indptr, indices, r, n_items, state)
                g = _logistic(_margin(P, r, Q, b, i, j))[0]
            else:
                s_i = _score(P, r, Q, b, i)
                state, j, n_drawn, s_j, first = _warp_draw(
                    P, r, Q, b, s_i, indptr, indices, r, n_items, state, max_sampled
                )
                if j < 0:
                    continue
                g = weights[(n_items - 1) // n_drawn]
            _step_user(P, r, Q, GP, i, j, g, lr, reg, adagrad)
        states[r] = state


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def fold_in_items(
    indptr,
    indices,
    m,
    opts,
    n_old,
    seen_indptr,
    seen_indices,
    loss_kind,
    n_epochs,
    n_as_negative,
    max_sampled,
    weights,
    states,
):  # pragma: no cover - compiled
    """Steps on new item vectors with the user factors and the old items fixed.

    ``m`` = (P, Q_ext, b_ext, GP, GQ_ext, Gb_ext): ``Q_ext``/``b_ext`` hold the ``n_old``
    trained items followed by one zeroed row per new item (row r of the CSR
    ``indptr, indices`` lists the users of new item ``n_old + r``); only the new rows
    change.  ``seen_indptr, seen_indices`` is the users' training CSR over the old items.
    Each epoch mirrors what full training does to one item:

    * as a positive, ``len(row)`` steps on (u, new item, j) with u from its row and j an
      old item u never saw (BPR), or WARP's draw-until-violation against old items;
    * as a negative, ``n_as_negative`` (about the mean item popularity: how often uniform
      negative sampling picks one item per epoch) steps on (v, l, new item) with v a user
      outside its row and l one of v's items.  For WARP, a pair (v, l) whose margin the
      new item breaks is updated with the weight L(⌊(n_old − 1) / N⌋), N being the draws
      WARP needs among the old items for (v, l), and with probability N / max_sampled
      (the chance that the new item is the violator WARP finds), over ``max_sampled``
      times as many pairs.

    Rows are independent with their own generators ``states[r]``: thread-count free.
    """
    P, Q, b, GP, GQ, Gb = m
    lr, reg, use_bias, adagrad = opts
    n_users = P.shape[0]
    for r in prange(indptr.shape[0] - 1):
        state = states[r]
        c = n_old + r
        lo = indptr[r]
        n_pos = indptr[r + 1] - lo
        if n_pos == 0:
            continue
        n_draws = n_as_negative if loss_kind == BPR else n_as_negative * max_sampled
        for _ in range(n_epochs):
            for _ in range(n_pos):  # the new item as the positive
                state, k = _rand_below(state, n_pos)
                u = indices[lo + k]
                if loss_kind == BPR:
                    state, j = _sample_negative(seen_indptr, seen_indices, u, n_old, state)
                    if j < 0:
                        continue
                    g = _logistic(_margin(P, u, Q, b, c, j))[0]
                else:
                    s_c = _score(P, u, Q, b, c)
                    state, j, n_drawn, s_j, first = _warp_draw(
                        P, u, Q, b, s_c, seen_indptr, seen_indices, u, n_old, state, max_sampled
                    )
                    if j < 0:
                        continue
                    g = weights[(n_old - 1) // n_drawn]
                _step_item(P, u, Q, b, GQ, Gb, c, g, lr, reg, use_bias, adagrad)
            for _ in range(n_draws):  # the new item as the negative
                state, v = _sample_negative(indptr, indices, r, n_users, state)
                if v < 0:
                    break
                v_lo = seen_indptr[v]
                v_n = seen_indptr[v + 1] - v_lo
                if v_n == 0:
                    continue
                state, k = _rand_below(state, v_n)
                ell = seen_indices[v_lo + k]
                x = _margin(P, v, Q, b, ell, c)
                if loss_kind == BPR:
                    g = _logistic(x)[0]
                else:
                    if x >= 1.0:
                        continue
                    s_l = _score(P, v, Q, b, ell)
                    state, j, n_drawn, s_j, first = _warp_draw(
                        P, v, Q, b, s_l, seen_indptr, seen_indices, v, n_old, state, max_sampled
                    )
                    if n_drawn == 0:
                        n_drawn = 1
                    state, u01 = _rand_unit(state)
                    if u01 * max_sampled >= n_drawn:
                        continue
                    g = weights[(n_old - 1) // n_drawn]
                _step_item(P, v, Q, b, GQ, Gb, c, -g, lr, reg, use_bias, adagrad)
        states[r] = state
