"""Defects found walking docs/pipeline.md as a user, each checked against a slow,
obvious reference."""

from __future__ import annotations

import numpy as np
import pytest
from test_pipeline import timed_data

from latentrec.data.splits import temporal_split
from latentrec.models import BPR, Popularity
from latentrec.pipeline import Pipeline, load
from latentrec.pipeline.history import Histories, UserHistory


@pytest.fixture(scope="module")
def bpr_late_joiners():
    """A BPR candidate (its fold-in samples negatives) and five users known only from
    the validation slice."""
    data = timed_data(late=5)
    train, valid = temporal_split(data, test_size=0.25)
    late = np.sort(data.users.index([f"u{u}" for u in range(5)])).astype(np.int64)
    models = [BPR(n_factors=3, n_epochs=5, random_state=0, num_threads=1), Popularity()]
    pipe = Pipeline(models, n_candidates=12).fit(train, valid)
    return pipe, valid, late


def alone(pipe, valid, user, n):
    """One validation-only user folded in on their own, as a live fold-in of their cells
    is: the slow, obvious reference."""
    ctx = pipe.context_
    row = valid.matrix.tocsr()[user]
    who = UserHistory(row.indices, row.data.astype(float), ctx.seen_items(user), key=user)
    bpr = pipe.models[0]
    values = bpr.training_values(row.data)
    bias, factors = bpr.fold_in_idx([0, row.nnz], row.indices, values)
    vectors = [(bias, factors, np.ones(1, bool)), None]
    return pipe.recommend_histories(Histories.of(ctx, [(-1, who)], vectors), n)


def test_a_validation_users_list_does_not_depend_on_who_else_is_in_the_batch(
    bpr_late_joiners,
):
    """BPR's fold-in seeds each row by its place in the batch, so a validation-only user
    folded with others got another vector (and list) than alone, or than a live fold-in
    of the same cells: recommend_batch([1, 2, 3]) and recommend(3) disagreed."""
    pipe, valid, late = bpr_late_joiners
    users = np.concatenate([late, late[::-1], [late[2]]])
    idx, scores, fallback = pipe.recommend_batch_idx(users, 6)
    for row, user in enumerate(users.tolist()):
        want = alone(pipe, valid, user, 6)
        np.testing.assert_array_equal(idx[row], want[0][0], err_msg=f"row {row}")
        np.testing.assert_array_equal(scores[row], want[1][0], err_msg=f"row {row}")
        assert not fallback[row]
    for user in late.tolist():
        one = pipe.recommend(pipe.users_.ids[user], 6)
        assert one.ids.tolist() == pipe.items_.ids[alone(pipe, valid, user, 6)[0][0]].tolist()


@pytest.mark.parametrize("grow", ["users", "items"])
def test_a_candidate_grown_after_fit_is_named_not_saved_to_a_file_that_cannot_load(grow, tmp_path):
    """A candidate grown by partial_fit_* after the pipeline's fit made recommend fail
    with numpy's broadcast error (items) and save write a file load called damaged
    (users); both now say which candidate changed and what to do."""
    import pandas as pd

    from latentrec.models import ImplicitALS

    data = timed_data()
    als = ImplicitALS(n_factors=3, random_state=0, num_threads=1).fit(data)
    pipe = Pipeline([als, Popularity()], n_candidates=40).fit(data)
    users, items = data.users.ids[:10].tolist(), data.items.ids[:10].tolist()
    if grow == "users":
        als.partial_fit_users(pd.DataFrame({"user_id": ["new"] * 10, "item_id": items}))
    else:
        als.partial_fit_items(pd.DataFrame({"user_id": users, "item_id": [999] * 10}))
    message = r"candidates\[0\] \(ImplicitALS\) changed after the pipeline was fitted"
    with pytest.raises(ValueError, match=message):
        pipe.recommend(users[0], 40)
    with pytest.raises(ValueError, match=message):
        pipe.save(tmp_path / "pipe.npz")
    assert not (tmp_path / "pipe.npz").exists()


