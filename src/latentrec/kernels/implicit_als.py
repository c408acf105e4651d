"""Confidence-weighted least squares for implicit feedback (Hu, Koren & Volinsky 2008).

One half-step of implicit ALS solves, for every row u of a CSR matrix (users x items
for the user half-step, items x users for the item half-step), with the other side's
factors Y fixed:

    min_x  Σ_{j∈S(u)} c_uj (1 − x·y_j)² + Σ_{j∉S(u)} (x·y_j)² + λ‖x‖²

whose normal equations are ``(G + λI + Σ_{j∈S(u)} (c_uj − 1) y_j y_jᵀ) x = Σ_{j∈S(u)} c_uj y_j``
with ``G = YᵀY``.  ``G + λI`` is formed once per half-step; each row then adds only the
terms of its observed cells, so the cost is O(nnz·k) per conjugate-gradient step
(Takács, Pilászy & Tikk 2011) or O(nnz·k² + rows·k³) for the exact Cholesky solve.

Confidences are ``c = 1 + alpha * v`` with ``v`` the stored (already transformed) value.

Both solvers also return the row objectives at the new x, without another pass over
the data: with ``A x = b`` the row system and ``r = b − A x`` its residual, the row
objective is ``Σc − 2bᵀx + xᵀAx = Σc − bᵀx − rᵀx``.  CG tracks ``r``; ``bᵀx`` follows
from ``bᵀx₀`` (a by-product of the first residual) plus ``bᵀd = r₀ᵀd + x₀ᵀ(Ad)`` for the
step ``d = x − x₀``, where ``Ad`` is the sum of the ``α_t A p_t`` that CG computes anyway.

Rows are cut into work-balanced chunks (see :func:`row_chunks`) processed in parallel;
each row is solved by one thread from its own inputs only, so the factors do not depend
on the number of threads, and per-chunk objectives are summed in a fixed order.

They do depend on the CPU, in the last bits: :data:`CG_FASTMATH` lets LLVM re-associate
CG's sums to vectorise them with what the CPU offers (AVX-512 on an AMD Zen 4, only AVX2
compiled for ``haswell``), and ``YᵀY`` comes from whichever kernel OpenBLAS picks.
Over 15 iterations that moved MovieLens-100K's P@10 at ``alpha=10`` and 40 in the 4th
decimal; ``benchmarks/_pinned_cpu.py`` pins both where figures must reproduce.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Stop CG on a row once the squared residual norm falls below this (as implicit does).
CG_TOLERANCE = 1e-20
#: Stop CG on a row when a search direction p has ``pᵀAp <= CG_BREAKDOWN · trace(A) · pᵀp``:
#: p then lies, to float32 rounding, in the null space of the row's system A (regularization
#: 0 with collinear factors, e.g. fewer items than factors).  The step ``rᵀr / pᵀAp`` along
#: it would be rounding divided by rounding, and it threw the factors off by orders of
#: magnitude (tests/models/test_zero_regularization.py); a regular system has
#: ``pᵀAp ≥ λ_min(A)·pᵀp``, so the test stops it only at a condition number over about
#: ``1 / (k · CG_BREAKDOWN)``, where float32 CG has no accuracy left to lose.
CG_BREAKDOWN = 1e-5
#: :func:`max_condition`: the exact solver refuses a Gram matrix whose condition number
#: times ``k · eps64`` exceeds 1 / this, i.e. whose solve may be off by more than 1e-3.
EXACT_DIGITS_MARGIN = 1e4
#: The largest float32: a CG sum past it is infinite, and the row's solve is lost.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Reassociation (to vectorise the dot products) and fused multiply-add, but never the
#: assumption that values are finite: with numba's ``fastmath=True`` ("nnan", "ninf")
#: the tests for an overflowed sum below were compiled away, and an infinite ``pᵀAp``
#: went on to NaN and a division by zero (a SystemError out of the parallel kernel).
CG_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
#: float64 machine epsilon, for the pivot test of :func:`cholesky_half_step`.
EPS64 = float(np.finfo(np.float64).eps)
#: Rows of Y cast to float64 at a time by :func:`gram` (16 MiB at k = 32).
GRAM_SLICE = 1 << 16


def row_chunks(indptr: np.ndarray, k: int, n_chunks: int = 256) -> np.ndarray:
    """Boundaries (int64, ``n+1`` values) of up to ``n_chunks`` row ranges of equal work.

    A row costs about its number of cells plus ``k / 2`` (the dense ``k x k`` product
    per CG step counts as ``k / 2`` cells of dot-plus-axpy work), so heavy rows (popular
    items) do not all land on one thread.  The chunking does not depend on the thread
    count, which keeps results identical for any ``num_threads``.

    Example:
        >>> import numpy as np
        >>> row_chunks(np.array([0, 10, 10, 20, 30]), k=0, n_chunks=3).tolist()
        [0, 2, 3, 4]
    """
    n_rows = indptr.shape[0] - 1
    if n_rows == 0:
        return np.zeros(1, dtype=np.int64)
    work = np.diff(indptr).astype(np.float64) + k / 2.0 + 1.0
    cum = np.concatenate(([0.0], np.cumsum(work)))
    targets = np.linspace(0.0, cum[-1], min(n_chunks, n_rows) + 1)
    bounds = np.searchsorted(cum, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, n_rows
    return np.unique(bounds)


def gram(Y: np.ndarray, regularization: float, dtype=np.float32) -> np.ndarray:
    """``YᵀY + λI`` as ``dtype`` (one BLAS call; the only place all of Y is read at once).

    float32 (the default) is what conjugate gradient works in.  The exact solver asks for
    float64: in float32 a λ below about 1e-7 of the diagonal is lost when added, and a
    singular ``YᵀY`` comes out with rounding eigenvalues of about 1e-7·‖Y‖² of either
    sign, so a tiny λ would leave a system that is singular in all but name.  The
    product of two float32 values is exact in float64, so the float64 Gram carries only
    the rounding of its sums (about 1e-16 relative).

    Example:
        >>> import numpy as np
        >>> gram(np.array([[1.0, 2.0]], np.float32), 0.5).tolist()
        [[1.5, 2.0], [2.0, 4.5]]
        >>> A = gram(np.array([[1.0, 2.0]], np.float32), 1e-12, np.float64)
        >>> A.dtype.name, bool(A[0, 0] > 1.0)
        ('float64', True)
    """
    Y = np.asarray(Y)
    if np.dtype(dtype) == np.float64 and Y.dtype != np.float64:
        # Cast before the product (float32 BLAS would round its sums in float32), a
        # slice at a time: a float64 copy of all of Y would double its memory.
        G = np.zeros((Y.shape[1], Y.shape[1]), dtype=np.float64)
        for a in range(0, Y.shape[0], GRAM_SLICE):
            part = Y[a : a + GRAM_SLICE].astype(np.float64)
            G += part.T @ part
    else:
        G = np.asarray(Y.T @ Y, dtype=dtype)
    G[np.diag_indices_from(G)] += G.dtype.type(regularization)
    return np.ascontiguousarray(G)


def exact_budget(A0: np.ndarray) -> tuple[float, float]:
    """``(condition, budget)`` of ``A0 = YᵀY + λI`` for :func:`cholesky_half_step`.

    ``condition`` is ``λ_max / λ_min`` (``inf`` when ``A0`` is not finite or its smallest
    eigenvalue is not positive: rounding can make a singular ``YᵀY`` slightly
    indefinite).  A row's system is ``A = A0 + W`` with ``W = Σ (c − 1) y yᵀ`` positive
    semidefinite (confidences are at least 1), so ``λ_min(A) ≥ λ_min(A0)`` and
    ``‖A‖ ≤ λ_max(A0) + trace(W)``.  Its solve is within 1e-3 (see :func:`max_condition`)
    while ``‖A‖ ≤ λ_min(A0) / (EXACT_DIGITS_MARGIN · k · eps)``; ``budget`` is how much
    ``trace(W)`` that leaves, and negative exactly when ``condition > max_condition(k)``:
    then no row can be solved.

    Example:
        >>> import numpy as np
        >>> condition, budget = exact_budget(np.diag([4.0, 0.5]))
        >>> condition, f"{budget:.3e}"
        (8.0, '1.126e+11')
        >>> exact_budget(np.zeros((2, 2)))
        (inf, -inf)
    """
    A0 = np.asarray(A0, dtype=np.float64)
    k = A0.shape[0]
    if k == 0:
        return 1.0, float("inf")
    if not np.isfinite(A0).all():
        return float("inf"), float("-inf")
    eig = np.linalg.eigvalsh(A0)
    low, high = float(eig[0]), float(eig[-1])
    if not low > 0.0:
        return float("inf"), float("-inf")
    return high / low, low / (EXACT_DIGITS_MARGIN * k * EPS64) - high


def max_condition(k: int) -> float:
    """The largest condition number of ``YᵀY + λI`` (k x k) the exact solver accepts.

    A float64 Cholesky solve of a system of condition κ, from a Gram matrix formed in
    float64, is off by about ``κ · k · eps`` relative (eps = 2.2e-16): on 13,000 random
    near-singular systems (k = 3-8, λ from 1e-12 to 1e-6, against an SVD least-squares
    reference) by at most 8 times that.  Accepting ``κ ≤ 1 / (1e4 · k · eps)``
    (:data:`EXACT_DIGITS_MARGIN`) keeps an accepted system within 1e-3 of the exact
    minimiser; beyond it the system counts as singular and is refused.  A row's own
    cells can only raise κ above ``A0``'s: :func:`exact_budget` bounds how far.

    Example:
        >>> f"{max_condition(5):.2e}"
        '9.01e+10'
    """
    return 1.0 / (EXACT_DIGITS_MARGIN * max(k, 1) * EPS64)


def cg_half_step(indptr, indices, values, alpha, X, Y, A0, cg_steps, bounds, chunk_loss) -> int:
    """Update every row of X in place by ``cg_steps`` CG steps warm-started from X.

    ``A0 = YᵀY + λI`` (float32, k x k).  Writes the sum of the new row objectives of
    chunk ``c`` (rows ``bounds[c]:bounds[c+1]``) to ``chunk_loss[c]`` (float64).

    Returns the number of chunks in which a row's CG sums overflowed float32 (a
    residual or a curvature ``pᵀAp`` past :data:`FLOAT32_MAX`: confidences too large
    for the factors' scale); such a row stops where it was, its chunk's loss is NaN,
    and the caller must not use the half-step.  A row whose residual is already (near)
    zero stops before dividing by it (the standard CG guard), as does a direction of
    zero curvature (see :data:`CG_BREAKDOWN`), so no step ever divides by zero.

    The row solver :func:`_cg_rows` (``fastmath``) is called once on an empty range before
    the parallel kernel runs.  Why: the parallel kernel carries its own copy of the row
    solver, re-optimised after linking, and with ``fastmath`` re-association that copy can
    round differently from the solver's own compiled code.  numba's JIT resolves the call
    to whichever copy was loaded first: in a process that compiles, the solver's own code;
    in a process that loads the kernel from numba's cache, the kernel's copy, unless the
    solver was loaded before it.  Loading the solver first makes both runs execute the
    same machine code, so a fixed seed gives the same factors compiled or cached.

    Example:
        >>> import numpy as np
        >>> def ro(values, dtype):  # read-only, as ImplicitALS passes its data (one compile)
        ...     out = np.array(values, dtype)
        ...     out.flags.writeable = False
        ...     return out
        >>> Y = np.eye(2, dtype=np.float32)
        >>> X = np.zeros((1, 2), np.float32)
        >>> loss = np.zeros(1)
        >>> cg_half_step(ro([0, 1], np.int64), ro([0], np.int32), ro([1.0], np.float32),
        ...              np.float32(1.0), X, Y, gram(Y, 1.0), np.int64(2),
        ...              np.array([0, 1], np.int64), loss)
        0
        >>> [round(float(v), 4) for v in X[0]]
        [0.6667, 0.0]
    """
    empty = np.int64(0)
    _cg_rows(indptr, indices, values, alpha, X, Y, A0, cg_steps, empty, empty)
    _cg_half_step_parallel(indptr, indices, values, alpha, X, Y, A0, cg_steps, bounds, chunk_loss)
    return int(np.count_nonzero(np.isnan(chunk_loss)))


@njit(cache=True, parallel=True, nogil=True)
def _cg_half_step_parallel(
    indptr, indices, values, alpha, X, Y, A0, cg_steps, bounds, chunk_loss
):  # pragma: no cover - compiled
    """:func:`cg_half_step`'s chunks in parallel; call it only through that function."""
    for c in prange(bounds.shape[0] - 1):
        chunk_loss[c] = _cg_rows(
            indptr, indices, values, alpha, X, Y, A0, cg_steps, bounds[c], bounds[c + 1]
        )


