"""Confidence-weighted ALS for implicit feedback (Hu, Koren & Volinsky 2008)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from ..data.interactions import Interactions
from ..errors import HyperparameterError
from ..kernels.implicit_als import (
    cg_half_step,
    cholesky_half_step,
    exact_budget,
    gram,
    max_condition,
    row_chunks,
)
from ..kernels.threads import fold_in_threads, numba_threads
from ..kernels.transpose import block_edges, column_block, column_counts
from ..retrieval import whole_indices
from ._training import check_float, check_int, run_epochs, work_threads
from .factor import FactorModel

CONFIDENCES = ("auto", "linear", "log")
SOLVERS = ("cg", "cholesky")
AUTO = "auto"

#: ``alpha="auto"``: an observed cell of median value gets confidence ``1 + AUTO_ALPHA``
#: (on binary data, exactly the ``alpha=2`` tuned on MovieLens-100K).
AUTO_ALPHA = 2.0
#: ``regularization="auto"``: λ on MovieLens-100K's training part (80% of each user's
#: ratings: 943 users x 1646 items with a cell), where it was tuned ...
AUTO_REGULARIZATION = 30.0
AUTO_REFERENCE_CELLS = 943 * 1646
#: ... and scaled by (active users x active items / AUTO_REFERENCE_CELLS) ** this.  The
#: best λ on validation splits of seven data sets (21k to 262k stored cells, tables of
#: 0.7M to 36M cells) grew like the 0.25 power of the table's size (least squares on
#: log λ: 0.249; ``benchmarks/implicit_defaults.py --scaling``).
AUTO_SIZE_EXPONENT = 0.25
#: The item half-step transposes the ratings in about this many blocks of items (each
#: one full pass over the user-major matrix), so it holds 1/ITEM_BLOCKS of an
#: item-major copy at a time; but never blocks of fewer than MIN_BLOCK_CELLS cells.
ITEM_BLOCKS = 8
#: Values turned into log confidences per slice (float64 temporaries of this length).
STRENGTH_SLICE = 1 << 18
MIN_BLOCK_CELLS = 1 << 18
#: The largest confidence ``1 + alpha·v`` that ``solver="cg"`` takes: 2^24, where float32
#: (CG's arithmetic) stops telling c from c − 1, so the blank cells' weight of 1 is lost
#: in rounding.  CG's curvature ``pᵀAp`` grows as the cube of the confidence and
#: overflows float32 from about 1e10 (1e11 with factors of size 1, less with larger
#: ones); up to this bound CG matched a float64 dense solve on factors up to 100 times
#: larger (tests/kernels/test_cg_alpha_range.py).
MAX_CONFIDENCE = float(2**24)


def resolve_settings(
    values: np.ndarray,
    n_users: int,
    n_items: int,
    *,
    confidence="auto",
    alpha="auto",
    epsilon="auto",
    regularization="auto",
) -> dict:
    """The confidence and λ :class:`ImplicitALS` uses on data with these stored values.

    Each ``"auto"`` is resolved from the data; a given value is returned as it is.
    ``values`` are the stored (observed) interaction strengths, ``n_users`` and
    ``n_items`` the users and items with at least one of them.  With ``s`` the median of
    the positive values (1 when there are none):

    * ``confidence``: ``"linear"`` when every value is the same (binary data), else
      ``"log"`` (counts, long-tailed plays, durations; on small counts such as 1-5 it
      scores as linear does, and it keeps a tail of huge counts from swamping the rest).
    * ``epsilon`` (of ``"log"``): ``s``, so the confidence does not change when every
      value is multiplied by the same factor (plays vs minutes vs seconds).
    * ``alpha``: such that a cell of value ``s`` has confidence ``1 + 2``, as every cell
      of binary data has with the ``alpha=2`` tuned on MovieLens-100K.
    * ``regularization``: ``30 · (n_users · n_items / (943 · 1646)) ** 0.25``: the λ
      tuned on MovieLens-100K's training part, grown with the size of the table.

    Returns a dict with ``confidence``, ``alpha``, ``epsilon``, ``regularization``.

    Example:
        >>> import numpy as np
        >>> resolve_settings(np.ones(5), 943, 1646)
        {'confidence': 'linear', 'alpha': 2.0, 'epsilon': 1.0, 'regularization': 30.0}
        >>> plays = np.array([3.0, 120.0, 400.0, 9000.0])
        >>> s = resolve_settings(plays, 943, 1646)
        >>> s["confidence"], s["epsilon"]
        ('log', 260.0)
        >>> round(1 + s["alpha"] * float(np.log1p(260.0 / s["epsilon"])), 6)  # median cell
        3.0
        >>> resolve_settings(plays * 10, 943, 1646)["alpha"] == s["alpha"]
        True
    """
    values = np.asarray(values)
    low, high = (float(values.min()), float(values.max())) if values.size else (1.0, 1.0)
    if _is_auto(confidence):
        confidence = "linear" if low == high else "log"
    # The median is needed only by an "auto" epsilon or alpha; it costs a copy of the
    # positive values (40 MiB at 10M cells), which need not show in the fit's peak.
    needs_scale = _is_auto(alpha) or (_is_auto(epsilon) and confidence == "log")
    if low == high:
        scale = high if high > 0 else 1.0
    elif needs_scale:
        # One copy (the positive values), partitioned in place: at 10M cells a second
        # transient copy would show in the fit's peak memory.
        positive = values[values > 0]
        scale = float(np.median(positive, overwrite_input=True)) if positive.size else 1.0
        del positive
    else:
        scale = 1.0  # unused: every setting that reads it was given
    if _is_auto(epsilon):
        # Unused by linear confidence; 1.0 (the value it always had) keeps files readable.
        epsilon = scale if confidence == "log" else 1.0
    if _is_auto(alpha):
        typical = np.log1p(scale / float(epsilon)) if confidence == "log" else scale
        alpha = AUTO_ALPHA / float(typical)
    if _is_auto(regularization):
        cells = float(n_users) * float(n_items)
        regularization = AUTO_REGULARIZATION * (cells / AUTO_REFERENCE_CELLS) ** AUTO_SIZE_EXPONENT
    return {
        "confidence": str(confidence),
        "alpha": float(alpha),
        "epsilon": float(epsilon),
        "regularization": float(regularization),
    }


def check_confidence(alpha: float, strengths: np.ndarray) -> None:
    """Refuse an ``alpha`` that gives some cell a confidence over :data:`MAX_CONFIDENCE`,
    naming alpha, the confidence and the largest alpha these values allow (a
    :class:`~latentrec.errors.HyperparameterError`, so a ValueError).

    ``strengths`` are the v of ``c = 1 + alpha·v`` (see ``ImplicitALS._strength``).

    Example:
        >>> import numpy as np
        >>> check_confidence(1e6, np.array([1.0, 5.0]))
        >>> try:
        ...     check_confidence(1e12, np.array([1.0, 5.0]))
        ... except ValueError as err:
        ...     print(str(err)[:68])
        alpha=1000000000000.0 gives the strongest cell a confidence of 5e+12
    """
    top = float(np.max(strengths)) if strengths.size else 0.0
    highest = 1.0 + float(alpha) * top
    if highest > MAX_CONFIDENCE:
        raise HyperparameterError(
            f"alpha={alpha!r} gives the strongest cell a confidence of {highest:.3g} "
            f"(1 + alpha x {top:.4g}, its strength), more than the {MAX_CONFIDENCE:.0f} "
            "(2^24) the conjugate-gradient solver computes in float32 (past it the blank "
            "cells' weight of 1 is lost in rounding, and from about 1e10 its sums overflow); "
            f"lower alpha to at most {(MAX_CONFIDENCE - 1.0) / top:.4g}, or use "
            'solver="cholesky"'
        )


class ImplicitALS(FactorModel):
    """Implicit-feedback matrix factorisation: scores ``p_u · q_i`` from plays, clicks, views.

    Every cell of the user x item table counts: an observed cell (u, i) with value r_ui
    has preference 1 and confidence ``c_ui = 1 + alpha * r_ui`` (``confidence="linear"``)
    or ``1 + alpha * log(1 + r_ui / epsilon)`` (``"log"``); every unobserved cell has
    preference 0 and confidence 1.  The model minimises

        Σ_{u,i} c_ui (p_ui − x_u · y_i)² + λ (‖X‖² + ‖Y‖²)

    by alternating least squares: each half-step solves all item rows with the user
    factors fixed, then all user rows with the item factors fixed, so training ends on a
    user half-step (fold-in of a training user with the exact solver reproduces its row).
    ``YᵀY + λI`` is computed once per half-step and each row adds only the terms of its
    observed cells, so an iteration costs O(nnz·k) with CG and never densifies the table.

    ``solver="cg"`` runs ``cg_steps`` conjugate-gradient steps per row, warm-started from
    the row's previous value (Takács, Pilászy & Tikk 2011; what the implicit library
    does); ``"cholesky"`` solves each row exactly in float64, ``YᵀY + λI`` included, and
    raises ``FloatingPointError`` (naming the fix) rather than return a solve that may be
    off by more than 1e-3: λ = 0, or a λ lost to rounding against ``‖YᵀY‖``, with
    collinear factors (more factors than users or items with data, say) is refused.
    Rows run in parallel (numba ``prange``) and each row is solved from its own inputs
    only, so a fixed ``random_state`` gives identical factors for any ``num_threads``.

    The result is a :class:`FactorModel` with μ = 0 and zero biases: ``recommend``,
    ``recommend_batch``, ``similar_items``, ``explain`` and model files work as for every
    model.  Scores are preferences, not ratings, so ``predict`` raises
    ``PredictsNoRatingsError`` (a ``TypeError`` and a ``ValueError``).

    **Defaults chosen from the data.**  ``confidence``, ``alpha``, ``epsilon`` and
    ``regularization`` default to ``"auto"``; ``fit`` resolves each from the values it
    is given (see :func:`resolve_settings`), with ``s`` the median positive value:

    * binary data (every value the same): linear confidence, ``alpha = 2 / s`` and so
      ``alpha=2`` on 0/1 data, ``λ = 30`` on a table the size of MovieLens-100K;
    * anything else (small counts, long-tailed play counts, durations, real values):
      log confidence with ``epsilon = s`` and ``alpha = 2 / log 2``, so a cell of median
      value has confidence 3 like a binary cell, a cell 100 times the median about 14,
      and multiplying every value by a constant changes nothing;
    * ``λ = 30 · (users · items / (943 · 1646)) ** 0.25``, counting users and items with
      at least one cell: the best λ grew with the table's size like this on validation
      splits of seven data sets of 21k to 262k stored cells.

    The rule was tuned on validation splits carved from the *training* part of three
    kinds of data: binary MovieLens-100K (where it gives exactly the former defaults,
    ``alpha=2``, ``regularization=30``, linear), MovieLens-100K ratings used as counts
    (1-5), and synthetic long-tailed play counts (median in the hundreds, tail in the
    tens of thousands) at several sizes; on their test splits it reaches at least 90%
    of the best NDCG@10 of a grid over confidence x alpha x λ
    (``benchmarks/implicit_defaults.py``, figures in ``docs/benchmarks.md``).  With raw
    counts and the former linear ``alpha=2`` the long-tailed set scores below popularity.
    The resolved values are learned attributes, ``confidence_``, ``alpha_``, ``epsilon_``
    and ``regularization_``, saved in the model file and used by ``fold_in`` and the
    partial fits; ``ImplicitALS(confidence=m.confidence_, alpha=m.alpha_,
    epsilon=m.epsilon_, regularization=m.regularization_)`` fits the same model.  Any
    value passed explicitly is used as given (for the former behaviour, pass
    ``confidence="linear", alpha=2, regularization=30``).

    Args:
        n_factors: k, the number of latent factors.
        n_epochs: ALS iterations (each one item half-step and one user half-step).
        regularization: λ, the same for users and items and not scaled by counts (as in
            the paper and in implicit), or ``"auto"``.  0 is allowed: every row's system
            holds the whole Gram ``YᵀY``, so it is singular only where the factors of the
            other side are collinear (fewer items or users with data than factors).  Then
            ``"cholesky"`` refuses, naming the fix, and ``"cg"`` gives a least-squares
            minimiser whose scores are those of the minimum-norm one.
        alpha: confidence slope (larger trusts observed cells more than blank ones), or
            ``"auto"``.  With ``solver="cg"`` no cell's confidence may exceed 2^24
            (:data:`MAX_CONFIDENCE`): ``fit`` refuses a larger alpha, naming it and the
            largest the data allows, before it allocates the factors.
        confidence: ``"linear"``, ``"log"`` or ``"auto"``.
        epsilon: ε of the ``"log"`` confidence (ignored for ``"linear"``), or ``"auto"``.
        solver: ``"cg"`` or ``"cholesky"``.
        cg_steps: conjugate-gradient steps per row and half-step (``solver="cg"``).
        random_state: seed (or ``numpy.random.Generator``) of the initial factors.
        num_threads: threads for the row solves (``None``: numba's default).  A fold-in
            of a few rows runs on one thread (``kernels.threads.fold_in_threads``).
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    ``history_["train_loss"]`` holds, per iteration, the objective above at the end of the
    iteration divided by the total confidence weight ``Σ c_ui`` over all cells (observed
    and blank), as implicit reports it; implicit models have no RMSE, so the history has no
    ``train_rmse``.  It costs nothing extra: each solver returns its rows' objectives.
    ``validation`` passed to ``fit`` is not used (no per-iteration ranking metrics).

    ``fold_in``, ``partial_fit_users`` and ``partial_fit_items`` solve the new rows with
    this objective exactly (Cholesky), whatever ``solver``: a new row has no previous
    value for CG to start from.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0],
        ...               [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 1, 1]])
        >>> model = ImplicitALS(n_factors=2, n_epochs=10, random_state=0)
        >>> model.fit(Interactions.from_dense(R)).recommend(1, n=1).ids.tolist()
        [2]
        >>> h = model.history_["train_loss"]
        >>> bool(h[-1] <= h[0])
        True
        >>> model.confidence_, model.alpha_
        ('linear', 2.0)
        >>> plays = Interactions.from_dense(R * np.arange(1, 7) * 100)
        >>> ImplicitALS(n_factors=2, n_epochs=2, random_state=0).fit(plays).confidence_
        'log'
    """

    predicts_ratings = False

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 15,
        regularization: float | str = AUTO,
        alpha: float | str = AUTO,
        confidence: str = AUTO,
        epsilon: float | str = AUTO,
        solver: str = "cg",
        cg_steps: int = 3,
        random_state=None,
        num_threads: int | None = None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.regularization = regularization
        self.alpha = alpha
        self.confidence = confidence
        self.epsilon = epsilon
        self.solver = solver
        self.cg_steps = cg_steps
        self.random_state = random_state
        self.num_threads = num_threads
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_int("n_epochs", self.n_epochs)
        for name, positive in (("regularization", False), ("alpha", False), ("epsilon", True)):
            value = getattr(self, name)
            if isinstance(value, str):
                if value != AUTO:
                    raise ValueError(f"{name} must be a number or 'auto', got {value!r}")
            else:
                check_float(name, value, positive=positive)
        check_int("cg_steps", self.cg_steps)
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence must be one of {CONFIDENCES}, got {self.confidence!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.num_threads is not None:
            check_int("num_threads", self.num_threads)

    # ------------------------------------------------------------------ fitting
    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """The factors, the Gram matrix YᵀY, and with ``solver="cholesky"`` one k x k
        float64 factorisation per thread.

        Example:
            >>> ImplicitALS(n_factors=2, num_threads=1)._fit_bytes(10, 5, 20)  # 120 + 32
            152
        """
        k = int(self.n_factors)
        need = super()._fit_bytes(n_users, n_items, nnz) + 8 * k * k
        if self.solver == "cholesky":
            need += work_threads(self.num_threads, max(n_users, n_items)) * 8 * k * k
        return need

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        with numba_threads(self.num_threads):
            self._fit_als(data)

    def _fit_als(self, data: Interactions) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        by_user = data.matrix
        if by_user.nnz and by_user.data.min() < 0:
            bad = int(np.count_nonzero(by_user.data < 0))
            raise ValueError(
                f"ImplicitALS needs interaction strengths >= 0, but {bad} cells are negative; "
                "drop them or shift the values (a blank cell already means 'no preference')"
            )
        # The item half-step reads the ratings item by item.  They are transposed a block
        # of items at a time (kernels.transpose), never whole: at 10M cells a full
        # item-major copy is 80 MiB held for the whole fit.
        item_ptr = np.zeros(data.n_items + 1, dtype=np.int64)
        np.cumsum(column_counts(by_user.indices, data.n_items), out=item_ptr[1:])
        # Resolved here, in _fit, so that they are learned values: saved with the model and
        # used by fold-in and partial fits, which must weigh new cells as training did.
        settings = resolve_settings(
            by_user.data,
            int(np.count_nonzero(np.diff(by_user.indptr))),
            int(np.count_nonzero(np.diff(item_ptr))),
            confidence=self.confidence,
            alpha=self.alpha,
            epsilon=self.epsilon,
            regularization=self.regularization,
        )
        self.confidence_ = settings["confidence"]
        self.alpha_ = settings["alpha"]
        self.epsilon_ = settings["epsilon"]
        self.regularization_ = settings["regularization"]
        user_rows = (
            _readonly(by_user.indptr, np.int64),
            _readonly(by_user.indices, np.int32),
            self._strength(by_user.data),
        )
        if self.solver == "cg":
            check_confidence(self.alpha_, user_rows[2])
        # Uniform small starting values, as implicit; rows without data start (and stay) 0.
        # Scaled in place: at 10M cells a temporary copy of X would set the fit's peak.
        X = rng.random((data.n_users, k), dtype=np.float32)
        X *= np.float32(0.01)
        Y = rng.random((data.n_items, k), dtype=np.float32)
        Y *= np.float32(0.01)
        # Counts from the two indptr arrays: Interactions.item_counts() would cast all
        # column indices to int64 for bincount, a transient as large as the data.
        no_user = np.diff(user_rows[0]) == 0
        no_item = np.diff(item_ptr) == 0
        X[no_user] = 0
        Y[no_item] = 0
        user_bounds = row_chunks(user_rows[0], k)
        item_bounds = row_chunks(item_ptr, k)
        block_cells = max(MIN_BLOCK_CELLS, -(-data.nnz // ITEM_BLOCKS))
        item_blocks = block_edges(item_ptr, item_bounds, block_cells)
        alpha = np.float32(self.alpha_)
        sum_c = data.nnz + self.alpha_ * float(np.sum(user_rows[2], dtype=np.float64))
        weight = sum_c + float(data.n_users) * data.n_items - data.nnz
        loss = [float("nan")]

        def step(epoch):
            self._item_half_step(user_rows, item_ptr, item_blocks, Y, X, alpha, item_bounds, data)
            row_loss = self._half_step(user_rows, X, Y, alpha, user_bounds, "user", data)
            objective = row_loss + self.regularization_ * float(
                np.sum(np.square(Y, dtype=np.float64))
            )
            loss[0] = objective / weight
            if not np.isfinite(loss[0]):
                raise FloatingPointError(
                    f"ImplicitALS: the objective became {loss[0]} at iteration {epoch + 1}; "
                    "raise regularization or lower alpha"
                )

        history = run_epochs(
            type(self).__name__,
            self.n_epochs,
            step,
            lambda: (loss[0], float("nan")),
            verbose=self.verbose,
        )
        # run_epochs names its first column for rating models; here it is the objective.
        history["train_loss"] = history.pop("train_rmse")
        self.history_ = history
        # Rows without cells started at 0 and stay there (their right-hand side is 0); set
        # them again so that CG round-off can never leave noise (what _zero_unseen does).
        X[no_user] = 0
        Y[no_item] = 0
        self._set_state(0.0, np.zeros(data.n_users), np.zeros(data.n_items), X, Y)

    def _half_step(self, rows, X, Y, alpha, bounds, side, data=None) -> float:
        """Solve every row of X against fixed Y; returns Σ row objectives (incl. λ‖x‖²)."""
        system = self._system(Y, "item" if side == "user" else "user")
        chunk_loss = np.zeros(bounds.shape[0] - 1, dtype=np.float64)
        self._solve_chunks(rows, X, Y, system, alpha, bounds, chunk_loss, 0, side, data)
        return float(np.sum(chunk_loss))

    def _item_half_step(self, user_rows, item_ptr, blocks, Y, X, alpha, bounds, data) -> float:
        """:meth:`_half_step` for the item rows, transposing a block of items at a time.

        ``blocks`` are indices into ``bounds`` (see :func:`block_edges`), so every chunk
        of rows lies in one block and is solved, and its objective summed, exactly as
        from one whole item-major matrix.  One pair of buffers, as large as the largest
        block, holds each block in turn.
        """
        indptr, indices, values = user_rows
        system = self._system(X, "user")
        chunk_loss = np.zeros(bounds.shape[0] - 1, dtype=np.float64)
        cells = np.diff(item_ptr[bounds[blocks]])
        size = int(cells.max()) if cells.size else 0
        row_buf = np.empty(size, dtype=np.int32)
        val_buf = np.empty(size, dtype=np.float32)
        for c0, c1 in pairwise(blocks):
            lo, hi = int(bounds[c0]), int(bounds[c1])
            ptr = item_ptr[lo : hi + 1] - item_ptr[lo]
            rows, vals = row_buf[: ptr[-1]], val_buf[: ptr[-1]]
            column_block(indptr, indices, values, lo, hi, ptr, rows, vals)
            block = (
                _readonly(ptr, np.int64),
                _readonly(rows, np.int32),
                _readonly(vals, np.float32),
            )
            self._solve_chunks(
                block, Y[lo:hi], X, system, alpha, bounds[c0 : c1 + 1] - lo,
                chunk_loss[c0:c1], lo, "item", data,
            )  # fmt: skip
        return float(np.sum(chunk_loss))

    def _system(self, Y, fixed: str) -> tuple[np.ndarray, float]:
        """``(YᵀY + λI, budget)`` of a half-step: float32 for CG, float64 and checked for
        Cholesky (see :func:`_exact_gram`; CG has no budget)."""
        if self.solver == "cg":
            return gram(Y, self.regularization_), float("inf")
        return _exact_gram(Y, self.regularization_, f"the {fixed} factors")

    def _solve_chunks(self, rows, X, Y, system, alpha, bounds, chunk_loss, offset, side, data):
        """Run the solver on the chunks ``bounds`` of ``rows``; X's row 0 is row ``offset``."""
        indptr, indices, values = rows
        A0, budget = system
        if self.solver == "cg":
            overflowed = cg_half_step(
                indptr,
                indices,
                values,
                alpha,
                X,
                Y,
                A0,
                np.int64(self.cg_steps),
                bounds,
                chunk_loss,
            )
            if overflowed:
                # Confidences of about 1e11 or more against factors of ordinary size
                # overflow CG's float32 sums (pᵀAp grows as the cube of the confidence).
                raise FloatingPointError(
                    f"ImplicitALS: conjugate gradient broke down in a {side} half-step "
                    f"(alpha={self.alpha_!r} makes the confidences too large for float32: "
                    "its sums overflowed); lower alpha or raise regularization"
                )
        else:
            failed = np.zeros(bounds.shape[0] - 1, dtype=np.int64)
            cholesky_half_step(
                indptr, indices, values, alpha, X, Y, A0, budget, bounds, chunk_loss, failed
            )
            if failed.any():
                row = int(failed[failed > 0][0] - 1) + offset
                label = row
                if data is not None:
                    vocab = data.users if side == "user" else data.items
                    label = vocab.ids[row]
                    label = label.item() if isinstance(label, np.generic) else label
                raise FloatingPointError(
                    f"ImplicitALS: the least-squares system of {side} {label!r} is too close to "
                    "singular for an exact solve; raise regularization (it must be > 0 when "
                    "factors are collinear)"
                )

    def _resolved(self, name: str):
        """The resolved ``name`` (``confidence``, ``alpha``, ...) the model was trained with.

        Files written before the values were resolved in ``fit`` hold none; their
        hyperparameters were always explicit, so those are the values used.
        """
        try:
            return getattr(self, name + "_")
        except AttributeError:
            value = getattr(self, name)
            if _is_auto(value):
                raise ValueError(
                    f"this ImplicitALS has {name}='auto' but no resolved {name}_; refit it"
                ) from None
            return value

    def _strength(self, values: np.ndarray) -> np.ndarray:
        """The v of c = 1 + alpha·v: the value itself, or log(1 + r/ε)."""
        if self._resolved("confidence") == "log":
            epsilon = float(self._resolved("epsilon"))
            out = np.empty(values.shape, dtype=np.float32)
            # In slices: a float64 copy of all values would be 80 MiB at 10M cells.
            for a in range(0, values.shape[0], STRENGTH_SLICE):
                part = values[a : a + STRENGTH_SLICE].astype(np.float64)
                out[a : a + STRENGTH_SLICE] = np.log1p(part / epsilon)
            out.flags.writeable = False
            return out
        return _readonly(values, np.float32)

    # ------------------------------------------------------------------ fold-in hooks
    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """Exact user vectors for CSR rows ``(item_idx, value)`` with item factors fixed.

        The same confidence-weighted least squares as a training half-step, solved exactly
        (Cholesky) rather than by a few CG steps: a new row has no previous value to
        warm-start from.  Biases stay 0.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> data = Interactions.from_dense(np.eye(4) + np.eye(4, k=1))
            >>> model = ImplicitALS(n_factors=2, n_epochs=5, solver="cholesky",
            ...                     random_state=0).fit(data)
            >>> m = data.matrix
            >>> _, P = model._solve_user_rows(m.indptr, m.indices, m.data)
            >>> bool(np.allclose(P, model.user_factors_, atol=1e-5))
            True
        """
        self.check_fitted()
        return self._solve_exact(indptr, indices, values, self.item_factors_, "item")

    def _solve_item_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """Exact item vectors for CSR rows ``(user_idx, value)`` with user factors fixed.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> model = ImplicitALS(n_factors=2, n_epochs=3, random_state=0)
            >>> model = model.fit(Interactions.from_dense(np.eye(3) + 1))
            >>> bias, Q = model._solve_item_rows(np.array([0, 2]), np.array([0, 1]),
            ...                                  np.array([1.0, 1.0]))
            >>> bias.tolist(), Q.shape
            ([0.0], (1, 2))
        """
        self.check_fitted()
        return self._solve_exact(indptr, indices, values, self.user_factors_, "user")

    def _fixed_side(self, other: np.ndarray, fixed: str):
        """:func:`_fixed_inputs` of the fixed factors, computed once while they last.

        The Gram ``YᵀY + λI`` depends only on the fitted factors and λ, and costs a BLAS
        call over all of Y (milliseconds at a few hundred items, far more than one
        user's solve); a served model folds users in one request at a time.  It stays
        with the states that later updates make while they keep these factors (the
        item Gram across ``partial_fit_users``), and is computed again once they change
        (``partial_fit_items``, new items, a refit).  Only the k x k Gram is kept: a
        kept copy of Y would double the factors' memory for the state's whole life.
        """
        regularization = float(self._resolved("regularization"))
        what = f"the {fixed} factors"
        d = self.__dict__
        fitted = d.get("_fitting") or d.get("_fitted")
        name = f"{fixed}_factors_"
        if fitted is None or fitted.state.get(name) is not other:
            return _fixed_inputs(other, regularization, what)
        # λ in the key: a file written before λ was resolved takes it from the parameter.
        # inputs: an update of the other side (partial_fit_users leaves the item
        # factors the same array) keeps the Gram; one that replaces them drops it.
        return fitted.derived(
            ("exact_fixed", name, regularization),
            lambda: _fixed_inputs(other, regularization, what),
            inputs=(name,),
        )

    def _solve_exact(self, indptr, indices, values, other, fixed: str):
        indptr = _readonly(np.array(indptr), np.int64)
        # Checked as given, cast after: cast first, 1.7 was cut to 1 and 2**32 + 1
        # wrapped to 1, another item's column, unrefused.
        given = whole_indices(indices, "indices")
        values = np.array(values, dtype=np.float32)
        n = indptr.shape[0] - 1
        k = other.shape[1]
        if given.shape != values.shape or indptr[-1] != given.shape[0]:
            raise ValueError("indptr, indices and values do not form a CSR matrix")
        if given.size and (given.min() < 0 or given.max() >= other.shape[0]):
            bad = given[(given < 0) | (given >= other.shape[0])][0]
            raise ValueError(f"indices must lie in [0, {other.shape[0]}), got {bad}")
        indices = _readonly(given, np.int32)
        if values.size and values.min() < 0:
            raise ValueError("interaction strengths must be >= 0")
        values = self._strength(values)
        X = np.zeros((n, k), dtype=np.float32)
        bounds = row_chunks(indptr, k)
        chunk_loss = np.zeros(bounds.shape[0] - 1, dtype=np.float64)
        failed = np.zeros(bounds.shape[0] - 1, dtype=np.int64)
        A0, budget = self._fixed_side(other, fixed)
        # The kernel reads Y only at the rows these rows rate, and its one signature
        # takes a writable Y (frozen state is read-only): those rows are gathered into a
        # copy the size of the rows' history, the indices remapped to them.  A copy of
        # the whole fixed side (every item's factors, for each request's fold-in) cost
        # more than the solve at a large catalogue.  Same values, same order: the same
        # answer to the bit.
        used, local = np.unique(indices, return_inverse=True)
        indices = _readonly(local.reshape(indices.shape), np.int32)
        Y = np.array(other[used], dtype=np.float32, order="C")
        # The chunks do not depend on the thread count, so neither does the answer.
        with numba_threads(fold_in_threads(self.num_threads, n, k)):
            cholesky_half_step(
                indptr,
                indices,
                values,
                np.float32(self._resolved("alpha")),
                X,
                Y,
                A0.copy(),  # the kernel's one signature takes a writable A0 (k x k: cheap)
                budget,
                bounds,
                chunk_loss,
                failed,
            )
        if failed.any():
            raise FloatingPointError(
                f"ImplicitALS: row {int(failed[failed > 0][0] - 1)}'s least-squares system is "
                "too close to singular for an exact solve; the model needs a larger "
                "regularization"
            )
        return np.zeros(n, dtype=np.float32), X


