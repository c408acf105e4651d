"""A SparkSession set up for latentrec (executors run this Python; loopback when local)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import socket
import sys
import threading
import time

from ..errors import needs_extra


def spark_session(master: str = "local[2]", *, app_name: str = "latentrec", jvm_log=None, **conf):
    """Get or create a SparkSession on ``master`` (``local[N]`` or a ``spark://`` URL).

    Python workers run the interpreter of this process (so they import the same
    latentrec); the web UI is off; with a ``local`` master the driver binds to
    127.0.0.1 only.  ``conf`` adds Spark settings, with dots written as underscores
    (``sql_shuffle_partitions=4``) or as a dict passed with ``**{"spark.x": ...}``.

    ``jvm_log``, an open file, receives what a JVM started by this call writes to its
    standard output and error (log4j lines, Java's own warnings), for its whole life: a
    command line keeps them off the user's terminal this way; pyspark's own log of a
    failed query (the Java stack of an ``AnalysisException``, which is raised as well)
    is then switched off, and Ctrl-C raises ``KeyboardInterrupt`` without pyspark's
    handler, whose call to the JVM from inside another printed py4j's tracebacks.  The
    JVM inherits this process's descriptors 1 and 2, so they point at ``jvm_log`` while
    the session starts.

    Example:
        >>> spark = spark_session("local[1]", sql_shuffle_partitions=2)  # doctest: +SKIP
        >>> spark.conf.get("spark.sql.shuffle.partitions")  # doctest: +SKIP
        '2'
    """
    with needs_extra("spark", "latentrec.spark.spark_session"):
        from pyspark.sql import SparkSession

    if master.startswith("spark://"):
        check_master(master)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    for key, value in conf.items():
        name = key if key.startswith("spark.") else "spark." + key.replace("_", ".")
        builder = builder.config(name, str(value))
    if jvm_log is None:
        return builder.getOrCreate()
    # pyspark logs an AnalysisException with its Java stack, as JSON, to standard error
    # before it is raised; the caller gets the exception, the log holds nothing more.
    for name in _QUERY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    main = threading.current_thread() is threading.main_thread()
    if main:  # Ctrl-C while the JVM starts counts as well (SparkContext sets its own)
        signal.signal(signal.SIGINT, _interrupted)
    from pyspark import SparkContext

    before = _children()
    had_gateway = SparkContext._gateway is not None  # a JVM of an earlier session
    try:
        with _descriptors_to(jvm_log):
            session = builder.getOrCreate()
    except BaseException:
        # Ctrl-C while the JVM starts: pyspark keeps no handle of a JVM it never connected
        # to, and that JVM (which ignores SIGINT) outlived the command by minutes.  A JVM
        # this call started goes whatever failed: one started with a bad setting holds it
        # for good (its settings are its system properties), and pyspark would reuse it
        # for the next session, so it forgets it too and the next start launches a new one.
        if not had_gateway:
            for pid in _children() - before:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
            SparkContext._gateway = None
            SparkContext._jvm = None
        raise
    if main:
        signal.signal(signal.SIGINT, _interrupted)
    return session


def _children() -> set[int]:
    """The ids of this process's children (from /proc; an empty set where there is none)."""
    found = set()
    me = os.getpid()
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    with open(f"/proc/{entry}/stat") as fh:
                        if int(fh.read().rsplit(")", 1)[1].split()[1]) == me:
                            found.add(int(entry))
    return found


# How many times _interrupted has run in this process.
_interrupts = 0


def _interrupted(signum, frame):
    # pyspark's own handler asks the JVM to cancel its jobs over the connection that the
    # interrupted call holds: a reentrant call, after which py4j logs two tracebacks on
    # the terminal through the root logger.  A command stops its session as it unwinds
    # (which cancels the jobs); past Ctrl-C, nothing it logs is news.
    global _interrupts
    _interrupts += 1
    logging.disable(logging.CRITICAL)
    raise KeyboardInterrupt


def interrupt_caused(err: BaseException) -> bool:
    """Whether ``err`` was raised while a ``KeyboardInterrupt`` unwound (one is in its
    ``__context__`` chain): then it is the interrupt's doing, not a failure of its own.

    Ctrl-C inside a py4j call leaves that call's connection unanswered; the clean-up that
    runs as the interrupt unwinds (pyspark's ``__exit__`` of a job, ``spark.stop()``) then
    fails with "Py4JNetworkError: Answer from Java side is empty", which replaced the
    interrupt.  A command that reads such an error as its interrupt prints one
    ``Aborted!``.

    Example:
        >>> try:
        ...     try:
        ...         raise KeyboardInterrupt
        ...     finally:
        ...         raise ConnectionError("Answer from Java side is empty")
        ... except ConnectionError as err:
        ...     interrupt_caused(err)
        True
        >>> interrupt_caused(ValueError("bad rating"))
        False
    """
    seen = set()
    cause = err
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__
    return False


def interrupt_wins(fn):
    """Wrap a function that runs Spark jobs so that an error it raises after Ctrl-C
    (:func:`interrupt_caused`, or SIGINT received by :func:`spark_session`'s handler
    during the call) is raised as ``KeyboardInterrupt`` (chained to the error): Ctrl-C
    to a terminal's process group also reaches Spark's Python workers, whose failed
    tasks then fail the job.

    Example:
        >>> @interrupt_wins
        ... def job():
        ...     raise ValueError("no column 'user'")
        >>> job()
        Traceback (most recent call last):
        ...
        ValueError: no column 'user'
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = _interrupts
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            if _interrupts != before or interrupt_caused(err):
                raise KeyboardInterrupt from err
            raise

    return wrapper


def stop_session(spark) -> None:
    """``spark.stop()``, for a ``finally`` block: as a ``KeyboardInterrupt`` unwinds,
    an error of the stop (a py4j connection that Ctrl-C cut) is the interrupt's doing
    and raised as ``KeyboardInterrupt``, not in its place.

    Example:
        >>> try:  # doctest: +SKIP
        ...     model = fit_als(df)
        ... finally:
        ...     stop_session(spark)
    """
    interrupt_wins(spark.stop)()


#: pyspark's loggers of a failed query (pyspark.errors.exceptions.base).
_QUERY_LOGGERS = ("DataFrameQueryContextLogger", "SQLQueryContextLogger")


#: Seconds a ``spark://`` master has to take a connection: one just started (its JVM
#: binds the port a few seconds after ``start-master.sh`` returns) is waited for.
MASTER_WAIT_S = 10.0


def check_master(master: str, wait: float | None = None) -> None:
    """Raise ``ConnectionError`` naming ``master`` (``spark://host:port``, or several
    ``host:port`` after it, comma-separated) when none of its addresses takes a TCP
    connection within ``wait`` seconds (:data:`MASTER_WAIT_S`).  Spark itself retries
    for about a minute, then fails with "Cannot call methods on a stopped SparkContext"
    and the Java stack of where it was made.

    Example:
        >>> check_master("spark://127.0.0.1:1", wait=0.1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ConnectionError: no Spark master answers at spark://127.0.0.1:1 (127.0.0.1:1: ...); ...
    """
    addresses = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            addresses.append((address.strip(), host.strip("[]"), int(port)))
        except ValueError:
            raise ValueError(
                f"the Spark master {master} has no port number in {address!r} (spark://host:7077)"
            ) from None
    deadline = time.monotonic() + (MASTER_WAIT_S if wait is None else wait)
    while True:
        why = []
        for address, host, port in addresses:
            try:
                left = max(deadline - time.monotonic(), 0.1)
                with socket.create_connection((host, port), timeout=min(left, 5.0)):
                    return
            except socket.gaierror as err:  # a name that does not resolve stays so
                why.append(f"{address}: {err.strerror or err}")
                deadline = 0.0
            except OSError as err:
                why.append(f"{address}: {err.strerror or err}")
        if time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    raise ConnectionError(
        f"no Spark master answers at {master} ({'; '.join(why)}); start it, or check "
        "the host and the port (7077 unless set)"
    )


@contextlib.contextmanager
def _descriptors_to(log):
    # pyspark starts the JVM as a child that inherits descriptors 1 and 2; pointing them
    # at the log for the start is the one way in its public API to choose where it writes.
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


@contextlib.contextmanager
def session_conf(spark, settings: dict):
    """Set SQL settings of ``spark`` for the block, then put the previous values back.

    Example:
        >>> with session_conf(spark, {"spark.sql.shuffle.partitions": "3"}):  # doctest: +SKIP
        ...     spark.conf.get("spark.sql.shuffle.partitions")
        '3'
    """
    old = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
