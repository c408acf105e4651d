"""A training user's row and their stored ratings, merged: the store overrides the items it
holds a value for, and the row's other items keep counting and are never recommended.

The reference is the model's own ``fold_in`` on the merged history, built here item by
item: each stored star as stored, each other training item at the model's clipped
prediction for the user (the value a model file keeps in place of the training rating).
For ranking models (a ``min_rating``, the top-share rule for stars) a stored cell
replaces its training item whether or not the fold-in takes its value: a value below the
line leaves the item out of the positives rather than letting it join at 1.
"""

import numpy as np
import pytest

from latentrec.models.factor import supporting_items
from latentrec.store import Rating

USER = 3


def training_items(model, u=USER) -> list[int]:
    """The raw item ids of training user ``u``'s row."""
    seen = model.seen_
    return [int(x) for x in model.items_.ids[seen.indices[seen.indptr[u] : seen.indptr[u + 1]]]]


def merged_reference(model, stored: dict, u=USER) -> dict:
    """``{raw item id: value}``: the training row at the model's clipped fit, overridden
    by the stored stars (and joined by stored items outside the row)."""
    row = training_items(model, u)
    fit = np.clip(model.predict([u] * len(row), row), *model.rating_scale_)
    merged = dict(zip(row, fit.tolist(), strict=True))
    merged.update(stored)
    return merged


def reference_top(model, history: dict, n: int):
    """Top-n ids and scores for a user folded in from ``history``, its items left out."""
    vec = model.fold_in(history)
    banned = np.zeros(model.n_items, dtype=bool)
    banned[model.items_.index(list(history))] = True
    top, scores = model.recommend_vectors([vec.bias], vec.factors[None], n, filter_items=banned)
    keep = top[0] >= 0
    return [str(model.items_.ids[i]) for i in top[0][keep]], scores[0][keep], vec


def listed(client, user, n):
    body = client.get(f"/users/{user}/recommendations", params={"n": n}).json()
    assert body["fallback"] is False
    return [x["item_id"] for x in body["items"]], np.array([x["score"] for x in body["items"]])


@pytest.fixture
def row(explicit_model):
    items = training_items(explicit_model)
    assert len(items) >= 4  # the planted data gives user 3 a row to re-rate parts of
    return items


def test_re_rating_one_training_title_keeps_the_rest_of_the_row(
    make_client, store, explicit_model, row
):
    """The reviewer's case: a store holding only ``3,<a training title>,5``.  Before, the
    store was taken as the user's whole history: their list was built from that one
    rating and offered the other titles they rated in training."""
    store.add_ratings([Rating(str(USER), str(row[0]), 5.0)])
    client = make_client(explicit_model)
    n = explicit_model.n_items
    ids, scores = listed(client, USER, n)
    assert not set(ids) & {str(x) for x in row}
    history = merged_reference(explicit_model, {row[0]: 5.0})
    expected, expected_scores, vec = reference_top(explicit_model, history, n)
    assert ids == expected
    assert np.allclose(scores, expected_scores, atol=1e-4)
    # /predictions scores the same vector, the re-rated title included.
    asked = [row[0], int(expected[0])]
    body = client.get(f"/users/{USER}/predictions", params={"items": asked}).json()
    got = [p["score"] for p in body["predictions"]]
    want = (
        explicit_model.global_mean_ + explicit_model.item_bias_[explicit_model.items_.index(asked)]
    )
    want = (
        want
        + vec.bias
        + explicit_model.item_factors_[explicit_model.items_.index(asked)] @ (vec.factors)
    )
    assert np.allclose(got, want, atol=1e-4)


