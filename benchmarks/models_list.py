"""``latentrec models list`` on many large versions: every file hashed vs only changed ones.

    .venv/bin/python benchmarks/models_list.py
    .venv/bin/python benchmarks/models_list.py --versions 50 --megabytes 20 --repeats 3

Builds a model directory in a temporary folder (removed afterwards) holding ``--versions``
versions of a factor model of about ``--megabytes`` MB each (random float32 factors, seed
0, published with ``ModelDirectory.publish``), waits until the files have settled (a file
changed in the last two seconds is always hashed), then times the command as a user runs
it, in a child process, ``--repeats`` times each (the median is shown):

- ``--rehash``: every model file hashed, what every listing did before;
- first listing: every file hashed, and the intact ones remembered in ``.checked.json``;
- later listings: only files whose identity (device, inode, size, modification and
  change times) moved are hashed; here none.

The same checks are timed in this process too (``ModelDirectory.verify_many``, every
file hashed vs remembered), without the command's start-up (importing latentrec).

The files sit in the page cache throughout (the directory was just written), so the
``--rehash`` figure is SHA-256 over memory; from a cold disk it is a read of every file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from latentrec.models import FactorModel
from latentrec.service.versions import SETTLED_NS, ModelDirectory

FACTORS = 32


def build(folder: Path, versions: int, megabytes: float) -> ModelDirectory:
    """A model directory of ``versions`` versions, each a model file of about ``megabytes``."""
    # Two float32 factor matrices of rows x FACTORS each (users and items).
    rows = max(1, int(megabytes * 1e6 / (2 * 4 * FACTORS)))
    rng = np.random.default_rng(0)
    md = ModelDirectory(folder / "models")
    for _ in range(versions):
        P = rng.standard_normal((rows, FACTORS), dtype=np.float32)
        Q = rng.standard_normal((rows, FACTORS), dtype=np.float32)
        model = FactorModel.from_factors((np.arange(rows), np.arange(rows)), P, Q)
        md.publish(model)
    return md


def timed(command: list[str], repeats: int) -> float:
    """Median wall seconds of ``command`` run ``repeats`` times (its output checked)."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0 or "warning" in done.stderr:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return statistics.median(seconds)


def in_process(md: ModelDirectory, repeats: int, *, rehash: bool) -> float:
    """Median seconds of listing and checking every version in this process."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        checked = md.verify_many(md.versions(), rehash=rehash)
        seconds.append(time.perf_counter() - start)
        problems = [str(c) for c in checked if isinstance(c, Exception)]
        if problems:
            raise SystemExit(f"damaged versions: {problems}")
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--megabytes", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="models-list-"))
    try:
        md = build(folder, args.versions, args.megabytes)
        sizes = [v.path.stat().st_size for v in md.versions()]
        time.sleep(SETTLED_NS / 1e9)
        listing = [sys.executable, "-m", "latentrec", "models", "list", "--model-dir", str(md.path)]
        # The checks alone, in this process: ModelDirectory.verify_many as the command calls it.
        hashing = in_process(md, args.repeats, rehash=True)
        in_process(md, 1, rehash=False)  # remembers
        remembered = in_process(md, args.repeats, rehash=False)
        rehash = timed([*listing, "--rehash"], args.repeats)
        (md.path / ".checked.json").unlink(missing_ok=True)
        first = timed(listing, 1)
        later = timed(listing, args.repeats)
        print(
            f"{len(sizes)} versions, {sum(sizes) / 1e6:.0f} MB of model files "
            f"({statistics.mean(sizes) / 1e6:.1f} MB each), {os.cpu_count()} CPUs"
        )
        print(f"checks in process, every file hashed {hashing:7.3f} s")
        print(f"checks in process, remembered        {remembered:7.3f} s")
        print(f"models list --rehash (before)        {rehash:7.2f} s")
        print(f"models list, first (remembers)       {first:7.2f} s")
        print(f"models list, later (after)           {later:7.2f} s")
        print(f"before / after                       {rehash / later:7.1f} x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
