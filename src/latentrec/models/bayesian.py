"""Bayesian probabilistic matrix factorisation by Gibbs sampling (Salakhutdinov & Mnih 2008)."""

from __future__ import annotations

import numpy as np

from ..data.interactions import Interactions
from ..kernels.bpmf import (
    add_predictions,
    conditional_means,
    sample_normal_wishart,
    sample_rows,
)
from ..kernels.threads import fold_in_threads, numba_threads
from ._training import check_float, check_int, run_epochs
from .als import check_rows, check_threads, csr_arrays
from .factor import FactorModel

# Gamma(shape, rate) hyperprior of every sampled precision other than the factor
# precisions (the bias precisions and, with alpha=None, the noise precision α): weak, so
# the data decide.
_GAMMA_SHAPE = 1.0
_GAMMA_RATE = 1.0
# Factor values gathered per chunk when predicting cells (see BayesianMF._predict_idx).
_PREDICT_CHUNK = 1 << 22


class BayesianMF(FactorModel):
    """Bayesian MF with biases: r ~ N(μ + b_u + b_i + p_u·q_i, α⁻¹), sampled by Gibbs.

    The model (Salakhutdinov & Mnih, "Bayesian probabilistic matrix factorization using
    Markov chain Monte Carlo", ICML 2008, with biases added):

    * p_u ~ N(m_U, Λ_U⁻¹) and q_i ~ N(m_I, Λ_I⁻¹), with Normal-Wishart hyperpriors
      (m, Λ) ~ NW(μ₀ = 0, β₀ = 2, ν₀ = k, W₀ = I) — the paper's values;
    * b_u ~ N(0, τ_U⁻¹) and b_i ~ N(0, τ_I⁻¹), with τ ~ Gamma(shape 1, rate 1);
    * μ is fixed to the training mean; α, the observation precision, is fixed
      (default 1.5; the paper used 2) or, with ``alpha=None``, sampled under a
      Gamma(1, 1) prior.

    One sweep draws the user hyperparameters, then every [p_u, b_u] jointly from its
    Gaussian conditional (a (k+1)×(k+1) Cholesky per user, users in parallel in a numba
    kernel), then the same for items, then α when sampled.  After ``burn_in`` sweeps,
    ``n_samples`` more are kept and predictions are their average,
    r̂ = μ + b̄_u + b̄_i + (1/S) Σ_s p_u^s·q_i^s.  There is no learning rate and no
    regularisation to tune.

    So that every shared operation (predict, recommend, explain, save) stays exact, the
    S kept samples are stored side by side: ``user_factors_`` is [P_1, …, P_S] / √S and
    ``item_factors_`` is [Q_1, …, Q_S] / √S, so ``n_factors_`` is S·k and p_u·q_i is the
    sample average; biases are the sample means.  Memory is S times a k-factor model's.
    The priors each kept sample was drawn under are kept too (``user_prior_precision_``
    (S, k+1, k+1) over [p, b], ``user_prior_mean_`` (S, k+1), the same for items, and
    ``alpha_samples_`` (S,)), so that folding in new users or items
    (``_solve_user_rows`` / ``_solve_item_rows``) uses each sample's own conditional.

    Args:
        n_factors: k, latent factors per sample.
        n_samples: sweeps kept (averaged) after burn-in.
        burn_in: sweeps discarded first.
        alpha: observation precision α, or ``None`` to sample it.
        random_state: seed (or ``numpy.random.Generator``); every random draw comes from
            it, so a fixed seed gives identical results whatever ``num_threads``.
        num_threads: numba threads for the row draws (None: numba's default).  A
            fold-in of a few rows runs on one thread (``kernels.threads.fold_in_threads``).
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    ``history_`` has one row per sweep: ``train_rmse`` (and ``valid_rmse`` when
    validation data is passed to ``fit``) of the running average of the kept samples
    (of the current sample during burn-in); with ``alpha=None`` also the sampled
    ``alpha``.  The defaults (k = 10, α = 1.5, 50 + 200 sweeps) were chosen on a validation
    split of MovieLens-100K (never the test folds); see
    ``benchmarks/explicit_ml100k_als_bpmf.py``.  There α = 1.5 beat both α = 2 and a
    sampled α (whose posterior, ≈ 1.6–1.9, follows the training residuals, which are
    smaller than the error on new ratings).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
        >>> model = BayesianMF(n_factors=2, n_samples=20, burn_in=10, random_state=0)
        >>> model = model.fit(Interactions.from_dense(R))
        >>> model.user_factors_.shape  # 4 users x (20 samples x 2 factors)
        (4, 40)
        >>> bool(model.predict([0], [2])[0] < model.predict([2], [2])[0])
        True
    """

    _array_state = FactorModel._array_state + (
        "user_prior_precision_",
        "user_prior_mean_",
        "item_prior_precision_",
        "item_prior_mean_",
        "alpha_samples_",
    )

    def __init__(
        self,
        n_factors: int = 10,
        n_samples: int = 200,
        burn_in: int = 50,
        alpha: float | None = 1.5,
        random_state=None,
        num_threads: int | None = None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.alpha = alpha
        self.random_state = random_state
        self.num_threads = num_threads
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_int("n_samples", self.n_samples)
        check_int("burn_in", self.burn_in, minimum=0)
        if self.alpha is not None:
            check_float("alpha", self.alpha, positive=True)
        check_threads(self.num_threads)

    _size_params = ("n_factors", "n_samples")

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """The factors, a kept copy of them per sample, and one float64 draw of
        (larger side) x (k + 1) normals per half-step.

        Example:
            >>> BayesianMF(n_factors=2, n_samples=3)._fit_bytes(10, 5, 20)  # 120 x 4 + 240
            720
        """
        k = int(self.n_factors)
        factors = super()._fit_bytes(n_users, n_items, nnz) * (1 + int(self.n_samples))
        return factors + 8 * max(n_users, n_items) * (k + 1)

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        mu = data.global_mean()
        by_user = csr_arrays(data.matrix)
        by_item = csr_arrays(data.matrix.T.tocsr())
        nnz = data.nnz
        bu = np.zeros(data.n_users, dtype=np.float32)
        bi = np.zeros(data.n_items, dtype=np.float32)
        P = rng.normal(0.0, 0.1, (data.n_users, k)).astype(np.float32)
        Q = rng.normal(0.0, 0.1, (data.n_items, k)).astype(np.float32)
        valid = csr_arrays(validation.matrix) if validation is not None else None
        has_valid = valid is not None and validation.nnz > 0
        sample_alpha = self.alpha is None
        state = {"alpha": 2.0 if sample_alpha else float(self.alpha)}
        alphas: list[float] = []
        kept_P: list[np.ndarray] = []
        kept_Q: list[np.ndarray] = []
        kept_priors: dict[str, list] = {"user": [], "item": [], "alpha": []}
        current_priors: dict[str, tuple] = {}
        sum_bu = np.zeros(data.n_users)
        sum_bi = np.zeros(data.n_items)
        # Running sums of kept samples' predictions on training / validation cells.
        sum_train = np.zeros(nnz)
        sum_valid = np.zeros(valid[2].size if has_valid else 0)

        def draw_side(rows, other_bias, other_factors, own_bias, own_factors, side):
            mean, precision = sample_normal_wishart(own_factors, rng)
            tau = rng.gamma(
                _GAMMA_SHAPE + own_bias.size / 2,
                1.0 / (_GAMMA_RATE + 0.5 * float(own_bias.astype(np.float64) @ own_bias)),
            )
            prior = np.zeros((k + 1, k + 1))
            prior[:k, :k] = precision
            prior[k, k] = tau
            linear = np.zeros(k + 1)
            linear[:k] = precision @ mean
            current_priors[side] = (prior, np.append(mean, 0.0))
            normals = rng.standard_normal((own_bias.size, k + 1))
            failed = sample_rows(
                *rows,
                mu,
                other_bias,
                other_factors,
                state["alpha"],
                prior,
                linear,
                normals,
                own_bias,
                own_factors,
            )
            if failed:  # pragma: no cover - the prior is positive definite
                raise FloatingPointError(f"BayesianMF: {failed} {side} conditionals are singular")

        def step(epoch):
            used_alpha = state["alpha"]
            draw_side(by_user, bi, Q, bu, P, "user")
            draw_side(by_item, bu, P, bi, Q, "item")
            if sample_alpha:
                current = np.zeros(nnz)
                add_predictions(by_user[0], by_user[1], mu, bu, bi, P, Q, current)
                sse = float(((by_user[2] - current) ** 2).sum())
                state["alpha"] = rng.gamma(_GAMMA_SHAPE + nnz / 2, 1.0 / (_GAMMA_RATE + sse / 2))
                alphas.append(float(state["alpha"]))
            if epoch >= self.burn_in:
                kept_P.append(P.copy())
                kept_Q.append(Q.copy())
                kept_priors["user"].append(current_priors["user"])
                kept_priors["item"].append(current_priors["item"])
                kept_priors["alpha"].append(used_alpha)
                sum_bu[...] += bu
                sum_bi[...] += bi
                add_predictions(by_user[0], by_user[1], mu, bu, bi, P, Q, sum_train)
                if has_valid:
                    add_predictions(valid[0], valid[1], mu, bu, bi, P, Q, sum_valid)

        def rmse(rows, sums):
            if kept_P:
                pred = sums / len(kept_P)
            else:
                pred = np.zeros(rows[2].size)
                add_predictions(rows[0], rows[1], mu, bu, bi, P, Q, pred)
            return float(np.sqrt(np.mean((rows[2] - pred) ** 2)))

        def evaluate():
            return rmse(by_user, sum_train), (rmse(valid, sum_valid) if has_valid else float("nan"))

        with numba_threads(self.num_threads):
            self.history_ = run_epochs(
                type(self).__name__,
                self.burn_in + self.n_samples,
                step,
                evaluate,
                verbose=self.verbose,
            )
        if sample_alpha:
            self.history_["alpha"] = alphas
        # Per kept sample, the priors its rows were drawn under (the fold-in uses them).
        for side in ("user", "item"):
            precisions, means = zip(*kept_priors[side], strict=True)
            setattr(self, f"{side}_prior_precision_", np.array(precisions))
            setattr(self, f"{side}_prior_mean_", np.array(means))
        self.alpha_samples_ = np.array(kept_priors["alpha"], dtype=np.float64)
        S = len(kept_P)
        scale = np.float32(1.0 / np.sqrt(S))
        self._set_state(
            mu,
            sum_bu / S,
            sum_bi / S,
            np.concatenate(kept_P, axis=1) * scale,
            np.concatenate(kept_Q, axis=1) * scale,
        )
        self._zero_unseen(data)

    def _predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        # The shared version gathers float64 copies of both factor rows per cell; with
        # S·k columns that is S times a k-factor model's memory, so go in chunks.
        step = max(1, _PREDICT_CHUNK // max(1, self.user_factors_.shape[1]))
        if user_idx.size <= step:
            return super()._predict_idx(user_idx, item_idx)
        return np.concatenate(
            [
                super(BayesianMF, self)._predict_idx(
                    user_idx[start : start + step], item_idx[start : start + step]
                )
                for start in range(0, user_idx.size, step)
            ]
        )

    # ------------------------------------------------------------- fold-in hooks
    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (item_idx, rating) of n users -> (user_bias (n,), user_factors (n, S·k)).

        For every kept sample s, the mean of [p_u, b_u]'s Gaussian conditional given that
        sample's item factors Q_s, its user hyperparameters and α (a Rao-Blackwellised
        fold-in: means instead of draws, so it is deterministic), with the items' biases
        at their posterior mean.  The rows are stored like the fitted ones (samples side
        by side, divided by √S; bias averaged), so every operation treats them alike.
        A training user's own ratings give back a vector close to, not equal to, its
        stored one, which averages draws.  A row without cells gets the prior mean here;
        fold-in and partial fits give it zeros, as the fit gives a user without cells.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> data = Interactions.from_dense(np.array([[5, 4, 1], [4, 5, 2], [1, 2, 5]]))
            >>> model = BayesianMF(n_factors=2, n_samples=10, burn_in=5, random_state=0)
            >>> bias, factors = model.fit(data)._solve_user_rows([0, 2], [0, 2], [5.0, 1.0])
            >>> bias.shape, factors.shape
            ((1,), (1, 20))
        """
        self.check_fitted()
        return self._conditional_means(indptr, indices, values, "user")

    def _solve_item_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (user_idx, rating) of n items -> (item_bias (n,), item_factors (n, S·k)).

        The mirror of :meth:`_solve_user_rows`: per kept sample, the conditional mean of
        [q_i, b_i] given that sample's user factors and item hyperparameters.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> data = Interactions.from_dense(np.array([[5, 4, 1], [4, 5, 2], [1, 2, 5]]))
            >>> model = BayesianMF(n_factors=2, n_samples=10, burn_in=5, random_state=0)
            >>> bias, factors = model.fit(data)._solve_item_rows([0, 3], [0, 1, 2], [5, 4, 1])
            >>> factors.shape
            (1, 20)
        """
        self.check_fitted()
        return self._conditional_means(indptr, indices, values, "item")

    def _conditional_means(self, indptr, indices, values, side):
        other = "item" if side == "user" else "user"
        other_bias = getattr(self, f"{other}_bias_")
        other_factors = getattr(self, f"{other}_factors_")
        indptr, indices, values = check_rows(indptr, indices, values, other_factors.shape[0], other)
        # Only the other side's rows these rows rate are read: they are gathered (and
        # scaled), not the whole side's, which cost a copy of all its factors per
        # fold-in.  The kernel sees the same values in the same order.
        used, local = np.unique(indices, return_inverse=True)
        rows = (indptr, local.astype(np.int32).reshape(indices.shape), values)
        other_bias = other_bias[used]
        other_bias.flags.writeable = False  # as the state's: the kernel's compiled types
        precisions = np.ascontiguousarray(
            getattr(self, f"{side}_prior_precision_"), dtype=np.float64
        )
        means = getattr(self, f"{side}_prior_mean_")
        S, k1 = means.shape
        k = k1 - 1
        n = rows[0].size - 1
        root = np.float32(np.sqrt(S))
        # Every sample's block at once, scaled back from /√S: (S, rows used, k), each
        # sample's block contiguous, as the per-sample calls had it.
        other_scaled = np.ascontiguousarray(
            (other_factors[used] * root).reshape(used.size, S, k).transpose(1, 0, 2)
        )
        # Λ₀ m₀ per sample, each by the one matrix-vector product it always was.
        linears = np.array([precisions[s] @ means[s] for s in range(S)]).reshape(S, k1)
        out_bias = np.zeros(n)
        raw = np.zeros((n, S * k), dtype=np.float32)
        # All S samples in one kernel call (it was one call per sample: 200 by default,
        # for a single user too), each (row, sample) solved as before, so the means are
        # the same bits.  Each row's solves are its own: any thread count, one answer.
        with numba_threads(fold_in_threads(self.num_threads, n, k)):
            failed = conditional_means(
                *rows,
                self.global_mean_,
                other_bias,
                other_scaled,
                np.ascontiguousarray(self.alpha_samples_, dtype=np.float64),
                precisions,
                linears,
                out_bias,
                raw,
            )
        if failed:  # pragma: no cover - every sample's prior is positive definite
            raise FloatingPointError(f"BayesianMF: {failed} {side} conditionals are singular")
        return (out_bias / S).astype(np.float32), raw / root

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept samples as arrays (S, n_users, k) and (S, n_items, k).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> data = Interactions.from_dense(np.array([[5, 1], [4, 2]]))
            >>> model = BayesianMF(n_factors=3, n_samples=4, burn_in=1, random_state=0)
            >>> P, Q = model.fit(data).samples()
            >>> P.shape, Q.shape
            ((4, 2, 3), (4, 2, 3))
        """
        self.check_fitted()
        S, k1 = self.user_prior_mean_.shape
        root = np.float32(np.sqrt(S))

        def split(x):
            return (x.reshape(x.shape[0], S, k1 - 1) * root).transpose(1, 0, 2)

        return split(self.user_factors_), split(self.item_factors_)
