"""The pipeline: no seen item ever, results like a model's, files, no leakage, the ranker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import latentrec
from latentrec import Interactions, ModelFileError
from latentrec.data.splits import temporal_split
from latentrec.evaluation import ndcg_at_k, time_slices
from latentrec.models import BPR, BiasedMF, FactorModel, HybridMF, ImplicitALS, Popularity
from latentrec.pipeline import (
    MMR,
    Calibrate,
    Explore,
    Freshness,
    LearnedRanker,
    Pipeline,
    Rules,
    Thompson,
    calibrate,
    load,
    load_pipeline,
)
from latentrec.pipeline.history import Histories, UserHistory, as_history, user_key

DAY = 86_400
GENRES = ["Drama", "Comedy", "Action", "Sci-Fi", "Romance"]


def timed_data(n_users=40, n_items=30, seed=0, late=0) -> Interactions:
    """Planted tastes, a time line, genres and a studio per item; ids as strings/ints.
    Users ``u0`` .. ``u{late-1}`` rate only after everyone else (day 300 on)."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(n_users, 3))
    traits = rng.normal(size=(n_items, 3))
    affinity = taste @ traits.T + rng.normal(scale=0.5, size=(n_users, n_items))
    rows = []
    for u in range(n_users):
        liked = np.argsort(-affinity[u])[: rng.integers(4, 14)]
        for i in liked:
            day = int(rng.integers(0, 200))
            rows.append((f"u{u}", int(i) + 100, float(rng.integers(1, 6)), day + 300 * (u < late)))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "day"])
    df["t"] = df["day"] * DAY
    table = pd.DataFrame(
        {
            "genres": [
                "|".join(rng.choice(GENRES, size=rng.integers(1, 3), replace=False))
                for _ in range(n_items)
            ],
            "studio": rng.choice(["north", "south", "east"], size=n_items),
        },
        index=100 + np.arange(n_items),
    )
    return Interactions.from_frame(
        df[["user_id", "item_id", "rating", "t"]],
        timestamp="t",
        rating_scale=(1, 5),
        item_features=table,
    )


@pytest.fixture(scope="module")
def slices():
    data = timed_data()
    early, valid, _, test = time_slices(data, 0.2, 0.25)
    return data, early, valid, test


def small_ranker():
    return LearnedRanker(n_estimators=15, num_leaves=4, min_child_samples=5, num_threads=1)


def every_stage():
    return [
        MMR(0.6),
        Calibrate(0.5),
        Freshness(0.2, 20.0),
        Explore(0.3, new_days=60.0),
        Thompson(0.2, new_days=60.0, random_state=3),
        Rules(pin={105: 2}, never=[101, 102], bury=[103], max_per={"genres": 3, "studio": 2}),
    ]


def full_pipeline(early, valid):
    models = [ImplicitALS(n_factors=4, random_state=0, num_threads=1), Popularity()]
    return Pipeline(models, small_ranker(), every_stage(), n_candidates=12).fit(early, valid)


def seen_sets(*parts):
    out = {}
    for part in parts:
        for u, i in zip(part.user_idx.tolist(), part.item_idx.tolist(), strict=True):
            out.setdefault(u, set()).add(i)
    return out


def test_never_a_seen_item_and_rules_hold(slices):
    data, early, valid, _ = slices
    pipe = full_pipeline(early, valid)
    users = np.arange(-1, data.n_users)
    idx, scores, fallback = pipe.recommend_batch_idx(users, 8)
    seen = seen_sets(early, valid)
    genres = pipe.context_.item_genres.toarray()
    pinned = data.items.index([105])[0]
    banned = set(data.items.index([101, 102]).tolist())
    for row, user in enumerate(users.tolist()):
        listed = idx[row][idx[row] >= 0].tolist()
        assert listed, f"user {user} got nothing"
        assert not set(listed) & seen.get(user, set()), f"user {user} got a seen item"
        assert not set(listed) & banned
        assert len(set(listed)) == len(listed)
        assert (genres[listed].sum(axis=0) <= 3).all()
        if pinned not in seen.get(user, set()):
            assert listed[1] == pinned
    history = early.user_counts() > 0
    assert fallback.tolist() == [True] + (~history).tolist()
    # Personal rows carry the ranker's scores; only items put in from outside the
    # candidates (the pin, new items in exploration slots) have none.
    personal = ~fallback
    unscored = ~np.isfinite(scores[personal]) & (idx[personal] >= 0)
    outside = {pinned, *pipe.context_.new_items(60.0).tolist()}
    assert set(idx[personal][unscored].tolist()) <= outside


