"""Item k-NN with baselines against a direct NumPy implementation of the formulas."""

import numpy as np
import pytest
from conftest import random_ratings

import latentrec
from latentrec import Interactions
from latentrec.models import Biases
from latentrec.models.knn import ItemKNN


def dense(data):
    R = data.matrix.toarray().astype(np.float64)
    mask = np.zeros(R.shape, dtype=bool)
    mask[data.user_idx, data.item_idx] = True
    return R, mask


def reference_similarity(R, mask, b, shrinkage, min_support=1):
    """Shrunk Pearson of baseline residuals over co-raters, pair by pair."""
    E = np.where(mask, R - b, 0.0)
    n = R.shape[1]
    S = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            common = mask[:, i] & mask[:, j]
            f = common.sum()
            if i == j or f < max(2, min_support):
                continue
            den = np.sqrt((E[common, i] ** 2).sum() * (E[common, j] ** 2).sum())
            if den > 0:
                S[i, j] = (E[common, i] * E[common, j]).sum() / den * (f - 1) / (f - 1 + shrinkage)
    return S


def kept(S, m):
    """S restricted to the m largest positive entries of each row (ties: lower index)."""
    out = np.zeros_like(S)
    for i in range(S.shape[0]):
        order = np.lexsort((np.arange(S.shape[1]), -S[i]))
        top = [j for j in order if S[i, j] > 0][:m]
        out[i, top] = S[i, top]
    return out


def reference_predictions(R, mask, b, S, k, min_k):
    """r̂_ui = b_ui + Σ s_ij (r_uj − b_uj) / Σ s_ij over the k most similar items u rated."""
    out = b.copy()
    for u in range(R.shape[0]):
        for i in range(R.shape[1]):
            cand = [j for j in np.flatnonzero(mask[u]) if S[i, j] > 0]
            cand.sort(key=lambda j: (-S[i, j], j))
            nb = cand[:k]
            if len(nb) >= max(min_k, 1):
                w = S[i, nb]
                out[u, i] += w @ (R[u, nb] - b[u, nb]) / w.sum()
    return out


def baseline_matrix(model, data):
    return (
        model.global_mean_
        + model.user_bias_.astype(np.float64)[:, None]
        + model.item_bias_.astype(np.float64)[None, :]
    )


def all_predictions(model, data):
    users = np.repeat(data.users.ids, data.n_items)
    items = np.tile(data.items.ids, data.n_users)
    return model.predict(users, items).reshape(data.n_users, data.n_items)


@pytest.fixture(scope="module")
def data():
    return random_ratings(n_users=40, n_items=15, density=0.45, seed=11)


@pytest.mark.parametrize("shrinkage", [0.0, 100.0])
def test_similarity_equals_direct_shrunk_pearson(data, shrinkage):
    model = ItemKNN(shrinkage=shrinkage, max_neighbors=1000, num_threads=1).fit(data)
    R, mask = dense(data)
    S = reference_similarity(R, mask, baseline_matrix(model, data), shrinkage)
    got = model.similarity_.toarray()
    np.testing.assert_allclose(got, np.where(S > 0, S, 0.0), rtol=1e-5, atol=1e-7)
    # Rows are stored best first, and only positive similarities are kept.
    for i in range(data.n_items):
        row = model.sim_data_[model.sim_indptr_[i] : model.sim_indptr_[i + 1]]
        assert (np.diff(row) <= 0).all() and (row > 0).all()


def test_min_support_zeroes_pairs_with_few_co_raters(data):
    model = ItemKNN(shrinkage=0.0, min_support=12, max_neighbors=1000).fit(data)
    R, mask = dense(data)
    S = reference_similarity(R, mask, baseline_matrix(model, data), 0.0, min_support=12)
    np.testing.assert_allclose(model.similarity_.toarray(), np.where(S > 0, S, 0), atol=1e-6)
    assert model.sim_indptr_[-1] < ItemKNN(shrinkage=0.0).fit(data).sim_indptr_[-1]


def test_baselines_are_the_biases_model(data):
    model = ItemKNN(bias_regularization=5.0, user_bias_regularization=3.0, bias_epochs=4)
    model.fit(data)
    ref = Biases(regularization=5.0, user_regularization=3.0, n_epochs=4).fit(data)
    assert model.global_mean_ == ref.global_mean_
    np.testing.assert_array_equal(model.user_bias_, ref.user_bias_)
    np.testing.assert_array_equal(model.item_bias_, ref.item_bias_)


@pytest.mark.parametrize(
    ("k", "min_k", "max_neighbors"), [(40, 1, 1000), (3, 1, 1000), (2, 3, 1000), (4, 1, 5)]
)
def test_predictions_equal_direct_formula(data, k, min_k, max_neighbors):
    model = ItemKNN(k=k, min_k=min_k, shrinkage=10.0, max_neighbors=max_neighbors).fit(data)
    R, mask = dense(data)
    b = baseline_matrix(model, data)
    S = kept(reference_similarity(R, mask, b, 10.0), max_neighbors)
    expected = reference_predictions(R, mask, b, S, k, min_k)
    np.testing.assert_allclose(all_predictions(model, data), expected, rtol=1e-5, atol=1e-5)


def test_truncation_keeps_the_most_similar(data):
    full = ItemKNN(shrinkage=10.0, max_neighbors=1000).fit(data).similarity_.toarray()
    model = ItemKNN(shrinkage=10.0, max_neighbors=4).fit(data)
    np.testing.assert_allclose(model.similarity_.toarray(), kept(full, 4), rtol=1e-6)
    assert (np.diff(model.sim_indptr_) <= 4).all()


