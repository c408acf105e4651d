"""Defects found in review of the pipeline, each checked against a slow obvious reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions, datasets
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import Explore, Pipeline, Thompson
from latentrec.pipeline.context import build_context
from latentrec.pipeline.features import RRF_K, candidate_pools

DAY = 86_400


def test_fused_is_reciprocal_rank_fusion_over_the_lists_holding_the_item():
    """Cormack et al. (2009): RRF(d) = sum over the rankings r that contain d of
    1 / (k + r(d)); a list without the item adds nothing."""
    data = datasets.synthetic(50, 40, 600, random_state=1)
    models = [ImplicitALS(n_factors=4, random_state=0).fit(data), Popularity().fit(data)]
    ctx = build_context(data, models)
    users = np.flatnonzero(ctx.has_history(np.arange(data.n_users)))
    n_candidates = 8
    pools = candidate_pools(models, ctx, users, n_candidates, ctx.seen)
    checked = 0
    for b, user in enumerate(users.tolist()):
        lists = []
        for model in models:
            idx = model.recommend_batch_idx(np.array([user]), data.n_items)[0][0]
            keep = [int(i) for i in idx if i >= 0 and ctx.item_popularity[i] > 0]
            lists.append(keep[:n_candidates])
        sl = pools.of(b)
        for item, got in zip(pools.items[sl].tolist(), pools.fused[sl].tolist(), strict=True):
            want = sum(1.0 / (RRF_K + ranked.index(item) + 1) for ranked in lists if item in ranked)
            assert np.isclose(got, want), (user, item, got, want)
            checked += 1
    assert checked > len(users) * n_candidates  # the pools do merge two lists


@pytest.mark.parametrize("stage", ["Explore", "Thompson"])
def test_a_negative_seed_is_refused_at_fit_not_at_the_first_recommendation(stage):
    """numpy seeds are non-negative: a stage that accepted -1 failed per user later."""
    df = pd.DataFrame(
        {"user_id": [1, 1, 2, 2], "item_id": [5, 6, 6, 7], "rating": 1.0, "t": [0, 0, 0, 10 * DAY]}
    )
    data = Interactions.from_frame(df, timestamp="t")
    make = {"Explore": Explore, "Thompson": Thompson}[stage]
    with pytest.raises(ValueError, match="random_state must be a non-negative int"):
        Pipeline(ImplicitALS(n_factors=2, random_state=0), rerankers=[make(random_state=-1)]).fit(
            data
        )
    pipe = Pipeline(ImplicitALS(n_factors=2, random_state=0), rerankers=[make(random_state=3)])
    assert len(pipe.fit(data).recommend(1, n=1).ids) == 1


def test_tradeoff_names_an_unfitted_ranker():
    from latentrec.data.splits import random_split
    from latentrec.pipeline import LearnedRanker, tradeoff

    train, test = random_split(datasets.synthetic(40, 20, 400, random_state=0), 0.2, random_state=0)
    model = ImplicitALS(n_factors=3, random_state=0).fit(train)
    with pytest.raises(ValueError, match="tradeoff takes a fitted ranker"):
        tradeoff(model, train, test, [1.0], k=5, ranker=LearnedRanker(), n_candidates=10)


def test_an_item_rated_zero_is_seen_and_never_recommended():
    """On a scale from 0 a stored 0 is an interaction: the pipeline dropped such cells
    from its history and seen sets, so an item rated 0 in validation was recommended."""
    from latentrec.data.splits import temporal_split

    pairs = [(u, i) for u in range(1, 7) for i in range(10, 16) if u > 1 or i < 13]
    rows = [(u, i, 4.0, t) for t, (u, i) in enumerate(pairs)]
    rows += [(1, 15, 0.0, 1000), (7, 10, 0.0, 5)]  # user 1's last rating; user 7 rated 0 only
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "t"])
    data = Interactions.from_frame(df, timestamp="t", rating_scale=(0, 5))
    train, valid = temporal_split(data, test_size=1 / len(df))
    assert valid.nnz == 1 and valid.ratings.tolist() == [0.0]
    pipe = Pipeline(Popularity(), n_candidates=10).fit(train, valid)
    for user in df["user_id"].unique().tolist():
        had = set(df.loc[df["user_id"] == user, "item_id"].tolist())
        assert not had & set(pipe.recommend(user, 6).ids.tolist()), user
    rec = pipe.recommend(7, 3)
    assert rec.fallback is False  # user 7 has a history: one rating of 0
    ctx = pipe.context_
    popularity = train.matrix.tocsc()
    assert ctx.item_popularity.tolist() == np.diff(popularity.indptr).tolist()


@pytest.mark.parametrize("amount", ["nan", "inf"])
def test_a_boost_that_is_not_a_finite_number_is_refused(tmp_path, amount):
    """TOML has nan and inf; a NaN boost made the rule sort order items arbitrarily."""
    from latentrec.pipeline import Rules, rules

    with pytest.raises(ValueError, match="a boost is a finite number"):
        rules([0, 1, 2], [3.0, 2.0, 1.0], 3, boost={1: float(amount)})
    path = tmp_path / "rules.toml"
    path.write_text(f'[boost]\n"7" = {amount}\n')
    data = Interactions.from_dense(np.eye(8) + np.eye(8, k=1))
    with pytest.raises(ValueError, match="a boost is a finite number"):
        Pipeline(Popularity(), rerankers=[Rules.from_toml(path)]).fit(data)


@pytest.mark.parametrize(
    ("rules_kw", "says"),
    [
        ({"pin": {107: 1, 106: 1}}, "items 107 and 106 are both pinned at rank 1"),
        ({"pin": {106: 2}, "never": [106]}, "item 106 is both pinned and never shown"),
        ({"pin": {"106": 0}}, "item 106 is pinned at rank 0"),
        ({"boost": {107: float("nan")}}, "item 107 is boosted by nan"),
    ],
)
def test_rules_errors_name_the_item_ids_given_not_internal_indices(rules_kw, says):
    """Rules.fit named item indices (1, 2) where the rules file said 106, 107."""
    from latentrec.pipeline import Rules

    df = pd.DataFrame({"user_id": [1, 2, 2, 3], "item_id": [105, 106, 107, 105], "rating": 1.0})
    data = Interactions.from_frame(df)
    with pytest.raises(ValueError, match=says):
        Pipeline(Popularity(), rerankers=[Rules(**rules_kw)]).fit(data)


@pytest.mark.parametrize(("column", "says"), [("genres", "genres 'A'"), ("studio", "studio 'x'")])
def test_a_cap_broken_by_pins_names_the_column_value(column, says):
    """The cap error named 'group 0', a position in a matrix the user never sees."""
    from latentrec.pipeline import Rules

    df = pd.DataFrame({"user_id": [1, 2, 2, 3], "item_id": [5, 6, 7, 5], "rating": 1.0})
    table = pd.DataFrame({"genres": ["B", "A", "A|B"], "studio": ["y", "x", "x"]}, index=[5, 6, 7])
    data = Interactions.from_frame(df, item_features=table)
    stage = Rules(pin={6: 1, 7: 2}, max_per={column: 1})
    with pytest.raises(ValueError, match=f"2 items with {says} in a list, above its cap of 1"):
        Pipeline(Popularity(), rerankers=[stage]).fit(data)
