"""``"warm": true`` in /health means the first requests compile nothing.

A fresh Python process (numba's dispatchers start with no compiled signature there)
starts the app, waits for /health to say warm, notes every latentrec kernel's compiled
signatures (numba's ``.signatures``), then sends what a first visitor sends: a known
user's list, a new visitor's onboarding, an explanation and similar titles.  No kernel
may gain a signature on the way: the warm-up ran them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys, time
    from fastapi.testclient import TestClient
    from numba.core.registry import CPUDispatcher
    import latentrec.kernels as kernels
    from latentrec import load
    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings
    from latentrec.store import open_store

    def compiled():
        out = {}
        for info in pkgutil.iter_modules(kernels.__path__):
            module = importlib.import_module(f"latentrec.kernels.{info.name}")
            for name, value in vars(module).items():
                if isinstance(value, CPUDispatcher):
                    out[f"{info.name}.{name}"] = sorted(map(str, value.signatures))
        return out

    model_path, store_path = sys.argv[1:3]
    store = open_store(store_path)
    app = create_app(Settings(), store=store, source=FixedSource(load(model_path), "v"))
    with TestClient(app) as client:
        deadline = time.monotonic() + 120
        while not client.get("/health").json()["warm"]:
            assert time.monotonic() < deadline, "never warm"
            time.sleep(0.05)
        before = compiled()
        answers = [{"item_id": "104", "rating": 5}, {"item_id": "107", "rating": 1}]
        asks = [
            client.get("/users/3/recommendations", params={"n": 10}),
            client.post("/users/newcomer/onboarding", json={"answers": answers, "n": 10}),
            client.get("/users/newcomer/recommendations", params={"n": 10}),
            client.get("/users/3/explain/104"),
            client.get("/users/newcomer/explain/110"),
            client.get("/items/104/similar", params={"n": 6}),
        ]
        status = [r.status_code for r in asks]
        after = compiled()
    print(json.dumps({"before": before, "after": after, "status": status}))
    """
)


def test_health_warm_means_the_first_requests_compile_no_kernel(tmp_path, explicit_model):
    model_path = tmp_path / "model.npz"
    explicit_model.save(model_path)
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model_path), str(tmp_path / "ratings.sqlite")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(code in (200, 201) for code in seen["status"]), seen["status"]
    gained = {
        name: sorted(set(sigs) - set(seen["before"].get(name, [])))
        for name, sigs in seen["after"].items()
        if set(sigs) - set(seen["before"].get(name, []))
    }
    assert not gained, f"compiled during the first requests: {gained}"
    assert any(seen["before"].values())  # the warm-up compiled the request kernels
