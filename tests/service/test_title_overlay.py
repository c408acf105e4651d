"""The catalogue's names over a served model's titles (``POST /items`` renames, the
refresher's take-in of the catalogue).

Three defects, each shown here with real threads and real stores:

- ``POST /items`` read the renamed title back outside the holder's lock and installed it
  later: a rename by another request, or the refresher recording the catalogue's newest
  counter, could land in between, and the older name then stayed served until the next
  catalogue write.  The read is now made under the lock.
- A catalogue entry whose name was cleared (``"title": null``) was skipped, so a running
  worker kept the old rename while a worker started then showed the model file's title.
  Both now show the model file's (the id, for a title added since training).
- The refresher built an ``Item`` for every catalogue title under the holder's lock after
  any catalogue change (a ``POST /items`` meanwhile waited for it).  It now reads and
  compares outside the lock and swaps in only the titles that changed.
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from latentrec.models import Catalog, FactorModel
from latentrec.service import refresh
from latentrec.service.app import create_app
from latentrec.service.holder import (
    FixedSource,
    Served,
    title_changes,
    with_new_items,
    with_store_titles,
    with_titles,
)
from latentrec.service.metrics import ServiceMetrics
from latentrec.service.refresh import Refresher, add_store_items, seed_catalogue
from latentrec.service.settings import Settings
from latentrec.store import Item, open_store

# Bound on waits for what takes a refresh round or two: far above it, so only a defect
# reaches it.
ROUNDS_BOUND_S = 30


def poll(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.02)


def small_model():
    cat = Catalog.from_ids([1], ["a", "b"], item_titles=["Fargo", "Heat"])
    return FactorModel.from_factors(cat, np.eye(2))


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "ratings.sqlite") as s:
        yield s


def started(store, model=None, **settings):
    app = create_app(
        Settings(**settings), store=store, source=FixedSource(model or small_model(), "v")
    )
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    return client


def served_title(client, item_id):
    served = client.app.state.holder.current
    return served.title(served.item_index[item_id])


# ------------------------------------------------------------------ clearing a name
def test_a_cleared_name_goes_back_to_the_model_files_in_running_and_new_workers(store):
    running = started(store)
    try:
        assert running.post("/items", json={"item_id": "a", "title": "Fargo (1996)"}).is_success
        assert served_title(running, "a") == "Fargo (1996)"
        answer = running.post("/items", json={"item_id": "a", "title": None})
        assert answer.status_code == 201, answer.text
        assert store.get_item("a").title is None
        assert served_title(running, "a") == "Fargo"
        # A title added since training, named, then cleared: its id, as a new worker has.
        assert running.post("/items", json={"item_id": "c", "title": "Up"}).is_success
        assert served_title(running, "c") == "Up"
        assert running.post("/items", json={"item_id": "c", "title": None}).is_success
        assert served_title(running, "c") == "c"
        fresh = started(store)
        try:
            for item_id in ("a", "b", "c"):
                assert served_title(fresh, item_id) == served_title(running, item_id)
        finally:
            fresh.__exit__(None, None, None)
    finally:
        running.__exit__(None, None, None)


def test_the_refresher_of_another_worker_takes_a_cleared_name_in(store):
    """The worker that did not take the edit: through the catalogue (add_store_items)."""
    served = add_store_items(store, Served.build(small_model(), "v"))
    seed_catalogue(store, served)
    store.add_items([Item("a", "Fargo (1996)"), Item("c", "Up")], keep=["genres", "features"])
    served = add_store_items(store, served)
    assert (served.title(0), served.title(2)) == ("Fargo (1996)", "Up")
    store.add_items([Item("a", None), Item("c", None)], keep=["genres", "features"])
    served = add_store_items(store, served)
    fresh = add_store_items(store, Served.build(small_model(), "v"))
    assert [served.title(i) for i in range(3)] == ["Fargo", "Heat", "c"]
    assert [fresh.title(i) for i in range(3)] == ["Fargo", "Heat", "c"]


# ------------------------------------------------ the overlay, against a reference
def reference_titles(served: Served, own: list, catalogue: dict) -> list:
    """What ``served`` should show after taking ``catalogue`` in, the slow obvious way."""
    out = []
    for idx, item_id in enumerate(served.item_ids):
        if item_id not in catalogue:
            out.append(served.titles[idx])
        elif catalogue[item_id] is None:
            out.append(own[idx])
        else:
            out.append(catalogue[item_id])
    return out


@pytest.mark.parametrize("seed", range(20))
def test_title_changes_match_a_reference_on_random_catalogues(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 30)
    ids = [f"i{k}" for k in range(n)]
    names = ["A", "B", "C", "D"]
    own = [rng.choice(names) for _ in ids]
    cat = Catalog.from_ids([1], ids, item_titles=own)
    # Distinct item rows: a model whose items all score alike is not served.
    factors = np.arange(2.0 * n).reshape(n, 2)
    served = Served.build(FactorModel.from_factors(cat, factors), "v")
    # Some names already renamed, as a running worker holds them.
    served = with_store_titles(
        served, [Item(x, rng.choice(names)) for x in ids if rng.random() < 0.5]
    )
    before = served.titles.copy()
    catalogue = {x: rng.choice(names + [None]) for x in ids if rng.random() < 0.7}
    catalogue.update({f"new{k}": rng.choice(names) for k in range(rng.randint(0, 3))})
    changes = title_changes(served, catalogue)
    # Only the titles that differ, each once.
    assert len({idx for idx, _ in changes}) == len(changes)
    assert all(served.titles[idx] != title for idx, title in changes)
    after = with_titles(served, changes)
    assert list(after.titles) == reference_titles(served, own, catalogue)
    assert after.serial == served.serial
    assert (served.titles == before).all()  # the served model is never edited
    # The same through with_store_titles (POST /items) and after titles were added.
    items = [Item(x, t) for x, t in catalogue.items()]
    assert list(with_store_titles(served, items).titles) == list(after.titles)
    grown = with_new_items(served, [Item("zz", "New")])
    assert grown.title(grown.item_index["zz"]) == "New"
    cleared = with_store_titles(grown, [Item("zz", None), Item(ids[0], None)])
    assert cleared.title(cleared.item_index["zz"]) == "zz"
    assert cleared.title(0) == own[0]


# ------------------------------------------------------------------ last write wins
def test_two_renames_at_once_and_a_refresh_leave_the_newest_name(store):
    """The interleaving that left the older name: request X reads its name back, request
    Y renames and installs, the refresher records the newest counter, then X installs.
    X's read is held up until Y has written and the refresher has caught up, or a
    bound passes (it cannot catch up while X holds the holder's lock: the fix)."""
    client = started(store, poll_seconds=0.05)
    try:
        holder = client.app.state.holder
        real_get = store.get_item
        y_written = threading.Event()

        def get_item(item_id):
            item = real_get(item_id)
            if item is not None and item.title == "X":
                y_written.wait(ROUNDS_BOUND_S)
                deadline = time.monotonic() + 2.0
                while time.monotonic() < deadline:
                    if holder.current.store_catalogue_seen == store.catalogue_version():
                        break
                    time.sleep(0.02)
            return item

        real_add = store.add_items

        def add_items(items, **kwargs):
            out = real_add(items, **kwargs)
            if items[0].title == "Y":
                y_written.set()
            return out

        store.get_item = get_item
        store.add_items = add_items
        x = threading.Thread(
            target=lambda: client.post("/items", json={"item_id": "a", "title": "X"})
        )
        x.start()
        poll(lambda: real_get("a") is not None and real_get("a").title == "X", 10, "X written")
        y = threading.Thread(
            target=lambda: client.post("/items", json={"item_id": "a", "title": "Y"})
        )
        y.start()
        x.join(ROUNDS_BOUND_S)
        y.join(ROUNDS_BOUND_S)
        assert not x.is_alive() and not y.is_alive()
        assert real_get("a").title == "Y"
        poll(
            lambda: holder.current.store_catalogue_seen == store.catalogue_version(),
            ROUNDS_BOUND_S,
            "the refresher takes the catalogue in",
        )
        assert served_title(client, "a") == "Y"
    finally:
        client.__exit__(None, None, None)


def test_concurrent_renames_under_refresh_rounds_end_on_the_stored_names(store, monkeypatch):
    """Threads renaming the same titles at once, the refresher taking the catalogue in
    every few hundredths of a second; each read back held up a little, so that writes
    land between a read and its install.  Once the writes end and a round has seen the
    last of them, every worker shows the stored names."""
    monkeypatch.setattr(refresh, "ITEM_CHECK_TICKS", 1)  # the catalogue, every round
    client = started(store, poll_seconds=0.01)
    other = started(store, poll_seconds=0.01)  # a worker that took none of the edits
    try:
        real_get = store.get_item
        pause = random.Random(0)

        def get_item(item_id):
            item = real_get(item_id)
            time.sleep(pause.random() * 0.02)
            return item

        store.get_item = get_item

        def renamer(k):
            for n in range(15):
                for item_id in ("a", "b"):
                    body = {"item_id": item_id, "title": f"{item_id} by {k} #{n}"}
                    assert client.post("/items", json=body).status_code == 201

        threads = [threading.Thread(target=renamer, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(ROUNDS_BOUND_S * 2)
        assert not any(t.is_alive() for t in threads)
        for worker in (client, other):
            holder = worker.app.state.holder
            poll(
                lambda h=holder: h.current.store_catalogue_seen == store.catalogue_version(),
                ROUNDS_BOUND_S,
                "a refresh round after the last write",
            )
            for item_id in ("a", "b"):
                assert served_title(worker, item_id) == real_get(item_id).title, item_id
    finally:
        client.__exit__(None, None, None)
        other.__exit__(None, None, None)


# ------------------------------------------------------------------ the take-in's cost
def test_the_refresher_reads_the_catalogue_outside_the_holder_lock(store):
    """A ``POST /items`` of the worker finishes while the refresher reads the whole
    catalogue; the refresher then finds the served model changed since its read and
    reads again under the lock, so both edits are served."""
    from latentrec.service.holder import ModelHolder

    model = small_model()
    holder = ModelHolder(FixedSource(model, "v"), prepare=lambda s: add_store_items(store, s))
    seed_catalogue(store, holder.current)
    holder.update(lambda s: add_store_items(store, s))
    refresher = Refresher(holder, store, ServiceMetrics(), every=1.0)
    reading, edited = threading.Event(), threading.Event()
    waited: list[bool] = []
    real_titles = store.item_titles

    def item_titles():
        out = real_titles()
        if not reading.is_set():
            reading.set()
            # Held up until the edit below is served: it needs the holder's lock.
            waited.append(edited.wait(ROUNDS_BOUND_S))
        return out

    store.item_titles = item_titles
    store.add_items([Item("b", "Heat (1995)")], keep=["genres", "features"])
    worker = threading.Thread(target=refresher.follow_items)
    worker.start()
    assert reading.wait(ROUNDS_BOUND_S)
    store.add_items([Item("a", "Fargo (1996)")], keep=["genres", "features"])
    holder.update(lambda s: with_store_titles(s, [store.get_item("a")]))
    edited.set()
    worker.join(ROUNDS_BOUND_S)
    assert waited == [True]
    served = holder.current
    assert [served.title(0), served.title(1)] == ["Fargo (1996)", "Heat (1995)"]
    assert served.store_catalogue_seen == store.catalogue_version()
    assert add_store_items(store, served) is served


def test_a_take_in_without_a_change_builds_no_new_titles(store):
    """A catalogue write that changes no served name (a genre edit) swaps in the same
    titles array: nothing is copied or built per title."""
    served = add_store_items(store, Served.build(small_model(), "v"))
    seed_catalogue(store, served)
    served = add_store_items(store, served)
    store.add_items([Item("a", "Fargo", ("Crime",))])
    again = add_store_items(store, served)
    assert again.titles is served.titles
    assert again.store_catalogue_seen == store.catalogue_version() != served.store_catalogue_seen
