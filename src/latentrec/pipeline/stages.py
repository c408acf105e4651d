"""Re-rankers as small objects a pipeline runs in order: MMR, Calibrate, Freshness, Explore.

Each wraps one function of :mod:`latentrec.pipeline.rerank` and holds only its knobs
(JSON in a model file) and, for some, a few arrays. ``fit(context)`` checks that the
pipeline's :class:`~latentrec.pipeline.context.Context` has what the stage needs (item
vectors, genres, ages) and ``rerank(context, user, candidates, scores, n)`` orders one
user's candidates. :class:`~latentrec.pipeline.rules.Rules` is the business-rule stage.
"""

from __future__ import annotations

import numpy as np

from ..evaluation.metrics import check_count
from .context import Context
from .history import as_history
from .params import Knobs, check_positive, check_seed, check_share
from .rerank import RELEVANCE, calibrate, explore, freshness, mmr

__all__ = [
    "KNOB_MAX_BOOST",
    "KNOB_POOL",
    "KNOB_POOL_PER_SLOT",
    "MMR",
    "MMR_POOL",
    "Calibrate",
    "Explore",
    "Freshness",
    "Reranker",
    "StageDataError",
    "knob_pool",
]

# MMR's default pool (the best 50 candidates): the size chosen together with lambda 0.7
# and min-max relevance on the benchmark's validation slice (benchmarks/ranking_stage.py);
# since the 2026-12-06 package rebuild validation prefers the top 100 by a small margin
# (see MMR's docstring).
MMR_POOL = 50

# A single model re-ranked by knobs (`latentrec recommend --diversity/--calibrate/
# --boost-new/--rules`; the service's diversity, calibrate and boost_new) offers its best
# this many unseen items, or this many per slot of a longer list: the Pipeline's default
# n_candidates, and one rule for both, so that the command and the service give one list.
KNOB_POOL = 200
KNOB_POOL_PER_SLOT = 5
# The largest freshness boost the knobs take (`--boost-new`, the service's boost_new):
# relevance is rescaled to [0, 1] first, so ten times the whole range of relevance is
# already a list ordered by age alone. One bound for both, so that they refuse alike.
KNOB_MAX_BOOST = 10.0


def knob_pool(
    n: int, n_items: int, *, pool: int = KNOB_POOL, per_slot: int = KNOB_POOL_PER_SLOT
) -> int:
    """How many of a model's best items the knobs re-rank for a list of ``n``: ``pool``,
    or ``per_slot`` per slot of a longer list, at most the ``n_items`` there are and at
    least one.

    Example:
        >>> knob_pool(10, 1682), knob_pool(50, 1682), knob_pool(10, 30), knob_pool(10**9, 30)
        (200, 250, 30, 30)
    """
    return max(1, min(int(n_items), max(int(pool), int(per_slot) * int(n))))


class StageDataError(ValueError):
    """A re-ranker cannot be fitted on this data: it lacks what the stage reads (genres,
    timestamps, a side-table column, a catalogue item) or breaks what the stage
    guarantees (pinned items alone above a cap).

    A ``ValueError``, raised by a stage's ``fit``; ``Pipeline.fit`` sets ``stage`` to
    the stage's name and place (``"Calibrate (rerankers[1])"``), and retraining reports
    it as the reason nothing was published. Bad knobs stay a plain ``ValueError``.

    Example:
        >>> err = StageDataError("Calibrate needs item genres", stage="Calibrate (rerankers[0])")
        >>> isinstance(err, ValueError), err.stage, str(err)
        (True, 'Calibrate (rerankers[0])', 'Calibrate needs item genres')
    """

    def __init__(self, message: str, stage: str | None = None):
        super().__init__(message)
        self.stage = stage


