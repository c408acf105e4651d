"""A scrape of ``/metrics`` during a reload shows exactly one model version at 1: never
two, never none; and once reloads stop it shows the version served.  Threads in one
process, and (with ``PROMETHEUS_MULTIPROC_DIR``, as ``serve --workers N``) a worker
process reloading while another process scrapes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from latentrec import load
from latentrec.service.metrics import ServiceMetrics
from latentrec.service.versions import ModelDirectory


@pytest.fixture(autouse=True)
def eager_thread_switches():
    """Threads switch every microsecond instead of every 5 ms, so that a scrape lands
    inside a reload's few statements often, not once in a long while."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def versions_at_one(text: str, pid: int | None = None) -> list[str]:
    """The ``latentrec_model_info`` lines at 1 (of worker ``pid`` when given)."""
    return [
        line
        for line in text.splitlines()
        if line.startswith("latentrec_model_info{")
        and line.endswith(" 1.0")
        and (pid is None or f'pid="{pid}"' in line)
    ]


def test_a_scrape_during_reloads_shows_one_version_threads():
    metrics = ServiceMetrics()
    metrics.set_model("v0", 0.0)
    stop, seen = threading.Event(), []

    def scraper():
        while not stop.is_set():
            seen.append(len(versions_at_one(metrics.expose().decode())))

    scrapers = [threading.Thread(target=scraper) for _ in range(2)]
    for t in scrapers:
        t.start()
    try:
        for k in range(1, 400):
            metrics.set_model(f"v{k}", float(k))
    finally:
        stop.set()
        for t in scrapers:
            t.join(timeout=60)
    assert seen and set(seen) == {1}, {n: seen.count(n) for n in set(seen)}
    assert versions_at_one(metrics.expose().decode()) == [
        'latentrec_model_info{version="v399"} 1.0'
    ]


def test_a_scrape_racing_a_reload_shows_the_version_served(tmp_path, model_files):
    """Through the app: ``/metrics`` scrapes while ``/admin/reload`` swaps in versions
    published meanwhile.  Every scrape shows one version; after the last reload, the
    one served (a scrape that read the old version before the swap must not put it back)."""
    from fastapi.testclient import TestClient

    from latentrec.service.app import create_app
    from latentrec.service.settings import Settings

    models = ModelDirectory(tmp_path / "models")
    model = load(model_files["explicit"])
    models.publish(model)
    settings = Settings(
        model_dir=str(models.path), store_url=str(tmp_path / "r.sqlite"), poll_seconds=3600
    )
    app = create_app(settings)
    stop, seen, errors = threading.Event(), [], []
    with TestClient(app) as client:

        def scraper():
            while not stop.is_set():
                r = client.get("/metrics")
                if r.status_code != 200:
                    errors.append(r.text)
                seen.append(len(versions_at_one(r.text)))

        scrapers = [threading.Thread(target=scraper) for _ in range(3)]
        for t in scrapers:
            t.start()
        try:
            for _ in range(12):
                models.publish(model)
                r = client.post("/admin/reload")
                assert r.status_code == 200 and r.json()["reloaded"], r.text
        finally:
            stop.set()
            for t in scrapers:
                t.join(timeout=60)
        served = client.get("/health").json()["model_version"]
        assert served == "v000013"
        assert versions_at_one(client.get("/metrics").text) == [
            f'latentrec_model_info{{version="{served}"}} 1.0'
        ]
    assert errors == []
    assert seen and set(seen) == {1}, {n: seen.count(n) for n in set(seen)}


# A worker process that swaps versions `count` times, then says which it ended on.
RELOADER = textwrap.dedent(
    """
    import sys
    from latentrec.service.metrics import ServiceMetrics
    sys.setswitchinterval(1e-6)
    m = ServiceMetrics()
    m.set_model("v0", 0.0)
    print("ready", flush=True)
    sys.stdin.readline()
    for k in range(1, int(sys.argv[1]) + 1):
        m.set_model(f"v{k}", float(k))
    print("done", flush=True)
    sys.stdin.readline()  # stays alive (its values count) until told to exit
    """
)

# Another worker process: scrapes (all workers added up) until told to stop, and prints
# how many of the reloader's versions each scrape showed at 1.
SCRAPER = textwrap.dedent(
    """
    import sys, threading
    from latentrec.service.metrics import ServiceMetrics
    m = ServiceMetrics()
    pid = sys.argv[1]
    stop = threading.Event()
    m.expose()
    print("ready", flush=True)
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    counts = []
    while not stop.is_set():
        text = m.expose().decode()
        counts.append(sum(1 for line in text.splitlines()
                          if line.startswith("latentrec_model_info{")
                          and f'pid="{pid}"' in line and line.endswith(" 1.0")))
    print(" ".join(map(str, counts)), flush=True)
    """
)


def test_a_scrape_by_another_worker_during_reloads_shows_one_version(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def start(script, *args):
        return subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    reloader = start(RELOADER, "3000")
    scraper = None
    try:
        assert reloader.stdout.readline().strip() == "ready", reloader.stderr.read()
        scraper = start(SCRAPER, str(reloader.pid))
        assert scraper.stdout.readline().strip() == "ready", scraper.stderr.read()
        reloader.stdin.write("go\n")
        reloader.stdin.flush()
        assert reloader.stdout.readline().strip() == "done", reloader.stderr.read()
        out, err = scraper.communicate("stop\n", timeout=60)
        assert scraper.returncode == 0, err
        counts = [int(x) for x in out.split()]
        assert counts and set(counts) == {1}, {n: counts.count(n) for n in set(counts)}
    finally:
        for proc in (reloader, scraper):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
