"""Opening a store while another process writes to it (a long ``store import`` holds the
write lock for its whole run): ``store info`` answers at once, and a write command says
that it waits, then completes once the other write ends.

The holder is a real second process (``holder.py`` below, run from a temporary file)
that keeps a write transaction open until the test tells it to commit, so "answered
while the other still wrote" is an ordering the test controls, not a timing.
"""

import os
import queue
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from latentrec.store import open_store
from latentrec.store.schema import counters

HOLDER = """
import sys
import sqlalchemy as sa
from latentrec.store import open_store
from latentrec.store.schema import counters

with open_store(sys.argv[1]) as store:
    with store.db.write() as conn:
        # What every write does first (writes.py): on PostgreSQL this holds the
        # sequence row's lock until commit, as a long import does.
        conn.execute(sa.update(counters).where(counters.c.name == "writes")
                     .values(value=counters.c.value + 1))
        print("holding", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
"""

# A guard against hanging the suite (a defect makes a command wait for the holder,
# which waits for the test): never a measure of speed.
HANG_S = 30
# The same for a wait that takes a Python process's start (its imports): a loaded
# machine took over 30 s to start and run `store info`.  A command is seen waiting for
# the holder (waits_for_the_holder) long before this; the bound only ends a wait of a
# kind no check sees.
PROCESS_HANG_S = 600

WAITING = "waiting for another process's write to the store "


def env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def lines_of(stream) -> queue.Queue:
    """The lines of ``stream`` as they come, read by a thread (so a test can wait for
    one with a bound instead of blocking on a process that never writes it)."""
    got: queue.Queue = queue.Queue()

    def pump():
        for line in stream:
            got.put(line.rstrip("\n"))
        got.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return got


@pytest.fixture
def holder(store_url, tmp_path):
    """A second process inside a write transaction on the store, until ``release()``."""
    open_store(store_url).close()  # created (schema current) before the holder writes
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    proc = subprocess.Popen(
        [sys.executable, str(script), store_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env(),
    )
    out = lines_of(proc.stdout)
    assert out.get(timeout=PROCESS_HANG_S) == "holding"

    def release():
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert out.get(timeout=HANG_S) == "released"
        assert proc.wait(timeout=HANG_S) == 0

    proc.release = release
    proc.out = out
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "latentrec", *args]


def waits_for_the_holder(store_url: str, err_lines: list[str]) -> bool:
    """Whether a command is seen waiting for the holder's write: on SQLite it says so on
    standard error (after a second at the write gate); on PostgreSQL a session of the
    store's database waits for a lock (the holder itself waits for nothing)."""
    if any(line.startswith(WAITING) for line in err_lines):
        return True
    if not store_url.startswith("postgresql"):
        return False
    import psycopg

    with psycopg.connect(store_url, autocommit=True) as conn:
        sql = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return conn.execute(sql).fetchone()[0] > 0


def run_beside_the_holder(command: list[str], store_url: str) -> tuple[int, str, list[str]]:
    """Run ``command`` to its end while the holder holds; fail as soon as it is seen
    waiting for the holder.  Its exit status, standard output and error lines."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env()
    )
    err = lines_of(proc.stderr)
    err_lines: list[str] = []
    # The end of its output (None) can come before the process is seen to have ended
    # (its descriptors close before it can be reaped): taken here, it is not waited for
    # again below.
    ended = False
    deadline = time.monotonic() + PROCESS_HANG_S
    try:
        while proc.poll() is None:
            while not err.empty():
                line = err.get()
                if line is None:
                    ended = True
                else:
                    err_lines.append(line)
            assert not waits_for_the_holder(store_url, err_lines), (
                f"{' '.join(command[3:5])} waits for the other process's write: {err_lines}"
            )
            assert time.monotonic() < deadline, f"no end after {PROCESS_HANG_S} s"
            time.sleep(0.1)
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    while not ended:
        line = err.get(timeout=HANG_S)
        if line is None:
            ended = True
        else:
            err_lines.append(line)
    return proc.returncode, out, err_lines


def test_an_output_that_ends_before_its_process_is_seen_to_end_is_not_waited_for(tmp_path):
    """The helper above took the end of a command's standard error while the command
    still ran, then waited for it again: HANG_S later, queue.Empty.  A loaded machine
    made it so (the pipe's end is seen before the process can be reaped); a command
    that closes its standard error and then runs a moment makes it so every time."""
    closes_early = "import os, time; os.write(2, b'said\\n'); os.close(2); time.sleep(1)"
    store_url = f"sqlite:///{tmp_path / 'unused.db'}"
    code, out, err_lines = run_beside_the_holder([sys.executable, "-c", closes_early], store_url)
    assert (code, out, err_lines) == (0, "", ["said"])


def test_store_info_answers_while_another_process_writes(holder, store_url):
    # Before, opening ran the migration in a write transaction even on a current
    # store, so on SQLite this waited for the holder's commit (here: for ever).
    code, out, err_lines = run_beside_the_holder(
        cli("store", "info", "--store", store_url), store_url
    )
    assert code == 0, err_lines
    assert "schema version 4" in out
    assert "write sequence: 0" in out  # the holder's write is not committed
    assert err_lines == []
    # Still holding: the answer came while the other process wrote.
    assert holder.poll() is None and holder.out.empty()
    holder.release()


def test_open_store_takes_no_write_lock_on_a_current_store(holder, store_url):
    seen = queue.Queue()

    def open_and_read():
        with open_store(store_url) as store:
            seen.put((store.schema_version, store.upgraded, store.sequence()))

    # A thread, so that a defect fails the test instead of waiting for the holder.
    threading.Thread(target=open_and_read, daemon=True).start()
    assert seen.get(timeout=HANG_S) == (4, [], 0)
    assert holder.poll() is None and holder.out.empty()
    holder.release()
    with open_store(store_url) as store:
        assert store.sequence() == 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_write_command_says_it_waits_then_completes(holder, store_url, tmp_path):
    ratings = tmp_path / "r.csv"
    ratings.write_text("user_id,item_id,rating\nann,50,4\n")
    proc = subprocess.Popen(
        cli("store", "import", str(ratings), "--store", store_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        err = lines_of(proc.stderr)
        line = err.get(timeout=PROCESS_HANG_S)
        assert line.startswith("waiting for another process's write to the store ")
        assert "store import" in line
        assert proc.poll() is None  # still waiting: the holder has not committed
        holder.release()
        out, _ = proc.communicate(timeout=PROCESS_HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "imported 1 explicit ratings" in out
    assert err.get(timeout=HANG_S) is None  # said once, nothing else on stderr
    with open_store(store_url) as store:
        assert [r.value for r in store.user_ratings("ann")] == [4.0]


def test_a_short_wait_says_nothing(sqlite_store):
    said = []
    sqlite_store.db.on_wait = said.append
    with sqlite_store.db.write() as conn:
        conn.execute(sa.select(counters.c.value))
    assert said == []
