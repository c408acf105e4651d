"""``latentrec serve``'s clean-up after its workers have stopped: the stop signals are
heard again, and a second one hurries the clean-up without cutting it short.

Before, uvicorn's worker supervisor left its signal handlers installed in ``serve``
once it had stopped: with ``--workers N`` a Ctrl-C during the final clean-up (a
``--retrain-every`` retrain being stopped) was queued for a loop that no longer ran, and
ignored; ``serve`` waited out the retrain's grace.  With one worker a second signal
raised through the clean-up instead, which then left the retrain child to its grace
alone.  Real ``serve`` processes on 127.0.0.1 port 0; the waits are bounds far below the
retrain grace the test sets (300 s), not speed requirements.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from latentrec import load
from latentrec.cli.supervisor import worker_supervisor
from latentrec.service.versions import ModelDirectory
from service.lifetime import dies_with_the_test_run
from service.serving import alive
from service.test_serve_exit import STOP_BOUND_SECONDS, hears_ctrl_c, wait_all_gone
from service.test_serve_sigterm import wait_for

# In `serve`: a retrain child gets 300 s to exit after SIGTERM (CHILD_GRACE is 5 s), so
# a second signal that is not heard keeps serve far longer than the tests' bounds.  In
# the retrain child: it notes its pid, ignores the stop signals and sleeps, as a
# retrain deep in a native call does.
HOOK = """
import os, signal, time
with open("/proc/self/cmdline", "rb") as f:
    args = f.read().split(b"\\0")
if b"latentrec.cli" in args and b"serve" in args:
    import functools
    import latentrec.service.schedule as schedule
    schedule.end_child = functools.partial(schedule.end_child, grace=300.0)
elif b"latentrec.cli" in args and b"retrain" in args:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(os.environ["RETRAIN_PIDS"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(600)
"""


def serve_with_held_retrain(tmp_path: Path, model: Path, workers: int):
    """``serve --model-dir --retrain-every 1s --workers N`` in its own process group
    (``TMPDIR`` is ``tmp_path/tmp``), once its retrain child is held: the process, its
    log and the child's pid."""
    models = ModelDirectory(tmp_path / "models")
    models.publish(load(model))
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    pids = tmp_path / "retrain.pids"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "RETRAIN_PIDS": str(pids), "TMPDIR": str(temporary)}
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "latentrec.cli", "serve", "--model-dir", str(models.path)]
    command += ["--store", str(tmp_path / "s.db"), "--host", "127.0.0.1", "--port", "0"]
    command += ["--retrain-every", "1s", "--no-access-log", "--workers", str(workers)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=dies_with_the_test_run(hears_ctrl_c),
            env=env,
        )
    try:
        wait_for(
            lambda: pids.exists() and pids.read_text().endswith("\n"),
            90,
            "a retrain child to be held",
            log,
        )
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        raise
    return proc, log, int(pids.read_text().split()[0])


@pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    "workers, second",
    [(1, signal.SIGINT), (2, signal.SIGINT), (2, signal.SIGHUP)],
    ids=["1-SIGINT", "2-SIGINT", "2-SIGHUP"],
)
def test_a_second_ctrl_c_during_the_clean_up_ends_the_retrain_and_serve_at_once(
    tmp_path, model_files, workers, second
):
    """Ctrl-C, then Ctrl-C again (or the terminal closing: SIGHUP) while ``serve`` waits
    for its retrain run: the run is killed, the clean-up ends, and ``serve`` ends by the
    first signal."""
    proc, log, child = serve_with_held_retrain(tmp_path, model_files["explicit"], workers)
    try:
        os.killpg(proc.pid, signal.SIGINT)
        # The server has stopped: serve now waits for the retrain child, which ignores
        # the signal and SIGTERM.
        stopped = "Stopping parent process" if workers > 1 else "Finished server process"
        wait_for(lambda: stopped in log.read_text(errors="replace"), STOP_BOUND_SECONDS,
                 "the server to stop", log)  # fmt: skip
        assert proc.poll() is None and alive(child)
        os.killpg(proc.pid, second)
        wait_for(lambda: proc.poll() is not None, STOP_BOUND_SECONDS, "serve to end", log)
        assert proc.returncode == -signal.SIGINT
        wait_for(lambda: not alive(child), STOP_BOUND_SECONDS, "the retrain child to end", log)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
        # Its clean-up ran to the end: the workers' metrics and failures folders are gone.
        assert sorted(os.listdir(tmp_path / "tmp")) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if alive(child):
            os.kill(child, signal.SIGKILL)


def test_the_supervisor_gives_back_the_signal_handlers_it_found():
    """Its handlers only queue a signal for its loop: left after it, a stop signal was
    queued for nobody."""
    from uvicorn.supervisors.multiprocess import SIGNALS

    def mine(signum, frame):
        pass

    handlers = {signum: signal.getsignal(signum) for signum in SIGNALS}
    try:
        for signum in SIGNALS:
            signal.signal(signum, mine)
        supervisor = worker_supervisor()(SimpleNamespace(workers=0), sockets=[])
        assert signal.getsignal(signal.SIGINT) is not mine  # its own, while it runs
        supervisor.should_exit.set()
        supervisor.run()
        assert {signal.getsignal(signum) for signum in SIGNALS} == {mine}
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
