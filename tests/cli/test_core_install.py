"""The command line in an install without the 'serve' extra (``latentrec[spark]`` on a
cluster node, say): it starts, and a command that needs the extra says so in one line.

Each command runs in a fresh interpreter in which the serve extra's modules cannot be
imported (``None`` in ``sys.modules``, which makes ``import`` raise ModuleNotFoundError as
for a missing package), so an import at the top of any command module would show here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import latentrec
from latentrec.data.synthetic import synthetic
from latentrec.models import Biases, Popularity

# What `pip install latentrec` lacks that `latentrec[serve]` brings (and fastapi's own).
SERVE_ONLY = (
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "starlette",
    "pydantic",
    "psycopg",
    "prometheus_client",
)

WRAPPER = (
    "import sys\n"
    f"for name in {SERVE_ONLY!r}:\n"
    "    sys.modules[name] = None\n"
    "from latentrec.cli import main\n"
    "main(prog_name='latentrec')\n"
)

SERVE_LINE = "install the 'serve' extra"


def latentrec_without_serve(*args) -> subprocess.CompletedProcess:
    """``latentrec ARGS`` in a fresh interpreter that cannot import the serve extra."""
    src = str(Path(latentrec.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_the_blocked_modules_really_are_unimportable():
    # Guards the harness: were the wrapper not to block them, every test below would pass.
    r = subprocess.run(
        [sys.executable, "-c", WRAPPER.split("from latentrec")[0] + "import sqlalchemy"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1
    assert "ModuleNotFoundError" in r.stderr


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["data", "--help"]])
def test_the_command_line_starts_without_the_serve_extra(args):
    r = latentrec_without_serve(*args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: latentrec"), r.stdout
    assert r.stderr == ""


def test_serve_help_is_shown_and_serving_names_the_extra(tmp_path):
    # --help says what the command does, as for any command, before the extra is there;
    # running it is one line naming the extra to install, exit 1.
    r = latentrec_without_serve("serve", "--help")
    assert r.returncode == 0, r.stderr
    assert "Serve recommendations over HTTP" in r.stdout

    model = tmp_path / "m.npz"
    Popularity().fit(synthetic(30, 20, 200, random_state=0)).save(model)
    r = latentrec_without_serve("serve", "--model", model)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert SERVE_LINE in lines[0] and "pip install 'latentrec[serve]'" in lines[0]


def test_retrain_names_the_extra(tmp_path):
    r = latentrec_without_serve(
        "retrain", "--store", tmp_path / "r.db", "--model-dir", tmp_path / "models"
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "'serve' extra" in lines[0] and "pip install 'latentrec[serve]'" in lines[0]
    assert "Traceback" not in r.stderr


def test_model_versions_need_no_serve_extra(tmp_path):
    # `latentrec models` only reads and writes the version folder: core dependencies (a
    # factor model: publish refuses what serve refuses, a popularity list among them).
    model = tmp_path / "m.npz"
    Biases().fit(synthetic(30, 20, 200, random_state=0)).save(model)
    r = latentrec_without_serve("models", "publish", model, "--model-dir", tmp_path / "models")
    assert r.returncode == 0, r.stderr
    assert "published v000001" in r.stdout
