"""Reading a ratings CSV with and without Arrow's thread pool parsing its blocks.

    .venv/bin/python benchmarks/csv_parse_threads.py              # 10^7 rows, 3 rounds
    .venv/bin/python benchmarks/csv_parse_threads.py --rows 1e6 --rounds 5

latentrec's chunked CSV reader parses each block without Arrow's thread pool
(``latentrec.data.readers.ARROW_THREADS``), because the pool aborts the process at exit
now and then (apache/arrow#34314).  This measures what that costs: a CSV of uniform
random ratings (``user_id,item_id,rating``) is written once, then each round reads it in
two fresh child processes, pool off and pool on, in alternating order, with
``Interactions.read``.  Each child prints its read time; its exit status is reported too
(-6 is the abort at exit).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import json, sys, time
from latentrec.data import Interactions, readers
readers.ARROW_THREADS = sys.argv[2] == "on"
start = time.perf_counter()
data = Interactions.read(sys.argv[1], duplicates="last")
print(json.dumps({"seconds": time.perf_counter() - start, "nnz": int(data.nnz)}))
"""


def write_csv(path: str, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "user_id": rng.integers(0, 100_000, rows),
            "item_id": rng.integers(0, 20_000, rows),
            "rating": rng.integers(1, 6, rows).astype(float),
        }
    )
    pacsv.write_csv(table, path)


def read_once(path: str, pool: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, path, pool], capture_output=True, text=True, timeout=600
    )
    out = {"pool": pool, "exit": done.returncode}
    if done.stdout.strip():
        out.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ratings.csv")
        write_csv(path, int(args.rows))
        print(
            f"{int(args.rows):,} rows, {os.path.getsize(path) / 1e6:.0f} MB; load {os.getloadavg()}"
        )
        results = []
        for round_ in range(args.rounds):
            order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
            for pool in order:
                result = read_once(path, pool)
                results.append(result)
                print(json.dumps(result))
        for pool in ("off", "on"):
            times = sorted(r["seconds"] for r in results if r["pool"] == pool and "seconds" in r)
            exits = [r["exit"] for r in results if r["pool"] == pool]
            print(f"pool {pool}: {', '.join(f'{t:.2f}' for t in times)} s; exit statuses {exits}")


if __name__ == "__main__":
    main()
