"""``models publish`` and ``retrain`` make current nothing that ``latentrec serve``
refuses.

A global mean (or a pipeline whose candidates are all global means) scores every item
alike, so the service refuses to load it (``CannotRankError``).  ``models publish`` made
it current all the same, and so did a retrain whose candidate was one: every worker then
kept its old model and logged the refusal, and a new worker had no model at all.  Both
now refuse it, in the service's words, and write nothing.
"""

from __future__ import annotations

import json

import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

from latentrec import Interactions
from latentrec.errors import CannotRankError, CannotServeError
from latentrec.models import Biases, GlobalMean, ItemKNN, Popularity
from latentrec.pipeline import Pipeline
from latentrec.service.versions import ModelDirectory


@pytest.fixture(scope="module")
def data():
    return Interactions.from_frame(cli_ratings_frame(), timestamp="t", rating_scale=(1, 5))


def service_refusal(path, error=CannotRankError) -> str:
    """What the service says when asked to serve the file."""
    pytest.importorskip("fastapi")
    from latentrec.service.holder import FileSource

    with pytest.raises(error) as refused:
        FileSource(path).load()
    return str(refused.value)


UNSERVABLE = {
    "global-mean": (lambda: GlobalMean(), CannotRankError),
    "flat pipeline": (
        lambda: Pipeline([GlobalMean(), GlobalMean()], n_candidates=5),
        CannotRankError,
    ),
    # No fold-in: a live rating could not reach the user's list.  Published, every
    # worker kept its old model and logged the refusal; a new one had no model at all.
    "popularity": (lambda: Popularity(), CannotServeError),
    "item-knn": (lambda: ItemKNN(), CannotServeError),
    "pipeline of popularity": (
        lambda: Pipeline([Popularity(), ItemKNN()], n_candidates=5),
        CannotServeError,
    ),
}


@pytest.mark.parametrize("kind", list(UNSERVABLE))
def test_publish_refuses_what_serve_refuses_and_writes_nothing(data, tmp_path, kind):
    make, error = UNSERVABLE[kind]
    model = make().fit(data)
    path = tmp_path / "flat.npz"
    model.save(path)
    reason = service_refusal(path, error)

    fresh = tmp_path / "fresh"
    message = error_line(invoke("models", "publish", path, "--model-dir", fresh))
    assert message == f"Error: {path} is not published, as latentrec serve refuses it: {reason}"
    assert not fresh.exists()

    md = ModelDirectory(tmp_path / "md")
    md.publish(Biases().fit(data))
    before = sorted(p.name for p in md.path.rglob("*"))
    assert error_line(invoke("models", "publish", path, "--model-dir", md.path)) == message
    assert md.read_pointer() == "v000001"
    assert sorted(p.name for p in md.path.rglob("*")) == before


def test_publish_takes_a_pipeline_with_one_candidate_that_ranks(data, tmp_path):
    path = tmp_path / "mixed.npz"
    Pipeline([GlobalMean(), Biases()], n_candidates=5).fit(data).save(path)
    out = invoke("models", "publish", path, "--model-dir", tmp_path / "md")
    assert out.exit_code == 0, out.output
    assert "published v000001 (Pipeline)" in out.stdout


@pytest.mark.parametrize("algorithm", ["global-mean", "popularity", "itemknn"])
def test_retrain_publishes_no_candidate_serve_refuses(data, tmp_path, algorithm):
    """A first retrain (no current version: the candidate is published without a
    comparison) with ``-a global-mean`` published it, and so with ``-a popularity``."""
    pytest.importorskip("sqlalchemy")
    from latentrec.store import open_store

    db = tmp_path / "ratings.db"
    with open_store(db) as store:
        store.import_interactions(data)
    md = tmp_path / "md"
    out = invoke("retrain", "--store", db, "--model-dir", md, "-a", algorithm, "--json")
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    flat = tmp_path / "flat.npz"
    make, error = UNSERVABLE[algorithm.replace("itemknn", "item-knn")]
    make().fit(data).save(flat)
    assert answer["published"] is False and answer["version"] is None
    refusal = service_refusal(flat, error)
    assert answer["reason"] == f"latentrec serve refuses the candidate: {refusal}"
    assert not list(ModelDirectory(md).versions())


