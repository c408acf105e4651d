"""The retrain schedule of ``latentrec serve --retrain-every 24h``.

Owns :class:`RetrainSchedule`: a thread in the serving process that, every interval,
runs :func:`latentrec.service.retrain.retrain` on the store and the model directory in
a separate process (training must not take the serving process's interpreter lock),
then waits for the next round.  Publishing is the retrain's job (only a candidate that
is not worse becomes current); every worker follows the directory's pointer and swaps
the new version in without dropping a request (:class:`~latentrec.service.app.Refresher`).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from .hardening import ERROR_LOGGER, one_line


def retrain_job(store_url: str, model_dir: str) -> dict:
    """One retrain (run in a child process): what it did, as plain values.

    Example (trains a model, so not run here)::

        retrain_job("ratings.sqlite", "models/")   # {'published': True, ...}
    """
    from ..store import open_store
    from .retrain import retrain
    from .versions import ModelDirectory

    result = retrain(open_store(store_url), ModelDirectory(model_dir))
    version = getattr(result, "version", None)
    return {
        "published": bool(result.published),
        "version": getattr(version, "name", None),
        "reason": str(result.reason),
    }


class RetrainSchedule:
    """Run a retrain every ``every`` seconds in a child process, until :meth:`stop`.

    ``job`` (default :func:`retrain_job`) is called as ``job(store_url, model_dir)`` in a
    fresh spawned process; its result is logged and kept in ``last``.  A failed round
    is logged and the next one runs on time.  ``first_after`` delays the first round
    (default: one full interval).

    Example:
        >>> schedule = RetrainSchedule("ratings.sqlite", "models", every=3600)
        >>> schedule.every, schedule.runs
        (3600, 0)
    """

    def __init__(self, store_url: str, model_dir: str, every: float, *, job=None, first_after=None):
        self.store_url = store_url
        self.model_dir = model_dir
        self.every = every
        self.first_after = every if first_after is None else first_after
        self.job = job or retrain_job
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.runs = 0
        self.failures = 0
        self.last: dict | None = None
        self.logger = logging.getLogger(ERROR_LOGGER)

    def start(self) -> RetrainSchedule:
        """Start the schedule's thread (a daemon: it never keeps the process alive)."""
        if self.thread is None:
            self.stopping.clear()
            self.thread = threading.Thread(target=self.loop, name="latentrec-retrain", daemon=True)
            self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the round in progress (a running retrain is not interrupted)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)
            self.thread = None

    def loop(self) -> None:
        wait = self.first_after
        while not self.stopping.wait(wait):
            started = time.monotonic()
            self.run_once()
            wait = max(0.0, self.every - (time.monotonic() - started))

    def run_once(self) -> dict | None:
        """One retrain in a child process; its summary, or ``None`` when it failed."""
        self.runs += 1
        try:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                summary = pool.submit(self.job, self.store_url, self.model_dir).result()
        except Exception as err:  # a failed round must not end the schedule
            self.failures += 1
            self.logger.error("scheduled retrain failed: %s", one_line(err) or type(err).__name__)
            return None
        self.last = summary
        self.logger.info("scheduled retrain: %s", summary)
        return summary
