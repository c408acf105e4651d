"""``per_user`` is True or False: every function taking it refuses anything else.

It was read by its truth value, so ``per_user="no"`` (or ``"false"``, or ``1``) gave the
per-user table or array where the caller asked for the mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from latentrec import Interactions
from latentrec.data.splits import random_split
from latentrec.evaluation import beyond
from latentrec.evaluation import metrics as M
from latentrec.evaluation.evaluate import evaluate_ranking, evaluate_ratings
from latentrec.models import Biases

REC = np.array([[0, 1, 2], [2, 0, -1]])
REL = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]]))
VECTORS = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])
GENRES = np.array([[1, 0], [0, 1], [1, 1]])
POPULARITY = np.array([4, 2, 1])


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    dense = rng.integers(1, 6, size=(12, 9)).astype(float)
    train, test = random_split(Interactions.from_dense(dense), 0.25, random_state=0)
    return Biases().fit(train), test


def ranked(fn):
    return lambda fitted, flag: fn(REC, REL, 3, per_user=flag)


CALLS = {
    "evaluate_ratings": lambda fitted, flag: evaluate_ratings(*fitted, per_user=flag),
    "evaluate_ranking": lambda fitted, flag: evaluate_ranking(*fitted, k=3, per_user=flag),
    **{
        fn.__name__: ranked(fn)
        for fn in (M.precision_at_k, M.recall_at_k, M.ndcg_at_k, M.map_at_k, M.hit_rate_at_k)
    },
    "intra_list_diversity": lambda fitted, flag: beyond.intra_list_diversity(
        REC, item_vectors=VECTORS, k=3, per_user=flag
    ),
    "novelty": lambda fitted, flag: beyond.novelty(REC, POPULARITY, 4, 3, per_user=flag),
    "average_popularity": lambda fitted, flag: beyond.average_popularity(
        REC, POPULARITY, 3, per_user=flag
    ),
    "miscalibration": lambda fitted, flag: beyond.miscalibration(
        REC, REL, GENRES, 3, per_user=flag
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("flag", ["no", "false", 1, 0, None, 1.0])
def test_a_per_user_that_is_no_bool_is_refused_naming_it(fitted, name, flag):
    with pytest.raises(ValueError, match=rf"^per_user must be True or False, got {flag!r}$"):
        CALLS[name](fitted, flag)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_true_and_false_still_give_the_table_and_the_mean(fitted, name):
    table = CALLS[name](fitted, np.True_)  # numpy's bool is a bool too
    assert isinstance(table, (pd.DataFrame, np.ndarray)) and len(table) > 0
    mean = CALLS[name](fitted, False)
    assert isinstance(mean, dict if name.startswith("evaluate") else float)


@pytest.mark.parametrize("flag", ["no", 0, None])
def test_clip_and_exclude_seen_are_true_or_false(fitted, flag):
    """clip and exclude_seen were read by their truth value too: clip="no" clipped."""
    model, test = fitted
    with pytest.raises(ValueError, match=r"^clip must be True or False"):
        evaluate_ratings(model, test, clip=flag)
    with pytest.raises(ValueError, match=r"^exclude_seen must be True or False"):
        evaluate_ranking(model, test, k=3, exclude_seen=flag)
    assert np.isfinite(evaluate_ratings(model, test, clip=np.bool_(False))["rmse"])
