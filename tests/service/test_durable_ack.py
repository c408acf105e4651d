"""A write is acknowledged only once it is durable: on SQLite, the store's log is flushed
to disk (``fdatasync`` of ``<store>-wal``) before the 2xx leaves the process.

A SIGKILL test (test_serve.py) cannot show this: a killed process's writes are already in
the operating system's cache and survive it, flushed or not, so it passes with
``synchronous=OFF`` too.  What survives a power cut is what was flushed.  So this test runs
``latentrec serve`` under ``strace`` and reads the order of the system calls: for every
write request, the request is read, the log is flushed, and only then is the answer sent.
With ``PRAGMA synchronous=NORMAL`` (WAL mode flushes only at checkpoints) it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import BANNER
from .lifetime import dies_with_the_test_run
from .test_servers_end_with_the_run import ended, killed_after_starting

STRACE = shutil.which("strace")


def strace_works() -> bool:
    if STRACE is None:
        return False
    done = subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=fdatasync", "true"], capture_output=True, timeout=30
    )
    return done.returncode == 0  # ptrace may be forbidden (a container's seccomp policy)


pytestmark = pytest.mark.skipif(not strace_works(), reason="needs strace and ptrace")


# How the server may read a request and send its answer: asyncio's own loop calls
# recvfrom and sendto, uvloop (libuv; uvicorn[standard] installs it and uvicorn prefers
# it) read and write, on the same socket.
SOCKET_READS = ("recvfrom", "read", "recvmsg", "readv")
SOCKET_WRITES = ("sendto", "write", "sendmsg", "writev")
SOCKET_CALLS = SOCKET_READS + SOCKET_WRITES
READ_LINE = re.compile(rf"\b(?:{'|'.join(SOCKET_READS)})\(\d+<(?:socket|TCP)")
RESUMED_READ = re.compile(rf"<\.\.\. (?:{'|'.join(SOCKET_READS)}) resumed>")
WRITE_LINE = re.compile(rf"\b(?:{'|'.join(SOCKET_WRITES)})\(\d+<(?:socket|TCP)")


def start_traced(command: list[str], trace, log) -> subprocess.Popen:
    """``command`` run under strace (its system calls named in the test written to
    ``trace``), in a session of its own, ending with the test run.

    ``-I 2``: with ``-o FILE`` strace otherwise blocks SIGTERM for good, so the SIGTERM
    that :func:`dies_with_the_test_run` sends when the run is killed did nothing, and
    strace and the serve it traces ran on; now strace passes it to its child and exits.
    """
    # --seccomp-bpf: only the traced calls stop the process, so it runs at nearly full speed.
    strace = [
        STRACE, "-f", "-qq", "-y", "-I", "2", "--seccomp-bpf",
        "-e", f"trace=fdatasync,fsync,{','.join(SOCKET_CALLS)}", "-o", str(trace),
    ]  # fmt: skip
    return subprocess.Popen(
        [*strace, *command],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=dies_with_the_test_run(),
    )


def acked_writes(trace: str) -> list[tuple[str, bool]]:
    """Each answered write request in the trace: its first line and whether the store's
    log was flushed after the request was read and before its answer was sent.

    Example:
        >>> acked_writes('''1 recvfrom(9<socket:[7]>, "POST /ratings HTTP/1.1\\\\r\\\\n"..., 9) = 90
        ... 1 fdatasync(5</tmp/r.sqlite-wal>) = 0
        ... 1 sendto(9<socket:[7]>, "HTTP/1.1 201 Created\\\\r\\\\n"..., 9, 0, NULL, 0) = 9''')
        [('POST /ratings HTTP/1.1', True)]

    A call that another thread's output interrupts is printed in two parts, a read's data
    in the second (``<... recvfrom resumed>``); a loaded machine makes that common:
        >>> acked_writes('''1 recvfrom(9<socket:[7]>,  <unfinished ...>
        ... 2 futex(0x1, FUTEX_WAKE, 1) = 0
        ... 1 <... recvfrom resumed> "DELETE /users/a HTTP/1.1\\\\r\\\\n"..., 9) = 90
        ... 2 fsync(5</tmp/r.sqlite-wal>) = 0
        ... 1 sendto(9<socket:[7]>, "HTTP/1.1 200 OK\\\\r\\\\n"..., 9, 0, NULL, 0) = 9''')
        [('DELETE /users/a HTTP/1.1', True)]

    Under uvloop the same socket is read and written with read and write; a file's read
    holding the same words is no request:
        >>> acked_writes('''1 read(7</tmp/notes.txt>, "POST /ratings HTTP/1.1"..., 9) = 22
        ... 1 read(24<socket:[7]>, "POST /ratings HTTP/1.1\\r\\n"..., 9) = 90
        ... 1 write(24<socket:[7]>, "HTTP/1.1 201 Created\\r\\n"..., 9) = 9''')
        [('POST /ratings HTTP/1.1', False)]
    """
    out, request, flushed = [], None, False
    for line in trace.splitlines():
        reads = READ_LINE.search(line) or RESUMED_READ.search(line)
        if reads and re.search(r'"(POST|DELETE) /', line):
            request = re.search(r'"((?:POST|DELETE) [^\\"]*)', line).group(1)
            flushed = False
        elif request and re.search(r"f(data)?sync\(\d+<[^>]*-wal>", line):
            flushed = True
        elif request and WRITE_LINE.search(line) and '"HTTP/1.1 2' in line:
            out.append((request, flushed))
            request = None
    return out


def test_every_acknowledged_write_was_flushed_to_disk_before_its_answer(model_files, tmp_path):
    store = tmp_path / "ratings.sqlite"
    trace = tmp_path / "trace.txt"
    log = open(tmp_path / "serve.log", "wb")
    command = [
        sys.executable, "-m", "latentrec.cli", "serve", "--model", str(model_files["explicit"]),
        "--store", str(store), "--port", "0", "--no-access-log",
    ]  # fmt: skip
    proc = start_traced(command, trace, log)
    url = None
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            # Port 0: the port this serve listens on is in its line, never another's.
            if url is None and (found := BANNER.search((tmp_path / "serve.log").read_bytes())):
                url = f"http://127.0.0.1:{int(found.group(1))}"
            try:
                if url and httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not start under strace"
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=30) as http:
            for k in range(12):
                rating = {"user_id": f"d{k}", "item_id": str(100 + k), "rating": 1 + k % 5}
                assert http.post("/ratings", json=rating).status_code == 201
            batch = [{"user_id": "d0", "item_id": str(120 + k), "rating": 4} for k in range(3)]
            assert http.post("/ratings", json={"ratings": batch}).status_code == 201
            answers = {"answers": [{"item_id": "100", "rating": 5}], "n": 3}
            assert http.post("/users/new/onboarding", json=answers).status_code == 200
            assert http.delete("/users/d1/ratings/101").status_code == 200
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        ended(proc.pid)
        log.close()
    text = trace.read_text(errors="replace")
    writes = acked_writes(text)
    # If this fails, say what the trace held: a once-seen failure found no request at all.
    lines = text.splitlines()
    seen = f"{len(lines)} trace lines, {sum('HTTP/1.1' in x for x in lines)} with HTTP; last: "
    assert [request.split()[0] for request, _ in writes] == ["POST"] * 14 + ["DELETE"], (
        seen + "\n".join(lines[-12:])
    )
    unflushed = [request for request, flushed in writes if not flushed]
    assert unflushed == [], f"answered before the store's log reached the disk: {unflushed}"


def test_a_traced_process_ends_with_the_run_that_started_it(tmp_path):
    """strace and what it traces end once the test run that started them is killed.

    Before, strace (``-o FILE``) blocked the SIGTERM the run's end sends, so both ran on.
    A stand-in run starts a traced sleep as this module starts serve and is SIGKILLed.
    """
    pid = killed_after_starting(
        """
        import sys, time
        from service.test_durable_ack import start_traced
        folder = sys.argv[1]
        traced = "print('up', flush=True); import time; time.sleep(600)"
        with open(folder + "/out.log", "wb") as log:
            proc = start_traced([sys.executable, "-c", traced], folder + "/t.txt", log)
        # Killed only once strace runs what it traces, as a test run is.
        while b"up" not in open(folder + "/out.log", "rb").read():
            time.sleep(0.05)
        print(proc.pid, flush=True)
        proc.wait()
        """,
        str(tmp_path),
    )
    ended(pid)
