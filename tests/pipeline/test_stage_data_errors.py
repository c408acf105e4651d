"""A re-ranker the data cannot fit raises StageDataError, named by Pipeline.fit; a bad
knob or a recipe that cannot work on any data stays a plain ValueError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import (
    MMR,
    Calibrate,
    Explore,
    Freshness,
    Pipeline,
    Rules,
    StageDataError,
    Thompson,
)


def untimed() -> Interactions:
    """No timestamps; genres A, B, A."""
    df = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [5, 6, 6, 7], "rating": 1.0})
    table = pd.DataFrame({"genres": ["A", "B", "A"]}, index=[5, 6, 7])
    return Interactions.from_frame(df, item_features=table)


@pytest.mark.parametrize(
    "stage, message",
    [
        (Freshness(0.1), "Freshness needs item ages"),
        (Explore(0.2), "Explore needs item ages"),
        (Thompson(0.2, new_days=7.0), "Thompson with new_days needs item ages"),
        (Rules(pin={99: 1}), "Rules pin: item 99 is not in the catalogue"),
        (Rules(max_per={"studio": 1}), "the item side table has no column 'studio'"),
        (Rules(pin={5: 1, 7: 2}, max_per={"genres": 1}), "the pinned items alone put 2"),
    ],
)
def test_a_stage_the_data_cannot_fit_raises_stage_data_error_named_by_the_pipeline(stage, message):
    pipe = Pipeline(ImplicitALS(n_factors=2, random_state=0), rerankers=[MMR(0.9), stage])
    with pytest.raises(StageDataError, match=message) as info:
        pipe.fit(untimed())
    assert info.value.stage == f"{type(stage).__name__} (rerankers[1])"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "pipe",
    [
        Pipeline(Popularity(), rerankers=[Calibrate(weight=2.0)]),  # a bad knob
        Pipeline(Popularity(), rerankers=[MMR(0.5)]),  # no factor model: no vectors
        Pipeline(Popularity(), rerankers=[Thompson(0.2, new_days=None)]),  # no ALS
    ],
)
def test_a_recipe_error_stays_a_plain_value_error(pipe):
    with pytest.raises(ValueError) as info:
        pipe.fit(untimed())
    assert not isinstance(info.value, StageDataError)


def test_a_stage_fitted_on_good_data_still_works():
    data = untimed()
    pipe = Pipeline(Popularity(), rerankers=[Calibrate(0.5), Rules(max_per={"genres": 1})])
    top = pipe.fit(data).recommend(3, n=2).ids.tolist()
    assert len(top) == 2 and np.isin(top, [5, 6]).all()
