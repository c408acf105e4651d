"""HybridMF and its feature encoder: kernels against slow references, gradients, cold start."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import latentrec
from latentrec import Interactions
from latentrec.kernels.hybrid import bpr_feature_epoch, bpr_loss, warp_feature_epoch
from latentrec.models.hybrid import FeatureEncoder, HybridMF, encode_features


# ---------------------------------------------------------------------- feature encoder
def movie_table():
    return pd.DataFrame(
        {
            "title": ["Alien", "Aliens", "Emma", "Clueless", "Heat", "Sense"],
            "year": pd.array([1979, 1986, 1996, 1995, None, 1995], dtype="Int64"),
            "genres": [
                "Horror|Sci-Fi",
                "Action|Sci-Fi",
                "Romance",
                "Comedy|Romance",
                "Action",
                None,
            ],
            "rated": [True, False, True, True, False, True],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


def test_encoder_auto_kinds_and_names():
    enc = FeatureEncoder(n_buckets=2, max_categories=5).fit(movie_table())
    kinds = {s["column"]: s["kind"] for s in enc.spec_["columns"]}
    assert kinds == {"year": "bucket", "genres": "multilabel", "rated": "onehot"}
    assert enc.skipped_ == {"title": "one title per item: an item id in disguise, not content"}
    assert enc.names_[:2] == ["year<1995", "year>=1995"]
    X = enc.transform(movie_table()).toarray()
    names = enc.names_
    # "Horror|Sci-Fi": each label weighs 1/2; the row's genre weights add up to 1.
    assert X[0, names.index("genres=Horror")] == 0.5
    assert X[0, names.index("genres=Sci-Fi")] == 0.5
    genre_cols = [n.startswith("genres=") for n in names]
    np.testing.assert_allclose(X[:5][:, genre_cols].sum(axis=1), 1.0)
    # Missing year and missing genres give no feature at all.
    year_cols = [n.startswith("year") for n in names]
    assert X[4, year_cols].sum() == 0 and X[5, genre_cols].sum() == 0
    assert X[1, names.index("rated=False")] == 1


def test_encoder_unknown_values_explicit_columns_and_round_trip():
    enc = FeatureEncoder(["genres", "title"], numeric="standardize").fit(movie_table())
    assert [s["column"] for s in enc.spec_["columns"]] == ["genres", "title"]  # forced in
    again = FeatureEncoder.from_dict(enc.to_dict())
    new = pd.DataFrame({"genres": ["Sci-Fi|Western"], "title": ["Brand New"]})
    x = again.transform(new).toarray()[0]
    # Western and the new title are unknown: Sci-Fi alone carries the full weight.
    assert x.sum() == 1.0 and x[again.names_.index("genres=Sci-Fi")] == 1.0
    with pytest.raises(ValueError, match="'title' is missing"):
        again.transform(pd.DataFrame({"genres": ["Action"]}))
    with pytest.raises(ValueError, match="not in the side table"):
        FeatureEncoder(["nope"]).fit(movie_table())


def test_standardized_numbers():
    table = pd.DataFrame({"age": [20.0, 30.0, 40.0]})
    enc = FeatureEncoder(numeric="standardize").fit(table)
    x = enc.transform(table).toarray().ravel()
    np.testing.assert_allclose(x, (np.array([20, 30, 40]) - 30) / np.std([20, 30, 40]), rtol=1e-6)
    assert encode_features(enc.to_dict(), {"age": 30.0}).toarray().tolist() == [[0.0]]


def test_a_number_cell_that_is_no_number_is_named_not_dropped():
    # Before: {"age": "twenty"} (or a year "seventies") was coerced to a missing value,
    # and the new user or item silently lost the feature; the docstrings promise an
    # error naming the column and the row for an unreadable cell.
    table = pd.DataFrame({"age": [20.0, 30.0, 40.0]})
    for numeric in ("bucket", "standardize"):
        spec = FeatureEncoder(numeric=numeric, n_buckets=2).fit(table).to_dict()
        with pytest.raises(ValueError, match=r"'age' of user 'ann' is 'twenty', not a number"):
            encode_features(spec, pd.DataFrame({"age": ["twenty"]}, index=["ann"]), what="user")
        # Text that is a number, and a missing cell, read as before.
        x = encode_features(spec, pd.DataFrame({"age": ["30", None, " "]})).toarray()
        np.testing.assert_array_equal(x[0], encode_features(spec, {"age": 30}).toarray()[0])
        assert not x[1:].any()  # missing, or a blank form field: no value


# ---------------------------------------------------------------------- kernels
def random_rows(rng, n_entities, n_rows, per_row=3):
    """A CSR entity -> feature-row matrix with random weights."""
    rows, cols, vals = [], [], []
    for e in range(n_entities):
        picks = rng.choice(n_rows, size=per_row, replace=False)
        rows += [e] * per_row
        cols += picks.tolist()
        vals += rng.uniform(0.2, 1.0, per_row).tolist()
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n_entities, n_rows), dtype=np.float32)
    X.sort_indices()
    return X


def reference_epoch(loss, users, pos, negs, Xu, Xi, Vu, Vi, b, lr, reg, reg_b, adagrad, pos_csr):
    """Plain NumPy, float64: the same steps written out the obvious way."""
    Vu, Vi, b = Vu.astype(np.float64), Vi.astype(np.float64), b.astype(np.float64)
    Au, Ai, Ab = np.ones_like(Vu), np.ones_like(Vi), np.ones_like(b)
    Xu, Xi = Xu.toarray().astype(np.float64), Xi.toarray().astype(np.float64)
    total = 0.0

    def step(V, A, r, grad):
        if adagrad:
            A[r] += grad**2
            V[r] -= lr * grad / np.sqrt(A[r])
        else:
            V[r] -= lr * grad

    for t, (u, i) in enumerate(zip(users, pos, strict=True)):
        p, qi = Xu[u] @ Vu, Xi[i] @ Vi
        s_i = Xi[i] @ b + p @ qi
        if loss == "bpr":
            j = negs[t]
            qj = Xi[j] @ Vi
            x = s_i - (Xi[j] @ b + p @ qj)
            total += np.logaddexp(0, -x)
            g = 1 / (1 + np.exp(x))
        else:
            g = None
            seen = set(pos_csr[u].indices.tolist())
            for c, j in enumerate(negs[t]):
                if j in seen:
                    continue
                qj = Xi[j] @ Vi
                s_j = Xi[j] @ b + p @ qj
                if s_j > s_i - 1:
                    g = np.log(max(1.0, np.floor((Xi.shape[0] - 1) / (c + 1))))
                    total += g * (1 - s_i + s_j)
                    break
            if g is None:
                continue
        for r in np.flatnonzero(Xu[u]):
            step(Vu, Au, r, -g * Xu[u, r] * (qi - qj) + reg * Vu[r])
        for e, sign in ((i, 1.0), (j, -1.0)):
            for r in np.flatnonzero(Xi[e]):
                step(b, Ab, r, -sign * g * Xi[e, r] + reg_b * b[r])
                step(Vi, Ai, r, -sign * g * Xi[e, r] * p + reg * Vi[r])
    return Vu, Vi, b, total


@pytest.mark.parametrize("loss", ["bpr", "warp"])
@pytest.mark.parametrize("adagrad", [False, True])
def test_kernels_match_reference(loss, adagrad):
    rng = np.random.default_rng(4)
    n_users, n_items, k = 6, 9, 3
    Xu = random_rows(rng, n_users, 8)
    Xi = random_rows(rng, n_items, 11)
    Vu = rng.normal(0, 0.5, (8, k)).astype(np.float32)
    Vi = rng.normal(0, 0.5, (11, k)).astype(np.float32)
    b = rng.normal(0, 0.5, 11).astype(np.float32)
    pos_dense = rng.random((n_users, n_items)) < 0.3
    pos_dense[:, 0] = True
    pos_csr = sp.csr_matrix(pos_dense)
    users = np.repeat(np.arange(n_users), np.diff(pos_csr.indptr)).astype(np.int32)
    items = pos_csr.indices.astype(np.int32)
    order = rng.permutation(users.size).astype(np.int64)
    if loss == "bpr":
        negs = rng.integers(0, n_items, users.size).astype(np.int32)
        ref_negs = negs[order]
    else:
        negs = rng.integers(0, n_items, (users.size, 4)).astype(np.int32)
        ref_negs = negs
    expected = reference_epoch(
        loss,
        users[order],
        items[order],
        ref_negs,
        Xu,
        Xi,
        Vu,
        Vi,
        b,
        0.05,
        0.02,
        0.01,
        adagrad,
        pos_csr,
    )
    got = [Vu.copy(), Vi.copy(), b.copy()]
    acc = (np.ones_like(Vu), np.ones_like(Vi), np.ones((b.size, 1), np.float32))
    rows = (Xu.indptr, Xu.indices, Xu.data, Xi.indptr, Xi.indices, Xi.data)
    hyper = (np.float32(0.05), np.float32(0.02), np.float32(0.01), adagrad, *acc)
    if loss == "bpr":
        total = bpr_feature_epoch(users, items, negs, order, *rows, *got, *hyper)
    else:
        total = warp_feature_epoch(
            users,
            items,
            negs,
            order,
            pos_csr.indptr,
            pos_csr.indices.astype(np.int32),
            n_items - 1,
            *rows,
            *got,
            *hyper,
        )
    for g, e in zip(got, expected[:3], strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
    assert total == pytest.approx(expected[3], rel=1e-4)


def test_one_bpr_step_is_minus_lr_times_the_finite_difference_gradient():
    """A single step equals −η ∇ of −log σ(x) + λ/2 Σ‖rows used‖² (+ λ_b/2 Σ b²)."""
    rng = np.random.default_rng(7)
    k, lr, reg, reg_b = 3, 1e-3, 0.1, 0.05
    # user 0 uses rows {0, 2}; item 0 uses rows {0, 1}, item 1 uses rows {2, 3} (disjoint)
    Xu = sp.csr_matrix(np.array([[0.7, 0, 1.0]], dtype=np.float32))
    Xi = sp.csr_matrix(np.array([[1.0, 0.5, 0, 0], [0, 0, 1.0, 0.25]], dtype=np.float32))
    Vu = rng.normal(0, 0.7, (3, k))
    Vi = rng.normal(0, 0.7, (4, k))
    b = rng.normal(0, 0.7, 4)
    sizes = [Vu.size, Vi.size, b.size]

    def unpack(theta):
        a, c = sizes[0], sizes[0] + sizes[1]
        return theta[:a].reshape(Vu.shape), theta[a:c].reshape(Vi.shape), theta[c:]

    def objective(theta):
        U, V, bb = unpack(theta)
        xu, xi = Xu.toarray(), Xi.toarray()
        p, qi, qj = xu[0] @ U, xi[0] @ V, xi[1] @ V
        x = xi[0] @ bb - xi[1] @ bb + p @ (qi - qj)
        used_u, used_i = [0, 2], [0, 1, 2, 3]
        return (
            np.logaddexp(0, -x)
            + reg / 2 * (U[used_u] ** 2).sum()
            + reg / 2 * (V[used_i] ** 2).sum()
            + reg_b / 2 * (bb[used_i] ** 2).sum()
        )

    theta = np.concatenate([Vu.ravel(), Vi.ravel(), b])
    h = 1e-6
    eye = np.eye(theta.size)
    numeric = np.array(
        [
            (objective(theta + h * eye[n]) - objective(theta - h * eye[n])) / (2 * h)
            for n in range(theta.size)
        ]
    )
    arrays = [Vu.astype(np.float32), Vi.astype(np.float32), b.astype(np.float32)]
    before = np.concatenate([a.ravel().astype(np.float64) for a in arrays])
    none = np.ones((0, k), np.float32)
    bpr_feature_epoch(
        np.array([0], np.int32),
        np.array([0], np.int32),
        np.array([1], np.int32),
        np.array([0], np.int64),
        Xu.indptr,
        Xu.indices,
        Xu.data,
        Xi.indptr,
        Xi.indices,
        Xi.data,
        *arrays,
        np.float32(lr),
        np.float32(reg),
        np.float32(reg_b),
        False,
        none,
        none,
        np.ones((0, 1), np.float32),
    )
    after = np.concatenate([a.ravel().astype(np.float64) for a in arrays])
    # Rows no one used (user row 1) must not move; the rest moved by −η·gradient.
    np.testing.assert_allclose((before - after) / lr, numeric, rtol=2e-3, atol=2e-3)
    assert np.abs(numeric).max() > 0.1  # the check is not vacuous


def test_bpr_loss_helper():
    P = np.array([[1.0, 0.0]], np.float32)
    Q = np.array([[2.0, 0.0], [0.0, 1.0]], np.float32)
    b = np.array([0.5, 0.0], np.float32)
    x = 0.5 + 2.0
    got = bpr_loss(np.array([0]), np.array([0]), np.array([1]), P, Q, b)
    assert got == pytest.approx(np.log1p(np.exp(-x)))


# ---------------------------------------------------------------------- the model
def planted_genres(n_users=40, n_items=30, n_cold=6, seed=0):
    """Each user likes one of two genres and rates only (most of) that genre's items.

    The last ``n_cold`` items have features but no ratings.
    """
    rng = np.random.default_rng(seed)
    item_genre = np.array(["Sci-Fi", "Romance"] * (n_items // 2))
    user_genre = np.array(["Sci-Fi", "Romance"] * (n_users // 2))
    rows = []
    for u in range(n_users):
        for i in range(n_items - n_cold):
            if item_genre[i] == user_genre[u] and rng.random() < 0.7:
                rows.append((u, i, 5.0))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    items = pd.DataFrame(
        {"genres": item_genre, "year": rng.integers(1980, 2000, n_items)}, index=range(n_items)
    )
    users = pd.DataFrame({"taste": user_genre}, index=range(n_users))
    data = Interactions.from_frame(df, item_features=items, user_features=users)
    return data, item_genre, user_genre


def test_cold_items_are_ranked_by_their_features():
    data, item_genre, user_genre = planted_genres()
    model = HybridMF(n_factors=4, n_epochs=40, random_state=0).fit(data)
    cold = np.arange(24, 30)
    assert (data.item_counts()[cold] == 0).all()
    for u in range(data.n_users):
        scores = model.item_bias_[cold] + model.user_factors_[u] @ model.item_factors_[cold].T
        liked = item_genre[cold] == user_genre[u]
        # Every cold item of the user's genre outranks every cold item of the other genre.
        assert scores[liked].min() > scores[~liked].max()
    # recommend() sees the same thing.
    top = model.recommend(0, n=3, items=data.items.ids[cold]).ids
    assert all(item_genre[t] == user_genre[0] for t in top)


def test_cold_item_vectors_equal_vectors_from_features():
    data, _, _ = planted_genres()
    model = HybridMF(n_factors=4, n_epochs=5, random_state=0).fit(data)
    table = data.item_features.iloc[24:30]
    Q, b = model.item_vector_from_features(table)
    np.testing.assert_allclose(Q, model.item_factors_[24:30], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, model.item_bias_[24:30], rtol=1e-5, atol=1e-6)
    q, b0 = model.item_vector_from_features(table.iloc[0])
    assert q.shape == (4,) and b0 == pytest.approx(float(model.item_bias_[24]), abs=1e-6)
    p, pb = model.user_vector_from_features({"taste": "Romance"})
    assert pb == 0.0 and p.shape == (4,)
    assert model.item_feature_names_[:2] == ["genres=Romance", "genres=Sci-Fi"]
    assert model.user_feature_names_ == ["taste=Romance", "taste=Sci-Fi"]


def test_a_new_items_unseen_genre_and_all_missing_features_are_said_not_dropped():
    data, _, _ = planted_genres()
    model = HybridMF(n_factors=4, n_epochs=5, random_state=0).fit(data)
    # A genre the model never saw used to vanish without a word: the vector is then the
    # year's alone, which is what the warning says.
    with pytest.warns(UserWarning, match=r"never saw .*genres \['Western'\]"):
        q, b = model.item_vector_from_features({"genres": "Western", "year": 1990})
    known, kb = model.item_vector_from_features({"genres": None, "year": 1990})
    np.testing.assert_allclose(q, known, rtol=1e-6)  # the unseen label adds nothing
    assert b == pytest.approx(kb)
    # Every cell missing: a zero vector and bias, every score 0, said so.
    table = pd.DataFrame({"genres": [None, "Sci-Fi"], "year": [np.nan, 1985]}, index=[70, 71])
    with pytest.warns(UserWarning, match=r"1 item row\(s\) 70 have no feature"):
        Q, B = model.item_vector_from_features(table)
    assert not Q[0].any() and B[0] == 0 and Q[1].any()
    with pytest.warns(UserWarning) as said:
        model.user_vector_from_features({"taste": "Horror"})
    assert [str(w.message)[:40] for w in said] == [
        "user feature values the model never saw ",
        "1 user row(s) have no feature the model ",
    ]
    assert "taste ['Horror']" in str(said[0].message)


def test_without_ids_the_model_depends_only_on_features():
    data, item_genre, user_genre = planted_genres(seed=3)
    items = data.item_features.copy()
    items["year"] = 1990  # identical features within a genre
    data = Interactions(
        data.users,
        data.items,
        data.matrix,
        rating_scale=None,
        item_features=items,
        user_features=data.user_features,
    )
    model = HybridMF(
        n_factors=4, n_epochs=10, use_item_ids=False, use_user_ids=False, random_state=0
    ).fit(data)
    for genre in ("Sci-Fi", "Romance"):
        same = np.flatnonzero(item_genre == genre)
        np.testing.assert_array_equal(
            model.item_factors_[same], model.item_factors_[same[:1]].repeat(same.size, 0)
        )
        np.testing.assert_array_equal(model.item_bias_[same], model.item_bias_[same[0]])
        people = np.flatnonzero(user_genre == genre)
        np.testing.assert_array_equal(
            model.user_factors_[people], model.user_factors_[people[:1]].repeat(people.size, 0)
        )
    assert not np.allclose(model.item_factors_[0], model.item_factors_[1])  # not all alike


def test_determinism_history_and_validation():
    data, _, _ = planted_genres()
    a = HybridMF(n_factors=3, n_epochs=4, random_state=5).fit(data)
    b = HybridMF(n_factors=3, n_epochs=4, random_state=5).fit(data)
    for name in HybridMF._array_state:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert set(a.history_) >= {"epoch", "train_loss"} and "train_rmse" not in a.history_
    losses = a.history_["train_loss"]
    assert losses[-1] < losses[0]
    from latentrec.data.splits import random_split

    train, valid = random_split(data, 0.2, random_state=0)
    m = HybridMF(n_factors=3, n_epochs=30, loss="bpr", patience=2, random_state=0)
    m.fit(train, valid)
    assert len(m.history_["valid_loss"]) == len(m.history_["epoch"])


def test_bpr_loss_option_learns_the_planted_taste():
    data, item_genre, user_genre = planted_genres(seed=1)
    model = HybridMF(n_factors=4, n_epochs=40, loss="bpr", random_state=0).fit(data)
    cold = np.arange(24, 30)
    scores = model.item_bias_[cold] + model.user_factors_ @ model.item_factors_[cold].T
    liked = item_genre[cold][None, :] == user_genre[:, None]
    assert (
        scores[liked].reshape(len(user_genre), -1).min(1) > np.where(liked, -np.inf, scores).max(1)
    ).all()


def test_save_load_round_trip(tmp_path):
    data, _, _ = planted_genres()
    model = HybridMF(n_factors=3, n_epochs=5, random_state=0).fit(data)
    path = tmp_path / "hybrid.npz"
    model.save(path)
    loaded = latentrec.load(path)
    assert type(loaded) is HybridMF
    for name in HybridMF._array_state:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    assert loaded.item_feature_spec_ == model.item_feature_spec_
    new = {"genres": "Sci-Fi", "year": 1999}
    np.testing.assert_array_equal(
        loaded.item_vector_from_features(new)[0], model.item_vector_from_features(new)[0]
    )
    assert loaded.recommend(0, n=5).ids.tolist() == model.recommend(0, n=5).ids.tolist()


def test_errors():
    data, _, _ = planted_genres()
    plain = Interactions(data.users, data.items, data.matrix)
    with pytest.raises(ValueError, match="use_item_ids=False needs item features"):
        HybridMF(use_item_ids=False, n_epochs=1).fit(plain)
    with pytest.raises(ValueError, match="loss must be one of"):
        HybridMF(loss="squared").fit(data)
    with pytest.raises(ValueError, match="item_features"):
        HybridMF(item_features="genres").fit(data)
    with pytest.raises(ValueError, match="not in the side table"):
        HybridMF(item_features=["nope"], n_epochs=1).fit(data)
    model = HybridMF(n_factors=2, n_epochs=1, user_features=None, random_state=0).fit(data)
    with pytest.raises(ValueError, match="without user features"):
        model.user_vector_from_features({"taste": "Sci-Fi"})
    with pytest.raises(TypeError, match="does not predict ratings"):
        model.predict([0], [0])


def test_feature_refit_is_a_ridge_fit_that_keeps_warm_vectors():
    data, _, _ = planted_genres(seed=2)
    kw = dict(n_factors=3, n_epochs=8, random_state=0)
    joint = HybridMF(feature_refit=None, **kw).fit(data)
    refit = HybridMF(feature_refit=2.0, **kw).fit(data)
    warm_i = data.item_counts() > 0
    # Entities with data keep their vectors exactly; the split id/features changes.
    np.testing.assert_array_equal(refit.item_factors_[warm_i], joint.item_factors_[warm_i])
    np.testing.assert_array_equal(refit.item_bias_[warm_i], joint.item_bias_[warm_i])
    np.testing.assert_array_equal(refit.user_factors_, joint.user_factors_)  # all users warm
    # The item feature rows are the ridge solution on the warm items' vectors and biases.
    F = FeatureEncoder().fit(data.item_features).transform(data.item_features).toarray()
    Y = np.column_stack([joint.item_factors_, joint.item_bias_])[warm_i].astype(np.float64)
    X = F[warm_i]
    W = np.linalg.solve(X.T @ X + 2.0 * np.eye(X.shape[1]), X.T @ Y)
    np.testing.assert_allclose(refit.item_feature_factors_, W[:, :-1], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(refit.item_feature_bias_, W[:, -1], rtol=1e-4, atol=1e-6)
    # Cold items get the refitted feature part.
    np.testing.assert_allclose(
        refit.item_factors_[~warm_i], F[~warm_i] @ W[:, :-1], rtol=1e-4, atol=1e-6
    )
    with pytest.raises(ValueError, match="feature_refit"):
        HybridMF(feature_refit=0).fit(data)


def test_users_with_features_but_no_ratings_get_a_feature_vector():
    data, _, user_genre = planted_genres()
    df = data.to_frame()
    people = data.user_features.copy()
    people.loc[999] = "Sci-Fi"  # a newcomer: features, no ratings
    data = Interactions.from_frame(df, item_features=data.item_features, user_features=people)
    model = HybridMF(n_factors=4, n_epochs=40, random_state=0).fit(data)
    u = data.users.index([999])[0]
    assert data.user_counts()[u] == 0
    p, _ = model.user_vector_from_features({"taste": "Sci-Fi"})
    np.testing.assert_allclose(model.user_factors_[u], p, rtol=1e-5, atol=1e-6)
    assert model._can_personalise(np.array([0, u])).tolist() == [True, True]
    # The newcomer's scores favour Sci-Fi items.
    scores = model.item_bias_ + model.item_factors_ @ p
    genre = data.item_features["genres"].to_numpy()
    assert scores[genre == "Sci-Fi"].mean() > scores[genre == "Romance"].mean()
