"""A 2-million-row CSV: the clean file reads by the chunked path in bounded memory, and a
file with one bad line near its end (which the line-accurate reader must read whole) is
refused naming that line, in bounded memory too.

Each read runs in a child process that reports its peak resident memory above what its
imports cost (``VmHWM`` before and after), so the figures are those of the read alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
N = 2_000_000
# The bad line: data row N - 10, counted by hand: the header is line 1 and data row k
# (0-based) is line k + 2, so it is line N - 8 = 1,999,992.
BAD_ROW = N - 10
BAD_LINE = BAD_ROW + 2

CHILD = """
import json, sys
def peak_mib():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM")) / 1024
import pyarrow.csv  # noqa: F401  (imported up front: its cost is not the read's)
from latentrec.data import DataError, Interactions
base = peak_mib()
try:
    data = Interactions.read(sys.argv[1])
    out = {"nnz": data.nnz, "error": None}
except DataError as err:
    out = {"nnz": None, "error": str(err), "where": list(err.where)}
out["peak_mib"] = peak_mib() - base
print(json.dumps(out))
"""


def _write(path: Path, bad: bool) -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 100_000, N)
    items = rng.integers(0, 20_000, N)
    stars = rng.integers(1, 6, N).astype(str).astype(object)
    if bad:
        stars[BAD_ROW] = "x"
    body = "\n".join(
        f"{u},{i},{r}" for u, i, r in zip(users.tolist(), items.tolist(), stars, strict=True)
    )
    path.write_text("user_id,item_id,rating\n" + body + "\n")


def _read(path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_two_million_rows_read_in_bounded_memory_and_a_late_bad_line_is_named(tmp_path):
    clean = tmp_path / "clean.csv"
    _write(clean, bad=False)
    got = _read(clean)
    assert got["error"] is None and 0 < got["nnz"] <= N
    # The chunked path: 12 bytes a row in chunks, 8 in the CSR, plus fixed buffers (16 MB
    # blocks of the file, Arrow's pools).  26 MB of text; 200 MiB is a generous bound.
    assert got["peak_mib"] < 200, got

    bad = tmp_path / "bad.csv"
    _write(bad, bad=True)
    got = _read(bad)
    assert got["error"] == (
        f"column 'rating' has non-numeric ratings (e.g. 'x') at line {BAD_LINE} of {bad}"
    )
    assert got["where"] == [BAD_LINE]
    # The line-accurate reader holds the text once and each distinct cell once (about
    # 170 bytes a row at the peak here, 330 MiB); it held a str object per cell and the
    # text four times over before (430 bytes a row, 860 MiB).
    assert got["peak_mib"] < 500, got
