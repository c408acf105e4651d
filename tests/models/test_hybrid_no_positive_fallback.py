"""A HybridMF user whose every rating is below ``min_rating`` gets the popularity list.

Before, any history counted as something to personalise from: such a user (whose vector
the fit leaves at zero, having no positive) got a "personal" list ordered by the item
biases alone, with ``fallback=False``, where other models give a user with no usable
history the popularity list.  The list still leaves out the items they rated.
"""

import numpy as np
import pandas as pd

from latentrec import Interactions
from latentrec.models import HybridMF

MIN = 4.0


def table() -> pd.DataFrame:
    """Users 0-9 rate 3 of items 0-7 (random stars); user 50 gave items 0 and 1 low ones."""
    rng = np.random.default_rng(2)
    rows = [
        (u, int(i), float(rng.choice([1.0, 4.0, 5.0])))
        for u in range(10)
        for i in rng.choice(8, 3, replace=False)
    ]
    rows += [(u, 7, 5.0) for u in range(10) if u % 3 == 0]  # every user but 50 has one
    rows += [(50, 0, 1.0), (50, 1, 2.0)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    return frame.drop_duplicates(["user_id", "item_id"], keep="last")


def popularity_order(frame, model, excluded):
    """Slow reference: items by how many users rated them, ties to the lower index."""
    counts = frame["item_id"].value_counts()
    items = sorted(
        model.items_.ids.tolist(), key=lambda i: (-counts.get(i, 0), model.items_.index([i])[0])
    )
    return [i for i in items if i not in excluded]


def test_a_user_without_a_positive_gets_the_popularity_list_without_their_items():
    frame = table()
    model = HybridMF(n_factors=3, n_epochs=20, min_rating=MIN, random_state=0)
    model.fit(Interactions.from_frame(frame))
    rec = model.recommend(50, n=4)
    assert rec.fallback
    assert rec.ids.tolist() == popularity_order(frame, model, {0, 1})[:4]
    assert np.isnan(rec.scores).all()  # a ranking model has no score for them
    batch = model.recommend_batch([50, 3], n=4)
    mine = batch[batch["user_id"] == 50]
    assert mine["fallback"].all() and mine["item_id"].tolist() == rec.ids.tolist()
    # A user with a positive still gets their own list.
    assert not batch.loc[batch["user_id"] == 3, "fallback"].any()
    idx, _, fallback = model.recommend_batch_idx(model.users_.index([50, 3]), 4)
    assert fallback.tolist() == [True, False]
    assert idx[0].tolist() == model.items_.index(rec.ids).tolist()
    # exclude_seen=False: the shared popularity list, their item 1 among its first four.
    shared = popularity_order(frame, model, set())[:4]
    assert 1 in shared
    assert model.recommend(50, n=4, exclude_seen=False).ids.tolist() == shared


def test_user_features_give_such_a_user_a_vector_and_their_own_list():
    frame = table()
    users = sorted(frame["user_id"].unique())
    people = pd.DataFrame({"gender": ["F" if u % 2 else "M" for u in users]}, index=users)
    data = Interactions.from_frame(frame, user_features=people)
    model = HybridMF(n_factors=3, n_epochs=20, min_rating=MIN, random_state=0).fit(data)
    u = model.users_.index([50])[0]
    assert model.user_factors_[u].any()  # the refitted feature part, as for a cold user
    rec = model.recommend(50, n=4)
    assert not rec.fallback
    assert not {0, 1} & set(rec.ids.tolist())


def test_without_min_rating_every_rater_is_personal():
    model = HybridMF(n_factors=3, n_epochs=20, random_state=0).fit(Interactions.from_frame(table()))
    assert not model.recommend(50, n=4).fallback