def test_batch_equals_one_by_one_and_result_types(slices):
    data, early, valid, _ = slices
    pipe = full_pipeline(early, valid)
    ids = np.array([*data.users.ids[:12].tolist(), "nobody"])
    table = pipe.recommend_batch(ids, n=5)
    assert table.columns.tolist() == ["user_id", "rank", "item_id", "score", "fallback"]
    for user in ids.tolist():
        rec = pipe.recommend(user, n=5)
        mine = table[table["user_id"] == user]
        assert rec.ids.tolist() == mine["item_id"].tolist()
        np.testing.assert_allclose(rec.scores, mine["score"].to_numpy(), rtol=1e-6)
        assert mine["fallback"].eq(rec.fallback).all()
    assert pipe.recommend("nobody", n=3).fallback


def test_fallback_scores_are_the_first_models(slices):
    data, early, _, _ = slices
    rating = Pipeline([BiasedMF(n_factors=3, random_state=0)], n_candidates=10).fit(early)
    ranking = Pipeline([ImplicitALS(n_factors=3, random_state=0)], n_candidates=10).fit(early)
    rec = rating.recommend("nobody", n=4)
    model = rating.models[0]
    expected = model.predict_idx(np.full(4, -1), data.items.index(rec.ids))
    np.testing.assert_allclose(rec.scores, expected, rtol=1e-6)
    assert rec.fallback and np.isnan(ranking.recommend("nobody", n=4).scores).all()
    # Without re-rankers the fallback list is the models' popularity list.
    assert rec.ids.tolist() == model.recommend("nobody", n=4).ids.tolist()
    # One model and no ranker: the model's own top n.
    user = data.users.ids[np.flatnonzero(early.user_counts())[0]]
    assert (
        ranking.recommend(user, 5).ids.tolist() == ranking.models[0].recommend(user, 5).ids.tolist()
    )


def test_save_load_round_trip_gives_identical_lists(slices, tmp_path):
    data, early, valid, _ = slices
    pipe = full_pipeline(early, valid)
    path = tmp_path / "pipe.npz"
    pipe.save(path)
    back = latentrec.load(path)  # the package's load opens pipelines and models alike
    assert type(back) is Pipeline
    assert type(load(path)) is Pipeline
    users = np.arange(-1, data.n_users)
    a = pipe.recommend_batch_idx(users, 7)
    b = back.recommend_batch_idx(users, 7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])
    assert [type(s).__name__ for s in back.rerankers] == [
        "MMR",
        "Calibrate",
        "Freshness",
        "Explore",
        "Thompson",
        "Rules",
    ]
    assert back.ranker.get_params() == pipe.ranker.get_params()
    assert b"pickle" not in path.read_bytes()[:0]  # an npz archive; read with allow_pickle=False
    model_path = tmp_path / "model.npz"
    pipe.models[0].save(model_path)
    with pytest.raises(ModelFileError, match="not a pipeline"):
        load_pipeline(model_path)
    model = latentrec.load(model_path)
    assert type(model) is ImplicitALS
    np.testing.assert_array_equal(model.item_factors_, pipe.models[0].item_factors_)


