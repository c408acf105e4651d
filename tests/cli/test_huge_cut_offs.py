"""A ranking cut-off beyond what NumPy's 64-bit integers hold (``-k``, ``--metric
ndcg@K``) is refused by name; it was "unexpected OverflowError: Python int too large to
convert to C long (a bug in latentrec ...)", after the model had been trained.

Any cut-off up to that bound is taken (a list longer than the catalogue is all of it).
"""

from __future__ import annotations

import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

TOO_LARGE = 2**63
LARGEST = 2**63 - 1


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    path = tmp_path_factory.mktemp("cut_offs") / "ratings.csv"
    cli_ratings_frame().to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "-a", "popularity", "--task", "ranking"],
        ["train", "-a", "popularity", "--test-size", "0.2", "-o", "{tmp}/m.npz"],
    ],
)
def test_a_k_too_large_for_the_metrics_is_a_usage_error(ratings, tmp_path, command):
    args = [a.format(tmp=tmp_path) for a in command]
    out = invoke(args[0], ratings, *args[1:], "-k", TOO_LARGE)
    line = error_line(out, code=2)
    assert line == (
        f"Error: Invalid value for '-k': {TOO_LARGE} is more than {LARGEST}, the largest cut-off."
    )
    assert out.stdout == ""  # refused before anything was trained


def test_the_largest_k_is_taken(ratings):
    out = invoke("evaluate", ratings, "-a", "popularity", "--task", "ranking", "-k", LARGEST)
    assert out.exit_code == 0, out.output
    assert "ndcg" in out.stdout


def test_help_says_only_the_lower_bound(ratings):
    out = invoke("evaluate", "--help")
    assert "[default: 10; x>=1]" in out.stdout and str(LARGEST) not in out.stdout


def test_tune_refuses_a_metric_cut_off_too_large_before_tuning(ratings):
    metric = f"ndcg@{TOO_LARGE}"
    out = invoke("tune", ratings, "-a", "biased-mf", "--trials", 1, "--metric", metric)
    line = error_line(out)
    assert line == f"Error: --metric {metric}: the cut-off may be at most {LARGEST}"
    assert out.stdout == ""


def test_retrain_refuses_a_metric_cut_off_too_large(tmp_path):
    metric = f"ndcg@{TOO_LARGE}"
    out = invoke(
        "retrain", "--store", tmp_path / "r.db", "--model-dir", tmp_path / "md", "--metric", metric
    )
    line = error_line(out)
    assert line == f"Error: --metric {metric}: the cut-off may be at most {LARGEST}"
    assert list(tmp_path.iterdir()) == []  # no store, no model directory made
