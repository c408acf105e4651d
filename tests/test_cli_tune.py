"""``latentrec tune``: a seed beyond optuna's 32 bits, and the trials table it prints."""

from click.testing import CliRunner
from conftest import random_ratings

from latentrec.cli import main


def test_a_seed_optuna_cannot_take_is_refused_before_any_output(tmp_path):
    # It printed "tuning ..." and then "Error: random_state must be None, an integer from
    # 0 to 2**32 - 1", a name the command line does not have.
    path = tmp_path / "ratings.csv"
    random_ratings(n_users=20, n_items=10, density=0.5, seed=0).to_frame().to_csv(path, index=False)
    space = '{"regularization": ["float", 1, 20]}'
    args = ["tune", str(path), "-a", "biases", "--trials", "2", "--space", space, "--seed"]
    out = CliRunner().invoke(main, [*args, str(2**32)])
    assert out.exit_code == 2, out.output
    assert "'--seed'" in out.output and "2**32 - 1" in out.output
    assert "tuning" not in out.output and "random_state" not in out.output
    assert CliRunner().invoke(main, [*args, str(2**32 - 1)]).exit_code == 0


def test_the_trials_table_keeps_what_failed_and_leaves_the_advice_to_the_trial_lines(tmp_path):
    # The full refusal (with its advice) in the table made every row ~200 characters wide.
    path = tmp_path / "ratings.csv"
    random_ratings(n_users=20, n_items=10, density=0.5, seed=0).to_frame().to_csv(path, index=False)
    space = '{"learning_rate": ["float", 0.1, 50, {"log": true}]}'  # 0.1 is the default
    args = ["tune", str(path), "-a", "biased-mf", "--trials", "3", "--space", space]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    advice = "or raise regularization"
    failed = [line for line in out.output.splitlines() if ": failed: " in line]
    assert len(failed) >= 1 and all(advice in line for line in failed)
    assert out.output.count(advice) == len(failed)  # not repeated in the table
    table = out.output.split("\n trial ")[1].split("\nbest ")[0].splitlines()
    assert all(len(line) < 120 for line in table), table
    assert sum("training diverged at epoch" in line for line in table) == len(failed)
