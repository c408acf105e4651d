"""Truncated SVD of the imputed rating matrix (Sarwar et al. 2000), never densified."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..data.interactions import Interactions
from ..errors import HyperparameterError
from ._training import check_float, check_int
from .baselines import Biases
from .factor import FactorModel

if TYPE_CHECKING:
    from scipy.sparse.linalg import LinearOperator

FILLS = ("user_mean", "item_mean", "baseline")

# ARPACK cannot return all min(n_users, n_items) triplets; that case is solved densely,
# which is allowed for matrices up to this many cells.
_DENSE_CELLS = 10_000_000


class TruncatedSVD(FactorModel):
    """The rank-k SVD of the rating matrix with its missing cells imputed.

    The imputed matrix is M = R on observed cells and F elsewhere, where the fill
    F_ui = a_u + c_i is a row mean (``fill="user_mean"``, the texts' choice), a column
    mean (``"item_mean"``) or the regularised baseline μ + b_u + b_i (``"baseline"``,
    fitted by :class:`~latentrec.models.Biases` with its defaults).  Users (items) with no
    training cell get the global mean μ; they have no vector of their own (no neighbours
    in :meth:`similar_items`, never one), and such a user gets the popularity list from
    :meth:`recommend` (``fallback=True``), whatever ``center``.

    With ``center=True`` (the default) the model factorises the centred matrix
    C = M − F, which is zero off the observed cells, and predicts
    r̂ = F_ui + (U_k Σ_k V_kᵀ)_ui; with ``center=False`` it factorises M itself and
    predicts r̂ = (U_k Σ_k V_kᵀ)_ui (μ and the biases are then 0).  Either way the
    prediction is exactly the rank-k reconstruction, stored as a factor model with
    P = U_k Σ_k^½ and Q = V_k Σ_k^½, and the dense users × items matrix is never formed:
    M is a :class:`scipy.sparse.linalg.LinearOperator` (a sparse product plus the rank-2
    fill) whose top-k singular triplets come from ARPACK (``scipy.sparse.linalg.svds``),
    started from a vector drawn from ``random_state``.  Singular vectors have a fixed
    sign (the largest entry of each right vector is positive).

    Fold-in of a user (``fold_in``, ``partial_fit_users``, onboarding) is the textbook
    projection of their imputed row onto the right singular vectors, the fit's own map
    from a row to its vector (U_k Σ_k = M V_k, so P = M V_k Σ_k^-½ = M Q Σ_k^-1): their
    fill a (their mean rating for ``"user_mean"``, μ for ``"item_mean"``, μ plus the
    :class:`~latentrec.models.Biases` user bias for ``"baseline"``, with the item biases
    fixed) imputes every item they did not rate, and p = m Q Σ_k^-1 (bias b = a − μ with
    ``center=True``).  Folding in a training user's full row gives back their trained
    vector (to float32 rounding), so a folded-in user is a user the SVD would have had.
    A component with σ = 0 gets 0.  With ``center=False`` and a fill that has an item
    part (``"item_mean"``, ``"baseline"``) the item part of the fill is not kept in the
    model, so users are folded in by the default ridge of
    :meth:`~latentrec.models.foldin.FoldIn.fold_in`, ``min Σ_i (r_i − b_i − p·q_i)² +
    0.1·n ‖p‖²`` (λ = 0.1 as the SVD has no regularisation of its own), which does not
    give back the trained vectors: on MovieLens-100K (k = 8) the top-10 lists of the
    training users folded in agree with their trained lists on 96 % of items for
    ``"item_mean"`` and 69 % for ``"baseline"`` (the projection: 100 %).  Items
    (``partial_fit_items``) always take that ridge, the bias only where the model has
    item biases.

    Learned besides the factors: ``singular_values_`` (descending), ``total_energy_``
    (the squared Frobenius norm of the factorised matrix, computed without densifying)
    and ``explained_energy_ratio_`` (σ_f² / total_energy_ per component; their sum is the
    share of the matrix the k factors keep).

    Args:
        n_factors: k, the number of singular triplets kept.
        fill: ``"user_mean"``, ``"item_mean"`` or ``"baseline"``.
        center: factorise M − F (True) or M (False).
        tol: ARPACK tolerance (0 means machine precision).
        max_iter: ARPACK iteration limit (None: scipy's default).
        random_state: seed for ARPACK's start vector; a fixed seed, identical results for
            a given BLAS thread count (on another, ARPACK's BLAS calls may round the last
            bits of the factors differently, never more: 1e-8 of the largest entry at
            k = 200, nothing at k = 8 or 50 on MovieLens-100K, one thread against two;
            ``OPENBLAS_NUM_THREADS=1`` pins it).

    The default k was chosen on a validation split of MovieLens-100K training data
    (never the test folds); see ``docs/benchmarks.md``.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
        >>> model = TruncatedSVD(n_factors=2, random_state=0).fit(Interactions.from_dense(R))
        >>> model.singular_values_.shape, bool(model.explained_energy_ratio_.sum() <= 1)
        ((2,), True)
    """

    _array_state = FactorModel._array_state + ("singular_values_", "explained_energy_ratio_")
    _scalar_state = FactorModel._scalar_state + ("total_energy_",)

    def __init__(
        self,
        n_factors: int = 8,
        fill: str = "user_mean",
        center: bool = True,
        tol: float = 0.0,
        max_iter: int | None = None,
        random_state=None,
    ):
        self.n_factors = n_factors
        self.fill = fill
        self.center = center
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {self.fill!r}")
        if not isinstance(self.center, (bool, np.bool_)):
            raise ValueError(f"center must be True or False, got {self.center!r}")
        check_float("tol", self.tol)
        if self.max_iter is not None:
            check_int("max_iter", self.max_iter)

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """The factors and the float64 singular vectors they come from; 0 for a rank
        the data cannot have (``fit`` refuses it by name).

        Example:
            >>> TruncatedSVD(n_factors=2)._fit_bytes(10, 5, 20)  # 120 + 240
            360
        """
        if int(self.n_factors) > min(n_users, n_items):
            return 0
        return 3 * super()._fit_bytes(n_users, n_items, nnz)

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        k = self.n_factors
        n_users, n_items = data.shape
        if k > min(n_users, n_items):
            # The data's shape, not the value alone, rules it out: a tune trial fails alone.
            raise HyperparameterError(
                f"n_factors={k} exceeds min(n_users, n_items) = {min(n_users, n_items)}; "
                "a rank-k SVD needs k <= both dimensions"
            )
        mu, row_fill, col_fill = imputation(data, self.fill)
        op, total = imputed_operator(data, row_fill, col_fill, dense_fill=not self.center)
        if total > 0:
            U, s, Vt = _top_singular_triplets(op, k, self.tol, self.max_iter, self.random_state)
        else:
            # A zero matrix (every rating equal to its fill) has no directions; ARPACK
            # would fail on it, and zero factors are its exact reconstruction.
            U, s, Vt = np.zeros((n_users, k)), np.zeros(k), np.zeros((k, n_items))
        root = np.sqrt(s)
        P = U * root
        Q = Vt.T * root
        if self.center:
            # A user (item) without training cells has a zero row in M − F, so its exact
            # singular vector row is 0; ARPACK leaves round-off there (1e-16), which made
            # it a "placed" user ranked by noise and an item with neighbours.
            P[data.user_counts() == 0] = 0.0
            Q[data.item_counts() == 0] = 0.0
        # Set before _set_state, whose finiteness check covers every array in _array_state.
        self.singular_values_ = s.astype(np.float64)
        self.total_energy_ = float(total)
        self.explained_energy_ratio_ = (s**2 / total) if total > 0 else np.zeros_like(s)
        if self.center:
            # F_ui = a_u + c_i is exactly μ + b_u + b_i with b_u = a_u − μ and b_i = c_i.
            self._set_state(mu, row_fill - mu, col_fill, P, Q)
        else:
            self._set_state(0.0, np.zeros(n_users), np.zeros(n_items), P, Q)

    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (item_idx, rating) of n users -> their (bias, factors): the projection
        ``p = m Q Σ_k^-1`` of each imputed row (see the class docstring).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[5, 4, 0, 1], [4, 0, 1, 1], [1, 1, 0, 5], [0, 1, 5, 4]])
            >>> model = TruncatedSVD(n_factors=2, random_state=0).fit(Interactions.from_dense(R))
            >>> bias, P = model._solve_user_rows([0, 3], [0, 1, 3], [5.0, 4.0, 1.0])
            >>> bool(np.allclose(P[0], model.user_factors_[0], atol=1e-5))
            True
        """
        if not self._projects_users():
            return super()._solve_user_rows(indptr, indices, values)
        indptr = np.asarray(indptr, dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64)
        r = np.asarray(values, dtype=np.float64)
        n_rows = indptr.size - 1
        mu = float(self.global_mean_)
        counts = np.diff(indptr).astype(np.float64)
        row = np.repeat(np.arange(n_rows), np.diff(indptr))
        Q = np.asarray(self.item_factors_, dtype=np.float64)
        col_fill = np.asarray(self.item_bias_, dtype=np.float64)
        if self.fill == "user_mean":
            sums = np.bincount(row, r, minlength=n_rows)
            a = np.divide(sums, counts, out=np.full(n_rows, mu), where=counts > 0)
        elif self.fill == "item_mean":
            a = np.full(n_rows, mu)
        else:
            # Biases' last half-step sets b_u from the final item biases (its own rule).
            sums = np.bincount(row, r - mu - col_fill[indices], minlength=n_rows)
            a = mu + _safe_ratio(sums, Biases().user_regularization + counts)
        # The imputed row minus its fill is r − a − c on the rated items, 0 elsewhere.
        resid = r - a[row] - col_fill[indices]
        S = sp.csr_matrix((resid, indices, indptr), shape=(n_rows, Q.shape[0]))
        projected = np.asarray(S @ Q)
        if not self.center:
            # M itself: the fill a (c = 0 for "user_mean") stands in every cell.
            projected += a[:, None] * Q.sum(axis=0)[None, :]
        s = np.asarray(self.singular_values_, dtype=np.float64)
        inv = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
        bias = a - mu if self.center else np.zeros(n_rows)
        return bias, projected * inv[None, :]

    def _can_personalise(self, user_idx: np.ndarray) -> np.ndarray:
        # A vector is the projection of the user's imputed row: without training cells
        # that row is the fill alone (with center=False a nonzero "mean user"), nobody's
        # own taste, so such a user gets the popularity list as recommend documents.
        return np.diff(self.seen_.indptr)[user_idx] > 0

    def _has_vector(self, of_items: bool) -> np.ndarray:
        # With center=False the rows without training cells hold the fill's projection,
        # which is nobody's own: neither similar to anything nor a neighbour.
        counts = self.item_popularity_ if of_items else np.diff(self.seen_.indptr)
        return super()._has_vector(of_items) & (np.asarray(counts) > 0)

    def _projects_users(self) -> bool:
        """Whether the model keeps all it needs to impute a new user's row."""
        return self.center or self.fill == "user_mean"


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # A row with no cells and zero regularisation has 0/0: its bias is 0.
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def imputation(data: Interactions, fill: str) -> tuple[float, np.ndarray, np.ndarray]:
    """The fill F_ui = a_u + c_i as ``(μ, a, c)``: μ the global mean, a per user, c per item.

    ``"user_mean"``: a_u is the user's mean rating (μ without ratings), c = 0.
    ``"item_mean"``: a = μ, c_i is the item's mean minus μ (0 without ratings).
    ``"baseline"``: a_u = μ + b_u and c_i = b_i from :class:`~latentrec.models.Biases`.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> mu, a, c = imputation(Interactions.from_dense(np.array([[5, 3], [1, 0]])), "user_mean")
        >>> mu, a.tolist(), c.tolist()
        (3.0, [4.0, 1.0], [0.0, 0.0])
    """
    mu = data.global_mean()
    r = data.ratings.astype(np.float64)
    if fill == "user_mean":
        counts = data.user_counts()
        sums = np.bincount(data.user_idx, r, minlength=data.n_users)
        a = np.divide(sums, counts, out=np.full(data.n_users, mu), where=counts > 0)
        return mu, a, np.zeros(data.n_items)
    if fill == "item_mean":
        counts = data.item_counts()
        sums = np.bincount(data.item_idx, r, minlength=data.n_items)
        means = np.divide(sums, counts, out=np.full(data.n_items, mu), where=counts > 0)
        return mu, np.full(data.n_users, mu), means - mu
    if fill == "baseline":
        base = Biases().fit(data)
        return (
            base.global_mean_,
            base.global_mean_ + base.user_bias_.astype(np.float64),
            base.item_bias_.astype(np.float64),
        )
    raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")


def imputed_operator(
    data: Interactions, row_fill: np.ndarray, col_fill: np.ndarray, *, dense_fill: bool
) -> tuple[LinearOperator, float]:
    """M = S + [a 1ᵀ + 1 cᵀ] as a LinearOperator, and its squared Frobenius norm.

    S holds r − a_u − c_i on the observed cells.  With ``dense_fill=False`` the operator is
    S alone (the centred matrix).  Neither the operator nor the norm forms a dense
    users × items array.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5.0, 3.0], [1.0, 0.0]])
        >>> data = Interactions.from_dense(R)
        >>> op, energy = imputed_operator(data, np.array([4.0, 1.0]), np.zeros(2), dense_fill=True)
        >>> (op @ np.eye(2)).tolist(), energy
        ([[5.0, 3.0], [1.0, 1.0]], 36.0)
    """
    # Imported here: scipy.sparse.linalg (and scipy.linalg under it) adds 10 MiB and
    # 0.15 s to every process that imports latentrec, most of which never run an SVD.
    from scipy.sparse.linalg import LinearOperator

    n_users, n_items = data.shape
    users, items = data.user_idx, data.item_idx
    m = data.matrix
    fill_obs = row_fill[users] + col_fill[items]
    resid = m.data.astype(np.float64) - fill_obs
    S = sp.csr_matrix((resid, m.indices, m.indptr), shape=m.shape)
    St = S.T.tocsr()
    # NumPy sums, not BLAS dot products: a threaded ddot splits the sum by thread count,
    # so a fixed seed would give last-bit differences on another BLAS thread count.
    energy = float(np.sum(resid * resid))
    if not dense_fill:
        return (
            LinearOperator(
                (n_users, n_items),
                matvec=lambda x: S @ x,
                rmatvec=lambda y: St @ y,
                matmat=lambda X: S @ X,
                rmatmat=lambda Y: St @ Y,
                dtype=np.float64,
            ),
            energy,
        )
    # ‖S + F‖² = ‖S‖² + 2⟨S, F⟩ + ‖F‖², and ‖a1ᵀ + 1cᵀ‖² expands into sums over a and c.
    energy += 2.0 * float(np.sum(resid * fill_obs))
    energy += (
        n_items * float(np.sum(row_fill * row_fill))
        + 2.0 * float(row_fill.sum() * col_fill.sum())
        + n_users * float(np.sum(col_fill * col_fill))
    )
    left = np.column_stack([row_fill, np.ones(n_users)])  # F = left @ right.T
    right = np.column_stack([np.ones(n_items), col_fill])

    def matmat(X):
        return S @ X + left @ (right.T @ X)

    def rmatmat(Y):
        return St @ Y + right @ (left.T @ Y)

    return (
        LinearOperator(
            (n_users, n_items),
            matvec=lambda x: matmat(x.reshape(-1, 1)).ravel(),
            rmatvec=lambda y: rmatmat(y.reshape(-1, 1)).ravel(),
            matmat=matmat,
            rmatmat=rmatmat,
            dtype=np.float64,
        ),
        energy,
    )


def _top_singular_triplets(op: LinearOperator, k: int, tol, max_iter, random_state):
    """The k largest singular triplets, descending, with a deterministic sign."""
    from scipy.sparse.linalg import ArpackNoConvergence, svds

    n_users, n_items = op.shape
    small = min(n_users, n_items)
    if k >= small:
        if n_users * n_items > _DENSE_CELLS:
            raise ValueError(
                f"n_factors={k} asks for every singular triplet of a {n_users} x {n_items} "
                "matrix, which needs it dense; use n_factors < min(n_users, n_items)"
            )
        # Apply the operator to the identity of the smaller side only.
        if n_items <= n_users:
            dense = op.matmat(np.eye(n_items))
        else:
            dense = op.rmatmat(np.eye(n_users)).T
        U, s, Vt = np.linalg.svd(dense, full_matrices=False)
        U, s, Vt = U[:, :k], s[:k], Vt[:k]
    else:
        rng = np.random.default_rng(random_state)
        v0 = rng.uniform(-1.0, 1.0, small)
        try:
            U, s, Vt = svds(op, k=k, tol=tol, maxiter=max_iter, v0=v0, solver="arpack")
        except ArpackNoConvergence:
            raise RuntimeError(
                f"ARPACK did not find {k} singular triplets within max_iter={max_iter}; "
                "raise max_iter (or tol)"
            ) from None
        order = np.argsort(-s, kind="stable")
        U, s, Vt = U[:, order], s[order], Vt[order]
    # A singular pair is defined up to sign; fix it so equal inputs give equal factors.
    pivot = np.argmax(np.abs(Vt), axis=1)
    signs = np.sign(Vt[np.arange(Vt.shape[0]), pivot])
    signs[signs == 0] = 1.0
    return U * signs, np.maximum(s, 0.0), Vt * signs[:, None]
