"""``latentrec serve`` on a port it cannot have, or a host that is not this machine's:
one line naming the port or the host, exit 1, before "serving on" and before the model
is loaded or the store created.  A real listening socket on 127.0.0.1 holds the port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from latentrec.cli import main
from service.lifetime import dies_with_the_test_run


@pytest.fixture
def busy_port():
    """A port on 127.0.0.1 that a listening socket holds for the test."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def serve_command(model, store, *args):
    return [
        sys.executable,
        "-m",
        "latentrec.cli",
        "serve",
        "--model",
        str(model),
        "--store",
        str(store),
        *args,
    ]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_busy_port_is_one_line_and_exit_1(tmp_path, model_files, busy_port, workers):
    store = tmp_path / "s.db"
    done = subprocess.run(
        serve_command(
            model_files["explicit"],
            store,
            "--host",
            "127.0.0.1",
            "--port",
            str(busy_port),
            "--workers",
            workers,
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: port {busy_port} on 127.0.0.1 is in use: stop what listens there or "
        "give another --port"
    ]
    assert not store.exists() and not (tmp_path / "s.db.writer").exists()


@pytest.mark.parametrize(
    "host, start",
    [
        ("999.1.1.1", "Error: cannot listen on 999.1.1.1: "),  # does not resolve
        # 192.0.2.0/24 is reserved for documentation (RFC 5737): no machine has it.
        ("192.0.2.1", "Error: cannot listen on 192.0.2.1 port 8000: "),
    ],
)
def test_a_host_it_cannot_listen_on_is_one_line(tmp_path, model_files, host, start):
    store = tmp_path / "s.db"
    args = ["--model", model_files["explicit"], "--store", store, "--host", host, "--port", 8000]
    result = CliRunner().invoke(main, ["serve", *map(str, args)])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(start)
    assert "serving on" not in result.output and "Traceback" not in result.output
    assert not store.exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_0_says_the_port_it_listens_on(tmp_path, model_files, workers):
    """``--port 0``: the banner named port 0 while uvicorn listened on one it picked later,
    so the printed address never answered.  Now the port is picked first and the banner's
    URL answers, with one worker and with several."""
    import re
    import signal
    import time

    import httpx

    args = ["--host", "127.0.0.1", "--port", "0", "--workers", workers]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            serve_command(model_files["explicit"], tmp_path / "s.db", *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=dies_with_the_test_run(),
        )
    try:
        deadline = time.monotonic() + 90
        url = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"serving on (http://127\.0\.0\.1:(\d+)/)", log.read_text())
            if found:
                assert int(found.group(2)) > 0
                url = found.group(1)
                try:
                    if httpx.get(url + "health", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        else:
            pytest.fail(f"serve --port 0 did not answer at its banner's URL: {log.read_text()}")
        # loopback: no warning about writes open to other machines
        assert "warning" not in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            # Workers on a loaded machine may take a while to drain; the test is about the
            # banner, not the shutdown.
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
