"""HybridMF with ``min_rating``: only ratings at or above it are positives, everywhere.

Before: the fit read positives by ``min_rating``, but everything after it read the
seen items, where every training rating is merged whatever its value.  The fold-in took
an item rated only below ``min_rating`` as a negative the fit never drew;
and ``partial_fit_items`` took every rating of every other user as that user's positive
(and kept their low-rated items out of the new item's fans' negatives).  Each is checked
against the kernels run on positive sets built by hand from the ratings, and so are the
positives after partial fits.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from latentrec import Interactions
from latentrec.kernels.hybrid import bpr_item_rows, bpr_rows
from latentrec.models import HybridMF

MIN = 4.0


def ratings() -> pd.DataFrame:
    """Users 0-9 rate items 0-5 at random; item 5 is rated by many, always below MIN."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(10):
        for i in rng.choice(5, 3, replace=False).tolist():
            rows.append((u, i, float(rng.choice([1.0, 2.0, 4.0, 5.0]))))
        if u % 2 == 0:
            rows.append((u, 5, float(rng.choice([1.0, 2.0]))))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def fitted(table=None):
    data = Interactions.from_frame(ratings() if table is None else table)
    model = HybridMF(n_factors=3, n_epochs=20, min_rating=MIN, random_state=0)
    return model.fit(data), data


def positives_by_hand(table, model):
    """Users x items CSR of the cells rated at or above MIN, in the model's indices."""
    good = table[table["rating"] >= MIN]
    u = model.users_.lookup(good["user_id"].to_numpy())
    i = model.items_.lookup(good["item_id"].to_numpy())
    return sp.csr_matrix(
        (np.ones(u.size, np.float32), (u, i)), shape=(model.n_users, model.n_items)
    )


def test_fold_in_draws_negatives_from_items_with_a_positive():
    model, _ = fitted()
    pos = positives_by_hand(ratings(), model)
    with_positive = np.asarray(pos.sum(axis=0)).ravel() > 0
    assert not with_positive[model.items_.index([5])[0]]  # never a positive
    answers = {0: 5.0, 1: 4.0, 2: 1.0}
    got = model.fold_in(answers)
    # By hand: the positives are the answers at or above MIN; negatives every item with
    # a training positive (as the fit drew them), outside the positives.
    liked = np.sort(model.items_.index([0, 1]))
    want = bpr_rows(
        [0, liked.size],
        liked,
        model.item_factors_,
        model.item_bias_,
        with_positive,
        model.regularization,
    )[0]
    np.testing.assert_array_equal(got.factors, want)


def test_partial_fit_items_meets_other_users_positives_only():
    model, _ = fitted()
    pos = positives_by_hand(ratings(), model)
    with_positive = np.asarray(pos.sum(axis=0)).ravel() > 0
    fans = [1, 3]
    want_bias, want_q = bpr_item_rows(
        [0, len(fans)],
        np.sort(model.users_.index(fans)),
        model.user_factors_,
        model.item_factors_,
        model.item_bias_,
        pos,
        with_positive,
        model.regularization,
        model.bias_regularization,
    )
    new = pd.DataFrame({"user_id": fans, "item_id": 100, "rating": 5.0})
    model.partial_fit_items(new)
    at = model.items_.index([100])[0]
    np.testing.assert_array_equal(model.item_factors_[at], want_q[0])
    assert model.item_bias_[at] == want_bias[0]


def test_positives_carry_through_partial_fits():
    model, _ = fitted()
    # Training user 4 is replaced by a history of positives (as onboard gives them);
    # newcomer 100 arrives with two.
    table = pd.DataFrame({"user_id": [4, 4, 100, 100], "item_id": [0, 5, 0, 1], "rating": 5.0})
    model.partial_fit_users(table)
    # By hand: the training ratings at or above MIN, user 4's replaced by the table's.
    kept = ratings()[ratings()["user_id"] != 4]
    extended = pd.concat([kept, table], ignore_index=True)
    pos = positives_by_hand(extended, model)
    assert (model.positive_seen() != pos).nnz == 0
    with_positive = np.asarray(pos.sum(axis=0)).ravel() > 0
    assert with_positive[model.items_.index([5])[0]]  # user 4 likes item 5 now
    want_bias, want_q = bpr_item_rows(
        [0, 1],
        model.users_.index([3]),
        model.user_factors_,
        model.item_factors_,
        model.item_bias_,
        pos,
        with_positive,
        model.regularization,
        model.bias_regularization,
    )
    model.partial_fit_items(pd.DataFrame({"user_id": [3], "item_id": [101], "rating": 5.0}))
    at = model.items_.index([101])[0]
    np.testing.assert_array_equal(model.item_factors_[at], want_q[0])
    assert model.item_bias_[at] == want_bias[0]
    # And the item's fan has it as a positive, as fit would.
    assert model.positive_seen()[model.users_.index([3])[0], at] == 1


def test_positives_survive_a_save_and_load(tmp_path):
    model, _ = fitted()
    path = tmp_path / "hybrid.npz"
    model.save(path)
    from latentrec import load

    again = load(path)
    answers = {0: 5.0, 1: 4.0, 2: 1.0}
    np.testing.assert_array_equal(again.fold_in(answers).factors, model.fold_in(answers).factors)


def test_a_model_file_from_before_the_positives_reads_every_seen_cell_as_one(tmp_path):
    from latentrec import load
    from latentrec.io.modelfile import read_archive, write_archive

    model, _ = fitted()
    path = tmp_path / "old.npz"
    model.save(path)
    manifest, arrays = read_archive(path)
    del arrays["state.positive_cells_"]
    write_archive(path, manifest, arrays)
    old = load(path)
    assert (old.positive_seen() != old.seen_).nnz == 0
    answers = {0: 5.0, 1: 4.0}
    liked = np.sort(old.items_.index([0, 1]))
    want = bpr_rows(
        [0, liked.size],
        liked,
        old.item_factors_,
        old.item_bias_,
        np.asarray(old.item_popularity_) > 0,
        old.regularization,
    )[0]
    np.testing.assert_array_equal(old.fold_in(answers).factors, want)
