"""A pipeline whose candidate models all cannot order items refuses its lists, as such
a model does (``CannotRankError``), with the same "one item left is fine" rule.

Before: ``Pipeline([GlobalMean()])`` answered ``recommend`` / ``recommend_batch`` with
the catalogue in index order, marked as a personal list (``fallback`` false); only the
service refused to serve it.  A learned ranker over such candidates is refused too: the
pool it orders is the lowest item indices and the candidates' features are the index
order (the tests below show both).
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import Interactions, datasets
from latentrec.cli import main
from latentrec.data.splits import random_split
from latentrec.errors import CannotRankError
from latentrec.models import Biases, GlobalMean, Popularity
from latentrec.pipeline import LearnedRanker, Pipeline, Rules, cannot_rank
from latentrec.pipeline.features import candidate_pools, feature_names

REFUSAL = "cannot recommend from this pipeline: none of its candidate models can order items"


@pytest.fixture(scope="module")
def data():
    return datasets.synthetic(40, 15, 250, random_state=0)


@pytest.mark.parametrize("kinds", [(GlobalMean,), (GlobalMean, GlobalMean)])
def test_every_list_call_refuses_a_pipeline_that_cannot_rank(data, kinds, tmp_path):
    pipe = Pipeline([kind() for kind in kinds], n_candidates=50).fit(data)
    user = data.users.ids[0]
    with pytest.raises(CannotRankError, match=REFUSAL) as err:
        pipe.recommend(user, n=5)
    names = ", ".join(kind.__name__ for kind in kinds)
    assert f"({names})" in str(err.value) and "use Popularity" in str(err.value)
    with pytest.raises(CannotRankError, match=REFUSAL):
        pipe.recommend_batch(data.users.ids[:3], n=5)
    # A stranger among them does not lift it: the training users would get index order.
    with pytest.raises(CannotRankError, match=REFUSAL):
        pipe.recommend_batch([user, "nobody"], n=5)
    path = tmp_path / "top.csv"
    with pytest.raises(CannotRankError, match=REFUSAL):
        pipe.recommend_all(path, n=5)
    assert list(tmp_path.iterdir()) == []  # refused before any file was written


def test_the_command_line_says_so_in_one_line(data, tmp_path):
    path = tmp_path / "flat.npz"
    Pipeline(GlobalMean()).fit(data).save(path)
    args = ["recommend", str(path), "--user", str(data.users.ids[0]), "-n", "3"]
    out = CliRunner().invoke(main, args, catch_exceptions=False)
    assert out.exit_code == 1 and out.stdout == ""
    # stderr's last line: on a cold numba cache a compile notice may come before it.
    said = out.stderr.splitlines()
    assert said[-1].startswith(f"Error: {REFUSAL}") and "Traceback" not in out.stderr


def test_a_stranger_alone_gets_the_popularity_list(data):
    pipe = Pipeline(GlobalMean(), n_candidates=50).fit(data)
    rec = pipe.recommend("nobody", n=4)
    assert rec.fallback
    counts = np.diff(data.matrix.tocsc().indptr)
    assert counts[rec.ids].tolist() == sorted(counts[rec.ids].tolist(), reverse=True)
    table = pipe.recommend_batch(["nobody", "nobody either"], n=2)
    assert table["fallback"].all() and len(table) == 4


def test_one_candidate_that_orders_items_is_enough(data):
    assert cannot_rank(Pipeline([GlobalMean(), Popularity()]).fit(data)) is None
    pipe = Pipeline([GlobalMean(), Biases()], n_candidates=50).fit(data)
    rec = pipe.recommend(data.users.ids[0], n=5)
    assert len(rec.ids) == 5 and not rec.fallback


def _corner() -> Interactions:
    # User 0 had every item but 3; user 2 misses items 0 and 3; user 3 has no cell.
    R = np.array(
        [
            [5, 4, 3, 0],
            [2, 0, 0, 1],
            [0, 4, 2, 0],
            [0, 0, 0, 0],
        ]
    )
    return Interactions.from_dense(R)


def test_a_user_left_one_item_is_not_refused():
    data = _corner()
    pipe = Pipeline(GlobalMean()).fit(data)
    rec = pipe.recommend(data.users.ids[0], n=3)
    assert rec.ids.tolist() == [3] and not rec.fallback
    with pytest.raises(CannotRankError, match=REFUSAL):
        pipe.recommend(data.users.ids[2], n=3)  # items 0 and 3 left: index order
    # A never-shown item is no candidate either: user 2 is then left item 0 alone.
    ruled = Pipeline(GlobalMean(), rerankers=[Rules(never=[3])]).fit(data)
    assert ruled.recommend(data.users.ids[2], n=3).ids.tolist() == [0]
    assert ruled.recommend_batch(data.users.ids[[0, 2]], n=3)["item_id"].tolist() == [0]


def _refused_by_hand(R: np.ndarray, users: list[int]) -> bool:
    """The rule spelled out: a user with a cell gets a personal list, and is refused
    when more than one item that somebody had is left that they did not have."""
    had = R != 0
    shown = had.any(axis=0)
    for u in users:
        if had[u].any() and int((shown & ~had[u]).sum()) > 1:
            return True
    return False


def test_the_refusal_matches_the_rule_on_random_data():
    rng = np.random.default_rng(7)
    for _ in range(25):
        n_users, n_items = rng.integers(2, 6), rng.integers(2, 6)
        R = rng.integers(1, 6, size=(n_users, n_items)) * (rng.random((n_users, n_items)) < 0.7)
        if not R.any():
            continue
        data = Interactions.from_dense(R)
        assert len(data.users) == n_users and len(data.items) == n_items
        pipe = Pipeline(GlobalMean(), n_candidates=10).fit(data)
        users = rng.choice(n_users, size=rng.integers(1, n_users + 1), replace=False).tolist()
        ids = data.users.ids[users]
        if _refused_by_hand(R, users):
            with pytest.raises(CannotRankError, match=REFUSAL):
                pipe.recommend_batch(ids, n=3)
        else:
            table = pipe.recommend_batch(ids, n=3)
            for u, uid in zip(users, ids, strict=True):
                got = table.loc[table["user_id"] == uid, "item_id"].tolist()
                left = np.flatnonzero((R != 0).any(axis=0) & (R[u] == 0))
                if R[u].any():  # personal: the one item left, or none
                    assert got == data.items.ids[left].tolist()


@pytest.fixture(scope="module")
def halves():
    data = datasets.synthetic(60, 30, 700, random_state=0)
    return random_split(data, 0.3, random_state=0)


def _ranker() -> LearnedRanker:
    return LearnedRanker(n_estimators=10, min_child_samples=5, num_threads=1, random_state=0)


def test_a_learned_ranker_over_such_candidates_is_refused_too(halves):
    train, valid = halves
    pipe = Pipeline(GlobalMean(), _ranker(), n_candidates=8).fit(train, valid)
    assert pipe.ranker.is_fitted
    with pytest.raises(CannotRankError, match=REFUSAL):
        pipe.recommend(train.users.ids[0], n=5)
    # With a Popularity candidate the pool is chosen by counts: ranked, not refused.
    mixed = Pipeline([GlobalMean(), Popularity()], _ranker(), n_candidates=8).fit(train, valid)
    assert len(mixed.recommend(train.users.ids[0], n=5).ids) == 5


def test_what_such_candidates_give_a_ranker_is_the_index_order(halves):
    """Why the ranker does not lift the refusal: for each user the pool is the first
    ``n_candidates`` items they had not seen, by index, and the candidate's features are
    a constant score and item bias, and a rank that is the index order itself."""
    train, _ = halves
    model = GlobalMean().fit(train)
    pipe = Pipeline(model, n_candidates=8).fit(train)
    ctx = pipe.context_
    users = np.arange(10)
    pools = candidate_pools([model], ctx, users, 8, ctx.seen)
    names = feature_names([model])
    score, rank, bias = (names.index(c) for c in ("score_0", "rank_0", "item_bias_0"))
    shown = ctx.item_popularity > 0
    for b, user in enumerate(users.tolist()):
        sl = pools.of(b)
        items, feats = pools.items[sl], pools.features[sl]
        unseen = np.flatnonzero(shown & ~np.isin(np.arange(ctx.n_items), ctx.seen[user].indices))
        assert items.tolist() == unseen[:8].tolist()
        assert (feats[:, score] == 0).all() and (feats[:, bias] == feats[0, bias]).all()
        assert feats[:, rank].tolist() == list(range(1, items.size + 1))


@pytest.mark.parametrize("kinds", [(GlobalMean,), (GlobalMean, GlobalMean)])
def test_evaluate_ranking_refuses_a_pipeline_that_cannot_rank(data, kinds):
    """Before: ``evaluate_ranking`` scored such a pipeline (ndcg 0.5 on synthetic data), its
    figures measuring the item numbering; a single GlobalMean was refused already."""
    from latentrec.evaluation import evaluate_ranking
    from latentrec.evaluation.evaluate import RankedByIndexError

    train, test = random_split(data, 0.25, random_state=0)
    pipe = Pipeline([kind() for kind in kinds], n_candidates=50).fit(train)
    with pytest.raises(RankedByIndexError, match=REFUSAL):
        evaluate_ranking(pipe, test, k=5)
    # One candidate that orders items is enough, as for the lists.
    mixed = Pipeline([GlobalMean(), Popularity()], n_candidates=50).fit(train)
    assert 0.0 <= evaluate_ranking(mixed, test, k=5)["ndcg"] <= 1.0
