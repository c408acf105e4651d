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
"""

from __future__ import annotations

import os
import threading
import weakref

from .records import StoreError


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

    def __init__(self, transaction, apply):
        self.transaction = transaction
        self.apply = apply
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
            waiter.done.wait()
            if not waiter.lead:
                return self._outcome(waiter)
        return self._lead(waiter)

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
                    waiter.error = err
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
