"""``model.recommend_all(path)`` in the library, interrupted mid-write: ``path`` keeps the
old file (or stays absent), never a partial table that looks complete.

The library installs no SIGTERM handler, so a terminated process dies where it stands:
the chunks so far sit in a hidden temporary file beside ``path`` (nothing runs to remove
it) and ``path`` itself is untouched.  An exception mid-write removes the temporary file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import latentrec
from latentrec.io import tables
from latentrec.models import FactorModel

SRC = str(Path(latentrec.__file__).resolve().parents[1])

# The child writes one user a chunk and, after each chunk, says so and waits to be told
# to go on: the parent kills it with a chunk written and the table unfinished.
CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from latentrec.io import tables
    from latentrec.models import FactorModel

    write = tables.TableWriter.write

    def reported(self, table):
        write(self, table)
        print("written", flush=True)
        sys.stdin.readline()

    tables.TableWriter.write = reported
    rng = np.random.default_rng(0)
    model = FactorModel.from_factors(
        (np.arange(6), np.arange(9)), rng.normal(size=(9, 3)), rng.normal(size=(6, 3))
    )
    model.recommend_all(sys.argv[1], n=3, chunk_size=1, verbose=False)
    print("finished", flush=True)
    """
)


def _model():
    rng = np.random.default_rng(0)
    return FactorModel.from_factors(
        (np.arange(6), np.arange(9)), rng.normal(size=(9, 3)), rng.normal(size=(6, 3))
    )


@pytest.mark.parametrize(
    ("name", "sig", "old"),
    [
        ("top.csv", signal.SIGTERM, True),
        ("top.csv.gz", signal.SIGTERM, False),
        ("top.parquet", signal.SIGTERM, True),
        ("top.csv", signal.SIGKILL, False),
    ],
)
def test_a_killed_export_leaves_the_old_file_or_none(tmp_path, name, sig, old):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    path = tmp_path / name
    if old:
        path.write_bytes(b"the old export\n")
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(2):  # two of six users written, the third waits
            line = child.stdout.readline()
            assert line == "written\n", (line, child.stderr.read() if not line else "")
            child.stdin.write("\n")
            child.stdin.flush()
        assert child.stdout.readline() == "written\n"
        child.send_signal(sig)
        child.wait(60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -sig
    if old:
        assert path.read_bytes() == b"the old export\n"
    else:
        assert not path.exists()
    # The unfinished table is only under a hidden temporary name beside the target.
    left = [p.name for p in tmp_path.iterdir() if p.name != name]
    assert all(n.startswith(f".{name}.") and n.endswith(".tmp") for n in left), left


def test_the_same_child_left_alone_writes_the_whole_table(tmp_path):
    path = tmp_path / "top.csv"
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        env=env,
        input="\n" * 6,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "finished"
    expected = _model().recommend_batch(np.arange(6), 3)
    table = pd.read_csv(path)
    assert len(table) == 18 and table["item_id"].tolist() == expected["item_id"].tolist()


@pytest.mark.parametrize("old", [True, False])
def test_an_exception_mid_export_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, old):
    path = tmp_path / "top.csv"
    if old:
        path.write_text("the old export\n")
    write = tables.TableWriter.write
    calls = []

    def failing(self, table):
        calls.append(len(table))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        write(self, table)

    monkeypatch.setattr(tables.TableWriter, "write", failing)
    with pytest.raises(OSError, match="No space left"):
        _model().recommend_all(path, n=3, chunk_size=1, verbose=False)
    assert len(calls) == 3
    assert [p.name for p in tmp_path.iterdir()] == (["top.csv"] if old else [])
    if old:
        assert path.read_text() == "the old export\n"
