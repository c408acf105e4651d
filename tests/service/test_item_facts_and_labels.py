"""What docs/service.md promises about a title's ``added_at`` (when it entered the
catalogue; an edit keeps it) and about a model file's version label (its name and the
start of the SHA-256 of the very bytes served), checked against the code."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time

import numpy as np

from latentrec import Interactions, ModelFileError, load
from latentrec.models import BiasedMF
from latentrec.service.holder import FileSource

from .conftest import planted


def test_an_edit_keeps_when_a_new_title_entered_the_catalogue(make_client, hybrid_model, store):
    a = make_client(hybrid_model)
    b = make_client(hybrid_model)
    r = a.post("/items", json={"item_id": "900", "title": "Later", "genres": ["Comedy"]})
    assert r.status_code == 201, r.text
    added = store.get_item("900").added_at
    for client, title in ((a, "Later (edited)"), (b, "Later (again)")):
        time.sleep(0.01)  # a clock that moved: a rewritten added_at would show
        body = {"item_id": "900", "title": title, "genres": ["Drama"], "features": {"x": 1.0}}
        assert client.post("/items", json=body).status_code == 201
        stored = store.get_item("900")
        assert stored.title == title and stored.added_at == added
        assert store.item_first_seen()["900"] == added
    # A model version learned later changes nothing about it either.
    b.app.state.refresher.tick()
    assert store.get_item("900").added_at == added


def test_an_edit_keeps_the_ages_boost_new_ranks_by_on_every_worker(
    make_client, hybrid_model, store
):
    """Ages (days from each title's first appearance to the newest) are computed once per
    served model: an edit of a title's details, through this worker or another, leaves
    them as they were, so two workers rank ``boost_new`` alike.  A new title gets one."""
    from latentrec.store import Rating

    # Their rounds run when the test says, once their warm-ups are done.  Left to their
    # threads, on a loaded machine a round of b's own before a's new title left the
    # test's round one that does not look for titles (only every ITEM_CHECK_TICKS-th
    # does), and a warm-up still running put back the facts of the model served before.
    a = make_client(hybrid_model, poll_seconds=3600.0)
    b = make_client(hybrid_model, poll_seconds=3600.0)
    for worker in (a, b):
        assert worker.app.state.refresher.warm_done.wait(30)
    store.add_ratings([Rating("u", "100", 4.0, time.time())])
    r = a.post("/items", json={"item_id": "900", "title": "New", "genres": ["Comedy"]})
    assert r.status_code == 201
    b.app.state.refresher.tick()  # b serves the new title too
    served_a, served_b = a.app.state.holder.current, b.app.state.holder.current
    before = a.app.state.facts.ages(served_a).copy()
    assert np.isfinite(before[served_a.item_index["900"]])
    assert np.array_equal(b.app.state.facts.ages(served_b), before)
    for k, client in enumerate((a, b, a)):
        time.sleep(0.01)
        store.add_ratings([Rating("u", "101", 3.0, time.time())])  # a newer rating
        body = {"item_id": "900", "title": f"New {k}", "genres": ["Drama"]}
        assert client.post("/items", json=body).status_code == 201
        b.app.state.refresher.follow_catalogue()
        for worker in (a, b):
            served = worker.app.state.holder.current
            assert np.array_equal(worker.app.state.facts.ages(served), before), k
            assert worker.app.state.facts.get(served).genres[served.item_index["900"]] == ["Drama"]


def fitted(seed: int) -> BiasedMF:
    frame, _ = planted(seed)
    data = Interactions.from_frame(frame, rating_scale=(1, 5))
    return BiasedMF(n_factors=3, n_epochs=5, random_state=seed).fit(data)


def test_a_model_files_label_names_the_bytes_served_while_it_is_replaced(tmp_path):
    """A writer replaces the file (atomically, as ``save`` does) again and again while it
    is loaded: each load's ``name@sha256`` label is the hash of the model it serves."""
    sources = {}
    for seed in (1, 2):
        path = tmp_path / f"m{seed}.npz"
        fitted(seed).save(path)
        sources[hashlib.sha256(path.read_bytes()).hexdigest()[:12]] = load(path)
    target = tmp_path / "model.npz"
    shutil.copyfile(tmp_path / "m1.npz", target)
    source = FileSource(target)
    stop = threading.Event()

    def writer():
        k = 0
        while not stop.is_set():
            k += 1
            staged = tmp_path / f"staged-{k % 2}.npz"
            shutil.copyfile(tmp_path / f"m{1 + k % 2}.npz", staged)
            os.replace(staged, target)
            time.sleep(0.002)

    thread = threading.Thread(target=writer)
    thread.start()
    served, refused = [], 0
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and len(served) < 60:
            try:
                served.append(source.load())
            except ModelFileError:
                refused += 1  # read while replaced: refused, as a reload keeps the old
    finally:
        stop.set()
        thread.join(timeout=30)
    assert served, f"no load succeeded ({refused} refused)"
    wrong = 0
    for one in served:
        name, label = one.version.split("@")
        assert name == "model.npz" and label in sources
        expected = sources[label]
        if not np.allclose(one.model.item_factors_, expected.item_factors_):
            wrong += 1
    assert wrong == 0, f"{wrong} of {len(served)} loads labelled with another file's hash"
