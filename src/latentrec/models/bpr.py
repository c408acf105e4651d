"""Pairwise ranking for implicit feedback: BPR (Rendle et al. 2009) and WARP (Weston et al. 2011).

Both learn scores s(u, i) = b_i + p_u · q_i from which stored cells are positives and every
other item a candidate negative, by lock-free parallel SGD over sampled
(user, positive, negative) triples (kernels in :mod:`latentrec.kernels.bpr`).  The result is
a :class:`~latentrec.models.base.FactorModel` with μ = 0 and zero user biases, so
recommendation, similarity, explanation, fold-in and model files are the shared ones.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..data.interactions import Interactions
from ..kernels import bpr as K
from ..kernels.sgd import predict_cells
from ..kernels.threads import fold_in_threads, numba_threads
from ..retrieval import whole_indices
from ._training import check_float, check_int, run_epochs
from .factor import FactorModel


def _rows(indptr, indices, n_cols: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """CSR rows with sorted, distinct column indices, checked against ``n_cols``."""
    indptr = np.asarray(indptr, dtype=np.int64)
    # Whole numbers only: a float index was cut (1.7 became column 1).
    indices = whole_indices(indices, f"{what} indices")
    if indptr.ndim != 1 or indptr.size < 1 or indptr[0] != 0 or indptr[-1] != indices.size:
        raise ValueError("indptr must start at 0 and end at len(indices)")
    if indices.size and (indices.min() < 0 or indices.max() >= n_cols):
        bad = indices[(indices < 0) | (indices >= n_cols)][0]
        raise ValueError(f"{what} index {bad} is out of range (the model has {n_cols})")
    m = sp.csr_matrix(
        (np.ones(indices.size, dtype=np.float32), indices, indptr),
        shape=(indptr.size - 1, n_cols),
    )
    m.sum_duplicates()  # also sorts the indices of each row
    return m.indptr.astype(np.int64), m.indices.astype(np.int64)


class _PairwiseRanking(FactorModel):
    """Shared fitting and fold-in of :class:`BPR` and :class:`WARP`."""

    predicts_ratings = False
    _loss_kind = K.BPR

    def _max_sampled(self) -> int:
        return 1

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_int("n_epochs", self.n_epochs)
        check_float("learning_rate", self.learning_rate, positive=True)
        check_float("regularization", self.regularization)
        check_float("init_std", self.init_std)
        if not isinstance(self.item_bias, (bool, np.bool_)):
            raise ValueError(f"item_bias must be True or False, got {self.item_bias!r}")
        if self.optimizer not in ("sgd", "adagrad"):
            raise ValueError(f"optimizer must be 'sgd' or 'adagrad', got {self.optimizer!r}")
        if self.num_threads is not None:
            check_int("num_threads", self.num_threads)

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """The factors, then the larger of a float64 draw of the larger side and
        AdaGrad's sums (made after the draws are freed).

        Example:
            >>> BPR(n_factors=2, optimizer="sgd")._fit_bytes(10, 5, 20)  # 120 + 160
            280
            >>> BPR(n_factors=2, optimizer="adagrad")._fit_bytes(10, 5, 20)  # 120 + max(160, 120)
            280
        """
        k = int(self.n_factors)
        factors = super()._fit_bytes(n_users, n_items, nnz)
        adagrad = factors if self.optimizer == "adagrad" else 0
        return factors + max(8 * max(n_users, n_items) * k, adagrad)

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        X = data.matrix
        # Only which cells are stored is read, never their values (X.data): binary data,
        # counts and durations train the same model.  So, unlike ImplicitALS, there is no
        # confidence scale to choose from the data and no "auto" setting here; the
        # defaults' λ acts per sampled triple, not on the table as a whole.
        indptr, indices, cell_user = X.indptr, X.indices, data.user_idx
        P = rng.normal(0.0, self.init_std, (data.n_users, k)).astype(np.float32)
        Q = rng.normal(0.0, self.init_std, (data.n_items, k)).astype(np.float32)
        b = np.zeros(data.n_items, dtype=np.float32)
        adagrad = self.optimizer == "adagrad"
        m = (P, Q, b, *_accumulators(adagrad, data.n_users, data.n_items, k))
        weights = K.warp_rank_weights(data.n_items)
        aucs: list[float] = []
        valid_aucs: list[float] = []
        with numba_threads(self.num_threads) as n_threads:
            states = K.seed_states(rng, n_threads)
            loss = np.zeros(n_threads, dtype=np.float64)
            correct = np.zeros(n_threads, dtype=np.int64)
            used = np.zeros(n_threads, dtype=np.int64)
            valid = None
            if validation is not None and validation.nnz > 0:
                # Fixed triples (a validation positive, a training negative), drawn once so
                # that the validation AUC of different epochs is comparable.
                v_users = validation.user_idx
                v_neg = K.sample_negatives(
                    indptr, indices, v_users, data.n_items, K.seed_states(rng, 1)
                )
                keep = v_neg >= 0
                valid = (v_users[keep], validation.item_idx[keep], v_neg[keep])

            def step(epoch):
                order = rng.permutation(data.nnz)
                K.pairwise_epoch(
                    indptr, indices, cell_user, m, self._opts(), self._loss_kind, order,
                    self._max_sampled(), weights, states, loss, correct, used,
                )  # fmt: skip

            def evaluate():
                n_used = max(int(used.sum()), 1)
                aucs.append(float(correct.sum()) / n_used)
                if valid is not None:
                    valid_aucs.append(_triple_auc(P, Q, b, *valid))
                return float(loss.sum()) / n_used, float("nan")

            self.history_ = run_epochs(
                type(self).__name__, self.n_epochs, step, evaluate, verbose=self.verbose
            )
        # Named as in the other implicit models (and what plots.learning_curves reads).
        self.history_["train_loss"] = self.history_.pop("train_rmse")
        self.history_["train_auc"] = aucs
        if valid is not None:
            self.history_["valid_auc"] = valid_aucs
        self._set_state(0.0, np.zeros(data.n_users, np.float32), b, P, Q)
        self._zero_unseen(data)

    def _opts(self):
        return (
            np.float32(self.learning_rate),
            np.float32(self.regularization),
            bool(self.item_bias),
            self.optimizer == "adagrad",
        )

    # ----------------------------------------------------------- fold-in hooks
    def training_values(self, ratings) -> np.ndarray:
        """1 for every rating: the fit reads which cells are stored, never their values
        (see :meth:`FoldIn.training_values`).

        Example:
            >>> BPR().training_values([5.0, 1.0]).tolist()
            [1.0, 1.0]
        """
        return np.ones(np.shape(ratings), dtype=np.float64)

    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for users given their items (CSR rows), item factors and biases fixed.

        Approximate: each row gets ``n_epochs * len(row)`` steps of the training loss and
        optimiser from a zero vector (fresh AdaGrad accumulators), with negatives drawn
        from the items outside the row and the generator seeded from ``random_state`` and
        the row's items, so a row's vector does not depend on the other rows given with it.
        ``values`` are ignored: every stored cell is a positive.  User biases are zero, as
        in training.
        """
        self.check_fitted()
        Q, b = self.item_factors_, self.item_bias_
        n_items, k = Q.shape
        indptr, indices = _rows(indptr, indices, n_items, "item")
        n = indptr.size - 1
        opts = self._opts()
        P_new = np.zeros((n, k), dtype=np.float32)
        GP, _, _ = _accumulators(opts[3], n, 0, k)
        _, GQ, Gb = _accumulators(False, 0, 0, k)  # the items do not move
        rng = np.random.default_rng(self.random_state)
        # Rows are independent (each has its own generator): any thread count, one answer.
        with numba_threads(fold_in_threads(self.num_threads, n, k)):
            K.fold_in_users(
                indptr, indices, (P_new, Q, b, GP, GQ, Gb), opts, self._loss_kind,
                int(self.n_epochs), self._max_sampled(), K.warp_rank_weights(n_items),
                # Seeded by the row's items, not its place: a user gets one vector alone
                # or in any batch (the service folds users in one at a time and batched).
                K.row_seed_states(int(K.seed_states(rng, 1)[0]), indptr, indices),
            )  # fmt: skip
        return np.zeros(n, dtype=np.float32), P_new

    def _solve_item_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and biases for items given their users (CSR rows), user factors fixed.

        Approximate: per epoch (``n_epochs`` of them, from a zero vector) the new item is
        the positive of ``len(row)`` sampled triples against its users' unseen old items,
        and the negative of about as many triples as uniform negative sampling gives one
        item during training (see :func:`latentrec.kernels.bpr.fold_in_items`).
        ``values`` are ignored: every stored cell is a positive.
        """
        self.check_fitted()
        P, Q = self.user_factors_, self.item_factors_
        n_old, k = Q.shape
        indptr, indices = _rows(indptr, indices, P.shape[0], "user")
        n = indptr.size - 1
        seen = sp.csr_matrix(self.seen_[: P.shape[0], :n_old])
        seen.sort_indices()
        q_ext = np.vstack([Q, np.zeros((n, k), dtype=np.float32)])
        b_ext = np.concatenate([self.item_bias_, np.zeros(n, dtype=np.float32)])
        opts = self._opts()
        _, GQ, Gb = _accumulators(opts[3], 0, n_old + n, k)
        GP, _, _ = _accumulators(False, 0, 0, k)  # the users do not move
        n_as_negative = max(1, int(round(seen.nnz / max(n_old, 1))))
        rng = np.random.default_rng(self.random_state)
        with numba_threads(self.num_threads):
            K.fold_in_items(
                indptr, indices, (P, q_ext, b_ext, GP, GQ, Gb), opts, n_old, seen.indptr,
                seen.indices, self._loss_kind, int(self.n_epochs), n_as_negative,
                self._max_sampled(), K.warp_rank_weights(n_old), K.seed_states(rng, n),
            )  # fmt: skip
        return b_ext[n_old:].copy(), q_ext[n_old:].copy()


def _accumulators(adagrad: bool, n_users: int, n_items: int, k: int):
    """AdaGrad's squared-gradient sums (GP, GQ, Gb), starting at 1; empty without AdaGrad."""
    if not adagrad:
        n_users = n_items = 0
    return (
        np.ones((n_users, k), dtype=np.float32),
        np.ones((n_items, k), dtype=np.float32),
        np.ones((n_items, 1), dtype=np.float32),
    )


