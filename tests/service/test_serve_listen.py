"""``latentrec serve`` on a port it cannot have, or a host that is not this machine's:
one line naming the port or the host, exit 1, before "serving on" and before the model
is loaded or the store created.  A real listening socket on 127.0.0.1 holds the port."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from latentrec.cli import main


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
