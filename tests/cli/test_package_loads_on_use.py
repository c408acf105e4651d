"""``latentrec.cli`` loads its command modules on the first use of a name, and then all.

``python -m latentrec.cli`` imports the package before its ``__main__`` can catch a Ctrl-C
(tests/test_cli_launcher.py sends one); the package therefore imports nothing heavy, and
what it used to give at import it gives on use: every name, every command on ``main``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EVERY_COMMAND = (
    "data demo evaluate explain factors models onboard plot recommend recommend-all retrain "
    "score serve similar store train tune"
)


def python_c(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_name_and_command_is_there_on_first_use():
    code = (
        "import sys, latentrec.cli as cli\n"
        "assert 'pandas' not in sys.modules and 'click' not in sys.modules\n"
        "missing = [n for n in cli.__all__ if getattr(cli, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert set(cli.__all__) <= set(dir(cli))\n"
        "assert cli.train.__name__ == 'latentrec.cli.train'\n"
        "assert cli.holdout is cli.train.holdout\n"
        "assert not hasattr(cli, 'no_such_name')\n"
        "print(' '.join(sorted(cli.main.commands)))\n"
    )
    done = python_c(code)
    assert (done.returncode, done.stdout) == (0, EVERY_COMMAND + "\n"), done.stderr


def test_a_command_module_first_still_gives_the_whole_command_line():
    """``from latentrec.cli import data`` (as a test would) and then ``main``."""
    code = (
        "from latentrec.cli import data\n"
        "from latentrec.cli import main\n"
        "print(' '.join(sorted(main.commands)))\n"
    )
    done = python_c(code)
    assert (done.returncode, done.stdout) == (0, EVERY_COMMAND + "\n"), done.stderr


def test_python_m_latentrec_cli_runs_the_command_line(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user_id,item_id,rating\n1,1,4\n2,1,5\n")
    done = subprocess.run(
        [sys.executable, "-m", "latentrec.cli", "data", "info", str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "2 ratings" in done.stdout
