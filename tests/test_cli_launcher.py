"""Ctrl-C at any moment of the ``latentrec`` command is one ``Aborted!`` and exit status 1.

The command needs numpy, pandas, scipy and numba: most of a second of imports before any
command runs, in which a Ctrl-C printed a traceback from whichever import it landed in.
Each test runs the command for real in a child process, entered as a user enters it
(``python -m latentrec``, ``python -m latentrec.cli``, or the function
``[project.scripts]`` names, which the installed script calls), and sends it a real
SIGINT.  To catch the child mid-import with no timing guess, a ``sitecustomize`` (test
only) holds the first import of one module until the signal comes, and says on standard
output that it is holding.  It holds inside an ``exec`` of a string, as dataclasses and
namedtuple run code while loading: CPython remembers an interrupt that ends one (see
``latentrec/cli/launcher.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the backport, a dependency there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

SITECUSTOMIZE = '''
import os, sys

class _Hold:
    """Holds the first import of $LATENTREC_TEST_HOLD until a signal ends it."""

    def find_spec(self, name, path=None, target=None):
        if name == os.environ.get("LATENTREC_TEST_HOLD"):
            sys.meta_path.remove(self)
            print("holding", name, flush=True)
            exec("import time; time.sleep(120)")
        return None

sys.meta_path.insert(0, _Hold())
'''

ENTRY_POINT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"][
    "latentrec"
]

# The three ways in: `python -m latentrec`, `python -m latentrec.cli` (which the service's
# retraining runs) and what pip's `latentrec` script runs.
WAYS_IN = {
    "python -m latentrec": ["-m", "latentrec"],
    "python -m latentrec.cli": ["-m", "latentrec.cli"],
    "the console script": [
        "-c",
        "import sys\nfrom {0} import {1}\nsys.exit({1}())".format(*ENTRY_POINT.split(":")),
    ],
}


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return folder


@pytest.fixture(scope="module")
def ratings(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    cells = np.unique(rng.integers(0, [40, 30], size=(400, 2)), axis=0)
    path = tmp_path_factory.mktemp("data") / "ratings.csv"
    pd.DataFrame(
        {"user_id": cells[:, 0], "item_id": cells[:, 1], "rating": rng.integers(1, 6, len(cells))}
    ).to_csv(path, index=False)
    return path


def environment(site_folder: Path, hold: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "LATENTREC_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join([str(site_folder), str(ROOT / "src")])
    if hold:
        env["LATENTREC_TEST_HOLD"] = hold
    return env


def interrupted_while_importing(
    way_in: list[str], args: list[str], module: str, site_folder: Path, cwd: Path = ROOT
) -> tuple[int, str]:
    """Run the command; SIGINT it while it imports ``module``; its exit status and stderr."""
    child = subprocess.Popen(
        [sys.executable, *way_in, *args],
        cwd=cwd,
        env=environment(site_folder, hold=module),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=hears_ctrl_c,
    )
    with reaped(child):
        line = child.stdout.readline()
        assert line == f"holding {module}\n", (line, "" if line else child.stderr.read())
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    return child.returncode, err


def hears_ctrl_c() -> None:
    """In the child before it runs Python: SIGINT back to its default action.

    A shell runs a background job (``make test &``, some CI runners) with SIGINT ignored,
    its children inherit that, and Python then installs no KeyboardInterrupt handler:
    the held child slept through the test's SIGINT.  A user's terminal never ignores it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def reaped(child: subprocess.Popen):
    """Kill ``child`` on the way out if it still runs, so a failed check leaves none behind."""
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.fixture(scope="module")
def ctrl_c_in_a_command(ratings) -> tuple[int, str]:
    """What the command line does for a Ctrl-C during a command: its status and stderr."""
    from click.testing import CliRunner

    from latentrec.cli import data, main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    saved, data.load_data = data.load_data, interrupted
    try:
        got = CliRunner().invoke(main, ["data", "info", str(ratings)], standalone_mode=True)
    finally:
        data.load_data = saved
    assert got.exit_code == 1, got.output
    return got.exit_code, got.stderr


@pytest.mark.parametrize("way_in", sorted(WAYS_IN))
def test_ctrl_c_while_loading_ends_as_in_a_command(way_in, site_folder, ctrl_c_in_a_command):
    # pandas is among the first of the heavy imports: it used to load in `import latentrec`.
    status, err = interrupted_while_importing(
        WAYS_IN[way_in], ["data", "info", "ml-100k"], "pandas", site_folder
    )
    assert "Traceback" not in err, err
    assert (status, err) == ctrl_c_in_a_command
    assert err.strip() == "Aborted!"


