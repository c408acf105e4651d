"""Retraining reads the kind of feedback (explicit ratings or events) the current version
was trained on, from a real SQLite store that holds both kinds."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from latentrec import load
from latentrec.cli import main
from latentrec.models import Biases, ImplicitALS, Popularity
from latentrec.pipeline import Pipeline
from latentrec.service.retrain import retrain as library_retrain
from latentrec.service.retrain import trained_kind
from latentrec.service.versions import ModelDirectory

from .conftest import saved_without_kind
from .retrain_helpers import as_data, timed_frame

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")

# The events' arrival times run 0..N_EVENTS-1; the current version saw those before T_NEW.
N_EVENTS, T_NEW = 2000, 1800

# The latest 200 events come from fewer than 100 users, retrain's default minimum for a
# trusted ranking comparison; these tests are about the kind read, so they lower it
# (test_retrain_min_holdout.py covers the minimum itself).
FEW = 1


def retrain(*args, **kwargs):
    """:func:`latentrec.service.retrain.retrain` with ``min_holdout`` lowered to FEW."""
    return library_retrain(*args, **{"min_holdout": FEW, **kwargs})


@pytest.fixture(scope="module")
def frames():
    """3000 explicit ratings and 2000 events over the same users and items."""
    explicit = timed_frame(n_users=120, n_items=50, n_ratings=3000, seed=0)
    events = timed_frame(n_users=120, n_items=50, n_ratings=N_EVENTS, seed=2, implicit=True)
    return explicit, events


def open_both(path, frames, *, events_until=None):
    """A store at ``path`` with every explicit rating and the events before
    ``events_until`` (all of them when None)."""
    from latentrec.store import open_store

    explicit, events = frames
    store = open_store(path)
    store.import_interactions(as_data(explicit), kind="explicit")
    if events_until is not None:
        events = events[events["t"] < events_until]
    store.import_interactions(as_data(events, implicit=True), kind="event")
    return store


def add_new_events(store, frames):
    events = frames[1]
    store.import_interactions(as_data(events[events["t"] >= T_NEW], implicit=True), kind="event")


def run_cli(*args):
    """The command line in this process; ``retrain`` with ``--min-holdout`` FEW."""
    if args and args[0] == "retrain":
        args = (*args, "--min-holdout", FEW)
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


# ---------------------------------------------------------------------- the library
def test_an_implicit_version_trained_on_events_is_retrained_on_the_events(frames, tmp_path):
    md = ModelDirectory(tmp_path / "models")
    with open_both(tmp_path / "r.db", frames, events_until=T_NEW) as store:
        current = ImplicitALS(n_factors=4, random_state=0).fit(store.interactions(kind="event"))
        md.publish(current)
        add_new_events(store, frames)
        # tolerance 1: an NDCG never falls by more, so the candidate is published.
        result = retrain(store, md, tolerance=1.0, random_state=0)
        events = store.interactions(kind="event")
        explicit_nnz = store.interactions(kind="explicit").nnz
        again = retrain(store, md)
    # What the candidate was trained and scored on is every event, and no star rating.
    assert result.n_train + result.n_holdout == events.nnz == N_EVENTS != explicit_nnz
    assert (result.n_holdout, result.n_seen_by_current) == (N_EVENTS - T_NEW, 0)
    assert result.kind == "event" and result.metric == "ndcg@10"
    assert "v000001" in result.kind_reason
    assert result.published, result.reason
    published = load(result.version.path)
    assert published.seen_.nnz == events.nnz and trained_kind(published) == "event"
    # The new version records its kind, so the next round reads the events again.
    assert again.kind == "event" and "no new rating" in again.reason


def test_an_explicit_version_is_retrained_on_the_explicit_ratings_as_before(frames, tmp_path):
    md = ModelDirectory(tmp_path / "models")
    explicit = frames[0]
    with open_both(tmp_path / "r.db", frames) as store:
        old = explicit[explicit["t"] < 2700]
        md.publish(Biases().fit(as_data(old)))
        result = retrain(store, md)
        default = store.interactions()
    assert default.implicit is False
    assert result.n_train + result.n_holdout == default.nnz == len(explicit)
    assert (result.n_holdout, result.n_seen_by_current) == (300, 0)
    assert result.kind == "explicit" and result.metric == "rmse"


def test_a_ranking_model_trained_on_stars_stays_on_the_stars(frames, tmp_path):
    # The kind follows what the version was trained on, not what sort of model it is.
    md = ModelDirectory(tmp_path / "models")
    explicit = frames[0]
    with open_both(tmp_path / "r.db", frames) as store:
        md.publish(ImplicitALS(n_factors=4, random_state=0).fit(as_data(explicit)))
        result = retrain(store, md)
    assert result.kind == "explicit" and trained_kind(md.load_current()[1]) == "explicit"
    assert result.n_seen_by_current == 300 and "no new rating" in result.reason


def test_a_version_that_does_not_record_its_kind_keeps_the_store_default(frames, tmp_path):
    # A model file written before the kind was recorded: the "implicit" entry is absent.
    model = ImplicitALS(n_factors=4, random_state=0).fit(as_data(frames[1], implicit=True))
    old = saved_without_kind(model, tmp_path / "old.npz")
    assert trained_kind(old) is None and trained_kind(model) == "event"
    md = ModelDirectory(tmp_path / "models")
    md.publish(old)
    with open_both(tmp_path / "r.db", frames) as store:
        result = retrain(store, md, tolerance=1.0)
    # Today's rule: the explicit ratings, since the store holds some; and it says so.
    assert result.kind == "explicit" and result.n_train + result.n_holdout == len(frames[0])
    assert "does not record" in result.kind_reason


def test_a_pipeline_of_implicit_models_is_retrained_on_the_events(frames, tmp_path):
    md = ModelDirectory(tmp_path / "models")
    with open_both(tmp_path / "r.db", frames, events_until=T_NEW) as store:
        recipe = Pipeline([ImplicitALS(n_factors=4, random_state=0), Popularity()], n_candidates=20)
        pipe = recipe.fit(store.interactions(kind="event"))
        assert trained_kind(pipe) == "event"
        md.publish(pipe)
        add_new_events(store, frames)
        result = retrain(store, md, tolerance=1.0, random_state=0)
    assert result.n_train + result.n_holdout == N_EVENTS
    assert (result.n_holdout, result.n_seen_by_current) == (N_EVENTS - T_NEW, 0)
    assert result.kind == "event" and result.published, result.reason
    _, published = md.load_current()
    assert isinstance(published, Pipeline) and published.context_.seen.nnz == N_EVENTS
    assert trained_kind(published) == "event"


def test_no_feedback_of_the_version_kind_is_not_published_in_one_line(frames, tmp_path):
    from latentrec.store import open_store

    md = ModelDirectory(tmp_path / "models")
    md.publish(ImplicitALS(n_factors=4, random_state=0).fit(as_data(frames[1], implicit=True)))
    with open_store(tmp_path / "r.db") as store:
        store.import_interactions(as_data(frames[0]), kind="explicit")
        result = retrain(store, md)
    assert not result.published and result.version is None and result.kind == "event"
    assert "event" in result.reason and "\n" not in result.reason
    assert [v.name for v in md.versions()] == ["v000001"]
    code, output = run_cli("retrain", "--store", tmp_path / "r.db", "--model-dir", md.path)
    assert code == 0, output
    lines = output.strip().splitlines()
    assert lines[-1].startswith("not published: v000001 was trained on event ratings"), output
    assert "Traceback" not in output
    code, output = run_cli(
        "retrain", "--store", tmp_path / "r.db", "--model-dir", md.path, "--json"
    )
    assert code == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["published"] is False and summary["kind"] == "event"
    assert summary["cutoff"] is None and summary["n_train"] == 0


# ---------------------------------------------------------------------- the command line
def test_cli_json_names_the_kind(frames, tmp_path):
    db, md = tmp_path / "r.db", ModelDirectory(tmp_path / "models")
    with open_both(db, frames, events_until=T_NEW) as store:
        md.publish(ImplicitALS(n_factors=4, random_state=0).fit(store.interactions(kind="event")))
        add_new_events(store, frames)
    code, output = run_cli(
        "retrain", "--store", db, "--model-dir", md.path, "--json", "--tolerance", "1"
    )
    assert code == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["kind"] == "event" and summary["n_train"] + summary["n_holdout"] == N_EVENTS
    assert summary["published"] is True and "v000001" in summary["kind_reason"]
    code, output = run_cli("retrain", "--store", db, "--model-dir", md.path)
    assert code == 0, output
    first = output.strip().splitlines()[0]
    assert first.endswith("event ratings (the kind v000002 was trained on)"), output
    # --algorithm with a current version: compared with it, so on its kind too.
    code, output = run_cli(
        "retrain", "--store", db, "--model-dir", md.path, "-a", "implicit-als", "--json"
    )
    assert code == 0, output
    assert json.loads(output.strip().splitlines()[-1])["kind"] == "event"


def test_cli_an_algorithm_with_no_current_version_keeps_the_default(frames, tmp_path):
    db, md = tmp_path / "r.db", ModelDirectory(tmp_path / "models")
    open_both(db, frames).close()
    code, output = run_cli(
        "retrain", "--store", db, "--model-dir", md.path, "-a", "biases", "--json"
    )
    assert code == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["kind"] == "explicit" and summary["published"] is True
    assert summary["n_train"] + summary["n_holdout"] == len(frames[0])
    assert trained_kind(md.load_current()[1]) == "explicit"
    assert md.current().name == "v000001"
