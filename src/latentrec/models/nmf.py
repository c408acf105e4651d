"""Non-negative matrix factorisation fitted on the observed cells only (Luo et al. 2014)."""

from __future__ import annotations

import numpy as np

from ..data.interactions import Interactions
from ..kernels.nmf import nmf_bias_sgd, nmf_half_step, nmf_objective
from ..kernels.threads import numba_threads
from ._training import check_float, check_int, run_epochs
from .factor import FactorModel


class NMF(FactorModel):
    """r̂ = p_u · q_i with P, Q ≥ 0, learned by multiplicative updates on observed cells.

    Each epoch updates every user vector with Q fixed, then every item vector with the
    new P fixed, by the masked Lee–Seung rule (as Surprise's ``NMF``)::

        p_uf ← p_uf · Σ_{i∈R(u)} q_if r_ui / (Σ_{i∈R(u)} q_if r̂_ui + |R(u)| λ p_uf)

    and symmetrically for q_i.  Because the two halves alternate (Surprise updates both
    from the same estimates) every epoch of this unbiased model can only lower the objective
    ½ Σ_obs (r − r̂)² + ½ λ (Σ_u |R(u)| ‖p_u‖² + Σ_i |U(i)| ‖q_i‖²), which
    ``history_["objective"]`` records; factors that start non-negative stay so.  Factors
    start uniform in [init_low, init_high).  Rows update in parallel and independently,
    so results do not depend on the number of threads.

    Users or items with no training cell get the mean of the trained factor vectors (the
    unbiased model has no μ in its formula); with biases they get zero factors.  Either
    way they have no vector of their own for :meth:`similar_items` (no neighbours, never
    a neighbour), such a user gets the popularity list from :meth:`recommend`
    (``fallback=True``), and ids outside the vocabulary get the baseline of ``predict``.

    With ``biased=True`` the model is r̂ = μ + b_u + b_i + p_u·q_i: each epoch first
    runs an SGD pass that updates the biases only (in a fresh random order), then the
    multiplicative updates; the factors' denominators then use the full estimate, as in
    Surprise, which no longer guarantees a monotone objective.

    Fold-in (``fold_in``, ``fold_in_idx``, ``partial_fit_users``) solves the fit's own
    objective for one user with the items fixed, under the same constraint p ≥ 0::

        min_{b, p ≥ 0} Σ_i (r_ui − μ − b − b_i − p·q_i)² + n (λ ‖p‖² + λ_b b²)

    (no b, μ or b_i unless ``biased``; the bias is free), exactly, by
    :func:`nonnegative_ridge_rows`; ``partial_fit_items`` is its mirror image.  So a
    folded-in user's factors are non-negative, as the trained ones are.

    Args:
        n_factors: k.
        n_epochs: epochs (one user half-step and one item half-step each).
        regularization: λ for the factors, scaled by each row's number of ratings.
        biased: add μ, b_u, b_i.
        bias_learning_rate: SGD step for the biases (``biased=True`` only).
        bias_regularization: λ_b for the biases (``biased=True`` only).
        init_low: lower bound of the uniform initial factors (>= 0).
        init_high: upper bound of the uniform initial factors.
        random_state: seed; a fixed seed gives identical results, whatever ``num_threads``.
        num_threads: numba threads (None: numba's default).
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    The defaults are Surprise's, so that the two compare like for like.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
        >>> model = NMF(n_factors=2, n_epochs=100, random_state=0).fit(Interactions.from_dense(R))
        >>> bool((model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all())
        True
        >>> obj = model.history_["objective"]
        >>> bool(obj[-1] < obj[0])
        True
    """

    def __init__(
        self,
        n_factors: int = 15,
        n_epochs: int = 50,
        regularization: float = 0.06,
        biased: bool = False,
        bias_learning_rate: float = 0.005,
        bias_regularization: float = 0.02,
        init_low: float = 0.0,
        init_high: float = 1.0,
        random_state=None,
        num_threads: int | None = None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.regularization = regularization
        self.biased = biased
        self.bias_learning_rate = bias_learning_rate
        self.bias_regularization = bias_regularization
        self.init_low = init_low
        self.init_high = init_high
        self.random_state = random_state
        self.num_threads = num_threads
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_int("n_epochs", self.n_epochs)
        check_float("regularization", self.regularization)
        check_float("bias_learning_rate", self.bias_learning_rate, positive=True)
        check_float("bias_regularization", self.bias_regularization)
        check_float("init_low", self.init_low)
        check_float("init_high", self.init_high, positive=True)
        if self.init_high <= self.init_low:
            raise ValueError(
                f"init_high ({self.init_high}) must be greater than init_low ({self.init_low})"
            )
        if self.num_threads is not None:
            check_int("num_threads", self.num_threads)

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """The factors and a float64 draw of the larger side.

        Example:
            >>> NMF(n_factors=2)._fit_bytes(10, 5, 20)  # 120 + 160
            280
        """
        draw = 8 * max(n_users, n_items) * int(self.n_factors)
        return super()._fit_bytes(n_users, n_items, nnz) + draw

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        if data.ratings.min() < 0:
            raise ValueError(
                "NMF needs non-negative ratings; the training data has "
                f"{int((data.ratings < 0).sum())} negative values (shift the scale first)"
            )
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        lo, hi = float(self.init_low), float(self.init_high)
        P = rng.uniform(lo, hi, (data.n_users, k)).astype(np.float32)
        Q = rng.uniform(lo, hi, (data.n_items, k)).astype(np.float32)
        bu = np.zeros(data.n_users, dtype=np.float32)
        bi = np.zeros(data.n_items, dtype=np.float32)
        biased = bool(self.biased)
        mu = data.global_mean() if biased else 0.0
        rows = data.matrix
        cols = rows.T.tocsr()  # items x users: the item half-step runs over its rows
        users, items, ratings = data.user_idx, data.item_idx, data.ratings
        reg = float(self.regularization)
        bias_reg = float(self.bias_regularization) if biased else 0.0
        lr_b = np.float32(self.bias_learning_rate)
        reg_b = np.float32(self.bias_regularization)
        objective: list[float] = []
        has_valid = validation is not None and validation.nnz > 0

        def step(epoch):
            if biased:
                order = rng.permutation(data.nnz).astype(np.int64)
                nmf_bias_sgd(users, items, ratings, order, mu, bu, bi, P, Q, lr_b, reg_b)
            nmf_half_step(rows.indptr, rows.indices, rows.data, mu, bu, bi, P, Q, reg, biased)
            nmf_half_step(cols.indptr, cols.indices, cols.data, mu, bi, bu, Q, P, reg, biased)

        def evaluate():
            obj, sse = nmf_objective(
                rows.indptr, rows.indices, rows.data, mu, bu, bi, P, Q, reg, bias_reg
            )
            objective.append(obj)
            train = float(np.sqrt(sse / data.nnz))
            if not has_valid:
                return train, float("nan")
            v = validation.matrix
            _, v_sse = nmf_objective(v.indptr, v.indices, v.data, mu, bu, bi, P, Q, 0.0, 0.0)
            return train, float(np.sqrt(v_sse / validation.nnz))

        with numba_threads(self.num_threads):
            self.history_ = run_epochs(
                type(self).__name__, self.n_epochs, step, evaluate, verbose=self.verbose
            )
        self.history_["objective"] = objective[: len(self.history_["epoch"])]
        self._set_state(mu, bu, bi, P, Q)
        if biased:
            self._zero_unseen(data)
        else:
            self._mean_unseen(data)

    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (item_idx, value) -> (user_bias, user_factors ≥ 0): the fit's objective
        for each user with the items fixed (see the class docstring).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
            >>> model = NMF(n_factors=2, n_epochs=50, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> bias, P = model._solve_user_rows([0, 2], [0, 3], [1.0, 5.0])
            >>> bool((P >= 0).all()), float(bias[0])
            (True, 0.0)
        """
        return self._nonnegative_rows(indptr, indices, values, "user")

    def _solve_item_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (user_idx, value) -> (item_bias, item_factors ≥ 0), users fixed: the
        mirror image of :meth:`_solve_user_rows`.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
            >>> model = NMF(n_factors=2, n_epochs=50, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> bias, Q = model._solve_item_rows([0, 2], [0, 2], [5.0, 1.0])
            >>> bool((Q >= 0).all())
            True
        """
        return self._nonnegative_rows(indptr, indices, values, "item")

    def _nonnegative_rows(self, indptr, indices, values, side: str):
        fixed_factors, fixed_bias = (
            (self.item_factors_, self.item_bias_)
            if side == "user"
            else (self.user_factors_, self.user_bias_)
        )
        return nonnegative_ridge_rows(
            indptr,
            indices,
            values,
            fixed_factors,
            self.global_mean_ + fixed_bias.astype(np.float64),
            bool(self.biased),
            float(self.regularization),
            float(self.bias_regularization),
        )

    def _can_personalise(self, user_idx: np.ndarray) -> np.ndarray:
        if self.biased:
            return super()._can_personalise(user_idx)
        # Unbiased, a user without training cells holds the mean vector, nobody's taste:
        # the popularity list (fallback), as recommend documents for such a user.
        return np.diff(self.seen_.indptr)[user_idx] > 0

    def _has_vector(self, of_items: bool) -> np.ndarray:
        # Unbiased, rows without training cells hold the mean vector, which is nobody's
        # own: they are neither similar to anything nor a neighbour (as zero rows are).
        has = super()._has_vector(of_items)
        if self.biased:
            return has
        counts = self.item_popularity_ if of_items else np.diff(self.seen_.indptr)
        return has & (np.asarray(counts) > 0)

    def _mean_unseen(self, data: Interactions) -> None:
        """Users/items without training cells get the mean trained factor vector.

        Without μ and biases a zero vector would predict 0 for them; the mean vector
        predicts about the other side's average (for a new item, roughly the user's mean)
        and stays non-negative.
        """
        for factors, counts in (
            (self.user_factors_, data.user_counts()),
            (self.item_factors_, data.item_counts()),
        ):
            cold = counts == 0
            if cold.any() and not cold.all():
                factors[cold] = factors[~cold].mean(axis=0)


def nonnegative_ridge_rows(
    indptr, indices, values, factors, offset, with_bias: bool, reg_factors: float, reg_bias: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per CSR row, the count-weighted ridge fit of its values with the factors held ≥ 0.

    Row ``r`` holds cells ``(j, v_j)``; with ``y_j = v_j − offset[j]``, ``x_j =
    factors[j]`` and ``n`` the row's count it solves
    ``min_{b, p ≥ 0} Σ_j (y_j − b − p·x_j)² + n (λ_f ‖p‖² + λ_b b²)`` (the bias free; no
    bias unless ``with_bias``): :func:`latentrec.kernels.ridge.ridge_rows`' problem under
    NMF's constraint.  Each row is one small non-negative least-squares problem on the
    ridge-augmented system, solved exactly by SciPy's active-set ``nnls``; the free bias
    is the difference of two non-negative columns (with λ_b > 0 one of them is 0 at the
    optimum, so the penalty is λ_b b²).  Rows without cells get zeros.

    Returns:
        ``(bias (n,), factors (n, k))`` as float32.

    Example:
        >>> import numpy as np
        >>> X = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
        >>> b, P = nonnegative_ridge_rows([0, 2], [0, 1], [3.0, -1.0], X, np.zeros(2),
        ...                               False, 0.0, 0.0)
        >>> P.round(3).tolist()  # the unconstrained answer is [3, -1]
        [[3.0, 0.0]]
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    n_rows, k = indptr.size - 1, factors.shape[1]
    bias = np.zeros(n_rows)
    out = np.zeros((n_rows, k))
    penalty = np.concatenate(
        [np.full(k, float(reg_factors)), np.full(2 if with_bias else 0, float(reg_bias))]
    )
    d = penalty.size
    # Imported here: at module level scipy.optimize was the slowest part of every CLI start.
    from scipy.optimize import nnls

    # One active-set solve per row: the rows' supports differ, so they do not batch; the
    # loop is per row, never per rating.
    for r in np.flatnonzero(np.diff(indptr)):
        cols = indices[indptr[r] : indptr[r + 1]]
        n = cols.size
        A = np.zeros((n + d, d))
        A[:n, :k] = factors[cols]
        if with_bias:
            A[:n, k] = 1.0
            A[:n, k + 1] = -1.0
        A[n + np.arange(d), np.arange(d)] = np.sqrt(n * penalty)
        y = np.zeros(n + d)
        y[:n] = values[indptr[r] : indptr[r + 1]] - offset[cols]
        sol = nnls(A, y, maxiter=max(100, 50 * d))[0]
        out[r] = sol[:k]
        if with_bias:
            bias[r] = sol[k] - sol[k + 1]
    return bias.astype(np.float32), out.astype(np.float32)