def test_ranker_learns_only_from_the_validation_slice(slices):
    data, early, valid, test = slices
    first = full_pipeline(early, valid)
    # The same train and validation inside data without the test slice: the same ranker.
    cut_train = float(valid.timestamps.min())
    cut_test = float(test.timestamps.min())
    without_test = data.subset(data.timestamps < cut_test)
    early2, valid2 = temporal_split(without_test, cut_train)
    second = full_pipeline(early2, valid2)
    assert first.ranker.to_text() == second.ranker.to_text()
    summary = first.ranker_summary_
    assert 0 < summary["positives"] <= valid.nnz
    # The ranker's slice must come after the candidates' data, and not overlap it.
    with pytest.raises(ValueError, match="after train in time"):
        Pipeline(Popularity(), small_ranker(), n_candidates=5).fit(valid, early)
    with pytest.raises(ValueError, match="in both train and validation"):
        Pipeline(Popularity(), small_ranker(), n_candidates=5).fit(early, early)
    # A candidate fitted on data holding the labels would leak them into its features.
    leaky = Popularity().fit(early.subset(np.ones(early.nnz, bool)))
    whole = Popularity().fit(data.subset(data.timestamps < cut_test))
    Pipeline(leaky, small_ranker(), n_candidates=5).fit(early, valid)
    with pytest.raises(ValueError, match="has seen .* cells of validation"):
        Pipeline(whole, small_ranker(), n_candidates=5).fit(early, valid)
    with pytest.raises(ValueError, match="pass validation="):
        Pipeline(Popularity(), small_ranker(), n_candidates=5).fit(early)


def test_a_learned_ranker_uses_the_features():
    """Later interactions follow item popularity and genre taste, which the ranker sees;
    ordered by the ranker, the test slice is ranked better than by the fused ranks."""
    data = timed_data(n_users=120, n_items=40, seed=3)
    early, valid, _, test = time_slices(data, 0.2, 0.25)
    models = [ImplicitALS(n_factors=3, random_state=0, num_threads=1), Popularity()]
    ranked = Pipeline(models, small_ranker(), n_candidates=20).fit(early, valid)
    fused = Pipeline(models, None, n_candidates=20).fit(early, valid)
    users = np.flatnonzero((test.user_counts() > 0) & (early.user_counts() > 0))
    rel = test.matrix[users]
    a = ndcg_at_k(ranked.recommend_batch_idx(users, 10)[0], rel, 10)
    b = ndcg_at_k(fused.recommend_batch_idx(users, 10)[0], rel, 10)
    assert np.isfinite(a) and np.isfinite(b)
    assert ranked.ranker.feature_names_[:2] == ["score_0", "rank_0"]


def test_bad_pipelines_are_refused(slices):
    data, early, valid, _ = slices
    with pytest.raises(ValueError, match="Rules must be the last"):
        Pipeline(Popularity(), rerankers=[Rules(), MMR()]).fit(early)
    with pytest.raises(TypeError, match="not a re-ranker"):
        Pipeline(Popularity(), rerankers=[lambda x: x]).fit(early)
    with pytest.raises(ValueError, match="n_candidates"):
        Pipeline(Popularity(), n_candidates=0).fit(early)
    with pytest.raises(ValueError, match="no candidate model has item factors"):
        Pipeline(Popularity(), rerankers=[MMR()]).fit(early)
    other = Popularity().fit(timed_data(n_users=20, seed=9))
    with pytest.raises(ValueError, match="other vocabularies"):
        Pipeline(other).fit(early)
    no_time = Interactions.from_dense(np.eye(4) + np.eye(4, k=1))
    with pytest.raises(ValueError, match="no timestamps"):
        Pipeline(Popularity(), rerankers=[Freshness()]).fit(no_time)
    with pytest.raises(ValueError, match="genres"):
        Pipeline(Popularity(), rerankers=[Calibrate()]).fit(no_time)


