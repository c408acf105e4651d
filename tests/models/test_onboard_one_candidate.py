"""Onboarding with a model that cannot rank answers when no ordering question arises.

``recommend`` on a ``GlobalMean`` (every item the same score) answers a user left at most
one candidate and refuses the rest with ``CannotRankError``; ``onboard`` refused every
usable answer, even with ``items=`` leaving a single title.  A new user whose answers
are a training user's history must get what ``recommend`` gives that user: the same
list, or the same refusal (and then no user added).
"""

from __future__ import annotations

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.errors import CannotRankError
from latentrec.models import GlobalMean


def outcome(call):
    """``(ids, scores, fallback)`` of a list, or ``"refused"`` for a CannotRankError."""
    try:
        rec = call()
    except CannotRankError:
        return "refused"
    return rec.ids.tolist(), np.asarray(rec.scores, dtype=np.float64).tolist(), rec.fallback


def some_items(rng, n_items, most):
    """None (every item) or ``most`` ids at most, drawn at random (repeats possible)."""
    if rng.random() < 0.3:
        return None
    return rng.integers(0, n_items, int(rng.integers(0, most + 1))).tolist()


@pytest.mark.parametrize("seed", range(40))
def test_onboard_answers_and_refuses_as_recommend_does(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items = int(rng.integers(2, 6)), int(rng.integers(3, 9))
    R = rng.integers(1, 6, (n_users, n_items)) * (rng.random((n_users, n_items)) < 0.4)
    R[:, 0] = np.where(R[:, 0] == 0, 3, R[:, 0])  # every user has a history
    model = GlobalMean().fit(Interactions.from_dense(R))
    assert not model.orders_items
    user = int(rng.integers(0, n_users))
    history = {int(i): float(R[user, i]) for i in np.flatnonzero(R[user])}
    items, filter_items = some_items(rng, n_items, 4), some_items(rng, n_items, 2)
    n = int(rng.integers(1, 4))
    ask = dict(items=items, filter_items=filter_items)

    expected = outcome(lambda: model.recommend(user, n, **ask))
    # The slow, obvious count: a list of two or more candidates is the refused one.
    pool = set(range(n_items)) if items is None else set(items)
    left = pool - set(filter_items or []) - set(history)
    assert (expected == "refused") == (len(left) > 1)

    assert outcome(lambda: model.onboard(history, n, **ask)) == expected
    assert model.n_users == n_users
    added = outcome(lambda: model.onboard(history, n, user_id=n_users, **ask))
    assert added == expected
    # Refused before the user is added; answered, the user is there with their answers.
    assert model.n_users == n_users + (expected != "refused")
    if expected != "refused":
        assert outcome(lambda: model.recommend(n_users, n, **ask)) == expected


def test_a_single_title_left_is_answered_and_two_are_refused():
    # User 0 saw items 0 and 1; a new user answering about item 0 and offered 0 and 3
    # has one title left (the question raised by the review: it was refused).
    model = GlobalMean().fit(Interactions.from_dense(np.array([[5, 3, 0, 0], [0, 0, 4, 0]])))
    rec = model.onboard({0: 5}, n=2, items=[0, 3])
    assert rec.ids.tolist() == [3] and not rec.fallback
    assert rec.scores.tolist() == [pytest.approx(model.global_mean_)]
    assert model.onboard({0: 5}, n=2, items=[0]).ids.tolist() == []
    with pytest.raises(CannotRankError):
        model.onboard({0: 5}, n=2, items=[2, 3])
