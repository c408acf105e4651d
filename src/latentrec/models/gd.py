"""The textbook model: full-batch gradient descent on r̂ = μ + u_i · v_j."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..data.interactions import Interactions
from ._training import check_float, check_int, run_epochs
from .factor import FactorModel


class GradientDescentMF(FactorModel):
    """Full-batch gradient descent over the observed cells, exactly as the texts write it.

    Each step computes the error on observed cells only, E = mask∘(R − μ − UVᵀ), then
    U ← U + η(EV − λU) and V ← V + η(EᵀU − λV) with the *new* U and the same E.
    U and V start as draws from N(0, init_std²) — U first, then V — from
    ``numpy.random.default_rng(random_state)``.  There are no biases: μ anchors the
    predictions.  The defaults are the classic 6 × 6 example's.

    The texts' step is a sum over a row's ratings, so it grows with the row: a user with
    300 ratings moves 50 times as far as a user with 6, and on real data (MovieLens-100K,
    up to 737 ratings a user and 583 an item) the busiest rows overshoot and training
    diverges within a few dozen steps.  So a row (user or item) with n ratings, more than
    ``full_step_ratings``, takes the step ``learning_rate · full_step_ratings / n``: its
    summed gradient counts as much as that of a row with ``full_step_ratings`` ratings,
    however large the data.  Rows with fewer ratings, and so every row of the classic
    example, take exactly the texts' step (the example reproduces to the last digit);
    ``full_step_ratings=None`` gives every row the full step, as does any count at least
    the busiest row's (``sys.maxsize``, say: the number only divides, in Python).

    E is kept sparse, so a step costs O(nnz · k), but it is a teaching model: use
    :class:`BiasedMF` for real data.

    Fold-in (``fold_in``, ``partial_fit_users``; ``partial_fit_items`` is the mirror)
    solves the objective whose full-batch gradient the steps follow, for one user with V
    fixed: ``min_u Σ_j (r_j − μ − u·v_j)² + λ‖u‖²``, λ not multiplied by the number of
    ratings (the penalty is on the vector, once, not per rating as in SGD) and no bias.
    Its minimiser is where the user step stops moving, so once training has converged a
    training user folds in to its own row.

    Args:
        n_factors: length k of the user and item vectors.
        n_epochs: full-batch steps.
        learning_rate: step size η for rows with at most ``full_step_ratings`` ratings.
        regularization: L2 penalty λ on the vectors.
        init_std: standard deviation of the initial vectors.
        full_step_ratings: the most ratings a row may have and still take the full step
            (up to ``2**63 - 1``); ``None`` or ``sys.maxsize`` for the unscaled update of
            the texts (diverges on large rows).
        random_state: seed of the initial vectors.
        verbose: progress bar; ``None`` (default) shows one in a terminal or notebook
            when a fit takes more than a few seconds.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5,5,4,1,0,1],[4,5,5,2,1,0],[5,4,0,1,2,1],
        ...               [1,2,1,5,4,5],[0,1,2,4,5,4],[2,1,1,5,5,4]])
        >>> model = GradientDescentMF(random_state=1).fit(Interactions.from_dense(R))
        >>> round(model.history_["train_rmse"][-1], 3)
        0.242
        >>> round(float(model.predict([2], [2])[0]), 2), round(float(model.predict([4], [0])[0]), 2)
        (4.51, 2.42)
    """

    def __init__(
        self,
        n_factors: int = 2,
        n_epochs: int = 8000,
        learning_rate: float = 0.01,
        regularization: float = 0.05,
        init_std: float = 0.1,
        full_step_ratings: int | None = 10,
        random_state=None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.init_std = init_std
        self.full_step_ratings = full_step_ratings
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_int("n_epochs", self.n_epochs)
        check_float("learning_rate", self.learning_rate, positive=True)
        check_float("regularization", self.regularization)
        check_float("init_std", self.init_std)
        if self.full_step_ratings is not None:
            # Only divided into a float step (no kernel sees it), so the cap is int64's:
            # sys.maxsize, a natural "always the full step", trains as None does.
            if isinstance(self.full_step_ratings, int) and self.full_step_ratings > 2**63 - 1:
                raise ValueError(
                    "full_step_ratings must be an integer >= 1 and <= 9223372036854775807, "
                    f"got {self.full_step_ratings!r}; None gives every row the full step"
                )
            check_int("full_step_ratings", self.full_step_ratings, maximum=2**63 - 1)

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """U and V in float64, then the larger of the new U and V each step builds and
        the residual's gathers ``U[rows]`` and ``V[cols]`` (two float64 cells x k arrays,
        the peak when there are many cells).

        Example:
            >>> GradientDescentMF(n_factors=2)._fit_bytes(10, 5, 20)  # 240 + max(240, 640)
            880
        """
        k = int(self.n_factors)
        factors64 = 8 * (n_users + n_items) * k
        return factors64 + max(factors64, 16 * nnz * k)

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        rng = np.random.default_rng(self.random_state)
        rows, cols = data.user_idx, data.item_idx
        r = data.ratings.astype(np.float64)
        mu = float(r.mean())
        U = rng.normal(0.0, self.init_std, (data.n_users, self.n_factors))
        V = rng.normal(0.0, self.init_std, (data.n_items, self.n_factors))
        indptr, indices = data.matrix.indptr, data.matrix.indices
        reg = self.regularization
        lr_user = self._row_steps(np.diff(indptr))
        lr_item = self._row_steps(np.bincount(cols, minlength=data.n_items))
        state = {"U": U, "V": V}
        # The training RMSE after a step is the error the next step computes anyway,
        # so it is kept from there instead of predicting twice.
        last = {"err": None}

        def residual(U, V):
            return r - mu - np.einsum("ij,ij->i", U[rows], V[cols])

        def step(epoch):
            U, V = state["U"], state["V"]
            e = residual(U, V) if last["err"] is None else last["err"]
            E = sp.csr_matrix((e, indices, indptr), shape=data.shape)
            U = U + lr_user * (E @ V - reg * U)
            V = V + lr_item * (E.T @ U - reg * V)
            state["U"], state["V"] = U, V
            last["err"] = residual(U, V)

        def evaluate():
            # Divergence shows as inf here and is reported by run_epochs, not as a warning.
            with np.errstate(over="ignore", invalid="ignore"):
                train = float(np.sqrt(np.mean(last["err"] ** 2)))
            if validation is None or validation.nnz == 0:
                return train, float("nan")
            e = (
                validation.ratings
                - mu
                - np.einsum(
                    "ij,ij->i", state["U"][validation.user_idx], state["V"][validation.item_idx]
                )
            )
            return train, float(np.sqrt(np.mean(e**2)))

        self.history_ = run_epochs(
            type(self).__name__, self.n_epochs, step, evaluate, verbose=self.verbose
        )
        self._set_state(mu, np.zeros(data.n_users), np.zeros(data.n_items), state["U"], state["V"])
        self._zero_unseen(data)

    def _fold_in_regularization(self, side: str) -> tuple[float, float, bool]:
        """(λ, λ, False): the steps' penalty λ‖u‖² is not multiplied by the row's count.

        Example:
            >>> GradientDescentMF(regularization=0.05)._fold_in_regularization("user")
            (0.05, 0.05, False)
        """
        reg = float(self.regularization)
        return reg, reg, False

    def _row_steps(self, counts: np.ndarray) -> np.ndarray:
        """Step size per row as a column: η, or η · full_step_ratings / n for busy rows."""
        lr = float(self.learning_rate)
        if self.full_step_ratings is None:
            return np.full((counts.size, 1), lr)
        # min(1, cap / n) is exactly 1.0 for small rows, so their step is bit-identical
        # to the texts' scalar step (the 6 × 6 example reproduces to the last digit).
        scale = np.minimum(1.0, self.full_step_ratings / np.maximum(counts, 1))
        return (lr * scale)[:, None]