def test_a_partial_overlap_merges_stored_values_over_the_row(
    make_client, store, explicit_model, row
):
    """Two training titles re-rated (one down, one up), one new title: the fold-in reads
    the stored values for those three and the fit for the row's other titles."""
    new = next(
        int(x) for x in explicit_model.items_.ids if int(x) not in set(row)
    )  # a title outside the row
    stored = {row[0]: 1.0, row[1]: 5.0, new: 4.0}
    store.add_ratings([Rating(str(USER), str(i), v) for i, v in stored.items()])
    ids, scores = listed(make_client(explicit_model), USER, 10)
    expected, expected_scores, _ = reference_top(
        explicit_model, merged_reference(explicit_model, stored), 10
    )
    assert ids == expected and np.allclose(scores, expected_scores, atol=1e-4)
    assert not set(ids) & {str(x) for x in [*row, new]}


def test_a_store_holding_the_whole_row_folds_in_from_the_store_alone(
    make_client, store, explicit_model, row
):
    """A store imported from the training data holds every title of the row: nothing of
    the fit joins, whatever the values (here: all re-rated to 2 but one to 5)."""
    stored = {item: 2.0 for item in row}
    stored[row[-1]] = 5.0
    store.add_ratings([Rating(str(USER), str(i), v) for i, v in stored.items()])
    ids, scores = listed(make_client(explicit_model), USER, 8)
    expected, expected_scores, _ = reference_top(explicit_model, stored, 8)
    assert ids == expected and np.allclose(scores, expected_scores, atol=1e-4)


def test_events_on_training_titles_leave_their_training_values(
    make_client, store, explicit_model, row
):
    """An event is no star: for a rating model it marks the title seen and overrides no
    training rating, so the fold-in is the training row's fit with the one new star."""
    new = next(int(x) for x in explicit_model.items_.ids if int(x) not in set(row))
    store.add_ratings(
        [Rating(str(USER), str(row[0]), 1.0, kind="event"), Rating(str(USER), str(new), 5.0)]
    )
    ids, _ = listed(make_client(explicit_model), USER, 8)
    expected, _, _ = reference_top(explicit_model, merged_reference(explicit_model, {new: 5.0}), 8)
    assert ids == expected


def test_deleting_a_stored_training_title_keeps_it_out_of_the_list(
    make_client, store, explicit_model, row
):
    """The row's titles stay excluded whatever the store holds: deleting a re-rating of
    one brings back its training value (at the fit), never the title as a suggestion."""
    client = make_client(explicit_model)
    new = next(int(x) for x in explicit_model.items_.ids if int(x) not in set(row))
    for item, value in [(row[0], 5.0), (new, 3.0)]:
        r = client.post(
            "/ratings", json={"user_id": str(USER), "item_id": str(item), "rating": value}
        )
        assert r.status_code == 201, r.text
    assert client.delete(f"/users/{USER}/ratings/{row[0]}").status_code == 200
    ids, _ = listed(client, USER, explicit_model.n_items)
    assert str(row[0]) not in ids and not set(ids) & {str(x) for x in row}
    expected, _, _ = reference_top(
        explicit_model, merged_reference(explicit_model, {new: 3.0}), explicit_model.n_items
    )
    assert ids == expected


def test_an_erased_user_rating_a_training_title_gets_no_row_back(
    make_client, store, explicit_model, row
):
    client = make_client(explicit_model)
    assert client.delete(f"/users/{USER}").status_code == 200
    r = client.post("/ratings", json={"user_id": str(USER), "item_id": str(row[0]), "rating": 4})
    assert r.status_code == 201, r.text
    ids, _ = listed(client, USER, 8)
    expected, _, _ = reference_top(explicit_model, {row[0]: 4.0}, 8)
    assert ids == expected


