"""A knob at 0 on a saved pipeline adds nothing and removes nothing: the pipeline's own
MMR stage still runs, in ``latentrec recommend --diversity 0`` as in the service's
``diversity=0``, and a knob above 0 is refused by both (a pipeline re-ranks as it was
built)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame

from latentrec import Interactions
from latentrec.cli import main
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import MMR, Pipeline

pytest.importorskip("fastapi")


def test_a_saved_mmr_stage_runs_whatever_the_knob_at_zero(tmp_path):
    from fastapi.testclient import TestClient

    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings
    from latentrec.store import open_store

    data = Interactions.from_frame(cli_ratings_frame(n_users=40, times=False))
    candidates = [ImplicitALS(n_factors=4, random_state=0), Popularity()]
    # lambda 0.2: most of each list is chosen for diversity, so it is not the plain ranking.
    pipe = Pipeline(candidates, rerankers=[MMR(0.2, pool=None)], n_candidates=30).fit(data)
    bare = Pipeline(candidates, n_candidates=30).fit(data)
    path = tmp_path / "pipe.npz"
    pipe.save(path)

    def command(*args):
        out = CliRunner().invoke(main, ["recommend", str(path), "-n", "8", *map(str, args)])
        return out

    users = data.users.ids[:6].tolist()
    differs = 0
    with open_store(tmp_path / "ratings.sqlite") as store:
        app = create_app(Settings(), store=store, source=FixedSource(pipe, "v"))
        with TestClient(app) as client:
            for user in users:
                want = [int(x) for x in pipe.recommend(user, 8).ids]
                differs += want != [int(x) for x in bare.recommend(user, 8).ids]
                for knob in ("--diversity", "--calibrate", "--boost-new"):
                    out = command("-u", user, knob, 0, "--json")
                    assert out.exit_code == 0, out.output
                    assert [r["item_id"] for r in json.loads(out.stdout)] == want
                    query = {"n": 8, knob[2:].replace("-", "_"): 0}
                    body = client.get(f"/users/{user}/recommendations", params=query).json()
                    assert [int(r["item_id"]) for r in body["items"]] == want
            refused = client.get(
                f"/users/{users[0]}/recommendations", params={"n": 8, "diversity": 0.3}
            )
            assert refused.status_code == 422
    assert differs > 0  # the saved stage is seen to run
    out = command("-u", users[0], "--diversity", 0.3)
    assert out.exit_code == 1
    assert out.output == f"Error: {path} is a saved pipeline; it re-ranks as it was built\n"