def test_strangers_draw_their_own_exploration_slots_as_the_service_draws_them():
    """recommend("x") and recommend("y") gave every unknown user the same Thompson and
    Explore slots (all were seeded as -1), although the doc says users without a history
    no longer all get the same list, and the service seeds each by their id.  Reference:
    an empty history keyed by user_key(id), what the service ranks a stranger from."""
    from latentrec.models import ImplicitALS
    from latentrec.pipeline import Explore, Thompson
    from latentrec.pipeline.history import user_key

    data = timed_data()
    for stage in (Thompson(0.5, new_days=None, random_state=1), Explore(0.5, new_days=250)):
        models = [ImplicitALS(n_factors=3, random_state=0, num_threads=1), Popularity()]
        pipe = Pipeline(models, rerankers=[stage], n_candidates=30).fit(data)
        lists = {}
        for name in ("x", "y", "z", "w"):
            empty = np.empty(0, np.int64)
            who = UserHistory(empty, np.empty(0), empty, key=user_key(name, pipe.n_users))
            idx, _, fallback = pipe.recommend_histories(Histories.of(pipe.context_, [who]), 8)
            want = pipe.items_.ids[idx[0][idx[0] >= 0]].tolist()
            got = pipe.recommend(name, 8)
            assert got.fallback and fallback[0]
            assert got.ids.tolist() == want, (stage, name)
            lists[name] = want
        assert len({tuple(v) for v in lists.values()}) > 1, stage
        table = pipe.recommend_batch(["x", "y", "x"], 8)
        rows = table["item_id"].to_numpy().reshape(3, 8).tolist()
        assert rows == [lists["x"], lists["y"], lists["x"]]


def test_a_validation_slice_before_train_ends_names_exact_timestamps():
    """Timestamps seconds apart printed alike with :g ("its earliest timestamp 1e+09 is
    before train's latest 1e+09"); the refusal now gives them exactly and counts the
    cells at fault."""
    import pandas as pd

    from latentrec import Interactions
    from latentrec.pipeline import LearnedRanker

    t0 = 1_000_000_000
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 3],
            "item_id": [5, 6, 6, 7, 5, 7],
            "rating": 1.0,
            "t": [t0, t0 + 5, t0 + 1, t0 + 4, t0 + 6, t0 + 7],
        }
    )
    data = Interactions.from_frame(frame, timestamp="t")
    stamps = data.timestamps
    train, valid = data.subset(stamps != t0 + 4), data.subset(stamps == t0 + 4)
    with pytest.raises(ValueError) as err:
        Pipeline(Popularity(), LearnedRanker()).fit(train, valid)
    assert "1 of its 1 cells are before train's latest timestamp 1000000007" in str(err.value)
    assert "(its earliest: 1000000004)" in str(err.value)


@pytest.mark.parametrize(
    ("cap", "message"),
    [
        (0, r"^Rules max_per: genres: a cap must be a positive integer, got 0$"),
        ({"Drama": 1}, r"^Rules max_per: genres = \{'Drama': 1\}: a cap is one number per column"),
    ],
)
def test_a_bad_cap_in_code_names_its_column(cap, message):
    """Rules(max_per={"genres": 0}) said only "a cap must be a positive integer, got 0",
    and a per-genre table the same, without naming the column or saying caps are per
    column (a file's bad cap was already named with its line)."""
    from latentrec.pipeline import Rules

    with pytest.raises(ValueError, match=message):
        Pipeline(Popularity(), rerankers=[Rules(max_per={"genres": cap})]).fit(timed_data())