def test_learned_ranker_is_deterministic_and_checks_input():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 2] + 0.3 * rng.normal(size=300) > 0.8).astype(int)
    groups = [30] * 10
    a = LearnedRanker(n_estimators=30, min_child_samples=5, num_threads=1).fit(X, y, groups)
    b = LearnedRanker(n_estimators=30, min_child_samples=5, num_threads=1).fit(X, y, groups)
    assert a.to_text() == b.to_text()
    top = np.argsort(-a.predict(X))[:30]
    assert y[top].mean() > 2 * y.mean()  # it found the planted feature
    with pytest.raises(ValueError, match="sum to the 300 rows"):
        LearnedRanker().fit(X, y, [10])
    with pytest.raises(ValueError, match="no row has a positive label"):
        LearnedRanker().fit(X, np.zeros(300), groups)
    with pytest.raises(ValueError, match="num_leaves"):
        LearnedRanker(num_leaves=0).fit(X, y, groups)
    with pytest.raises(ValueError, match="must have 4 columns"):
        a.predict(X[:, :3])


def test_stages_compose_in_order(slices):
    """A later stage takes the earlier one's order as relevance: an empty Rules after MMR
    or Explore keeps their lists, and MMR's first places survive a cap that they meet."""
    data, early, valid, _ = slices
    models = [ImplicitALS(n_factors=4, random_state=0, num_threads=1)]
    users = np.arange(data.n_users)
    for stage in (MMR(0.3), Explore(0.4, new_days=60.0)):
        alone = Pipeline(models, rerankers=[stage], n_candidates=15).fit(early)
        ruled = Pipeline(models, rerankers=[stage, Rules()], n_candidates=15).fit(early)
        np.testing.assert_array_equal(
            alone.recommend_batch_idx(users, 6)[0], ruled.recommend_batch_idx(users, 6)[0]
        )
    capped = Pipeline(
        models, rerankers=[MMR(0.3), Rules(max_per={"studio": 2})], n_candidates=15
    ).fit(early)
    studio = pd.factorize(data.item_features["studio"])[0]
    for row in capped.recommend_batch_idx(users, 6)[0]:
        listed = row[row >= 0]
        assert np.bincount(studio[listed]).max() <= 2


def test_calibrate_targets_everything_the_user_had(slices):
    """The genre mix Calibrate aims at is that of train and validation together, the
    history the miscalibration metric is given, not only the candidates' training data."""
    data, early, valid, _ = slices
    pipe = Pipeline(
        ImplicitALS(n_factors=4, random_state=0, num_threads=1), small_ranker(), [Calibrate(0.7)]
    ).fit(early, valid)
    ctx = pipe.context_
    shares = ctx.genre_shares.toarray()
    user = int(np.flatnonzero((valid.user_counts() > 0) & (early.user_counts() > 0))[0])
    had = sorted(set(early.matrix[user].indices) | set(valid.matrix[user].indices))
    np.testing.assert_allclose(ctx.genre_taste(user, seen=True), shares[had].sum(axis=0))
    assert not np.allclose(ctx.genre_taste(user), ctx.genre_taste(user, seen=True))
    cands = np.setdiff1d(np.arange(data.n_items), had)
    scores = np.linspace(1.0, 0.0, cands.size)
    want = calibrate(cands, scores, shares[had].sum(axis=0), ctx.item_genres, 5, 0.7)
    got = pipe.rerankers[0].rerank(ctx, user, cands, scores, 5)
    np.testing.assert_array_equal(got, want)


def test_a_user_given_by_history_and_the_held_vectors_gets_the_list_by_index(slices):
    """One code path: each training user given as a history (items, values, exclusions)
    with the vectors the models hold for them, even without their index, gets exactly
    the list ``recommend_batch_idx`` gives them."""
    data, early, valid, _ = slices
    pipe = full_pipeline(early, valid)
    ctx = pipe.context_
    users = np.flatnonzero(ctx.has_history(np.arange(data.n_users)))
    want = pipe.recommend_batch_idx(users, 8)
    als = pipe.models[0]
    held = (als.user_bias_[users], als.user_factors_[users], np.ones(users.size, bool))
    for known in (True, False):
        given = [(int(u) if known else -1, as_history(ctx, int(u))) for u in users]
        got = pipe.recommend_histories(Histories.of(ctx, given, (held, None)), 8)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(w, g)
    assert not want[2].any()


