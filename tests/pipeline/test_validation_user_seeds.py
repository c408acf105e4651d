"""A user known from the validation slice alone is seeded by their index in
``recommend`` and ``recommend_batch``, as in ``recommend_batch_idx`` and the service.

Their batch holds them as -1 (no model has a training row for them), and ``recommend``
took every -1 of a batch for a stranger, seeding the random stages (``Explore``,
``Thompson``) by their id: on MovieLens-100K the exploration slots of users 142, 631 and
800 in ``latentrec recommend`` were not the service's for the same pipeline file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from latentrec import Interactions
from latentrec.data.splits import temporal_split
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import Explore, Pipeline, Thompson


def test_validation_users_get_one_list_whichever_way_they_are_asked_for():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(80):
        # Users 70 and up arrive late: their cells all fall in the validation slice.
        days = (195, 200) if u >= 70 else (0, 190)
        for i in rng.choice(120, 10, replace=False):
            rows.append((u, int(i), 1.0, int(rng.integers(*days)) * 86400))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "t"])
    data = Interactions.from_frame(frame, timestamp="t")
    train, valid = temporal_split(data, test_size=0.2)
    pipe = Pipeline(
        [ImplicitALS(n_factors=4, random_state=0), Popularity()],
        rerankers=[Explore(0.4, 100), Thompson(0.3, 100)],
        n_candidates=15,
    ).fit(train, validation=valid)
    late = np.flatnonzero(np.diff(pipe.context_.history.indptr) == 0)
    late = late[np.diff(pipe.context_.later.indptr)[late] > 0]
    assert late.size >= 5
    assert pipe.validation_users(late)[0].size == late.size
    ids = pipe.users_.ids[late]
    by_index, _, fallback = pipe.recommend_batch_idx(late, 10)
    assert not fallback.any()
    table = pipe.recommend_batch(ids, 10)
    for row, (uid, idx) in enumerate(zip(ids.tolist(), late.tolist(), strict=True)):
        want = pipe.items_.ids[by_index[row][by_index[row] >= 0]].tolist()
        assert pipe.recommend(uid, 10).ids.tolist() == want, (uid, idx)
        assert table[table.user_id == uid].item_id.tolist() == want
