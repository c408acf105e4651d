"""``latentrec serve --workers N`` killed outright (``kill -9`` on its pid, the
out-of-memory killer picking the parent): its workers end too.

Before, they went on running without a parent, holding the port: they kept answering
requests of a service that was gone, and a ``serve`` started again in its place could
not listen (the port in use) until someone found and killed them by hand.  A worker now
has the kernel end it (SIGTERM, a graceful stop) when its parent dies, as a
``--retrain-every`` retrain already had.  Real ``serve`` processes on 127.0.0.1 port 0;
the waits are bounds far above a worker's stop, not speed requirements.
"""

from __future__ import annotations

import os
import re
import signal
import sys

import pytest

from latentrec.cli.serve import check_listen
from service.serving import alive
from service.test_serve_exit import STOP_BOUND_SECONDS, start_serve, wait_all_gone
from service.test_serve_sigterm import answers, stop_group, wait_for, workers_of

# Far above a serve's start (a few seconds).
START_BOUND_SECONDS = 90


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG)")
def test_the_workers_of_a_killed_serve_end_and_free_its_port(tmp_path, model_files):
    proc, log = start_serve(tmp_path, model_files["explicit"], 2, "--no-access-log")
    try:
        wait_for(lambda: answers(log), START_BOUND_SECONDS, "no answer to /health", log)
        workers = wait_for(
            lambda: workers_of(proc.pid) if len(workers_of(proc.pid)) == 2 else None,
            START_BOUND_SECONDS,
            "two workers",
            log,
        )
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", log.read_text()).group(1))
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(STOP_BOUND_SECONDS) == -signal.SIGKILL
        wait_for(
            lambda: not any(alive(pid) for pid in workers),
            STOP_BOUND_SECONDS,
            f"workers {sorted(workers)} still run",
            log,
        )
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)  # the resource tracker too
        assert not answers(log)
        check_listen("127.0.0.1", port)  # a new serve could listen there
    finally:
        stop_group(proc)
