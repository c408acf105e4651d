"""Fold-in: the default ridge solve, fold_in, partial_fit_users and partial_fit_items."""

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings
from hypothesis import given, settings
from hypothesis import strategies as st

import latentrec
from latentrec import Interactions, UnknownIdError
from latentrec.kernels.ridge import ridge_rows
from latentrec.models import BiasedMF, Biases, GlobalMean, Popularity, UserVector


def lstsq_reference(indptr, indices, values, factors, offset, with_bias, reg_f, reg_b, weighted):
    """Slow reference: np.linalg.lstsq on the augmented system, one row at a time."""
    k = factors.shape[1]
    bias = np.zeros(len(indptr) - 1)
    out = np.zeros((len(indptr) - 1, k))
    for r in range(len(indptr) - 1):
        cells = slice(indptr[r], indptr[r + 1])
        n = indptr[r + 1] - indptr[r]
        if n == 0:
            continue
        X = factors[indices[cells]].astype(np.float64)
        if with_bias:
            X = np.hstack([X, np.ones((n, 1))])
        y = values[cells] - offset[indices[cells]]
        w = n if weighted else 1.0
        penalty = [reg_f] * k + ([reg_b] if with_bias else [])
        X_aug = np.vstack([X, np.diag(np.sqrt(w * np.array(penalty, dtype=np.float64)))])
        y_aug = np.concatenate([y, np.zeros(len(penalty))])
        sol = np.linalg.lstsq(X_aug, y_aug, rcond=None)[0]
        out[r] = sol[:k]
        if with_bias:
            bias[r] = sol[k]
    return bias, out


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_rows=st.integers(1, 7),
    k=st.integers(0, 5),
    with_bias=st.booleans(),
    weighted=st.booleans(),
    reg_f=st.sampled_from([0.01, 0.1, 2.0]),  # λ_f = 0 has its own test below
    reg_b=st.sampled_from([0.0, 0.05, 1.0]),
)
def test_ridge_rows_matches_lstsq_on_the_augmented_system(
    seed, n_rows, k, with_bias, weighted, reg_f, reg_b
):
    rng = np.random.default_rng(seed)
    n_cols = 9
    counts = rng.integers(0, n_cols + 1, n_rows)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = np.concatenate(
        [np.sort(rng.choice(n_cols, c, replace=False)) for c in counts] + [np.empty(0, int)]
    ).astype(np.int32)
    values = rng.integers(1, 6, indices.size).astype(np.float32)
    factors = rng.normal(0, 1, (n_cols, k)).astype(np.float32)
    offset = 3.0 + rng.normal(0, 0.5, n_cols)
    bias, P = ridge_rows(
        indptr, indices, values, factors, offset, with_bias, reg_f, reg_b, weighted
    )
    ref_b, ref_P = lstsq_reference(
        indptr, indices, values, factors, offset, with_bias, reg_f, reg_b, weighted
    )
    assert bias.dtype == np.float32 and P.shape == (n_rows, k)
    np.testing.assert_allclose(P, ref_P, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bias, ref_b, rtol=1e-4, atol=1e-4)
    assert np.all(bias[counts == 0] == 0) and np.all(P[counts == 0] == 0)