def test_the_examples_recipe_repeats_itself_with_one_thread_everywhere():
    """docs/pipeline.md's reproducibility note: with BPR and the ranker on one thread
    (BPR's parallel SGD is not bit-reproducible), the example's recipe gives the same
    lists twice."""
    from latentrec.models import ImplicitALS
    from latentrec.pipeline import MMR, LearnedRanker

    data = timed_data()
    train, valid = temporal_split(data, test_size=0.25)

    def lists():
        models = [
            ImplicitALS(n_factors=3, random_state=0, num_threads=1),
            BPR(n_factors=3, n_epochs=5, random_state=0, num_threads=1),
            Popularity(),
        ]
        ranker = LearnedRanker(n_estimators=10, min_child_samples=5, num_threads=1)
        pipe = Pipeline(models, ranker, [MMR(0.8)], n_candidates=12).fit(train, valid)
        return pipe.recommend_batch_idx(np.arange(-1, data.n_users), 6)

    for a, b in zip(lists(), lists(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_cap_on_a_column_of_lists_counts_an_item_in_each_of_its_values(tmp_path):
    """max_per on a column whose cells are lists (tags) failed at fit with a bare
    "TypeError: unhashable type: 'list'"; such a column is now multi-label, as genres
    are: no tag has more than its cap in any list, also after a save and load."""
    from latentrec import Interactions, load
    from latentrec.models import ImplicitALS
    from latentrec.pipeline import Rules

    data = timed_data()
    table = data.item_features.copy()
    rng = np.random.default_rng(1)
    tags = ["x", "y", "z", "w"]
    table["tags"] = [list(rng.choice(tags, rng.integers(1, 3), replace=False)) for _ in table.index]
    tagged = Interactions(data.users, data.items, data.matrix, data.timestamps, item_features=table)
    models = [ImplicitALS(n_factors=3, random_state=0, num_threads=1), Popularity()]
    pipe = Pipeline(models, rerankers=[Rules(max_per={"tags": 2})], n_candidates=30)
    pipe.fit(tagged)
    pipe.save(tmp_path / "pipe.npz")
    users = np.arange(-1, data.n_users)
    for fitted in (pipe, load(tmp_path / "pipe.npz")):
        idx = fitted.recommend_batch_idx(users, 8)[0]
        for row in idx:
            listed = [int(i) for i in row if i >= 0]
            assert listed  # the cap leaves some items to show
            for tag in tags:
                assert sum(tag in table["tags"].iloc[i] for i in listed) <= 2


def test_mmr_compares_items_in_the_first_candidate_with_item_factors():
    """docs/pipeline.md said "the first model's latent space"; with a Popularity first,
    MMR works in the first candidate that has item factors."""
    from latentrec.models import ImplicitALS
    from latentrec.pipeline import MMR
    from latentrec.pipeline.rerank import mmr

    data = timed_data()
    als = ImplicitALS(n_factors=3, random_state=0, num_threads=1)
    pipe = Pipeline([Popularity(), als], rerankers=[MMR(0.3)], n_candidates=30).fit(data)
    np.testing.assert_array_equal(pipe.context_.item_vectors, als.item_factors_)
    plain = Pipeline([Popularity(), als], n_candidates=30).fit(data)
    idx, scores, _ = plain.recommend_batch_idx([0], 30)
    listed = idx[0] >= 0
    order = np.argsort(-scores[0][listed], kind="stable")
    cands, relevance = idx[0][listed][order], scores[0][listed][order]
    want = mmr(cands, relevance, als.item_factors_, 6, 0.3, pool=50)
    assert pipe.recommend_batch_idx([0], 6)[0][0].tolist() == want.tolist()


def test_a_list_holds_at_most_the_pool():
    """What docs/pipeline.md now says: one model and n above n_candidates give lists of
    n_candidates items (a user's and a stranger's), plus a pin that falls beyond them."""
    from latentrec.models import ImplicitALS
    from latentrec.pipeline import Rules

    data = timed_data()
    als = ImplicitALS(n_factors=3, random_state=0, num_threads=1)
    pipe = Pipeline(als, n_candidates=5).fit(data)
    assert len(pipe.recommend(data.users.ids[0], 10).ids) == 5
    assert len(pipe.recommend("stranger", 10).ids) == 5
    rarest = data.items.ids[int(np.argmin(data.item_counts()))]  # not among the top 5
    pinned = Pipeline(als, rerankers=[Rules(pin={rarest: 8})], n_candidates=5).fit(data)
    rec = pinned.recommend("stranger", 10)
    assert len(rec.ids) == 6 and rec.ids[-1] == rarest


def test_a_rules_file_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    """Notepad's "UTF-8" starts the file with a BOM, which was refused as "not valid
    TOML: Invalid statement (at line 1, column 1)"; line numbers stay those of the file."""
    from latentrec.pipeline import Rules

    text = 'never = [1]\r\n[pin]\r\n"181" = 1\r\n'
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_bytes(text.encode("utf-8"))
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert repr(Rules.from_toml(marked)) == repr(Rules.from_toml(plain))
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'\xef\xbb\xbfnever = [1]\n[pin]\n"181" = 0\n')
    with pytest.raises(ValueError, match=r"bad.toml, line 3: pin.181 must be at least 1"):
        Rules.from_toml(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[pin]\n"105" = 1\n"0105" = 3\n', r"line 3: pin: '105' and '0105' both name item 105"),
        ('[boost]\n"105" = 0.5\n" 105" = -0.5\n', r"line 3: boost: '105' and ' 105' both"),
    ],
)
def test_two_keys_for_one_item_are_refused_not_silently_merged(tmp_path, text, message):
    """A file pinning "105" at 1 and "0105" at 3 kept only the second pin (and of two
    boosts of one item only the last): the first was dropped without a word."""
    from latentrec.pipeline import Rules

    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        Pipeline(Popularity(), rerankers=[Rules.from_toml(path)]).fit(timed_data())


