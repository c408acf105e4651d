"""A SQLite store used on both sides of ``os.fork()``.

The store claims fork safety in three places: ``Database.connect`` gives a forked child
connections of its own, :class:`WriteGate` reopens its lock file in the child (an
inherited descriptor shares its lock with the parent's), and :class:`ChangeWatch` opens
its own connection in the child.  Here real children write and read while the parent
does too; every write must be stored, the gate must still let one of parent and child
write at a time, and nothing the parent holds at the moment of the fork (a thread inside
the gate or the watch, the gate itself after the parent died) may block the child or
other writers.  Each wait is bounded: a child that hangs is killed and the test fails.
"""

from __future__ import annotations

import os
import signal
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


@pytest.mark.xfail(
    strict=True,
    reason="known bug: the child's new SQLite connections share the inherited ones' lock "
    "records, so the child holds no real lock; the parent's close then finds itself last, "
    "checks the log in and deletes it under the child (fix: close every inherited SQLite "
    "connection in the child, pool, fast reader and watch, before opening a new one)",
)
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
