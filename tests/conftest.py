import gc
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions

SEED_MATRIX = np.array(
    [
        [5, 5, 4, 1, 0, 1],
        [4, 5, 5, 2, 1, 0],
        [5, 4, 0, 1, 2, 1],
        [1, 2, 1, 5, 4, 5],
        [0, 1, 2, 4, 5, 4],
        [2, 1, 1, 5, 5, 4],
    ]
)


def random_ratings(n_users=30, n_items=20, density=0.3, seed=0, rank=3) -> Interactions:
    """Small explicit data from a planted low-rank model, string user ids, int item ids."""
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 1, (n_users, rank))
    Q = rng.normal(0, 1, (n_items, rank))
    full = np.clip(np.round(3 + P @ Q.T / np.sqrt(rank)), 1, 5)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(mask)
    df = pd.DataFrame(
        {
            "user_id": [f"u{x}" for x in u],
            "item_id": i + 100,
            "rating": full[u, i],
            "timestamp": rng.integers(0, 10_000, u.size),
        }
    )
    return Interactions.from_frame(df, timestamp="timestamp", rating_scale=(1, 5))


def cli_ratings_frame(n_users: int = 30, times: bool = True) -> pd.DataFrame:
    """What the CLI tests train on: ten of 40 items (ids 100..139) per user (ids from 1),
    random stars, and a random time column ``t`` unless ``times`` is false."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(n_users):
        for i in rng.choice(40, 10, replace=False):
            row = (u + 1, i + 100, int(rng.integers(1, 6)))
            rows.append((*row, int(rng.integers(0, 10**6))) if times else row)
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "t"][: len(rows[0])])


@pytest.fixture
def seed_data() -> Interactions:
    return Interactions.from_dense(SEED_MATRIX)


@pytest.fixture
def small_data() -> Interactions:
    return random_ratings()


def skewed_ratings(n_users=120, n_items=40, seed=0, rank=3) -> Interactions:
    """Planted low-rank ratings where item popularity falls off like a power law."""
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 1, (n_users, rank))
    Q = rng.normal(0, 1, (n_items, rank))
    full = np.clip(np.round(3 + P @ Q.T / np.sqrt(rank)), 1, 5)
    reach = 0.9 / (1 + np.arange(n_items)) ** 0.7
    mask = rng.random((n_users, n_items)) < reach[None, :]
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(mask)
    df = pd.DataFrame({"user_id": u, "item_id": i + 100, "rating": full[u, i]})
    titles = pd.DataFrame(
        {"title": [f"film {j}" for j in range(n_items)]}, index=100 + np.arange(n_items)
    )
    return Interactions.from_frame(df, rating_scale=(1, 5), item_features=titles)


# ---------------------------------------------------------------------- permission bits
# Permission bits do not bind root: a test of what a user who may not write sees runs its
# child as root without the capabilities that override them.
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def python_bound_by_permissions(script: str, *args, env=None, timeout: float = 300):
    """``python -c script args`` in a child whom permission bits bind (as root: without
    its override capabilities, through setpriv), captured; ``env`` defaults to this one
    with latentrec's ``src`` first on the path."""
    if env is None:
        src = str(Path(__file__).resolve().parents[1] / "src")
        env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [*(UNPRIVILEGED if AS_ROOT else []), sys.executable, "-c", script, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def can_drop_privileges() -> bool:
    """Whether this root can run a child that the permission bits bind (setpriv works)."""
    if not AS_ROOT or shutil.which("setpriv") is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)
        probe = subprocess.run([*UNPRIVILEGED, "mkdir", os.path.join(folder, "x")], check=False)
        os.chmod(folder, stat.S_IRWXU)
        return probe.returncode != 0


def pytest_collection_modifyitems(config, items):
    # `make test` runs the suite on two pytest-xdist workers (--dist loadgroup).  A test
    # file goes whole to one worker, so its module fixtures are built once; the Spark
    # files all go to the same one, so the run starts one Spark session, not two.  That
    # group is the longest by far: it goes first, so the other worker works through
    # everything else beside it instead of waiting for it at the end.
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        group = "spark" if path.startswith("tests/spark/") else path
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: not item.nodeid.startswith("tests/spark/"))


# ---------------------------------------------------------------------- apps the tests end
# FastAPI (0.115 on) keeps a process-wide cache (functools.lru_cache, 4096 entries) of the
# route and dependency callables it has classified.  The service's routes are closures
# over their app (its model, store, caches), so that cache kept the last hundred or so
# apps of the run alive, whether their clients were closed or not.  A server builds its
# app once and keeps it, so only a process that builds app after app (this test run) pays.
THREAD_NAMES = ("latentrec-refresh", "latentrec-retrain")


def forget_fastapi_callables() -> None:
    """Empty FastAPI's caches of classified callables (each holds what it classified)."""
    for name in ("fastapi.dependencies.models", "fastapi.dependencies.utils"):
        module = sys.modules.get(name)
        for value in vars(module).values() if module is not None else ():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


@pytest.fixture(autouse=True)
def _apps_end_with_their_test():
    yield
    forget_fastapi_callables()


@pytest.fixture(autouse=True, scope="session")
def _no_freeze_after_each_warm_up():
    # Each app's stop unfreezes what its warm-up froze, so the next warm-up's full
    # collection walks the whole test process (0.25 s an app, half again the service
    # tests' time); tests/service/test_app_lifetime.py runs the freeze as served.
    try:
        from latentrec.service import refresh
    except ImportError:  # no serve extra: no app to warm
        refresh = None
    if refresh is not None:
        refresh.FREEZE_AFTER_WARM = False
    yield


def live_apps() -> tuple[int, list[str]]:
    """How many FastAPI apps and which service threads are still alive, after a full
    collection of everything (frozen objects included)."""
    threads = [t.name for t in threading.enumerate() if t.name.startswith(THREAD_NAMES)]
    fastapi = sys.modules.get("fastapi")
    if fastapi is None:
        return 0, threads
    forget_fastapi_callables()
    gc.unfreeze()
    gc.collect()
    return sum(isinstance(o, fastapi.FastAPI) for o in gc.get_objects()), threads


LEAK_KEY = pytest.StashKey[str]()


def pytest_sessionfinish(session, exitstatus):
    # Every fixture has been torn down by now: an app or a service thread still alive is
    # one a test (a module-level client, a client never closed, a lifespan never left)
    # keeps for the rest of the run.
    apps, threads = live_apps()
    message = session.config.stash.get(LEAK_KEY, None)  # a pytest-xdist worker's
    if apps or threads:
        message = (
            f"the test run ended with {apps} FastAPI app(s) and the threads {threads} still "
            "alive: close every TestClient (use `with`) and build no app at module level"
        )
    if message is None:
        return
    session.config.stash[LEAK_KEY] = message
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if hasattr(session.config, "workeroutput"):  # a worker: the controller reports it
        session.config.workeroutput["latentrec_leak"] = message


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    message = getattr(node, "workeroutput", {}).get("latentrec_leak")
    if message:
        node.config.stash[LEAK_KEY] = message


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    message = config.stash.get(LEAK_KEY, None)
    if message:
        terminalreporter.write_line(f"LEAK: {message}", red=True)
