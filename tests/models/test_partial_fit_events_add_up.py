"""A partial fit of raw events (no rating column) adds repeated (user, item) rows up, as
:class:`~latentrec.Interactions` adds events since repeated events became counts: a user
folded in from their raw plays is placed exactly where the same plays, counted, place
them.  Before, the partial fit kept the last row of each pair (weight 1), so the folded-in
user disagreed with training on the same rows.  Ratings keep the last row.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import BPR, ImplicitALS


def fitted(model_cls, seed, **params):
    rng = np.random.default_rng(seed)
    plays = pd.DataFrame({"user_id": rng.integers(0, 30, 600), "item_id": rng.integers(0, 20, 600)})
    return model_cls(n_factors=4, n_epochs=5, random_state=0, **params).fit(
        Interactions.from_frame(plays, rating=None)
    )


@pytest.mark.parametrize("seed", range(5))
def test_raw_events_fold_in_as_their_counts(seed):
    rng = np.random.default_rng(100 + seed)
    raw = pd.DataFrame({"user_id": 999, "item_id": rng.integers(0, 20, 12)})
    # The slow, obvious reference: the counts by hand, given as values.
    counts = {}
    for item in raw["item_id"]:
        counts[item] = counts.get(item, 0) + 1
    counted = pd.DataFrame(
        {"user_id": 999, "item_id": list(counts), "rating": [float(c) for c in counts.values()]}
    )
    by_events, by_counts = fitted(ImplicitALS, seed), fitted(ImplicitALS, seed)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        by_events.partial_fit_users(raw)
    merged = len(raw) - len(counts)
    if merged:
        assert [str(w.message) for w in said] == [
            "partial_fit_users added up the events of each repeated (user, item) pair: "
            f"{merged} repeated row(s) merged"
        ]
    by_counts.partial_fit_users(counted)
    row = by_events.users_.index([999])[0]
    assert row == by_counts.users_.index([999])[0]
    np.testing.assert_array_equal(by_events.user_factors_[row], by_counts.user_factors_[row])
    assert by_events.seen_[row].nnz == len(counts)


def test_a_model_that_ignores_values_places_the_same_user_either_way():
    raw = pd.DataFrame({"user_id": [999] * 5, "item_id": [1, 1, 1, 2, 3]})
    # One thread: BPR's parallel SGD is not bit-reproducible between two fits.
    a, b = fitted(BPR, 0, num_threads=1), fitted(BPR, 0, num_threads=1)
    with pytest.warns(UserWarning, match="added up the events"):
        a.partial_fit_users(raw)
    b.partial_fit_users(raw.drop_duplicates())
    row = a.users_.index([999])[0]
    np.testing.assert_array_equal(a.user_factors_[row], b.user_factors_[row])


def test_ratings_still_keep_the_last_row():
    model = fitted(ImplicitALS, 1)
    rows = pd.DataFrame({"user_id": [999] * 3, "item_id": [1, 1, 2], "rating": [3.0, 1.0, 2.0]})
    with pytest.warns(UserWarning, match="kept the last of each repeated .* 1 earlier row"):
        model.partial_fit_users(rows)
    again = fitted(ImplicitALS, 1)
    again.partial_fit_users(rows.iloc[1:])
    row = model.users_.index([999])[0]
    np.testing.assert_array_equal(model.user_factors_[row], again.user_factors_[row])


@pytest.mark.parametrize("family", ["ImplicitALS", "HybridMF"])
def test_the_warnings_name_the_callers_line(family):
    """HybridMF's overrides put two more of the package's frames between: its warnings
    named a line of hybrid.py (a fixed stacklevel)."""
    from latentrec.models import HybridMF

    model = fitted({"ImplicitALS": ImplicitALS, "HybridMF": HybridMF}[family], 0)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        model.partial_fit_users(pd.DataFrame({"user_id": [200] * 3, "item_id": [3, 3, 4]}))
        model.partial_fit_users(
            pd.DataFrame({"user_id": [201], "item_id": [999]}), unknown="ignore"
        )
    assert len(said) == 2, [str(w.message) for w in said]
    assert {w.filename for w in said} == {__file__}
