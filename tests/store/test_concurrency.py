"""Real concurrency and durability: threads and processes writing at once, and a writer
killed with SIGKILL; every acknowledged write must be in the store afterwards."""

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from latentrec.store import Rating, open_store

WRITER = Path(__file__).with_name("writer.py")


def writer(url: str, name: str, batches: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), url, name, str(batches), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def acks(lines: list[str]) -> list[tuple[str, int, int]]:
    return [(p[1], int(p[2]), int(p[3])) for p in (line.split() for line in lines) if p[0] == "ack"]


def check_batches(store, acked):
    """Every acknowledged batch is stored, with its values."""
    for name, k, _ in acked:
        stored = {r.item_id: r.value for r in store.user_ratings(name)}
        for j in range(3):
            assert stored.get(f"{name}-{k}-{j}") == float(j + 1), (name, k, j)


def test_threads_writing_at_once_lose_nothing(store):
    n_threads, n_batches = 6, 15
    start = threading.Barrier(n_threads)

    def work(t):
        start.wait()
        results = []
        for k in range(n_batches):
            rows = [Rating(f"t{t}", f"t{t}-{k}-{j}", float(j + 1), float(k)) for j in range(3)]
            rows.append(Rating("shared", "hot", 1.0, kind="event"))
            results.append(store.add_ratings(rows))
        return results

    with ThreadPoolExecutor(n_threads) as pool:
        results = [r for batch in pool.map(work, range(n_threads)) for r in batch]
    # One sequence number per committed batch: all distinct.
    versions = [r.versions["shared"] for r in results]
    assert len(set(versions)) == len(results) == n_threads * n_batches
    check_batches(store, [(f"t{t}", k, 0) for t in range(n_threads) for k in range(n_batches)])
    (hot,) = store.user_ratings("shared")
    assert hot.value == n_threads * n_batches  # no lost update
    newest, changed = store.changes_since(0)
    assert newest == max(versions) and len(changed) == n_threads + 1
    for t in range(n_threads):
        assert store.user_version(f"t{t}") == max(
            r.versions[f"t{t}"] for r in results if f"t{t}" in r.versions
        )


def test_processes_writing_at_once_then_killed_lose_no_acknowledged_write(store_url):
    """Two writer processes create the schema of a brand-new database at once, write
    concurrently, and are SIGKILLed mid-stream; every batch either printed as
    acknowledged is in the store when it is reopened, and no event is lost."""
    wanted, deadline_s = 15, 90
    procs = [writer(store_url, name, 0, "--forever") for name in ("k1", "k2")]
    lines = {proc.pid: [] for proc in procs}
    readers = [
        threading.Thread(target=lambda p=proc: lines[p.pid].extend(p.stdout), daemon=True)
        for proc in procs
    ]
    try:
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            if all(len(acks(lines[p.pid])) >= wanted for p in procs):
                break
            time.sleep(0.02)
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        for proc, reader in zip(procs, readers, strict=True):
            proc.wait(timeout=30)
            reader.join(timeout=30)
            assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
    acked = [a for out in lines.values() for a in acks(out)]
    for proc in procs:
        assert acks(lines[proc.pid]), "a writer acknowledged nothing"
    assert len({version for *_, version in acked}) == len(acked)
    with open_store(store_url) as store:
        check_batches(store, acked)
        # Every acknowledged event is counted; at most one more per killed writer (its
        # commit returned, then the kill came before it printed).
        hot = store.user_ratings("shared")[0].value
        assert len(acked) <= hot <= len(acked) + len(procs)
        assert store.counts()["ratings"] == 3 * hot + 1
