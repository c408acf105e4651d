"""SVD++: biased MF whose user vector also sums the items the user rated (Koren 2008)."""

from __future__ import annotations

import math

import numpy as np

from ..data.interactions import Interactions
from ..kernels.ridge import ridge_rows
from ..kernels.sgd import rmse_cells
from ..kernels.svdpp import effective_user_factors, shuffle_rows, svdpp_epoch
from ..kernels.threads import numba_threads
from ._training import check_float, check_int, run_epochs
from .factor import FactorModel
from .mf import check_decay, epoch_seed, init_factors, training_threads


class SVDpp(FactorModel):
    """r̂ = μ + b_u + b_i + q_i · (p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j), fitted by SGD.

    N(u) is the set of items user u rated in the training data: *that* the user rated
    them says something about taste whatever the stars, so each item carries a second
    vector y_j and a user is described partly by the items they chose to rate.

    Training visits the users in a fresh random order each epoch and each user's ratings
    in random order.  The implicit sum is computed once per user turn and the y_j are
    updated once at its end with the gradient gathered over the user's ratings (the sum
    of the textbook per-rating updates with y held still during the turn), so an epoch
    costs O(nnz·k) rather than Σ_u |N(u)|²·k; see :mod:`latentrec.kernels.svdpp`.  Users
    run in parallel chunks without locks; with ``num_threads=1`` and a fixed
    ``random_state`` two fits are bit-identical; with more threads, updates race and
    results vary slightly from run to run (data below ``PARALLEL_MIN_CELLS`` cells always
    trains on one thread).

    After ``fit``, ``user_factors_`` holds the *effective* user vector
    z_u = p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j, so predictions, top-k, similar users and
    explanations are the shared exact operations of :class:`FactorModel` on
    r̂ = μ + b_u + b_i + z_u·q_i.  The raw parts are kept as ``p_`` (users x k) and ``y_``
    (items x k) and saved with the model.

    Fold-in (``fold_in``, ``partial_fit_users``) places a user by SVD++'s own objective
    for one user with the items (q, b_i and y) fixed, N(u) being the items folded in::

        min_{b, p} Σ_i (r_i − μ − b − b_i − q_i·(p + s))² + n (λ ‖p‖² + λ_b b²),
        s = |N(u)|^-½ Σ_{j∈N(u)} y_j

    (the per-rating penalties of SGD summed over the user's n ratings), and returns the
    effective vector z = p + s: the items a new user rated inform their vector through y
    even before p has moved.  ``partial_fit_users`` stores z in ``user_factors_`` and
    p = z − s in ``p_``, so ``p_`` and ``y_`` keep one row per user and per item and
    z_u = p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j holds for the added users as for the trained
    ones.  ``partial_fit_items`` is the default ridge on the fixed z (a new item's y is
    unknown, and no user's N(u) held it: its ``y_`` row is zero, and the z of the users
    who rated it is not recomputed).

    ``history_["train_rmse"]`` is the running RMSE during the epoch (each prediction just
    before its update); ``valid_rmse`` is exact, after the epoch.

    Args:
        n_factors: k, the number of latent factors.
        n_epochs: passes over the users (an upper bound with ``patience``).
        learning_rate: step size of the first epoch.
        learning_rate_decay: factor applied to the step size after each epoch, in (0, 1].
        regularization: λ for p_u and q_i.
        bias_regularization: λ for the biases (defaults to ``regularization``).
        implicit_regularization: λ_y for the y_j (``None``: ``regularization``).  Each
            y_j is shrunk once per rating of the user, so λ_y acts |N(u)| times per user
            turn and its best value is much smaller than λ.
        init_std: p, q and y start as N(0, init_std²); biases start at 0.
        patience: with validation data passed to ``fit``, stop after this many epochs
            without a better validation RMSE and restore the best epoch.
        num_threads: numba threads (``None``: numba's default); data with fewer than
            ``latentrec.models.mf.PARALLEL_MIN_CELLS`` cells trains on one thread.
        random_state: seed (or ``numpy.random.Generator``).
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    The defaults were chosen on a validation split of MovieLens-100K training data
    (never the test folds) by ``benchmarks/tune_biasedmf_defaults.py --svdpp``.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
        >>> model = SVDpp(n_factors=2, n_epochs=100, learning_rate=0.02, learning_rate_decay=1,
        ...               random_state=0)
        >>> model.fit(Interactions.from_dense(R)).predict([0], [2]).round(1).tolist() < [3.0]
        True
        >>> model.y_.shape
        (4, 2)
    """

    _array_state = FactorModel._array_state + ("p_", "y_")

    def __init__(
        self,
        n_factors: int = 32,
        n_epochs: int = 7,
        learning_rate: float = 0.05,
        learning_rate_decay: float = 0.75,
        regularization: float = 0.08,
        bias_regularization: float | None = None,
        implicit_regularization: float | None = 0.001,
        init_std: float = 0.05,
        patience: int | None = None,
        num_threads: int | None = None,
        random_state=None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.learning_rate_decay = learning_rate_decay
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.implicit_regularization = implicit_regularization
        self.init_std = init_std
        self.patience = patience
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_int("n_epochs", self.n_epochs)
        check_float("learning_rate", self.learning_rate, positive=True)
        check_decay(self.learning_rate_decay)
        check_float("regularization", self.regularization)
        for name in ("bias_regularization", "implicit_regularization"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name))
        check_float("init_std", self.init_std)
        if self.patience is not None:
            check_int("patience", self.patience)
        if self.num_threads is not None:
            check_int("num_threads", self.num_threads)

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """P and Q, then the implicit factors Y (items x k) and the sums Z (users x k).

        Example:
            >>> SVDpp(n_factors=2)._fit_bytes(10, 5, 20)  # 120 + 120
            240
        """
        return 2 * super()._fit_bytes(n_users, n_items, nnz)

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        threads = training_threads(self.num_threads, data.nnz)
        matrix = data.matrix
        indptr = matrix.indptr.astype(np.int64)
        # Private copies: each epoch shuffles every user's cells in place.
        items = matrix.indices.copy()
        ratings = matrix.data.copy()
        n_chunks = min(threads, max(1, data.n_users))

        mu = data.global_mean()
        bu = np.zeros(data.n_users, dtype=np.float32)
        bi = np.zeros(data.n_items, dtype=np.float32)
        P = init_factors(rng, data.n_users, k, self.init_std)
        Q = init_factors(rng, data.n_items, k, self.init_std)
        Y = init_factors(rng, data.n_items, k, self.init_std)
        Z = np.empty_like(P)
        reg = np.float32(self.regularization)
        reg_b = np.float32(
            self.regularization if self.bias_regularization is None else self.bias_regularization
        )
        reg_y = np.float32(
            self.regularization
            if self.implicit_regularization is None
            else self.implicit_regularization
        )
        has_valid = validation is not None and validation.nnz > 0
        running = {"rmse": math.nan}

        def step(epoch):
            lr = np.float32(self.learning_rate * self.learning_rate_decay**epoch)
            shuffle_rows(epoch_seed(rng), indptr, items, ratings)
            order = rng.permutation(data.n_users)
            sse = svdpp_epoch(
                order, indptr, items, ratings, mu, bu, bi, P, Q, Y, lr, reg_b, reg, reg_y,
                n_chunks,
            )  # fmt: skip
            running["rmse"] = math.sqrt(sse / data.nnz)

        def evaluate():
            if not has_valid:
                return running["rmse"], float("nan")
            effective_user_factors(indptr, items, P, Y, Z)
            valid = rmse_cells(
                validation.user_idx, validation.item_idx, validation.ratings, mu, bu, bi, Z, Q
            )
            return running["rmse"], valid

        with numba_threads(threads):
            self.history_ = run_epochs(
                type(self).__name__,
                self.n_epochs,
                step,
                evaluate,
                state=(bu, bi, P, Q, Y),
                patience=self.patience if has_valid else None,
                verbose=self.verbose,
            )
            effective_user_factors(indptr, items, P, Y, Z)
        no_user = data.user_counts() == 0
        no_item = data.item_counts() == 0
        P[no_user] = 0
        Y[no_item] = 0  # never in any N(u): unused, and never trained
        self.p_ = P
        self.y_ = Y
        self._set_state(mu, bu, bi, Z, Q)
        self._zero_unseen(data)

    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (item_idx, value) -> (user_bias, z = p + |N(u)|^-½ Σ y_j): the class
        docstring's fold-in objective, each row's items being its N(u).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
            >>> model = SVDpp(n_factors=2, n_epochs=20, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> bias, Z = model._solve_user_rows([0, 2, 2], [0, 3], [5.0, 1.0])
            >>> Z.shape, bool(Z[1].any())  # a row without ratings gets zeros
            ((2, 2), False)
        """
        indptr = np.asarray(indptr, dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64)
        rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        s = self._implicit_sums(indptr, indices)
        Q = self.item_factors_.astype(np.float64)
        # q_i·s is fixed per cell: moved into the values, the rest is the default ridge.
        shifted = np.asarray(values, dtype=np.float64) - np.einsum("ij,ij->i", Q[indices], s[rows])
        reg_f, reg_b, weighted = self._fold_in_regularization("user")
        bias, p = ridge_rows(
            indptr,
            indices,
            shifted,
            self.item_factors_,
            self.global_mean_ + self.item_bias_.astype(np.float64),
            True,
            reg_f,
            reg_b,
            weighted,
        )
        return bias, (p + s).astype(np.float32)

    def _implicit_sums(self, indptr, indices) -> np.ndarray:
        """s = |N(u)|^-½ Σ_{j∈N(u)} y_j for each CSR row of items (float64, rows x k)."""
        indptr = np.asarray(indptr, dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64)
        counts = np.diff(indptr)
        rows = np.repeat(np.arange(counts.size), counts)
        s = np.zeros((counts.size, self.n_factors_))
        # An item added after training (partial_fit_items, or a file written before y_
        # grew with the items) has no y: zero, as no user's N(u) held it when y was
        # learned.  It still counts in |N(u)|.
        has_y = indices < self.y_.shape[0]
        np.add.at(s, rows[has_y], self.y_[indices[has_y]].astype(np.float64))
        s *= (1.0 / np.sqrt(np.maximum(counts, 1)))[:, None]
        return s

    def _more_rows(self, side, target, indptr, cols, factors, catalog) -> dict:
        # p_ and y_ keep one row per user and per item, as user_factors_ and
        # item_factors_ do (and a file written before they grew gets its rows here).
        if side == "item":
            # A new item's y is unknown (no user's N(u) held it in training): zero.
            return {"y_": _grown(self.y_, catalog.n_items)}
        # The stored z = p + s of each solved user, split back: p = z - s.
        p = _grown(self.p_, catalog.n_users)
        p[target] = factors - self._implicit_sums(indptr, cols)
        return {"p_": p}


def _grown(rows: np.ndarray, n: int) -> np.ndarray:
    """A copy of ``rows`` with zero rows appended up to ``n`` rows."""
    out = np.zeros((max(n, rows.shape[0]),) + rows.shape[1:], dtype=rows.dtype)
    out[: rows.shape[0]] = rows
    return out
