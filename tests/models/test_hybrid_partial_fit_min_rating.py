"""HybridMF's partial fits read raw ratings by ``min_rating``, as its fit does.

Before: ``partial_fit_users`` and ``partial_fit_items`` took every row as a positive, so a
new user's 1-star rating pulled their vector towards the item and made it their positive
(and an item's 1-star raters were counted among its fans).  Each solve is checked against
the kernels run on positive sets built by hand from the ratings; the rows below
``min_rating`` are seen only, as in training.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from latentrec import Interactions
from latentrec.kernels.hybrid import bpr_item_rows, bpr_rows
from latentrec.models import HybridMF

MIN = 4.0


def ratings() -> pd.DataFrame:
    """Users 0-11 rate 4 of items 0-7 at random, from 1 to 5 stars."""
    rng = np.random.default_rng(1)
    rows = [
        (u, int(i), float(rng.integers(1, 6)))
        for u in range(12)
        for i in rng.choice(8, 4, replace=False)
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def fitted():
    data = Interactions.from_frame(ratings(), rating_scale=(1, 5))
    return HybridMF(n_factors=3, n_epochs=20, min_rating=MIN, random_state=0).fit(data)


def by_hand(table: pd.DataFrame, model, at_least=MIN) -> sp.csr_matrix:
    """Users x items CSR of ones on the cells of ``table`` rated at least ``at_least``."""
    good = table[table["rating"] >= at_least]
    u = model.users_.lookup(good["user_id"].to_numpy())
    i = model.items_.lookup(good["item_id"].to_numpy())
    return sp.csr_matrix(
        (np.ones(u.size, np.float32), (u, i)), shape=(model.n_users, model.n_items)
    )


def test_partial_fit_users_takes_the_ratings_at_or_above_min_rating_as_positives():
    model = fitted()
    before = by_hand(ratings(), model)
    with_positive = np.asarray(before.sum(axis=0)).ravel() > 0
    Q, b = model.item_factors_.copy(), model.item_bias_.copy()
    # User 4 is replaced; 100 is new with a mix; 101 is new and liked nothing.
    table = pd.DataFrame(
        {
            "user_id": [4, 4, 4, 100, 100, 100, 100, 101, 101],
            "item_id": [0, 1, 2, 3, 5, 6, 7, 0, 1],
            "rating": [1.0, 5.0, 4.0, 5.0, 1.0, 2.0, 4.0, 3.0, 1.0],
        }
    )
    model.partial_fit_users(table)
    # By hand: the training positives, user 4's replaced by the table's.
    kept = ratings()[ratings()["user_id"] != 4]
    want = by_hand(pd.concat([kept, table], ignore_index=True), model)
    assert (model.positive_seen() != want).nnz == 0
    for user, liked in ((4, [1, 2]), (100, [3, 7]), (101, [])):
        u = model.users_.index([user])[0]
        seen = table.loc[table["user_id"] == user, "item_id"].to_numpy()
        # Every row is seen, the low ones too: never recommended back.
        assert sorted(model.seen_[u].indices.tolist()) == sorted(model.items_.index(seen).tolist())
        pos = np.sort(model.items_.index(liked)).astype(np.int32)
        # Negatives: the items with a training positive, as the fit drew them.
        vector = bpr_rows([0, pos.size], pos, Q, b, with_positive, model.regularization)[0]
        np.testing.assert_array_equal(model.user_factors_[u], vector)
    assert not model.user_factors_[model.users_.index([101])[0]].any()
    assert model.recommend(101, n=3).fallback


def test_partial_fit_users_equals_fold_in_of_the_same_ratings():
    model = fitted()
    answers = {3: 5.0, 5: 1.0, 6: 2.0, 7: 4.0}
    folded = model.fold_in(answers).factors
    model.partial_fit_users(
        pd.DataFrame({"user_id": 100, "item_id": list(answers), "rating": list(answers.values())})
    )
    np.testing.assert_array_equal(model.user_factors_[model.users_.index([100])[0]], folded)


def test_partial_fit_items_counts_the_fans_at_or_above_min_rating_only():
    model = fitted()
    pos = by_hand(ratings(), model)
    with_positive = np.asarray(pos.sum(axis=0)).ravel() > 0
    table = pd.DataFrame({"user_id": [1, 3, 5, 7], "item_id": 100, "rating": [5.0, 1.0, 4.0, 2.0]})
    fans = np.sort(model.users_.index([1, 5]))
    want_bias, want_q = bpr_item_rows(
        [0, fans.size],
        fans,
        model.user_factors_,
        model.item_factors_,
        model.item_bias_,
        pos,
        with_positive,
        model.regularization,
        model.bias_regularization,
    )
    model.partial_fit_items(table)
    j = model.items_.index([100])[0]
    np.testing.assert_array_equal(model.item_factors_[j], want_q[0])
    assert model.item_bias_[j] == want_bias[0]
    want = by_hand(pd.concat([ratings(), table], ignore_index=True), model)
    assert (model.positive_seen() != want).nnz == 0
    assert sorted(model.seen_[:, j].nonzero()[0].tolist()) == sorted(
        model.users_.index([1, 3, 5, 7]).tolist()
    )


def test_rows_without_a_rating_follow_the_fold_in_rule():
    # Trained on stars: an event (no rating column) is a positive, as fold_in reads a list.
    model = fitted()
    model.partial_fit_users(pd.DataFrame({"user_id": 100, "item_id": [3, 7]}))
    u = model.users_.index([100])[0]
    np.testing.assert_array_equal(model.positive_seen()[u].indices, model.items_.index([3, 7]))
    np.testing.assert_array_equal(model.user_factors_[u], model.fold_in([3, 7]).factors)
    # Trained on plays with min_rating=3: an event is one play, below it, seen only; a
    # play count is read as the fit read one.
    data = Interactions.from_frame(ratings(), implicit=True)
    model = HybridMF(n_factors=3, n_epochs=5, min_rating=3, random_state=0).fit(data)
    model.partial_fit_users(pd.DataFrame({"user_id": 100, "item_id": [3, 7]}))
    model.partial_fit_users(pd.DataFrame({"user_id": 101, "item_id": [3, 7], "rating": [5, 1]}))
    got = model.positive_seen()
    assert got[model.users_.index([100])[0]].nnz == 0
    np.testing.assert_array_equal(
        got[model.users_.index([101])[0]].indices, model.items_.index([3])
    )
    assert model.recommend(100, n=2).fallback and not model.recommend(101, n=2).fallback


def test_raw_ratings_are_still_checked_against_the_scale():
    model = fitted()
    with pytest.raises(ValueError, match="rating scale 1-5"):
        model.partial_fit_users(pd.DataFrame({"user_id": 100, "item_id": [3], "rating": [9.0]}))
    with pytest.raises(ValueError, match="rating scale 1-5"):
        model.partial_fit_items(pd.DataFrame({"user_id": [1], "item_id": 100, "rating": [0.0]}))
    assert 100 not in model.users_.ids.tolist()


def test_without_min_rating_every_row_is_a_positive():
    data = Interactions.from_frame(ratings(), rating_scale=(1, 5))
    model = HybridMF(n_factors=3, n_epochs=5, random_state=0).fit(data)
    model.partial_fit_users(pd.DataFrame({"user_id": 100, "item_id": [3, 5], "rating": [5, 1]}))
    u = model.users_.index([100])[0]
    np.testing.assert_array_equal(model.positive_seen()[u].indices, model.items_.index([3, 5]))
