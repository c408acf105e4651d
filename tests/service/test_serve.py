"""``latentrec serve`` for real: subprocesses on 127.0.0.1, two workers, SIGKILL."""

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.store import open_store

from .serving import check_rating_reaches_every_worker, worker_pids


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give exactly one of --model FILE and --model-dir DIR"),
        (["--model", "a.npz", "--model-dir", "d"], "give exactly one of"),
        (["--model", "missing.npz"], "does not exist"),
        (["--model", "m.npz", "--retrain-every", "24h"], "--retrain-every needs --model-dir"),
        (["--model-dir", "d", "--retrain-every", "soon"], "interval 'soon'"),
        (["--model", "m.npz", "--workers", "0"], "--workers must be at least 1"),
        (["--model", "m.npz", "--workers", "100000"], "--workers 100000 is too many for"),
        (["--model", "m.npz", "--token", "abc"], "at least 8 characters"),
        (["--model", "m.npz", "--cors-origin", "evil"], "CORS origin 'evil'"),
        (["--model", "m.npz", "--token", "pässwort-123"], "printable ASCII"),
        (["--model", "m.npz", "--allowed-host", "a b"], "allowed host 'a b'"),
        (["--model", "m.npz", "--request-timeout", "0"], "--request-timeout must lie in"),
        (["--model", "m.npz", "--request-timeout", "nan"], "--request-timeout must lie in"),
    ],
)
def test_bad_options_are_one_line_and_exit_1(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "m.npz").write_bytes(b"")
    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("made", [False, True])
def test_a_model_directory_with_no_version_is_one_line_and_left_alone(tmp_path, made):
    folder = tmp_path / "models"
    if made:
        folder.mkdir()
    result = CliRunner().invoke(main, ["serve", "--model-dir", str(folder)])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "bug" not in result.output and "Traceback" not in result.output
    assert str(folder) in result.output
    expected = "no model version published" if made else "no model directory"
    assert expected in result.output
    assert folder.exists() == made  # a mistyped folder is not created


def test_a_damaged_model_file_is_one_line(tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a model")
    result = CliRunner().invoke(main, ["serve", "--model", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_two_workers_share_the_store(serve, model_files, tmp_path):
    """A rating posted through one worker shows in the other's next answer: both worker
    PIDs answer after the rating, and every answer reflects it."""
    store_path = tmp_path / "ratings.sqlite"
    server = serve(
        "--model", str(model_files["explicit"]), "--store", str(store_path), "--workers", "2"
    )
    url = server.url
    # Fresh connections spread over the workers; wait until both have answered.
    pids = worker_pids(url)
    assert len(pids) == 2
    # Percent escapes in an id are decoded once by the real server: %2F%00 stays text.
    user = "%2F%00 two/workers 'user'"
    check_rating_reaches_every_worker(url, user, pids)
    rows = httpx.get(f"{url}/users/{quote(user, safe='')}/ratings").json()
    assert rows["user_id"] == user and len(rows["ratings"]) == 1
    # a real NUL in a path id is refused, not passed to the database
    assert httpx.get(f"{url}/users/a%00b/ratings").status_code == 422
    # The request counts of both workers add up in /metrics.
    text = httpx.get(url + "/metrics").text
    line = next(
        x
        for x in text.splitlines()
        if x.startswith('latentrec_http_requests_total{method="POST",route="/ratings"')
    )
    assert line.endswith(" 1.0")


def test_sigkill_during_a_burst_loses_no_acknowledged_rating(serve, model_files, tmp_path):
    """Writers post ratings as fast as they can; the service is SIGKILLed mid-burst.
    Every rating answered 2xx is in the store afterwards (and served again)."""
    store_path = tmp_path / "ratings.sqlite"
    args = ("--model", str(model_files["explicit"]), "--store", str(store_path))
    server = serve(*args, "--no-access-log")
    acked, lock, stop = [], threading.Lock(), threading.Event()
    in_flight = {}  # writer -> the rating posted last without an answer

    def writer(w):
        with httpx.Client(base_url=server.url, timeout=5) as http:
            k = 0
            while not stop.is_set():
                rating = {"user_id": f"w{w}", "item_id": str(100 + k % 30), "rating": 1 + k % 5}
                k += 1
                in_flight[w] = rating
                try:
                    r = http.post("/ratings", json=rating)
                except httpx.HTTPError:
                    return  # the service is gone
                if 200 <= r.status_code < 300:
                    with lock:
                        acked.append((rating["user_id"], rating["item_id"], rating["rating"]))
                    in_flight.pop(w, None)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(writer, w) for w in range(4)]
        deadline = time.monotonic() + 20
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill(signal.SIGKILL)
        stop.set()
        for f in futures:
            f.result()
    assert len(acked) >= 150
    latest = {}
    for user, item, value in acked:
        latest[(user, item)] = value
    with open_store(store_path) as store:
        held = {
            (r.user_id, r.item_id): r.value
            for user in {u for u, _ in latest}
            for r in store.user_ratings(user)
        }
    unanswered = {(r["user_id"], r["item_id"]): r["rating"] for r in in_flight.values()}
    for key, value in latest.items():
        assert key in held, f"acknowledged rating {key} was lost"
        # the latest acknowledged value, unless the unanswered last post (which may have
        # committed just before the kill) was for the same key
        assert held[key] in {value, unanswered.get(key)}, key
    restarted = serve(*args)
    user, item = next(iter(latest))
    rows = httpx.get(f"{restarted.url}/users/{user}/ratings").json()["ratings"]
    assert item in {x["item_id"] for x in rows}
