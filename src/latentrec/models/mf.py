"""Biased matrix factorisation learned by SGD (Funk; Koren, Bell & Volinsky 2009)."""

from __future__ import annotations

import math

import numba
import numpy as np

from ..data.interactions import Interactions
from ..kernels.sgd import epoch_block_order, grid_blocks, rmse_cells, sgd_epoch, shuffle_blocks
from ..kernels.threads import numba_threads
from ._training import check_epochs, check_float, check_int, run_epochs
from .factor import FactorModel

#: Below this many training cells an epoch takes about a millisecond, less than waking
#: extra threads costs, so training runs on one thread whatever ``num_threads`` says.
PARALLEL_MIN_CELLS = 1 << 17
#: User groups are sized so that their rows of P (users x k float32) take about this
#: many bytes, and item groups their rows of Q about twice that: together they stay in a
#: core's L2 cache while the group's block is trained.
BLOCK_BYTES = 1 << 18
#: At least this many user groups (and 4 per thread), so that threads get balanced shares.
MIN_BLOCKS = 16


def grid_shape(n_users: int, n_items: int, k: int, threads: int) -> tuple[int, int]:
    """Numbers of user groups and item groups of the training grid (see kernels.sgd).

    Example:
        >>> grid_shape(943, 1682, 64, 1), grid_shape(100_000, 20_000, 100, 2)
        ((16, 1), (153, 15))
    """
    row_bytes = 4 * k
    user_groups = max(MIN_BLOCKS, 4 * threads, math.ceil(n_users * row_bytes / BLOCK_BYTES))
    item_groups = max(1, round(n_items * row_bytes / (2 * BLOCK_BYTES)))
    return max(1, min(user_groups, n_users)), max(1, min(item_groups, n_items))


