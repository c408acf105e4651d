"""Thompson sampling on the folded-in uncertainty of a confidence-weighted ALS model.

Implicit ALS (Hu, Koren and Volinsky) solves, for one user with the item factors ``Y``
fixed, the ridge regression ``min_x sum_i c_i (p_i - x.y_i)^2 + lambda |x|^2`` with
preference ``p_i = 1`` and confidence ``c_i = 1 + alpha * v_i`` on the items the user had
(``v_i`` the interaction strength) and ``p = 0``, ``c = 1`` elsewhere. Read as a Gaussian
model (unit noise scaled by ``1 / c_i``, prior ``x ~ N(0, I / lambda)``), its posterior is

    x ~ N(mean, A^-1),  A = lambda I + Y^T Y + sum_i (c_i - 1) y_i y_i^T,
                        mean = A^-1 sum_i c_i y_i,

and ``mean`` is exactly the folded-in user vector. An item's score ``y.x`` then has mean
``y.mean`` and variance ``y^T A^-1 y``: large for items the user's history says little
about. :func:`implicit_posterior` computes it, :func:`sample_scores` draws scores from
it (one user vector per draw, so the scores of one draw are jointly consistent), and the
:class:`Thompson` stage fills exploration slots with the items whose sampled score is
highest: an item is shown as often as the posterior thinks it may be the best.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .context import Context
from .history import as_history
from .params import check_positive, check_seed, check_share
from .rerank import explore
from .stages import Reranker, StageDataError

__all__ = ["Thompson", "implicit_posterior", "sample_scores", "strength"]


def strength(values, confidence: str = "linear", epsilon: float = 1.0) -> np.ndarray:
    """The ``v`` of the confidence ``c = 1 + alpha * v``: the value, or ``log(1 + r / eps)``.

    ``confidence`` and ``epsilon`` are an :class:`~latentrec.models.ImplicitALS`'s
    ``confidence_`` and ``epsilon_``.

    Example:
        >>> strength([1.0, 3.0]).tolist()
        [1.0, 3.0]
        >>> [round(v, 4) for v in strength([1.0, 3.0], "log", 1.0).tolist()]
        [0.6931, 1.3863]
    """
    v = np.asarray(values, dtype=np.float64)
    if confidence == "log":
        return np.log1p(v / float(epsilon))
    if confidence != "linear":
        raise ValueError(f"confidence must be 'linear' or 'log', got {confidence!r}")
    return v


def implicit_posterior(
    item_factors, item_idx, strengths, alpha: float, regularization: float, *, gram=None
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, covariance)`` of one user's vector under implicit ALS's Gaussian reading.

    ``item_idx`` are the items the user had and ``strengths`` their ``v`` (see
    :func:`strength`); ``gram`` may pass a precomputed ``Y^T Y`` (it does not depend on
    the user). A user without items gets the prior: mean 0, covariance
    ``(lambda I + Y^T Y)^-1``.

    Example:
        >>> import numpy as np
        >>> Y = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> mean, cov = implicit_posterior(Y, [0], [1.0], alpha=1.0, regularization=1.0)
        >>> mean.round(6).tolist(), np.diag(cov).round(6).tolist()  # A = diag(3, 2)
        ([0.666667, 0.0], [0.333333, 0.5])
    """
    Y = np.asarray(item_factors, dtype=np.float64)
    idx = np.asarray(item_idx, dtype=np.int64)
    v = np.asarray(strengths, dtype=np.float64)
    if Y.ndim != 2:
        raise ValueError(f"item_factors must be items x factors, got {Y.ndim} dimensions")
    if idx.shape != v.shape or idx.ndim != 1:
        raise ValueError(f"item_idx has shape {idx.shape} but strengths has {v.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= Y.shape[0]):
        raise ValueError(f"item_idx must lie in [0, {Y.shape[0]})")
    if not (np.isfinite(v).all() and (v >= 0).all()):
        raise ValueError("strengths must be finite and non-negative")
    if not regularization > 0:
        raise ValueError(f"regularization must be above 0, got {regularization!r}")
    G = Y.T @ Y if gram is None else np.asarray(gram, dtype=np.float64)
    mine = Y[idx]
    extra = float(alpha) * v
    A = G + float(regularization) * np.eye(Y.shape[1]) + (mine * extra[:, None]).T @ mine
    b = mine.T @ (1.0 + extra)
    factor = scipy.linalg.cho_factor(A, lower=True)
    covariance = scipy.linalg.cho_solve(factor, np.eye(Y.shape[1]))
    return scipy.linalg.cho_solve(factor, b), (covariance + covariance.T) / 2.0


def sample_scores(item_vectors, mean, covariance, rng, *, scale: float = 1.0) -> np.ndarray:
    """One Thompson draw: ``item_vectors @ x`` with ``x ~ N(mean, scale^2 covariance)``.

    ``rng`` is a ``numpy.random.Generator``, so a seed fixes the draw. Over many draws
    the mean score of item ``j`` tends to ``y_j.mean`` and its variance to
    ``scale^2 y_j^T covariance y_j``; ``scale = 0`` gives the deterministic score.

    Example:
        >>> import numpy as np
        >>> Y = np.array([[1.0, 0.0], [0.0, 2.0]])
        >>> sample_scores(Y, np.array([0.5, 0.1]), np.eye(2), np.random.default_rng(0),
        ...               scale=0.0).tolist()
        [0.5, 0.2]
    """
    Y = np.asarray(item_vectors, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    scale = check_positive(scale, "scale", zero=True)
    # An eigen-decomposition tolerates a covariance that rounding left barely indefinite.
    values, vectors = np.linalg.eigh(np.asarray(covariance, dtype=np.float64))
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    x = mean + scale * (root @ rng.standard_normal(mean.size))
    return Y @ x


class Thompson(Reranker):
    """Exploration slots filled by Thompson sampling on the folded-in uncertainty.

    The last ``round(share * n)`` places of each list go to the items whose score,
    drawn once per user from the posterior of :func:`implicit_posterior` (the first
    candidate model that is a confidence-weighted ALS, e.g.
    :class:`~latentrec.models.ImplicitALS`), is highest; the places before them keep
    the ranking. The items explored are those first had within the last ``new_days``
    days (as :class:`~latentrec.pipeline.Explore`), or, with ``new_days=None``, the
    user's own candidates not yet listed. A user without history draws from the prior,
    so users the model has no ratings of still get different lists, each its own draw
    (an unknown user is index -1 here: all unknown users share one draw). ``scale``
    multiplies the posterior's standard deviation (0: no exploration beyond the mean
    score); ``random_state`` seeds each user's draw, so a saved pipeline gives the
    same lists.

    The defaults (``share=0.1``, ``new_days=30``, ``scale=1``) are fixed, untuned:
    ``scale=1`` is the posterior as it is, and how much of a list goes to exploring is
    a product choice, not fitted to any data (docs/benchmarks.md, "Two-stage ranking",
    reports them as such: on MovieLens-100K's temporal split 1.9% of NDCG@10 for +8.8%
    latent diversity, for the users with a history).

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.models import ImplicitALS
        >>> from latentrec.pipeline import Pipeline
        >>> df = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [5, 6, 6, 7, 8],
        ...                    "rating": 1.0})
        >>> data = Interactions.from_frame(df)
        >>> model = ImplicitALS(n_factors=2, random_state=0)
        >>> pipe = Pipeline(model, rerankers=[Thompson(0.5, new_days=None)]).fit(data)
        >>> len(pipe.recommend(1, n=2).ids)
        2
    """

    def __init__(
        self,
        share: float = 0.1,
        new_days: float | None = 30.0,
        scale: float = 1.0,
        random_state: int = 0,
    ):
        self.share = share
        self.new_days = new_days
        self.scale = scale
        self.random_state = random_state

    def fit(self, context: Context) -> Thompson:
        """Check the knobs and, with ``new_days``, that the data has timestamps; returns
        self. The posterior's model is taken later, by :meth:`bind`.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.eye(2)))  # no timestamps
            >>> Thompson(new_days=None).fit(ctx).share
            0.1
            >>> Thompson().fit(ctx)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
                ...
            latentrec.pipeline.stages.StageDataError: Thompson with new_days needs item ages, ...
        """
        check_share(self.share, "Thompson share")
        check_positive(self.new_days, "Thompson new_days", zero=True, none=True)
        if self.new_days is not None and np.isnan(context.item_age).all():
            raise StageDataError(
                "Thompson with new_days needs item ages, but the training data has no "
                "timestamps; pass new_days=None to explore among the candidates"
            )
        check_positive(self.scale, "Thompson scale", zero=True)
        check_seed(self.random_state, "Thompson random_state")
        return self

    def bind(self, models) -> Thompson:
        """Take the posterior's settings from the first confidence-weighted ALS model."""
        for model in models:
            if all(hasattr(model, a) for a in ("alpha_", "confidence_", "regularization_")):
                self.alpha_ = float(model.alpha_)
                self.regularization_ = float(model.regularization_)
                self.confidence_ = str(model.confidence_)
                self.epsilon_ = float(getattr(model, "epsilon_", 1.0))
                self.item_factors_ = np.asarray(model.item_factors_, dtype=np.float64)
                self.gram_ = self.item_factors_.T @ self.item_factors_
                return self
        names = ", ".join(type(m).__name__ for m in models)
        raise ValueError(
            "Thompson samples from the folded-in posterior of a confidence-weighted ALS "
            f"model (ImplicitALS); the candidate models are {names}"
        )

    def posterior(self, context: Context, user: int) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, covariance)`` of ``user``'s vector (-1 or no history: the prior);
        ``user`` is a training index or a :class:`~latentrec.pipeline.history.UserHistory`.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import ImplicitALS
            >>> from latentrec.pipeline.context import build_context
            >>> data = Interactions.from_dense(np.eye(3) + np.eye(3, k=1))
            >>> model = ImplicitALS(n_factors=2, random_state=0).fit(data)
            >>> stage = Thompson(new_days=None).fit(build_context(data)).bind([model])
            >>> mean, cov = stage.posterior(build_context(data, [model]), -1)
            >>> mean.tolist(), cov.shape
            ([0.0, 0.0], (2, 2))
        """
        who = as_history(context, user)
        if who.values is None:
            idx, values = np.empty(0, dtype=np.int64), np.empty(0)
        else:
            idx, values = who.items, who.values
        v = strength(values, self.confidence_, self.epsilon_)
        return implicit_posterior(
            self.item_factors_, idx, v, self.alpha_, self.regularization_, gram=self.gram_
        )

    def rerank(self, context, user, candidates, scores, n):
        """The first ``n - round(share * n)`` of ``candidates``, then the explored items
        with the highest score drawn for ``user`` (one draw per user and seed).

        Example (half of a list of 4 explores among the user's own candidates):
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import ImplicitALS
            >>> from latentrec.pipeline.context import build_context
            >>> data = Interactions.from_dense(np.eye(6) + np.eye(6, k=1))
            >>> model = ImplicitALS(n_factors=2, random_state=0).fit(data)
            >>> ctx = build_context(data, [model])
            >>> stage = Thompson(0.5, new_days=None).fit(ctx).bind([model])
            >>> top = stage.rerank(ctx, 0, [2, 3, 4, 5], [0.9, 0.8, 0.7, 0.6], n=4)
            >>> top[:2].tolist(), sorted(top.tolist()) == [2, 3, 4, 5]
            ([2, 3], True)
        """
        cands = np.asarray(candidates, dtype=np.int64)
        raw = np.asarray(scores, dtype=np.float64)
        who = as_history(context, user)
        if self.new_days is None:
            pool = cands
        else:
            pool = context.new_items(self.new_days)
            pool = pool[~np.isin(pool, who.exclude)]
        mean, covariance = self.posterior(context, who)
        rng = np.random.default_rng([int(self.random_state), who.key + 1])
        drawn = sample_scores(self.item_factors_[pool], mean, covariance, rng, scale=self.scale)
        return explore(cands, raw, pool, n, float(self.share), new_scores=drawn)
