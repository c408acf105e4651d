"""``"warm": true`` in /health means the first requests compile nothing.

A fresh Python process (numba's dispatchers start with no compiled signature there)
starts the app, waits for /health to say warm, notes every latentrec kernel's compiled
signatures (numba's ``.signatures``), then sends what first visitors send: a known
user's list, a new visitor's onboarding, an explanation and similar titles, and each
re-ranking knob (diversity, calibrate, boost_new, alone and together, with ``items=``
and ``exclude=``) for a known user and a new one, before and after a title is added.
A served pipeline gets its own first requests (a training user, a live rater, a new
visitor's onboarding).  No kernel may gain a signature on the way: the warm-up ran
them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .test_pipeline_serve import small_pipeline

SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys, time
    from fastapi.testclient import TestClient
    from numba.core.registry import CPUDispatcher
    import latentrec.kernels as kernels
    from latentrec.pipeline import load
    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings
    from latentrec.store import Item, open_store

    def compiled():
        out = {}
        for info in pkgutil.iter_modules(kernels.__path__):
            module = importlib.import_module(f"latentrec.kernels.{info.name}")
            for name, value in vars(module).items():
                if isinstance(value, CPUDispatcher):
                    out[f"{info.name}.{name}"] = sorted(map(str, value.signatures))
        return out

    model_path, store_path, kind = sys.argv[1:4]
    store = open_store(store_path)
    genres = ["Drama", "Comedy", "Sci-Fi"]
    # Genres (for calibrate) and catalogue times a day apart (ages, for boost_new).
    store.add_items(
        [Item(str(100 + j), f"Film {j}", (genres[j % 3],), added_at=86_400.0 * j)
         for j in range(30)]
    )
    started = time.monotonic()
    app = create_app(Settings(), store=store, source=FixedSource(load(model_path), "v"))
    with TestClient(app) as client:
        deadline = time.monotonic() + 240
        while not client.get("/health").json()["warm"]:
            assert time.monotonic() < deadline, "never warm"
            time.sleep(0.02)
        warm_s = time.monotonic() - started
        before = compiled()
        answers = [{"item_id": "104", "rating": 5}, {"item_id": "107", "rating": 1}]
        get = client.get
        asks = [
            get("/users/3/recommendations", params={"n": 10}),
            client.post("/users/newcomer/onboarding", json={"answers": answers, "n": 10}),
            get("/users/newcomer/recommendations", params={"n": 10}),
            get("/users/3/recommendations", params={"n": 5, "exclude": ["100", "101"]}),
            get("/users/stranger/recommendations", params={"n": 10}),
        ]
        if kind == "plain":
            knobs = [
                {"diversity": 0.5},
                {"calibrate": 0.5},
                {"boost_new": 1.0},
                {"diversity": 0.3, "calibrate": 0.3, "boost_new": 2.0},
                {"diversity": 0.5, "items": ["100", "105", "110", "115"]},
                {"boost_new": 1.0, "exclude": ["100"], "n": 50},
            ]
            asks += [
                get("/users/3/explain/104"),
                get("/users/newcomer/explain/110"),
                get("/items/104/similar", params={"n": 6}),
                get("/users/3/predictions", params={"items": ["100", "104"]}),
                get("/users/stranger/predictions", params={"items": ["100"]}),
            ]
            for who in ("3", "newcomer", "stranger"):
                asks += [get(f"/users/{who}/recommendations", params=k) for k in knobs]
            # A title added now: boost_new brings it in from outside the candidates.
            asks.append(client.post("/items", json={"item_id": "900", "title": "New"}))
            for who in ("3", "newcomer"):
                asks += [get(f"/users/{who}/recommendations", params=k) for k in knobs]
        else:
            rating = {"user_id": "rater", "item_id": "103", "rating": 4}
            asks += [
                client.post("/ratings", json=rating),
                get("/users/rater/recommendations", params={"n": 8}),
                get("/users/3/recommendations", params={"n": 20}),
            ]
        status = [r.status_code for r in asks]
        after = compiled()
    print(json.dumps({"before": before, "after": after, "status": status, "warm_s": warm_s}))
    """
)


def first_requests(model_path, store_path, kind: str) -> dict:
    """What the script saw in a fresh process: kernel signatures before and after."""
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model_path), str(store_path), kind],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def gained(seen: dict) -> dict:
    return {
        name: sorted(set(sigs) - set(seen["before"].get(name, [])))
        for name, sigs in seen["after"].items()
        if set(sigs) - set(seen["before"].get(name, []))
    }


@pytest.mark.parametrize("kind", ["plain", "pipeline"])
def test_health_warm_means_the_first_requests_compile_no_kernel(
    tmp_path, explicit_model, planted_data, kind
):
    model_path = tmp_path / "model.npz"
    if kind == "plain":
        explicit_model.save(model_path)
    else:
        small_pipeline(planted_data).save(model_path)
    seen = first_requests(model_path, tmp_path / "ratings.sqlite", kind)
    assert all(code in (200, 201) for code in seen["status"]), seen["status"]
    assert not gained(seen), f"compiled during the first requests: {gained(seen)}"
    assert any(seen["before"].values())  # the warm-up compiled the request kernels