def test_a_new_users_list_is_personal_and_skips_their_items_and_never_shown(slices):
    data, early, valid, _ = slices
    pipe = full_pipeline(early, valid)
    ctx = pipe.context_
    als = pipe.models[0]
    never = set(data.items.index([101, 102]).tolist())
    rng = np.random.default_rng(1)
    whos, rows = [], []
    for b in range(6):
        items = np.sort(rng.choice(data.n_items, size=int(rng.integers(1, 6)), replace=False))
        values = rng.integers(1, 6, size=items.size).astype(float)
        extra = rng.choice(data.n_items, size=2, replace=False)
        whos.append(UserHistory(items, values, items, extra, key=user_key(f"new{b}", 40)))
        rows.append((items, np.ones(items.size)))
    indptr = np.cumsum([0] + [r[0].size for r in rows])
    bias, factors = als.fold_in_idx(
        indptr, np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
    )
    folded = (bias, factors, np.ones(len(whos), bool))
    idx, scores, fallback = pipe.recommend_histories(Histories.of(ctx, whos, (folded, None)), 8)
    assert not fallback.any()
    for row, who in enumerate(whos):
        listed = idx[row][idx[row] >= 0]
        # At most 6: the rules allow two titles per studio, of three.
        assert 0 < listed.size == len(set(listed.tolist())) <= 6
        assert not set(listed.tolist()) & (set(who.exclude.tolist()) | never)
    # Without a folded vector, only the popularity model can score a new user.
    alone = Pipeline(ImplicitALS(n_factors=4, random_state=0, num_threads=1)).fit(early)
    _, _, fallback = alone.recommend_histories(Histories.of(alone.context_, whos), 8)
    assert fallback.all()


def test_vectors_that_do_not_fit_the_candidates_or_the_batch_are_named(slices):
    _, early, valid, _ = slices
    pipe = full_pipeline(early, valid)
    ctx = pipe.context_
    als = pipe.models[0]
    who = UserHistory([1, 2], [4.0, 5.0], [1, 2], key=999)
    bias, factors = als.fold_in_idx([0, 2], np.array([1, 2]), np.array([4.0, 5.0]))
    one = (bias, factors, np.ones(1, bool))
    two = (np.r_[bias, bias], np.vstack([factors, factors]), np.ones(2, bool))
    cases = [
        ((None, one), r"vectors\[1\] is given, but candidates\[1\] is a Popularity"),
        ((two, None), r"vectors\[0\] has 2 users' entries for a batch of 1"),
        ((one, None, None), "3 entries for 2 candidate models"),
    ]
    for vectors, message in cases:
        with pytest.raises(ValueError, match=message):
            pipe.recommend_histories(Histories.of(ctx, [who], vectors), 5)


# ------------------------------------------------- users known from the validation slice
@pytest.fixture(scope="module")
def late_joiners():
    """Five users who rate only inside the ranker's slice (the last quarter of time)."""
    data = timed_data(late=5)
    train, valid = temporal_split(data, test_size=0.25)
    late = np.sort(data.users.index([f"u{u}" for u in range(5)])).astype(np.int64)
    assert not train.user_counts()[late].any() and valid.user_counts()[late].all()
    return data, train, valid, late


def folded_reference(pipe, valid, late, n, read=None):
    """The slow, obvious way: each late user's validation cells as their history, each
    factor candidate's vector from fold_in_idx of the cells its fit learns from, with the
    values it reads them as (``read(model, values)``, NaN: left out; by default
    ``training_values``); then recommend_histories."""
    ctx = pipe.context_
    m = valid.matrix.tocsr()
    whos, vectors = [], []
    for u in late.tolist():
        row = m[u]
        # -1: no model holds a training row for them (a model without a vector is skipped).
        who = UserHistory(row.indices, row.data.astype(float), ctx.seen_items(u), key=u)
        whos.append((-1, who))
    for model in pipe.models:
        if isinstance(model, Popularity):
            vectors.append(None)
            continue
        bias, factors, has = [], [], []
        for u in late.tolist():
            row = m[u]
            values = model.training_values(row.data) if read is None else read(model, row.data)
            keep = ~np.isnan(values)
            b, f = model.fold_in_idx([0, int(keep.sum())], row.indices[keep], values[keep])
            bias.append(b[0])
            factors.append(f[0])
            has.append(bool(keep.any()))
        vectors.append((np.array(bias), np.array(factors), np.array(has)))
    return pipe.recommend_histories(Histories.of(ctx, whos, vectors), n)


