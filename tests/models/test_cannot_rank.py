"""Models whose scores cannot order items: which they are, and when their lists are refused.

``orders_items`` once asked whether item terms were non-zero, so an ALS fitted on four
identical columns (every item the same non-zero vector) listed items in index order as
a personal list.  ``CannotRankError`` told a ``Biases`` whose item biases came out equal
to use ``Biases``, and a ``GlobalMean`` list was refused even with one candidate left.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.errors import CannotRankError
from latentrec.models import ALS, Biases, FactorModel, GlobalMean


def orders_items_reference(model) -> bool:
    """Slow and obvious: some two items get different scores for some user vector."""
    terms = np.column_stack([model.item_bias_, model.item_factors_])
    return len(np.unique(terms, axis=0)) > 1


def test_identical_non_zero_item_vectors_cannot_order_items():
    R = np.array([[5] * 4, [1] * 4, [3] * 4, [4] * 4])
    model = ALS(n_factors=2, random_state=0).fit(Interactions.from_dense(R))
    assert np.any(model.item_factors_ != 0)  # non-zero, and the same for every item
    assert not model.orders_items and not orders_items_reference(model)
    with pytest.raises(CannotRankError, match="^ALS gives every item the same score"):
        model.recommend(0, n=4, exclude_seen=False)


@pytest.mark.parametrize("seed", range(20))
def test_orders_items_matches_the_reference_on_random_models(seed):
    rng = np.random.default_rng(seed)
    n_items, k = int(rng.integers(1, 40)), int(rng.integers(0, 4))
    row = rng.normal(size=k).astype(np.float32)
    Q = np.tile(row, (n_items, 1))
    bias = np.full(n_items, rng.choice([0.0, 0.5]), np.float32)
    # Half the models change one item's vector or bias, anywhere (the first one included).
    what = rng.integers(0, 4)
    at = int(rng.integers(0, n_items))
    if what == 1 and k:
        Q[at, int(rng.integers(0, k))] += 1.0
    elif what == 2:
        bias[at] -= 0.25
    model = FactorModel.from_factors(
        (["u"], [f"i{j}" for j in range(n_items)]),
        Q,
        rng.normal(size=(1, k)),
        item_bias=bias,
    )
    assert model.orders_items == (n_items == 1 or orders_items_reference(model))


def test_a_difference_past_the_first_slice_is_found():
    # k = 1: the rows are compared 65536 at a time; the one that differs is in the second.
    Q = np.ones((70_000, 1), np.float32)
    ids = np.arange(70_000)
    assert not FactorModel.from_factors(([0], ids), Q, [[1.0]]).orders_items
    Q[69_999, 0] = 2.0
    assert FactorModel.from_factors(([0], ids), Q, [[1.0]]).orders_items


@pytest.mark.parametrize("what", ["factor", "bias"])
def test_one_difference_anywhere_is_found_whatever_slice_it_falls_in(what):
    # The rows are looked at in slices doubling from one row (1, 2, 4, ...): a
    # difference at every position, slice edges included, against the reference.
    n_items, k = 300, 2
    ids = ([0], np.arange(n_items))
    for at in range(n_items):
        Q = np.ones((n_items, k), np.float32)
        bias = np.zeros(n_items, np.float32)
        if what == "factor":
            Q[at, 1] = 0.5
        else:
            bias[at] = 0.5
        model = FactorModel.from_factors(ids, Q, [[1.0, 1.0]], item_bias=bias)
        assert model.orders_items and orders_items_reference(model), at


def test_the_advice_never_names_the_refused_models_own_kind():
    # Equal columns: every item bias comes out the same, so Biases cannot rank either.
    model = Biases().fit(Interactions.from_dense(np.array([[5, 5, 5], [1, 1, 1], [4, 4, 4]])))
    assert not model.orders_items
    with pytest.raises(CannotRankError) as err:
        model.recommend(0, n=2, exclude_seen=False)
    text = str(err.value)
    assert text.startswith("Biases gives every item the same score")
    assert text.count("Biases") == 1 and "use Popularity" in text
    gm = str(CannotRankError.of(GlobalMean()))
    assert "use Popularity" in gm and "or Biases to rank by item bias" in gm


@pytest.fixture(scope="module")
def global_mean():
    # User 0 saw items 0 and 1; user 1 saw item 2; items 3 and 4 nobody saw.
    R = np.array([[5, 3, 0, 0, 0], [0, 0, 4, 0, 0]])
    return GlobalMean().fit(Interactions.from_dense(R))


def candidates_left(model, user, exclude_seen, items, filter_items) -> int:
    """Slow and obvious: the items the user's list may hold."""
    pool = set(range(model.n_items)) if items is None else set(items)
    pool -= set(filter_items or [])
    if exclude_seen:
        pool -= set(model.seen_[user].indices.tolist())
    return len(pool)


ASKS = [
    (dict(items=[3]), True),
    (dict(items=[3, 3]), True),
    (dict(items=[0, 3]), True),  # item 0 seen: one left
    (dict(items=[0, 3], exclude_seen=False), False),
    (dict(items=[3, 4], filter_items=[4]), True),
    (dict(items=[3, 4]), False),
    (dict(filter_items=[2, 3]), True),  # user 0: 0 and 1 seen, 2 and 3 filtered
    (dict(filter_items=[2]), False),
    (dict(), False),
]


@pytest.mark.parametrize("ask, answered", ASKS)
def test_one_candidate_has_nothing_to_order_and_is_answered(global_mean, ask, answered):
    kw = {"exclude_seen": True, "items": None, "filter_items": None, **ask}
    assert answered == (candidates_left(global_mean, 0, **kw) <= 1)
    if not answered:
        with pytest.raises(CannotRankError):
            global_mean.recommend(0, n=1, **ask)
        return
    rec = global_mean.recommend(0, n=1, **ask)
    assert not rec.fallback and len(rec.ids) == candidates_left(global_mean, 0, **kw)


def test_a_batch_is_refused_when_any_user_has_two_candidates(global_mean, tmp_path):
    # items=[1, 3]: user 0 saw 1 (one left), user 1 saw neither (two left).
    assert global_mean.recommend_batch([0], n=2, items=[1, 3])["item_id"].tolist() == [3]
    with pytest.raises(CannotRankError):
        global_mean.recommend_batch([0, 1], n=2, items=[1, 3])
    with pytest.raises(CannotRankError):
        global_mean.recommend_all(tmp_path / "two.csv", n=2, items=[1, 3], verbose=False)
    assert not (tmp_path / "two.csv").exists()
    path = tmp_path / "one.csv"
    assert global_mean.recommend_all(path, n=2, items=[3], verbose=False) == 2
    assert pd.read_csv(path)["item_id"].tolist() == [3, 3]
