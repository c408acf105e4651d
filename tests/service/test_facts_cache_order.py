"""The item facts of an older served model never replace those of the newer one.

A worker's warm-up (or a request) that began on the model served before a new title
came asked for that model's facts after the newer model's were cached: they replaced
them, so the newer model's ages (``boost_new``) were computed a second time, later, from
other ratings, and the worker no longer ranked as the others.  Served models are
numbered in the order they are built (``Served.serial``).
"""

from __future__ import annotations

import numpy as np

from latentrec.models import FactorModel
from latentrec.service.holder import Served
from latentrec.service.knobs import FactsCache
from latentrec.store import Item


def test_an_older_models_facts_leave_the_newer_ones_cached():
    model = FactorModel.from_factors(([1], ["a", "b"]), np.eye(2))
    older = Served.build(model, "v")
    newer = Served.build(model, "v")  # as a new title makes one: built later
    assert newer.serial > older.serial
    reads = []
    first_seen = {"a": 0.0, "b": 86400.0}

    def seen():
        reads.append("first_seen")
        return dict(first_seen)

    cache = FactsCache(lambda: [Item("a", "Aye", ("Drama",))], seen)
    facts = cache.get(newer)
    ages = cache.ages(newer)
    assert ages.tolist() == [1.0, 0.0] and reads == ["first_seen"]
    first_seen["b"] = 3 * 86400.0  # ratings that came since: a second pass would differ
    assert cache.get(older).genres == [["Drama"], []]  # still answered
    assert cache.get(newer) is facts
    assert cache.ages(newer) is ages and reads == ["first_seen"]
    # The older model's own ages are computed (from what the store holds now), not kept.
    assert cache.ages(older).tolist() == [3.0, 0.0]
    assert cache.get(newer) is facts


def test_requests_on_an_older_model_read_the_catalogue_and_the_ratings_once():
    """Every request in flight on the older model at the swap read the whole catalogue
    and passed over the ratings again, one after another under the cache's lock (which
    the newer model's first requests wait for): a burst of them at 60,000 titles stalled
    the worker.  They now share one build, as the newer model's requests do."""
    model = FactorModel.from_factors(([1], ["a", "b"]), np.eye(2))
    older = Served.build(model, "v")
    newer = Served.build(model, "v")
    reads = []

    def catalogue():
        reads.append("catalogue")
        return [Item("a", "Aye", ("Drama",))]

    def seen():
        reads.append("first_seen")
        return {"a": 0.0, "b": 86400.0}

    cache = FactsCache(catalogue, seen)
    newest = cache.get(newer)
    reads.clear()
    answers = [(cache.get(older).genres, cache.ages(older).tolist()) for _ in range(3)]
    assert answers == [([["Drama"], []], [1.0, 0.0])] * 3
    assert reads == ["catalogue", "first_seen"]
    assert cache.get(newer) is newest
    # An edit through this worker (forget) drops the older model's genres too.
    cache.forget()
    reads.clear()
    cache.get(newer)
    assert cache.get(older).genres == [["Drama"], []]
    assert reads.count("catalogue") == 2


def test_the_facts_of_the_model_served_before_serve_its_requests_in_flight():
    model = FactorModel.from_factors(([1], ["a", "b"]), np.eye(2))
    older = Served.build(model, "v")
    newer = Served.build(model, "v")
    reads = []

    def catalogue():
        reads.append("catalogue")
        return [Item("a", "Aye", ("Drama",))]

    cache = FactsCache(catalogue, lambda: {"a": 0.0})
    before = cache.get(older)
    cache.get(newer)
    assert cache.get(older) is before and reads == ["catalogue", "catalogue"]