def test_two_pass_path_for_large_catalogues_gives_the_same_neighbours(data, monkeypatch):
    import latentrec.models.knn as knn

    padded = ItemKNN(shrinkage=10.0, max_neighbors=4).fit(data)
    everything = ItemKNN(shrinkage=10.0, max_neighbors=None).fit(data)
    monkeypatch.setattr(knn, "_PADDED_SLOTS", 0)
    for ref, cap in ((padded, 4), (everything, None)):
        two_pass = ItemKNN(shrinkage=10.0, max_neighbors=cap).fit(data)
        np.testing.assert_array_equal(two_pass.sim_indptr_, ref.sim_indptr_)
        np.testing.assert_array_equal(two_pass.sim_indices_, ref.sim_indices_)
        np.testing.assert_array_equal(two_pass.sim_data_, ref.sim_data_)
    assert everything.sim_indptr_[-1] == (everything.similarity_.toarray() > 0).sum()


def test_score_block_equals_predict_for_every_cell(data):
    model = ItemKNN(k=3, shrinkage=10.0, max_neighbors=6).fit(data)
    scores = model._score_block(np.arange(data.n_users, dtype=np.int32))
    assert scores.dtype == np.float32 and scores.shape == (data.n_users, data.n_items)
    np.testing.assert_allclose(scores, all_predictions(model, data), rtol=1e-6, atol=1e-6)


def test_unknown_ids_and_min_k_fall_back_to_the_baseline(data):
    model = ItemKNN(min_k=1000).fit(data)
    np.testing.assert_allclose(
        all_predictions(model, data), baseline_matrix(model, data), rtol=1e-6
    )
    model = ItemKNN().fit(data)
    got = model.predict(["nobody", data.users.ids[0]], [data.items.ids[2], 999], unknown="baseline")
    assert got[0] == pytest.approx(model.global_mean_ + model.item_bias_[2])
    assert got[1] == pytest.approx(model.global_mean_ + model.user_bias_[0])


def test_results_do_not_depend_on_threads(data):
    a = ItemKNN(shrinkage=10.0, num_threads=1).fit(data)
    b = ItemKNN(shrinkage=10.0).fit(data)
    np.testing.assert_array_equal(a.sim_indices_, b.sim_indices_)
    np.testing.assert_array_equal(a.sim_data_, b.sim_data_)
    np.testing.assert_array_equal(all_predictions(a, data), all_predictions(b, data))


def test_matches_surprise_knnbaseline_on_unrated_cells(data):
    surprise = pytest.importorskip("surprise")
    df = data.to_frame()
    trainset = surprise.Dataset.load_from_df(
        df[["user_id", "item_id", "rating"]], surprise.Reader(rating_scale=(1, 5))
    ).build_full_trainset()
    algo = surprise.KNNBaseline(
        k=5,
        sim_options={"name": "pearson_baseline", "user_based": False, "shrinkage": 20},
        verbose=False,
    ).fit(trainset)
    model = ItemKNN(k=5, shrinkage=20.0).fit(data)
    R, mask = dense(data)
    users, items = np.nonzero(~mask)
    u_ids, i_ids = data.users.ids[users], data.items.ids[items]
    theirs = np.array(
        [algo.predict(u, i, clip=False).est for u, i in zip(u_ids, i_ids, strict=True)]
    )
    np.testing.assert_allclose(model.predict(u_ids, i_ids), theirs, rtol=1e-5, atol=1e-5)


def test_similar_items_reads_the_neighbour_lists(data):
    model = ItemKNN(shrinkage=0.0, max_neighbors=3).fit(data)
    item = data.items.ids[4]
    ids, scores = model.similar_items(item, n=10)
    lo, hi = model.sim_indptr_[4], model.sim_indptr_[5]
    assert ids.tolist() == data.items.ids[model.sim_indices_[lo:hi]].tolist()
    np.testing.assert_array_equal(scores, model.sim_data_[lo:hi])
    assert item not in ids
    rest = model.similar_items(item, n=10, filter_items=ids[:1]).ids
    assert rest.tolist() == ids[1:].tolist()
    only = model.similar_items(item, n=10, items=np.concatenate([ids[1:2], [item]])).ids
    assert only.tolist() == ids[1:2].tolist()


def test_clear_structure_on_hand_made_data():
    # Items 0 and 1 move together, 2 and 3 together, the pairs against each other.
    R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5], [5, 0, 1, 2]])
    model = ItemKNN(shrinkage=0.0).fit(Interactions.from_dense(R))
    assert model.similar_items(0, n=1).ids.tolist() == [1]
    assert model.similar_items(2, n=1).ids.tolist() == [3]
    # User 4 loved item 0, so item 1 (0's neighbour) beats item 3.
    top = model.recommend(4, n=1).ids.tolist()
    assert top == [1]


def test_bad_parameters_are_named(data):
    for name, value in [("k", 0), ("min_k", -1), ("shrinkage", -1.0), ("max_neighbors", 0)]:
        with pytest.raises(ValueError, match=name):
            ItemKNN(**{name: value}).fit(data)


def test_save_load_round_trip(data, tmp_path):
    model = ItemKNN(k=5, max_neighbors=7).fit(data)
    model.save(tmp_path / "knn.npz")
    loaded = latentrec.load(tmp_path / "knn.npz")
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(all_predictions(loaded, data), all_predictions(model, data))
    users = data.users.ids[:6]
    assert loaded.recommend_batch(users, n=4).equals(model.recommend_batch(users, n=4))
