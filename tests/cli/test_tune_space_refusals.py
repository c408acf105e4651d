"""``latentrec tune`` refuses a search space that would search something else than written,
or fail only when a trial draws a bad value, in one line before any output."""

from __future__ import annotations

import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune_space") / "ratings.csv"
    cli_ratings_frame().to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("space", "words"),
    [
        # Was "unexpected OverflowError ... a bug in latentrec" after the "tuning" line.
        ('{"learning_rate": ["float", NaN, 0.1]}', ["learning_rate", "finite"]),
        ('{"learning_rate": ["float", 0.01, Infinity]}', ["learning_rate", "finite"]),
        # Was searched as 1..4 without a word.
        ('{"n_factors": ["int", 1.5, 4.7]}', ["n_factors", "whole-number"]),
        # Was the model's bare refusal whenever a trial happened to draw 0.
        ('{"n_factors": ["int", 0, 4]}', ["n_factors=0", "BiasedMF refuses"]),
        ('{"n_factors": ["categorical", [2, 2]]}', ["n_factors", "more than once"]),
        ('{"learning_rate": ["float", 0.01, 0.1, {"log": "no"}]}', ["'log'", "true or false"]),
    ],
)
def test_a_space_the_search_cannot_honour_is_one_line_and_exit_1(csv, space, words):
    out = invoke("tune", csv, "-a", "biased-mf", "--trials", 1, "--space", space)
    line = error_line(out)
    assert "--space" in line and all(w in line for w in words), line
    assert out.stdout == "", out.stdout
