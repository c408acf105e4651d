"""Factor models: r̂(u, i) = μ + b_u + b_i + p_u · q_i, and every operation on it.

:class:`FactorModel` owns the scoring of factor models (predict, top-k through the tiled
BLAS kernel, similarity by cosine, explanation), :meth:`FactorModel.from_factors`, which
turns factors computed anywhere into a full model, and the vector-level API for users
the model does not hold (``score_vectors``, ``recommend_vectors``).  Fold-in and partial
fits come from :class:`~latentrec.models.foldin.FoldIn`; onboarding questions from
:mod:`latentrec.models.onboarding`.  Each algorithm module adds only its ``_fit``.
"""

from __future__ import annotations

import decimal
import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import retrieval
from ..data.interactions import Interactions
from ..data.vocabulary import UnknownIdError
from ..errors import CannotRankError
from . import onboarding
from ._training import check_float, check_real
from .base import Recommender, check_n, index_array, reads_fitted
from .catalog import Catalog, Fitted
from .foldin import FoldIn
from .persistence import scores_past_float32
from .ranking import check_one_id, id_array, is_id_collection
from .results import Explanation, Recommendations

__all__ = ["FactorModel", "supporting_items"]


def _differs_from_first(a: np.ndarray) -> bool:
    """Whether any row of ``a`` (element, for a vector) differs from its first.

    Looked at in slices that double from one row, stopping at the first difference:
    this runs on every recommend call, where rows almost always differ at once.  A
    whole-array comparison cost a pass over ``a`` (and a copy of its size), and even
    fixed slices of 2^16 values were a measurable part of a small model's recommend.

    Example:
        >>> _differs_from_first(np.zeros(5)), _differs_from_first(np.array([[1, 2], [1, 3]]))
        (False, True)
    """
    n = a.shape[0]
    first = a[0]
    cap = max(1, (1 << 16) // max(1, first.size))
    start, step = 1, 1
    while start < n:
        if bool((a[start : start + step] != first).any()):
            return True
        start += step
        step = min(2 * step, cap)
    return False


class FactorModel(FoldIn, Recommender):
    """r̂(u, i) = μ + b_u + b_i + p_u · q_i, with every operation written once.

    Learned state: ``global_mean_`` (μ), ``user_bias_``, ``item_bias_``,
    ``user_factors_`` (P, users x k) and ``item_factors_`` (Q, items x k), float32.
    Baselines are factor models with ``k = 0``.

    Every model of this shape (BiasedMF, ALS, SVD++, ImplicitALS, ...) is one; a model
    from factors learned elsewhere is one too (:meth:`from_factors`), and a prediction
    is the sum its :meth:`explain` lists.

    Example:
        >>> import numpy as np
        >>> model = FactorModel.from_factors(
        ...     (["ann"], ["a", "b"]), np.array([[1.0, 0.0], [0.0, 1.0]]),
        ...     np.array([[0.5, 0.2]]), global_mean=3.0,
        ... )
        >>> float(model.predict(["ann"], ["a"])[0])  # 3.0 + 0.5 * 1.0
        3.5
        >>> model.user_factors_.shape, model.item_factors_.shape
        ((1, 2), (2, 2))
    """

    _array_state = ("user_bias_", "item_bias_", "user_factors_", "item_factors_")
    _scalar_state = ("global_mean_",)
    _size_params = ("n_factors",)

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """The learned factors, (users + items) x k float32, which every factor model
        holds at the end of its fit; algorithms add their work space.  0 for a model
        without ``n_factors`` (the baselines).

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF(n_factors=8)._fit_bytes(1000, 500, 2000)  # 1500 x 8 x 4 bytes
            48000
        """
        k = self.__dict__.get("n_factors")
        return 4 * (n_users + n_items) * int(k) if k is not None else 0

    def _set_state(self, mu, user_bias, item_bias, user_factors, item_factors) -> None:
        self.global_mean_ = float(mu)
        # A diverged fit's float64 values beyond float32 become infinities here, which
        # _check_finite reports as a divergence: NumPy's own warning would come first, a
        # second line before the one error (the command line printed both).
        with np.errstate(over="ignore"):
            self.user_bias_ = np.ascontiguousarray(user_bias, dtype=np.float32)
            self.item_bias_ = np.ascontiguousarray(item_bias, dtype=np.float32)
            self.user_factors_ = np.ascontiguousarray(user_factors, dtype=np.float32)
            self.item_factors_ = np.ascontiguousarray(item_factors, dtype=np.float32)
        self._check_finite()
        self._check_scores_in_float32()

    def _check_finite(self, arrays: dict | None = None) -> None:
        """Raise if any learned array (or any of ``arrays``) holds NaN or infinity."""
        named = arrays if arrays is not None else {n: getattr(self, n) for n in self._array_state}
        for name, arr in named.items():
            if not np.isfinite(arr).all():
                raise FloatingPointError(
                    f"{type(self).__name__}: {name} has NaN or infinite values; training "
                    "diverged — lower learning_rate or raise regularization"
                )

    def _check_scores_in_float32(self) -> None:
        """Raise if a score μ + b_u + b_i + p·q could leave float32's range.

        Finite factors are not enough: a fit that stopped short of overflowing (a
        GradientDescentMF at learning_rate 2, 3 epochs, in tests/models/
        test_scores_past_float32.py) kept factors whose float32 scores were +inf, -inf
        and NaN, so its lists were empty or tied in item order, and it was saved, served
        and tuned as any other.  The bound is :func:`scores_past_float32`'s, shared with
        :meth:`from_factors`, model files and fold-in.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> data = Interactions.from_dense(np.array([[5.0, 1.0], [1.0, 5.0]]))
            >>> model = BiasedMF(n_factors=2, n_epochs=2, random_state=0).fit(data)
            >>> model._check_scores_in_float32()  # ordinary factors: nothing to say
        """
        past = scores_past_float32(
            self.global_mean_,
            (self.user_bias_, self.user_factors_),
            (self.item_bias_, self.item_factors_),
        )
        if past is not None:
            raise FloatingPointError(
                f"{type(self).__name__}: its scores could pass float32's range (user and "
                f"item factors of length up to {past[1]:.3g} and {past[2]:.3g}) and "
                "become infinite or NaN; training diverged — lower learning_rate or raise "
                "regularization"
            )

    def _zero_unseen(self, data: Interactions) -> None:
        """Users/items without training cells get zero bias and factors.

        Their random initial vectors would otherwise add noise to every prediction;
        with zeros they predict from μ and the known side's bias.
        """
        no_user = data.user_counts() == 0
        no_item = data.item_counts() == 0
        self.user_bias_[no_user] = 0
        self.user_factors_[no_user] = 0
        self.item_bias_[no_item] = 0
        self.item_factors_[no_item] = 0

    def __repr__(self) -> str:
        # A model made from factors has no hyperparameters, so the estimator's repr said
        # "FactorModel()" of every one (Spark's import included): say what it holds.
        fitted = self.__dict__.get("_fitted")
        if type(self) is not FactorModel or fitted is None:
            return super().__repr__()
        source = fitted.state.get("source_")
        shown = [] if source is None else [f"source={source!r}"]
        shown += [
            f"k={fitted.state['item_factors_'].shape[1]}",
            f"users={fitted.catalog.n_users}",
            f"items={fitted.catalog.n_items}",
        ]
        if not self.predicts_ratings:
            shown.append("predicts_ratings=False")
        return f"FactorModel({', '.join(shown)})"

    @property
    def predicts_ratings(self) -> bool:
        """Whether scores are ratings (a model from factors says so in its state)."""
        fitted = self.__dict__.get("_fitted")
        return True if fitted is None else bool(fitted.state.get("predicts_ratings_", True))

    @reads_fitted
    def can_personalise(self, user_idx) -> np.ndarray:
        """Whether :meth:`recommend` gives each of these user indices a personal list
        (True) or the popularity fallback (False, ``fallback=True``); -1 (unknown) is
        False.  The model's own rule, for a caller serving training users from their
        stored vectors: a vector that is not all zeros is not always personal (an
        unbiased SVD's user without cells holds the mean user), and a history is not
        always enough (a ``HybridMF`` user whose ratings are all below ``min_rating``).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import HybridMF
            >>> data = Interactions.from_dense(np.array([[5, 4, 0], [1, 0, 2], [0, 5, 4]]))
            >>> model = HybridMF(n_factors=2, n_epochs=3, min_rating=4, random_state=0)
            >>> model.fit(data).can_personalise([0, 1, -1]).tolist()
            [True, False, False]
            >>> model.recommend(1, n=1).fallback
            True
        """
        self.check_fitted()
        u = index_array(user_idx, self.n_users, "user_idx", allow_unknown=True)
        out = np.zeros(u.size, dtype=bool)
        known = u >= 0
        if known.any():
            out[known] = self._can_personalise(u[known])
        return out

    def _can_personalise(self, user_idx: np.ndarray) -> np.ndarray:
        # A user the model can place gets personal scores: training history, or a vector
        # that came from elsewhere (from_factors, fold-in).  Fits zero the vectors of users
        # without training cells, so for a trained model this is "has history".
        history = super()._can_personalise(user_idx)
        placed = self.user_bias_[user_idx] != 0
        # In slices of about 2^19 values: the gathered rows of all users at once would
        # be a copy of the user factors (24 MiB at 100k users x 64), for one bit per user.
        step = max(1, (1 << 19) // max(1, self.user_factors_.shape[1]))
        for a in range(0, len(user_idx), step):
            rows = self.user_factors_[user_idx[a : a + step]]
            placed[a : a + step] |= np.any(rows != 0, axis=1)
        return history | placed

    @property
    def orders_items(self) -> bool:
        """Whether the scores can order items for some user: item biases differ, or item
        factor rows (``q_i``) do.  Terms that are non-zero but the same for every item
        (an ALS fitted on identical columns) order nothing.  False for ``GlobalMean``
        (μ everywhere), whose ranked lists :meth:`recommend` and :meth:`onboard` refuse
        (:class:`~latentrec.errors.CannotRankError`); ``Biases`` ranks by ``b_i``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases, GlobalMean
            >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 1, 2]]))
            >>> GlobalMean().fit(data).orders_items, Biases().fit(data).orders_items
            (False, True)
        """
        self.check_fitted()
        bias, Q = self.item_bias_, self.item_factors_
        # One item: nothing to order.  Two biases that differ: the usual answer, at once.
        if bias.size <= 1 or bias[1] != bias[0]:
            return True
        # Then the factors: a model without item biases (ImplicitALS, BPR) has them all
        # 0, so a pass over the biases first cost a look at every item before row 1 of
        # Q, which almost always differs from row 0, was looked at.
        return (Q.shape[1] > 0 and _differs_from_first(Q)) or _differs_from_first(bias)

    def _refuse_unordered(self, user_idx, exclude_seen=True, items=None, filter_items=None):
        """Raise :class:`CannotRankError` when a user of ``user_idx`` (-1: unknown) would
        get a personal list from scores that cannot order items (:attr:`orders_items`).

        The rule is the ranking evaluation's (``check_not_ranked_by_index``): ties go to
        the lower item index, so such a list is the catalogue in index order; users who
        get the popularity fallback are ordered by counts and pass, and so does a user
        left at most one candidate (``items``, less ``filter_items`` and, with
        ``exclude_seen``, their seen items): one item has nothing to be ordered against.
        """
        if self.orders_items:
            return
        u = np.asarray(user_idx, dtype=np.int64)
        known = u[u >= 0]
        if not known.size:
            return
        known = known[self._can_personalise(known)]
        if not known.size:
            return
        # Worked out only here, for a model that cannot rank (GlobalMean): one pass over
        # the seen matrix's rows of these users at most.
        eligible = np.ones(self.n_items, dtype=bool)
        if items is not None:
            eligible[:] = False
            eligible[self.items_.index(items)] = True
        if filter_items is not None:
            eligible[self.items_.index(filter_items)] = False
        left = np.full(known.size, int(eligible.sum()), dtype=np.int64)
        if exclude_seen and left[0] > 1:
            seen = self.seen_[known]
            owner = np.repeat(np.arange(known.size), np.diff(seen.indptr))
            left -= np.bincount(owner, eligible[seen.indices], known.size).astype(np.int64)
        if (left > 1).any():
            raise CannotRankError.of(self)

    def _recommend_idx(self, u, n, exclude_seen=True, items=None, filter_items=None):
        # recommend and recommend_batch; recommend_batch_idx is left to its callers, and
        # evaluate_ranking refuses such a model there with its own RankedByIndexError.
        self._refuse_unordered(u, exclude_seen, items, filter_items)
        return super()._recommend_idx(u, n, exclude_seen, items, filter_items)

    @reads_fitted
    def recommend_all(
        self,
        path,
        n: int = 10,
        users=None,
        exclude_seen: bool = True,
        *,
        items=None,
        filter_items=None,
        chunk_size: int = 65_536,
        verbose: bool | None = None,
    ) -> int:
        """As :meth:`Recommender.recommend_all`, refused (:class:`CannotRankError`, before
        any file is written) for a model whose scores cannot order items.

        Example:
            >>> import numpy as np, os, tempfile
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> model = Biases().fit(Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1]])))
            >>> model.recommend_all(os.path.join(tempfile.mkdtemp(), "t.csv"), n=1, verbose=False)
            2
        """
        self.check_fitted()
        raw = self.users_.ids if users is None else id_array(users)
        self._refuse_unordered(self.users_.lookup(raw), exclude_seen, items, filter_items)
        return super().recommend_all(
            path,
            n,
            None if users is None else raw,  # read once: a generator gives its ids once
            exclude_seen,
            items=items,
            filter_items=filter_items,
            chunk_size=chunk_size,
            verbose=verbose,
        )

    @property
    def n_factors_(self) -> int:
        """Number of latent factors k."""
        return int(self.item_factors_.shape[1])

    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        scores = self.user_factors_[user_idx] @ self.item_factors_.T
        scores += self.item_bias_[None, :]
        scores += (self.user_bias_[user_idx] + np.float32(self.global_mean_))[:, None]
        return scores

    def _topk_users(self, u, k, exclude_seen, cand, banned):
        # A subclass that scores differently keeps the generic path through _score_block.
        if self.n_factors_ == 0 or type(self)._score_block is not FactorModel._score_block:
            return super()._topk_users(u, k, exclude_seen, cand, banned)
        # Same float32 arithmetic as _score_block: (p·q + b_i) + (b_u + μ).
        return retrieval.topk_dot(
            self.user_factors_,
            self.item_factors_,
            k,
            rows=u,
            row_offset=self.user_bias_[u] + np.float32(self.global_mean_),
            col_offset=self.item_bias_,
            items=cand,
            exclude=self.seen_ if exclude_seen else None,
            banned=banned,
            num_threads=getattr(self, "num_threads", None),
        )

    def _predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        known_u = user_idx >= 0
        known_i = item_idx >= 0
        u = np.where(known_u, user_idx, 0)
        i = np.where(known_i, item_idx, 0)
        both = known_u & known_i
        # All in float64, in explain's order: ((μ + b_u) + b_i) + Σ_f p_uf·q_if, the sum
        # taken as np.sum takes it.  Biases added in float32 (NumPy keeps a Python float
        # + float32 array in float32) and einsum's own summation order made a prediction
        # differ from its explanation's sum in the 4th decimal for some pairs.
        terms = self.user_factors_[u].astype(np.float64)
        terms *= self.item_factors_[i]
        dot = terms.sum(axis=1)
        out = (
            np.float64(self.global_mean_)
            + np.where(known_u, self.user_bias_[u].astype(np.float64), 0.0)
            + np.where(known_i, self.item_bias_[i].astype(np.float64), 0.0)
            + np.where(both, dot, 0.0)
        )
        base = self.baseline_mean()
        if base != self.global_mean_ and not both.all():
            # No μ in the formula: a cell with an unknown side starts from the mean.
            out = np.where(both, out, out + (base - self.global_mean_))
        return out

    @reads_fitted
    def predict_vector(self, user_bias, user_factors, item_idx) -> np.ndarray:
        """Predictions for a user given by a bias and a factor vector (folded in, or from
        elsewhere) on items by index, as float64 and summed as :meth:`predict` and
        :meth:`explain` sum: ((μ + b_u) + b_i) + Σ_f p_uf·q_if, bit for bit.
        ``item_idx`` are checked as :meth:`predict_idx` checks them, but must be known:
        an index that is not a whole number (``1.7``) or lies outside ``[0, n_items)``
        (``-1`` too, which NumPy would read as the last item) is refused by value.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1]]))
            >>> m = BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(data)
            >>> got = m.predict_vector(m.user_bias_[0], m.user_factors_[0], [0, 2])
            >>> bool((got == m.predict_idx(np.array([0, 0]), np.array([0, 2]))).all())
            True
        """
        items = index_array(item_idx, self.n_items, "item_idx")
        terms = np.asarray(user_factors, dtype=np.float64)[None, :] * self.item_factors_[items]
        start = np.float64(self.global_mean_) + np.float64(user_bias)
        return (start + self.item_bias_[items].astype(np.float64)) + terms.sum(axis=1)

    @reads_fitted
    def baseline_mean(self) -> float:
        """The mean a prediction with an unknown side starts from: μ, or for a rating
        model without μ in its formula (a fit that learns none stores 0: unbiased MF,
        NMF, uncentred SVD) the training mean, which its catalogue records.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import NMF
            >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1]]))
            >>> model = NMF(n_factors=1, n_epochs=2, random_state=0).fit(data)
            >>> model.global_mean_, round(model.baseline_mean(), 2)  # no μ: the mean
            (0.0, 3.25)
        """
        mu = float(self.global_mean_)
        mean = self.rating_mean_
        if mu == 0.0 and mean is not None and self.predicts_ratings:
            return float(mean)
        return mu

    def unexplained_user_reason(self, who: str = "a user it does not know") -> str | None:
        """Why the model explains no prediction for ``who`` (a user it has no vector
        for), or None when it explains one: a rating model gives such a user its baseline
        μ + b_i (``explain(..., unknown="baseline")``), while a ranking model
        (``predicts_ratings`` false: BPR, WARP, ImplicitALS) has neither a personal score
        nor a baseline for them.  The words :meth:`explain` refuses an unknown user
        with; a service that erased a training user gives them too, of ``"such a user"``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases, FactorModel
            >>> ranking = FactorModel.from_factors(([1], [7, 8]), [[1.0], [0.5]], [[1.0]])
            >>> print(ranking.unexplained_user_reason("such a user")[:58])
            FactorModel ranks items and has no personal score for such
            >>> data = Interactions.from_dense(np.array([[5, 3], [4, 1]]))
            >>> Biases().fit(data).unexplained_user_reason() is None
            True
        """
        self.check_fitted()
        if self.predicts_ratings:
            return None
        return (
            f"{type(self).__name__} ranks items and has no personal score for {who}, nor a "
            "baseline prediction (it predicts no ratings), so there is nothing to explain: "
            "recommend gives such a user the popularity list"
        )

    @reads_fitted
    def explain(self, user_id, item_id, *, ratings=None, unknown: str = "error") -> Explanation:
        """Split the prediction for (user, item) into μ, b_u, b_i and per-factor terms.

        ``supporting`` lists the titles the user liked closest to the item
        (:func:`supporting_items`), among those the model saw them rate; give
        ``ratings`` (the user's ``{item_id: rating}``, or an Interactions holding them,
        e.g. the training data) to choose them by the user's own stars rather than by the
        model's fit of them.  A rating there the model never saw (held out, or given
        after the fit; for a folded-in user too: the model's record is what it learned
        from) is left out, and ``supporting_left_out`` counts them.

        An unknown user raises :class:`~latentrec.UnknownIdError`, as :meth:`predict`
        does; with ``unknown="baseline"`` the answer :meth:`predict` then gives is
        explained: its baseline mean and ``b_i``, with no user part (``user_known``
        false, ``b_u`` 0, no factor terms, no supporting titles), and the text says so.
        A ranking model (``predicts_ratings`` false: BPR, WARP, ImplicitALS) has no such
        answer, as its ``predict`` has none: an unknown user has no personal score there
        and ``recommend`` gives them the popularity list, so it raises
        :class:`~latentrec.UnknownIdError` saying so, with either ``unknown``.  A user
        it knows but does not personalise (:meth:`can_personalise`: a ``HybridMF`` user
        whose ratings are all below ``min_rating``) is refused by a ranking model alike,
        with a ``ValueError``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> model = Biases().fit(Interactions.from_dense(np.array([[5, 3], [4, 1]])))
            >>> e = model.explain(0, 1)
            >>> e.prediction == model.predict([0], [1])[0]  # the same sum, bit for bit
            np.True_
        """
        self.check_fitted()
        for value in (user_id, item_id):
            check_one_id(value, "explain", "a loop, or predict for the values alone")
        if unknown not in ("error", "baseline"):
            raise ValueError(f"unknown must be 'error' or 'baseline', got {unknown!r}")
        i = self.items_.index([item_id])[0]
        if self.users_.lookup([user_id])[0] < 0:
            if not self.predicts_ratings:
                # Its predict raises for any cell (no baseline answer to explain), and a
                # sum of μ + b_i here read as a score the user never gets.
                raise UnknownIdError("user", [user_id], self.unexplained_user_reason())
            if unknown == "error":
                raise UnknownIdError(
                    "user",
                    [user_id],
                    "pass unknown='baseline' to explain the baseline "
                    "prediction predict(..., unknown='baseline') gives",
                )
            # predict's sum for such a cell (_predict_idx): the baseline mean + b_i.
            return Explanation(
                user_id=user_id,
                item_id=item_id,
                global_mean=float(self.baseline_mean()),
                user_bias=0.0,
                item_bias=float(self.item_bias_[i]),
                factor_contributions=np.zeros(self.n_factors_),
                item_title=None if self.item_titles_ is None else str(self.item_titles_[i]),
                rating_scale=self.rating_scale_,
                supporting=None,
                predicts_ratings=bool(self.predicts_ratings),
                user_known=False,
            )
        u = self.users_.index([user_id])[0]
        if not self.predicts_ratings and not self.can_personalise([u])[0]:
            # recommend gives them the popularity list; a sum of their zero or untaught
            # vector here would read as a personal score they never get.
            floor = getattr(self, "min_rating", None)
            why = (
                f"all of whose ratings are below min_rating {floor:g}"
                if floor is not None
                else "whom it learned nothing personal of"
            )
            raise ValueError(self.unexplained_user_reason(f"user {user_id!r}, {why}"))
        contrib = self.user_factors_[u].astype(np.float64) * self.item_factors_[i]
        supporting = (
            supporting_items(self, user_id, item_id, ratings=ratings) if self.n_factors_ else None
        )
        return Explanation(
            user_id=user_id,
            item_id=item_id,
            global_mean=float(self.global_mean_),
            user_bias=float(self.user_bias_[u]),
            item_bias=float(self.item_bias_[i]),
            factor_contributions=contrib,
            item_title=None if self.item_titles_ is None else str(self.item_titles_[i]),
            rating_scale=self.rating_scale_,
            supporting=supporting,
            supporting_left_out=0 if supporting is None else supporting.attrs["left_out"],
            predicts_ratings=bool(self.predicts_ratings),
        )

    # ----------------------------------------------------------- factors from elsewhere
    @classmethod
    def from_factors(
        cls,
        catalog,
        item_factors,
        user_factors=None,
        *,
        global_mean: float = 0.0,
        user_bias=None,
        item_bias=None,
        predicts_ratings: bool | None = None,
        regularization: float = 0.1,
        bias_regularization: float | None = None,
        source: str | None = None,
    ) -> FactorModel:
        """A full model from factors computed anywhere (Spark, another process, a file).

        ``catalog`` is a :class:`~latentrec.models.catalog.Catalog` (for example a
        trained model's ``catalog_``, or ``Catalog.from_ids(user_ids, item_ids,
        seen=...)``) or a ``(user_ids, item_ids)`` pair, then nothing counts as seen.
        Missing biases are zeros; ``user_factors`` may be ``None`` for a model that only
        folds users in.  The result recommends with seen items excluded, finds similar
        items and users, explains, folds in, partially fits and saves like any trained
        model.  ``predicts_ratings`` says whether its scores are ratings (by default, when
        ``global_mean`` or a bias is given).  ``regularization`` (and
        ``bias_regularization``, by default the same) is the λ of the ridge fold-in of
        new users and items; pass the training λ to fold in as the trained model would.
        ``source`` says where the factors came from (kept in the model and its file, and
        shown by ``repr`` with k and the numbers of users and items).

        Example:
            >>> import numpy as np
            >>> Q = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
            >>> P = np.array([[2.0, 0.1]])
            >>> model = FactorModel.from_factors((["ann"], ["a", "b", "c"]), Q, P)
            >>> model.recommend("ann", n=2).ids.tolist()
            ['a', 'c']
            >>> model.similar_items("a", n=1).ids.tolist()
            ['c']
            >>> FactorModel.from_factors((["ann"], ["a", "b", "c"]), Q, P, source="numpy")
            FactorModel(source='numpy', k=2, users=1, items=3, predicts_ratings=False)
        """
        if source is not None and not isinstance(source, str):
            raise TypeError(f"source must be a string, got {type(source).__name__}")
        # Checked as the model classes check their hyperparameters: a NaN μ made every
        # score NaN (recommend gave nothing, and the saved file would not load), and a
        # negative λ made fold-in rank a user's 5-star item last.
        global_mean = _real(global_mean)
        regularization = _real(regularization)
        check_real("global_mean", global_mean, minimum=None)
        check_float("regularization", regularization)
        if bias_regularization is not None:
            bias_regularization = _real(bias_regularization)
            check_float("bias_regularization", bias_regularization)
        if not isinstance(catalog, Catalog):
            try:
                user_ids, item_ids = catalog
            except (TypeError, ValueError):
                raise TypeError(
                    "catalog must be a Catalog or a (user_ids, item_ids) pair"
                ) from None
            catalog = Catalog.from_ids(user_ids, item_ids)
        Q = np.ascontiguousarray(item_factors, dtype=np.float32)
        if Q.ndim != 2 or Q.shape[0] != catalog.n_items:
            raise ValueError(
                f"item_factors must be ({catalog.n_items}, k) for the catalogue's items, "
                f"got shape {Q.shape}"
            )
        k = Q.shape[1]
        P = (
            np.zeros((catalog.n_users, k), np.float32)
            if user_factors is None
            else np.ascontiguousarray(user_factors, dtype=np.float32)
        )
        if P.shape != (catalog.n_users, k):
            raise ValueError(
                f"user_factors must be ({catalog.n_users}, {k}) for the catalogue's users, "
                f"got shape {P.shape}"
            )

        def vector(values, n, name):
            if values is None:
                return np.zeros(n, np.float32)
            arr = np.ascontiguousarray(values, dtype=np.float32)
            if arr.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
            return arr

        state = {
            "global_mean_": float(global_mean),
            "user_bias_": vector(user_bias, catalog.n_users, "user_bias"),
            "item_bias_": vector(item_bias, catalog.n_items, "item_bias"),
            "user_factors_": P,
            "item_factors_": Q,
            "predicts_ratings_": bool(
                predicts_ratings
                if predicts_ratings is not None
                else bool(global_mean) or user_bias is not None or item_bias is not None
            ),
            "fold_in_regularization_": [
                float(regularization),
                float(regularization if bias_regularization is None else bias_regularization),
            ],
        }
        if source is not None:
            state["source_"] = source
        for name, arr in state.items():
            if isinstance(arr, np.ndarray) and not np.isfinite(arr).all():
                # Named as given: there was no training here to have diverged.
                row = int(np.argwhere(~np.isfinite(arr))[0][0])
                raise FloatingPointError(
                    f"{name.rstrip('_')} has NaN or infinite values (first in row {row}); "
                    "from_factors takes finite factors and biases"
                )
        past = scores_past_float32(
            global_mean,
            (state["user_bias_"], P),
            (state["item_bias_"], Q),
        )
        if past is not None:
            base, user_len, item_len = past
            cause = (
                f"global_mean, user_bias and item_bias add up to {base:.3g}"
                if user_len * item_len <= base
                else f"user_factors and item_factors have rows of length up to {user_len:.3g} "
                f"and {item_len:.3g}"
            )
            raise FloatingPointError(
                f"{cause}: a score could pass float32's range and be infinite or NaN; "
                "from_factors takes factors and biases whose scores are float32 numbers"
            )
        return FactorModel.from_fitted(Fitted.build(catalog, state))

    # ----------------------------------------------------------- vectors not stored
    @reads_fitted
    def score_vectors(self, bias, factors) -> np.ndarray:
        """Scores μ + b + b_i + p·q_i of every item for user vectors the model does not hold.

        ``bias`` (n,) and ``factors`` (n, k), e.g. from :meth:`fold_in_idx`; the same
        float32 arithmetic as the stored users' scores.

        Example:
            >>> import numpy as np
            >>> model = FactorModel.from_factors(([0], ["a", "b"]), np.eye(2), global_mean=3.0)
            >>> model.score_vectors([0.5], [[1.0, 0.0]]).tolist()
            [[4.5, 3.5]]
        """
        self.check_fitted()
        bias = np.atleast_1d(np.asarray(bias, dtype=np.float32))
        factors = np.atleast_2d(np.asarray(factors, dtype=np.float32))
        if factors.shape != (bias.size, self.n_factors_):
            raise ValueError(
                f"factors must be ({bias.size}, {self.n_factors_}) for {bias.size} biases, "
                f"got shape {factors.shape}"
            )
        scores = factors @ self.item_factors_.T
        scores += self.item_bias_[None, :]
        scores += (bias + np.float32(self.global_mean_))[:, None]
        return scores

    @reads_fitted
    def recommend_vectors(
        self, bias, factors, n: int = 10, *, exclude=None, items=None, filter_items=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` item indices for user vectors the model does not hold.

        ``exclude`` is a CSR matrix (one row per vector) of items each must not get (for
        example the items just rated); ``items`` (candidates) and ``filter_items``
        (exclusions for all) are internal indices or an item-length boolean mask, as in
        :meth:`recommend_batch_idx`, checked as there (whole numbers in range, a mask of
        one entry per item, or more with none set past the items).  ``exclude``, sparse
        or a dense array (nonzero: excluded), must have one row per vector and one column
        per item.

        Returns:
            ``(item_idx, scores)`` of shape ``(n_vectors, min(n, n_candidates))``, best
            first, short rows padded with -1 / -inf.

        Example:
            >>> import numpy as np, scipy.sparse as sp
            >>> model = FactorModel.from_factors(([0], ["a", "b", "c"]), np.eye(3))
            >>> answered = sp.csr_matrix(np.array([[1, 0, 0]]))
            >>> model.recommend_vectors([0.0], [[0.9, 0.5, 0.1]], 2, exclude=answered)[0].tolist()
            [[1, 2]]
        """
        check_n(n)
        scores = self.score_vectors(bias, factors)
        cand = (
            None
            if items is None
            else np.unique(index_array(items, self.n_items, "items", mask=True))
        )
        banned = (
            None
            if filter_items is None
            else index_array(filter_items, self.n_items, "filter_items", mask=True)
        )
        if exclude is not None:
            if not sp.issparse(exclude):
                # A dense array of 0/1 (or booleans) per vector and item was always taken.
                dense = np.asarray(exclude)
                if dense.ndim != 2 or dense.dtype.kind not in "biuf":
                    raise TypeError(
                        f"exclude must be a scipy.sparse matrix or a 2-D numeric or boolean "
                        f"array (vectors x items, nonzero: excluded), got "
                        f"{type(exclude).__name__}"
                        + (f" of shape {dense.shape}" if dense.dtype.kind in "biuf" else "")
                    )
                exclude = sp.csr_matrix(dense)
            if exclude.shape != (scores.shape[0], self.n_items):
                raise ValueError(
                    f"exclude must be ({scores.shape[0]}, {self.n_items}): one row per vector "
                    f"and one column per item, got shape {exclude.shape}"
                )
        if cand is not None:
            scores = scores[:, cand]
        return retrieval.select_topk(scores, n, items=cand, exclude=exclude, banned=banned)

    def onboarding_items(
        self,
        k: int = 5,
        *,
        min_ratings: int | None = None,
        candidates=None,
        exclude=None,
        criterion: str = "variance",
    ) -> pd.DataFrame:
        """The ``k`` items to ask a new user to rate, in asking order.

        Popular items (people can rate only what they have seen) spread across the
        latent factors; see :func:`latentrec.onboarding.onboarding_items` for the design
        and the columns (``item_id``, ``title``, ``popularity``, ``answer_rate``, ``gain``).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> len(model.onboarding_items(k=2, min_ratings=1))
            2
        """
        return onboarding.onboarding_items(
            self,
            k,
            min_ratings=min_ratings,
            candidates=candidates,
            exclude=exclude,
            criterion=criterion,
        )

    def onboard(
        self,
        answers,
        n: int = 10,
        *,
        user_id=None,
        unknown: str = "error",
        items=None,
        filter_items=None,
    ) -> Recommendations:
        """Top-``n`` items for a new user from their answers ``{item_id: rating}``.

        The answers are folded in (:meth:`fold_in`) and every item is ranked with the new
        vector, answered items excluded.  The model is unchanged unless ``user_id`` is
        given, which adds the user (:meth:`partial_fit_users`).  No usable answer gives
        the popularity list with ``fallback=True``.  A list of item ids ("these I have
        seen / like") is events: a ranking model folds each in as a positive, while for
        a rating model they are seen only, so it answers with the popularity list
        without them (``fallback=True``), never reading them as 1-star ratings.  A
        model whose scores cannot order items (:attr:`orders_items`) raises
        :class:`~latentrec.errors.CannotRankError` unless at most one candidate is left,
        as :meth:`recommend` does.  See :func:`latentrec.onboarding.onboard`.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> model.onboard({0: 5, 2: 1}, n=2).ids.tolist()
            [1, 3]
        """
        return onboarding.onboard(
            self,
            answers,
            n,
            user_id=user_id,
            unknown=unknown,
            items=items,
            filter_items=filter_items,
        )

    @reads_fitted
    def similar_items(self, item_id, n: int = 10, *, items=None, filter_items=None):
        """Items closest to ``item_id`` by cosine of their factor vectors (itself excluded).

        ``items`` restricts the candidates (e.g. to titles with enough ratings for a
        reliable vector) and ``filter_items`` removes some, as in :meth:`recommend`.
        Items without a vector (no training data) are never returned, and an
        ``item_id`` without one (in the vocabulary but with no training cells) has no
        neighbours: an empty result (``fallback=False``; no rows in the table form),
        as the service's "because you watched" list is empty for it.  An id outside the
        vocabulary raises :class:`~latentrec.UnknownIdError`.  An ``n`` past the
        catalogue (``2**31 - 1``, say) gives every candidate, as :meth:`recommend` does.

        One id gives :class:`Recommendations`; a list or array of ids gives a long table
        with columns ``query_id``, ``rank``, ``item_id``, ``score``, computed in one batch.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model.fit(Interactions.from_dense(R)).similar_items(0, n=1).ids.tolist()
            [1]
            >>> model.similar_items([0, 2], n=1)["item_id"].tolist()
            [1, 3]
        """
        return self._similar(item_id, n, True, items, filter_items)

    @reads_fitted
    def similar_users(self, user_id, n: int = 10):
        """Users closest to ``user_id`` by cosine of their factor vectors (itself excluded).

        One id gives :class:`Recommendations` (of user ids); a list or array of ids gives
        a long table with columns ``query_id``, ``rank``, ``user_id``, ``score``.  Users
        without a vector (no training data) are never returned, and a ``user_id``
        without one gets an empty result, as in :meth:`similar_items`.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model.fit(Interactions.from_dense(R)).similar_users(2, n=1).ids.tolist()
            [3]
            >>> model.similar_users([2, 0], n=1)["user_id"].tolist()
            [3, 1]
        """
        return self._similar(user_id, n, False)

    def _similar(self, raw_ids, n, of_items, candidates=None, exclude=None):
        self.check_fitted()
        check_n(n)
        vocab, factors = (
            (self.items_, self.item_factors_) if of_items else (self.users_, self.user_factors_)
        )
        if factors.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} has no latent factors, so it has no similarity"
            )
        scalar = not is_id_collection(raw_ids)
        raw = id_array(raw_ids)
        query = vocab.index(raw).astype(np.int64)
        unit = _unit_rows(factors)
        # Rows without a vector (no training data) are not similar to anything: never
        # a candidate, and as a query they get no neighbours (their zero cosine with
        # everything would rank the first items by index).
        no_vector = ~self._has_vector(of_items)
        banned = no_vector.copy()
        if exclude is not None:
            banned[self.items_.index(exclude)] = True
        cand = None if candidates is None else self.items_.index(candidates)
        itself = sp.csr_matrix(
            (np.ones(query.size, np.float32), query, np.arange(query.size + 1)),
            shape=(query.size, len(vocab)),
        )
        top, vals = retrieval.topk_dot(
            unit,
            unit,
            n,
            rows=query,
            items=cand,
            exclude=itself,
            exclude_rows=np.arange(query.size),
            banned=banned,
            num_threads=getattr(self, "num_threads", None),
        )
        top[no_vector[query]] = -1
        if scalar:
            keep = top[0] >= 0
            top, vals = top[0][keep], vals[0][keep]
            if of_items:
                return self.catalog_.recommendations(top, vals, False)
            return Recommendations(vocab.ids[top], vals)
        rows, cols = np.nonzero(top >= 0)
        return pd.DataFrame(
            {
                "query_id": raw[rows],
                "rank": cols + 1,
                ("item_id" if of_items else "user_id"): vocab.ids[top[rows, cols]],
                "score": vals[rows, cols],
            }
        )

    def _has_vector(self, of_items: bool) -> np.ndarray:
        """Which items (or users) have a vector of their own: a nonzero factor row.

        Fits give rows without training cells zero factors; a model that fills them
        otherwise (unbiased NMF) says so by overriding this.
        """
        factors = self.item_factors_ if of_items else self.user_factors_
        return np.any(factors != 0, axis=1)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def supporting_items(model, user_id, item_id, n: int = 3, *, ratings=None):
    """The items the user liked that are closest to ``item_id`` in factor space ("because
    you rated").

    Only titles the model saw the user rate are cited (its record, ``seen_``: the
    training cells, or the ratings a fold-in added), and only those the user liked,
    never one they rated low.  With ``ratings`` (the user's own stars, as
    ``{item_id: rating}`` or an :class:`~latentrec.Interactions` holding the user, e.g.
    the training data), the stars are read from it: the titles in the record rated at or
    above the user's mean rating of them (so at least their top-rated one), and the
    table has their ``rating``.  A title in ``ratings`` but not in the model's record
    (a held-out rating, one given after the fit) is left out, since the model never
    learned from it; how many were is the table's ``attrs["left_out"]``.  (A model with
    no record of anyone's ratings, made by :meth:`FactorModel.from_factors` without a
    seen matrix, takes ``ratings`` as given.)  A model keeps
    which items a user rated, not the stars, so without ``ratings`` a rating model's own
    fit of those stars stands in: the rated items it predicts at or above the mean of its
    predictions for them.  For a model
    that predicts no ratings every interaction is a positive, and all count.

    Among those, the ``n`` whose factor vectors have the highest cosine similarity with
    the target item's come first, as a DataFrame with ``item_id``, ``similarity`` (and
    ``rating``, ``title`` when known).  The target itself is left out; items without a
    vector (all-zero factors) have no similarity and are left out too.  A user with no
    rated items gets an empty table.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import GradientDescentMF
        >>> R = np.array([[5, 5, 0, 1, 1], [4, 5, 4, 1, 2], [1, 1, 1, 5, 4], [2, 1, 2, 4, 5]])
        >>> data = Interactions.from_dense(R)
        >>> model = GradientDescentMF(n_epochs=3000, random_state=0).fit(data)
        >>> table = supporting_items(model, 0, 2, n=4, ratings=data)  # why item 2 for user 0?
        >>> sorted(table["item_id"].tolist()), table["rating"].tolist()  # 1-star ones left out
        ([0, 1], [5.0, 5.0])
        >>> supporting_items(model, 0, 2, ratings={0: 5, 2: 5}).attrs["left_out"]  # 2: unrated
        1
    """
    model.check_fitted()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    u = model.users_.index([user_id])[0]
    i = model.items_.index([item_id])[0]
    Q = np.asarray(model.item_factors_, dtype=np.float64)
    if Q.shape[1] == 0:
        raise ValueError(f"{type(model).__name__} has no latent factors, so no similar items")
    stars = None
    left_out = 0
    record = model.seen_.indices[model.seen_.indptr[u] : model.seen_.indptr[u + 1]]
    if ratings is not None:
        rated, stars = _user_ratings(model, user_id, ratings)
        # The model's record says which titles its vector for the user was fitted on; a
        # rating it never saw (held out, or given after) did not shape the prediction,
        # so it is no reason for it.  The stars themselves come from ``ratings``.
        # A model that keeps no record of anyone's ratings (from_factors without a seen
        # matrix) cannot tell: the ratings are taken as given.
        if model.seen_.nnz:
            in_record = np.isin(rated, record)
            left_out = int((~in_record).sum())
            rated, stars = rated[in_record], stars[in_record]
        liked = stars >= stars.mean() if stars.size else np.zeros(0, bool)
    else:
        rated = record.astype(np.int64)
        liked = np.ones(rated.size, bool)
        if model.predicts_ratings and rated.size:
            fit = model.predict_idx(np.full(rated.size, u), rated)
            liked = fit >= fit.mean()
    keep = liked & (rated != i)
    target = Q[i]
    norms = np.linalg.norm(Q[rated], axis=1) * np.linalg.norm(target)
    keep &= norms > 0
    rated, norms = rated[keep], norms[keep]
    sims = (Q[rated] @ target) / norms if rated.size else np.empty(0)
    # Stable order: ties go to the lower item index, so results do not depend on sorting.
    order = np.lexsort((rated, -sims))[:n]
    out = pd.DataFrame({"item_id": model.items_.ids[rated[order]], "similarity": sims[order]})
    if stars is not None:
        out["rating"] = stars[keep][order]
    titles = getattr(model, "item_titles_", None)
    if titles is not None:
        out["title"] = np.asarray(titles)[rated[order]]
    out.attrs["left_out"] = left_out
    return out


def _user_ratings(model, user_id, ratings) -> tuple[np.ndarray, np.ndarray]:
    """``(item_idx, stars)`` of one user from ``{item_id: rating}`` or an Interactions.

    Example:
        >>> import numpy as np
        >>> m = FactorModel.from_factors(([0], ["a", "b"]), np.eye(2), global_mean=3.0)
        >>> [x.tolist() for x in _user_ratings(m, 0, {"b": 4, "a": 2})]
        [[1, 0], [4.0, 2.0]]
    """
    if isinstance(ratings, Interactions):
        try:
            row = ratings.users.index([user_id])[0]
        except UnknownIdError as err:
            raise UnknownIdError(
                "user",
                err.ids,
                where="in ratings",
                hint="give the Interactions the model was "
                "trained on, or the user's {item_id: rating}",
            ) from None
        m = ratings.matrix
        cols = m.indices[m.indptr[row] : m.indptr[row + 1]]
        item_ids = ratings.items.ids[cols]
        stars = np.asarray(m.data[m.indptr[row] : m.indptr[row + 1]], dtype=np.float64)
    elif hasattr(ratings, "items") and callable(ratings.items):
        pairs = list(ratings.items())
        for item, value in pairs:
            # float() would take "5" or True as a rating; a typo or a flag is no star count.
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise ValueError(
                    f"ratings: item {_show(item)!r} has rating {value!r}, not a number"
                )
        item_ids = id_array([k for k, _ in pairs]) if pairs else np.empty(0, dtype=object)
        stars = np.array([float(v) for _, v in pairs], dtype=np.float64)
    else:
        raise TypeError(
            "ratings must be the user's {item_id: rating} or an Interactions holding the "
            f"user, got {type(ratings).__name__}"
        )
    if not np.isfinite(stars).all():
        bad = item_ids[~np.isfinite(stars)][0]
        raise ValueError(f"ratings: item {_show(bad)} has rating {stars[~np.isfinite(stars)][0]}")
    try:
        idx = model.items_.index(item_ids) if len(item_ids) else np.empty(0, np.int64)
    except UnknownIdError as err:
        # Said of ratings, not of the item being explained: it has no vector to cite.
        raise UnknownIdError(
            "item",
            err.ids,
            where="in ratings",
            hint="the model was not trained with it, so "
            "it has no vector to cite; leave it out of ratings",
        ) from None
    return idx.astype(np.int64), stars


def _show(x):
    return x.item() if isinstance(x, np.generic) else x


def _real(value):
    """A real number given in another form (a 0-d array, a NumPy scalar, ``Decimal``,
    ``Fraction``) as the float it stands for; anything else as given, for the checks to
    name.  Python ints stay ints, so the checks can refuse one too wide for 64 bits.

    Example:
        >>> from decimal import Decimal
        >>> _real(np.array(3.5)), _real(Decimal("0.25")), _real(True), _real("3")
        (3.5, 0.25, True, '3')
    """
    if (isinstance(value, np.ndarray) and value.ndim == 0) or isinstance(value, np.generic):
        value = value.item()  # the Python scalar, whose type the checks below read
    if isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating, int)):
        return value
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return value
    return value
