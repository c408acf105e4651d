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


@pytest.mark.parametrize(
    ("space", "line"),
    [
        # Was optuna's "`low <= high` must hold, but got (low=64, high=8).; use ('int', ..."
        ('{"n_factors": ["int", 64, 8]}', 'Error: --space "n_factors": ["int", 64, 8]: low 64 '
         "is above high 8"),
        # Python's notation for a space written in JSON: ('int', 64, 8), {'log': True}.
        ('{"n_factors": "x"}', 'Error: --space "n_factors": "x": it is not a distribution; '
         'use ["int", low, high], ["float", low, high] (either with {"log": true} or '
         '{"step": s} after them) or ["categorical", [choice, ...]]'),
        ("{}", 'Error: --space is empty: give at least one "name": [kind, low, high]'),
        ("nospace.json", "Error: --space must be a JSON object (or a file holding one; no "
         "file by that name): Expecting value: line 1 column 1 (char 0)"),
    ],
)  # fmt: skip
def test_a_refused_space_is_said_in_json(csv, space, line):
    out = invoke("tune", csv, "-a", "biased-mf", "--trials", 1, "--space", space)
    assert error_line(out) == line


def test_space_can_be_a_json_file(csv, tmp_path):
    path = tmp_path / "space.json"
    path.write_text('{"n_epochs": ["int", 1, 2]}\n')
    out = invoke("tune", csv, "-a", "biased-mf", "--trials", 2, "--space", path)
    assert out.exit_code == 0, out.output
    assert "best rmse" in out.stdout and "n_epochs" in out.stdout
    path.write_text('{"n_epochs": ["int", 2, 1]}')
    line = error_line(invoke("tune", csv, "-a", "biased-mf", "--space", path))
    assert line == 'Error: --space "n_epochs": ["int", 2, 1]: low 2 is above high 1'
    path.write_text("[1, 2]")
    line = error_line(invoke("tune", csv, "-a", "biased-mf", "--space", path))
    assert line.startswith(f"Error: --space {path} must be a JSON object of name: [kind,")


def test_output_is_the_model_as_given_when_the_search_found_nothing_better(csv, tmp_path):
    """-o wrote the best trial's model even when the model as given scored better on the
    same split (the warning said so, and the file held the worse one)."""
    from latentrec import load
    from latentrec.models import BiasedMF

    path = tmp_path / "tuned.npz"
    # One factor scores worse on this data than the default (seeded: 1.8448 vs 1.8149).
    space = '{"n_factors": ["int", 1, 1]}'
    out = invoke("tune", csv, "-a", "biased-mf", "--trials", 2, "--space", space, "-o", path)
    assert out.exit_code == 0, out.output
    assert "tuning found nothing better" in out.stderr
    assert f"model with its own values (as given) refitted on all of {csv}" in out.stdout
    saved = load(path)
    assert saved.n_factors == BiasedMF().n_factors
    figures = saved.metrics_
    assert figures["validation_rmse"] == figures["validation_rmse_as_given"]
    assert figures["validation_rmse_best_trial"] > figures["validation_rmse"]