@njit(cache=True, fastmath=CG_FASTMATH, nogil=True)
def _cg_rows(indptr, indices, values, alpha, X, Y, A0, cg_steps, lo, hi):  # pragma: no cover
    """CG steps on rows ``lo:hi`` of X (see :func:`cg_half_step`); returns their objective
    sum, NaN if a row's sums overflowed float32."""
    k = X.shape[1]
    r = np.empty(k, dtype=np.float32)
    p = np.empty(k, dtype=np.float32)
    Ap = np.empty(k, dtype=np.float32)
    x0 = np.empty(k, dtype=np.float32)
    r0 = np.empty(k, dtype=np.float32)
    d = np.empty(k, dtype=np.float32)
    Ad = np.empty(k, dtype=np.float32)
    loss = 0.0
    trace0 = np.float32(0.0)
    for f in range(k):
        trace0 += A0[f, f]
    for u in range(lo, hi):
        start = indptr[u]
        stop = indptr[u + 1]
        trace = trace0
        # r = b − A x with b = Σ c y and A = A0 + Σ (c − 1) y yᵀ, in one pass.
        for f in range(k):
            x0[f] = X[u, f]
            r[f] = 0.0
            d[f] = 0.0
            Ad[f] = 0.0
        for g in range(k):
            xg = x0[g]
            for f in range(k):
                r[f] -= A0[g, f] * xg
        sum_c = 0.0
        b_x0 = 0.0
        for n in range(start, stop):
            j = indices[n]
            conf = np.float32(1.0) + alpha * values[n]
            s = np.float32(0.0)
            for f in range(k):
                s += Y[j, f] * x0[f]
            coef = conf - (conf - np.float32(1.0)) * s
            yy = np.float32(0.0)
            for f in range(k):
                r[f] += coef * Y[j, f]
                yy += Y[j, f] * Y[j, f]
            trace += (conf - np.float32(1.0)) * yy
            sum_c += conf
            b_x0 += conf * s
        rs_old = np.float32(0.0)
        for f in range(k):
            r0[f] = r[f]
            p[f] = r[f]
            rs_old += r[f] * r[f]
        # Not "> FLOAT32_MAX": that is False for NaN, which must count as overflow too.
        overflow = not (rs_old <= FLOAT32_MAX and trace <= FLOAT32_MAX)
        for _ in range(cg_steps if not overflow else 0):
            if rs_old < CG_TOLERANCE:
                break  # already solved: the steps below would divide by a zero residual
            for f in range(k):
                Ap[f] = 0.0
            for g in range(k):
                pg = p[g]
                for f in range(k):
                    Ap[f] += A0[g, f] * pg
            for n in range(start, stop):
                j = indices[n]
                conf = np.float32(1.0) + alpha * values[n]
                s = np.float32(0.0)
                for f in range(k):
                    s += Y[j, f] * p[f]
                s *= conf - np.float32(1.0)
                for f in range(k):
                    Ap[f] += s * Y[j, f]
            pAp = np.float32(0.0)
            pp = np.float32(0.0)
            for f in range(k):
                pAp += p[f] * Ap[f]
                pp += p[f] * p[f]
            if not pAp <= FLOAT32_MAX:
                # An infinite pᵀAp (the compared threshold is float64, so it passed the
                # test below) made every step 0, then NaN: the row was silently not solved.
                overflow = True
                break
            if not pAp > CG_BREAKDOWN * trace * pp:
                break
            step = rs_old / pAp
            rs_new = np.float32(0.0)
            for f in range(k):
                X[u, f] += step * p[f]
                d[f] += step * p[f]
                Ad[f] += step * Ap[f]
                r[f] -= step * Ap[f]
                rs_new += r[f] * r[f]
            if not rs_new <= FLOAT32_MAX:
                overflow = True
                break
            if rs_new < CG_TOLERANCE:
                break
            beta = rs_new / rs_old
            for f in range(k):
                p[f] = r[f] + beta * p[f]
            rs_old = rs_new
        b_d = 0.0
        r_x = 0.0
        for f in range(k):
            b_d += np.float64(r0[f]) * d[f] + np.float64(x0[f]) * Ad[f]
            r_x += np.float64(r[f]) * X[u, f]
        loss += sum_c - (b_x0 + b_d) - r_x
        if overflow:
            loss = np.nan
    return loss


