"""tests/cli_forks.py, the fork server that runs the installed ``latentrec`` command."""

import fcntl
import os
import resource
import stat
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import cli_forks
import pytest

needs_server = pytest.mark.skipif(
    cli_forks.EXE is None or not hasattr(cli_forks.os, "fork"),
    reason="no installed latentrec script or no fork: commands run as subprocesses",
)

# Far above a fork server's start (its imports) on a loaded machine.
STARTUP_BOUND_SECONDS = 300
HANG_BOUND_SECONDS = 30


@needs_server
def test_a_command_that_ends_before_its_pid_is_read_is_seen_to_end(tmp_path, monkeypatch):
    """The server writes a child's "pid" and "code" lines one after the other; on a busy
    machine a fast command ends before the test reads the first, and its end must still be
    seen (not waited for until the timeout, then its reaped pid killed)."""

    readable = cli_forks._readable

    def late(fd, timeout):
        # Look only once both lines are in the pipe: a "pid" line has at most 12 bytes.
        for _ in range(1000):
            waiting = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
            if struct.unpack("i", waiting)[0] >= 13:
                break
            time.sleep(0.005)
        return readable(fd, timeout)

    server = cli_forks._Server()
    try:
        # The server's own start (its imports: a second of CPU, far more beside another
        # worker's tests) is waited for first: a bound that took it in failed on a busy
        # machine before the server had forked anything.
        server.run(["--version"], tmp_path, timeout=STARTUP_BOUND_SECONDS)
        monkeypatch.setattr(cli_forks, "_readable", late)
        # A hang detector: a fork's --version takes well under a second; an end that is not
        # seen is waited for until this bound and then raised as a timeout.
        done = server.run(["--version"], tmp_path, timeout=HANG_BOUND_SECONDS)
        again = server.run(["--version"], tmp_path, timeout=HANG_BOUND_SECONDS)
    finally:
        server.close()
    assert done.returncode == 0 and done.stdout.startswith("latentrec, version")
    assert again.stdout == done.stdout


def test_without_the_installed_script_commands_run_as_it_would(tmp_path, monkeypatch):
    """No ``latentrec`` script next to the interpreter (the package not installed): each
    command runs in a subprocess, under the command's own name, as the script runs it."""
    monkeypatch.setattr(cli_forks, "EXE", None)
    monkeypatch.setattr(cli_forks, "_server", None)
    done = cli_forks.latentrec("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("latentrec, version"), done
    usage = cli_forks.latentrec("recommend", cwd=tmp_path)
    assert usage.returncode == 2 and usage.stderr.startswith("Usage: latentrec recommend")
    assert cli_forks._server is None


@needs_server
def test_a_command_makes_files_under_the_callers_umask(tmp_path):
    """A subprocess inherits the umask its caller has now; a child of the server, forked
    from a process started earlier, must be given it."""
    (tmp_path / "r.csv").write_text("user_id,item_id,rating\n1,2,4\n2,3,5\n")
    server = cli_forks._Server()
    old = os.umask(0o077)
    try:
        done = server.run(["data", "convert", "r.csv", "-o", "r.lrdata"], tmp_path, timeout=60)
    finally:
        os.umask(old)
        server.close()
    assert done.returncode == 0, done
    assert stat.S_IMODE((tmp_path / "r.lrdata").stat().st_mode) & 0o077 == 0


FORKS_AND_EXITS = """
import os, sys
import cli_forks
assert cli_forks.latentrec("--version").returncode == 0
pid = os.fork()
if pid == 0:
    child = cli_forks.latentrec("--version")  # a subprocess: the server is not the child's
    sys.exit(child.returncode)  # an ordinary exit, so the atexit calls run here too
assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
done = cli_forks.latentrec("--version")
print(done.returncode, done.stdout.strip())
"""


@needs_server
def test_a_forked_test_process_leaves_the_server_to_its_parent(tmp_path):
    """A child forked from a process that started the server (a test of its own forks),
    exiting normally, must not stop the server or remove its folder on the way out."""
    env = dict(cli_forks.os.environ)
    env["PYTHONPATH"] = cli_forks.os.pathsep.join([str(Path(__file__).parent), *sys.path])
    done = subprocess.run(
        [sys.executable, "-c", FORKS_AND_EXITS], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("0 latentrec, version"), done.stdout


@needs_server
def test_a_server_started_past_1024_open_descriptors_serves(tmp_path):
    """Late in a whole test run the process holds over 1024 descriptors, so a server
    started then reads its replies from a descriptor select() cannot watch ("filedescriptor
    out of range in select()", which CI met); its replies are read with poll()."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the descriptor limit ({hard}) is below what the check needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        server = cli_forks._Server()
        try:
            assert server.process.stdout.fileno() > 1024
            done = server.run(["--version"], tmp_path, timeout=60)
        finally:
            server.close()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert done.returncode == 0 and done.stdout.startswith("latentrec, version")
