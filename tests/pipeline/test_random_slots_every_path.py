"""The random slots (``Explore``, ``Thompson``) of a pipeline's lists are one draw per user,
whichever way the list is asked for: ``recommend``, ``recommend_batch``,
``recommend_batch_idx`` (for users it knows), the saved and loaded file and the service,
for users with training cells, users known from the validation slice alone and users
the pipeline does not know (by id; ``recommend_batch_idx`` has no id to seed them by).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.data.splits import temporal_split
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import Explore, Pipeline, Thompson
from latentrec.pipeline import load as load_pipeline

pytest.importorskip("fastapi")


def random_pipeline(seed: int) -> Pipeline:
    rng = np.random.default_rng(seed)
    rows = []
    n_users, n_items = 40, 60
    for u in range(n_users):
        # The last users arrive late: all their cells fall in the validation slice.
        days = (195, 200) if u >= n_users - 6 else (0, 190)
        for i in rng.choice(n_items, int(rng.integers(4, 12)), replace=False):
            rows.append((u, int(i), 1.0, int(rng.integers(*days)) * 86400))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "t"])
    data = Interactions.from_frame(frame, timestamp="t")
    train, valid = temporal_split(data, test_size=0.2)
    return Pipeline(
        [ImplicitALS(n_factors=3, random_state=seed), Popularity()],
        # Shares this large put several random items in every list of 10.
        rerankers=[Explore(0.4, 400, random_state=seed), Thompson(0.3, None, random_state=seed)],
        n_candidates=20,
    ).fit(train, validation=valid)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_draw_per_user_through_the_library_the_file_and_the_service(seed, tmp_path):
    from fastapi.testclient import TestClient

    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings
    from latentrec.store import open_store

    pipe = random_pipeline(seed)
    ctx = pipe.context_
    everyone = np.arange(pipe.n_users)
    trained = everyone[np.diff(ctx.history.indptr) > 0]
    late = pipe.validation_users(everyone)[0]
    assert trained.size > 20 and late.size >= 3
    known = np.concatenate([trained, late])
    strangers = [9001, 9002, 777777]
    asked = [*pipe.users_.ids[known].tolist(), *strangers]

    def listed(rec) -> list:
        return [int(x) for x in rec.ids]

    one_by_one = {uid: listed(pipe.recommend(uid, 10)) for uid in asked}
    # The random stages put different items in different users' lists: the check below
    # compares draws, not lists that would be equal whatever the seed.
    assert len({tuple(v) for v in one_by_one.values()}) > len(asked) // 2
    by_index = pipe.recommend_batch_idx(known, 10)[0]
    for row, user in enumerate(known.tolist()):
        want = pipe.items_.ids[by_index[row][by_index[row] >= 0]].tolist()
        assert one_by_one[pipe.users_.ids[user].item()] == want, user
    table = pipe.recommend_batch(np.array(asked), 10)
    for uid in asked:
        assert table[table.user_id == uid].item_id.tolist() == one_by_one[uid], uid
    # Two strangers are two draws, not the one every -1 of recommend_batch_idx gets.
    assert one_by_one[9001] != one_by_one[9002]

    pipe.save(tmp_path / "pipe.npz")
    loaded = load_pipeline(tmp_path / "pipe.npz")
    for uid in asked:
        assert listed(loaded.recommend(uid, 10)) == one_by_one[uid], uid

    # A stranger is one user however the id is spelled, as a known user is: "09001" and
    # 9001.0 were seeded by their spelling, where the service reads /users/09001 as 9001.
    assert pipe.users_.lookup(["012"]).tolist() == pipe.users_.lookup([12]).tolist()
    for spelling in ("09001", " 9001 ", 9001.0, np.int64(9001)):
        assert listed(pipe.recommend(spelling, 10)) == one_by_one[9001], spelling
    assert pipe.recommend_batch(["09001"], 10).item_id.tolist() == one_by_one[9001]

    texts = ["abc", "xyz"]
    with open_store(tmp_path / "ratings.sqlite") as store:
        app = create_app(Settings(), store=store, source=FixedSource(loaded, "v"))
        with TestClient(app) as client:

            def served(uid) -> list:
                body = client.get(f"/users/{uid}/recommendations", params={"n": 10}).json()
                return [int(x["item_id"]) for x in body["items"]]

            for uid in asked:
                assert served(uid) == one_by_one[uid], uid
            assert served("09001") == one_by_one[9001]
            by_service = {text: served(text) for text in texts}
    assert by_service["abc"] != by_service["xyz"]

    # The command: text that is no id of these integer ids is a stranger seeded by that
    # text, as in the service (it was seeded as None: every such text got one draw).
    for uid in [*texts, "09001", *asked[:3], *asked[-5:]]:
        out = CliRunner().invoke(
            main, ["recommend", str(tmp_path / "pipe.npz"), "--user", str(uid), "--json"]
        )
        assert out.exit_code == 0, out.output
        got = [row["item_id"] for row in json.loads(out.output)]
        want = by_service[uid] if uid in texts else one_by_one[asked_as(uid)]
        assert got == want, uid


def asked_as(uid):
    return 9001 if uid == "09001" else uid
