"""A SQLite store used on both sides of ``os.fork()``.

The store claims fork safety in these places: a forked child closes the SQLite
connections it inherited idle (pool, fast reader, watch) and opens its own (with an
inherited one open, SQLite's per-process lock bookkeeping would have the child's
connections hold no lock of their own), :class:`WriteGate` reopens its lock file in the
child (an inherited descriptor shares its lock with the parent's), and the group commit
forgets the parent's group.  Here real children write and read while the parent
does too; every write must be stored, the gate must still let one of parent and child
write at a time, and nothing the parent holds at the moment of the fork (a thread inside
the gate or the watch, the gate itself after the parent died) may block the child or
other writers.  Each wait is bounded: a child that hangs is killed and the test fails.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import traceback

import pytest

from latentrec.store import Rating, open_store
from latentrec.store.engine import WriteGate

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

# Seconds a child may take before it counts as hung.
CHILD_SECONDS = 20.0


def in_child(body) -> tuple[int, int]:
    """Fork; the child runs ``body()`` and exits 0, or 1 with its traceback written to
    the pipe whose reading end is returned with the child's pid."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            body()
            code = 0
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def finished(pid: int, read_end: int, timeout: float = CHILD_SECONDS) -> None:
    """Wait for the child (killed and failed after ``timeout``); it must have exited 0."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            raise AssertionError(f"the forked child hung for {timeout:.0f} s and was killed")
        time.sleep(0.02)
    with os.fdopen(read_end, "rb") as pipe:
        told = pipe.read().decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, told or f"status {status}"


def rows(user: str, count: int) -> list[Rating]:
    return [Rating(user, f"{user}-{k}", float(1 + k % 5), float(k)) for k in range(count)]


def values(store, user: str) -> dict[str, float]:
    return {r.item_id: r.value for r in store.user_ratings(user)}


def test_parent_and_forked_child_both_write_and_read(store_dir):
    path = store_dir / "ratings.db"
    with open_store(path) as store:
        # The parent has used everything the child inherits: pooled connections, the
        # gate's descriptor, the fast reader's and the watch's connections.
        first = store.add_ratings(rows("before", 3)).versions["before"]
        assert values(store, "before") == {f"before-{k}": float(1 + k) for k in range(3)}
        watch = store.watch()
        token = watch.token()

        def child():
            assert values(store, "before") == {f"before-{k}": float(1 + k) for k in range(3)}
            child_token = watch.token()
            for k in range(20):
                store.add_ratings(rows("child", 20)[k : k + 1])
            assert len(values(store, "child")) == 20
            assert watch.token() != child_token  # its own connection sees its commits

        pid, pipe = in_child(child)
        for k in range(20):  # at the same time as the child
            store.add_ratings(rows("parent", 20)[k : k + 1])
        finished(pid, pipe)
        assert watch.token() != token
        assert store.user_version("child") > first and store.user_version("parent") > first
    with open_store(path) as fresh:
        for user in ("before", "parent", "child"):
            count = 3 if user == "before" else 20
            expected = {f"{user}-{k}": float(1 + k % 5) for k in range(count)}
            assert values(fresh, user) == expected, user
        # 1 + 20 + 20 transactions, each its own sequence number
        assert fresh.sequence() == 41


def test_the_gate_still_lets_one_of_parent_and_child_write_at_a_time(store_dir):
    """The child's gate must be its own lock: with the parent's descriptor it would
    "take" the gate the parent holds (a descriptor shares its flock with its copies)."""
    with open_store(store_dir / "ratings.db") as store:
        store.add_ratings(rows("before", 1))  # the parent's gate descriptor is open
        gate = store.db.gate
        assert isinstance(gate, WriteGate) and gate.fd is not None
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()

        def child():
            os.close(to_child_w), os.close(to_parent_r)
            assert os.read(to_child_r, 1) == b"h"  # the parent holds the gate now
            assert not gate.try_enter(), "the child took the gate the parent holds"
            assert store.try_add_ratings(rows("child", 1)) is None
            os.write(to_parent_w, b"t")
            assert os.read(to_child_r, 1) == b"r"  # the parent let go
            assert gate.try_enter()
            try:
                os.write(to_parent_w, b"h")
                assert os.read(to_child_r, 1) == b"d"  # the parent tried meanwhile
            finally:
                gate.exit()
            assert store.try_add_ratings(rows("child", 1)) is not None

        pid, pipe = in_child(child)
        os.close(to_child_r), os.close(to_parent_w)
        try:
            with gate:
                os.write(to_child_w, b"h")
                assert os.read(to_parent_r, 1) == b"t"
            os.write(to_child_w, b"r")
            assert os.read(to_parent_r, 1) == b"h"  # the child holds the gate now
            assert not gate.try_enter(), "the parent took the gate the child holds"
            assert store.try_add_ratings(rows("parent", 1)) is None
            os.write(to_child_w, b"d")
        finally:
            os.close(to_child_w), os.close(to_parent_r)
            finished(pid, pipe)
        assert store.try_add_ratings(rows("parent", 1)) is not None
        assert list(values(store, "child")) == ["child-0"]
        assert list(values(store, "parent")) == ["parent-0"]


def test_a_child_forked_while_a_thread_is_inside_the_gate_writes_once_it_is_free(store_dir):
    """The thread that held the gate does not exist in the child: its hold must not
    outlive the fork there (the parent's flock still orders the two processes)."""
    with open_store(store_dir / "ratings.db") as store:
        store.add_ratings(rows("before", 1))
        inside, leave = threading.Event(), threading.Event()

        def holder():
            with store.db.gate:
                inside.set()
                leave.wait(CHILD_SECONDS)

        thread = threading.Thread(target=holder)
        thread.start()
        assert inside.wait(10)
        try:
            pid, pipe = in_child(lambda: store.add_ratings(rows("child", 2)))
        finally:
            time.sleep(0.2)  # the child is waiting for the gate by now
            leave.set()
            thread.join(10)
        finished(pid, pipe)
        assert sorted(values(store, "child")) == ["child-0", "child-1"]


def test_a_child_forked_while_a_thread_reads_the_watch_gets_tokens(store_dir):
    """A token() in flight on another thread at the fork (its lock held) must not stop
    the child's first token(), which opens the child's own connection."""
    with open_store(store_dir / "ratings.db") as store:
        watch = store.watch()
        watch.token()
        inside, leave = threading.Event(), threading.Event()

        def reading():
            with watch.lock:  # as token() holds it around its PRAGMA
                inside.set()
                leave.wait(CHILD_SECONDS)

        thread = threading.Thread(target=reading)
        thread.start()
        assert inside.wait(10)

        def child():
            before = watch.token()
            store.add_ratings(rows("child", 1))
            assert watch.token() != before

        try:
            pid, pipe = in_child(child)
        finally:
            leave.set()
            thread.join(10)
        finished(pid, pipe)


# A process that opens the store, writes, forks a child that writes and then idles, and
# then takes the gate itself and waits there to be killed.
HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from latentrec.store import Rating, open_store

    store = open_store(sys.argv[1])
    store.add_ratings([Rating("holder", "1", 1.0)])
    child = os.fork()
    if child == 0:
        store.add_ratings([Rating("child", "1", 1.0)])
        time.sleep(60)  # a long-lived worker; the test kills it
        os._exit(0)
    while not store.user_ratings("child"):
        time.sleep(0.01)
    store.db.gate.__enter__()
    print(child, flush=True)
    time.sleep(60)  # killed here, holding the gate
    """
)


def test_a_parent_killed_inside_the_gate_does_not_lock_out_writers_through_its_child(
    store_dir,
):
    """flock belongs to the open file, which a forked child shares while it keeps the
    inherited descriptor: then the lock of a parent that dies holding it lives on."""
    path = store_dir / "ratings.db"
    # Opened first: opening writes the schema, which would wait for the holder's gate.
    with open_store(path) as store:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        child = None
        try:
            line = proc.stdout.readline()
            assert line.strip().isdigit(), line or proc.communicate(timeout=10)[1]
            child = int(line)
            assert store.try_add_ratings(rows("other", 1)) is None  # the holder holds it
            proc.kill()
            proc.wait(10)
            deadline = time.monotonic() + 10
            written = store.try_add_ratings(rows("other", 1))
            while written is None and time.monotonic() < deadline:
                time.sleep(0.05)
                written = store.try_add_ratings(rows("other", 1))
            assert written is not None, "the dead holder's gate is still held (by its child)"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            if child is not None:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def test_a_child_keeps_writing_after_the_parent_closed_its_store(store_dir):
    """The parent closing its connections (the last of its process: SQLite then checks
    the log into the database and deletes it unless another connection holds a lock)
    must not break the child, which keeps writing; all its writes are stored."""
    path = store_dir / "ratings.db"
    store = open_store(path)
    store.add_ratings(rows("before", 1))
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()

    def child():
        os.close(to_child_w), os.close(to_parent_r)
        store.add_ratings(rows("child", 1))
        os.write(to_parent_w, b"w")
        assert os.read(to_child_r, 1) == b"c"  # the parent has closed its store
        for k in range(1, 10):
            store.add_ratings(rows("child", 10)[k : k + 1])
        assert len(values(store, "child")) == 10

    pid, pipe = in_child(child)
    os.close(to_child_r), os.close(to_parent_w)
    try:
        assert os.read(to_parent_r, 1) == b"w"
        store.close()
        os.write(to_child_w, b"c")
    finally:
        os.close(to_child_w), os.close(to_parent_r)
        finished(pid, pipe)
    with open_store(path) as fresh:
        assert sorted(values(fresh, "child")) == sorted(f"child-{k}" for k in range(10))


def test_the_parent_keeps_writing_after_its_child_closed_the_inherited_connections(
    store_dir,
):
    """The reverse case: the child closes every connection it inherited (at the fork),
    writes, closes its store and exits; the parent's log must still be the file on disk
    (a child that checked it in and deleted it would leave the parent writing to a
    deleted file), so another process sees each later parent write at once."""
    path = store_dir / "ratings.db"
    with open_store(path) as store:
        store.add_ratings(rows("before", 3))
        assert len(values(store, "before")) == 3
        watch = store.watch()
        watch.token()

        def child():
            store.add_ratings(rows("child", 2))
            assert len(values(store, "child")) == 2
            store.close()

        pid, pipe = in_child(child)
        finished(pid, pipe, timeout=10)
        assert os.path.exists(f"{path}-wal"), "the child deleted the parent's log"
        token = watch.token()
        for k in range(5):
            store.add_ratings(rows("parent", 5)[k : k + 1])
            # A connection of another process reads the files on disk, never the
            # parent's memory.
            seen = subprocess.run(
                [sys.executable, "-c", OTHER_READER, str(path), "parent"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            assert seen.stdout.split() == [str(k + 1), "ok"], seen.stderr
        assert watch.token() != token
        assert sorted(values(store, "child")) == ["child-0", "child-1"]
    with open_store(path) as fresh:
        assert sorted(values(fresh, "parent")) == [f"parent-{k}" for k in range(5)]
        assert fresh.sequence() == 1 + 1 + 5


# Another process's count of one user's ratings and its integrity check of the file.
OTHER_READER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], timeout=10)
    count = conn.execute("SELECT count(*) FROM lr_ratings WHERE user_id = ?", (sys.argv[2],))
    print(count.fetchone()[0], conn.execute("PRAGMA integrity_check").fetchone()[0])
    """
)


