"""``latentrec serve --workers 2 --model-dir`` on a SQLite store: a version published by
another process while it serves reaches every worker, with no failed request.

Each worker polls the directory on its own (once a second); the check asks ``/health``
on a fresh connection each time, so that both workers answer, until both worker PIDs
report the new version (bounded wait), and reads go on meanwhile.
"""

from __future__ import annotations

import threading

import httpx

from latentrec.models import BiasedMF
from latentrec.service.versions import ModelDirectory

from .serving import wait_for, worker_pids


def test_every_worker_serves_a_version_published_while_it_runs(
    serve, tmp_path, explicit_model, planted_data
):
    md = ModelDirectory(tmp_path / "models")
    md.publish(explicit_model, note="first")
    server = serve(
        "--model-dir", str(md.path), "--store", str(tmp_path / "ratings.sqlite"),
        "--workers", "2", "--no-access-log",
    )  # fmt: skip
    pids = worker_pids(server.url, count=2, timeout=60)
    assert len(pids) == 2, f"only workers {pids} answered"

    answers, failures, stop = [], [], threading.Event()
    fresh = httpx.Limits(max_keepalive_connections=0)

    def reader():
        with httpx.Client(base_url=server.url, timeout=30, limits=fresh) as http:
            while not stop.is_set():
                try:
                    r = http.get("/users/3/recommendations", params={"n": 5})
                except httpx.HTTPError as err:
                    failures.append(repr(err))
                    continue
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text}")
                else:
                    answers.append((int(r.headers["x-worker-pid"]), r.json()["model_version"]))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_for(lambda: {p for p, _ in answers} == pids, 60, "answers from both workers")
        other = BiasedMF(n_factors=2, n_epochs=30, random_state=1).fit(planted_data)
        assert md.publish(other, note="second").name == "v000002"
        served: dict[int, str] = {}

        def every_worker_on_v2():
            health = httpx.get(server.url + "/health").json()  # a fresh connection
            served[health["worker_pid"]] = health["model_version"]
            return set(served) == pids and set(served.values()) == {"v000002"}

        try:
            wait_for(every_worker_on_v2, 30, "both workers on v000002")
        except AssertionError as err:
            raise AssertionError(f"{err}; last answers by worker: {served}") from None
        count = len(answers)
        wait_for(lambda: len(answers) > count + 10, 30, "answers after the swap")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert failures == []
    # Each worker swapped once: after its first answer from v000002, never v000001 again.
    for pid in pids:
        versions = [v for p, v in answers if p == pid]
        assert "v000002" in versions, pid
        assert set(versions[versions.index("v000002") :]) == {"v000002"}, pid