def test_ridge_rows_long_rows_and_unregularised_singular_rows():
    rng = np.random.default_rng(3)
    factors = rng.normal(0, 1, (5000, 40)).astype(np.float32)
    # One row longer than a padded batch: summed in slices, still the exact solution.
    long = np.sort(rng.choice(5000, 4000, replace=False)).astype(np.int32)
    values = rng.normal(0, 1, long.size).astype(np.float32)
    indptr = np.array([0, long.size])
    b, P = ridge_rows(indptr, long, values, factors, np.zeros(5000), True, 0.1, 0.1, True)
    ref_b, ref_P = lstsq_reference(
        indptr, long, values, factors, np.zeros(5000), True, 0.1, 0.1, True
    )
    np.testing.assert_allclose(P, ref_P, atol=1e-5)
    np.testing.assert_allclose(b, ref_b, atol=1e-5)
    # λ = 0 with fewer cells than factors: the minimum-norm least-squares answer.
    few = np.array([3, 7], dtype=np.int32)
    b, P = ridge_rows(
        np.array([0, 2]),
        few,
        np.array([1.0, 2.0], np.float32),
        factors,
        np.zeros(5000),
        False,
        0.0,
        0.0,
    )
    expected = np.linalg.lstsq(factors[few].astype(np.float64), [1.0, 2.0], rcond=None)[0]
    np.testing.assert_allclose(P[0], expected, atol=1e-4)
    # λ = 0 with enough cells: the plain least-squares fit, bias included.
    many = np.arange(0, 3000, 30, dtype=np.int32)
    y = rng.normal(0, 1, many.size).astype(np.float32)
    b, P = ridge_rows(np.array([0, many.size]), many, y, factors, np.zeros(5000), True, 0.0, 0.0)
    ref_b, ref_P = lstsq_reference(
        np.array([0, many.size]), many, y, factors, np.zeros(5000), True, 0.0, 0.0, True
    )
    np.testing.assert_allclose(P, ref_P, atol=1e-4)
    np.testing.assert_allclose(b, ref_b, atol=1e-4)


@pytest.fixture(scope="module")
def planted():
    """An ALS-WR model: alternating partial fits, ending on the user half-step.

    Thirty users are held out of training; the model never sees them.
    """
    data = random_ratings(n_users=150, n_items=40, density=0.5, seed=1)
    df = data.to_frame()
    held = data.users.ids[:30]
    train_df = df[~df.user_id.isin(held)]
    train = Interactions.from_frame(train_df, timestamp="timestamp", rating_scale=(1, 5))
    model = BiasedMF(
        n_factors=3,
        n_epochs=20,
        learning_rate=0.05,
        init_std=0.3,
        regularization=0.05,
        random_state=0,
    ).fit(train)
    for _ in range(15):
        model.partial_fit_items(train_df)
        model.partial_fit_users(train_df)
    return model, df, train_df, held


def test_fold_in_of_a_training_user_equals_its_row_after_the_user_step(planted):
    model, _, train_df, _ = planted
    for user in train_df.user_id.unique()[:10]:
        rows = train_df[train_df.user_id == user]
        vec = model.fold_in(pd.Series(rows.rating.to_numpy(), index=rows.item_id))
        u = model.users_.index([user])[0]
        np.testing.assert_allclose(vec.factors, model.user_factors_[u], atol=1e-5)
        assert vec.bias == pytest.approx(float(model.user_bias_[u]), abs=1e-5)


