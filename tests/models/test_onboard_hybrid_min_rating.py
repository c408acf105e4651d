"""onboard(user_id=...) on a HybridMF with ``min_rating``: the answers go to
``partial_fit_users`` as given, which reads them as the fit read its ratings.

Before, onboard handed it the values it had already read (1.0 for each liked answer)
and left the answers below ``min_rating`` out: the added user's seen items lacked them,
so a later ``recommend`` for that user offered back the items they had rated one star.
Read again by a partial fit that applies ``min_rating``, the 1.0s would be below it.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from latentrec import Interactions
from latentrec.kernels.hybrid import bpr_rows
from latentrec.models import BiasedMF, HybridMF
from latentrec.onboarding import onboard

MIN = 4.0


def model_and_ratings():
    rng = np.random.default_rng(3)
    rows = [
        (u, int(i), float(rng.integers(1, 6)))
        for u in range(15)
        for i in rng.choice(10, 4, replace=False)
    ]
    table = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    data = Interactions.from_frame(table, rating_scale=(1, 5))
    model = HybridMF(n_factors=3, n_epochs=20, min_rating=MIN, random_state=0).fit(data)
    return model, table


def test_an_onboarded_user_is_the_fold_in_of_their_answers_low_ones_seen_only():
    model, table = model_and_ratings()
    good = table[table["rating"] >= MIN]
    pos = sp.csr_matrix(
        (
            np.ones(len(good)),
            (model.users_.index(good["user_id"]), model.items_.index(good["item_id"])),
        ),
        shape=(model.n_users, model.n_items),
    )
    with_positive = np.asarray(pos.sum(axis=0)).ravel() > 0
    answers = {1: 5.0, 2: 1.0, 4: 4.0, 6: 2.0}
    alone = onboard(model, answers, n=10)
    added = onboard(model, answers, n=10, user_id=500)
    assert not added.fallback
    np.testing.assert_array_equal(added.ids, alone.ids)
    u = model.users_.index([500])[0]
    # By hand: the positives are the answers at or above MIN; negatives every item with
    # a training positive.
    liked = np.sort(model.items_.index([1, 4])).astype(np.int32)
    want = bpr_rows(
        [0, liked.size],
        liked,
        model.item_factors_,
        model.item_bias_,
        with_positive,
        model.regularization,
    )[0]
    np.testing.assert_array_equal(model.user_factors_[u], want)
    assert sorted(model.positive_seen()[u].indices.tolist()) == liked.tolist()
    # Every answer is seen: a later list never offers one back, the one-star ones included.
    assert sorted(model.seen_[u].indices.tolist()) == sorted(model.items_.index([1, 2, 4, 6]))
    later = model.recommend(500, n=model.n_items).ids.tolist()
    assert not {1, 2, 4, 6} & set(later)
    assert len(later) == model.n_items - 4


def test_a_list_of_liked_items_adds_a_user_with_those_positives():
    model, _ = model_and_ratings()
    alone = onboard(model, [3, 8], n=5)
    added = onboard(model, [3, 8], n=5, user_id=501)
    np.testing.assert_array_equal(added.ids, alone.ids)
    u = model.users_.index([501])[0]
    assert sorted(model.positive_seen()[u].indices.tolist()) == sorted(model.items_.index([3, 8]))
    np.testing.assert_array_equal(model.user_factors_[u], model.fold_in([3, 8]).factors)


def test_a_rating_model_onboards_as_before():
    # The answers as given are what onboard gave a rating model already.
    _, table = model_and_ratings()
    data = Interactions.from_frame(table, rating_scale=(1, 5))
    model = BiasedMF(n_factors=2, n_epochs=30, random_state=0).fit(data)
    answers = {1: 5.0, 2: 1.0, 4: 4.0}
    vector = model.fold_in(answers)
    added = onboard(model, answers, n=4, user_id=502)
    u = model.users_.index([502])[0]
    np.testing.assert_allclose(model.user_factors_[u], vector.factors, rtol=1e-6)
    assert model.user_bias_[u] == np.float32(vector.bias)
    np.testing.assert_array_equal(added.ids, model.recommend(502, n=4).ids)