def test_explain_cites_the_re_rated_star_and_the_rows_other_titles_at_the_fit(
    make_client, store, explicit_model, row
):
    store.add_ratings([Rating(str(USER), str(row[0]), 5.0)])
    target = next(int(x) for x in explicit_model.items_.ids if int(x) not in set(row))
    body = make_client(explicit_model).get(f"/users/{USER}/explain/{target}").json()
    assert body["supporting_from"] == "ratings"
    stars = merged_reference(explicit_model, {row[0]: 5.0})
    expected = supporting_items(explicit_model, USER, target, ratings=stars)
    got = [(r["item_id"], r["rating"]) for r in body["supporting_items"]]
    assert [g[0] for g in got] == [str(x) for x in expected["item_id"]]
    # Only the stored star is shown as a rating of theirs; the fit is not.
    assert all(rating == (5.0 if item == str(row[0]) else None) for item, rating in got), got


def test_warming_caches_a_covering_training_user_as_a_request_would(store, explicit_model, row):
    """Warm-up folds in a training user whose stored stars cover their whole row (the
    merge adds nothing, erased or not) and leaves one with a partial overlap to the
    per-request read, which knows whether they were erased."""
    from latentrec.service.holder import Served
    from latentrec.service.live import LiveUsers

    served = Served.build(explicit_model, "v")
    store.add_ratings([Rating(str(USER), str(i), 4.0) for i in row])
    other = training_items(explicit_model, 4)
    store.add_ratings([Rating("4", str(other[0]), 1.0)])
    warm = LiveUsers(store)
    warm.warm(served)
    assert "4" not in warm.cache
    got = warm.cache[str(USER)]
    expected = LiveUsers(store).compute(served, str(USER), store.user_version(str(USER)))
    assert np.array_equal(got.rated, expected.rated)
    assert got.bias == pytest.approx(expected.bias, abs=1e-5)
    assert np.allclose(got.factors, expected.factors, atol=1e-5)
    vec = explicit_model.fold_in({i: 4.0 for i in row})
    assert np.allclose(got.factors, vec.factors, atol=1e-5)


def test_a_pipeline_ranks_a_re_rating_training_user_from_their_merged_history(planted_data):
    """A served pipeline's history for the user: the row's items, the stored value where
    the store holds one, and the fold-in of its factor model merged as above."""
    from latentrec.models import BiasedMF
    from latentrec.pipeline import Pipeline
    from latentrec.pipeline.history import as_history
    from latentrec.service.holder import Served
    from latentrec.service.live import UserState, fold_cells, pipeline_state

    pipe = Pipeline(BiasedMF(n_factors=3, n_epochs=20, random_state=0), n_candidates=10)
    pipe.fit(planted_data)
    served = Served.build(pipe, "v")
    u = pipe.users_.index([USER])[0]
    row = as_history(pipe.context_, u)
    assert row.items.size >= 2
    first = str(pipe.items_.ids[row.items[0]])
    cells = [(first, 5.0, "explicit")]
    bias, factors, rated = fold_cells(served, u, cells)
    state = UserState(str(USER), 1, served.serial, bias, factors, rated, "store")
    state = pipeline_state(served, state, cells)
    history = dict(zip(state.history.items.tolist(), state.history.values.tolist(), strict=True))
    expected = dict(zip(row.items.tolist(), row.values.tolist(), strict=True))
    expected[int(row.items[0])] = 5.0
    assert history == expected
    assert set(row.items.tolist()) <= set(state.history.exclude.tolist())
    model = served.model
    reference = model.fold_in(merged_reference(model, {int(first): 5.0}))
    assert np.allclose(factors, reference.factors, atol=1e-5)


