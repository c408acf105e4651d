"""A fitted pipeline given where a candidate model goes (``Pipeline([pipe])``,
``tradeoff(pipe, ...)``) is refused by name, saying what to give instead.

It has a ``recommend_batch_idx``, so it passed for a model and failed later with
``AttributeError: 'Pipeline' object has no attribute 'fitted_'``.
"""

from __future__ import annotations

import pytest

from latentrec import datasets
from latentrec.data.splits import random_split
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import MMR, Pipeline, tradeoff


@pytest.fixture(scope="module")
def fitted():
    data = datasets.synthetic(40, 20, 400, random_state=0)
    train, test = random_split(data, 0.2, random_state=0)
    pipe = Pipeline(
        [ImplicitALS(n_factors=3, random_state=0), Popularity()],
        rerankers=[MMR(0.8)],
        n_candidates=10,
    ).fit(train)
    return pipe, train, test


def test_a_pipeline_is_no_candidate_model(fitted):
    pipe, train, _ = fitted
    with pytest.raises(TypeError, match=r"candidates\[1\] is a Pipeline, not a model") as err:
        Pipeline([Popularity(), pipe]).fit(train)
    assert "pipe.models" in str(err.value) and "ranker=pipe.ranker" in str(err.value)


def test_tradeoff_of_a_pipeline_says_to_give_its_models(fitted):
    pipe, train, test = fitted
    with pytest.raises(TypeError, match=r"candidates\[0\] is a Pipeline, not a model"):
        tradeoff(pipe, train, test, [1.0, 0.5], k=5, n_candidates=10)
    # What the message says to do works.
    curve = tradeoff(pipe.models, train, test, [1.0, 0.5], k=5, ranker=pipe.ranker, n_candidates=10)
    assert curve["lambda"].tolist() == [1.0, 0.5]
