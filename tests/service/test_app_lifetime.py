"""An app whose client is closed is freed: nothing keeps it, its model or its store.

Before, every app the test run built stayed in memory (about a hundred at a time, the
run's memory growing): the refresher's warm-up froze every object then alive
(``gc.freeze``), an app is a reference cycle, and frozen cycles are never collected; and
FastAPI's process-wide cache of classified callables held each app's routes (closures
over the app).  The refresher now unfreezes when it stops, and the test run empties
FastAPI's cache after each test (``tests/conftest.py``, which also fails a run that ends
with an app or a service thread alive).
"""

from __future__ import annotations

import gc
import threading
import weakref

from conftest import THREAD_NAMES, forget_fastapi_callables
from fastapi.testclient import TestClient

from latentrec.service import refresh
from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings
from latentrec.store import Rating, open_store


def served_and_closed(model, folder, n: int) -> list[weakref.ref]:
    """``n`` apps over ``model``, each started (its users warmed), asked, and closed."""
    refs = []
    for i in range(n):
        with open_store(folder / f"ratings-{i}.sqlite") as store:
            store.add_ratings([Rating(1, 100, 4.0), Rating(2, 101, 3.0)])
            app = create_app(Settings(), store=store, source=FixedSource(model, f"v{i}"))
            with TestClient(app) as client:
                assert client.get("/users/1/recommendations").status_code == 200
                # The warm-up (which froze the collector's view) has run.
                assert app.state.refresher.warm_done.wait(60)
                assert app.state.refresher.froze == refresh.FREEZE_AFTER_WARM
            refs.append(weakref.ref(app))
            refs.append(weakref.ref(app.state.holder))
            del app, client
    return refs


def test_closed_apps_are_collected(explicit_model, tmp_path, monkeypatch):
    monkeypatch.setattr(refresh, "FREEZE_AFTER_WARM", True)  # as served (conftest.py)
    refs = served_and_closed(explicit_model, tmp_path, 3)
    forget_fastapi_callables()
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert alive == [], f"{len(alive)} of {len(refs)} apps and holders outlived their clients"
    assert [t.name for t in threading.enumerate() if t.name.startswith(THREAD_NAMES)] == []
