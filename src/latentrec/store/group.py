"""Group commit: concurrent writes of one process share one transaction and one fsync.

A commit on SQLite (``synchronous=FULL``) or PostgreSQL waits for the disk, about 5 ms
on the project's machine, and writes to one database take turns, so one transaction per
request caps a service near 200 writes a second however little each write does, and
a burst of writes queues behind the disk.  :class:`GroupCommit` lets the first caller
lead: it opens the write transaction, then takes every write queued by other threads
until then (those that arrived while it waited for the database's write lock too), applies
them in order, each with its own sequence number, and commits once; every caller returns
only after that commit.  If a write of the group fails, the transaction rolls back and
each write is retried alone, so each caller gets its own answer (the error of its own
bad write, or its commit), never another caller's.  If the commit itself fails, every
caller gets that error and nothing is retried: a commit whose connection was lost may
have landed, and an event written twice would count twice.

Waits are bounded when the store's are (a service's ``store_timeout``): a caller waiting
for another's group gives up after :data:`FOLLOWER_WAITS` times the limit with
:class:`StoreUnavailableError`.  A write no leader has taken yet is withdrawn then and
is never stored; one a leader took may still land (its commit may be on its way), as
with any commit whose answer was lost.  A leader that cannot open its transaction
because the store is unavailable gives that error to every write queued meanwhile
instead of handing the lead on: each would spend another full wait on the same server.
"""

from __future__ import annotations

import os
import threading
import weakref

from .engine import StoreUnavailableError
from .records import StoreError

# A follower's wait, in store limits: the leader's own wait is bounded by about one
# limit per step (a pooled connection's check, a new connection, the statements, the
# commit), and a write should be answered within about twice the limit.
FOLLOWER_WAITS = 2.0


class _Waiter:
    __slots__ = ("item", "done", "lead", "result", "error")

    def __init__(self, item):
        self.item = item
        self.done = threading.Event()
        self.lead = False
        self.result = None
        self.error: BaseException | None = None


class GroupCommit:
    """Run ``apply(conn, item)`` for items submitted from many threads, sharing
    ``transaction()`` between the items waiting at the same time.

    ``transaction`` is a context-manager factory yielding a connection inside a write
    transaction that commits on exit; ``apply`` writes one item and returns its result.

    Example:
        >>> from contextlib import contextmanager
        >>> log = []
        >>> @contextmanager
        ... def transaction():
        ...     log.append("begin")
        ...     yield None
        ...     log.append("commit")
        >>> group = GroupCommit(transaction, lambda conn, item: item * 2)
        >>> group.submit(21), log
        (42, ['begin', 'commit'])
    """

    def __init__(self, transaction, apply, limit=None):
        self.transaction = transaction
        self.apply = apply
        # Seconds the store bounds each wait to, or a function giving them (read at each
        # write: a service sets the store's limit after opening it).  By default the
        # ``wait_limit`` of the object whose method ``transaction`` is (a Database).
        self.limit = (
            limit
            if limit is not None
            else lambda: getattr(getattr(transaction, "__self__", None), "wait_limit", None)
        )
        self.lock = threading.Lock()
        self.pending: list[_Waiter] = []
        self.busy = False
        self.groups = 0  # transactions committed for groups of more than one write
        _GROUPS.add(self)

    def after_fork_in_child(self) -> None:
        """Forget the parent's group: its leader and waiters are threads this process
        lacks, so a write here would queue behind a leader that never finishes (or wait
        for a lock held at the fork).  Called in a forked child only, before anything
        else runs there.

        Example:
            >>> group = GroupCommit(None, None)
            >>> group.busy = True  # as a parent thread leading a group leaves it
            >>> group.after_fork_in_child()
            >>> group.busy, group.pending
            (False, [])
        """
        self.lock = threading.Lock()
        self.pending = []
        self.busy = False

    def submit(self, item):
        """Write ``item``; returns ``apply``'s result once its transaction committed."""
        waiter = _Waiter(item)
        with self.lock:
            self.pending.append(waiter)
            lead = not self.busy
            self.busy = True
        if not lead:
            limit = self.limit() if callable(self.limit) else self.limit
            if not waiter.done.wait(None if limit is None else FOLLOWER_WAITS * limit):
                self._give_up(waiter, FOLLOWER_WAITS * limit)
            if not waiter.lead:
                return self._outcome(waiter)
        return self._lead(waiter)

    def _give_up(self, waiter: _Waiter, waited: float) -> None:
        """A follower's wait ran out: withdraw its write if no leader took it (then it is
        never written), else answer that it may still land.  Returns (to lead) only if the
        lead was handed to it at that moment: it cannot be left to nobody."""
        with self.lock:
            if waiter.lead or waiter.done.is_set():
                return
            if waiter in self.pending:
                self.pending.remove(waiter)
                raise StoreUnavailableError(
                    f"nothing written: the store did not take the write within {waited:g} s "
                    "(another write's transaction waited for it)",
                    transient=True,
                )
        raise StoreUnavailableError(
            f"the write was sent but its commit was not confirmed within {waited:g} s; "
            "it may still be stored",
            transient=True,
        )

    def _lead(self, waiter: _Waiter):
        group: list[_Waiter] = []
        applied = False
        try:
            try:
                with self.transaction() as conn:
                    with self.lock:
                        group, self.pending = self.pending, []
                    results = [self.apply(conn, w.item) for w in group]
                    applied = True
                for w, result in zip(group, results, strict=True):
                    w.result = result
                if len(group) > 1:
                    self.groups += 1
            except Exception as err:
                if not group:  # the transaction never started: nobody was taken
                    with self.lock:
                        self.pending.remove(waiter)
                        if isinstance(err, StoreUnavailableError):
                            # The writes queued meanwhile would each spend another full
                            # wait on the same server: they get this answer now.
                            group, self.pending = self.pending, []
                    waiter.error = err
                    for w in group:
                        w.error = err
                elif len(group) == 1 or applied:
                    # Every write was applied and the commit failed: it may have landed
                    # (a connection lost mid-commit), so none is tried again.
                    for w in group:
                        w.error = err
                else:
                    for w in group:
                        self._alone(w)
            except BaseException:
                # Not retried (the leading thread is being stopped), but no write of the
                # group may return as if written: results are set only after the commit.
                for w in group:
                    if w.result is None and w.error is None:
                        w.error = StoreError(
                            "nothing written: the write's transaction was abandoned"
                        )
                raise
        finally:
            with self.lock:
                if self.pending:
                    following = self.pending[0]
                    following.lead = True
                    following.done.set()
                else:
                    self.busy = False
            for w in group:
                if w is not waiter:
                    w.done.set()
        return self._outcome(waiter)

    def _alone(self, waiter: _Waiter) -> None:
        try:
            with self.transaction() as conn:
                waiter.result = self.apply(conn, waiter.item)
        except Exception as err:
            waiter.error = err

    @staticmethod
    def _outcome(waiter: _Waiter):
        if waiter.error is not None:
            raise waiter.error
        return waiter.result


# Every group commit of this process, so that a forked child can reset each (weak).
_GROUPS: weakref.WeakSet[GroupCommit] = weakref.WeakSet()


def _reset_groups_in_child() -> None:
    for group in list(_GROUPS):
        group.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_groups_in_child)
