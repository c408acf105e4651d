"""The service's cheap paths keep their promises: a cached user costs no store query while
nothing is written, and a write made anywhere (another store connection, another
process) is seen on the very next resolve, by every thread."""

import subprocess
import sys
import threading
from pathlib import Path

from latentrec.service.holder import Served
from latentrec.service.live import LiveUsers
from latentrec.store import Rating, open_store

WRITER = Path(__file__).parents[1] / "store" / "writer.py"


class Counting:
    """A store that counts the calls of its query methods."""

    QUERIES = ("user_version", "user_versions", "user_ratings", "changes_since", "sequence")

    def __init__(self, store):
        self.store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name):
        target = getattr(self.store, name)
        if name not in self.QUERIES:
            return target

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return target(*args, **kwargs)

        return counted


def test_a_cached_user_costs_no_query_until_something_is_written(explicit_model, store):
    served = Served.build(explicit_model, "v")
    store.add_ratings([Rating("3", "100", 5.0)])
    counting = Counting(store)
    live = LiveUsers(counting)
    first = live.resolve(served, "3")
    counting.calls.clear()
    for _ in range(50):
        assert live.resolve(served, "3") is first
    assert counting.calls == {}, "a resolve queried the store with nothing written"
    store.add_ratings([Rating("other", "101", 2.0)])
    assert live.resolve(served, "3") is first  # someone else's write: one poll, no refold
    assert counting.calls == {"changes_since": 1}
    store.add_ratings([Rating("3", "101", 1.0)])
    again = live.resolve(served, "3")
    assert again is not first and again.version > first.version
    assert served.item_index["101"] in again.rated


def test_writes_of_another_process_are_seen_by_every_thread_on_the_next_resolve(
    explicit_model, tmp_path
):
    """Reader threads resolve a user while a writer process writes batches for it; after
    the writer's last acknowledged batch, every thread's next resolve has its version."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    served = Served.build(explicit_model, "v")
    with open_store(url) as store:
        live = LiveUsers(store)
        stop = threading.Event()
        errors = []

        def read():
            try:
                while not stop.is_set():
                    live.resolve(served, "w")
            except Exception as err:  # reported below
                errors.append(err)

        readers = [threading.Thread(target=read) for _ in range(4)]
        for t in readers:
            t.start()
        try:
            out = subprocess.run(
                [sys.executable, str(WRITER), url, "w", "40"],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
        finally:
            stop.set()
            for t in readers:
                t.join()
        assert not errors
        last = int([line for line in out.splitlines() if line.startswith("ack")][-1].split()[3])
        results = []

        def resolve_once():
            results.append(live.resolve(served, "w"))

        threads = [threading.Thread(target=resolve_once) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [state.version for state in results] == [last] * 4
        # The writer's items are ids the model does not know, so the user has no vector
        # to fold, but the state is the store's newest.
        assert store.user_version("w") == last


def test_the_app_shortens_the_gil_switch_interval_while_it_serves(make_client, explicit_model):
    import sys

    from latentrec.service.app import SWITCH_INTERVAL_S

    before = sys.getswitchinterval()
    client = make_client(explicit_model)
    assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL_S)
    client.__exit__(None, None, None)
    assert sys.getswitchinterval() == before
