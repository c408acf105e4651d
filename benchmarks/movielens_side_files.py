"""What reading a MovieLens side file costs, against pandas reading the same file.

A ``movies.csv`` the size of ml-32m's (87,585 lines: header and 87,584 movies) is written
to a temporary folder, with titles as GroupLens writes them (some quoted, holding commas
and doubled quotes, some non-ASCII); then ``movies.dat`` and ``u.item`` of the same
movies, each in a release folder of its own beside a two-line ratings file.  Each folder
is read ``--repeat`` times by its latentrec reader (every side line checked, a fault
named by file and line), then read again without the side file ("rest": the ratings
and the build), and the side file is read by ``pandas.read_csv`` alone (no check).
Printed: medians, and the side file's share (full read minus rest) against pandas.

    PYTHONPATH=src .venv/bin/python benchmarks/movielens_side_files.py
    PYTHONPATH=src .venv/bin/python benchmarks/movielens_side_files.py --lines 10000 --clock wall
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from latentrec import datasets
from latentrec.data.movielens import ML100K_GENRES

GENRES = ["Action", "Comedy", "Drama", "Sci-Fi", "Romance", "Thriller", "War", "Horror"]
TITLES = ["Heat", "Toy Story", 'Say "Hi"', "Amélie", "Good, the Bad and the Ugly, The"]


def movies(n: int, seed: int = 0) -> list[tuple[int, str, str]]:
    """``n`` movies ``(id, title, genres)`` with ml-32m's kinds of titles and genres."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        title = f"{TITLES[k % len(TITLES)]} {k} ({1900 + int(rng.integers(0, 124))})"
        picked = rng.choice(len(GENRES), size=int(rng.integers(1, 4)), replace=False)
        out.append((k + 1, title, "|".join(GENRES[g] for g in sorted(picked))))
    return out


RATINGS = {
    "movies.csv": ("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"),
    "movies.dat": ("ratings.dat", "1::1::4::978300760\n"),
    "u.item": ("u.data", "1\t1\t4\t874965758\n"),
}
READERS = {"movies.csv": "read_ml_csv", "movies.dat": "read_ml_dat", "u.item": "read_ml100k"}


def write(folder: Path, rows) -> dict[str, Path]:
    """A release folder for each of ``movies.csv``, ``movies.dat`` and ``u.item`` of
    ``rows``, with a one-rating ratings file; the side file's path in each."""
    paths = {}
    for name, (ratings, text) in RATINGS.items():
        (folder / name).mkdir()
        (folder / name / ratings).write_text(text)
        paths[name] = folder / name / name
    with open(paths["movies.csv"], "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["movieId", "title", "genres"])
        out.writerows(rows)
    with open(paths["movies.dat"], "w", encoding="utf-8") as fh:
        fh.writelines(f"{i}::{t}::{g}\n" for i, t, g in rows)
    flags = {g: k for k, g in enumerate(ML100K_GENRES)}
    with open(paths["u.item"], "w", encoding="utf-8") as fh:
        for i, t, g in rows:
            on = ["0"] * len(ML100K_GENRES)
            for name in g.split("|"):
                on[flags.get(name, 0)] = "1"
            fh.write(f"{i}|{t}|01-Jan-1995||http://x|{'|'.join(on)}\n")
    return paths


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def timed(fn, repeat: int, clock=time.process_time) -> list[float]:
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=87_584, help="movies (ml-32m: 87,584)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu",
        help="cpu: this process's CPU time (steady on a shared machine); wall: elapsed",
    )  # fmt: skip
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    pandas_reads = {
        "movies.csv": lambda p: pd.read_csv(p, dtype={"movieId": np.int64}),
        "movies.dat": lambda p: pd.read_csv(p, sep="::", header=None, engine="python"),
        "u.item": lambda p: pd.read_csv(p, sep="|", header=None, quoting=csv.QUOTE_NONE),
    }
    with tempfile.TemporaryDirectory() as tmp:
        rows = movies(args.lines)
        paths = write(Path(tmp), rows)
        print(f"{args.lines:,} movies; {args.clock} time, median of {args.repeat} reads (min-max)")
        for name, path in paths.items():
            reader = getattr(datasets, READERS[name])
            data = reader(path.parent)
            if data.item_features.index.tolist() != [r[0] for r in rows]:
                raise SystemExit(f"{name}: the reader's ids are not the ones written")
            full = timed(lambda r=reader, p=path: r(p.parent), args.repeat, clock)
            aside = path.with_name(name + ".aside")
            path.rename(aside)
            rest = timed(lambda r=reader, p=path: r(p.parent), args.repeat, clock)
            aside.rename(path)
            theirs = timed(lambda p=path, n=name: pandas_reads[n](p), args.repeat, clock)
            a, r, b = (statistics.median(t) for t in (full, rest, theirs))
            print(
                f"{name:11s} latentrec {a:.3f} s ({min(full):.3f}-{max(full):.3f}), "
                f"rest {r:.3f} s; side file {a - r:.3f} s   "
                f"pandas {b:.3f} s ({min(theirs):.3f}-{max(theirs):.3f})   "
                f"ratio {(a - r) / b:.1f}x"
            )


if __name__ == "__main__":
    main()
