"""How long a fresh worker takes to say warm, and what its first visitor waits without it.

    .venv/bin/python benchmarks/warmup_time.py
    .venv/bin/python benchmarks/warmup_time.py --repeats 3

A worker runs, before ``/health`` says ``"warm": true``, what its first requests run
(``latentrec.service.live.warm_kernels``), so that the numba kernels compile then and not
in a visitor's request.  This script measures both sides of that trade on a fresh install,
where nothing is in numba's on-disk cache: for each served file, a new Python process
with an empty ``NUMBA_CACHE_DIR`` starts the app (``create_app`` over a new SQLite store
with the catalogue's titles and genres) and

- ``warm``: times from ``create_app`` until ``/health`` says warm, then the first
  visitor's request (a known user's list of 10) after it;
- ``cold``: the same app with the kernel warm-up turned off (user warming stays on),
  and the first visitor's request timed as it arrives, waiting for what the warm-up
  would have compiled.

A second ``warm`` run reuses the cache the first one filled (as a restart, or a second
worker, would): the warm-up then compiles nothing.  The served files, fitted here on
MovieLens-100K (the project's download): ImplicitALS (64 factors) and a pipeline of
ImplicitALS, BPR and Popularity candidates (200 each), a LightGBM ranker (needs the
``rank`` extra) and MMR, the candidates fitted on the first 60% of the ratings in time and
the ranker on the next 20%.  Each process
prints its own figures; this script prints the median of ``--repeats`` runs of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, sys, time
    started = time.monotonic()
    from fastapi.testclient import TestClient
    import latentrec.service.refresh as refresh
    from latentrec.pipeline import load
    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings
    from latentrec.store import Item, open_store

    model_path, store_path, mode, user, items_json = sys.argv[1:6]
    if mode == "cold":
        refresh.warm_kernels = lambda served: 0  # the counterfactual: no kernel warm-up
    store = open_store(store_path)
    store.add_items([Item(i, t, tuple(g)) for i, t, g in json.loads(items_json)])
    imported = time.monotonic()
    app = create_app(Settings(), store=store, source=FixedSource(load(model_path), "v"))
    with TestClient(app) as client:
        while not client.get("/health").json()["warm"]:
            time.sleep(0.01)
        warm = time.monotonic()
        answer = client.get(f"/users/{user}/recommendations", params={"n": 10})
        first = time.monotonic()
        assert answer.status_code == 200, answer.text
        assert not answer.json()["fallback"], answer.json()
    print(json.dumps({"import_s": imported - started, "warm_s": warm - imported,
                      "first_request_s": first - warm}))
    """
)


def fitted_files(folder: Path) -> tuple[dict[str, Path], str, list]:
    """Fit and save the served files; the user to ask for and the catalogue rows."""
    from latentrec.datasets import movielens
    from latentrec.evaluation import time_slices
    from latentrec.models import BPR, ImplicitALS, Popularity
    from latentrec.pipeline import MMR, LearnedRanker, Pipeline

    data = movielens("100k", verbose=False)
    plain = ImplicitALS(n_factors=64, random_state=0).fit(data)
    early, later = time_slices(data, 0.2, 0.25)[:2]  # 0-60% and 60-80% of the time line
    pipe = Pipeline(
        [ImplicitALS(n_factors=64, random_state=0), BPR(random_state=0), Popularity()],
        LearnedRanker(num_threads=1),
        [MMR()],
    ).fit(early, later)
    files = {"ImplicitALS": folder / "plain.npz", "pipeline": folder / "pipe.npz"}
    plain.save(files["ImplicitALS"])
    pipe.save(files["pipeline"])
    items = data.item_features
    rows = [
        [str(i), str(t), str(g).split("|")]
        for i, t, g in zip(items.index, items["title"], items["genres"], strict=True)
    ]
    # A user both served files know from their training ratings.
    user = str(early.users.ids[0])
    return files, user, rows


def run_child(path: Path, mode: str, cache: Path, user: str, rows: list) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(path),
                f"{tmp}/s.sqlite",
                mode,
                user,
                json.dumps(rows),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
            check=False,
        )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files, user, rows = fitted_files(folder)
        print(f"fitted in {time.monotonic() - began:.1f} s; user {user}")
        print("| served | run | warm after (s) | first request (s) |")
        print("|---|---|---|---|")
        for name, path in files.items():
            seen: dict[str, list[dict]] = {
                "cold": [],
                "warm, empty cache": [],
                "warm, cache filled": [],
            }
            for r in range(args.repeats):
                cache = folder / f"cache-{name}-{r}"
                cold_cache = folder / f"cold-{name}-{r}"
                seen["cold"].append(run_child(path, "cold", cold_cache, user, rows))
                seen["warm, empty cache"].append(run_child(path, "warm", cache, user, rows))
                seen["warm, cache filled"].append(run_child(path, "warm", cache, user, rows))
            for run, figures in seen.items():
                warm = statistics.median(f["warm_s"] for f in figures)
                first = statistics.median(f["first_request_s"] for f in figures)
                print(f"| {name} | {run} | {warm:.2f} | {first:.3f} |")
    print(f"total {time.monotonic() - began:.0f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
