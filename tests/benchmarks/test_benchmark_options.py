"""Options of the benchmark scripts that decide what the page's figures measure."""

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import mmr_frontier  # noqa: E402
import onboarding_ml100k  # noqa: E402
from onboarding_harness import FORMER_DEFAULTS  # noqa: E402


def test_onboarding_builds_todays_defaults_unless_asked_for_the_former_ones():
    now = onboarding_ml100k.build_model("implicit-als", 7)
    assert now.get_params() == type(now)(random_state=7).get_params()
    former = onboarding_ml100k.build_model("implicit-als", 7, former=True)
    assert former.get_params() == {**FORMER_DEFAULTS.get_params(), "random_state": 7}
    assert FORMER_DEFAULTS.get_params()["random_state"] is None  # the shared one untouched
    # --former concerns ImplicitALS only; the rating models keep their defaults.
    mf = onboarding_ml100k.build_model("biased-mf", 3, former=True)
    assert mf.get_params() == type(mf)(random_state=3).get_params()


def test_popular_cosines_match_a_loop_over_pairs():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 6))
    counts = rng.integers(0, 100, size=40)
    for center in (False, True):
        v = vectors - vectors.mean(axis=0) if center else vectors
        top = sorted(range(40), key=lambda i: (-counts[i], i))[:8]
        cos = [
            v[a] @ v[b] / np.sqrt((v[a] @ v[a]) * (v[b] @ v[b]))
            for a, b in itertools.combinations(top, 2)
        ]
        got = mmr_frontier.popular_cosines(vectors, counts, n=8, center=center)
        assert np.allclose(got, (min(cos), np.median(cos), max(cos)))


def test_quick_grid_is_a_subset_holding_the_chosen_setting():
    assert set(mmr_frontier.QUICK_LAMBDAS) <= set(mmr_frontier.LAMBDAS)
    assert set(mmr_frontier.QUICK_POOLS) <= set(mmr_frontier.POOLS)
    # MMR's defaults (lambda 0.7, pool 50), whose row --quick checks, must stay in the grid.
    assert 0.7 in mmr_frontier.QUICK_LAMBDAS and 50 in mmr_frontier.QUICK_POOLS


@pytest.mark.parametrize("script", ["mmr_frontier.py", "onboarding_ml100k.py"])
def test_the_new_options_are_in_the_help(script):
    out = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(BENCH.parent / "src"), "PATH": ""},
    ).stdout
    assert ("--quick" if script == "mmr_frontier.py" else "--former") in out