def _triple_auc(P, Q, b, users, pos, neg) -> float:
    """Share of triples (u, i, j) with s(u, i) > s(u, j)."""
    zeros = np.zeros(P.shape[0], dtype=np.float32)
    s_pos = np.empty(users.size, dtype=np.float64)
    s_neg = np.empty(users.size, dtype=np.float64)
    predict_cells(users, pos, 0.0, zeros, b, P, Q, s_pos)
    predict_cells(users, neg, 0.0, zeros, b, P, Q, s_neg)
    return float(np.mean(s_pos > s_neg)) if users.size else float("nan")


class BPR(_PairwiseRanking):
    """Bayesian Personalised Ranking: maximise Σ ln σ(s(u, i) − s(u, j)) over sampled triples.

    Scores are s(u, i) = b_i + p_u · q_i (b_i only with ``item_bias=True``); every stored
    cell of the training data is a positive (its value is ignored), every other item of the
    user a negative.  Each epoch visits every (user, positive) cell once, in a fresh random
    order, pairing it with a negative drawn uniformly from the items the user never had
    (rejection against the user's sorted CSR row), and takes one step on the triple
    (Rendle et al. 2009, with L2 penalty ``regularization``; see
    :mod:`latentrec.kernels.bpr` for the update).  The steps run lock-free on
    ``num_threads`` threads (Hogwild); with a seed and ``num_threads=1`` results are
    bit-identical.  With more threads they are not: updates race, and each thread draws
    from its own random stream, so results also change with the thread count.
    ``optimizer="adagrad"`` (the default, as in LightFM) scales each
    coordinate's step by the inverse root of its accumulated squared gradients;
    ``"sgd"`` keeps the plain step.

    The learned model has μ = 0 and zero user biases, so every shared operation
    (``recommend``, ``similar_items``, ``explain``, fold-in, ``save``) applies; it ranks
    but does not predict ratings (``predict`` raises ``PredictsNoRatingsError``, a
    ``TypeError`` and a ``ValueError``).

    ``history_`` has the keys of :func:`~latentrec.models._training.run_epochs` with
    ``train_rmse`` renamed ``train_loss``, as in the other implicit models: it holds the
    mean BPR loss −ln σ(x_uij) of the epoch's triples (each taken before its step).
    ``train_auc`` is the share of those triples ranked right (x_uij > 0), a sampled
    training AUC; with validation data passed to ``fit``, ``valid_auc`` is the same share
    on fixed (validation positive, training negative) triples.

    Fold-in (``fold_in``, ``partial_fit_users``, ``partial_fit_items``) runs ``n_epochs``
    epochs of the same steps on the given rows from zero vectors, with the other side
    fixed and a generator seeded from ``random_state``: approximate, not the trained row.

    Args:
        n_factors: k, the number of latent factors.
        n_epochs: passes over the training cells.
        learning_rate: step size (before AdaGrad's scaling).
        regularization: L2 penalty λ on the touched user, item factors and item biases.
        item_bias: learn an item bias b_i.
        optimizer: ``"adagrad"`` or ``"sgd"``.
        init_std: factors start as N(0, init_std²), item biases at 0.
        num_threads: threads for the parallel epochs (None: numba's default; at most
            numba's ``NUMBA_NUM_THREADS``).  A fold-in of a few users runs on one thread
            (``kernels.threads.fold_in_threads``).
        random_state: seed (or ``numpy.random.Generator``).
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    The defaults were chosen on a validation split carved from the training part of a
    MovieLens-100K split (``benchmarks/implicit_ml100k_bpr.py --tune``): of the settings
    within 0.002 NDCG@10 of the grid's best, the one with the fewest epochs.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.kron(np.eye(2), np.ones((4, 4)))  # two groups of users and items
        >>> R[0, 0] = R[4, 4] = 0  # each group's first user has one item left to find
        >>> model = BPR(n_factors=4, n_epochs=200, random_state=0)
        >>> model.fit(Interactions.from_dense(R)).recommend(0, n=1).ids.tolist()
        [0]
    """

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 100,
        learning_rate: float = 0.05,
        regularization: float = 0.03,
        item_bias: bool = True,
        optimizer: str = "adagrad",
        init_std: float = 0.1,
        num_threads: int | None = None,
        random_state=None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.item_bias = item_bias
        self.optimizer = optimizer
        self.init_std = init_std
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose


