"""``latentrec tune``: a seed beyond optuna's 32 bits, the trials table it prints, the
relevance threshold of a ranking metric, and trials whose model cannot rank."""

import pytest
from click.testing import CliRunner
from conftest import random_ratings

from latentrec import load
from latentrec.cli import main
from latentrec.cli._common import load_data
from latentrec.data.splits import random_split
from latentrec.evaluation import evaluate_ranking
from latentrec.models import Biases


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


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "ratings.csv"
    random_ratings(n_users=60, n_items=40, density=0.3, seed=1).to_frame().to_csv(path, index=False)
    return path


def test_a_ranking_metric_takes_a_relevance_threshold(csv, tmp_path):
    # NDCG on explicit data counted every validation rating as a hit, 1 star included.
    space = '{"regularization": ["categorical", [10.0]]}'
    out = CliRunner().invoke(main, ["tune", str(csv), "-a", "biases", "--metric", "ndcg@5",
                                    "--space", space, "--relevance-threshold", "4", "-o",
                                    tmp_path / "m.npz"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].endswith(
        "metric ndcg@5 (hits: validation ratings of at least 4); "
        "validation: a random 10% of the cells"
    )
    train, valid = random_split(load_data(str(csv)), 0.1, 0)
    want = evaluate_ranking(Biases().fit(train), valid, 5, relevance_threshold=4)
    assert f"best ndcg@5 {want['ndcg']:.4f} " in out.output
    metrics = load(tmp_path / "m.npz").metrics_
    assert metrics["validation_ndcg@5"] == pytest.approx(want["ndcg"], abs=1e-12)
    assert metrics["validation_relevance_threshold"] == 4


@pytest.mark.parametrize(
    "extra, code, words",
    [
        ([], 2, "Error: --relevance-threshold applies to a ranking --metric (which held-out "
                "cells count as hits); --metric rmse scores every held-out rating"),
        (["--metric", "ndcg", "--rating-col", "none"], 1,
         "Error: --relevance-threshold needs ratings to compare"),
    ],
)  # fmt: skip
def test_a_relevance_threshold_is_refused_as_evaluate_refuses_it(csv, extra, code, words):
    space = '{"regularization": ["float", 1, 20]}'
    args = ["tune", str(csv), "-a", "biases", "--space", space, "--relevance-threshold", "4"]
    out = CliRunner().invoke(main, [*args, *extra])
    assert out.exit_code == code, out.output
    assert words in out.output and "tuning" not in out.output


def test_a_threshold_no_rating_reaches_is_said_before_the_search(csv):
    space = '{"regularization": ["float", 1, 20]}'
    out = CliRunner().invoke(main, ["tune", str(csv), "-a", "biases", "--space", space,
                                    "--metric", "ndcg", "--relevance-threshold", "6"])  # fmt: skip
    assert out.exit_code == 1, out.output
    assert out.output == (
        f"Error: no rating of {csv} is at least --relevance-threshold 6 (the highest is 5), "
        "so no validation cell could be a hit\n"
    )


def test_a_trial_whose_model_scores_every_candidate_alike_fails_and_the_search_goes_on(csv):
    # evaluate_ranking's refusal of equal scores ended the search: "Error: BiasedMF gives
    # every candidate item the same score ...", no table, no best.
    space = '{"init_std": ["categorical", [0.0, 0.1]]}'
    out = CliRunner().invoke(main, ["tune", str(csv), "-a", "biased-mf", "--factors", "2",
                                    "--param", "biased=false", "--metric", "ndcg@5",
                                    "--space", space])  # fmt: skip
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[1].startswith("validation split: ")  # the split's cells, then the trials
    assert lines[2].startswith("  trial 1/2: failed: the model gave every candidate the same")
    assert lines[3].startswith("  trial 2/2: ndcg@5=")
    assert "best ndcg@5 " in out.output and "{'init_std': 0.1}" in out.output
