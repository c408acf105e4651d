"""Group commit: writes from many threads share transactions, every one is stored with its
own version, each caller hears only of its own failure, and a real store under a burst of
concurrent writers holds exactly what was acknowledged."""

import threading
from contextlib import contextmanager

import pytest

from latentrec.store import Rating, StoreError
from latentrec.store.group import GroupCommit


class Ledger:
    """A transaction log with a slow commit, so that writers pile up behind it."""

    def __init__(self, fail_item=None):
        self.committed: list = []
        self.transactions = 0
        self.fail_item = fail_item
        self.lock = threading.Lock()
        self.gate = threading.Lock()  # one transaction at a time, as a database has

    @contextmanager
    def transaction(self):
        with self.gate:
            staged: list = []
            yield staged
            threading.Event().wait(0.002)
            with self.lock:
                self.committed.extend(staged)
                self.transactions += 1

    def apply(self, staged, item):
        if item == self.fail_item:
            raise StoreError(f"row 0: item {item} refused")
        staged.append(item)
        return item * 10


def hammer(group, items, threads=8):
    results, errors = {}, {}

    def run(chunk):
        for item in chunk:
            try:
                results[item] = group.submit(item)
            except StoreError as err:
                errors[item] = str(err)

    workers = [threading.Thread(target=run, args=(items[t::threads],)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results, errors


def test_concurrent_writes_share_transactions_and_all_land():
    ledger = Ledger()
    group = GroupCommit(ledger.transaction, ledger.apply)
    items = list(range(400))
    results, errors = hammer(group, items)
    assert not errors
    assert results == {i: i * 10 for i in items}
    assert sorted(ledger.committed) == items
    assert ledger.transactions < len(items), "no write shared a transaction"
    assert group.groups > 0


def test_a_bad_write_fails_alone():
    ledger = Ledger(fail_item=123)
    group = GroupCommit(ledger.transaction, ledger.apply)
    items = list(range(300))
    results, errors = hammer(group, items)
    assert errors == {123: "row 0: item 123 refused"}
    assert set(results) == set(items) - {123}
    assert sorted(ledger.committed) == sorted(results)


def test_a_transaction_that_cannot_start_fails_its_caller_and_frees_the_next():
    calls = []

    @contextmanager
    def broken():
        calls.append(1)
        raise StoreError("the store is closed")
        yield  # pragma: no cover

    group = GroupCommit(broken, lambda conn, item: item)
    with pytest.raises(StoreError, match="closed"):
        group.submit(1)
    with pytest.raises(StoreError, match="closed"):
        group.submit(2)
    assert group.pending == [] and not group.busy


def test_a_real_store_keeps_every_acknowledged_write(store):
    users = [f"u{t}" for t in range(8)]
    acked: dict[str, list] = {u: [] for u in users}

    def write(user):
        for k in range(25):
            result = store.add_ratings([Rating(user, f"i{k}", float(k % 5 + 1), float(k))])
            acked[user].append(result.versions[user])

    threads = [threading.Thread(target=write, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = [v for u in users for v in acked[u]]
    assert len(set(versions)) == len(versions) == 200, "a sequence number was shared"
    assert store.sequence() == max(versions)
    for user in users:
        assert acked[user] == sorted(acked[user])
        assert store.user_version(user) == acked[user][-1]
        assert {r.item_id: r.value for r in store.user_ratings(user)} == {
            f"i{k}": float(k % 5 + 1) for k in range(25)
        }


class HeldFirst:
    """Item 0's write holds its transaction open (``applying``) until the test lets it
    go, so that the writes submitted meanwhile queue and then share the next group."""

    def __init__(self):
        self.hold = threading.Event()
        self.first = threading.Event()

    def applying(self, item) -> None:
        if item == 0:
            self.first.set()
            self.hold.wait(10)

    def submit_all(self, group: GroupCommit, followers: int) -> dict:
        """Submit item 0, then items 1..followers behind it, from one thread each;
        ``{item: ("ok", result) or ("error", "Type: message")}``."""
        outcomes = {}

        def run(item):
            try:
                outcomes[item] = ("ok", group.submit(item))
            except BaseException as err:  # noqa: BLE001 - the test records whatever arrives
                outcomes[item] = ("error", f"{type(err).__name__}: {err}")

        threads = [threading.Thread(target=run, args=(0,))]
        threads[0].start()
        assert self.first.wait(10)
        threads += [threading.Thread(target=run, args=(i,)) for i in range(1, followers + 1)]
        for t in threads[1:]:
            t.start()
        while len(group.pending) < followers:
            threading.Event().wait(0.001)
        self.hold.set()
        for t in threads:
            t.join(10)
        assert set(outcomes) == set(range(followers + 1))
        return outcomes


def test_a_leader_interrupted_mid_group_leaves_no_follower_acknowledged():
    """KeyboardInterrupt (not an Exception) in the shared transaction: it rolls back, and
    every other write of the group hears that it failed; none returns as if written."""
    ledger = Ledger()
    held = HeldFirst()

    def apply(staged, item):
        held.applying(item)
        if item == 3:
            raise KeyboardInterrupt
        return ledger.apply(staged, item)

    group = GroupCommit(ledger.transaction, apply)
    outcomes = held.submit_all(group, 5)
    assert outcomes[0] == ("ok", 0)
    written = {i for i, (what, _) in outcomes.items() if what == "ok"}
    assert sorted(ledger.committed) == sorted(written)
    assert written == {0}, outcomes
    assert group.pending == [] and not group.busy


def test_a_failed_commit_is_not_applied_again():
    """The group's COMMIT fails (a connection lost mid-commit, where the server may have
    committed): every write of the group gets the error and none is applied a second
    time, since an event's weight written twice would count twice."""
    applied = []
    held = HeldFirst()
    gate = threading.Lock()
    commits = []

    @contextmanager
    def transaction():
        with gate:
            staged: list = []
            yield staged
            commits.append(list(staged))
            if len(commits) == 2:  # the second transaction, the group's, fails at commit
                raise StoreError("the connection was lost during COMMIT")

    def apply(staged, item):
        applied.append(item)
        held.applying(item)
        staged.append(item)
        return item

    outcomes = held.submit_all(GroupCommit(transaction, apply), 4)
    assert outcomes[0] == ("ok", 0)
    assert sorted(applied) == [0, 1, 2, 3, 4], "a write was applied again"
    lost = "StoreError: the connection was lost during COMMIT"
    assert all(outcomes[i] == ("error", lost) for i in range(1, 5)), outcomes
