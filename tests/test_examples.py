"""Every script in examples/ runs and prints what the worked example says it computes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name: str) -> str:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in output:\n{text}"
    return float(found.group(1))


def test_scifi_cooking_6x6():
    out = run("scifi_cooking_6x6.py")
    assert "train RMSE after 8000 steps: 0.242" in out
    assert "prediction user 2, item 2 (scifi-2): 4.51" in out
    assert "prediction user 4, item 0 (scifi-0): 2.42" in out
    within = min(
        number(r"within sci-fi : min ([-+.\d]+)", out),
        number(r"within cooking: min ([-+.\d]+)", out),
    )
    assert within > number(r"across genres : max ([-+.\d]+)", out)
    assert "the two genres separate in factor space: True" in out


def test_alice_bob_5x6():
    out = run("alice_bob_5x6.py")
    # (a) the unanchored textbook loop predicts out of scale, negative ratings included.
    outside, total = (
        int(x) for x in re.search(r"(\d+) of (\d+) predicted cells fall", out).groups()
    )
    assert total == 17 and outside > 0
    assert number(r"(\d+) are negative", out) > 0
    assert number(r"plain SGD, R ≈ PQᵀ — train RMSE ([.\d]+)", out) < 0.1
    # (b) biases + clipping: every shown prediction is within 1-5.
    section_b = out.split("(b) BiasedMF")[1].split("(c)")[0]
    table = re.findall(r"^(?:Alice|Bob|Carol|Dave|Eve)\s+(.*)$", section_b, flags=re.M)
    values = [float(v) for row in table for v in re.findall(r"-?\d+\.\d+", row)]
    assert len(values) == 30 and min(values) >= 1 and max(values) <= 5
    assert "after clipping none are" in out
    # (c) the real share kept by k = 2, recomputed here.
    R = np.array(
        [
            [5, 4, 0, 0, 0, 5],
            [0, 0, 4, 5, 4, 0],
            [4, 5, 0, 0, 0, 0],
            [0, 0, 3, 0, 5, 0],
            [2, 0, 0, 3, 0, 1],
        ],
        dtype=float,
    )
    means = np.array([row[row > 0].mean() for row in R])
    s = np.linalg.svd(np.where(R > 0, R, means[:, None]), compute_uv=False)
    share = (s[:2] ** 2).sum() / (s**2).sum()
    assert f"share of Σσ² kept by k = 2: {share:.2%}" in out
    assert 0.985 < share < 0.999


def test_rank2_reconstruction():
    out = run("rank2_reconstruction.py")
    assert "rank of R: 2" in out
    assert number(r"k = 2: max \|R − R_k\| = ([-+.\de]+)", out) < 1e-12
    assert number(r"k = 1: max \|R − R_k\| = ([-+.\de]+)", out) > 0.5
    assert number(r"max \|R − PQᵀ\| = ([-+.\de]+)", out) < 1e-3


@pytest.mark.network
def test_movielens_quickstart():
    out = run("movielens_quickstart.py")
    assert number(r"'rmse': ([.\d]+)", out) < 1.0
    assert number(r"'ndcg': ([.\d]+)", out) > 0.0
    assert "top 5 for user 1:" in out
    similar = out.split("films most like 'Star Wars'")[1].split("why")[0]
    assert "Empire Strikes Back" in similar or "Return of the Jedi" in similar
    assert "= prediction" in out and "because they liked" in out