@pytest.mark.parametrize("way_in", ["python -m latentrec", "python -m latentrec.cli"])
def test_ctrl_c_in_a_command_under_python_m_exits_1(
    way_in, site_folder, ratings, ctrl_c_in_a_command
):
    """An interrupt caught in a command is not taken for an unhandled one at exit."""
    pytest.importorskip("pyarrow.csv")  # the CSV reader loads it when it starts reading
    status, err = interrupted_while_importing(
        WAYS_IN[way_in], ["data", "info", str(ratings)], "pyarrow.csv", site_folder
    )
    assert (status, err) == ctrl_c_in_a_command


@pytest.mark.parametrize("module", [ENTRY_POINT.split(":")[0], "latentrec.cli"])
def test_the_way_in_loads_nothing_heavy_before_its_try(module, site_folder):
    """What runs before the launcher's ``try``: the package and the launcher itself, and
    for ``python -m latentrec.cli`` the ``latentrec.cli`` package, which runpy imports
    before its ``__main__`` (it imported every command: a Ctrl-C there was a traceback)."""
    code = (
        f"import sys\nimport {module}\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'numba', 'click') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=environment(site_folder),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr


@pytest.mark.parametrize("way_in", sorted(WAYS_IN))
def test_a_closed_pipe_prints_nothing(way_in, site_folder):
    """``latentrec --help | head -1``: the reader gone, no traceback, no word."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [sys.executable, *WAYS_IN[way_in], "--help"],
            env=environment(site_folder),
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    assert done.stderr == ""
    assert done.returncode in (0, 1)


def test_the_package_names_are_all_there():
    """``import latentrec`` loads the heavy parts on first use; every public name works."""
    code = (
        "import sys, latentrec\n"
        "assert 'numpy' not in sys.modules\n"
        "missing = [n for n in latentrec.__all__ if getattr(latentrec, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert set(latentrec.__all__) <= set(dir(latentrec))\n"
        "from latentrec import *\n"
        "assert Interactions is latentrec.data.Interactions\n"
        "assert latentrec.registry.model_class('als').__name__ == 'ALS'\n"
        "assert not hasattr(latentrec, 'no_such_name')\n"
        "print('ok')\n"
    )
    done = python_c(code)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


def python_c(code: str) -> subprocess.CompletedProcess:
    """``python -c code`` in a fresh interpreter that imports latentrec from ``src``."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_registry_alone_knows_every_model():
    """``from latentrec.registry import model_class`` (a public module) finds every model,
    as when ``import latentrec`` loaded them all: the lazy package had left the registry
    empty ("unknown model 'ALS'; known: []") until something else loaded the models."""
    code = (
        "import sys\n"
        "from latentrec.registry import model_class, model_names\n"
        "assert 'numpy' not in sys.modules\n"
        "assert model_class('ALS').__name__ == 'ALS'\n"
        "assert model_class('implicit-als').__name__ == 'ImplicitALS'\n"
        "print('ok')\n"
    )
    names = "from latentrec.registry import model_names\nprint('BiasedMF' in model_names())\n"
    for source, expected in ((code, "ok\n"), (names, "True\n")):
        done = python_c(source)
        assert (done.returncode, done.stdout) == (0, expected), done.stderr


def test_every_way_in_runs_the_one_launcher():
    """The script's function is the launcher's (``python -m latentrec.cli`` runs it too: the
    tests above check that it behaves the same); pytest's doctest collection runs the
    launcher's examples, now that they are not in a ``__main__.py``."""
    import latentrec.__main__ as script_module
    from latentrec.cli import launcher

    module, name = ENTRY_POINT.split(":")
    assert (module, name) == ("latentrec.__main__", "main")
    assert script_module.main is launcher.main


@pytest.mark.slow
@pytest.mark.parametrize("way_in", sorted(WAYS_IN))
def test_ctrl_c_at_any_moment_of_a_real_start(way_in, tmp_path, ctrl_c_in_a_command):
    """No hold: SIGINT at delays across the real import window (most of a second).

    The delays count from the end of the interpreter's own start (``sitecustomize`` says
    when), which no latentrec code can guard.  A run that finished first is not counted.
    """
    (tmp_path / "sitecustomize.py").write_text("print('started', flush=True)\n")
    env = environment(tmp_path)
    caught = 0
    for delay in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
        child = subprocess.Popen(
            [sys.executable, *WAYS_IN[way_in], "data", "info", "no-such-file.csv"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=hears_ctrl_c,
        )
        with reaped(child):
            assert child.stdout.readline() == "started\n"
            time.sleep(delay)
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=120)
        if err.startswith("Error: "):  # it had finished: the file is missing
            continue
        assert (child.returncode, err) == ctrl_c_in_a_command, (delay, err)
        caught += 1
    assert caught >= 5
