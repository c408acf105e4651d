"""Prometheus metrics of one app, through prometheus-client, in the app's own registry.

Owns :class:`ServiceMetrics`: request counts and latency histograms per route template
(``/users/{user_id}/recommendations``, never the raw path, so hostile ids cannot blow
up the label set), the served model's version and age, what the store holds, fold-ins,
popularity fallbacks and reloads.  Each app has its own registry (no global state), so
tests can build many apps in one process.  When ``PROMETHEUS_MULTIPROC_DIR`` is set
(``latentrec serve --workers N`` sets it), the values live in files shared by the
workers and ``/metrics`` adds them up across workers.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Latency buckets (seconds) around the service's targets (p99 of 25-40 ms).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.04, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# In the multiprocess folder: held exclusively while a worker swaps its model version's
# values, shared while a worker reads every worker's values for a scrape.
MODEL_LOCK = "latentrec-model.lock"


def multiprocess_env() -> bool:
    """Whether prometheus-client runs in multiprocess mode, by its own test: the variable
    present in the environment (even empty), as its ``remove`` checks before it warns.

    Example:
        >>> os.environ.get(MULTIPROC_ENV) is None or multiprocess_env()
        True
    """
    return MULTIPROC_ENV in os.environ or MULTIPROC_ENV.lower() in os.environ


def check_multiprocess_env(environ=None) -> None:
    """A ``ValueError`` in one line when ``PROMETHEUS_MULTIPROC_DIR`` (or its lower-case
    form) is set but blank or names no folder.

    prometheus-client keeps its values in files when the variable is merely present: an
    empty one put ``counter_<pid>.db`` and its kin in the working folder, and /metrics
    then read none of them.  A folder that does not exist failed at the first request.

    Example:
        >>> check_multiprocess_env({})
        >>> try:
        ...     check_multiprocess_env({"PROMETHEUS_MULTIPROC_DIR": ""})
        ... except ValueError as err:
        ...     print(str(err)[:41])
        PROMETHEUS_MULTIPROC_DIR is set but empty
    """
    environ = os.environ if environ is None else environ
    for name in (MULTIPROC_ENV, MULTIPROC_ENV.lower()):
        if name not in environ:
            continue
        folder = environ[name]
        if not folder.strip():
            raise ValueError(
                f"{name} is set but empty: unset it, or name an existing folder for the "
                "metrics files of several workers"
            )
        if not os.path.isdir(folder):
            raise ValueError(
                f"{name} names {folder!r}, which is not a folder: create it, or unset the variable"
            )


class ServiceMetrics:
    """The app's metrics and their exposition (``CONTENT_TYPE``, :meth:`expose`).

    A scrape never sees a model version swap half-done (two versions at 1, or none):
    the swap and the scrape exclude each other, between threads by a lock and, with
    several workers, between processes by a ``flock`` of :data:`MODEL_LOCK` in the
    shared folder.

    Example:
        >>> m = ServiceMetrics()
        >>> m.observe("GET", "/health", 200, 0.002)
        >>> b"latentrec_http_requests_total" in m.expose()
        True
    """

    CONTENT_TYPE = CONTENT_TYPE_LATEST

    def __init__(self):
        check_multiprocess_env()
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        reg = self.registry
        self.requests = Counter(
            "latentrec_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "latentrec_http_request_duration_seconds",
            "Time from request to response by method and route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=reg,
        )
        self.model_info = Gauge(
            "latentrec_model_info",
            "The served model version (value 1, the version in a label; with several "
            "workers, versions a worker served before show 0).",
            ["version"],
            registry=reg,
            multiprocess_mode="liveall",
        )
        self.model_created = Gauge(
            "latentrec_model_created_timestamp_seconds",
            "When the served model version was trained or published (Unix time).",
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.model_age = Gauge(
            "latentrec_model_age_seconds",
            "Age of the served model version at the last scrape.",
            registry=reg,
            multiprocess_mode="livemin",
        )
        self.stored = Gauge(
            "latentrec_store_rows",
            "Rows in the ratings store at the last scrape: ratings, users, items.",
            ["kind"],
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.fold_ins = Counter(
            "latentrec_fold_ins",
            "Users folded in from their stored ratings.",
            registry=reg,
        )
        self.fallbacks = Counter(
            "latentrec_fallbacks",
            "Answers that fell back to popularity (user without a vector).",
            registry=reg,
        )
        self.ratings_written = Counter(
            "latentrec_ratings_written",
            "Ratings and events written to the store through the API.",
            registry=reg,
        )
        self.reloads = Counter(
            "latentrec_model_reloads",
            "Model versions loaded and swapped in after the first.",
            registry=reg,
        )
        self.shown_version = None
        self.children: dict[tuple, tuple] = {}
        self.model_lock = threading.Lock()
        self.lock_path = (
            os.path.join(os.environ[MULTIPROC_ENV], MODEL_LOCK) if self.multiprocess else None
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        key = (method, route, status)
        children = self.children.get(key)
        if children is None:
            # labels() looks its child up under a lock on every call; the label values
            # are few (route templates, not paths), so each pair is looked up once.
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self.children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    @contextmanager
    def model_values(self, exclusive: bool):
        """Hold the model version's values: to change them (``exclusive``) or to read them
        with every other value for a scrape."""
        with self.model_lock:
            if self.lock_path is None:
                yield
                return
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the lock

    def set_model(self, version: str, created: float) -> None:
        """Publish the served model's version (and forget the previous one's label).

        Example:
            >>> m = ServiceMetrics()
            >>> m.set_model("v1", 0.0); m.set_model("v2", 0.0)
            >>> lines = m.expose().decode().splitlines()
            >>> [x for x in lines if x.startswith("latentrec_model_info")]
            ['latentrec_model_info{version="v2"} 1.0']
        """
        with self.model_values(exclusive=True):
            self.show(version, created)

    def set_served(self, holder) -> None:
        """Publish the version ``holder`` serves now, read under the same lock as the
        change: a caller that read the holder before a reload cannot put the older
        version back after the reload published the newer one.

        Example:
            >>> from types import SimpleNamespace
            >>> m = ServiceMetrics()
            >>> m.set_served(SimpleNamespace(current=SimpleNamespace(version="v7", created=0.0)))
            >>> m.shown_version
            'v7'
        """
        with self.model_values(exclusive=True):
            served = holder.current
            self.show(served.version, served.created)

    def show(self, version: str, created: float) -> None:
        if self.shown_version is not None and self.shown_version != version:
            # With several workers each value lives in a file that remove() would leave
            # as it was (and prometheus-client warns on every call there), so the old
            # version is set to 0 and kept: /metrics shows it at 0 for this worker.  In
            # a single process it is removed, and shows not at all.
            self.model_info.labels(self.shown_version).set(0)
            if not multiprocess_env():
                self.model_info.remove(self.shown_version)
        self.model_info.labels(version).set(1)
        self.model_created.set(created)
        self.model_age.set(max(0.0, time.time() - created))
        self.shown_version = version

    def set_store(self, counts: dict) -> None:
        """Publish the store's row counts."""
        for kind in ("ratings", "users", "items"):
            if kind in counts:
                self.stored.labels(kind).set(counts[kind])

    def expose(self) -> bytes:
        """The exposition text (all workers added up in multiprocess mode)."""
        with self.model_values(exclusive=False):
            if self.multiprocess:
                merged = CollectorRegistry()
                multiprocess.MultiProcessCollector(merged)
                return generate_latest(merged)
            return generate_latest(self.registry)