# Ranking models, whose fold-in leaves some stored values out (seen only): each with the
# kind of cell a store imported from its training data holds, and the value the fit read
# a training cell with / a stored star is folded in with, as the models' documents state
# them (NaN: seen only).  ``line``: whether the fit leaves some training values out.
TOP_SHARE = 3.4  # 60 % of the way up 1-5: a star of 4 or 5 is a positive
RANKERS = {
    "hybrid-stars": dict(
        kind="explicit",
        line=True,
        training=lambda v: np.where(v >= 4, 1.0, np.nan),  # min_rating=4
        star=lambda v: np.where(v >= 4, 1.0, np.nan),
    ),
    "hybrid-plays": dict(
        kind="event",
        line=True,
        training=lambda v: np.where(v >= 3, 1.0, np.nan),  # min_rating=3, on weights
        star=lambda v: np.where(v >= TOP_SHARE, 1.0, np.nan),
    ),
    "implicit-als-plays": dict(
        kind="event",
        line=False,
        training=lambda v: np.asarray(v, np.float64),  # the weight itself
        star=lambda v: np.where(v >= TOP_SHARE, 1.0, np.nan),
    ),
    "bpr-kind-unknown": dict(
        kind="explicit",
        line=True,
        training=lambda v: np.where(v >= TOP_SHARE, 1.0, np.nan),  # stars by the top share
        star=lambda v: np.where(v >= TOP_SHARE, 1.0, np.nan),
    ),
}


@pytest.fixture(scope="module")
def rankers(tmp_path_factory):
    """``{name: (model, training frame)}`` for :data:`RANKERS`, fitted on the planted
    ratings read as stars or as plays (weights 1-5 on a 1-5 scale)."""
    from latentrec import Interactions
    from latentrec.models import BPR, HybridMF, ImplicitALS

    from .conftest import planted, saved_without_kind

    frame, _ = planted()
    stars = Interactions.from_frame(frame, rating_scale=(1, 5))
    plays = Interactions.from_frame(frame, rating_scale=(1, 5), implicit=True)
    bpr = BPR(n_factors=3, n_epochs=5, random_state=0).fit(stars)
    folder = tmp_path_factory.mktemp("rankers")
    models = {
        "hybrid-stars": HybridMF(n_factors=3, n_epochs=5, min_rating=4, random_state=0).fit(stars),
        "hybrid-plays": HybridMF(n_factors=3, n_epochs=5, min_rating=3, random_state=0).fit(plays),
        "implicit-als-plays": ImplicitALS(n_factors=3, n_epochs=3, random_state=0).fit(plays),
        "bpr-kind-unknown": saved_without_kind(bpr, folder / "bpr.npz"),
    }
    return {name: (model, frame) for name, model in models.items()}


def training_cells(model, frame, kind, u=USER) -> list[tuple[str, float, str]]:
    """Training user ``u``'s cells (of ``kind``) as a store imported from the training
    data holds them."""
    mine = frame[frame["user_id"] == int(model.users_.ids[u])]
    return [(str(i), float(v), kind) for i, v in zip(mine["item_id"], mine["rating"], strict=True)]


def reference_ranked(model, history: dict, banned_ids, n: int):
    """Top-n ids and scores for a user whose fold-in reads ``history`` ({raw item id:
    value}, the values as the solve takes them), ``banned_ids`` left out.  The model's
    fold-in on that history: ``fold_in_idx``, since ``fold_in``'s dict form reads each
    value again as a training cell (a 1 would be below a HybridMF's ``min_rating``)."""
    idx = np.asarray(model.items_.index(list(history)), np.int64)
    values = np.array(list(history.values()), np.float64)
    order = np.argsort(idx)
    bias, factors = model.fold_in_idx([0, idx.size], idx[order], values[order])
    banned = np.zeros(model.n_items, dtype=bool)
    banned[model.items_.index(list(banned_ids))] = True
    top, scores = model.recommend_vectors(bias, factors, n, filter_items=banned)
    keep = top[0] >= 0
    return [str(model.items_.ids[i]) for i in top[0][keep]], scores[0][keep]


@pytest.fixture(params=sorted(RANKERS))
def ranker(request, rankers):
    """``(model, its rules in RANKERS, training user USER's cells as imported)``."""
    model, frame = rankers[request.param]
    rule = RANKERS[request.param]
    return model, rule, training_cells(model, frame, rule["kind"])


