"""Run the installed ``latentrec`` command as a fresh process does, without paying for a
fresh interpreter and latentrec's imports on every line.

An end-to-end CLI test that starts ``latentrec`` in a subprocess pays about a second of
CPU per line before the command does anything: the interpreter starts and imports numpy,
pandas, scipy, numba and click.  Dozens of such lines cost a minute of the suite.  Here
one server process runs the installed script up to its call of ``main()`` (its imports)
and loads the command line, once; each command then runs in a child forked from it, with
its arguments in ``sys.argv``, in its own folder, its standard output and error going to
files and its standard input empty, and exits with ``main()``'s status, through the same
shutdown as the script's own.  A child starts from the state a fresh ``latentrec``
process is in once ``main()`` has loaded the command line: what a command imports beyond
that it imports alone (a missing import is not hidden by an earlier command), and nothing
a command changes (threads, environment, caches, files it opened) reaches the next.
tests/test_readme.py runs the README's command lines the same way.

What a fork cannot give is a setting read at import: ``PYTHONPATH``, a ``sitecustomize``,
``NUMBA_*``.  A command whose environment differs from the server's (other than pytest's
own ``PYTEST_CURRENT_TEST``) therefore runs as a real subprocess, as does every command
when ``fork`` is missing or the script is not installed (then running what the script
runs: ``main()`` under the name ``latentrec``).  Nor can it give a fresh process's own
string hash seed: every child hashes as the server does, so output that follows a set's
order looks the same from one command to the next; a test that two runs agree should run
them as subprocesses (an ``env`` of their own does it).  A command's own children are
not killed with it at a timeout, as with ``subprocess.run``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

EXE = shutil.which("latentrec", path=str(Path(sys.executable).parent))

# The server: the installed script's imports, the command line loaded, then one fork per
# request line ({"args", "cwd", "out", "err", "test", "umask"}); it answers "pid N" at the
# fork and "code N" when the child has ended.  Requests come one at a time, so the child
# inherits no unread request, and the server starts no thread, so the fork copies no
# half-held lock.
SERVER = r"""
import json, os, sys
exe = sys.argv[1]
sys.path[0] = os.path.dirname(exe)  # where the script runs from: its folder, not the cwd
script = {"__name__": "latentrec_script", "__file__": exe}  # not __main__: main() waits
with open(exe, encoding="utf-8") as source:
    exec(compile(source.read(), exe, "exec"), script)  # its imports: `from ... import main`
