"""Models that cannot order items, beyond a plain GlobalMean at start
(test_unrankable_model.py): a pipeline whose candidates all cannot, and a model file
replaced on disk by such a model.

A pipeline of GlobalMean candidates was served (its lists the catalogue in index order,
marked personal) where a plain GlobalMean is refused; it is now refused alike, at start,
on a directory switch and by ``/admin/reload``.  A ``--model FILE`` replaced by such a
model was read and hashed again every poll round (only the log line was kept once); the
refusal is now kept for that file until the file changes, as a model directory keeps it.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

import latentrec.service.holder as holder_module
from latentrec.errors import CannotRankError
from latentrec.models import BiasedMF, GlobalMean, Popularity
from latentrec.pipeline import Pipeline
from latentrec.service.app import create_app
from latentrec.service.holder import DirectorySource, FileSource, FixedSource
from latentrec.service.settings import Settings
from latentrec.service.versions import ModelDirectory

PIPELINE_REFUSAL = "cannot serve this pipeline: none of its candidate models can order items"
MODEL_REFUSAL = "cannot serve this model: GlobalMean gives every item the same score"


@pytest.fixture(scope="module")
def flat_pipeline(planted_data):
    return Pipeline([GlobalMean(), GlobalMean()]).fit(planted_data)


@pytest.fixture(scope="module")
def mixed_pipeline(planted_data):
    return Pipeline([GlobalMean(), Popularity()]).fit(planted_data)


def refusals(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_a_pipeline_whose_candidates_cannot_rank_is_refused_at_start(
    flat_pipeline, planted_data, store, tmp_path
):
    with pytest.raises(CannotRankError, match=PIPELINE_REFUSAL) as err:
        create_app(Settings(), store=store, source=FixedSource(flat_pipeline))
    assert "(GlobalMean, GlobalMean)" in str(err.value) and "use Popularity" in str(err.value)
    alone = Pipeline([GlobalMean()]).fit(planted_data)
    path = tmp_path / "pipe.npz"
    alone.save(path)
    with pytest.raises(CannotRankError, match=PIPELINE_REFUSAL):
        create_app(Settings(model_path=str(path)), store=store)


def test_one_candidate_that_ranks_is_enough(mixed_pipeline, make_client):
    client = make_client(mixed_pipeline)
    body = client.get("/users/3/recommendations", params={"n": 4}).json()
    assert body["fallback"] is False
    assert [x["item_id"] for x in body["items"]] == [
        str(x) for x in mixed_pipeline.recommend(3, 4).ids
    ]


def test_a_new_directory_version_that_is_such_a_pipeline_is_not_switched_to(
    explicit_model, flat_pipeline, store, tmp_path, caplog
):
    md = ModelDirectory(tmp_path / "models")
    md.publish(explicit_model)
    app = create_app(Settings(poll_seconds=3600), store=store, source=DirectorySource(md))
    with TestClient(app, raise_server_exceptions=False) as client:
        md.publish(flat_pipeline)
        reads = []
        load_current = md.load_current
        md.load_current = lambda: reads.append(1) or load_current()
        with caplog.at_level(logging.WARNING, logger="latentrec.service"):
            for _ in range(3):
                client.app.state.refresher.tick()
        said = refusals(caplog, PIPELINE_REFUSAL)
        assert len(said) == 1 and "keeping the served model v000001" in said[0], said
        assert len(reads) == 1
        r = client.post("/admin/reload")
        assert r.status_code == 409 and PIPELINE_REFUSAL in r.json()["detail"]
        assert "still serving v000001" in r.json()["detail"]
        body = client.get("/users/3/recommendations", params={"n": 3}).json()
        assert body["model_version"] == "v000001" and not body["fallback"]


@pytest.mark.parametrize("kind", ["model", "pipeline", "popularity"])
def test_a_model_file_replaced_by_one_that_cannot_rank_is_read_once(
    kind, explicit_model, flat_pipeline, planted_data, store, tmp_path, caplog, monkeypatch
):
    path = tmp_path / "model.npz"
    explicit_model.save(path)
    app = create_app(Settings(model_path=str(path), poll_seconds=3600), store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        served = client.get("/health").json()["model_version"]
        refused = {
            "model": lambda: GlobalMean().fit(planted_data),
            "pipeline": lambda: flat_pipeline,
            # No fold-in (CannotServeError): refused, kept and said as the others are.
            "popularity": lambda: Popularity().fit(planted_data),
        }[kind]()
        refused.save(path)
        reads = []
        load = holder_module.load
        monkeypatch.setattr(holder_module, "load", lambda p: reads.append(p) or load(p))
        refresher = client.app.state.refresher
        text = {
            "model": MODEL_REFUSAL,
            "pipeline": PIPELINE_REFUSAL,
            "popularity": "the service needs a factor model (one with fold-in), got Popularity",
        }[kind]
        with caplog.at_level(logging.WARNING, logger="latentrec.service"):
            for _ in range(4):
                refresher.tick()
        assert len(reads) == 1, reads
        said = refusals(caplog, text)
        assert len(said) == 1 and f"keeping the served model {served}" in said[0], said
        assert text in client.get("/health").json()["reload_error"]
        # Asked by hand, it is refused with the kept reason, still without a read.
        r = client.post("/admin/reload", params={"force": "true"})
        assert r.status_code == 409 and text in r.json()["detail"], r.text
        assert len(reads) == 1
        assert client.get("/health").json()["model_version"] == served
        # A model that ranks, saved over it, is read and served at the next round.
        BiasedMF(n_factors=2, n_epochs=5, random_state=1).fit(planted_data).save(path)
        refresher.tick()
        assert len(reads) == 2
        now = client.get("/health").json()
        assert now["model_version"] != served and now["reload_error"] is None


def test_a_refused_file_put_back_with_its_old_times_is_read_again(
    explicit_model, planted_data, tmp_path, monkeypatch
):
    """The kept refusal names the file by inode, size, mtime and ctime: a file written in
    place and given its old modification time back is still a new file to read."""
    import os

    path = tmp_path / "model.npz"
    explicit_model.save(path)
    source = FileSource(path)
    GlobalMean().fit(planted_data).save(path)
    with pytest.raises(CannotRankError):
        source.load()
    st = path.stat()
    reads = []
    load = holder_module.load
    monkeypatch.setattr(holder_module, "load", lambda p: reads.append(p) or load(p))
    with pytest.raises(CannotRankError):
        source.load()
    assert reads == []
    # Same bytes rewritten in place, old mtime restored: only ctime moved.
    data = path.read_bytes()
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    if path.stat().st_ctime_ns == st.st_ctime_ns:
        pytest.skip("this file system did not move ctime")
    with pytest.raises(CannotRankError):
        source.load()
    assert len(reads) == 1


def test_a_directory_version_without_fold_in_is_refused_by_name_with_the_way_out(
    explicit_model, planted_data, store, tmp_path
):
    """A Popularity current (published before publish refused it): serve said only "the
    service needs a factor model (one with fold-in), got Popularity", naming neither the
    version nor how to leave it; a new one switched to while serving, the same in /health
    and /admin/reload."""
    from latentrec.errors import CannotServeError

    popular = Popularity().fit(planted_data)
    md = ModelDirectory(tmp_path / "models")
    md.publish(popular)
    said = (
        "the current version {} cannot be served: the service needs a factor model (one "
        "with fold-in), got Popularity; make one it serves current (latentrec models "
        "rollback --to VERSION)"
    )
    with pytest.raises(CannotServeError) as refused:
        create_app(Settings(), store=store, source=DirectorySource(md))
    assert str(refused.value) == said.format("v000001")
    md.publish(explicit_model)
    app = create_app(Settings(poll_seconds=3600), store=store, source=DirectorySource(md))
    with TestClient(app, raise_server_exceptions=False) as client:
        md.publish(popular)
        client.app.state.refresher.tick()
        assert client.get("/health").json()["reload_error"] == said.format("v000003")
        r = client.post("/admin/reload")
        assert r.status_code == 409
        assert r.json()["detail"] == (
            f"the new version was not loaded; still serving v000002: {said.format('v000003')}"
        )