@njit(cache=True, parallel=True, nogil=True)
def cholesky_half_step(
    indptr, indices, values, alpha, X, Y, A0, budget, bounds, chunk_loss, failed
):  # pragma: no cover - compiled
    """Set every row of X to the exact minimiser (float64 Cholesky of the k x k system).

    ``A0 = YᵀY + λI``, best formed in float64 (``gram(Y, λ, np.float64)``): the row
    systems are accumulated in float64 from it, and a float32 ``A0`` has already lost
    what lies below float32 resolution.  ``budget`` (float) is the second value of
    ``exact_budget(A0)``, checked ``>= 0`` by the caller: a row whose cells add more than
    that to the trace (``Σ (c − 1) ‖y‖²``) is refused, its solve could be off by more
    than 1e-3.  ``budget = inf`` leaves only the pivot test, which catches a system
    singular to rounding and nothing less.

    ``failed[c]`` is set to 1 + the first row of chunk ``c`` whose system was refused
    (that row is left unchanged), else 0.

    Example:
        >>> import numpy as np
        >>> def ro(values, dtype):  # read-only, as ImplicitALS passes its data (one compile)
        ...     out = np.array(values, dtype)
        ...     out.flags.writeable = False
        ...     return out
        >>> Y = np.eye(2, dtype=np.float32)
        >>> X = np.zeros((1, 2), np.float32)
        >>> loss, failed = np.zeros(1), np.zeros(1, np.int64)
        >>> cholesky_half_step(ro([0, 1], np.int64), ro([0], np.int32), ro([1.0], np.float32),
        ...                    np.float32(1.0), X, Y, gram(Y, 1.0, np.float64), np.inf,
        ...                    np.array([0, 1], np.int64), loss, failed)
        >>> [round(float(v), 4) for v in X[0]], failed.tolist()
        ([0.6667, 0.0], [0])
        >>> singular = np.ones((2, 2), np.float32)  # two identical rows: rank 1, λ = 0
        >>> cholesky_half_step(ro([0, 1], np.int64), ro([0], np.int32), ro([1.0], np.float32),
        ...                    np.float32(1.0), X, singular, gram(singular, 0.0, np.float64),
        ...                    np.inf, np.array([0, 1], np.int64), loss, failed)
        >>> failed.tolist()
        [1]
    """
    k = X.shape[1]
    n_chunks = bounds.shape[0] - 1
    for c in prange(n_chunks):
        L = np.empty((k, k), dtype=np.float64)
        b = np.empty(k, dtype=np.float64)
        z = np.empty(k, dtype=np.float64)
        yv = np.empty(k, dtype=np.float64)
        diag0 = np.empty(k, dtype=np.float64)
        loss = 0.0
        failed[c] = 0
        for u in range(bounds[c], bounds[c + 1]):
            for g in range(k):
                b[g] = 0.0
                for f in range(g + 1):
                    L[g, f] = A0[g, f]
            sum_c = 0.0
            for n in range(indptr[u], indptr[u + 1]):
                j = indices[n]
                conf = 1.0 + np.float64(alpha) * np.float64(values[n])
                sum_c += conf
                w = conf - 1.0
                for f in range(k):
                    yv[f] = Y[j, f]
                for g in range(k):
                    b[g] += conf * yv[g]
                    wg = w * yv[g]
                    for f in range(g + 1):
                        L[g, f] += wg * yv[f]
            # The row's own weight, trace(A) − trace(A0), may raise ‖A‖ (and with it
            # the rounding error) but not λ_min(A): over the budget, refuse.
            added = 0.0
            for g in range(k):
                diag0[g] = L[g, g]
                added += L[g, g] - A0[g, g]
            ok = added <= budget
            # In-place Cholesky A = L Lᵀ on the lower triangle.  A = (PSD) + λI, so in
            # exact arithmetic every pivot is at least λ_min(A) ≥ λ.  Computed, pivot g
            # is off by up to about k·eps·A_gg (Cholesky's backward error is bounded by
            # γ_k Σ_f L_gf² = γ_k A_gg), so a pivot not above that cannot be told from 0:
            # the system is singular to rounding.  (A pivot above it does not prove the
            # solve accurate: pivots can exceed λ_min(A) by far, hence the budget.)
            for g in range(k if ok else 0):
                diag = L[g, g]
                for f in range(g):
                    diag -= L[g, f] * L[g, f]
                if not diag > k * EPS64 * diag0[g]:
                    ok = False
                    break
                diag = np.sqrt(diag)
                L[g, g] = diag
                for h in range(g + 1, k):
                    acc = L[h, g]
                    for f in range(g):
                        acc -= L[h, f] * L[g, f]
                    L[h, g] = acc / diag
            if not ok:
                if failed[c] == 0:
                    failed[c] = u + 1
                continue
            for g in range(k):  # L z = b
                acc = b[g]
                for f in range(g):
                    acc -= L[g, f] * z[f]
                z[g] = acc / L[g, g]
            for g in range(k - 1, -1, -1):  # Lᵀ x = z
                acc = z[g]
                for f in range(g + 1, k):
                    acc -= L[f, g] * z[f]
                z[g] = acc / L[g, g]
            # At the exact minimiser the objective is Σc − bᵀx.
            b_x = 0.0
            for g in range(k):
                b_x += b[g] * z[g]
                X[u, g] = z[g]
            loss += sum_c - b_x
        chunk_loss[c] = loss