def test_a_store_imported_from_the_training_data_gives_a_ranking_model_the_store_alone(
    make_client, store, ranker
):
    """The review's case: a store holding the row as trained on, values below the
    model's line included.  Those were seen only in training and are in the fold-in:
    no training item joins at 1 beside the store (before, the 2-star titles of a
    min_rating=4 HybridMF joined as positives)."""
    from latentrec.service.holder import Served
    from latentrec.service.live import merged_history

    model, rule, cells = ranker
    values = np.array([c[1] for c in cells])
    taken = rule["training"](values)
    # The row holds values the fit left out, where the model has a line at all.
    assert np.isnan(taken).any() == rule["line"]
    served = Served.build(model, "v")
    idx, folded, rated, fitted = merged_history(served, USER, cells)
    assert fitted.size == 0
    alone = merged_history(served, -1, cells)
    assert np.array_equal(idx, alone[0]) and np.array_equal(folded, alone[1])
    history = {int(c[0]): v for c, v in zip(cells, taken, strict=True) if not np.isnan(v)}
    got = dict(zip(model.items_.ids[idx].tolist(), folded.tolist(), strict=True))
    assert got == pytest.approx(history)

    store.add_ratings([Rating(str(USER), i, v, kind=k) for i, v, k in cells])
    ids, scores = listed(make_client(model), USER, 10)
    expected, expected_scores = reference_ranked(model, history, [int(c[0]) for c in cells], 10)
    assert ids == expected and np.allclose(scores, expected_scores, atol=1e-4)


def test_a_low_re_rating_takes_a_training_title_out_of_a_ranking_models_positives(
    make_client, store, ranker
):
    """One title the user liked in training, re-rated 1 star (below every model's line):
    the fold-in reads the row's other titles at 1 and not that one, which stays rated.
    Before, the stored star was not taken, so the title joined at 1 as a positive."""
    from latentrec.service.holder import Served
    from latentrec.service.live import merged_history

    model, rule, cells = ranker
    liked = next(int(c[0]) for c in cells if c[1] >= 4)
    row = training_items(model)
    assert liked in row
    stored = [(str(liked), 1.0, "explicit")]
    assert np.isnan(rule["star"](np.array([1.0])))[0]
    served = Served.build(model, "v")
    idx, values, rated, fitted = merged_history(served, USER, stored)
    at = model.items_.index([liked])[0]
    assert at not in idx and at not in fitted and at in rated
    history = {i: 1.0 for i in row if i != liked}
    got = dict(zip(model.items_.ids[idx].tolist(), values.tolist(), strict=True))
    assert got == history

    store.add_ratings([Rating(str(USER), str(liked), 1.0)])
    n = model.n_items
    ids, scores = listed(make_client(model), USER, n)
    expected, expected_scores = reference_ranked(model, history, row, n)
    assert ids == expected and np.allclose(scores, expected_scores, atol=1e-4)
    assert str(liked) not in ids


def test_warming_caches_a_ranking_user_whose_store_holds_the_row_below_the_line(store, ranker):
    """Warm-up's test of a covered row counts every stored cell that replaces a training
    value, taken or not: the imported row is warmed (before, its seen-only stars left it
    to the request path), and its state is what a request computes."""
    from latentrec.service.holder import Served
    from latentrec.service.live import LiveUsers

    model, _, cells = ranker
    store.add_ratings([Rating(str(USER), i, v, kind=k) for i, v, k in cells])
    served = Served.build(model, "v")
    warm = LiveUsers(store)
    warm.warm(served)
    assert str(USER) in warm.cache
    got = warm.cache[str(USER)]
    expected = LiveUsers(store).compute(served, str(USER), store.user_version(str(USER)))
    assert got.source == expected.source == "store"
    assert np.array_equal(got.rated, expected.rated)
    assert got.bias == pytest.approx(expected.bias, abs=1e-5)
    assert np.allclose(got.factors, expected.factors, atol=1e-5)
