"""``latentrec serve --retrain-every`` end to end: the real CLI on 127.0.0.1 retrains from
its store on schedule, publishes a new version once new ratings make a better model, and
serves it without failing a request; bad intervals are one line and exit 1.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

import httpx
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.models import BiasedMF
from latentrec.service.retrain import retrain
from latentrec.service.schedule import RetrainSchedule, check_interval
from latentrec.service.versions import ModelDirectory
from latentrec.store import open_store

from .conftest import planted
from .serving import wait_for

# Stored ratings are Unix seconds: the planted times, moved to 2023.
T0 = 1_700_000_000
# Ratings before this time are stored (and trained on) before the service starts; the rest
# are posted while it serves.
SPLIT = T0 + 5_000


def retrain_rounds(log_path) -> list[dict]:
    """The summaries the schedule logged so far (``scheduled retrain: {...}``), in order."""
    rounds = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = record.get("message", "") if isinstance(record, dict) else ""
        if message.startswith("scheduled retrain: "):
            rounds.append(json.loads(message.removeprefix("scheduled retrain: ")))
        elif message.startswith("scheduled retrain failed"):
            rounds.append({"failed": message})
    return rounds


def worker_label(line: str) -> str:
    """The ``pid`` label of a multiprocess metrics line."""
    return re.search(r'pid="(\d+)"', line).group(1)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])]
)
def seeded(request, tmp_path):
    """A store (SQLite; PostgreSQL with two workers in the slow run) holding the planted
    ratings before ``SPLIT``, a model directory whose v000001 was trained on exactly
    those, the ratings from ``SPLIT`` on (to post), and the number of workers to serve
    with."""
    frame, _ = planted()
    frame["timestamp"] += T0
    old, new = frame[frame["timestamp"] < SPLIT], frame[frame["timestamp"] >= SPLIT]
    if request.param == "sqlite":
        store_path, workers = str(tmp_path / "ratings.sqlite"), 1
    else:
        store_path, workers = request.getfixturevalue("pg_url"), 2
    models = ModelDirectory(tmp_path / "models")
    with open_store(store_path) as store:
        store.import_interactions(
            Interactions.from_frame(old, timestamp="timestamp", rating_scale=(1, 5))
        )
        first = retrain(store, models, model=BiasedMF(n_factors=3, n_epochs=60, random_state=0))
    assert first.published and first.version.name == "v000001"
    return store_path, models, new, workers


def test_serve_retrains_on_schedule_and_serves_the_new_version(serve, seeded, tmp_path):
    store_path, models, new, workers = seeded
    # SQLite by --store; PostgreSQL by LATENTREC_STORE (how a password stays off `ps`).
    by_option = workers == 1
    # The planted data's latest 10% are some 65 ratings, fewer than retrain's default
    # minimum of held-out ratings (100): the rounds are told to trust 20.
    server = serve(
        "--model-dir", str(models.path), *(["--store", store_path] if by_option else []),
        "--retrain-every", "2s", "--retrain-min-holdout", "20", "--no-access-log",
        "--workers", str(workers),
        env=None if by_option else {"LATENTREC_STORE": store_path},
    )  # fmt: skip
    log_path = tmp_path / "serve.log"
    assert httpx.get(server.url + "/health").json()["model_version"] == "v000001"

    # A reader asks for recommendations all along: of a trained user and of the newcomer,
    # on a fresh connection each time (so that every worker answers some).
    answers, failures, stop = [], [], threading.Event()
    fresh = httpx.Limits(max_keepalive_connections=0)

    def reader():
        with httpx.Client(base_url=server.url, timeout=30, limits=fresh) as http:
            while not stop.is_set():
                for user in ("3", "newcomer"):
                    try:
                        r = http.get(f"/users/{user}/recommendations", params={"n": 5})
                    except httpx.HTTPError as err:
                        failures.append(repr(err))
                        continue
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                    else:
                        pid = int(r.headers["x-worker-pid"])
                        answers.append((pid, r.json()["model_version"]))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_for(lambda: len(answers) >= 10, 60, "answers from the first version")
        # New ratings arrive through the API (one transaction): the next round trains on
        # them and publishes.
        batch = [
            {"user_id": str(u), "item_id": str(i), "rating": float(r), "timestamp": float(t)}
            for u, i, r, t in new[["user_id", "item_id", "rating", "timestamp"]].itertuples(
                index=False
            )
        ]
        batch.append({"user_id": "newcomer", "item_id": "100", "rating": 5.0})
        r = httpx.post(server.url + "/ratings", json={"ratings": batch}, timeout=60)
        assert r.status_code == 201 and r.json()["written"] == len(batch), r.text
        # reflected at once by fold-in, long before any retrain
        newcomer = httpx.get(server.url + "/users/newcomer/recommendations").json()
        assert newcomer["fallback"] is False
        assert "100" not in [x["item_id"] for x in newcomer["items"]]  # seen: left out
        published = wait_for(
            lambda: [x for x in retrain_rounds(log_path) if x.get("published")],
            180,
            "a published version",
        )
        assert published[0]["version"] == "v000002", published
        # A round that ran before the ratings arrived had nothing new, and published nothing.
        rounds = retrain_rounds(log_path)
        for earlier in rounds[: rounds.index(published[0])]:
            assert "no new rating" in earlier.get("reason", ""), earlier
        # Every worker's /health shows the new version.
        served = {}

        def every_worker_on_v2():
            health = httpx.get(server.url + "/health").json()
            assert health["status"] == "ok"
            served[health["worker_pid"]] = health["model_version"]
            return len(served) == workers and set(served.values()) == {"v000002"}

        wait_for(every_worker_on_v2, 60, "every worker's /health to show v000002")
        # Keep reading a little on the new version.
        count = len(answers)
        wait_for(lambda: len(answers) > count + 10, 60, "answers after the swap")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert failures == []
    assert {v for _, v in answers} == {"v000001", "v000002"}
    assert {pid for pid, _ in answers} == set(served)
    # A worker swaps one reference: once its new version answered, its old never again.
    for pid in served:
        versions = [v for p, v in answers if p == pid]
        assert set(versions[versions.index("v000002") :]) == {"v000002"}, pid
    # The newcomer is personalised from their rating, before and after the swap.
    body = httpx.get(server.url + "/users/newcomer/recommendations", params={"n": 5}).json()
    assert body["model_version"] == "v000002" and body["fallback"] is False
    assert "100" not in [x["item_id"] for x in body["items"]]
    # /metrics shows the new version for every worker, and only workers count.
    info = [
        line
        for line in httpx.get(server.url + "/metrics").text.splitlines()
        if line.startswith("latentrec_model_info{") and line.endswith(" 1.0")
    ]
    if workers == 1:
        assert info == ['latentrec_model_info{version="v000002"} 1.0']
    else:
        on_v2 = {int(worker_label(line)) for line in info if 'version="v000002"' in line}
        assert on_v2 == set(served) == {int(worker_label(line)) for line in info}
    # What was published: the same recipe trained on everything stored, the posted
    # ratings included, and scored better than v000001 on the most recent ones.
    version, model = models.load_current()
    assert version.name == "v000002"
    assert "newcomer" in set(model.users_.ids)
    assert model.get_params()["n_factors"] == 3
    figures = version.metrics
    assert figures["current_version"] == "v000001" and figures["metric"] == "rmse"
    assert figures["candidate"]["rmse"] <= figures["current"]["rmse"]
    server.stop()
    # Later rounds had nothing new: still two versions.
    assert [v.name for v in models.versions()] == ["v000001", "v000002"]


@pytest.mark.parametrize(
    "interval, message",
    [
        ("soon", "interval 'soon' must be a number and a unit"),
        ("10", "interval '10' must be a number and a unit"),
        ("", "interval '' must be a number and a unit"),
        ("-5s", "interval '-5s' must be a number and a unit"),
        ("2 fortnights", "must be a number and a unit"),
        ("0.5s", "interval '0.5s' is shorter than a second"),
        ("0s", "is shorter than a second"),
        ("99999999999d", "--retrain-every '99999999999d' is 8639999999913600 seconds, longer"),
    ],
)
def test_bad_intervals_are_one_line_and_exit_1(tmp_path, interval, message):
    (tmp_path / "models").mkdir()
    result = CliRunner().invoke(
        main, ["serve", "--model-dir", str(tmp_path / "models"), "--retrain-every", interval]
    )
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_an_empty_interval_without_a_model_dir_is_refused_too(tmp_path):
    (tmp_path / "m.npz").write_bytes(b"")
    result = CliRunner().invoke(
        main, ["serve", "--model", str(tmp_path / "m.npz"), "--retrain-every", ""]
    )
    assert result.exit_code == 1 and "--retrain-every needs --model-dir" in result.output


@pytest.mark.parametrize(
    "every, message",
    [
        (0, "must be more than 0 seconds"),
        (-1.0, "must be more than 0 seconds"),
        (float("nan"), "must be more than 0 seconds"),
        (float("inf"), "must be more than 0 seconds"),
        ("often", "must be a number of seconds"),
        (1e12, "longer than the longest wait"),
    ],
)
def test_a_schedule_refuses_an_interval_its_thread_cannot_wait(every, message):
    with pytest.raises(ValueError, match=message):
        RetrainSchedule("r.db", "models", every=every)
    with pytest.raises(ValueError, match=message):
        check_interval(every)


def test_the_longest_accepted_interval_can_really_be_waited():
    """The bound is the one a thread's wait enforces: a wait of the longest accepted
    interval works (ended here by setting the event); a longer one fails at once."""
    schedule = RetrainSchedule("r.db", "models", every=threading.TIMEOUT_MAX)
    event, result = threading.Event(), []
    waiter = threading.Thread(target=lambda: result.append(event.wait(schedule.every)))
    waiter.start()
    time.sleep(0.2)
    event.set()
    waiter.join(timeout=10)
    assert result == [True]
    with pytest.raises(OverflowError):
        threading.Event().wait(threading.TIMEOUT_MAX * 2)


def test_the_store_reaches_the_retrain_in_its_environment_not_its_command_line():
    url = "postgresql://ann:s3cret@127.0.0.1:5432/recs"
    schedule = RetrainSchedule(url, "models", every=60)
    assert not [arg for arg in schedule.command if "s3cret" in arg]
    assert schedule.command[-5:] == ["retrain", "--model-dir", "models", "--json", "--scheduled"]
    # What the child really sees, through a stand-in command.
    echo = "import json, os; print(json.dumps({'store': os.environ['LATENTREC_STORE']}))"
    schedule = RetrainSchedule(
        url, "models", every=60, command=[sys.executable, "-c", echo], env={"PATH": "/bin"}
    )
    assert schedule.run_once() == {"store": url} and schedule.failures == 0


def test_the_rounds_minimum_reaches_the_retrain_command(tmp_path):
    schedule = RetrainSchedule("r.db", "models", every=60, min_holdout=20)
    assert schedule.command[-7:] == [
        "retrain", "--model-dir", "models", "--json", "--scheduled", "--min-holdout", "20"
    ]  # fmt: skip
    (tmp_path / "models").mkdir()
    result = CliRunner().invoke(
        main, ["serve", "--model-dir", str(tmp_path / "models"), "--retrain-min-holdout", "20"]
    )
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: --retrain-min-holdout applies to --retrain-every's rounds; give both"
    ]
    result = CliRunner().invoke(
        main,
        ["serve", "--model-dir", str(tmp_path / "models"), "--retrain-every", "1h",
         "--retrain-min-holdout", "-1"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "-1 is not in the range x>=0" in result.output


def test_a_reloaded_workers_metrics_show_only_the_new_version(tmp_path):
    # In a child process: prometheus-client chooses file-backed values at import.
    script = (
        "import sys\n"
        "from latentrec.service.metrics import ServiceMetrics\n"
        "m = ServiceMetrics()\n"
        "m.set_model('v000001', 0.0)\n"
        "m.set_model('v000002', 0.0)\n"
        "sys.stdout.write(m.expose().decode())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    shown = [
        line
        for line in done.stdout.splitlines()
        if line.startswith("latentrec_model_info{") and not line.endswith(" 0.0")
    ]
    assert len(shown) == 1 and 'version="v000002"' in shown[0], shown