def database_descriptors(path) -> list[str]:
    """The files of the SQLite database at ``path`` this process has open (Linux)."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target in names:
            found.append(target)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_child_starts_with_no_descriptor_of_the_parents_connections(store_dir):
    """Every SQLite connection the parent holds idle at the fork (pooled, the fast
    reader's, the watch's) is closed in the child before the child runs: none of their
    descriptors is left there, so the child's own connections take real locks."""
    path = (store_dir / "ratings.db").resolve()
    with open_store(path) as store:
        store.add_ratings(rows("before", 2))
        assert len(values(store, "before")) == 2
        store.watch().token()
        threads = [threading.Thread(target=values, args=(store, "before")) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(database_descriptors(path)) >= 3  # pool, reader, watch: db files

        def child():
            assert database_descriptors(path) == []
            store.add_ratings(rows("child", 1))
            assert database_descriptors(path) != []  # its own, opened now

        pid, pipe = in_child(child)
        finished(pid, pipe, timeout=10)
        assert list(values(store, "child")) == ["child-0"]


def test_a_childs_connections_are_never_the_parents(store_dir):
    """The child's pool is its own: a connection checked out there is never one the
    parent opened (used in both processes at once, one connection's state would be
    two processes' copies)."""
    with open_store(store_dir / "ratings.db") as store:
        store.add_ratings(rows("before", 1))
        # Kept alive: their ids stay unique.
        parents = []
        with store.db.connect() as first, store.db.connect() as second:
            parents += [first.connection.dbapi_connection, second.connection.dbapi_connection]

        def child():
            with store.db.connect() as conn:
                mine = conn.connection.dbapi_connection
                assert all(mine is not theirs for theirs in parents)
                assert conn.exec_driver_sql("select count(*) from lr_ratings").scalar() == 1

        pid, pipe = in_child(child)
        finished(pid, pipe, timeout=10)


def test_a_fork_that_skipped_the_hooks_still_gets_a_pool_of_its_own(store_dir):
    """``Database.connect`` notices a changed process id (a fork that ran no at-fork
    hook) and leaves the inherited pool, as the hook would have."""
    with open_store(store_dir / "ratings.db") as store:
        store.add_ratings(rows("before", 1))
        with store.db.connect() as conn:
            before = conn.connection.dbapi_connection
        with store.db.connect() as conn:
            assert conn.connection.dbapi_connection is before  # pooled: the same one
        store.db.pid = -1  # as a child that inherited it sees it
        with store.db.connect() as conn:
            assert conn.connection.dbapi_connection is not before
        assert store.db.pid == os.getpid()
        with pytest.raises(sqlite3.ProgrammingError):
            before.execute("select 1")  # idle, so closed
        assert list(values(store, "before")) == ["before-0"]


def test_a_child_forked_while_a_thread_leads_a_group_commit_writes(store_dir):
    """A parent thread leading a group commit at the fork (here waiting for the gate
    another thread holds) leaves the group busy in the child's memory; the child's first
    write must not queue behind that leader, which does not exist there."""
    with open_store(store_dir / "ratings.db") as store:
        store.add_ratings(rows("before", 1))
        inside, leave = threading.Event(), threading.Event()

        def holder():
            with store.db.gate:
                inside.set()
                leave.wait(CHILD_SECONDS)

        def writer():
            store.add_ratings(rows("parent", 1))

        threads = [threading.Thread(target=holder), threading.Thread(target=writer)]
        threads[0].start()
        assert inside.wait(10)
        threads[1].start()
        deadline = time.monotonic() + 10
        while not store.group.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.group.busy, "the writer never led a group"
        time.sleep(0.1)  # the leader waits at the gate by now
        try:
            pid, pipe = in_child(lambda: store.add_ratings(rows("child", 2)))
        finally:
            time.sleep(0.2)  # the child waits for the gate (not the group) by now
            leave.set()
            for thread in threads:
                thread.join(10)
        finished(pid, pipe, timeout=10)
        assert sorted(values(store, "child")) == ["child-0", "child-1"]
        assert list(values(store, "parent")) == ["parent-0"]


def test_a_fork_waits_for_a_write_transaction_of_another_thread(store_dir):
    """A connection a parent thread is writing on at the fork could not be closed in the
    child, and open there it would keep SQLite's write lock taken in the child's
    bookkeeping (its writes would fail with "database is locked"): the fork waits for
    the transaction to end, so the child writes."""
    with open_store(store_dir / "ratings.db") as store:
        store.add_ratings(rows("before", 1))
        inside, forking, ending = threading.Event(), threading.Event(), threading.Event()
        before_fork = store.db.before_fork

        def noticed_before_fork():
            forking.set()
            before_fork()

        # Events, not times: the transaction lasts until the fork has begun, and a while
        # after (before, a check of how long the fork took failed when this thread ran
        # late, as on a loaded machine, and the transaction was nearly over by then).
        store.db.before_fork = noticed_before_fork

        def writing():
            with store.db.write() as conn:
                conn.exec_driver_sql("UPDATE lr_counters SET value = value")
                inside.set()
                assert forking.wait(CHILD_SECONDS)
                time.sleep(0.2)  # a fork that did not wait would be done by now
                ending.set()

        thread = threading.Thread(target=writing)
        thread.start()
        assert inside.wait(10)
        pid, pipe = in_child(lambda: store.add_ratings(rows("child", 1)))
        assert ending.is_set(), "the fork went on inside the other thread's transaction"
        thread.join(10)
        finished(pid, pipe, timeout=10)
        assert list(values(store, "child")) == ["child-0"]


def test_a_stuck_write_transaction_delays_a_fork_only_for_the_bound(store_dir, monkeypatch):
    monkeypatch.setattr("latentrec.store.engine.FORK_WAIT_S", 0.5)
    with open_store(store_dir / "ratings.db") as store:
        store.add_ratings(rows("before", 1))
        inside, leave = threading.Event(), threading.Event()

        def writing():
            with store.db.write() as conn:
                conn.exec_driver_sql("UPDATE lr_counters SET value = value")
                inside.set()
                leave.wait(CHILD_SECONDS)

        thread = threading.Thread(target=writing)
        thread.start()
        assert inside.wait(10)
        started = time.monotonic()
        try:
            pid, pipe = in_child(lambda: None)
            waited = time.monotonic() - started
        finally:
            leave.set()
            thread.join(10)
        finished(pid, pipe, timeout=10)
        assert 0.4 < waited < 3, waited
        store.add_ratings(rows("after", 1))  # the parent's writes go on
        assert list(values(store, "after")) == ["after-0"]