main = script["main"]
from latentrec.cli import main as _commands  # what main() loads first on every line
replies = os.fdopen(os.dup(1), "w")
for line in sys.stdin:
    job = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        replies.close()
        os.chdir(job["cwd"])
        os.umask(job["umask"])
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, name in ((1, "out"), (2, "err")):
            os.dup2(os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        if job["test"] is None:
            os.environ.pop("PYTEST_CURRENT_TEST", None)
        else:
            os.environ["PYTEST_CURRENT_TEST"] = job["test"]
        sys.argv = [exe, *job["args"]]
        sys.exit(main())  # the script's last line; an exception exits 1 with its traceback
    print(f"pid {pid}", file=replies, flush=True)
    print(f"code {os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}", file=replies, flush=True)
"""

# Without the installed script: what it runs, as it runs it ("python -m latentrec" would
# name itself so in its usage and version lines; -c puts the folder first on the path,
# where the script puts its own).
SCRIPT = (
    "import sys\n"
    "if sys.path[0] == '': del sys.path[0]\n"
    "from latentrec.__main__ import main\n"
    "sys.argv[0] = 'latentrec'\n"
    "sys.exit(main())\n"
)

# Settings that differ between tests by design and are read at run time, not import.
IGNORED = {"PYTEST_CURRENT_TEST"}


def _readable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` has something to read (or has ended) within ``timeout`` seconds.

    poll(), not select(): late in a whole test run the process holds more than the 1024
    descriptors select() can watch, and a server started then gets one past them.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, math.ceil(timeout * 1000))))


class _Server:
    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="latentrec-forks-")
        self.env = dict(os.environ)
        self.log = open(os.path.join(self.folder, "server.err"), "w+b")
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, EXE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=self.env,
            text=True,
        )
        self.count = 0
        # A process forked from this one (a test's own fork) inherits the server and the
        # atexit call that stops it: neither is its to use.
        self.owner = os.getpid()
        self.pending = b""

    def serves(self, env: dict) -> bool:
        def strip(e):
            return {k: v for k, v in e.items() if k not in IGNORED}

        mine = os.getpid() == self.owner
        return mine and self.process.poll() is None and strip(env) == strip(self.env)

    def line(self, deadline: float) -> str | None:
        """The server's next reply line; "" once it has ended, None at ``deadline``."""
        # Read from the pipe itself, not through its buffered file: a fast child's "code"
        # line arrives with its "pid" line, and one read would buffer both where poll()
        # cannot see the second.
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if not _readable(self.process.stdout.fileno(), left):
                return None
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                return ""
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode()

    def reply(self, deadline: float) -> int | None:
        line = self.line(deadline)
        if line == "":
            self.log.seek(0)
            raise RuntimeError("the latentrec fork server ended:\n" + self.log.read().decode())
        return None if line is None else int(line.split()[1])

    def run(self, args, cwd, timeout) -> subprocess.CompletedProcess:
        self.count += 1
        out = os.path.join(self.folder, f"{self.count}.out")
        err = os.path.join(self.folder, f"{self.count}.err")
        # The umask this process has now, which a subprocess would inherit (there is no
        # reading it without setting it).
        umask = os.umask(0o077)
        os.umask(umask)
        job = {
            "args": args,
            "cwd": str(cwd),
            "out": out,
            "err": err,
            "test": os.environ.get("PYTEST_CURRENT_TEST"),
            "umask": umask,
        }
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        pid = self.reply(deadline)
        if pid is None:  # the server itself is stuck: no more lines from it
            self.process.kill()
            raise subprocess.TimeoutExpired([EXE, *args], timeout)
        code = self.reply(deadline)
        if code is None:
            os.kill(pid, 9)  # not reaped yet: the server is waiting for it
            self.reply(time.monotonic() + 60)  # its code line
        # Read as subprocess.run(text=True) decodes a pipe: the locale's encoding, universal
        # newlines.
        stdout, stderr = Path(out).read_text(), Path(err).read_text()
        os.remove(out)
        os.remove(err)
        if code is None:
            # What subprocess.run raises, with what the command printed before it was killed.
            raise subprocess.TimeoutExpired([EXE, *args], timeout, stdout, stderr)
        return subprocess.CompletedProcess([EXE, *args], code, stdout, stderr)

    def close(self):
        if os.getpid() != self.owner:
            return
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # the server ends at the end of its input
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_server: _Server | None = None
_lock = threading.Lock()


def latentrec(*args, cwd=None, env=None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``latentrec args...`` as the installed command runs it, in ``cwd`` (default: this
    process's folder) with this process's environment updated by ``env``; the finished
    process, its output captured as text (``subprocess.run(..., capture_output=True,
    text=True)``'s result).

    Example:
        >>> done = latentrec("--version")
        >>> done.returncode, done.stdout.startswith("latentrec, version"), done.stderr
        (0, True, '')
        >>> done = latentrec("recommend", "no-such.npz", "--user", "1")
        >>> done.returncode, done.stderr.startswith("Error: no model file")
        (1, True)
    """
    global _server
    args = [str(a) for a in args]
    cwd = Path.cwd() if cwd is None else Path(cwd)
    full = {**os.environ, **(env or {})}
    with _lock:
        if EXE is not None and hasattr(os, "fork") and _server is None:
            _server = _Server()
            atexit.register(_server.close)
        if _server is not None and _server.serves(full):
            return _server.run(args, cwd, timeout)
    cmd = [EXE, *args] if EXE else [sys.executable, "-c", SCRIPT, *args]
    return subprocess.run(
        cmd, cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout, check=False
    )