class WARP(_PairwiseRanking):
    """Weighted Approximate-Rank Pairwise loss (Weston et al. 2011), as in LightFM.

    For each positive (u, i), negatives j are drawn uniformly from the user's other items
    until one breaks the margin, s(u, j) > s(u, i) − 1, or ``max_sampled`` draws fail (no
    step then).  After N draws the rank of i is estimated as ⌊(n_items − 1) / N⌋ and the
    hinge 1 − s(u, i) + s(u, j) is weighted by L(rank) = Σ_{m=1..rank} 1/m, so positives
    ranked low get large steps and those near the top small ones: a loss aimed at the top
    of the list.  Everything else (scores s(u, i) = b_i + p_u · q_i, one visit per cell and
    epoch, Hogwild threads, AdaGrad, determinism, fold-in, the model it produces) is as in
    :class:`BPR`.

    ``history_["train_loss"]`` holds the mean weighted hinge loss per positive,
    ``train_auc`` the share of positives that outscored their first negative.

    Args:
        n_factors: k, the number of latent factors.
        n_epochs: passes over the training cells.
        learning_rate: step size (before AdaGrad's scaling).
        regularization: L2 penalty λ on the touched factors and biases.
        max_sampled: most negatives drawn per positive.
        item_bias: learn an item bias b_i.
        optimizer: ``"adagrad"`` or ``"sgd"`` (plain SGD needs a small learning rate:
            the rank weights reach ln(n_items) + 0.58).
        init_std: factors start as N(0, init_std²), item biases at 0.
        num_threads: threads for the parallel epochs (None: numba's default).  A fold-in
            of a few users runs on one thread (``kernels.threads.fold_in_threads``).
        random_state: seed (or ``numpy.random.Generator``).
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    The defaults were chosen like those of :class:`BPR` (here the best of the grid).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.kron(np.eye(2), np.ones((4, 4)))
        >>> R[0, 0] = R[4, 4] = 0
        >>> model = WARP(n_factors=4, n_epochs=100, learning_rate=0.05, random_state=0)
        >>> model.fit(Interactions.from_dense(R)).recommend(4, n=1).ids.tolist()
        [4]
    """

    _loss_kind = K.WARP

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 50,
        learning_rate: float = 0.02,
        regularization: float = 0.03,
        max_sampled: int = 10,
        item_bias: bool = True,
        optimizer: str = "adagrad",
        init_std: float = 0.01,
        num_threads: int | None = None,
        random_state=None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.max_sampled = max_sampled
        self.item_bias = item_bias
        self.optimizer = optimizer
        self.init_std = init_std
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose

    def _max_sampled(self) -> int:
        return int(self.max_sampled)

    def _check_params(self) -> None:
        super()._check_params()
        check_int("max_sampled", self.max_sampled)
