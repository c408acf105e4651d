"""Two-stage recommendations: candidate models, a learned ranker, re-rankers, top n.

:class:`Pipeline` merges the candidates of one or more models, orders them with a
:class:`LearnedRanker` (LightGBM LambdaRank over model and data features) and re-ranks
each list with :class:`MMR` (diversity), :class:`Calibrate` (genre mix), :class:`Freshness`
(item age), :class:`Explore` (slots for new items), :class:`Thompson` (slots by Thompson
sampling on the folded-in uncertainty) and :class:`Rules` (pin, boost, bury,
never show, caps per genre or provider). The re-rankers' functions over one user's
candidates (:func:`mmr`, :func:`calibrate`, :func:`freshness`, :func:`explore`,
:func:`rules`) are public too, and :func:`tradeoff` measures accuracy against diversity
as MMR's lambda moves.
"""

from .context import Context, build_context
from .core import Pipeline, cannot_rank, load, load_pipeline
from .ranker import LearnedRanker, RankerDataError
from .rerank import calibrate, explore, freshness, mmr
from .rules import Rules, rules
from .stages import MMR, Calibrate, Explore, Freshness, Reranker, StageDataError
from .thompson import Thompson, implicit_posterior, sample_scores
from .tradeoff import tradeoff

__all__ = [
    "MMR",
    "Calibrate",
    "Context",
    "Explore",
    "Freshness",
    "LearnedRanker",
    "Pipeline",
    "RankerDataError",
    "Reranker",
    "Rules",
    "StageDataError",
    "Thompson",
    "build_context",
    "calibrate",
    "cannot_rank",
    "explore",
    "freshness",
    "implicit_posterior",
    "load",
    "load_pipeline",
    "mmr",
    "rules",
    "sample_scores",
    "tradeoff",
]