def _fixed_inputs(Y: np.ndarray, regularization: float, what: str):
    """``(A0, budget)`` for :func:`cholesky_half_step`: the checked Gram, read-only.

    Example:
        >>> import numpy as np
        >>> A0, budget = _fixed_inputs(np.eye(2, dtype=np.float32), 0.5, "the factors")
        >>> A0.tolist(), A0.flags.writeable
        ([[1.5, 0.0], [0.0, 1.5]], False)
    """
    A0, budget = _exact_gram(Y, regularization, what)
    A0.flags.writeable = False
    return A0, budget


def _exact_gram(Y: np.ndarray, regularization: float, what: str) -> tuple[np.ndarray, float]:
    """``(YᵀY + λI, budget)`` in float64 for the exact solver, refused when ill-conditioned.

    Every row's system is ``A0`` plus a positive semidefinite term (confidences are at
    least 1), so its smallest eigenvalue is at least ``A0``'s: when ``A0``'s condition
    number is over :func:`max_condition`, no row's solve can be trusted and the
    half-step is refused here; otherwise each row is held to ``budget``
    (:func:`exact_budget`) by the kernel.  One k x k eigenvalue problem per half-step,
    next to ``rows · k³`` for the solves.  ``what`` names Y in the error.

    Example:
        >>> import numpy as np
        >>> A0, budget = _exact_gram(np.eye(2, dtype=np.float32), 0.0, "the item factors")
        >>> A0.tolist(), budget > 1e10
        ([[1.0, 0.0], [0.0, 1.0]], True)
        >>> _exact_gram(np.ones((3, 2), np.float32), 1e-30, "the item factors")
        Traceback (most recent call last):
        ...
        FloatingPointError: ImplicitALS: the item factors are collinear ...
    """
    A0 = gram(Y, regularization, np.float64)
    condition, budget = exact_budget(A0)
    if not budget >= 0.0:
        # Only on the way out: the usual cause, fewer rows with data than factors.
        k = A0.shape[0]
        rows = int(np.count_nonzero(np.any(Y != 0, axis=1)))
        few = f": {rows} nonzero rows for {k} factors" if rows < k else ""
        raise FloatingPointError(
            f"ImplicitALS: {what} are collinear or nearly so{few} (YᵀY + λI with λ = "
            f"{regularization:g} has condition number {condition:.3g}, over the "
            f"{max_condition(k):.3g} an exact float64 solve can take); raise regularization "
            "(it must be > 0 when factors are collinear) or use fewer factors"
        )
    return A0, budget


def _is_auto(value) -> bool:
    return isinstance(value, str) and value == AUTO


def _readonly(arr: np.ndarray, dtype) -> np.ndarray:
    """A read-only, contiguous array of ``dtype`` (copied only when needed).

    Kernels are compiled once per argument type and numba types read-only arrays
    apart from writable ones; passing every CSR array read-only keeps one compiled
    version of each kernel.
    """
    out = np.ascontiguousarray(arr, dtype=dtype)
    if out is arr and out.flags.writeable:
        out = out.view()
    out.flags.writeable = False
    return out
