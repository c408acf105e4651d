"""The built-in search spaces of ``latentrec tune`` hold each model's own defaults.

A space that misses the defaults cannot find what they already give: ``latentrec tune
ml-100k -a biased-mf --trials 30`` searched learning rates up to 0.05 and 10 to 80 epochs
around BiasedMF's 0.1 and 9, and ended below the untuned model every time.
"""

import numbers

import pytest
from click.testing import CliRunner

from latentrec.cli._common import build_model
from latentrec.cli.tune import DEFAULT_SPACES


@pytest.mark.parametrize("algorithm", sorted(DEFAULT_SPACES))
def test_every_numeric_default_lies_inside_the_built_in_range(algorithm):
    defaults = build_model(algorithm, {}).get_params()
    for name, (_kind, low, high, *_) in DEFAULT_SPACES[algorithm].items():
        value = defaults[name]
        if isinstance(value, str):  # "auto": chosen from the data, no point to hold
            continue
        assert isinstance(value, numbers.Real), (algorithm, name, value)
        assert low <= value <= high, f"{algorithm}: default {name}={value} not in [{low}, {high}]"


def test_a_one_point_space_is_one_trial_and_no_advice_to_add_trials(tmp_path):
    from conftest import random_ratings

    from latentrec.cli import main

    path = tmp_path / "ratings.csv"
    random_ratings(n_users=20, n_items=10, density=0.5, seed=0).to_frame().to_csv(path, index=False)
    out = CliRunner().invoke(
        main,
        ["tune", str(path), "-a", "biased-mf", "--trials", "5", "--space",
         '{"n_factors": ["int", 64, 64]}'],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert out.output.count("trial 1/1:") == 1 and "trial 2/" not in out.output
    assert "widen --space (every point of it was tried)" in out.output
    assert "more --trials" not in out.output
