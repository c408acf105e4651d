"""Model versions while serving: reloads, the directory poll, retraining, metrics."""

import logging
import os
import sys
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from latentrec.models import BiasedMF
from latentrec.service.app import create_app
from latentrec.service.schedule import RetrainSchedule
from latentrec.service.settings import Settings
from latentrec.service.versions import ModelDirectory


@pytest.fixture
def model_dir(tmp_path, explicit_model):
    md = ModelDirectory(tmp_path / "models")
    md.publish(explicit_model, note="first")
    return md


@pytest.fixture
def other_model(planted_data):
    """A second model over the same data (another version to publish); another ``seed``
    gives another model."""
    return lambda seed=1: BiasedMF(n_factors=2, n_epochs=30, random_state=seed).fit(planted_data)


def dir_client(model_dir, store):
    app = create_app(Settings(model_dir=str(model_dir.path), poll_seconds=3600), store=store)
    return TestClient(app, raise_server_exceptions=False)


def test_admin_reload_swaps_in_the_new_current_version(model_dir, store, other_model):
    with dir_client(model_dir, store) as client:
        assert client.get("/health").json()["model_version"] == "v000001"
        unchanged = client.post("/admin/reload").json()
        assert unchanged["reloaded"] is False and unchanged["model_version"] == "v000001"
        second = other_model()
        model_dir.publish(second)
        r = client.post("/admin/reload").json()
        assert r == {"model_version": "v000002", "reloaded": True, "previous_version": "v000001"}
        body = client.get("/users/3/recommendations", params={"n": 5}).json()
        assert body["model_version"] == "v000002"
        assert [x["item_id"] for x in body["items"]] == [
            str(x) for x in second.recommend(3, n=5).ids
        ]
        model_dir.rollback()
        assert client.post("/admin/reload").json()["model_version"] == "v000001"


def test_the_refresher_follows_the_directory(model_dir, store, other_model):
    with dir_client(model_dir, store) as client:
        model_dir.publish(other_model())
        client.app.state.refresher.tick()
        assert client.get("/health").json()["model_version"] == "v000002"
        metrics = client.get("/metrics").text
        assert 'latentrec_model_info{version="v000002"} 1.0' in metrics
        assert "v000001" not in metrics
        assert "latentrec_model_reloads_total 1.0" in metrics


def test_a_folded_user_is_refolded_against_the_new_version(model_dir, store, other_model):
    with dir_client(model_dir, store) as client:
        client.post("/ratings", json={"user_id": "ann", "item_id": "100", "rating": 5})
        second = other_model()
        model_dir.publish(second)
        client.post("/admin/reload")
        vec = second.fold_in({100: 5.0})
        banned = np.zeros(second.n_items, bool)
        banned[second.items_.index([100])] = True
        top, _ = second.recommend_vectors([vec.bias], vec.factors[None], 5, filter_items=banned)
        body = client.get("/users/ann/recommendations", params={"n": 5}).json()
        assert [x["item_id"] for x in body["items"]] == [str(second.items_.ids[i]) for i in top[0]]


def own_lists(model) -> dict:
    """What ``model`` itself lists first for each reader of the test below: user 3 (in its
    data), "ann" (folded in from her one rating of item 100), "new" (unknown: popularity)."""
    vec = model.fold_in({100: 5.0})
    banned = np.zeros(model.n_items, bool)
    banned[model.items_.index([100])] = True
    top, _ = model.recommend_vectors([vec.bias], vec.factors[None], 5, filter_items=banned)
    return {
        "3": [str(x) for x in model.recommend(3, n=5).ids],
        "ann": [str(model.items_.ids[i]) for i in top[0]],
        "new": [str(x) for x in model.recommend("new", n=5).ids],
    }