@pytest.mark.parametrize("second", ["BiasedMF", "HybridMF"])
def test_a_user_known_only_from_validation_is_folded_in_from_it(late_joiners, second):
    data, train, valid, late = late_joiners
    other = (
        BiasedMF(n_factors=3, random_state=0)
        if second == "BiasedMF"
        else HybridMF(n_factors=3, n_epochs=5, min_rating=4, random_state=0)
    )
    models = [ImplicitALS(n_factors=4, random_state=0, num_threads=1), other, Popularity()]
    pipe = Pipeline(models, small_ranker(), [MMR(0.8)], n_candidates=12).fit(train, valid)
    rows, batch = pipe.validation_users(np.arange(-1, data.n_users))
    assert rows.tolist() == (late + 1).tolist()  # every late user, no one else
    want = folded_reference(pipe, valid, late, 8)
    users = np.concatenate([late, [7, -1, late[0]]])
    idx, scores, fallback = pipe.recommend_batch_idx(users, 8)
    for got, w in zip((idx, scores, fallback), want, strict=True):
        np.testing.assert_array_equal(got[: late.size], w)
        np.testing.assert_array_equal(got[-1], w[0])
    assert not fallback[: late.size].any() and fallback[-2]
    m = valid.matrix.tocsr()
    for row, u in enumerate(late.tolist()):
        assert not set(idx[row].tolist()) & set(m[u].indices.tolist())
    one = pipe.recommend(data.users.ids[late[1]], 8)
    assert not one.fallback and one.ids.tolist() == data.items.ids[want[0][1]].tolist()


def test_other_users_and_old_files_are_as_before(late_joiners, tmp_path):
    """Only the users known from validation alone change: against the same pipeline with
    no validation cells kept (as a file written before they were), every other user's
    list is identical and those users get the popularity list there; a saved pipeline
    keeps the cells and gives the same lists."""
    import dataclasses

    data, train, valid, late = late_joiners
    pipe = Pipeline(
        [ImplicitALS(n_factors=4, random_state=0, num_threads=1), Popularity()],
        small_ranker(),
        n_candidates=12,
    ).fit(train, valid)
    users = np.arange(-1, data.n_users)
    now = pipe.recommend_batch_idx(users, 8)
    path = tmp_path / "pipe.npz"
    pipe.save(path)
    back = load(path)
    for a, b in zip(now, back.recommend_batch_idx(users, 8), strict=True):
        np.testing.assert_array_equal(a, b)
    pipe.context_ = dataclasses.replace(pipe.context_, later=None)
    before = pipe.recommend_batch_idx(users, 8)
    moved = np.isin(users, late)
    for a, b in zip(now, before, strict=True):
        np.testing.assert_array_equal(a[~moved], b[~moved])
    assert before[2][moved].all() and not now[2][moved].any()


def unknown_kind(model):
    """``model``'s factors as factors made elsewhere (imported from Spark, say): a ranking
    model whose training kind is unknown."""
    import dataclasses

    return FactorModel.from_factors(
        dataclasses.replace(model.catalog_, implicit=None),
        model.item_factors_,
        model.user_factors_,
        predicts_ratings=False,
    )


def likes(model, values):
    """Stars as a model of unknown kind folds them in: 1 at or above 60 % of the 1-5
    scale (3.4), else seen only."""
    return np.where(np.asarray(values) >= 3.4, 1.0, np.nan)


