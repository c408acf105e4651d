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


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "-a", "biases", "--protocol", "user", "--test-size", "0.01"],
        ["evaluate", "-a", "popularity", "--task", "ranking", "--test-size", "0.01"],
        ["train", "-a", "bpr", "--test-size", "0.01", "-o", "{tmp}/m.npz"],
    ],
)
def test_a_per_user_share_that_holds_out_nothing_is_said_before_any_fit(csv, tmp_path, args):
    # evaluate said "test data has no cells to evaluate"; train fitted the model first and
    # then said "no user has a relevant held-out item to rank".
    command, *rest = args
    rest = [a.replace("{tmp}", str(tmp_path)) for a in rest]
    out = CliRunner().invoke(main, [command, str(csv), *rest])
    assert out.exit_code == 1, out.output
    assert out.output.startswith("Error: --test-size 0.01 holds out no cell"), out.output
    assert "trained" not in out.output


def test_leave_last_out_on_single_cell_users_is_said(tmp_path):
    path = tmp_path / "one_each.csv"
    path.write_text("user_id,item_id,rating\n1,1,4\n2,2,3\n3,1,5\n")
    out = CliRunner().invoke(
        main, ["evaluate", str(path), "-a", "biases", "--protocol", "leave-last-out"]
    )
    assert out.exit_code == 1, out.output
    assert "leave-last-out holds out no cell: no user has more than one cell" in out.output


@pytest.mark.parametrize("how", [[], ["--cv", "3"]])
def test_global_mean_ranking_is_refused_before_any_fit_naming_a_baseline_that_ranks(csv, how):
    # It printed NDCG 0.0675 on MovieLens-100K: GlobalMean scores every item alike, so
    # its "ranking" was the items in index order (ties go to the lower index).
    out = CliRunner().invoke(main, ["evaluate", str(csv), "-a", "global-mean", "--task",
                                    "ranking", *how])  # fmt: skip
    assert out.exit_code == 1, out.output
    assert out.output.startswith("Error: -a global-mean gives every item the same score")
    assert "index order" in out.output and "-a popularity" in out.output
    assert out.output.count("\n") == 1  # no cross-validation line, no table


def test_global_mean_still_evaluates_ratings(csv):
    out = CliRunner().invoke(main, ["evaluate", str(csv), "-a", "global-mean"])
    assert out.exit_code == 0, out.output
    assert "rmse" in out.output
