"""A real standalone Spark cluster (master + worker on 127.0.0.1), a fit through it, shutdown.

The pyspark wheel ships ``sbin/spark-daemon.sh`` but not the ``start-master.sh`` /
``start-worker.sh`` wrappers of the full distribution; those wrappers only call
``spark-daemon.sh start org.apache.spark.deploy.master.Master 1 ...`` (and ``...Worker``),
which is what this test does, with ``SPARK_LOCAL_IP=127.0.0.1`` and temporary log and pid
folders.  The fit is ``latentrec train --engine spark --spark-master spark://...`` in a
child process (one SparkContext per process), so the command line is tested with it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from spark_support import spark_missing

pytestmark = pytest.mark.spark


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# Slow (about 70 s: a master, a worker and an application on their own JVMs): in `make
# test-all`, out of the default suite, which must stay under 15 minutes on 2 cores.
@pytest.mark.slow
def test_fit_through_a_standalone_master_and_worker(tmp_path):
    why = spark_missing()
    if why:
        pytest.skip(f"Spark tests skipped: {why}")
    import pyspark

    import latentrec
    from latentrec import Interactions
    from latentrec.models import ALS

    home = Path(pyspark.__file__).parent
    daemon = home / "sbin" / "spark-daemon.sh"
    for sub in ("logs", "pids", "conf", "work"):
        (tmp_path / sub).mkdir()
    env = dict(
        os.environ,
        SPARK_HOME=str(home),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOG_DIR=str(tmp_path / "logs"),
        SPARK_PID_DIR=str(tmp_path / "pids"),
        SPARK_CONF_DIR=str(tmp_path / "conf"),
        SPARK_WORKER_DIR=str(tmp_path / "work"),
        SPARK_IDENT_STRING="latentrec-test",
        SPARK_DAEMON_MEMORY="512m",
        PYSPARK_PYTHON=sys.executable,
    )
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    master = "org.apache.spark.deploy.master.Master"
    worker = "org.apache.spark.deploy.worker.Worker"
    started = []

    def daemon_call(*args):
        subprocess.run(["bash", str(daemon), *args], env=env, check=True, timeout=60,
                       capture_output=True)  # fmt: skip

    rng = np.random.default_rng(2)
    u, i = np.nonzero(rng.random((30, 15)) < 0.4)
    frame = pd.DataFrame({"user": u, "item": i, "rating": rng.integers(1, 6, u.size) * 1.0})
    frame.to_csv(tmp_path / "ratings.csv", index=False)
    model_path = tmp_path / "model.npz"
    try:
        daemon_call("start", master, "1", "--host", "127.0.0.1", "--port", str(port),
                    "--webui-port", str(free_port()))  # fmt: skip
        started.append(master)
        daemon_call("start", worker, "1", "--host", "127.0.0.1", "--webui-port",
                    str(free_port()), "--cores", "1", "--memory", "1g", url)  # fmt: skip
        started.append(worker)
        child = subprocess.run(
            [sys.executable, "-m", "latentrec.cli", "train", str(tmp_path / "ratings.csv"),
             "--engine", "spark", "--spark-master", url, "-a", "als", "--user-col", "user",
             "--item-col", "item", "--factors", "3", "--epochs", "3", "--regularization",
             "0.1", "--seed", "4", "-q", "-o", str(model_path)],
            env={k: v for k, v in env.items() if k != "SPARK_HOME"},
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        assert child.returncode == 0, child.stderr[-3000:]
        assert f"on Spark ({url})" in child.stdout
    finally:
        pids = [int(p.read_text()) for p in (tmp_path / "pids").glob("*.pid")]
        for cls in reversed(started):
            daemon_call("stop", cls, "1")
        deadline = time.monotonic() + 30
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert len(pids) == 2 and not any(alive(p) for p in pids), "a Spark daemon outlived stop"
    assert not list((tmp_path / "pids").glob("*.pid"))
    # The cluster's model file is the single-machine ALS model.
    model = latentrec.load(model_path)
    data = Interactions.from_frame(frame, "user", "item", "rating")
    ref = ALS(n_factors=3, n_epochs=3, regularization=0.1, random_state=4).fit(data)
    assert model.catalog_.users == ref.catalog_.users
    np.testing.assert_allclose(model.user_factors_, ref.user_factors_, atol=1e-4)
    assert model.recommend(0, n=3).ids.tolist() == ref.recommend(0, n=3).ids.tolist()