def test_fold_in_beats_the_fallbacks_for_held_out_users(planted):
    model, df, _, held = planted
    sq_fold, sq_base, corr_fold, corr_pop = [], [], [], []
    for user in held:
        rows = df[df.user_id == user].sample(frac=1.0, random_state=0)
        given_, hidden = rows.iloc[: len(rows) // 2], rows.iloc[len(rows) // 2 :]
        vec = model.fold_in(dict(zip(given_.item_id, given_.rating, strict=True)))
        i = model.items_.index(hidden.item_id.to_numpy())
        pred = (
            model.global_mean_
            + vec.bias
            + model.item_bias_[i]
            + model.item_factors_[i] @ vec.factors
        )
        base = model.predict(["nobody"] * len(hidden), hidden.item_id, unknown="baseline")
        truth = hidden.rating.to_numpy()
        sq_fold.append((pred - truth) ** 2)
        sq_base.append((base - truth) ** 2)
        if np.unique(truth).size > 1:
            corr_fold.append(pd.Series(pred).corr(pd.Series(truth), method="spearman"))
            corr_pop.append(
                pd.Series(model.item_popularity_[i]).corr(pd.Series(truth), method="spearman")
            )
    rmse_fold = np.sqrt(np.mean(np.concatenate(sq_fold)))
    rmse_base = np.sqrt(np.mean(np.concatenate(sq_base)))
    assert rmse_fold < 0.7 * rmse_base
    # Ranking the hidden items: the folded-in vector orders them, popularity does not.
    assert np.nanmean(corr_fold) > np.nanmean(corr_pop) + 0.4


def test_fold_in_is_pure_and_accepts_dicts_and_series(planted):
    model, _, _, _ = planted
    before = {name: getattr(model, name).copy() for name in model._array_state}
    n_users, seen = model.n_users, model.seen_.copy()
    items = model.items_.ids[:4]
    a = model.fold_in(dict.fromkeys(items.tolist(), 1.0))
    b = model.fold_in(pd.Series(1.0, index=items))
    assert isinstance(a, UserVector) and a.ignored == []
    np.testing.assert_array_equal(a.factors, b.factors)
    assert a.bias == b.bias
    for name, arr in before.items():
        np.testing.assert_array_equal(getattr(model, name), arr)
    assert model.n_users == n_users and (model.seen_ != seen).nnz == 0
    with pytest.raises(dataclasses_frozen_error()):
        a.bias = 1.0


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_fold_in_unknown_items_error_or_ignored(planted):
    model, _, _, _ = planted
    known = model.items_.ids[:3].tolist()
    with pytest.raises(UnknownIdError, match="424242"):
        model.fold_in({known[0]: 4.0, 424242: 5.0})
    vec = model.fold_in({known[0]: 4.0, 424242: 5.0}, unknown="ignore")
    assert vec.ignored == [424242]
    np.testing.assert_array_equal(vec.factors, model.fold_in({known[0]: 4.0}).factors)
    nothing = model.fold_in({424242: 5.0}, unknown="ignore")
    assert nothing.bias == 0.0 and not nothing.factors.any()
    with pytest.raises(ValueError, match="unknown must be"):
        model.fold_in(known, unknown="skip")
    with pytest.raises(ValueError, match="repeat"):
        model.fold_in([known[0], known[0]])
    with pytest.raises(ValueError, match="rating scale"):
        model.fold_in({known[0]: 9.0})
    with pytest.raises(ValueError, match="not finite"):
        model.fold_in({known[0]: np.nan})


@pytest.fixture
def small_model():
    data = random_ratings(n_users=25, n_items=15, seed=4)
    return data, BiasedMF(n_factors=3, n_epochs=30, random_state=0).fit(data)


def test_partial_fit_users_new_user_works_everywhere(small_model, tmp_path):
    data, model = small_model
    items = data.items.ids
    new = pd.DataFrame(
        {
            "user_id": ["new1"] * 3 + ["new2"] * 2,
            "item_id": items[[0, 1, 2, 3, 4]],
            "rating": [5, 4, 1, 2, 5],
        }
    )
    expected = model.fold_in(dict(zip(items[[0, 1, 2]], [5, 4, 1], strict=True)))
    assert model.partial_fit_users(new) is model
    assert model.n_users == data.n_users + 2
    for name in ("user_bias_", "user_factors_"):
        assert getattr(model, name).shape[0] == model.n_users
    assert model.seen_.shape == (model.n_users, model.n_items)
    u = model.users_.index(["new1"])[0]
    np.testing.assert_array_equal(model.user_factors_[u], expected.factors)
    rec = model.recommend("new1", n=20)
    assert not rec.fallback and not set(rec.ids.tolist()) & set(items[[0, 1, 2]].tolist())
    assert len(rec.ids) == model.n_items - 3
    pred = model.predict(["new1"], [items[5]])[0]
    assert model.explain("new1", items[5]).prediction == pytest.approx(pred, abs=1e-5)
    # Seen items and popularity include the new cells.
    assert model.item_popularity_.sum() == data.nnz + 5
    path = tmp_path / "grown.npz"
    model.save(path)
    loaded = latentrec.load(path)
    pd.testing.assert_frame_equal(
        loaded.recommend_batch(["new1", "new2", data.users.ids[0]], n=5),
        model.recommend_batch(["new1", "new2", data.users.ids[0]], n=5),
    )
    assert loaded.similar_users("new2", n=3).ids.size == 3


def test_partial_fit_users_recompute_replaces_the_row_and_history(small_model):
    data, model = small_model
    user = data.users.ids[2]
    other = model.user_factors_.copy()
    items = data.items.ids
    model.partial_fit_users(
        pd.DataFrame({"user_id": [user, user], "item_id": items[[7, 8]], "rating": [5, 1]})
    )
    u = model.users_.index([user])[0]
    assert model.n_users == data.n_users
    expected = model.fold_in(dict(zip(items[[7, 8]], [5, 1], strict=True)))
    np.testing.assert_array_equal(model.user_factors_[u], expected.factors)
    assert model.user_bias_[u] == np.float32(expected.bias)
    assert model.seen_[u].indices.tolist() == [7, 8]
    mask = np.arange(model.n_users) != u
    np.testing.assert_array_equal(model.user_factors_[mask], other[mask])
    assert model.seen_.has_sorted_indices


def test_partial_fit_users_unknown_items_duplicates_and_implicit_rows(small_model):
    data, model = small_model
    items = data.items.ids
    bad = pd.DataFrame({"user_id": ["x", "x"], "item_id": [items[0], 999], "rating": [4, 5]})
    n_users = model.n_users
    with pytest.raises(UnknownIdError, match="999"):
        model.partial_fit_users(bad)
    assert model.n_users == n_users  # nothing changed
    with pytest.warns(UserWarning, match="ignored 1 row"):
        model.partial_fit_users(bad, unknown="ignore")
    assert model.seen_[model.users_.index(["x"])[0]].indices.tolist() == [0]
    # No rating column: the rows are seen only (a rating model); a repeated pair keeps
    # its last row.
    with pytest.warns(UserWarning, match="seen"):
        with pytest.warns(UserWarning, match="repeated"):
            model.partial_fit_users(pd.DataFrame({"user_id": ["y", "y"], "item_id": items[[1, 1]]}))
    assert model.seen_[model.users_.index(["y"])[0]].nnz == 1
    dup = pd.DataFrame({"user_id": ["z", "z"], "item_id": items[[2, 2]], "rating": [1, 5]})
    # Before: the earlier row was dropped without a word.
    with pytest.warns(UserWarning, match="kept the last of each repeated .* 1 earlier row"):
        model.partial_fit_users(dup)
    last = model.fold_in({items[2]: 5})
    np.testing.assert_array_equal(model.user_factors_[model.users_.index(["z"])[0]], last.factors)
    with pytest.raises(ValueError, match="missing column"):
        model.partial_fit_users(pd.DataFrame({"user": [1], "item_id": [items[0]]}))
    with pytest.raises(ValueError, match="rating scale"):
        model.partial_fit_users(
            pd.DataFrame({"user_id": ["w"], "item_id": [items[0]], "rating": [7]})
        )


def test_rows_without_ratings_are_never_one_star_ratings_to_a_rating_model():
    # A table of events (no rating column, or implicit Interactions) given to a rating
    # model used to enter the solve as 1.0 each: the user came out as hating every item
    # they had seen (a prediction near 1 star).  They are seen only now, as fold_in and
    # onboard read events for a rating model: recorded, excluded, not folded in.
    data = random_ratings(n_users=30, n_items=12, seed=5)
    items = data.items.ids
    events = pd.DataFrame({"user_id": ["new", "new", "new"], "item_id": items[[0, 1, 2]]})
    for table in (events, Interactions.from_frame(events, rating=None)):
        model = BiasedMF(n_factors=3, n_epochs=30, random_state=0).fit(data)
        with pytest.warns(UserWarning, match="no ratings.*recorded as seen"):
            model.partial_fit_users(table)
        u = model.users_.index(["new"])[0]
        assert sorted(model.seen_[u].indices.tolist()) == [0, 1, 2]
        # The vector of a user without a rating: zeros, as fold_in({}) gives.
        empty = model.fold_in({})
        assert model.user_bias_[u] == empty.bias == 0.0
        np.testing.assert_array_equal(model.user_factors_[u], empty.factors)
        # So a prediction is μ + b_i, not a 1-star rating.
        expected = model.global_mean_ + model.item_bias_[3]
        assert model.predict(["new"], [items[3]])[0] == pytest.approx(expected, abs=1e-5)
        assert not set(model.recommend("new", n=12).ids) & set(items[[0, 1, 2]])
    # Rated rows next to seen ones: only the rated ones are folded in.
    model = BiasedMF(n_factors=3, n_epochs=30, random_state=0).fit(data)
    mixed = pd.DataFrame({"user_id": ["m", "m"], "item_id": items[[0, 1]], "rating": [5, 4]})
    model.partial_fit_users(mixed)
    expected = model.fold_in({items[0]: 5, items[1]: 4})
    np.testing.assert_allclose(
        model.user_factors_[model.users_.index(["m"])[0]], expected.factors, atol=1e-6
    )
    # Items too: an item placed from events alone is seen, with a zero vector.
    with pytest.warns(UserWarning, match="recorded as seen"):
        model.partial_fit_items(pd.DataFrame({"user_id": data.users.ids[:2], "item_id": 999}))
    i = model.items_.index([999])[0]
    assert model.item_bias_[i] == 0.0 and not model.item_factors_[i].any()
    # A ranking model still reads each such row as a positive.
    ranking = latentrec.models.ImplicitALS(n_factors=3, random_state=0).fit(data)
    ranking.partial_fit_users(events)
    assert ranking.user_factors_[ranking.users_.index(["new"])[0]].any()


def test_partial_fit_keeps_id_types():
    data = Interactions.from_dense(np.array([[5, 1, 0], [4, 0, 2], [1, 5, 4]]))
    model = BiasedMF(n_factors=2, n_epochs=20, random_state=0).fit(data)
    with pytest.raises(TypeError, match="integers"):
        model.partial_fit_users(pd.DataFrame({"user_id": ["alice"], "item_id": [0]}))
    model.partial_fit_users(pd.DataFrame({"user_id": [10], "item_id": [0], "rating": [5]}))
    assert model.users_.is_integer and model.users_.ids.tolist() == [0, 1, 2, 10]


def test_partial_fit_items_mirrors_users(small_model, tmp_path):
    data, model = small_model
    users = data.users.ids
    user_factors = model.user_factors_.copy()
    new = pd.DataFrame(
        {"user_id": users[[0, 1, 2, 3]], "item_id": [500, 500, 501, 501], "rating": [5, 4, 2, 1]}
    )
    model.partial_fit_items(new)
    assert model.n_items == data.n_items + 2
    for name in ("item_bias_", "item_factors_", "item_popularity_"):
        assert getattr(model, name).shape[0] == model.n_items
    assert model.seen_.shape == (data.n_users, model.n_items) and model.seen_.has_sorted_indices
    np.testing.assert_array_equal(model.user_factors_, user_factors)
    assert model.item_popularity_[-2:].tolist() == [2.0, 2.0]
    # Users 0 and 1 have seen item 500, so it is never recommended to them.
    assert 500 not in model.recommend(users[0], n=100).ids
    assert 500 in model.recommend(users[5], n=100).ids
    # The new item's vector is the ridge solve against the fixed user factors.
    u = data.users.index(users[[0, 1]])
    b, Q = ridge_rows(
        np.array([0, 2]),
        np.sort(u),
        np.array([5.0, 4.0], np.float32)[np.argsort(u)],
        model.user_factors_,
        model.global_mean_ + model.user_bias_.astype(np.float64),
        True,
        model.regularization,
        model.regularization,
    )
    np.testing.assert_array_equal(model.item_factors_[model.items_.index([500])[0]], Q[0])
    # Recomputing an existing item replaces its row and its column of seen items.
    model.partial_fit_items(pd.DataFrame({"user_id": users[[7]], "item_id": [500], "rating": [3]}))
    i500 = model.items_.index([500])[0]
    assert model.seen_[:, i500].nonzero()[0].tolist() == [data.users.index([users[7]])[0]]
    with pytest.raises(UnknownIdError, match="ghost"):
        model.partial_fit_items(pd.DataFrame({"user_id": ["ghost"], "item_id": [1]}))
    path = tmp_path / "items.npz"
    model.save(path)
    loaded = latentrec.load(path)
    np.testing.assert_array_equal(
        loaded.predict(users[:3], [500, 501, 100]), model.predict(users[:3], [500, 501, 100])
    )


def test_partial_fit_items_extends_titles():
    df = pd.DataFrame(
        {"user_id": [1, 1, 2, 2], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1]}
    )
    titles = pd.DataFrame({"title": ["Ten", "Eleven", "Twelve"]}, index=[10, 11, 12])
    data = Interactions.from_frame(df, item_features=titles)
    model = BiasedMF(n_factors=2, n_epochs=10, random_state=0).fit(data)
    model.partial_fit_items(pd.DataFrame({"user_id": [1], "item_id": [13], "rating": [4]}))
    assert model.item_title(13) == "13" and model.item_title(10) == "Ten"


