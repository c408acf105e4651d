"""Micro-batching of a served pipeline's lists: :class:`PipelineQueue`.

A pipeline's list costs more per call than per user (the ranker's predict, the pools'
set-up), so a worker ranks the requests that wait for it together, in a thread of its
own, while the event loop goes on answering the other routes.
"""

from __future__ import annotations

import anyio

from .holder import Served

# A served pipeline's lists computed at once in a worker, each in a thread; the others
# wait their turn on the event loop without taking a thread.  One: a worker computes on
# about one core (parallelism comes from the workers), and a second list thread would
# only pass the GIL around with the first and hold up the plain-function routes more
# (ML-100K under load: /health p99 15-59 ms with two, 20-36 ms with one, the same
# requests/s; docs/benchmarks.md, Service load).  Threads of their own, so that pipeline
# requests never take every thread of the pool that those routes (/health) run in.
PIPELINE_THREADS = 1
# The most waiting requests of one served pipeline ranked in one call when its thread is
# free (Pipeline.recommend_histories): a list costs ~2.5 ms alone, much of it per call
# (the ranker's predict, the pools' set-up), so a queue answered in one call catches up.
PIPELINE_BATCH = 64


class PipelineAsk:
    """One request waiting in a :class:`PipelineQueue`: what it asks, and what the
    batch that took it left (``body`` or ``error``; ``done`` once either is set)."""

    __slots__ = ("served", "user_id", "n", "banned", "body", "error", "taken")

    def __init__(self, served: Served, user_id: str, n: int, banned):
        self.served, self.user_id, self.n, self.banned = served, user_id, n, banned
        self.body: dict | None = None
        self.error: BaseException | None = None
        self.taken = False

    @property
    def done(self) -> bool:
        """Whether the batch that took it has answered it (a body or an error)."""
        return self.body is not None or self.error is not None


class PipelineQueue:
    """A served pipeline's lists, computed in a thread of their own (``threads`` at a
    time per worker) and batched: while the thread is busy, requests wait here; when it
    is free, the request that finds it free takes every waiting request for the same
    served version as the oldest one (up to ``cap``) and has ``compute(served, asks)``
    answer them all in one go, in the thread.

    ``compute`` must set each ask's ``body`` or ``error``; an ask it leaves unanswered
    (it raised) gets its exception.  A request cancelled while it waits (its client went
    away) leaves the queue; one whose batch is running is answered and dropped.  The
    loop never waits on the thread: it awaits it.  ``batches`` counts the calls of
    ``compute``.

    Example:
        >>> import anyio
        >>> def compute(served, asks):
        ...     for ask in asks:
        ...         ask.body = {"user_id": ask.user_id, "n": ask.n}
        >>> queue = PipelineQueue(compute)
        >>> anyio.run(queue.answer, "v1", "ann", 3, None)
        {'user_id': 'ann', 'n': 3}
    """

    def __init__(self, compute, threads: int = PIPELINE_THREADS, cap: int = PIPELINE_BATCH):
        self.compute = compute
        self.threads = threads
        self.cap = cap
        self.limiter: anyio.CapacityLimiter | None = None
        self.waiting: list[PipelineAsk] = []
        self.running = 0
        self.batches = 0
        self.freed: anyio.Event | None = None

    async def answer(self, served: Served, user_id: str, n: int, banned) -> dict:
        """The body for one request, computed in a batch with whatever else waits."""
        if self.limiter is None:  # made on the loop: anyio objects need one running
            self.limiter = anyio.CapacityLimiter(self.threads)
        ask = PipelineAsk(served, user_id, n, banned)
        self.waiting.append(ask)
        try:
            while not ask.done:
                batch = self.take() if self.running < self.threads else []
                if not batch:
                    # Our ask is in a running batch, or every thread is busy: wait for
                    # one to finish (each finish wakes every waiter to look again).
                    if self.freed is None:
                        self.freed = anyio.Event()
                    await self.freed.wait()
                    continue
                self.running += 1
                try:
                    # Not abandoned on cancellation: a cancelled request waits for its
                    # batch to end, so the others in it are answered.
                    await anyio.to_thread.run_sync(self.run, batch, limiter=self.limiter)
                finally:
                    self.running -= 1
                    freed, self.freed = self.freed, None
                    if freed is not None:
                        freed.set()
        finally:
            if not ask.taken:
                self.waiting.remove(ask)
        if ask.error is not None:
            raise ask.error
        return ask.body

    def take(self) -> list[PipelineAsk]:
        """The oldest waiting request and the others waiting for its served version, in
        arrival order, at most ``cap``; taken off the queue."""
        if not self.waiting:
            return []
        served = self.waiting[0].served
        batch = [ask for ask in self.waiting if ask.served is served][: self.cap]
        for ask in batch:
            ask.taken = True
        self.waiting = [ask for ask in self.waiting if not ask.taken]
        return batch

    def run(self, batch: list[PipelineAsk]) -> None:
        """``compute`` over one batch, in the thread; whatever it leaves unanswered gets
        its error."""
        self.batches += 1
        problem: BaseException | None = None
        try:
            self.compute(batch[0].served, batch)
        except Exception as err:
            problem = err
        finally:
            for ask in batch:
                if not ask.done:
                    ask.error = problem or RuntimeError("the pipeline batch left this list")
