"""``latentrec evaluate``: the holdout share is checked as an option of the command."""

import pytest
from click.testing import CliRunner
from conftest import random_ratings

from latentrec.cli import main


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("evaluate") / "ratings.csv"
    random_ratings(n_users=20, n_items=10, density=0.5, seed=0).to_frame().to_csv(path, index=False)
    return path


@pytest.mark.parametrize("share", ["0", "1", "1.5", "-0.2", "nan"])
def test_a_test_size_outside_0_1_is_a_usage_error_naming_the_option(csv, share):
    # Was exit 1 with the splitter's words: "test_size must be strictly between 0 and 1".
    out = CliRunner().invoke(main, ["evaluate", str(csv), "-a", "biases", "--test-size", share])
    assert out.exit_code == 2, out.output
    assert "--test-size" in out.output and "Traceback" not in out.output


def test_a_test_size_inside_0_1_evaluates(csv):
    out = CliRunner().invoke(main, ["evaluate", str(csv), "-a", "biases", "--test-size", "0.3"])
    assert out.exit_code == 0, out.output
    assert "rmse" in out.output


def test_more_folds_than_cells_is_one_line_naming_cv_before_any_output(csv):
    # It printed the "1000-fold cross-validation of ..." line, then "n_splits=1000 is more
    # than the 100 cells", a name the command line does not have.
    out = CliRunner().invoke(main, ["evaluate", str(csv), "-a", "biases", "--cv", "1000"])
    assert out.exit_code == 1, out.output
    assert out.output.startswith("Error: --cv 1000 asks for more folds than the ")
    assert "n_splits" not in out.output and out.output.count("\n") == 1
