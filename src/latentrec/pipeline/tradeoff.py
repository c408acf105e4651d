"""Accuracy against diversity as MMR's lambda moves: the numbers behind the trade-off plot.

:func:`tradeoff` runs one pipeline per ``lambda_`` over fitted candidate models and
scores each on held-out data: NDCG and recall at ``k``, intra-list diversity in the
first model's latent space, and catalogue coverage. ``latentrec.plots.tradeoff_curve``
draws the result; ``latentrec plot tradeoff`` does both from the command line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.interactions import Interactions
from ..evaluation import (
    catalog_coverage,
    check_heldout,
    intra_list_diversity,
    ndcg_at_k,
    recall_at_k,
)
from .core import Pipeline
from .stages import MMR

__all__ = ["LAMBDAS", "tradeoff"]

LAMBDAS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)


def tradeoff(
    candidates,
    train: Interactions,
    test: Interactions,
    lambdas=LAMBDAS,
    *,
    k: int = 10,
    ranker=None,
    n_candidates: int = 200,
) -> pd.DataFrame:
    """One row per ``lambda_``: ``ndcg``, ``recall``, ``diversity``, ``coverage`` at ``k``.

    ``candidates`` are fitted on ``train`` (or are fitted here); a ``ranker`` must be
    fitted already (there is no later slice here to train it on). The users scored are
    those with a held-out cell in ``test`` and a history in ``train`` (every other user
    gets the same popularity list whatever ``lambda_`` is). Each row's stage is
    ``MMR(lambda_)`` with :class:`MMR`'s other defaults (min-max relevance, the best
    ``MMR_POOL`` = 50 candidates), as ``latentrec recommend --diversity`` runs it.
    ``diversity`` is the mean
    latent distance ``1 - cos`` between listed items in the item space MMR uses: that of
    the first candidate model with item factors.

    Example:
        >>> from latentrec import datasets
        >>> from latentrec.data.splits import random_split
        >>> from latentrec.models import ImplicitALS
        >>> train, test = random_split(datasets.synthetic(80, 40, 1500, random_state=0),
        ...                            0.2, random_state=0)
        >>> model = ImplicitALS(n_factors=4, random_state=0).fit(train)
        >>> curve = tradeoff(model, train, test, [1.0, 0.3], k=5, n_candidates=20)
        >>> curve.columns.tolist()
        ['lambda', 'ndcg', 'recall', 'diversity', 'coverage', 'n_users']
        >>> bool(curve["diversity"].iloc[1] >= curve["diversity"].iloc[0])
        True
    """
    lambdas = [float(x) for x in lambdas]
    if not lambdas:
        raise ValueError("give at least one lambda")
    if ranker is not None and not getattr(ranker, "is_fitted", False):
        raise ValueError(
            "tradeoff takes a fitted ranker: fit a Pipeline with it on a later time slice "
            "(validation=) first, then pass its ranker"
        )
    base = Pipeline(candidates, ranker, (), n_candidates).fit(train)
    # As evaluate_ranking: test cells the lists could never hold would score as misses.
    check_heldout(base, test)
    users = np.flatnonzero((test.user_counts() > 0) & (train.user_counts() > 0))
    if users.size == 0:
        raise ValueError("no test user has a training history: there is nothing to re-rank")
    vectors = base.context_.item_vectors
    if vectors is None:
        raise ValueError("no candidate model has item factors to measure diversity in")
    relevant = test.matrix[users]
    rows = []
    for lam in lambdas:
        pipe = Pipeline(base.models, base.ranker, [MMR(lam)], n_candidates).fit(train)
        top = pipe.recommend_batch_idx(users, k)[0].astype(np.int64)
        rows.append(
            {
                "lambda": lam,
                "ndcg": ndcg_at_k(top, relevant, k),
                "recall": recall_at_k(top, relevant, k),
                "diversity": intra_list_diversity(top, item_vectors=vectors, k=k),
                "coverage": catalog_coverage(top, train.n_items, k),
                "n_users": int(users.size),
            }
        )
    return pd.DataFrame(rows)
