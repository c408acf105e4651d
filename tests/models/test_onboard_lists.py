"""onboard with a list of item ids ("these I have seen / like"): events, by the one
fold-in rule.  Before, every model read the list as {id: 1.0}, so a rating model took
each as a 1-star rating (a user bias near -1.3 and recommendations nobody rates well)."""

import numpy as np
import pytest
from conftest import random_ratings

from latentrec import UnknownIdError
from latentrec.models import BiasedMF, ImplicitALS


@pytest.fixture(scope="module")
def data():
    return random_ratings(n_users=50, n_items=30, density=0.4, seed=7)


def popularity_order(data, excluded=()):
    """Slow reference: items by training popularity, ties to the lower index."""
    order = np.argsort(-data.item_counts(), kind="stable")
    return [x for x in data.items.ids[order].tolist() if x not in set(excluded)]


def test_a_rating_model_takes_a_list_as_seen_only(data):
    model = BiasedMF(n_factors=3, n_epochs=20, random_state=0).fit(data)
    listed = data.items.ids[[0, 4, 9]].tolist()
    rec = model.onboard(listed, n=5)
    # Nothing to learn taste from: the popularity list, flagged, without the listed items.
    assert rec.fallback
    assert rec.ids.tolist() == popularity_order(data, listed)[:5]
    np.testing.assert_allclose(
        rec.scores, model.predict(["nobody"] * 5, rec.ids, unknown="baseline"), rtol=1e-6
    )
    one_star = model.onboard(dict.fromkeys(listed, 1), n=5)  # what a list used to mean
    assert not one_star.fallback and one_star.ids.tolist() != rec.ids.tolist()
    # The same with user_id: nobody is added (no usable answer), as documented.
    n_users = model.n_users
    assert model.onboard(listed, n=5, user_id="newcomer").fallback
    assert model.n_users == n_users
    with pytest.raises(UnknownIdError, match="424242"):
        model.onboard([*listed, 424242], n=5)
    assert model.onboard([*listed, 424242], n=5, unknown="ignore").ids.tolist() == (
        rec.ids.tolist()
    )


def test_a_ranking_model_folds_a_list_in_as_positives(data):
    model = ImplicitALS(n_factors=3, n_epochs=3, random_state=0).fit(data)
    listed = data.items.ids[[0, 4, 9]].tolist()
    rec = model.onboard(listed, n=5)
    assert not rec.fallback
    assert not set(rec.ids.tolist()) & set(listed)
    as_events = model.onboard(dict.fromkeys(listed, 1.0), n=5)
    assert rec.ids.tolist() == as_events.ids.tolist()
    np.testing.assert_array_equal(rec.scores, as_events.scores)
    added = model.onboard(listed, n=5, user_id="newcomer")
    assert added.ids.tolist() == rec.ids.tolist() and not added.fallback
    assert model.users_.lookup(["newcomer"])[0] >= 0