def test_requests_keep_succeeding_while_versions_swap(
    model_dir, store, explicit_model, other_model
):
    """Reader threads hammer the app while the main thread publishes and reloads: every
    answer is 200, names a version that was current at some point, and lists what that
    version itself recommends (never one version's name over another's items)."""
    versions = {"v000001"}
    expected = {"v000001": own_lists(explicit_model)}
    with dir_client(model_dir, store) as client:
        client.post("/ratings", json={"user_id": "ann", "item_id": "100", "rating": 5})
        stop = threading.Event()
        seen, failures, answers = [], [], []

        def reader(user):
            while not stop.is_set():
                r = client.get(f"/users/{user}/recommendations", params={"n": 5})
                if r.status_code != 200:
                    failures.append(r.text)
                else:
                    body = r.json()
                    seen.append(body["model_version"])
                    answers.append(
                        (body["model_version"], user, [x["item_id"] for x in body["items"]])
                    )

        threads = [threading.Thread(target=reader, args=(u,)) for u in ("ann", "3", "new")]
        for t in threads:
            t.start()
        try:
            for seed in (1, 2, 3):
                # Each version its own seed, so that their lists differ.
                model = other_model(seed)
                expected[name := model_dir.publish(model).name] = own_lists(model)
                versions.add(name)
                assert client.post("/admin/reload").json()["reloaded"] is True
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert failures == []
    assert set(seen) <= versions and len(set(seen)) >= 2
    assert len({str(lists) for lists in expected.values()}) == len(expected)
    for version, user, items in answers:
        assert items == expected[version][user], (version, user)


def test_metrics_report_routes_model_store_and_fold_ins(client):
    client.post("/ratings", json={"user_id": "ann", "item_id": "100", "rating": 5})
    client.get("/users/ann/recommendations")
    client.get("/users/nobody/recommendations")
    text = client.get("/metrics").text
    assert (
        'latentrec_http_requests_total{method="GET",route="/users/{user_id}/recommendations",'
        'status="200"} 2.0' in text
    )
    assert 'latentrec_http_request_duration_seconds_bucket{le="0.025",method="GET"' in text
    assert 'latentrec_model_info{version="v-test"} 1.0' in text
    assert 'latentrec_store_rows{kind="ratings"} 1.0' in text
    assert "latentrec_fold_ins_total 1.0" in text
    assert "latentrec_fallbacks_total 1.0" in text
    assert "latentrec_model_age_seconds" in text


@pytest.mark.slow
def test_schedule_runs_a_real_retrain_in_a_child_process(tmp_path, store, planted_data):
    """The schedule's command retrains on the store in a child process and, if the
    candidate is not worse, publishes it."""
    store.import_interactions(planted_data)
    md = ModelDirectory(tmp_path / "models")
    md.publish(BiasedMF(n_factors=2, n_epochs=10, random_state=0).fit(planted_data))
    schedule = RetrainSchedule(store.url, str(md.path), every=3600)
    summary = schedule.run_once()
    assert schedule.failures == 0 and summary is not None
    if summary["published"]:
        assert md.current().name == summary["version"] == "v000002"
    else:
        assert md.current().name == "v000001" and summary["reason"]


def test_schedule_runs_on_time_and_survives_failed_rounds(caplog):
    """Rounds alternate between a child that fails and one that reports; the thread
    keeps running them on schedule."""
    script = (
        "import json, os, sys; p = sys.argv[1]; n = int(open(p).read() or 0) "
        "if os.path.exists(p) else 0; open(p, 'w').write(str(n + 1)); "
        "sys.exit('boom') if n % 2 == 0 else print(json.dumps({'published': False, "
        "'version': None, 'reason': 'round %d' % n}))"
    )
    import tempfile

    counter = os.path.join(tempfile.mkdtemp(), "n")
    schedule = RetrainSchedule(
        "unused",
        "unused",
        every=0.2,
        first_after=0.0,
        command=[sys.executable, "-c", script, counter],
    )
    with caplog.at_level(logging.INFO, logger="latentrec.service"):
        schedule.start()
        deadline = time.monotonic() + 30
        while schedule.runs < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        schedule.stop(timeout=30)
    assert schedule.runs >= 4 and schedule.failures >= 2
    assert schedule.last["reason"].startswith("round ")
    assert any("scheduled retrain failed: boom" in r.getMessage() for r in caplog.records)
