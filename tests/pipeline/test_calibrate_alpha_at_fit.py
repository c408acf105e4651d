"""``Calibrate(alpha=0)`` is refused when the pipeline is fitted, as its other bad knobs
are; it fitted and saved, and then every list failed ("alpha must be above 0")."""

from __future__ import annotations

import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import Popularity
from latentrec.pipeline import Calibrate, Pipeline, StageDataError


def genre_data() -> Interactions:
    df = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [5, 6, 6, 7, 5], "rating": 1.0})
    table = pd.DataFrame({"genres": ["A", "B", "A|B"]}, index=[5, 6, 7])
    return Interactions.from_frame(df, item_features=table)


def test_alpha_zero_is_refused_at_fit():
    pipe = Pipeline(Popularity(), rerankers=[Calibrate(alpha=0)], n_candidates=3)
    with pytest.raises(ValueError, match=r"^Calibrate alpha must be above 0") as err:
        pipe.fit(genre_data())
    assert not isinstance(err.value, StageDataError)  # a bad knob, not the data's fault


def test_the_smallest_alpha_above_zero_lists():
    pipe = Pipeline(Popularity(), rerankers=[Calibrate(alpha=1e-12)], n_candidates=3)
    assert len(pipe.fit(genre_data()).recommend(1, 2).ids) == 1  # item 7 is all that is left
