"""Data and subprocess helpers shared by the versions and retraining tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from latentrec import Interactions
from latentrec.data.synthetic import synthetic


def timed_frame(n_users=120, n_items=50, n_ratings=3000, seed=0, implicit=False):
    """Planted low-rank ratings as a frame, each with a distinct arrival time ``t``."""
    df = synthetic(n_users, n_items, n_ratings, random_state=seed, implicit=implicit).to_frame()
    df["t"] = np.random.default_rng(seed + 1).permutation(len(df)).astype(np.int64)
    return df


def as_data(df, implicit=False) -> Interactions:
    if implicit:
        return Interactions.from_frame(df, rating=None, timestamp="t")
    return Interactions.from_frame(df, timestamp="t", rating_scale=(1, 5))


def constant_data(value: float) -> Interactions:
    """Two users, two items, every rating ``value``: a GlobalMean fitted on it predicts it."""
    return Interactions.from_dense(np.full((2, 2), value))


# A publisher in another process: it publishes GlobalMean models whose mean is recorded in
# the version's metrics too, so a reader can check that file and metadata agree.
PUBLISHER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from latentrec import Interactions
    from latentrec.models import GlobalMean
    from latentrec.service.versions import ModelDirectory

    folder, tag, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    md = ModelDirectory(folder)
    for j in range(count):
        value = 1.0 + tag + j / 16.0  # exact in float32, as ratings are stored
        model = GlobalMean().fit(Interactions.from_dense(np.full((2, 2), value)))
        md.publish(model, metrics={"mean": value}, note=f"publisher {tag}")
    """
)


def start_publishers(folder: Path, tags, count: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(folder), str(tag), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in tags
    ]


def wait_all(procs: list[subprocess.Popen], timeout: float = 120) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