class BiasedMF(FactorModel):
    """r̂ = μ + b_u + b_i + p_u · q_i fitted by stochastic gradient descent.

    Every epoch visits the training cells in a fresh random order drawn from
    ``random_state`` and, for each cell with error e = r − r̂, updates
    b_u += η(e − λ_b b_u), b_i += η(e − λ_b b_i), p_u += η(e q_i − λ p_u),
    q_i += η(e p_u − λ q_i).  Epoch t (counting from 0) uses the step size
    η · learning_rate_decay^t.

    The epoch runs in a compiled numba kernel (:mod:`latentrec.kernels.sgd`): users and
    items are dealt at random into groups whose factor rows fit in cache, each epoch
    visits the user groups, the item groups within each and the cells within each block
    in fresh random orders, and threads take chunks of the user groups and update the
    shared factors without locks (Hogwild!).  With ``num_threads=1`` and a fixed
    ``random_state`` two fits are bit-identical; with more threads, updates race and
    results vary slightly from run to run.  Data with fewer than
    :data:`PARALLEL_MIN_CELLS` cells always trains on one thread (so it is deterministic
    for any ``num_threads``).

    ``history_["train_rmse"]`` is the RMSE of each cell's prediction just before its
    update during the epoch (free to compute; on a converged model it equals the
    end-of-epoch RMSE to a few decimals); ``valid_rmse`` is exact, after the epoch, and
    unclipped, as every model's history has it (``evaluate_ratings`` clips predictions
    to the rating scale by default, so its RMSE of the same model can be a little lower).

    Args:
        n_factors: k, the number of latent factors.
        n_epochs: passes over the training cells (an upper bound with ``patience``,
            which lets it be as large as ``sys.maxsize``: until validation stops improving;
            such a fit without validation data is refused).
        learning_rate: η, the step size of the first epoch.
        learning_rate_decay: factor applied to the step size after each epoch, in (0, 1].
        regularization: λ for the factors.
        bias_regularization: λ_b for the biases (defaults to ``regularization``).
        init_std: factors start as N(0, init_std²); biases start at 0.
        biased: ``False`` gives plain R ≈ PQᵀ (no μ, no biases).
        patience: with validation data passed to ``fit``, stop after this many epochs
            without a better validation RMSE and restore the best epoch.
        num_threads: numba threads (``None``: numba's default, usually all cores; more
            than ``numba.config.NUMBA_NUM_THREADS`` is capped to it).
        random_state: seed (or ``numpy.random.Generator``); fixed seed, identical results
            on one thread.
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    The defaults were chosen on a validation split of MovieLens-100K training data
    (never the test folds) by ``benchmarks/tune_biasedmf_defaults.py``; see
    ``docs/benchmarks.md``.

    The default schedule (a step of 0.1 shrinking by a quarter each epoch, 9 epochs) was
    tuned on MovieLens-100K; a tiny matrix, where an epoch is a handful of steps, wants
    more epochs at a constant rate (``learning_rate_decay=1``), as below.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
        >>> model = BiasedMF(n_factors=2, n_epochs=100, learning_rate_decay=1, random_state=0)
        >>> model.fit(Interactions.from_dense(R)).predict([0], [2]).round(1).tolist() < [3.0]
        True
    """

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 9,
        learning_rate: float = 0.1,
        learning_rate_decay: float = 0.75,
        regularization: float = 0.08,
        bias_regularization: float | None = None,
        init_std: float = 0.05,
        biased: bool = True,
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
        self.init_std = init_std
        self.biased = biased
        self.patience = patience
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_epochs(self.n_epochs, self.patience)
        check_float("learning_rate", self.learning_rate, positive=True)
        check_decay(self.learning_rate_decay)
        check_float("regularization", self.regularization)
        if self.bias_regularization is not None:
            check_float("bias_regularization", self.bias_regularization)
        check_float("init_std", self.init_std)
        if self.patience is not None:
            check_int("patience", self.patience)
        if self.num_threads is not None:
            check_int("num_threads", self.num_threads)

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        threads = training_threads(self.num_threads, data.nnz)
        user_groups, item_groups = grid_shape(data.n_users, data.n_items, k, threads)
        cells, block_ptr = grid_blocks(
            data.matrix.indptr, data.item_idx, data.n_items, user_groups, item_groups, rng
        )
        users = data.user_idx[cells]
        items = data.item_idx[cells]
        ratings = data.ratings[cells]
        del cells
        n_chunks = min(threads, user_groups)

        mu = data.global_mean() if self.biased else 0.0
        bu = np.zeros(data.n_users, dtype=np.float32)
        bi = np.zeros(data.n_items, dtype=np.float32)
        P = init_factors(rng, data.n_users, k, self.init_std)
        Q = init_factors(rng, data.n_items, k, self.init_std)
        reg = np.float32(self.regularization)
        reg_b = np.float32(
            self.regularization if self.bias_regularization is None else self.bias_regularization
        )
        has_valid = validation is not None and validation.nnz > 0
        running = {"rmse": math.nan}

        def step(epoch):
            lr = np.float32(self.learning_rate * self.learning_rate_decay**epoch)
            shuffle_blocks(epoch_seed(rng), block_ptr, users, items, ratings)
            order = epoch_block_order(rng, user_groups, item_groups)
            sse = sgd_epoch(
                order, block_ptr, users, items, ratings, mu, bu, bi, P, Q, lr, reg_b, reg,
                self.biased, n_chunks,
            )  # fmt: skip
            running["rmse"] = math.sqrt(sse / data.nnz)

        def evaluate():
            if not has_valid:
                return running["rmse"], float("nan")
            valid = rmse_cells(
                validation.user_idx, validation.item_idx, validation.ratings, mu, bu, bi, P, Q
            )
            return running["rmse"], valid

        with numba_threads(threads):
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


# ------------------------------------------------------------------ shared with SVDpp
def check_decay(value) -> None:
    """``learning_rate_decay`` must lie in (0, 1].

    Example:
        >>> check_decay(0.95)
        >>> try:
        ...     check_decay(1.5)
        ... except ValueError as err:
        ...     print(err)
        learning_rate_decay must be in (0, 1], got 1.5
    """
    check_float("learning_rate_decay", value, positive=True)
    if value > 1:
        raise ValueError(f"learning_rate_decay must be in (0, 1], got {value!r}")


def training_threads(num_threads: int | None, nnz: int) -> int:
    """Threads a fit uses: ``num_threads`` (or numba's default), capped, 1 for small data.

    Example:
        >>> training_threads(4, 1000)
        1
    """
    if nnz < PARALLEL_MIN_CELLS:
        return 1
    wanted = numba.get_num_threads() if num_threads is None else int(num_threads)
    return max(1, min(wanted, numba.config.NUMBA_NUM_THREADS))


def init_factors(rng: np.random.Generator, n: int, k: int, std: float) -> np.ndarray:
    """An ``n x k`` float32 matrix of N(0, std²) draws.

    Example:
        >>> init_factors(np.random.default_rng(0), 3, 2, 0.1).dtype
        dtype('float32')
    """
    out = rng.standard_normal((n, k), dtype=np.float32)
    out *= np.float32(std)
    return out


def epoch_seed(rng: np.random.Generator) -> np.uint64:
    """A 64-bit seed for one epoch's in-kernel shuffle, drawn from the fit's generator.

    Example:
        >>> epoch_seed(np.random.default_rng(0)).dtype
        dtype('uint64')
    """
    return rng.integers(0, 2**64, dtype=np.uint64)