def test_fold_in_on_factorless_models():
    data = Interactions.from_dense(np.array([[5, 1, 3], [4, 2, 0], [1, 5, 4]]))
    biases = Biases().fit(data)
    vec = biases.fold_in({0: 5.0, 1: 5.0})
    assert vec.factors.shape == (0,) and vec.bias > 0
    assert GlobalMean().fit(data).fold_in({0: 5.0}).bias == 0.0  # it has no user biases
    assert not hasattr(Popularity(), "fold_in")


def test_a_solve_hook_with_wrong_shapes_or_nan_is_reported(small_model, monkeypatch):
    _, model = small_model
    item = model.items_.ids[0]
    monkeypatch.setattr(model, "_solve_user_rows", lambda *a: (np.zeros(1), np.zeros((1, 99))))
    with pytest.raises(ValueError, match="_solve_user_rows returned shapes"):
        model.fold_in({item: 3.0})
    nan = (np.zeros(1), np.full((1, model.n_factors_), np.nan))
    monkeypatch.setattr(model, "_solve_user_rows", lambda *a: nan)
    with pytest.raises(FloatingPointError, match="regularization"):
        model.partial_fit_users(pd.DataFrame({"user_id": ["q"], "item_id": [item]}))
    assert "q" not in model.users_


def test_a_list_of_item_ids_is_events_by_the_fold_in_rule(planted):
    """A list of ids has no ratings.  Before, every model read it as {id: 1.0}: for a
    rating model 1 star each (a user bias far below 0, films nobody likes)."""
    from latentrec.models import ImplicitALS
    from latentrec.models.foldin import fold_in_values

    model, _, _, _ = planted  # a rating model: events are seen only
    items = model.items_.ids[:3].tolist()
    with pytest.raises(ValueError, match=r"predicts ratings.*seen.*\{item_id: rating\}"):
        model.fold_in(items)
    with pytest.raises(ValueError, match="predicts ratings"):
        model.fold_in(np.array(items))
    with pytest.raises(UnknownIdError, match="424242"):  # unknown ids are still named
        model.fold_in({424242: 5.0})
    # A ranking model: each listed id enters as fold_in_values says an event does.
    data = random_ratings(n_users=40, n_items=20, seed=3)
    ranking = ImplicitALS(n_factors=3, n_epochs=3, random_state=0).fit(data)
    ids = data.items.ids[:3]
    rule = fold_in_values(ranking, np.ones(3), False)
    assert rule.tolist() == [1.0, 1.0, 1.0]
    listed = ranking.fold_in(list(ids))
    given = ranking.fold_in(dict(zip(ids.tolist(), rule.tolist(), strict=True)))
    np.testing.assert_array_equal(listed.factors, given.factors)
    assert listed.bias == given.bias == 0


def test_a_list_below_a_hybrid_models_min_rating_is_seen_only():
    from latentrec.models import HybridMF

    plays = Interactions.from_arrays(
        [1, 1, 2, 2, 3], [7, 8, 7, 8, 9], [1.0, 5.0, 4.0, 3.0, 5.0], implicit=True
    )
    model = HybridMF(n_factors=2, n_epochs=2, min_rating=3, random_state=0).fit(plays)
    # An event of weight 1 is below min_rating 3: seen only, so nothing is folded in.
    vec = model.fold_in([7, 8])
    assert vec.bias == 0.0 and not vec.factors.any()