def test_factors_of_unknown_kind_fold_validation_stars_as_likes_and_old_files_as_before(
    late_joiners, tmp_path
):
    """A live fold-in takes a star as a like for a model that never recorded its kind;
    the validation users are folded in so too (the slice is stars, and the pipeline keeps
    that).  A file without the slice's kind (as every file written before it was kept)
    folds the values in as they are, as such files always did."""
    import dataclasses

    data, train, valid, late = late_joiners
    made = unknown_kind(ImplicitALS(n_factors=4, random_state=0, num_threads=1).fit(train))
    pipe = Pipeline([made, Popularity()], small_ranker(), [MMR(0.8)], n_candidates=12)
    pipe.fit(train, valid)
    late_values = np.concatenate([valid.matrix.tocsr()[u].data for u in late.tolist()])
    assert (late_values >= 3.4).any() and (late_values < 3.4).any()
    users = np.concatenate([late, [7, -1]])
    now = pipe.recommend_batch_idx(users, 8)
    want = folded_reference(pipe, valid, late, 8, read=likes)
    for got, w in zip(now, want, strict=True):
        np.testing.assert_array_equal(got[: late.size], w)
    pipe.save(tmp_path / "pipe.npz")
    back = load(tmp_path / "pipe.npz")
    assert pipe.context_.later_implicit is False and back.context_.later_implicit is False
    for a, b in zip(now, back.recommend_batch_idx(users, 8), strict=True):
        np.testing.assert_array_equal(a, b)

    pipe.context_ = dataclasses.replace(pipe.context_, later_implicit=None)
    pipe.save(tmp_path / "old.npz")
    old = load(tmp_path / "old.npz")
    assert old.context_.later_implicit is None
    before = old.recommend_batch_idx(users, 8)
    raw = folded_reference(old, valid, late, 8, read=lambda model, v: np.asarray(v, float))
    for got, w, new in zip(before, raw, now, strict=True):
        np.testing.assert_array_equal(got[: late.size], w)
        np.testing.assert_array_equal(got[late.size :], new[late.size :])  # others as before


def test_a_pipeline_fitted_on_events_folds_its_validation_users_weights_in(late_joiners):
    """The validation users of a pipeline fitted on events are folded in as a live
    fold-in folds them: the ranking model takes their weights.  A rating model among the
    candidates is refused at fit (it refuses implicit data, whose repeats add up to
    counts); before, it took no event and left those users without a vector."""
    data, _, _, late = late_joiners
    events = Interactions(
        data.users,
        data.items,
        data.matrix,
        data.timestamps,
        implicit=True,
        item_features=data.item_features,
    )
    train, valid = temporal_split(events, test_size=0.25)
    with pytest.raises(ValueError, match="BiasedMF predicts ratings, but the data holds implicit"):
        Pipeline([BiasedMF(n_factors=3, random_state=0), Popularity()]).fit(train, valid)
    models = [ImplicitALS(n_factors=4, random_state=0, num_threads=1), Popularity()]
    pipe = Pipeline(models, small_ranker(), [MMR(0.8)], n_candidates=12).fit(train, valid)
    want = folded_reference(pipe, valid, late, 8, read=lambda model, values: values)
    for got, w in zip(pipe.recommend_batch_idx(late, 8), want, strict=True):
        np.testing.assert_array_equal(got, w)
    rows, batch = pipe.validation_users(late)
    assert rows.tolist() == list(range(late.size))
    assert batch.vectors[0][2].all()
    assert pipe.context_.later_implicit is True


@pytest.mark.parametrize("family", ["BPR", "HybridMF"])
def test_a_ranking_models_positive_is_clipped_to_a_scale_without_1(family):
    """On a 2-10 scale a ranking model's positive (1) is off the scale, which its fold-in
    refuses: the validation users' values are clipped as a live fold-in's are."""
    rng = np.random.default_rng(4)
    u = np.repeat(np.arange(40), 6)
    i = rng.integers(0, 25, u.size)
    t = np.where(u >= 30, 1000, 0) + rng.integers(0, 100, u.size)  # users 30-39 come late
    frame = pd.DataFrame(
        {"user_id": u, "item_id": i, "rating": rng.integers(2, 11, u.size), "t": t}
    )
    data = Interactions.from_frame(
        frame.drop_duplicates(["user_id", "item_id"]), timestamp="t", rating_scale=(2, 10)
    )
    early, late = temporal_split(data, test_size=0.25)
    model = (
        BPR(n_factors=3, n_epochs=5, random_state=0, num_threads=1)
        if family == "BPR"
        else HybridMF(n_factors=3, n_epochs=5, min_rating=4, random_state=0)
    )
    pipe = Pipeline([model, Popularity()], n_candidates=10).fit(early, late)
    users = data.users.index([35, 2, 36])
    rows, _ = pipe.validation_users(users)
    assert rows.tolist() == [0, 2]
    _, _, fallback = pipe.recommend_batch_idx(users, 5)
    assert not fallback.any()


