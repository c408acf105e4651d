"""How the last scheduled retrain ended, in every worker's ``/health``.

The schedule (``serve --retrain-every``) runs in the parent process and the workers
answer ``/health``: a failed round was only in the parent's log, and ``/health`` said
"ok" with nothing else.  The schedule now records each round in ``last-retrain.json``
in the model directory, and each worker shows it as ``last_retrain``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from latentrec import Interactions
from latentrec.cli import main
from latentrec.models import BiasedMF
from latentrec.service.app import create_app
from latentrec.service.holder import DirectorySource
from latentrec.service.retrain import retrain, retrain_on
from latentrec.service.schedule import RetrainSchedule
from latentrec.service.settings import Settings
from latentrec.service.versions import (
    RETRAIN_STATUS,
    ModelDirectory,
    read_retrain_status,
    write_retrain_status,
)
from latentrec.store import open_store

from .conftest import planted
from .serving import wait_for, worker_pids


@pytest.fixture
def served_dir(tmp_path):
    """A SQLite store with the planted ratings and a model directory whose v000001 was
    trained on all of them (so a retrain finds nothing new: it runs, publishes nothing)."""
    frame, _ = planted()
    frame["timestamp"] += 1_700_000_000
    store_path = tmp_path / "ratings.sqlite"
    models = ModelDirectory(tmp_path / "models")
    with open_store(store_path) as store:
        store.import_interactions(
            Interactions.from_frame(frame, timestamp="timestamp", rating_scale=(1, 5))
        )
        # Not recorded: the tests start from a directory no retrain has reported on.
        first = retrain(
            store, models, model=BiasedMF(n_factors=2, n_epochs=5, random_state=0), record=None
        )
    assert first.published
    return store_path, models


def stand_in(answer: dict, code: int) -> list[str]:
    """A command that answers as ``latentrec retrain --json`` would, and exits ``code``."""
    return [sys.executable, "-c", f"import sys; print({json.dumps(answer)!r}); sys.exit({code})"]


def test_a_failed_round_is_recorded_and_shown_by_health(served_dir):
    store_path, models = served_dir
    app = create_app(
        Settings(store_url=str(store_path)), store=None, source=DirectorySource(models)
    )
    # Not started (no lifespan): the worker's background rounds are run here, by hand.
    client = TestClient(app)
    assert client.get("/health").json()["last_retrain"] is None  # no round yet
    failing = {"published": False, "version": None, "error": "no store at typo.db"}
    schedule = RetrainSchedule(
        str(store_path), str(models.path), every=60, command=stand_in(failing, 1)
    )
    assert schedule.run_once() is None and schedule.failures == 1
    app.state.refresher.follow_retrain()  # what the worker's next round does
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model_version"] == "v000001"
    shown = health["last_retrain"]
    assert shown["ok"] is False and shown["reason"] == "no store at typo.db"
    assert shown["published"] is False and shown["version"] is None
    assert shown["time"] > 0

    published = {"published": True, "version": "v000002", "reason": "better: 0.9 < 1.0"}
    schedule.command = stand_in(published, 0)
    assert schedule.run_once() == published
    app.state.refresher.follow_retrain()
    shown = client.get("/health").json()["last_retrain"]
    assert shown["ok"] is True and shown["published"] is True
    assert shown["version"] == "v000002" and shown["reason"] == "better: 0.9 < 1.0"


def test_a_child_that_dies_without_json_is_recorded_with_its_last_error_line(tmp_path):
    crash = [sys.executable, "-c", "import sys; sys.exit('Error: the disk is full')"]
    schedule = RetrainSchedule("r.db", str(tmp_path), every=60, command=crash)
    assert schedule.run_once() is None
    record = read_retrain_status(tmp_path)
    assert record["ok"] is False and record["reason"] == "Error: the disk is full"


def test_a_record_never_creates_a_model_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_retrain_status(tmp_path / "nowhere", True, "fine")
    assert not (tmp_path / "nowhere").exists()
    # The schedule logs it and goes on.
    schedule = RetrainSchedule(
        "r.db", str(tmp_path / "nowhere"), every=60, command=stand_in({"reason": "x"}, 0)
    )
    assert schedule.run_once() == {"reason": "x"}


def test_a_damaged_record_is_shown_as_damaged_not_as_none(served_dir):
    store_path, models = served_dir
    (models.path / RETRAIN_STATUS).write_text("{cut short", encoding="utf-8")
    app = create_app(
        Settings(store_url=str(store_path)), store=None, source=DirectorySource(models)
    )
    shown = TestClient(app).get("/health").json()["last_retrain"]
    assert shown["ok"] is False and shown["time"] is None and shown["by"] is None
    assert shown["reason"].startswith(f"{RETRAIN_STATUS} cannot be read")


@pytest.mark.parametrize(
    ("record", "named"),
    [
        ({"time": 1.0, "ok": True, "reason": "x", "by": "cron"}, "'by' is 'cron'"),
        ({"time": 1.0, "ok": "no", "reason": "x"}, "'ok' is 'no'"),
        ({"time": float("nan"), "ok": True, "reason": "x"}, "'time' is nan"),
        ({"time": 1.0, "ok": True, "reason": "x", "version": 3}, "'version' is 3"),
        ([1, 2], "it holds a list"),
    ],
)
def test_a_record_with_values_of_other_types_is_shown_as_damaged_not_a_500(
    served_dir, record, named
):
    """A hand-edited record ("by": "cron") made /health answer 500 on every probe (the
    load balancer's check: every worker taken out), its values failing /health's own
    schema; "ok": "no" read as true.  Such a record is shown as one that cannot be read."""
    store_path, models = served_dir
    (models.path / RETRAIN_STATUS).write_text(json.dumps(record), encoding="utf-8")
    app = create_app(
        Settings(store_url=str(store_path)), store=None, source=DirectorySource(models)
    )
    answer = TestClient(app, raise_server_exceptions=False).get("/health")
    assert answer.status_code == 200
    shown = answer.json()["last_retrain"]
    assert shown["ok"] is False and shown["time"] is None and shown["by"] is None
    assert shown["reason"].startswith(f"{RETRAIN_STATUS} is not a retrain record: {named}")


@pytest.mark.slow
def test_a_failing_scheduled_retrain_shows_in_every_workers_health(serve, served_dir):
    """For real: `serve --retrain-every 1s --workers 2`; the current version's record is
    damaged after the server loaded it, so each round's `latentrec retrain` fails.  Both
    workers' /health name the reason while they keep serving v000001; once the record is
    repaired the next round runs, and /health says so."""
    store_path, models = served_dir
    server = serve(
        "--model-dir", str(models.path), "--store", str(store_path),
        "--retrain-every", "1s", "--workers", "2", "--no-access-log",
    )  # fmt: skip
    pids = worker_pids(server.url, 2)
    assert len(pids) == 2
    record = models.path / "versions" / "v000001" / "version.json"
    good = record.read_text(encoding="utf-8")
    record.write_text('{"created": ', encoding="utf-8")  # cut short
    seen: dict[int, dict] = {}

    def every_worker_shows(check):
        health = httpx.get(server.url + "/health").json()
        last = health["last_retrain"]
        if last is not None and check(last):
            seen[health["worker_pid"]] = health
        return set(seen) == pids

    def failed(last):
        return last["ok"] is False and "version.json is not valid JSON" in last["reason"]

    wait_for(lambda: every_worker_shows(failed), 120, "every worker to show the failure")
    for health in seen.values():
        assert health["status"] == "ok" and health["model_version"] == "v000001"
        assert health["reload_error"] is None  # the served version is untouched
        assert health["last_retrain"]["version"] is None
    r = httpx.get(server.url + "/users/3/recommendations")
    assert r.status_code == 200 and r.json()["model_version"] == "v000001"

    record.write_text(good, encoding="utf-8")
    seen.clear()

    def ran(last):
        return last["ok"] is True and "no new rating" in last["reason"]

    wait_for(lambda: every_worker_shows(ran), 120, "every worker to show a round that ran")
    assert [v.name for v in models.versions()] == ["v000001"]


# ------------------------------------------------------------ retrains run by hand or cron
def served_client(store_path, models):
    app = create_app(
        Settings(store_url=str(store_path)), store=None, source=DirectorySource(models)
    )
    return app, TestClient(app)


def test_a_hand_run_failing_retrain_shows_in_health(served_dir, tmp_path):
    """`latentrec retrain --model-dir` by hand (or cron) recorded nothing, so /health kept
    showing the last scheduled round (or null) after a failed run."""
    store_path, models = served_dir
    app, client = served_client(store_path, models)
    assert client.get("/health").json()["last_retrain"] is None
    typo = tmp_path / "typo.db"
    r = CliRunner().invoke(main, ["retrain", "--store", str(typo), "--model-dir", str(models.path)])
    assert r.exit_code == 1
    app.state.refresher.follow_retrain()  # what the worker's next round does
    health = client.get("/health").json()
    assert health["model_version"] == "v000001"
    shown = health["last_retrain"]
    assert shown["ok"] is False and shown["by"] == "command"
    # Its one line, the store named by its file name (/health answers anyone).
    said = r.output.strip().removeprefix("Error: ")
    assert shown["reason"] == said.replace(f"{tmp_path}/", "")
    assert shown["reason"].startswith("no store at typo.db") and shown["time"] > 0
    assert shown["published"] is False and shown["version"] is None


def test_a_hand_run_retrain_that_runs_shows_in_health_and_python_says_so(served_dir):
    store_path, models = served_dir
    app, client = served_client(store_path, models)
    args = ["retrain", "--store", str(store_path), "--model-dir", str(models.path), "--json"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    answer = json.loads(r.stdout)
    app.state.refresher.follow_retrain()
    shown = client.get("/health").json()["last_retrain"]
    assert shown["ok"] is True and shown["by"] == "command"
    assert shown["reason"] == answer["reason"] and "no new rating" in shown["reason"]
    with open_store(store_path) as store:
        retrain(store, models)
    app.state.refresher.follow_retrain()
    assert client.get("/health").json()["last_retrain"]["by"] == "python"


def test_a_retrain_started_by_the_schedule_leaves_the_record_to_it(served_dir):
    """The schedule records its rounds itself (it sees a child that dies silently too);
    the command it starts is told so on its command line (--scheduled) and writes
    nothing, and the schedule's record says "scheduled"."""
    store_path, models = served_dir
    schedule = RetrainSchedule(str(store_path), str(models.path), every=60)
    assert "--scheduled" in schedule.command
    args = ["retrain", "--store", str(store_path / "typo"), "--model-dir", str(models.path)]
    assert CliRunner().invoke(main, [*args, "--scheduled"]).exit_code == 1
    assert read_retrain_status(models.path) is None
    schedule = RetrainSchedule(
        str(store_path), str(models.path), every=60, command=stand_in({"reason": "fine"}, 0)
    )
    schedule.run_once()
    assert read_retrain_status(models.path)["by"] == "scheduled"


def test_a_hand_run_retrain_records_whatever_its_environment_holds(served_dir, monkeypatch):
    """The schedule told its child to leave the record to it through an environment
    variable (LATENTREC_RETRAIN_BY=scheduled); a hand-run or cron retrain whose
    environment held it (exported in a shell, copied from the service's unit file)
    recorded nothing, and /health went on showing an older round."""
    store_path, models = served_dir
    monkeypatch.setenv("LATENTREC_RETRAIN_BY", "scheduled")
    args = ["retrain", "--store", str(store_path / "typo"), "--model-dir", str(models.path)]
    assert CliRunner().invoke(main, args).exit_code == 1
    shown = read_retrain_status(models.path)
    assert shown is not None and shown["by"] == "command" and shown["ok"] is False


def test_a_python_retrain_that_raises_is_recorded_and_raised(served_dir):
    _, models = served_dir
    with pytest.raises(ValueError, match="holdout"):
        with open_store(":memory:") as store:
            retrain(store, models, holdout=2.0)
    shown = read_retrain_status(models.path)
    assert shown["ok"] is False and shown["by"] == "python" and "holdout" in shown["reason"]
    with pytest.raises(ValueError, match="record must be one of"):
        retrain(None, models, record="cron")


@pytest.mark.slow
def test_a_hand_run_failing_retrain_shows_in_a_real_servers_health(serve, served_dir):
    """For real: `latentrec serve --model-dir` (no schedule) and, beside it, a failing
    `latentrec retrain` in a process of its own; the worker's /health names the failure."""
    store_path, models = served_dir
    server = serve("--model-dir", str(models.path), "--store", str(store_path), "--no-access-log")
    assert httpx.get(server.url + "/health").json()["last_retrain"] is None
    done = subprocess.run(
        [sys.executable, "-m", "latentrec.cli", "retrain", "--store", str(store_path),
         "--model-dir", str(models.path), "--algorithm", "biased-mf", "--param", "n_factors=-3"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stderr.strip().splitlines()[-1].removeprefix("Error: ")

    def shown():
        last = httpx.get(server.url + "/health").json()["last_retrain"]
        return last if last is not None and last["by"] == "command" else None

    last = wait_for(shown, 30, "/health to show the hand-run retrain")
    assert last["ok"] is False and last["reason"] == said


def test_a_record_that_cannot_be_written_is_a_warning_not_the_retrains_failure(served_dir):
    store_path, models = served_dir
    (models.path / RETRAIN_STATUS).mkdir()  # in the record's way
    args = ["retrain", "--store", str(store_path), "--model-dir", str(models.path), "--json"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and json.loads(r.stdout)["error"] is None
    assert r.stderr.startswith(f"warning: the retrain's end was not recorded in {RETRAIN_STATUS}")
    with open_store(store_path) as store, pytest.warns(UserWarning, match="not recorded"):
        assert retrain(store, models).published is False


def test_retrain_on_records_its_end_unless_told_not_to(tmp_path):
    frame, _ = planted()
    data = Interactions.from_frame(frame, timestamp="timestamp", rating_scale=(1, 5))
    model = BiasedMF(n_factors=2, n_epochs=2, random_state=0)
    retrain_on(data, tmp_path / "quiet", model=model, record=None)
    assert read_retrain_status(tmp_path / "quiet") is None
    result = retrain_on(data, tmp_path / "told", model=model)
    shown = read_retrain_status(tmp_path / "told")
    assert shown["by"] == "python" and shown["ok"] is True and shown["published"] is True
    assert shown["version"] == result.version.name and shown["reason"] == result.reason
