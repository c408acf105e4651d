"""Explicit alternating least squares with biases (Zhou, Wilkinson, Schreiber & Pan 2008)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..data.interactions import Interactions
from ..kernels.als import als_half_step, squared_error_rows
from ..kernels.threads import fold_in_threads, numba_threads
from ..retrieval import whole_indices
from ._training import check_epochs, check_float, check_int, run_epochs, work_threads
from .factor import FactorModel


class ALS(FactorModel):
    """r̂ = μ + b_u + b_i + p_u · q_i fitted by alternating exact ridge solves.

    μ is the training mean and stays fixed.  Each iteration first solves every item's
    [q_i, b_i] with the users fixed, then every user's [p_u, b_u] with the items fixed;
    each solve is the exact minimiser of

        Σ (r − μ − b_u − b_i − p_u·q_i)² + Σ_u n_u (λ‖p_u‖² + λ_b b_u²)
                                         + Σ_i n_i (λ‖q_i‖² + λ_b b_i²)

    over its own side (the weighted-λ regularisation of Zhou et al.: a row with n
    ratings is shrunk n times as hard), so this objective never increases.  A half-step
    is one (k+1)×(k+1) Cholesky solve per row, rows in parallel in a numba kernel
    (:func:`latentrec.kernels.als.als_half_step`).  There is no learning rate.

    Because fitting ends on a user half-step, folding a training user's ratings back in
    (``_solve_user_rows``, used by ``fold_in`` / ``partial_fit_users``) reproduces the
    stored user row exactly.

    Args:
        n_factors: k, the number of latent factors.
        n_epochs: ALS iterations (an item half-step then a user half-step each); an upper
            bound with ``patience``, which lets it be as large as ``sys.maxsize`` (until
            validation stops improving; such a fit without validation data is refused).
        regularization: λ for the factors, multiplied by each row's number of ratings.
        bias_regularization: λ_b for the biases (defaults to ``regularization``).
        init_std: users' factors start as N(0, init_std²) (the first half-step solves the
            items, so their start value is never used); biases start at 0.
        patience: with validation data passed to ``fit``, stop after this many iterations
            without a better validation RMSE and restore the best iteration.
        random_state: seed (or ``numpy.random.Generator``) of the initial factors.
        num_threads: numba threads for the solves (None: numba's default; more than
            numba allows is capped).  Rows are solved independently, so the result does
            not depend on it.  A fold-in of a few rows runs on one thread
            (``kernels.threads.fold_in_threads``).
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    The defaults (k = 100, λ = 0.1, 6 iterations) were chosen on a validation split of
    MovieLens-100K (never the test folds); see ``benchmarks/explicit_ml100k_als_bpmf.py``.
    ALS converges in a few iterations; more change the validation RMSE by < 0.001.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
        >>> model = ALS(n_factors=2, n_epochs=20, regularization=0.05, random_state=0)
        >>> model = model.fit(Interactions.from_dense(R))
        >>> bool(model.predict([0], [2])[0] < 3.0), len(model.history_["train_rmse"])
        (True, 20)
    """

    def __init__(
        self,
        n_factors: int = 100,
        n_epochs: int = 6,
        regularization: float = 0.1,
        bias_regularization: float | None = None,
        init_std: float = 0.1,
        patience: int | None = None,
        random_state=None,
        num_threads: int | None = None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.init_std = init_std
        self.patience = patience
        self.random_state = random_state
        self.num_threads = num_threads
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_epochs(self.n_epochs, self.patience)
        check_float("regularization", self.regularization)
        if self.bias_regularization is not None:
            check_float("bias_regularization", self.bias_regularization)
        check_float("init_std", self.init_std)
        if self.patience is not None:
            check_int("patience", self.patience)
        check_threads(self.num_threads)

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """The larger of two moments: P's float64 draw beside its float32 copy (Q is
        made after the draw is freed), and both factors with one (k+1)² float64 system
        per thread.

        Example:
            >>> ALS(n_factors=2, num_threads=1)._fit_bytes(10, 5, 20)  # max(160+80, 120+72)
            240
        """
        k = int(self.n_factors)
        threads = work_threads(self.num_threads, max(n_users, n_items))
        drawing = 8 * n_users * k + 4 * n_users * k
        solving = super()._fit_bytes(n_users, n_items, nnz) + threads * 8 * (k + 1) ** 2
        return max(drawing, solving)

    def _regs(self) -> tuple[float, float]:
        reg = float(self.regularization)
        reg_b = reg if self.bias_regularization is None else float(self.bias_regularization)
        return reg, reg_b

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        mu = data.global_mean()
        reg, reg_b = self._regs()
        by_user = csr_arrays(data.matrix)
        by_item = csr_arrays(data.matrix.T.tocsr())
        bu = np.zeros(data.n_users, dtype=np.float32)
        bi = np.zeros(data.n_items, dtype=np.float32)
        P = rng.normal(0.0, self.init_std, (data.n_users, k)).astype(np.float32)
        Q = np.zeros((data.n_items, k), dtype=np.float32)
        valid = csr_arrays(validation.matrix) if validation is not None else None
        has_valid = valid is not None and validation.nnz > 0

        def half_step(rows, other_bias, other_factors, out_bias, out_factors, side):
            failed = als_half_step(
                *rows, mu, other_bias, other_factors, reg, reg_b, out_bias, out_factors
            )
            if failed:
                raise FloatingPointError(
                    f"ALS: {failed} {side} systems are singular; raise regularization "
                    "(and bias_regularization) above 0"
                )

        def step(epoch):
            half_step(by_item, bu, P, bi, Q, "item")
            half_step(by_user, bi, Q, bu, P, "user")

        def evaluate():
            train = _rmse(by_user, mu, bu, bi, P, Q)
            return train, (_rmse(valid, mu, bu, bi, P, Q) if has_valid else float("nan"))

        with numba_threads(self.num_threads):
            self.history_ = run_epochs(
                type(self).__name__,
                self.n_epochs,
                step,
                evaluate,
                state=(bu, bi, P, Q),
                patience=self.patience if has_valid else None,
                verbose=self.verbose,
            )
        self._set_state(mu, bu, bi, P, Q)
        self._zero_unseen(data)

    # ------------------------------------------------------------- fold-in hooks
    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (item_idx, rating) of n users -> (user_bias (n,), user_factors (n, k)).

        The exact user half-step of training against the fitted items, so a training
        user's own row gives back its stored vector.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> data = Interactions.from_dense(np.array([[5, 4, 1], [4, 5, 2], [1, 2, 5]]))
            >>> model = ALS(n_factors=2, n_epochs=5, random_state=0).fit(data)
            >>> m = data.matrix
            >>> bias, factors = model._solve_user_rows(m.indptr, m.indices, m.data)
            >>> bool(np.array_equal(factors, model.user_factors_))
            True
        """
        self.check_fitted()
        return self._als_rows(indptr, indices, values, self.item_bias_, self.item_factors_, "item")

    def _solve_item_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (user_idx, rating) of n items -> (item_bias (n,), item_factors (n, k)).

        The exact item half-step of training against the fitted users.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> data = Interactions.from_dense(np.array([[5, 4, 1], [4, 5, 2], [1, 2, 5]]))
            >>> model = ALS(n_factors=2, n_epochs=5, random_state=0).fit(data)
            >>> bias, factors = model._solve_item_rows(np.array([0, 2]), np.array([0, 2]),
            ...                                        np.array([5.0, 1.0]))
            >>> bias.shape, factors.shape
            ((1,), (1, 2))
        """
        self.check_fitted()
        return self._als_rows(indptr, indices, values, self.user_bias_, self.user_factors_, "user")

    def _als_rows(self, indptr, indices, values, other_bias, other_factors, other):
        rows = check_rows(indptr, indices, values, other_factors.shape[0], other)
        n = rows[0].shape[0] - 1
        out_bias = np.zeros(n, dtype=np.float32)
        out_factors = np.zeros((n, other_factors.shape[1]), dtype=np.float32)
        reg, reg_b = self._regs()
        # Each row is its own solve: any thread count, one answer (a few rows: one thread,
        # not a wake of the whole pool, see fold_in_threads).
        with numba_threads(fold_in_threads(self.num_threads, n, other_factors.shape[1])):
            failed = als_half_step(
                *rows,
                self.global_mean_,
                other_bias,
                other_factors,
                reg,
                reg_b,
                out_bias,
                out_factors,
            )
        if failed:
            raise FloatingPointError(
                f"ALS: {failed} fold-in systems are singular; refit with regularization > 0"
            )
        return out_bias, out_factors


# ------------------------------------------------------------------ helpers
def csr_arrays(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr int64, indices int32, data float32) of a CSR matrix with sorted indices.

    One dtype combination means each kernel is compiled once.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> [a.dtype.name for a in csr_arrays(sp.csr_matrix(np.eye(2)))]
        ['int64', 'int32', 'float32']
    """
    if not matrix.has_sorted_indices:
        matrix = matrix.sorted_indices()
    return (
        np.ascontiguousarray(matrix.indptr, dtype=np.int64),
        np.ascontiguousarray(matrix.indices, dtype=np.int32),
        np.ascontiguousarray(matrix.data, dtype=np.float32),
    )