class Reranker(Knobs):
    """Base of the pipeline's re-rankers: knobs in ``__init__``, checks in ``fit``.

    Subclasses store each ``__init__`` argument under its own name (``get_params`` and
    the repr read the names from the signature, see :class:`~.params.Knobs`) and
    implement ``rerank``; the ``never`` items of a stage (none here, see ``Rules``) are
    removed before any stage runs.

    Example:
        >>> MMR(0.5).get_params()
        {'lambda_': 0.5, 'relevance': 'minmax', 'pool': 50, 'center': False}
    """

    def fit(self, context: Context) -> Reranker:
        """Check the knobs and that ``context`` has what this stage needs; returns self.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.eye(2)))  # no timestamps
            >>> Freshness().fit(ctx)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
                ...
            latentrec.pipeline.stages.StageDataError: Freshness needs item ages, but ...
        """
        return self

    def rerank(self, context: Context, user, candidates, scores, n: int) -> np.ndarray:
        """Up to ``n`` of ``candidates`` (item indices), best first, for ``user``: a
        training user index (-1: unknown) or a
        :class:`~latentrec.pipeline.history.UserHistory`.

        Example (a :class:`~latentrec.pipeline.Rules` stage with no rules keeps the order):
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline import Rules
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.eye(3)))
            >>> Rules().fit(ctx).rerank(ctx, 0, [2, 1], [0.9, 0.4], n=2).tolist()
            [2, 1]
        """
        raise NotImplementedError

    def bind(self, models) -> Reranker:
        """Take what this stage needs from the fitted candidate models (most need
        nothing); called by the pipeline after :meth:`fit` and after a load. Returns self."""
        return self

    def never_shown(self) -> np.ndarray:
        """Item indices this stage forbids in every list (removed before any stage)."""
        return np.empty(0, dtype=np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        """Fitted arrays to save with the pipeline (none for most stages)."""
        return {}

    @classmethod
    def from_saved(cls, params: dict, arrays: dict) -> Reranker:
        """The fitted stage from its saved knobs and arrays."""
        return cls(**params)


def _relevance_kind(value, name: str) -> str:
    if value not in RELEVANCE:
        raise ValueError(f"{name} must be one of {RELEVANCE}, got {value!r}")
    return value


class MMR(Reranker):
    """Maximal marginal relevance in the latent space (:func:`~latentrec.pipeline.mmr`).

    ``lambda_ = 1`` keeps the ranking; lower values favour items unlike those listed.
    Uses the item factors of the first candidate model that has them. ``relevance`` (``"minmax"`` or
    ``"rank"``), ``pool`` (only the best ``max(pool, n)`` candidates; ``None``: all of
    them) and ``center`` (cosines of the factors less their mean) are :func:`mmr`'s.

    The defaults (``lambda_=0.7``, min-max relevance, ``pool=50``, raw factors) were
    chosen together on MovieLens-100K, on the validation slice of
    ``benchmarks/ranking_stage.py``: of 128 settings, the most latent diversity within
    2% of NDCG@10, for MMR after the learned ranker over ImplicitALS, BPR and Popularity
    candidates (200 each). With the packages rebuilt on 2026-12-06 (same code), today's
    validation picks ``pool=100`` instead, by a margin of +1.6% latent diversity (95%
    interval +0.9% to +2.3%) at NDCG@10 +0.4% (−2.0% to +3.1%), a paired bootstrap over
    its 85 users; the defaults stay, the NDCG difference being within the noise and the
    pick having moved with the packages alone. On that split's test the defaults cost
    2.3% of NDCG@10 (95% interval −0.8% to 5.4%) for +6.1% latent diversity and 1.02×
    coverage; the pick 2.4% for +7.3% and 1.02× (docs/benchmarks.md, "Two-stage
    ranking"). They are not validated on other data, nor on a single model's lists (there
    validation chose rank relevance, the top 100 and ``lambda_`` 0.4).
    Until the pool was made a default, MMR re-ranked all the candidates (``pool=None``).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.pipeline.context import build_context
        >>> from latentrec.models import ImplicitALS
        >>> data = Interactions.from_dense(np.eye(4) + np.eye(4, k=1))
        >>> model = ImplicitALS(n_factors=2, random_state=0).fit(data)
        >>> ctx = build_context(data, [model])
        >>> len(MMR(0.5).fit(ctx).rerank(ctx, 0, [2, 3], [1.0, 0.5], n=2))
        2
        >>> MMR()
        MMR(lambda_=0.7, relevance='minmax', pool=50, center=False)
    """

    def __init__(
        self,
        lambda_: float = 0.7,
        relevance: str = "minmax",
        pool: int | None = MMR_POOL,
        center: bool = False,
    ):
        self.lambda_ = lambda_
        self.relevance = relevance
        self.pool = pool
        self.center = center

    def fit(self, context: Context) -> MMR:
        """Check the knobs and that a candidate model has item factors; returns self.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> from latentrec.pipeline.context import build_context
            >>> data = Interactions.from_dense(np.eye(2))
            >>> MMR(1.5).fit(build_context(data))
            Traceback (most recent call last):
                ...
            ValueError: MMR lambda_ must be a number in [0, 1], got 1.5
            >>> MMR().fit(build_context(data, [Popularity().fit(data)]))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
                ...
            ValueError: MMR compares items in the latent space, but no candidate model ...
        """
        check_share(self.lambda_, "MMR lambda_")
        _relevance_kind(self.relevance, "MMR relevance")
        if self.pool is not None:
            check_count(self.pool, "MMR pool")
        if not isinstance(self.center, (bool, np.bool_)):
            raise ValueError(f"MMR center must be True or False, got {self.center!r}")
        if context.item_vectors is None:
            raise ValueError(
                "MMR compares items in the latent space, but no candidate model has item "
                "factors (item_factors_); use a factor model among the candidates"
            )
        return self

    def rerank(self, context, user, candidates, scores, n):
        """Up to ``n`` of ``candidates`` by maximal marginal relevance (:func:`mmr`).

        Example (item 1 points where item 0 does, item 2 elsewhere):
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import FactorModel
            >>> from latentrec.pipeline.context import build_context
            >>> data = Interactions.from_dense(np.eye(3))
            >>> factors = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]])
            >>> model = FactorModel.from_factors((data.users.ids, data.items.ids), factors)
            >>> ctx = build_context(data, [model])
            >>> MMR(1.0).fit(ctx).rerank(ctx, -1, [0, 1, 2], [1.0, 0.9, 0.5], n=2).tolist()
            [0, 1]
            >>> MMR(0.5).fit(ctx).rerank(ctx, -1, [0, 1, 2], [1.0, 0.9, 0.5], n=2).tolist()
            [0, 2]
        """
        return mmr(
            candidates,
            scores,
            context.item_vectors,
            n,
            self.lambda_,
            relevance=self.relevance,
            pool=self.pool,
            center=bool(self.center),
        )


class Calibrate(Reranker):
    """Steck's calibration of each list's genres to the user's history
    (:func:`~latentrec.pipeline.calibrate`); ``weight = 0`` keeps the ranking.

    Needs genres: an item side table with a ``genres`` column (``"Action|Sci-Fi"`` or
    ``["Action", "Sci-Fi"]``) in which some item has one, else ``fit`` raises
    :class:`StageDataError`.
    The target mix is that of everything the user is known to have had (the pipeline's
    ``seen``: the training data and a ``validation`` slice), each item weighing one:
    :func:`latentrec.evaluation.miscalibration`'s ``p`` for a history of ones (given a
    matrix of ratings, the metric weighs each item by its rating instead).
    ``relevance`` (``"minmax"`` or ``"rank"``) is :func:`calibrate`'s.

    Defaults: ``weight=0.5`` with min-max relevance was chosen on MovieLens-100K, on the
    validation slice of ``benchmarks/ranking_stage.py`` (weights 0.1 to 0.99, either
    relevance: the best NDCG@10 among those that halve miscalibration). With the packages
    rebuilt on 2026-12-06 (same code), today's validation picks ``weight=0.3`` with rank
    relevance instead, by NDCG@10 +2.8% (95% interval −9.8% to +15.5%) at miscalibration
    +3.3% (−2.1% to +9.2%), a paired bootstrap over its 85 users: within the noise, so
    the default stays. On that split's test the default cuts miscalibration by 53.0% at
    19.4% of NDCG@10, the pick by 52.6% at 21.1% (docs/benchmarks.md, "Two-stage
    ranking"); not validated on other data. ``alpha=0.01`` is not tuned: it
    is the smoothing of :func:`latentrec.evaluation.miscalibration` (Steck's), so the
    stage minimises the metric as it is measured against that history of ones.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.pipeline.context import build_context
        >>> df = pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6], "rating": 1.0})
        >>> table = pd.DataFrame({"genres": ["A", "B"]}, index=[5, 6])
        >>> ctx = build_context(Interactions.from_frame(df, item_features=table))
        >>> Calibrate(0.5).fit(ctx).rerank(ctx, -1, [0, 1], [0.2, 0.9], n=1).tolist()
        [1]
    """

    def __init__(self, weight: float = 0.5, alpha: float = 0.01, relevance: str = "minmax"):
        self.weight = weight
        self.alpha = alpha
        self.relevance = relevance

    def fit(self, context: Context) -> Calibrate:
        """Check the knobs and that some item has a genre; returns self.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.eye(2)))  # no side table
            >>> Calibrate().fit(ctx)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
                ...
            latentrec.pipeline.stages.StageDataError: Calibrate needs item genres: ...
        """
        check_share(self.weight, "Calibrate weight")
        if check_share(self.alpha, "Calibrate alpha") == 0:
            # calibrate() refuses it per list: found here, not on every recommendation.
            raise ValueError(
                "Calibrate alpha must be above 0: without smoothing the divergence can be infinite"
            )
        _relevance_kind(self.relevance, "Calibrate relevance")
        if context.item_genres is None:
            raise StageDataError(
                "Calibrate needs item genres: the training data has no item side table "
                "with a 'genres' column"
            )
        if context.item_genres.nnz == 0:
            raise StageDataError(
                "Calibrate needs item genres: no item has a genre in the 'genres' column "
                "of the training data's item side table"
            )
        return self

    def rerank(self, context, user, candidates, scores, n):
        """Up to ``n`` of ``candidates`` whose genre mix approaches the user's history's.

        Example (user 1 had genre A only; weight 1 follows the taste, 0 the scores):
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> df = pd.DataFrame({"user_id": [1, 2, 2], "item_id": [5, 6, 7], "rating": 1.0})
            >>> table = pd.DataFrame({"genres": ["A", "A", "B"]}, index=[5, 6, 7])
            >>> ctx = build_context(Interactions.from_frame(df, item_features=table))
            >>> Calibrate(1.0).fit(ctx).rerank(ctx, 0, [1, 2], [0.2, 0.9], n=1).tolist()
            [1]
            >>> Calibrate(0.0).fit(ctx).rerank(ctx, 0, [1, 2], [0.2, 0.9], n=1).tolist()
            [2]
        """
        taste = context.genre_mix(as_history(context, user).seen)
        return calibrate(
            candidates,
            scores,
            taste,
            context.item_genres,
            n,
            self.weight,
            alpha=self.alpha,
            relevance=self.relevance,
        )


class Freshness(Reranker):
    """Boost by item age (:func:`~latentrec.pipeline.freshness`): a brand-new item gains
    ``weight`` (on relevance rescaled to [0, 1]), one ``half_life_days`` old half of it.

    Age is days since the item's first interaction in the training data, up to its
    latest interaction, so the data needs timestamps.

    The defaults (``weight=0.1``, ``half_life_days=30``) are fixed, untuned: chosen by
    hand, not on any data. On MovieLens-100K's temporal split (``benchmarks/ranking_stage.py``)
    they leave NDCG@10 about as it was (0.2091 against 0.2082) and move the lists little.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.pipeline.context import build_context
        >>> df = pd.DataFrame({"user_id": [1, 2], "item_id": [5, 6], "rating": 1.0,
        ...                    "t": [0, 8640000]})
        >>> ctx = build_context(Interactions.from_frame(df, timestamp="t"))
        >>> Freshness(1.5).fit(ctx).rerank(ctx, -1, [0, 1], [0.9, 0.7], n=2).tolist()
        [1, 0]
    """

    def __init__(self, weight: float = 0.1, half_life_days: float = 30.0):
        self.weight = weight
        self.half_life_days = half_life_days

    def fit(self, context: Context) -> Freshness:
        """Check the knobs and that the training data has timestamps; returns self.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> Freshness(weight=-1).fit(build_context(Interactions.from_dense(np.eye(2))))
            Traceback (most recent call last):
                ...
            ValueError: Freshness weight must be a non-negative number, got -1
        """
        check_positive(self.weight, "Freshness weight", zero=True)
        check_positive(self.half_life_days, "Freshness half_life_days")
        if np.isnan(context.item_age).all():
            raise StageDataError(
                "Freshness needs item ages, but the training data has no timestamps"
            )
        return self

    def rerank(self, context, user, candidates, scores, n):
        """Up to ``n`` of ``candidates`` by relevance plus the age boost.

        Example (item 1 first appears 100 days after item 0; weight 0 keeps the order):
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> df = pd.DataFrame({"user_id": [1, 2], "item_id": [5, 6], "rating": 1.0,
            ...                    "t": [0, 8640000]})
            >>> ctx = build_context(Interactions.from_frame(df, timestamp="t"))
            >>> Freshness(0.0).fit(ctx).rerank(ctx, -1, [0, 1], [0.9, 0.7], n=2).tolist()
            [0, 1]
            >>> Freshness(1.5).fit(ctx).rerank(ctx, -1, [0, 1], [0.9, 0.7], n=2).tolist()
            [1, 0]
        """
        return freshness(
            candidates, scores, context.item_age, n, self.weight, half_life=self.half_life_days
        )


class Explore(Reranker):
    """Exploration slots (:func:`~latentrec.pipeline.explore`): the last
    ``round(share * n)`` places of each list go to new items the user has not seen.

    New items are those first had within the last ``new_days`` days of the training
    data. With ``random_state`` (an int) each user gets a random choice among them,
    fixed per user and seed, so exposure spreads over all new items and a saved pipeline
    gives the same lists; with ``None`` the new items among the candidates come first by
    score, then the rest in index order.

    The defaults (``share=0.1``, ``new_days=30``) are fixed, untuned: a product choice
    of how much of a list to spend on exploring, not fitted to any data (docs/benchmarks.md,
    "Two-stage ranking", reports them as such: on MovieLens-100K's temporal split 5.7%
    of NDCG@10 for +16% latent diversity, for the users with a history).

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.pipeline.context import build_context
        >>> df = pd.DataFrame({"user_id": [1, 2, 2], "item_id": [5, 6, 7],
        ...                    "t": [0, 0, 8640000], "rating": 1.0})
        >>> ctx = build_context(Interactions.from_frame(df, timestamp="t"))
        >>> Explore(0.5, new_days=7).fit(ctx).rerank(ctx, 0, [0, 1], [0.9, 0.7], n=2).tolist()
        [0, 2]
    """

    def __init__(self, share: float = 0.1, new_days: float = 30.0, random_state: int | None = 0):
        self.share = share
        self.new_days = new_days
        self.random_state = random_state

    def fit(self, context: Context) -> Explore:
        """Check the knobs and that the training data has timestamps; returns self.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> Explore(share=2).fit(build_context(Interactions.from_dense(np.eye(2))))
            Traceback (most recent call last):
                ...
            ValueError: Explore share must be a number in [0, 1], got 2
        """
        check_share(self.share, "Explore share")
        check_positive(self.new_days, "Explore new_days", zero=True)
        check_seed(self.random_state, "Explore random_state", none=True)
        if np.isnan(context.item_age).all():
            raise StageDataError("Explore needs item ages, but the training data has no timestamps")
        return self

    def rerank(self, context, user, candidates, scores, n):
        """The first ``n - round(share * n)`` of ``candidates``, then new items unseen by
        ``user``.

        Example (item 2 is the only new one; user 0 had item 0, user 1 items 1 and 2):
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> df = pd.DataFrame({"user_id": [1, 2, 2], "item_id": [5, 6, 7],
            ...                    "t": [0, 0, 8640000], "rating": 1.0})
            >>> ctx = build_context(Interactions.from_frame(df, timestamp="t"))
            >>> stage = Explore(0.5, new_days=7).fit(ctx)
            >>> stage.rerank(ctx, 0, [1, 2], [0.9, 0.7], n=2).tolist()
            [1, 2]
            >>> stage.rerank(ctx, 1, [0], [0.9], n=2).tolist()  # nothing new left for user 1
            [0]
        """
        cands = np.asarray(candidates, dtype=np.int64)
        new = context.new_items(self.new_days)
        who = as_history(context, user)
        new = new[~np.isin(new, who.exclude)]
        rng = None
        if self.random_state is not None:
            rng = np.random.default_rng([int(self.random_state), who.key + 1])
        position = {int(c): j for j, c in enumerate(cands.tolist())}
        raw = np.asarray(scores, dtype=np.float64)
        wanted = np.array([raw[position[i]] if i in position else np.nan for i in new.tolist()])
        return explore(cands, raw, new, n, self.share, new_scores=wanted, rng=rng)
