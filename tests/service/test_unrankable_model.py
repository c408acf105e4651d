"""A model whose scores cannot order items (GlobalMean) is refused when the service loads
it, as the library and the CLI refuse its lists.  The service used to serve it: every
user's recommendations and onboarding page were the catalogue in index order, all
scored μ, marked personal (``fallback: false``)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from latentrec.errors import CannotRankError
from latentrec.models import Biases, GlobalMean
from latentrec.service.app import create_app
from latentrec.service.holder import DirectorySource, FixedSource
from latentrec.service.settings import Settings
from latentrec.service.versions import ModelDirectory

REFUSAL = "cannot serve this model: GlobalMean gives every item the same score"


@pytest.fixture(scope="module")
def global_mean(planted_data):
    return GlobalMean().fit(planted_data)


def test_a_model_file_that_cannot_rank_is_refused_at_start(global_mean, store, tmp_path):
    path = tmp_path / "global-mean.npz"
    global_mean.save(path)
    with pytest.raises(CannotRankError, match=REFUSAL):
        create_app(Settings(model_path=str(path)), store=store)
    with pytest.raises(CannotRankError, match=REFUSAL):
        create_app(Settings(), store=store, source=FixedSource(global_mean))


def test_serve_says_so_in_one_line(global_mean, tmp_path):
    path = tmp_path / "global-mean.npz"
    global_mean.save(path)
    args = ["serve", "--model", str(path), "--store", str(tmp_path / "s.sqlite"), "--port", "0"]
    # A process with a time limit: a serve that accepted the model would serve for good.
    result = subprocess.run(
        [sys.executable, "-m", "latentrec", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert output.startswith("Error: " + REFUSAL)
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


def test_a_model_that_ranks_by_item_bias_is_served(planted_data, make_client):
    model = Biases().fit(planted_data)
    client = make_client(model)
    body = client.get("/users/3/recommendations", params={"n": 3}).json()
    assert body["fallback"] is False
    assert [x["item_id"] for x in body["items"]] == [str(x) for x in model.recommend(3, 3).ids]


def test_a_new_version_that_cannot_rank_is_not_switched_to(
    explicit_model, global_mean, store, tmp_path, caplog
):
    md = ModelDirectory(tmp_path / "models")
    md.publish(explicit_model)
    source = DirectorySource(md)
    app = create_app(Settings(poll_seconds=3600), store=store, source=source)
    with TestClient(app, raise_server_exceptions=False) as client:
        md.publish(global_mean)
        reads = []
        load_current = md.load_current
        md.load_current = lambda: reads.append(1) or load_current()
        with caplog.at_level(logging.WARNING, logger="latentrec.service"):
            client.app.state.refresher.tick()
            client.app.state.refresher.tick()
        said = [r.getMessage() for r in caplog.records if REFUSAL in r.getMessage()]
        assert len(said) == 1 and "keeping the served model v000001" in said[0], said
        # The refusal is kept for the unchanged file: it is not read again every round.
        assert len(reads) == 1
        r = client.post("/admin/reload")
        assert r.status_code == 409 and REFUSAL in r.json()["detail"]
        assert "still serving v000001" in r.json()["detail"]
        body = client.get("/users/3/recommendations", params={"n": 3}).json()
        assert body["model_version"] == "v000001" and not body["fallback"]
        assert [x["item_id"] for x in body["items"]] == [
            str(x) for x in explicit_model.recommend(3, n=3).ids
        ]
        onboard = client.post(
            "/users/newbie/onboarding", json={"answers": [{"item_id": "100", "rating": 5}]}
        )
        assert onboard.status_code == 200 and onboard.json()["model_version"] == "v000001"
        assert client.get("/health").json()["model_version"] == "v000001"
