"""A count option given 0 or less is refused by click, naming the option as typed.

``recommend -n 0`` said "n must be a positive integer, got 0", ``serve --max-n 0``
"max_n must ...", ``models prune --keep 0`` "keep must be an integer >= 1": the
library's keyword, not the option, and only once the model or the folder was read.  Now
each is click's usage error (exit 2) naming ``-n``, ``--max-n``, ``--keep``, as
``onboard -n 0`` already was, and nothing is read or written.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.models import FactorModel


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("counts") / "model.npz"
    FactorModel.from_factors(
        (np.arange(6) + 1, np.arange(5) + 100), rng.normal(size=(5, 2)), rng.normal(size=(6, 2))
    ).save(path)
    return path


CASES = {
    "recommend": (["recommend", "{model}", "--user", "1"], "-n"),
    "recommend-all": (["recommend-all", "{model}", "-o", "{out}/top.csv"], "-n"),
    "similar": (["similar", "{model}", "--item", "100"], "-n"),
    "factors": (["factors", "{model}"], "-n"),
    "onboard": (["onboard", "{model}", "--answers", "100=5"], "-n"),
    "models prune": (["models", "prune", "--model-dir", "{out}/versions"], "--keep"),
    "serve": (["serve", "--model", "{model}"], "--max-n"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_count_below_one_names_its_option(case, value, model, tmp_path):
    args, option = CASES[case]
    args = [a.format(model=model, out=tmp_path) for a in args]
    out = CliRunner().invoke(main, [*args, option, value])
    assert out.exit_code == 2, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert f"Error: Invalid value for '{option}': {value} is not in the range x>=1." in out.output
    assert list(tmp_path.iterdir()) == []  # nothing written, no folder made


# Options that named the library's keyword (cache_users), or took a value the command then
# read as something else (factors --min-ratings -5 listed as if 0).  retrain's --holdout
# and --tolerance stay its own failures: recorded, and JSON under --json.
RANGES = {
    "serve --cache-users": (["serve", "--model", "{model}", "--cache-users"], "-1", "x>=1"),
    "factors --min-ratings": (["factors", "{model}", "--min-ratings"], "-5", "x>=0"),
}


@pytest.mark.parametrize("case", sorted(RANGES))
def test_an_out_of_range_value_names_its_option(case, model, tmp_path):
    args, value, bound = RANGES[case]
    args = [a.format(model=model, out=tmp_path) for a in args]
    option = args[-1]
    out = CliRunner().invoke(main, [*args, value])
    assert out.exit_code == 2, out.output
    assert f"Error: Invalid value for '{option}': {value} is not in the range {bound}." in (
        out.output
    )
    assert list(tmp_path.iterdir()) == []
