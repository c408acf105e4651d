"""``latentrec train --test-size``: the relevance threshold of its ranking figures and the
line that says which split it made, both as ``evaluate`` has them."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import random_ratings

from latentrec import load
from latentrec.cli import main
from latentrec.cli._common import load_data
from latentrec.data.splits import random_split, user_split
from latentrec.evaluation import evaluate_ranking
from latentrec.models import Popularity


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("train") / "ratings.csv"
    random_ratings(n_users=20, n_items=10, density=0.5, seed=0).to_frame().to_csv(path, index=False)
    return path


def test_relevance_threshold_counts_only_good_held_out_ratings(csv, tmp_path):
    # Every held-out rating counted as a hit, 1 star included: there was no option.
    path = tmp_path / "m.npz"
    args = ["train", str(csv), "-a", "popularity", "--test-size", "0.2", "-k", "5", "-o", path]
    out = CliRunner().invoke(main, [*args, "--relevance-threshold", "4"])
    assert out.exit_code == 0, out.output
    train, test = user_split(load_data(str(csv)), 0.2, random_state=0)
    want = evaluate_ranking(Popularity().fit(train), test, 5, relevance_threshold=4)
    everyone = evaluate_ranking(Popularity().fit(train), test, 5)
    assert want["n_users"] < everyone["n_users"]  # the threshold filters
    metrics = load(path).metrics_
    for name in ("ndcg", "precision", "recall", "map", "hit_rate"):
        assert metrics[f"holdout_{name}@5"] == pytest.approx(want[name], abs=1e-12), name
    assert metrics["holdout_users"] == want["n_users"]
    assert metrics["holdout_relevance_threshold"] == 4
    assert (
        f"held-out ndcg@5 {want['ndcg']:.4f}" in out.output
        and f"({want['n_users']} users with a held-out rating of at least 4, the hits)"
        in out.output
    )


@pytest.mark.parametrize(
    "extra, code, words",
    [
        (["-a", "popularity", "--relevance-threshold", "4"], 2,
         "Error: --relevance-threshold applies only with --test-size"),
        (["-a", "biases", "--test-size", "0.2", "--relevance-threshold", "4"], 2,
         "Error: --relevance-threshold applies to a ranking model's held-out figures (which "
         "held-out cells count as hits); -a biases predicts ratings, and its RMSE/MAE scores "
         "every held-out rating"),
        (["-a", "biases", "--test-size", "0.2", "-k", "5"], 2,
         "Error: -k applies to a ranking model's held-out figures"),
        (["-a", "popularity", "--test-size", "0.2", "--relevance-threshold", "nan"], 2,
         "not a finite number"),
        (["-a", "popularity", "--test-size", "0.2", "--relevance-threshold", "4",
          "--rating-col", "none"], 1,
         "Error: --relevance-threshold needs ratings to compare, and {csv} was read without "
         "them (implicit data: its cells count events); leave it out, every held-out cell is then "
         "relevant"),
        (["-a", "popularity", "--test-size", "0.2", "--relevance-threshold", "6"], 1,
         "Error: no held-out cell is at least the relevance threshold 6 (the highest is 5), "
         "so no user has a relevant held-out item to rank"),
    ],
)  # fmt: skip
def test_what_evaluate_refuses_train_refuses_in_its_words_before_any_fit(
    csv, tmp_path, extra, code, words
):
    # -k and a threshold were ignored for a rating model (figures said nothing of them);
    # a threshold above every held-out rating was said after the fit.
    out = CliRunner().invoke(main, ["train", str(csv), *extra, "-o", tmp_path / "m.npz"])
    assert out.exit_code == code, out.output
    assert words.format(csv=csv) in out.output and "Traceback" not in out.output
    assert "trained" not in out.output and not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize(
    "algorithm, task, split, how",
    [
        ("biases", "rating", random_split, "a random 30% of the cells"),
        ("popularity", "ranking", user_split, "30% of each user's cells"),
    ],
)
def test_the_holdout_says_its_split_and_its_cold_cells_as_evaluate_says_them(
    tmp_path, algorithm, task, split, how
):
    # train printed only the figures: not which split, nor how many held-out users and
    # items had no training cell, which evaluate's holdout now says.
    frame = random_ratings(n_users=20, n_items=10, density=0.5, seed=0).to_frame()
    # Ten items of one rating each: those held out have no training cell.
    rare = pd.DataFrame({"user_id": [f"u{j}" for j in range(10)], "item_id": range(900, 910),
                         "rating": [5, 4, 2, 1, 3] * 2, "timestamp": 0})  # fmt: skip
    path = tmp_path / "ratings.csv"
    pd.concat([frame, rare[frame.columns]]).to_csv(path, index=False)
    data = load_data(str(path))
    train_part, test = split(data, 0.3, random_state=0)
    cold_users = np.count_nonzero((test.user_counts() > 0) & (train_part.user_counts() == 0))
    cold_items = np.count_nonzero((test.item_counts() > 0) & (train_part.item_counts() == 0))
    assert cold_items > 0  # a rare item held out
    trained = CliRunner().invoke(main, ["train", str(path), "-a", algorithm, "--test-size",
                                        "0.3", "-o", tmp_path / "m.npz"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    said = [line for line in trained.output.splitlines() if line.startswith("holdout: ")]
    assert len(said) == 1
    what = "ratings" if task == "rating" else "cells"
    assert said[0].startswith(
        f"holdout: {how} (--seed 0): {train_part.nnz} {what} to train on, {test.nnz} to "
        f"test; {cold_users} of its {np.count_nonzero(test.user_counts())} users and "
        f"{cold_items} of its "
        f"{np.count_nonzero(test.item_counts())} items have no training cell (kept in the figures"
    ), said[0]
    lines = trained.output.splitlines()
    assert lines[lines.index(said[0]) + 1].startswith("held-out ")  # just above the figures
    evaluated = CliRunner().invoke(main, ["evaluate", str(path), "-a", algorithm, "--task",
                                          task, "--test-size", "0.3"])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert said[0] in evaluated.output.splitlines()  # word for word


@pytest.mark.parametrize(("test_size", "shown"), [("0.005", "0.5%"), ("0.125", "12.5%")])
def test_the_holdout_line_gives_the_share_as_it_was_given(tmp_path, test_size, shown):
    # Whole percents said "a random 0% of the cells" of --test-size 0.005 (with cells in
    # its test part) and "12%" of 0.125.
    path = tmp_path / "ratings.csv"
    random_ratings(n_users=40, n_items=30, density=0.5, seed=0).to_frame().to_csv(path, index=False)
    for command in (["train", "-o", str(tmp_path / "m.npz")], ["evaluate"]):
        ran = CliRunner().invoke(main, [command[0], str(path), "-a", "biases", "--test-size",
                                        test_size, *command[1:]])  # fmt: skip
        assert ran.exit_code == 0, ran.output
        said = [line for line in ran.output.splitlines() if line.startswith("holdout: ")]
        assert said and said[0].startswith(f"holdout: a random {shown} of the cells"), said
