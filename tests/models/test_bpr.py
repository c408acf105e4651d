"""BPR and WARP: one step against a plain-Python reference, sampling, ranking quality, fold-in."""

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from two_threads import on_two_threads

import latentrec
from latentrec import Interactions
from latentrec.data.splits import user_split
from latentrec.evaluation import evaluate_ranking
from latentrec.evaluation.metrics import ndcg_at_k
from latentrec.kernels import bpr as K
from latentrec.models import FactorModel
from latentrec.models.bpr import BPR, WARP

# ---------------------------------------------------------------------- helpers


def planted(n_users=60, n_items=40, p_in=0.5, p_out=0.03, seed=0) -> Interactions:
    """Two clusters: even users mostly use even items, odd users odd items."""
    rng = np.random.default_rng(seed)
    same = (np.arange(n_users)[:, None] % 2) == (np.arange(n_items)[None, :] % 2)
    R = (rng.random((n_users, n_items)) < np.where(same, p_in, p_out)).astype(np.float32)
    # every user keeps a few in-cluster items so the split leaves something on both sides
    for u in range(n_users):
        R[u, (u % 2) + 2 * rng.choice(n_items // 2, 4, replace=False)] = 1.0
    return Interactions.from_dense(R)


def one_triple_setup(k=3, seed=0):
    """Factors of one user and 3 items; :func:`run_one_step` gives the user items 0 and 1."""
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 0.5, (1, k)).astype(np.float32)
    Q = rng.normal(0, 0.5, (3, k)).astype(np.float32)
    b = rng.normal(0, 0.5, 3).astype(np.float32)
    return P, Q, b


def read_only(*arrays):
    """Make ``arrays`` read-only, as a model's training matrix is: numba compiles a kernel
    once per argument type, and writable ones would compile a version no model runs."""
    for a in arrays:
        a.flags.writeable = False


def run_one_step(loss_kind, P, Q, b, lr, reg, use_bias=True, adagrad=False, cell=1, state=None):
    """One step of the training kernel on the triple (user 0, item ``cell``, item 2).

    The user holds items 0 and 1 of 3, so item 2 is the only negative: the step is fixed.
    """
    indptr, indices, cell_user = (
        np.array([0, 2], np.int32),
        np.array([0, 1], np.int32),
        np.array([0, 0], np.int32),
    )
    read_only(indptr, indices)
    k = P.shape[1]
    n_acc = 1 if adagrad else 0
    if state is not None and "acc" in state:
        acc = state["acc"]
    else:
        acc = (
            np.ones((n_acc, k), np.float32),
            np.ones((3 * n_acc, k), np.float32),
            np.ones((3 * n_acc, 1), np.float32),
        )
    if state is not None:
        state["acc"] = acc
    m = (P, Q, b, *acc)
    opts = (np.float32(lr), np.float32(reg), use_bias, adagrad)
    out = np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
    K.pairwise_epoch(
        indptr,
        indices,
        cell_user,
        m,
        opts,
        loss_kind,
        np.array([cell], dtype=np.int64),
        10,
        K.warp_rank_weights(3),
        K.seed_states(np.random.default_rng(0), 1),
        *out,
    )
    return out


def reference_bpr_step(p, qi, qj, bi, bj, lr, reg, use_bias=True):
    """Rendle's LearnBPR update, plain Python in float64."""
    x = (bi - bj if use_bias else 0.0) + p @ (qi - qj)
    z = 1.0 / (1.0 + math.exp(x))
    p2 = p + lr * (z * (qi - qj) - reg * p)
    qi2 = qi + lr * (z * p - reg * qi)
    qj2 = qj + lr * (-z * p - reg * qj)
    if use_bias:
        bi, bj = bi + lr * (z - reg * bi), bj + lr * (-z - reg * bj)
    return p2, qi2, qj2, bi, bj, -math.log(1.0 / (1.0 + math.exp(-x)))


# ---------------------------------------------------------------------- one step


@pytest.mark.parametrize("use_bias", [True, False])
def test_bpr_step_matches_plain_python_reference(use_bias):
    P, Q, b = one_triple_setup()
    if not use_bias:
        b[:] = 0
    p, qi, qj = (x.astype(np.float64) for x in (P[0], Q[1], Q[2]))
    exp = reference_bpr_step(p, qi, qj, float(b[1]), float(b[2]), 0.05, 0.01, use_bias)
    loss, correct, used = run_one_step(K.BPR, P, Q, b, 0.05, 0.01, use_bias)
    np.testing.assert_allclose(P[0], exp[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Q[1], exp[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Q[2], exp[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b[1:], exp[3:5], rtol=1e-5, atol=1e-6)
    assert used[0] == 1 and loss[0] == pytest.approx(exp[5], rel=1e-5)
    assert Q[0].tolist() == one_triple_setup()[1][0].tolist()  # item 0 was not in the triple


def test_bpr_step_is_gradient_ascent_on_ln_sigmoid_checked_by_finite_differences():
    """(θ' − θ) / lr equals ∇θ [ln σ(x_uij) − reg/2 ‖θ‖²] computed by central differences."""
    P, Q, b = one_triple_setup(k=4, seed=3)
    k, lr, reg = 4, 1e-2, 0.02
    theta = np.concatenate([P[0], Q[1], Q[2], b[1:3]]).astype(np.float64)

    def objective(t):
        p, qi, qj, bi, bj = t[:k], t[k : 2 * k], t[2 * k : 3 * k], t[3 * k], t[3 * k + 1]
        x = bi - bj + p @ (qi - qj)
        return -math.log1p(math.exp(-x)) - 0.5 * reg * (t @ t)

    h = 1e-6
    grad = np.array(
        [
            (objective(theta + h * e) - objective(theta - h * e)) / (2 * h)
            for e in np.eye(theta.size)
        ]
    )
    run_one_step(K.BPR, P, Q, b, lr, reg)
    after = np.concatenate([P[0], Q[1], Q[2], b[1:3]]).astype(np.float64)
    np.testing.assert_allclose((after - theta) / lr, grad, atol=2e-4)


def test_adagrad_steps_match_a_plain_python_reference():
    """AdaGrad as in LightFM: step lr·d / sqrt(G) with G the sum of earlier d² (from 1)."""
    P, Q, b = one_triple_setup(seed=5)
    theta = [P[0].astype(np.float64), Q[1].astype(np.float64), Q[2].astype(np.float64)]
    bias = [float(b[1]), float(b[2])]
    G = [np.ones(3), np.ones(3), np.ones(3)]
    Gb = [1.0, 1.0]
    lr, reg = 0.1, 0.01
    state: dict = {}  # the kernel's accumulators, carried from step to step
    for _ in range(3):
        p, qi, qj = theta
        x = bias[0] - bias[1] + p @ (qi - qj)
        z = 1 / (1 + math.exp(x))
        d = [z * (qi - qj) - reg * p, z * p - reg * qi, -z * p - reg * qj]
        db = [z - reg * bias[0], -z - reg * bias[1]]
        theta = [t + lr * g / np.sqrt(a) for t, g, a in zip(theta, d, G, strict=True)]
        bias = [t + lr * g / math.sqrt(a) for t, g, a in zip(bias, db, Gb, strict=True)]
        G = [a + g * g for a, g in zip(G, d, strict=True)]
        Gb = [a + g * g for a, g in zip(Gb, db, strict=True)]
        run_one_step(K.BPR, P, Q, b, lr, reg, adagrad=True, state=state)
    for got, exp in zip((P[0], Q[1], Q[2]), theta, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(b[1:], bias, rtol=1e-5, atol=1e-7)


def test_warp_step_takes_the_weighted_hinge_step_on_a_violating_negative():
    P, Q, b = one_triple_setup(seed=1)
    Q[2] = Q[1]  # the negative ties the positive: the margin is broken at the first draw
    b[2] = b[1]
    p, qi, qj = (x.astype(np.float64) for x in (P[0], Q[1], Q[2]))
    lr, reg = 0.05, 0.01
    w = K.warp_rank_weights(3)[(3 - 1) // 1]  # N = 1 draw
    loss, correct, used = run_one_step(K.WARP, P, Q, b, lr, reg)
    np.testing.assert_allclose(P[0], p + lr * (w * (qi - qj) - reg * p), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(Q[1], qi + lr * (w * p - reg * qi), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(Q[2], qj + lr * (-w * p - reg * qj), rtol=1e-5, atol=1e-7)
    assert loss[0] == pytest.approx(w * 1.0, rel=1e-6) and correct[0] == 0


def test_warp_takes_no_step_when_no_negative_breaks_the_margin():
    P, Q, b = one_triple_setup(seed=2)
    b[1], b[2] = 10.0, -10.0  # s(u, 1) − s(u, 2) is far above the margin of 1
    before = P.copy(), Q.copy(), b.copy()
    loss, correct, used = run_one_step(K.WARP, P, Q, b, 0.05, 0.01)
    for got, exp in zip((P, Q, b), before, strict=True):
        assert np.array_equal(got, exp)
    assert loss[0] == 0.0 and correct[0] == 1 and used[0] == 1


def test_warp_weight_follows_the_number_of_draws():
    """Items 0..n-3 positive, n-2 harmless, n-1 violating: the step's weight is L((n-1)//N)."""
    n, k, lr = 12, 2, 0.01
    weights = K.warp_rank_weights(n)
    allowed = {float(weights[(n - 1) // d]) for d in range(1, 11)}
    indptr = np.array([0, n - 2], dtype=np.int32)
    indices = np.arange(n - 2, dtype=np.int32)
    cell_user = np.zeros(n - 2, dtype=np.int32)
    read_only(indptr, indices)
    seen = set()
    for seed in range(40):
        P = np.zeros((1, k), np.float32)
        Q = np.zeros((n, k), np.float32)
        b = np.zeros(n, np.float32)
        b[n - 2], b[n - 1] = -5.0, 0.5  # only item n-1 breaks the margin of positive 0
        e = np.zeros((0, k), np.float32)
        m = (P, Q, b, e, e, np.zeros((0, 1), np.float32))
        out = np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
        opts = (np.float32(lr), np.float32(0.0), True, False)
        states = K.seed_states(np.random.default_rng(seed), 1)
        K.pairwise_epoch(
            indptr, indices, cell_user, m, opts, K.WARP, np.array([0]), 10, weights, states, *out
        )
        w = float(b[0]) / lr
        if w == 0.0:
            continue  # ten draws of the harmless item: no step
        match = [a for a in allowed if abs(a - w) < 1e-4]
        assert match, (w, sorted(allowed))
        seen.add(match[0])
    assert float(weights[n - 1]) in seen and len(seen) >= 3  # N = 1 and several N > 1


def test_rank_weights_are_harmonic_sums():
    weights = K.warp_rank_weights(60)
    for k in range(60):
        exact = sum((Fraction(1, m) for m in range(1, k + 1)), Fraction(0))
        assert weights[k] == pytest.approx(float(exact), rel=1e-12, abs=0)
    assert K.warp_rank_weights(1).tolist() == [0.0]


# ---------------------------------------------------------------------- negative sampling


@st.composite
def csr_rows(draw):
    n = draw(st.integers(1, 40))
    rows = draw(
        st.lists(st.sets(st.integers(0, n - 1), max_size=n).map(sorted), min_size=1, max_size=6)
    )
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int32)
    indices = np.array([x for r in rows for x in r], dtype=np.int32)
    return n, rows, indptr, indices


@settings(max_examples=150, deadline=None)
@given(csr_rows(), st.integers(0, 2**32))
def test_negative_sampling_never_returns_a_positive(case, seed):
    n, rows, indptr, indices = case
    which = np.repeat(np.arange(len(rows), dtype=np.int32), 30)
    out = K.sample_negatives(
        indptr, indices, which, n, K.seed_states(np.random.default_rng(seed), 1)
    )
    for r, j in zip(which, out, strict=True):
        if len(rows[r]) == n:
            assert j == -1
        else:
            assert 0 <= j < n and j not in rows[r]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 60), unique=True, max_size=40).map(sorted), st.data())
def test_kth_absent_matches_a_python_reference(row, data):
    n = 61
    absent = [x for x in range(n) if x not in set(row)]
    r = data.draw(st.integers(0, len(absent) - 1))
    got = K._kth_absent(np.array(row, dtype=np.int32), 0, len(row), r)
    assert got == absent[r]


def test_negatives_of_a_dense_row_are_uniform_over_the_complement():
    """A row holding 95 of 100 items forces the exact draw after failed rejections."""
    n = 100
    row = np.setdiff1d(np.arange(n), [3, 40, 41, 77, 99]).astype(np.int32)
    indptr = np.array([0, row.size], dtype=np.int32)
    draws = K.sample_negatives(
        indptr, row, np.zeros(20_000, np.int32), n, K.seed_states(np.random.default_rng(1), 1)
    )
    values, counts = np.unique(draws, return_counts=True)
    assert values.tolist() == [3, 40, 41, 77, 99]
    chi2 = ((counts - 4000) ** 2 / 4000).sum()
    assert chi2 < 18.5  # 99.9% quantile of chi-square with 4 degrees of freedom


# ---------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def split():
    return user_split(planted(), 0.25, random_state=0)


def random_ndcg(train, test, k=5, reps=20, oracle=False):
    """Mean NDCG@k of random rankings (or, with ``oracle``, of in-cluster items first)."""
    rng = np.random.default_rng(0)
    users = np.flatnonzero(test.user_counts() > 0)
    seen = train.matrix[users].toarray() > 0
    same = (users[:, None] % 2) == (np.arange(train.n_items)[None, :] % 2)
    out = []
    for _ in range(reps):
        scores = rng.random(seen.shape) + (same if oracle else 0)
        scores[seen] = -1
        out.append(ndcg_at_k(np.argsort(-scores, axis=1)[:, :k], test.matrix[users], k))
    return float(np.mean(out))


MODELS = {
    "BPR": lambda **kw: BPR(n_factors=8, n_epochs=60, random_state=0, num_threads=1, **kw),
    "BPR-sgd": lambda **kw: BPR(
        n_factors=8, n_epochs=60, optimizer="sgd", random_state=0, num_threads=1, **kw
    ),
    "WARP": lambda **kw: WARP(n_factors=8, n_epochs=30, random_state=0, num_threads=1, **kw),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_auc_increases_on_planted_data(name, split):
    train, _ = split
    h = MODELS[name]().fit(train).history_
    assert len(h["train_auc"]) == len(h["epoch"]) == len(h["train_loss"])
    assert h["train_auc"][0] < 0.8 < np.mean(h["train_auc"][-5:])
    assert np.mean(h["train_loss"][-5:]) < h["train_loss"][0]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_held_out_positives_rank_far_above_random(name, split):
    train, test = split
    model = MODELS[name]().fit(train)
    got = evaluate_ranking(model, test, k=5)["ndcg"]
    low, high = random_ndcg(train, test), random_ndcg(train, test, oracle=True)
    # about 0.14 and 0.35 here: the planted clusters are all there is to learn
    assert got > low + 0.75 * (high - low), (got, low, high)


def test_validation_auc_is_recorded(split):
    train, test = split
    model = BPR(n_factors=8, n_epochs=60, random_state=0, num_threads=1).fit(train, test)
    auc = model.history_["valid_auc"]
    # a random negative is as often as not an unseen item of the user's own cluster, so
    # about 0.75 is the most the planted structure allows
    assert len(auc) == 60 and auc[-1] > 0.65 and auc[-1] > auc[0] + 0.15, auc


@pytest.mark.parametrize("cls", [BPR, WARP])
def test_seed_and_one_thread_give_identical_models(cls, split):
    train, _ = split
    a = cls(n_factors=4, n_epochs=5, random_state=7, num_threads=1).fit(train)
    b = cls(n_factors=4, n_epochs=5, random_state=7, num_threads=1).fit(train)
    c = cls(n_factors=4, n_epochs=5, random_state=8, num_threads=1).fit(train)
    for name in FactorModel._array_state:
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.history_["train_loss"] == b.history_["train_loss"]
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_scores_are_item_bias_plus_dot_product(split):
    train, _ = split
    model = BPR(n_factors=4, n_epochs=5, random_state=0).fit(train)
    assert model.global_mean_ == 0.0 and not model.user_bias_.any()
    assert model.item_bias_.any()
    u = train.users.ids[0]
    ids, scores = model.recommend(u, n=3)
    idx = train.items.index(ids)
    expected = model.item_bias_[idx] + model.item_factors_[idx] @ model.user_factors_[0]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    e = model.explain(u, ids[0])
    assert e.prediction == pytest.approx(float(scores[0]), rel=1e-5)
    with pytest.raises(TypeError, match="does not predict ratings"):
        model.predict([u], [ids[0]])
    assert not BPR(n_factors=4, n_epochs=2, item_bias=False).fit(train).item_bias_.any()


@pytest.mark.parametrize("cls", [BPR, WARP])
def test_save_load_round_trip(cls, split, tmp_path):
    train, _ = split
    model = cls(n_factors=4, n_epochs=3, random_state=0).fit(train)
    path = tmp_path / "m.npz"
    model.save(path)
    back = latentrec.load(path)
    assert type(back) is cls and back.get_params() == model.get_params()
    for name in FactorModel._array_state:
        assert np.array_equal(getattr(back, name), getattr(model, name))
    users = train.users.ids[:5]
    assert back.recommend_batch(users, n=4).equals(model.recommend_batch(users, n=4))


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"optimizer": "adam"}, "optimizer"),
        ({"num_threads": 0}, "num_threads"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"item_bias": "yes"}, "item_bias"),
        ({"n_factors": 0}, "n_factors"),
    ],
)
def test_bad_hyperparameters_are_named(params, fragment, split):
    with pytest.raises(ValueError, match=fragment):
        BPR(**params).fit(split[0])
    with pytest.raises(ValueError, match="max_sampled"):
        WARP(max_sampled=0).fit(split[0])


def test_divergence_is_reported_with_the_fix(split):
    with pytest.raises(FloatingPointError, match="learning_rate"):
        BPR(
            n_factors=4,
            n_epochs=20,
            learning_rate=1e6,
            regularization=1.0,
            optimizer="sgd",
            random_state=0,
        ).fit(split[0])


# ---------------------------------------------------------------------- fold-in


def user_rows(data):
    X = data.matrix
    return X.indptr, X.indices, X.data


def ranking_ndcg(user_vecs, model, train, test, k=5):
    users = np.flatnonzero(test.user_counts() > 0)
    scores = user_vecs[users] @ model.item_factors_.T + model.item_bias_
    scores[train.matrix[users].toarray() > 0] = -np.inf
    return float(ndcg_at_k(np.argsort(-scores, axis=1)[:, :k], test.matrix[users], k))


@pytest.mark.parametrize("cls", [BPR, WARP])
def test_user_fold_in_recovers_a_comparable_vector(cls, split):
    train, test = split
    model = cls(n_factors=8, n_epochs=40, random_state=0, num_threads=1).fit(train)
    before = [getattr(model, n).copy() for n in FactorModel._array_state]
    bias, vecs = model._solve_user_rows(*user_rows(train))
    for name, arr in zip(FactorModel._array_state, before, strict=True):
        assert np.array_equal(getattr(model, name), arr)  # pure
    assert bias.shape == (train.n_users,) and not bias.any()
    assert vecs.shape == model.user_factors_.shape and vecs.dtype == np.float32
    folded = ranking_ndcg(vecs, model, train, test)
    trained = ranking_ndcg(model.user_factors_, model, train, test)
    low, high = random_ndcg(train, test), random_ndcg(train, test, oracle=True)
    assert folded > trained - 0.05 and folded > low + 0.75 * (high - low), (folded, trained)
    again = model._solve_user_rows(*user_rows(train))[1]
    assert np.array_equal(vecs, again)  # seeded


def check_fold_in_does_not_depend_on_the_thread_count():
    train, _ = user_split(planted(), 0.25, random_state=0)
    by_item = train.matrix.T.tocsr()
    for cls in (BPR, WARP):
        model = cls(n_factors=6, n_epochs=5, random_state=0, num_threads=1).fit(train)
        one_u = model._solve_user_rows(*user_rows(train))
        one_i = model._solve_item_rows(by_item.indptr, by_item.indices, by_item.data)
        model.set_params(num_threads=2)
        two_u = model._solve_user_rows(*user_rows(train))
        two_i = model._solve_item_rows(by_item.indptr, by_item.indices, by_item.data)
        for one, two in zip(one_u + one_i, two_u + two_i, strict=True):
            np.testing.assert_array_equal(one, two)
        assert one_u[1].any() and one_i[1].any()


def test_fold_in_does_not_depend_on_the_thread_count():
    # kernels/bpr.py: each row has its own generator, so 1 and 2 threads agree exactly.
    on_two_threads(check_fold_in_does_not_depend_on_the_thread_count)


def test_user_fold_in_of_an_empty_row_is_zero(split):
    model = BPR(n_factors=4, n_epochs=3, random_state=0).fit(split[0])
    bias, vecs = model._solve_user_rows(np.array([0, 0]), np.array([], int), np.array([]))
    assert vecs.shape == (1, 4) and not vecs.any() and not bias.any()
    with pytest.raises(ValueError, match="item index 999"):
        model._solve_user_rows(np.array([0, 1]), np.array([999]), np.array([1.0]))


@pytest.mark.parametrize("cls", [BPR, WARP])
def test_item_fold_in_ranks_the_items_users_first(cls):
    """Hide two items' columns in training, then fold them in from their users."""
    data = planted(seed=1)
    hidden = np.array([0, 1])  # item 0 (even cluster) and item 1 (odd cluster)
    keep = ~np.isin(data.item_idx, hidden)
    train = data.subset(keep)
    model = cls(n_factors=8, n_epochs=40, random_state=0, num_threads=1).fit(train)
    cols = data.matrix.tocsc()[:, hidden]
    bias, vecs = model._solve_item_rows(cols.indptr, cols.indices, cols.data)
    assert bias.shape == (2,) and vecs.shape == (2, 8)
    scores = model.user_factors_ @ vecs.T + bias
    oracle = (np.arange(data.n_users)[:, None] % 2 == hidden[None, :] % 2).astype(float)

    def auc(s, c):  # the item's users above the other users, ties counting one half
        is_user = np.isin(np.arange(s.size), cols.indices[cols.indptr[c] : cols.indptr[c + 1]])
        pos, neg = s[is_user][:, None], s[~is_user][None, :]
        return (pos > neg).mean() + 0.5 * (pos == neg).mean()

    for c in range(2):
        # most of what knowing each user's cluster gives (oracle about 0.92 and 0.82 here;
        # the order inside a cluster is noise, where the oracle's ties count one half)
        assert auc(scores[:, c], c) > 0.5 + 0.6 * (auc(oracle[:, c], c) - 0.5), c
        same = oracle[:, c] == 1
        separation = (scores[same, c][:, None] > scores[~same, c][None, :]).mean()
        assert separation > 0.9, (c, separation)


def test_public_fold_in_uses_the_hook(split):
    train, _ = split
    model = BPR(n_factors=4, n_epochs=10, random_state=0).fit(train)
    items = train.items.ids[train.matrix[0].indices]
    vec = model.fold_in(list(items))
    expected = model._solve_user_rows(
        np.array([0, len(items)]), train.matrix[0].indices, np.ones(len(items))
    )[1][0]
    np.testing.assert_allclose(vec.factors, expected)
    assert vec.bias == 0.0


@pytest.mark.parametrize("cls", [BPR, WARP])
def test_partial_fit_adds_users_and_items_of_the_right_cluster(cls):
    data = planted(seed=1)
    model = cls(n_factors=8, n_epochs=40, random_state=0).fit(data)
    even_items = [0, 2, 4, 6, 8, 10]
    model.partial_fit_users(pd.DataFrame({"user_id": [1000] * 6, "item_id": even_items}))
    top = model.recommend(1000, n=5).ids
    assert len(top) == 5 and all(i % 2 == 0 for i in top) and not set(top) & set(even_items)
    model.partial_fit_items(pd.DataFrame({"user_id": list(range(0, 24, 2)), "item_id": 500}))
    x = model.items_.index([500])[0]
    scores = model.user_factors_ @ model.item_factors_[x] + model.item_bias_[x]
    assert scores[:60:2].mean() > scores[1:60:2].mean() + 0.5
    assert all(i % 2 == 0 for i in model.similar_items(500, n=4).ids)
