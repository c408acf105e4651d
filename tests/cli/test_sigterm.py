"""SIGTERM in the middle of a command that writes a file: the command exits 143 and leaves
neither the file nor its temporary twin (``.top.parquet.XXXXXXXX.tmp``).

Each command runs for real, as a child process started through the ``main`` entry point,
and gets a real SIGTERM while it is writing.  The only change in the child makes it
stop mid-write: after each piece its writer says on standard output that one is written
and waits for the test's go-ahead on standard input, so the signal is sent when a partial
file is surely on disk and the rest is not (no timing guess: before, the writer slept
50 ms a piece, and a test process scheduled late found the command done, its file
whole).  ``recommend-all`` also writes one user per chunk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latentrec.models import FactorModel

ROOT = Path(__file__).resolve().parents[2]

# The child: slow the writer down, then run the command line as the installed script does.
CHILD = """
import sys
import numpy.lib.format
from latentrec.io import tables
from latentrec.models import ranking

def slowly(write):
    def wrapper(*args, **kwargs):
        out = write(*args, **kwargs)
        print("written", flush=True)
        sys.stdin.readline()  # the test's go-ahead; its SIGTERM comes while waiting here
        return out
    return wrapper

tables.TableWriter.write = slowly(tables.TableWriter.write)
numpy.lib.format.write_array = slowly(numpy.lib.format.write_array)
recommend_all = ranking.Ranking.recommend_all

def one_user_a_chunk(self, *args, **kwargs):
    return recommend_all(self, *args, **{**kwargs, "chunk_size": 1})

ranking.Ranking.recommend_all = one_user_a_chunk
from latentrec.cli import main
main(sys.argv[1:], prog_name="latentrec")
"""


def saved_model(folder: Path, n_users: int = 400) -> Path:
    rng = np.random.default_rng(0)
    users, items = np.arange(n_users) + 1, np.arange(50) + 100
    model = FactorModel.from_factors(
        (users, items), rng.normal(size=(50, 4)), rng.normal(size=(n_users, 4))
    )
    model.save(folder / "model.npz")
    return folder / "model.npz"


def ratings_csv(folder: Path) -> Path:
    rng = np.random.default_rng(1)
    cells = np.unique(rng.integers(0, [200, 80], size=(3000, 2)), axis=0)
    path = folder / "ratings.csv"
    pd.DataFrame(
        {"user_id": cells[:, 0], "item_id": cells[:, 1], "rating": rng.integers(1, 6, len(cells))}
    ).to_csv(path, index=False)
    return path


def terminated_mid_write(args: list[str], cwd: Path, pieces: int) -> tuple[int, str]:
    """Run ``latentrec ARGS`` in a child, SIGTERM it once ``pieces`` pieces are written
    (while it waits to write the next); its exit status and standard error."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for k in range(pieces):
            line = child.stdout.readline()
            assert line == "written\n", (line, child.stderr.read() if not line else "")
            if k < pieces - 1:
                child.stdin.write("go\n")
                child.stdin.flush()
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, err


@pytest.mark.parametrize("output", ["top.parquet", "top.csv"])
def test_sigterm_during_recommend_all_leaves_no_file(tmp_path, output):
    model = saved_model(tmp_path)
    before = sorted(os.listdir(tmp_path))
    rc, err = terminated_mid_write(
        ["recommend-all", str(model), "-n", "5", "-o", output], tmp_path, pieces=5
    )
    assert rc == 128 + signal.SIGTERM == 143, err
    assert sorted(os.listdir(tmp_path)) == before, "a file was left behind"
    assert "Traceback" not in err


def test_sigterm_during_data_convert_leaves_no_file(tmp_path):
    ratings = ratings_csv(tmp_path)
    before = sorted(os.listdir(tmp_path))
    rc, err = terminated_mid_write(
        ["data", "convert", str(ratings), "-o", "ratings.lrdata"], tmp_path, pieces=2
    )
    assert rc == 143, err
    assert sorted(os.listdir(tmp_path)) == before, "a file was left behind"
    assert "Traceback" not in err


def test_an_old_file_survives_sigterm(tmp_path):
    """Terminated while replacing a file: the old one stays, whole."""
    model = saved_model(tmp_path)
    (tmp_path / "top.csv").write_text("old\n")
    rc, err = terminated_mid_write(
        ["recommend-all", str(model), "-o", "top.csv"], tmp_path, pieces=3
    )
    assert rc == 143, err
    assert (tmp_path / "top.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "top.csv"]


def test_a_command_run_in_process_puts_the_handler_back():
    """``main`` sets SIGTERM's handler for the command only (the library sets none)."""
    from click.testing import CliRunner

    from latentrec.cli import main

    before = signal.getsignal(signal.SIGTERM)
    assert CliRunner().invoke(main, ["data", "fetch", "--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["recommend-all", "missing.npz"]).exit_code != 0
    assert signal.getsignal(signal.SIGTERM) is before
