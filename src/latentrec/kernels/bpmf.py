"""Gibbs-sampler kernels for Bayesian matrix factorisation with biases.

Conditional on the other side's factors and biases, the row vector z = [p, b] of one
user (or item) is Gaussian with precision and linear term

    Λ* = Λ₀ + α Σ_j x_j x_jᵀ,    η* = Λ₀ m₀ + α Σ_j (v_j − μ − b'_j) x_j,   x_j = [q_j, 1],

(Λ₀, m₀ the prior precision and mean of z), so mean Λ*⁻¹ η* and covariance Λ*⁻¹.  With
Λ* = L Lᵀ a draw is L⁻ᵀ(L⁻¹ η*) + L⁻ᵀ ε for ε ~ N(0, I).  The standard normals ε are drawn
by the caller from its seeded generator and passed in, so a draw depends on the seed only,
never on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .als import accumulate_gram, cholesky_lower, solve_lower, solve_lower_transposed


@njit(cache=True, parallel=True, nogil=True)
def sample_rows(
    indptr,
    indices,
    values,
    mu,
    other_bias,
    other_factors,
    alpha,
    prior_precision,
    prior_linear,
    normals,
    out_bias,
    out_factors,
):  # pragma: no cover - compiled
    """Draw [p_r, b_r] for every row r from its Gaussian conditional; write into out_*.

    ``prior_precision`` is the (k+1)×(k+1) Λ₀ shared by all rows and ``prior_linear``
    the (k+1,) Λ₀ m₀; ``normals`` (n_rows, k+1) are the standard normals ε.  A row with
    no cells is drawn from the prior.  Returns the number of rows whose precision was not
    positive definite (left unchanged; cannot happen with a positive-definite prior).
    """
    n_rows = indptr.shape[0] - 1
    k = other_factors.shape[1]
    failed = np.zeros(n_rows, dtype=np.int64)
    for r in prange(n_rows):
        A = np.zeros((k + 1, k + 1))
        b = np.zeros(k + 1)
        accumulate_gram(
            indptr[r], indptr[r + 1], indices, values, mu, other_bias, other_factors, A, b
        )
        for a in range(k + 1):
            b[a] = alpha * b[a] + prior_linear[a]
            for c in range(a + 1):
                A[a, c] = alpha * A[a, c] + prior_precision[a, c]
        if not cholesky_lower(A, k + 1):
            failed[r] = 1
            continue
        solve_lower(A, b, k + 1)
        for a in range(k + 1):
            b[a] += normals[r, a]
        # L⁻ᵀ(L⁻¹η + ε) = mean + L⁻ᵀε in one back substitution.
        solve_lower_transposed(A, b, k + 1)
        for f in range(k):
            out_factors[r, f] = b[f]
        out_bias[r] = b[k]
    return failed.sum()


@njit(cache=True, parallel=True, nogil=True)
def conditional_means(
    indptr,
    indices,
    values,
    mu,
    other_bias,
    other_factors,
    alphas,
    prior_precisions,
    prior_linears,
    out_bias,
    out_factors,
):  # pragma: no cover - compiled
    """For every row r and every kept sample s, the mean of [p_r, b_r]'s conditional.

    One call for all S samples, where a fold-in called :func:`sample_rows` once per sample
    with zero normals: ``other_factors`` is (S, n_other, k), sample s's factors of the
    other side in ``other_factors[s]`` (C-contiguous, as one sample's were); ``alphas``
    (S,), ``prior_precisions`` (S, k+1, k+1) and ``prior_linears`` (S, k+1) are each
    sample's α, Λ₀ and Λ₀ m₀.  Each (row, sample)
    is solved with :func:`sample_rows`' operations in its order, so the means are
    bit-identical to its: ``out_factors[r, s·k + f]`` gets the float32 factor and
    ``out_bias[r]`` (float64, zeroed by the caller) the sum over s of the float32 biases,
    added in sample order.  Returns the number of (row, sample) precisions that were not
    positive definite (their factors left unchanged, nothing added to the bias).
    """
    n_rows = indptr.shape[0] - 1
    S = alphas.shape[0]
    k = prior_linears.shape[1] - 1
    failed = np.zeros(n_rows, dtype=np.int64)
    # Samples outside, rows inside: one sample's block of the other side stays in cache
    # while every row reads it (rows outside, each reading all S blocks, ran slower than
    # the per-sample calls on a batch of 100 users).
    for s in range(S):
        block = other_factors[s]
        alpha = alphas[s]
        for r in prange(n_rows):
            A = np.zeros((k + 1, k + 1))
            b = np.zeros(k + 1)
            accumulate_gram(indptr[r], indptr[r + 1], indices, values, mu, other_bias, block, A, b)
            for a in range(k + 1):
                b[a] = alpha * b[a] + prior_linears[s, a]
                for c in range(a + 1):
                    A[a, c] = alpha * A[a, c] + prior_precisions[s, a, c]
            if not cholesky_lower(A, k + 1):
                failed[r] += 1
                continue
            solve_lower(A, b, k + 1)
            for a in range(k + 1):
                b[a] += 0.0  # sample_rows adds its (zero) normal here
            solve_lower_transposed(A, b, k + 1)
            for f in range(k):
                out_factors[r, s * k + f] = b[f]
            out_bias[r] += np.float64(np.float32(b[k]))
    return failed.sum()


@njit(cache=True, parallel=True, nogil=True)
def add_predictions(indptr, indices, mu, row_bias, col_bias, P, Q, out):  # pragma: no cover
    """out[t] += μ + b_row + b_col + p_row·q_col for every CSR cell t (float64 out)."""
    n_rows = indptr.shape[0] - 1
    k = P.shape[1]
    for r in prange(n_rows):
        for t in range(indptr[r], indptr[r + 1]):
            j = indices[t]
            dot = 0.0
            for f in range(k):
                dot += np.float64(P[r, f]) * Q[j, f]
            out[t] += mu + row_bias[r] + col_bias[j] + dot


def sample_normal_wishart(
    X: np.ndarray,
    rng: np.random.Generator,
    beta0: float = 2.0,
    nu0: float | None = None,
    W0: np.ndarray | None = None,
    mu0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw (mean, precision) of the rows of ``X`` from their Normal-Wishart posterior.

    Prior: Λ ~ Wishart(W₀, ν₀), m | Λ ~ N(μ₀, (β₀Λ)⁻¹), and each row of X ~ N(m, Λ⁻¹).
    Defaults are Salakhutdinov & Mnih's: μ₀ = 0, β₀ = 2, ν₀ = k, W₀ = I.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(1.0, 0.5, (5000, 2))
        >>> mean, precision = sample_normal_wishart(X, rng)
        >>> mean.round(1).tolist(), np.diag(precision).round(0).tolist()
        ([1.0, 1.0], [4.0, 4.0])
    """
    X = np.asarray(X, dtype=np.float64)
    n, k = X.shape
    nu0 = float(k) if nu0 is None else float(nu0)
    W0 = np.eye(k) if W0 is None else np.asarray(W0, dtype=np.float64)
    mu0 = np.zeros(k) if mu0 is None else np.asarray(mu0, dtype=np.float64)
    xbar = X.mean(axis=0) if n else np.zeros(k)
    centred = X - xbar
    beta = beta0 + n
    nu = nu0 + n
    mu_post = (beta0 * mu0 + n * xbar) / beta
    d = (mu0 - xbar)[:, None]
    W_inv = np.linalg.inv(W0) + centred.T @ centred + (beta0 * n / beta) * (d @ d.T)
    W = np.linalg.inv(W_inv)
    W = 0.5 * (W + W.T)
    precision = sample_wishart(W, nu, rng)
    # m ~ N(mu_post, (β Λ)⁻¹): with βΛ = L Lᵀ, m = mu_post + L⁻ᵀ ε.
    L = np.linalg.cholesky(beta * precision)
    mean = mu_post + np.linalg.solve(L.T, rng.standard_normal(k))
    return mean, precision


def sample_wishart(W: np.ndarray, nu: float, rng: np.random.Generator) -> np.ndarray:
    """One draw from Wishart(W, ν) (mean ν W) by the Bartlett decomposition.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> draws = [sample_wishart(np.eye(2), 5.0, rng) for _ in range(4000)]
        >>> np.mean(draws, axis=0).round(0).tolist()
        [[5.0, 0.0], [0.0, 5.0]]
    """
    k = W.shape[0]
    if not nu > k - 1:
        raise ValueError(f"Wishart degrees of freedom must exceed {k - 1}, got {nu}")
    L = np.linalg.cholesky(W)
    A = np.zeros((k, k))
    A[np.diag_indices(k)] = np.sqrt(rng.chisquare(nu - np.arange(k)))
    lower = np.tril_indices(k, -1)
    A[lower] = rng.standard_normal(len(lower[0]))
    LA = L @ A
    return LA @ LA.T