def test_an_item_both_pinned_and_buried_is_refused_as_pinned_and_never_is():
    """Rules(pin={105: 1}, bury=[105]) showed 105 first and ignored its bury silently;
    like an item pinned and never shown, it is now refused."""
    from latentrec.pipeline import Rules

    with pytest.raises(ValueError, match=r"^Rules: item 105 is both pinned and buried$"):
        Pipeline(Popularity(), rerankers=[Rules(pin={105: 1}, bury=[105])]).fit(timed_data())


def test_a_pinned_items_score_is_nan_in_a_personal_list_and_the_fallback_score_else():
    """What docs/pipeline.md says of scores: a pin from outside a user's pool has NaN; in
    a stranger's popularity list every item, the pin too, has the rating model's
    fallback score (mu + b_i), as the model alone answers."""
    from latentrec.models import BiasedMF
    from latentrec.pipeline import Rules

    data = timed_data()
    mf = BiasedMF(n_factors=3, random_state=0)
    rarest = data.items.ids[int(np.argmin(data.item_counts()))]
    pipe = Pipeline(mf, rerankers=[Rules(pin={rarest: 1})], n_candidates=3).fit(data)
    user = next(
        u
        for u in range(data.n_users)
        if data.items.index([rarest])[0] not in pipe.context_.seen_items(u)
    )
    mine = pipe.recommend(data.users.ids[user], 4)
    assert mine.ids[0] == rarest and np.isnan(mine.scores[0])
    assert np.isfinite(mine.scores[1:]).all()
    cold = pipe.recommend("stranger", 4)
    assert cold.fallback and cold.ids[0] == rarest
    want = mf.predict_idx(np.full(len(cold.ids), -1), data.items.index(cold.ids))
    np.testing.assert_allclose(cold.scores, want, rtol=1e-6)


def test_a_candidate_refit_in_place_is_named(tmp_path):
    """A candidate refit on other data over the same ids kept its sizes, so the pipeline
    went on ranking with the new model's scores and its own fit-time state (what was
    seen, MMR's vectors, the ranker's features), a mix of two models, without a word.
    Recording metrics on a candidate changes nothing the pipeline reads and is allowed;
    a saved and loaded pipeline holds its own copies and checks them as well."""
    from latentrec.models import ImplicitALS

    data = timed_data()
    als = ImplicitALS(n_factors=3, random_state=0, num_threads=1).fit(data)
    pipe = Pipeline([als, Popularity()], n_candidates=40).fit(data)
    user = data.users.ids[0]
    before = pipe.recommend(user, 5)
    als.record_metrics(note=1.0)
    assert pipe.recommend(user, 5).ids.tolist() == before.ids.tolist()
    pipe.save(tmp_path / "pipe.npz")
    loaded = load(tmp_path / "pipe.npz")
    assert loaded.recommend(user, 5).ids.tolist() == before.ids.tolist()
    als.fit(data.subset(data.item_idx % 2 == 0))  # the same ids, other cells
    message = r"candidates\[0\] \(ImplicitALS\) was refit after the pipeline was fitted"
    with pytest.raises(ValueError, match=message):
        pipe.recommend(user, 5)
    with pytest.raises(ValueError, match=message):
        pipe.save(tmp_path / "other.npz")
    loaded.models[0].fit(data)
    with pytest.raises(ValueError, match=message):
        loaded.recommend(user, 5)
