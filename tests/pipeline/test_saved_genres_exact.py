"""A loaded pipeline reads genres exactly as the one that was saved.

The file keeps which genres each item has; loading rebuilt the items x genres matrix in
float32 where fitting builds it in float64, so an item's share of each of three genres
(1/3) and every genre mix built from it moved by about 1e-8. On MovieLens-100K that was
enough to move a learned ranker's score for one of 105 users' items by 0.03 (its trees
split on the genre match), and Calibrate's objective by as much as its tie tolerance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from latentrec import Interactions
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import Calibrate, Pipeline, load
from latentrec.pipeline.features import candidate_pools
from latentrec.pipeline.history import Histories


def genre_data(seed=0, n_users=40, n_items=30):
    rng = np.random.default_rng(seed)
    rows = [(u, int(i), 1.0) for u in range(n_users) for i in rng.choice(n_items, 8, replace=False)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    names = ["A", "B", "C", "D", "E", "F", "G"]
    # One to three genres each, so shares of 1/3 (not exact in binary) are common.
    genres = [
        "|".join(rng.choice(names, rng.integers(1, 4), replace=False)) for _ in range(n_items)
    ]
    table = pd.DataFrame({"genres": genres}, index=range(n_items))
    return Interactions.from_frame(frame, item_features=table)


def test_the_loaded_context_has_the_fitted_genres_bit_for_bit(tmp_path):
    data = genre_data()
    pipe = Pipeline(
        [ImplicitALS(n_factors=4, random_state=0), Popularity()],
        rerankers=[Calibrate(0.5)],
        n_candidates=20,
    ).fit(data)
    path = tmp_path / "pipe.npz"
    pipe.save(path)
    back = load(path)
    fitted, loaded = pipe.context_, back.context_
    assert np.array_equal(loaded.genre_shares.toarray(), fitted.genre_shares.toarray())
    users = np.arange(data.n_users)
    for row in (0, 7, 31):
        seen = fitted.seen[row].indices
        assert np.array_equal(loaded.genre_mix(seen), fitted.genre_mix(seen))
    # The ranker's features, genre match included, are the same numbers.
    pools = [
        candidate_pools(p.models, p.context_, Histories.stored(p.context_, users), 20)
        for p in (pipe, back)
    ]
    assert np.array_equal(pools[0].items, pools[1].items)
    assert np.array_equal(pools[0].features, pools[1].features, equal_nan=True)
    assert pipe.recommend_batch(data.users.ids, 6).equals(back.recommend_batch(data.users.ids, 6))
