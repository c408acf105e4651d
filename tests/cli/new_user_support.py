"""Shared by the tests of what a new user met on the command line: running it in this
process or in a fresh one (where some modules cannot be imported), the one error line,
and a small trained model of each kind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import cli_ratings_frame

import latentrec
from latentrec.cli import main
from latentrec.cli._common import COMPILE_MESSAGE

SRC = str(Path(latentrec.__file__).resolve().parents[1])


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_line(out, code: int = 1) -> str:
    """The one line a failed command printed (the compile notice aside), checked."""
    assert out.exit_code == code, out.output
    lines = [x for x in out.stderr.splitlines() if x.strip() and x != COMPILE_MESSAGE]
    if code == 1:
        assert len(lines) == 1, out.stderr
        assert lines[0].startswith("Error: "), lines
        assert "unexpected" not in lines[0], lines
        return lines[0]
    return lines[-1]


def latentrec_process(*args, blocked=(), cwd=None, **popen):
    """``latentrec ARGS`` in a fresh interpreter in which ``blocked`` modules cannot be
    imported (``None`` in ``sys.modules``, as for a package that is not installed)."""
    wrapper = (
        "import sys\n"
        f"for name in {tuple(blocked)!r}:\n"
        "    sys.modules[name] = None\n"
        "from latentrec.cli import main\n"
        "main(prog_name='latentrec')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", wrapper, *map(str, args)], env=env, cwd=cwd, text=True, **popen
    )


def run_process(*args, blocked=(), cwd=None):
    proc = latentrec_process(
        *args, blocked=blocked, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = proc.communicate(timeout=300)
    return proc.returncode, stdout, [x for x in stderr.splitlines() if x != COMPILE_MESSAGE]


def train_both(folder: Path):
    """Ratings of 300 users (about 75 per item, enough for a taste map) in ``folder``, a
    biased-MF model and an item-kNN model trained on them: ``(csv, model, knn, folder)``."""
    csv = folder / "ratings.csv"
    cli_ratings_frame(n_users=300).to_csv(csv, index=False)
    model = folder / "model.npz"
    out = invoke("train", csv, "--factors", 3, "--epochs", 3, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    knn = folder / "knn.npz"
    out = invoke("train", csv, "-a", "itemknn", "-q", "-o", knn)
    assert out.exit_code == 0, out.output
    return csv, model, knn, folder