@pytest.mark.parametrize("kind", ["global-mean", "popularity", "pipeline of popularity"])
@pytest.mark.parametrize("how", ["before", "to"])
def test_rollback_refuses_a_version_serve_refuses(data, tmp_path, kind, how):
    """A version published before the service refused its kind is still in the directory;
    rolling back to it made current what every worker refuses, without a word."""
    make, error = UNSERVABLE[kind]
    flat = make().fit(data)
    path = tmp_path / "flat.npz"
    flat.save(path)
    reason = service_refusal(path, error)
    md = ModelDirectory(tmp_path / "md")
    md.publish(flat)  # as a publish before the refusal did
    md.publish(Biases().fit(data))
    history = (md.path / "history.jsonl").read_text()
    args = ["models", "rollback", "--model-dir", md.path]
    out = invoke(*args, *(["--to", "v000001"] if how == "to" else []))
    assert error_line(out) == (
        f"Error: v000001 is not made current, as latentrec serve refuses it: {reason}"
    )
    assert out.exit_code == 1
    assert md.read_pointer() == "v000002"
    assert (md.path / "history.jsonl").read_text() == history


def test_retrain_is_not_gated_by_a_current_version_serve_refuses(data, tmp_path):
    """A Popularity version published before the refusal, current, trained on every
    rating of the store: a retrain with a model serve takes was compared with it and
    published nothing ("no new rating to compare on"), so the operator could not leave
    it.  No worker serves it, so it is no bar: the candidate is published, saying why."""
    pytest.importorskip("sqlalchemy")
    from latentrec.store import open_store

    db = tmp_path / "ratings.db"
    with open_store(db) as store:
        store.import_interactions(data)
    md = ModelDirectory(tmp_path / "md")
    md.publish(Popularity().fit(data))
    flat = tmp_path / "flat.npz"
    Popularity().fit(data).save(flat)
    refusal = service_refusal(flat, CannotServeError)
    args = ["retrain", "--store", db, "--model-dir", md.path, "--json"]
    again = invoke(*args)  # the recipe refitted: still refused, in one answer
    assert again.exit_code == 0, again.output
    answer = json.loads(again.stdout.strip().splitlines()[-1])
    assert answer["published"] is False
    assert answer["reason"] == f"latentrec serve refuses the candidate: {refusal}"
    out = invoke(*args, "-a", "biases")
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["published"] is True and answer["version"] == "v000002", answer
    assert answer["reason"] == (
        f"v000001 is not served (latentrec serve refuses it: {refusal}): the candidate "
        "is published without a comparison"
    )
    assert md.read_pointer() == "v000002"


def test_models_list_says_when_the_current_version_is_one_serve_refuses(data, tmp_path):
    """The listing an operator reads showed a current Popularity (published before the
    refusal) like any other version: nothing said no worker serves it."""
    md = ModelDirectory(tmp_path / "md")
    md.publish(Biases().fit(data))
    md.publish(Popularity().fit(data))
    path = tmp_path / "pop.npz"
    Popularity().fit(data).save(path)
    reason = service_refusal(path, CannotServeError)
    out = invoke("models", "list", "--model-dir", md.path)
    assert out.exit_code == 0, out.output
    assert out.stderr.splitlines() == [
        f"warning: the current version v000002 is one latentrec serve refuses ({reason}): "
        "workers keep the model they had and a new one has none; roll back to one it "
        "serves (latentrec models rollback --to VERSION) or retrain with another "
        "algorithm (latentrec retrain -a ...)"
    ]
    assert "v000002" in out.stdout
    md.rollback("v000001")  # a version serve takes: nothing to say
    out = invoke("models", "list", "--model-dir", md.path)
    assert out.exit_code == 0 and out.stderr == "", out.output
