"""A write queued behind another's group commit waits a bounded time when the store's
waits are bounded (a service's ``store_timeout``), and the answer it then gets is true:
a write no leader took is withdrawn and never stored; one a leader took may still land.

Before, a follower waited on its event with no deadline: with PostgreSQL frozen, writes
answered long after their clients gave up, and were then stored.  And a leader whose
transaction could not start handed the lead to the next queued write, which spent
another full wait on the same dead server, and so on down the queue.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

from latentrec.store import Rating, StoreError, StoreUnavailableError, open_store
from latentrec.store.group import GroupCommit

from .freezing import server_pids, stopped

LIMIT_S = 0.2
# Generous: a thread still waiting after this long waits for ever (the bug).
JOIN_S = 20.0
# The PostgreSQL store's limit, and when the frozen server is continued at the latest.
PG_LIMIT_S = 1.0
THAW_S = 30.0


class StuckStore:
    """A transaction whose start (``begun``) or commit (``commit``) waits for the test."""

    def __init__(self):
        self.begun = threading.Event()
        self.commit = threading.Event()
        self.entered = threading.Event()
        self.taken = threading.Event()
        self.committed: list = []
        self.starts = 0
        self.fail_start: Exception | None = None

    @contextmanager
    def transaction(self):
        self.starts += 1
        self.entered.set()
        self.begun.wait(JOIN_S)
        if self.fail_start is not None:
            raise self.fail_start
        staged: list = []
        yield staged
        self.commit.wait(JOIN_S)
        self.committed.extend(staged)

    def apply(self, staged, item):
        staged.append(item)
        self.taken.set()
        return item


def run_writers(group, items) -> tuple[dict, list[threading.Thread]]:
    answers: dict = {}

    def write(item):
        try:
            answers[item] = group.submit(item)
        except Exception as err:
            answers[item] = err

    threads = [threading.Thread(target=write, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return answers, threads


def joined(threads) -> bool:
    for thread in threads:
        thread.join(JOIN_S)
    return not any(thread.is_alive() for thread in threads)


def test_a_follower_no_leader_took_gives_up_and_its_write_is_never_stored():
    db = StuckStore()
    db.commit.set()
    group = GroupCommit(db.transaction, db.apply, limit=LIMIT_S)
    leader, lead = run_writers(group, [1])
    assert db.entered.wait(JOIN_S)  # the leader waits for its transaction to start
    answers, followers = run_writers(group, [2, 3])
    assert joined(followers), "the followers waited as long as the leader"
    for item in (2, 3):
        assert isinstance(answers[item], StoreUnavailableError), answers[item]
        assert "nothing written" in str(answers[item])
        assert answers[item].transient
    db.begun.set()
    assert joined(lead)
    assert leader[1] == 1
    # Withdrawn: the leader's transaction, begun later, did not take them.
    assert db.committed == [1]
    # The group works on: the next write leads and commits.
    assert group.submit(4) == 4 and db.committed == [1, 4]


def test_a_follower_whose_write_was_taken_hears_it_may_still_land():
    db = StuckStore()
    group = GroupCommit(db.transaction, db.apply, limit=LIMIT_S)
    leader, lead = run_writers(group, [1])
    assert db.entered.wait(JOIN_S)
    answers, followers = run_writers(group, [2])
    # Queued before the transaction starts, so the leader takes it; the commit waits.
    while not group.pending or len(group.pending) < 2:
        threading.Event().wait(0.001)
    db.begun.set()
    assert joined(followers), "the follower waited for the leader's commit"
    assert isinstance(answers[2], StoreUnavailableError), answers[2]
    assert "may still be stored" in str(answers[2])
    db.commit.set()
    assert joined(lead)
    assert leader[1] == 1 and db.committed == [1, 2]


def test_a_leader_whose_store_is_unavailable_answers_the_queue_at_once():
    db = StuckStore()
    db.fail_start = StoreUnavailableError("cannot connect: the server did not answer", True)
    group = GroupCommit(db.transaction, db.apply)  # no limit: only the hand-off is seen
    leader, lead = run_writers(group, [1])
    assert db.entered.wait(JOIN_S)
    answers, followers = run_writers(group, [2, 3, 4])
    while len(group.pending) < 4:
        threading.Event().wait(0.001)
    db.begun.set()
    assert joined(lead) and joined(followers)
    for answer in (leader[1], *answers.values()):
        assert isinstance(answer, StoreUnavailableError), answer
    # One try at the server, not one more for each queued write in turn.
    assert db.starts == 1
    assert db.committed == []
    db.fail_start = None
    db.commit.set()
    assert group.submit(5) == 5 and db.committed == [5]


@pytest.mark.postgres
def test_writes_to_a_frozen_postgres_are_answered_and_the_withdrawn_never_land(
    postgres_server, postgres_url
):
    with open_store(postgres_url) as store:
        store.db.limit_waits(PG_LIMIT_S)
        store.add_ratings([Rating("before", "1", 3.0)])
        answers: dict = {}

        def write(user: str) -> None:
            try:
                answers[user] = store.add_ratings([Rating(user, "1", 4.0)])
            except StoreError as err:
                answers[user] = err

        users = [f"w{k}" for k in range(12)]
        with stopped(server_pids(postgres_server), THAW_S) as thawed:
            threads = [threading.Thread(target=write, args=(u,)) for u in users]
            for thread in threads:
                thread.start()
            # Every write is answered with the server still frozen, not at SIGCONT.
            assert joined(threads)
            assert not thawed.is_set(), "a write was answered only once the server resumed"
        for user in users:
            assert isinstance(answers[user], StoreUnavailableError), answers[user]
        withdrawn = {u for u in users if "nothing written" in str(answers[u])}
        assert withdrawn, answers
        # Resumed: none of the withdrawn writes was stored.
        stored = {u for u in users if store.user_ratings(u)}
        assert not stored & withdrawn, (stored, withdrawn)
        store.add_ratings([Rating("after", "1", 5.0)])
        assert [r.item_id for r in store.user_ratings("after")] == ["1"]