def check_rows(indptr, indices, values, n_columns: int, column: str):
    """Validate CSR rows handed to a fold-in hook; returns them as :func:`csr_arrays` dtypes.

    Example:
        >>> import numpy as np
        >>> try:
        ...     check_rows([0, 1], [5], [4.0], 3, "item")
        ... except ValueError as err:
        ...     print(err)
        item index 5 is out of range for 3 items
    """
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    # Range-checked as given, cast only after: an int64 index cast to int32 first wrapped
    # (2**32 + 3 became 3) and was folded in as another column, unrefused.
    # Floats are indices only when whole: 1.7 was cut to 1, and a NaN or 1e12 cast to
    # int32 became whatever the cast made of it.
    given = whole_indices(indices, f"{column} indices")
    values = np.ascontiguousarray(values, dtype=np.float32)
    if indptr.ndim != 1 or indptr.size < 1 or indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise ValueError("indptr must be a non-decreasing 1-D array starting at 0")
    if indptr[-1] != given.size or given.shape != values.shape:
        raise ValueError(
            f"indptr ends at {indptr[-1]} but there are {given.size} indices and "
            f"{values.size} values"
        )
    if given.size and (given.min() < 0 or given.max() >= n_columns):
        bad = given[(given < 0) | (given >= n_columns)][0]
        raise ValueError(f"{column} index {bad} is out of range for {n_columns} {column}s")
    indices = np.ascontiguousarray(given, dtype=np.int32)
    if not np.isfinite(values).all():
        raise ValueError("values must be finite")
    return indptr, indices, values


def check_threads(num_threads) -> None:
    """``num_threads`` must be None or a positive integer.

    Example:
        >>> check_threads(None); check_threads(2)
    """
    if num_threads is not None:
        check_int("num_threads", num_threads)


def _rmse(rows, mu, row_bias, col_bias, P, Q) -> float:
    indptr, indices, values = rows
    if values.size == 0:
        return float("nan")
    sse = squared_error_rows(indptr, indices, values, mu, row_bias, col_bias, P, Q).sum()
    return float(np.sqrt(sse / values.size))