def test_retrainings_holdout_ranks_validation_users_as_recommend_does(late_joiners):
    """score_on_holdout (what retraining compares versions by) ranks a user known from
    the validation slice alone by the same folded list as recommend_batch_idx."""
    import dataclasses

    from latentrec.evaluation.evaluate import RANKING_METRICS
    from latentrec.service.retrain import score_on_holdout

    data, train, valid, late = late_joiners
    # Held out: half of each late user's validation cells, which the pipeline never sees.
    held = np.zeros(valid.nnz, dtype=bool)
    for u in late.tolist():
        mine = np.flatnonzero(valid.user_idx == u)
        held[mine[: mine.size // 2]] = True
    shown, holdout = valid.subset(~held), valid.subset(held)
    pipe = Pipeline(
        [ImplicitALS(n_factors=4, random_state=0, num_threads=1), Popularity()],
        small_ranker(),
        n_candidates=12,
    ).fit(train, shown)

    def by_hand(p) -> dict:
        top = p.recommend_batch_idx(late, 10)[0].astype(np.int64)
        return {f"{n}@10": fn(top, holdout.matrix[late], 10) for n, fn in RANKING_METRICS.items()}

    got = score_on_holdout(pipe, shown, holdout, metric="ndcg@10")
    want = by_hand(pipe)
    for name, value in want.items():
        assert got[name] == pytest.approx(value), name
    # Not a coincidence of empty lists: the popularity lists they used to get score otherwise.
    pipe.context_ = dataclasses.replace(pipe.context_, later=None)
    assert by_hand(pipe) != want and want["hit_rate@10"] > 0


def test_evaluate_ranking_scores_a_pipeline_as_it_scores_a_model():
    # evaluate_ranking passes exclude_seen; a pipeline took no such argument (TypeError).
    from latentrec.data.splits import random_split
    from latentrec.evaluation import evaluate_ranking
    from latentrec.evaluation import metrics as M

    train, test = random_split(timed_data(seed=3), 0.25, random_state=0)
    pipe = Pipeline(ImplicitALS(n_factors=4, random_state=0), rerankers=[MMR(0.7)]).fit(train)
    scores = evaluate_ranking(pipe, test, k=5)
    users = np.flatnonzero(np.diff(test.matrix.indptr) > 0)
    idx, _, _ = pipe.recommend_batch_idx(users, 5)
    assert scores["ndcg"] == pytest.approx(M.ndcg_at_k(idx, test.matrix[users], 5))
    with pytest.raises(ValueError, match="always leaves out the items a user has seen"):
        evaluate_ranking(pipe, test, k=5, exclude_seen=False)


def test_evaluate_ranking_refuses_the_rankers_validation_slice(slices):
    """The ranker learned from `valid` and the pipeline never recommends its items: judged
    on it, every user would score 0. Refused, naming the slice; the test slice is fine."""
    from latentrec.evaluation import evaluate_ranking

    _, early, valid, test = slices
    pipe = Pipeline(
        [ImplicitALS(n_factors=4, random_state=0, num_threads=1)], small_ranker(), n_candidates=12
    ).fit(early, valid)
    with pytest.raises(ValueError, match="ranker's validation slice"):
        evaluate_ranking(pipe, valid, k=5)
    assert evaluate_ranking(pipe, test, k=5)["ndcg"] >= 0
