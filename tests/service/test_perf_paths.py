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


HOLDER = """
import fcntl, os, select, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
select.select([sys.stdin], [], [], 20)  # until the test lets go (a stuck test: 20 s)
"""


def test_a_rating_waiting_for_the_write_lock_does_not_hold_up_reads(explicit_model, store):
    """Another process holds the store's write lock: a POST /ratings waits for it without
    blocking the event loop (a read is answered meanwhile) and succeeds once it is free."""
    import asyncio

    import httpx

    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings

    app = create_app(Settings(), store=store, source=FixedSource(explicit_model))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store.db.gate.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    order = []

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def post():
                r = await client.post(
                    "/ratings", json={"user_id": "3", "item_id": "101", "rating": 1}
                )
                order.append(("post", r.status_code))

            async def read_then_release():
                r = await client.get("/users/3/recommendations", params={"n": 3})
                order.append(("get", r.status_code))
                holder.stdin.close()

            await asyncio.wait_for(asyncio.gather(post(), read_then_release()), timeout=30)

    try:
        asyncio.run(scenario())
    finally:
        if holder.poll() is None:
            holder.stdin.close()
        holder.wait(timeout=10)
    assert order == [("get", 200), ("post", 201)]
    assert [r.item_id for r in store.user_ratings("3")] == ["101"]


def test_async_routes_never_hand_a_dependency_to_the_thread_pool(make_client, explicit_model):
    """A plain-function dependency of an ``async`` route runs in the thread pool, and the
    round trip there and back made a write wait for the loop's other work twice (its
    median went from 2 to 18 ms under load): the write routes keep theirs on the loop."""
    import inspect

    from fastapi.routing import APIRoute

    app = make_client(explicit_model, token="s3cret-token").app

    def calls(dependant):
        for dep in dependant.dependencies:
            yield from calls(dep)
            yield dep.call

    checked = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and inspect.iscoroutinefunction(route.endpoint):
            for call in calls(route.dependant):
                assert inspect.iscoroutinefunction(call), (route.path, call)
            checked.update((method, route.path) for method in route.methods)
    assert ("POST", "/ratings") in checked
