"""ChangeWatch: the token moves with every committed write, from any connection or process,
and stays put otherwise; a poller that reads the token before ``changes_since`` misses
no write (checked against a real writer process)."""

import subprocess
import sys
from pathlib import Path

from latentrec.store import Rating, open_store

WRITER = Path(__file__).with_name("writer.py")


def test_token_moves_only_when_something_commits(store, store_url):
    watch = store.watch()
    try:
        first = watch.token()
        store.user_ratings("nobody"), store.changes_since(0), store.counts()
        assert watch.token() == first, "reads moved the token"
        with open_store(store_url) as other:  # another pool: as another worker would
            other.add_ratings([Rating("ann", "1", 4.0)])
            second = watch.token()
            assert second != first
            assert watch.token() == second
            # A write that changes nothing is rolled back: nothing committed.
            assert other.delete_rating("ann", "never-rated") == 0
            assert watch.token() == second
            store.add_ratings([Rating("bob", "1", 2.0)])
            assert watch.token() != second
    finally:
        watch.close()


def test_a_closed_watch_reopens(sqlite_store):
    watch = sqlite_store.watch()
    before = watch.token()
    watch.close()
    sqlite_store.add_ratings([Rating("ann", "1", 4.0)])
    assert watch.token() != before
    watch.close()


def test_a_poller_misses_no_write_of_another_process(store, store_url):
    """Poll as LiveUsers does (token, then changes_since) while another process writes;
    the versions learned match the store's at the end, and the last poll after the
    writer finished sees its last acknowledged batch."""
    watch = store.watch()
    token, seq = watch.token(), store.sequence()
    known: dict[str, int] = {}
    polls = 0
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), store_url, "w", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:

        def poll():
            nonlocal token, seq, polls
            now = watch.token()
            if now == token:
                return
            newest, changed = store.changes_since(seq)
            for user, version in changed:
                known[user] = max(known.get(user, 0), version)
            token, seq = now, newest
            polls += 1

        while proc.poll() is None:
            poll()
        out = proc.stdout.read()
        poll()
    finally:
        proc.wait(timeout=60)
        watch.close()
    acks = [line.split() for line in out.splitlines() if line.startswith("ack")]
    assert len(acks) == 60
    assert known == store.user_versions(["w", "shared"])
    assert known["w"] == int(acks[-1][3])
    assert polls >= 1
