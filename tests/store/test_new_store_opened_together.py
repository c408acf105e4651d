"""A new SQLite store opened by several threads or processes at once: every one opens
it.  On a new file (still in rollback mode) two connections switching it to WAL at the
same moment each wait for the other, so SQLite answers "database is locked" at once,
without the busy timeout; one open in three failed so before the switch was retried."""

import multiprocessing
import sqlite3
import threading

from latentrec.store import Item, open_store
from latentrec.store.engine import switch_to_wal

THREADS = 4
FILES = 30  # before the retry, about a third of the files saw a failure


def test_threads_switching_new_files_to_wal_together_all_succeed(store_dir):
    errors = []
    for n in range(FILES):
        path = store_dir / f"new{n}.db"
        barrier = threading.Barrier(THREADS)

        def switch(path=path, barrier=barrier):
            conn = sqlite3.connect(path, check_same_thread=False)
            conn.isolation_level = None
            try:
                barrier.wait(30)
                switch_to_wal(conn.cursor())
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if mode != "wal":
                    errors.append(f"{path.name}: {mode}")
            except Exception as err:  # reported below, with the others
                errors.append(f"{path.name}: {err!r}")
            finally:
                conn.close()

        threads = [threading.Thread(target=switch) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert errors == []


def test_a_lock_that_never_frees_still_fails_after_the_timeout(store_dir):
    path = store_dir / "held.db"
    holder = sqlite3.connect(path)
    holder.isolation_level = None
    holder.execute("create table t (x)")
    holder.execute("begin exclusive")
    try:
        conn = sqlite3.connect(path, timeout=0)
        try:
            switch_to_wal(conn.cursor(), timeout_s=0.05)
        except sqlite3.OperationalError as err:
            assert "locked" in str(err)
        else:
            raise AssertionError("the switch claimed to succeed under an exclusive lock")
        finally:
            conn.close()
    finally:
        holder.execute("rollback")
        holder.close()


def _open_and_add(url, barrier, n, errors):
    try:
        barrier.wait(60)
        with open_store(url) as store:
            store.add_missing_items([Item(str(n), f"Film {n}")])
    except Exception as err:  # reported by the parent
        errors.put(repr(err))


def test_processes_opening_one_new_store_together_all_open_it(store_dir):
    ctx = multiprocessing.get_context("spawn")
    for n in range(3):
        url = f"sqlite:///{store_dir / f'together{n}.db'}"
        barrier, errors = ctx.Barrier(THREADS), ctx.Queue()
        procs = [
            ctx.Process(target=_open_and_add, args=(url, barrier, k, errors))
            for k in range(THREADS)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0] * THREADS
        assert errors.empty(), errors.get()
        with open_store(url) as store:
            assert {it.item_id for it in store.search_items(limit=10)} == {
                str(k) for k in range(THREADS)
            }
