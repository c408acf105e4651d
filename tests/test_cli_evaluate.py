"""``latentrec evaluate``: options checked as the command's, models that cannot rank refused,
and the relevance threshold of ranking."""

import io

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import random_ratings

from latentrec.cli import main
from latentrec.cli._common import load_data
from latentrec.data.splits import kfold, user_split
from latentrec.evaluation import cross_validate, evaluate_ranking
from latentrec.models import Popularity


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


def test_a_user_holdout_of_single_cell_users_does_not_ask_for_a_larger_share(tmp_path):
    """It said "give a larger --test-size", which cannot help: each user keeps their one
    cell to train on."""
    path = tmp_path / "one_each.csv"
    path.write_text("user_id,item_id,rating\n1,1,4\n2,2,3\n3,1,5\n")
    out = CliRunner().invoke(main, ["evaluate", str(path), "-a", "biases", "--protocol", "user"])
    assert out.exit_code == 1, out.output
    assert out.output == (
        "Error: --test-size 0.2 holds out no cell: a share of each user's cells, and no user "
        "has more than one (each keeps one to train on), so no share can; use --protocol "
        "random\n"
    )


def test_a_temporal_holdout_that_ties_leave_nothing_to_train_on_names_the_options(tmp_path):
    """It said the split's own words ("cutoff 5 leaves the train set empty"), naming
    neither --protocol nor --test-size."""
    path = tmp_path / "tied.csv"
    path.write_text("user_id,item_id,rating,t\n1,1,4,5\n2,2,3,5\n3,1,5,5\n1,2,2,5\n")
    args = ["--protocol", "temporal", "--timestamp-col", "t"]
    out = CliRunner().invoke(main, ["evaluate", str(path), "-a", "biases", *args])
    assert out.exit_code == 1, out.output
    assert out.output.startswith(
        "Error: --protocol temporal cannot hold out the latest 20% of the cells (--test-size "
        "0.2): cutoff 5 leaves the train set empty"
    ), out.output
    assert out.output.count("\n") == 1 and "use --protocol random or user" in out.output


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


def _table(output: str, first_column: str) -> pd.DataFrame:
    lines = output.splitlines()
    start = max(j for j, line in enumerate(lines) if line.split()[:1] == [first_column])
    return pd.read_csv(io.StringIO("\n".join(lines[start:])), sep=r"\s+")


def test_relevance_threshold_counts_only_good_held_out_ratings(csv):
    # Every held-out rating counted as relevant, 1 star included: there was no option.
    data = load_data(str(csv))
    train, test = user_split(data, 0.2, random_state=0)
    frame = test.to_frame()
    liked = frame[frame["rating"] >= 4]
    assert 0 < liked["user_id"].nunique() < frame["user_id"].nunique()  # it filters
    args = ["evaluate", str(csv), "-a", "popularity", "--task", "ranking", "-k", "5"]
    out = CliRunner().invoke(main, [*args, "--relevance-threshold", "4"])
    assert out.exit_code == 0, out.output
    row = _table(out.output, "model").iloc[0]
    assert row["n_users"] == liked["user_id"].nunique()  # users with a 4 or 5 held out
    want = evaluate_ranking(Popularity().fit(train), test, 5, relevance_threshold=4)
    for name in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage"):
        assert row[name] == pytest.approx(want[name], abs=5e-5), name
    everything = _table(CliRunner().invoke(main, args).output, "model").iloc[0]
    assert everything["n_users"] == frame["user_id"].nunique()


def test_relevance_threshold_applies_to_every_fold(csv):
    args = ["evaluate", str(csv), "-a", "popularity", "--task", "ranking", "-k", "5", "--cv", "3"]
    out = CliRunner().invoke(main, [*args, "--relevance-threshold", "4"])
    assert out.exit_code == 0, out.output
    table = _table(out.output, "fold")
    want = cross_validate(Popularity(), load_data(str(csv)), 3, task="ranking", k=5,
                          relevance_threshold=4)  # fmt: skip
    np.testing.assert_allclose(table["ndcg"][:3], want.folds["ndcg"], atol=5e-5)


@pytest.mark.parametrize(
    "extra, code, words",
    [
        (["--relevance-threshold", "4"], 2, "--relevance-threshold applies to --task ranking"),
        (["--task", "ranking", "--relevance-threshold", "nan"], 2, "not a finite number"),
        (["--task", "ranking", "--relevance-threshold", "4", "--rating-col", "none"], 1,
         "--relevance-threshold needs ratings"),
    ],
)  # fmt: skip
def test_relevance_threshold_is_refused_where_it_cannot_apply(csv, extra, code, words):
    out = CliRunner().invoke(main, ["evaluate", str(csv), "-a", "popularity", *extra])
    assert out.exit_code == code, out.output
    assert words in out.output and "Traceback" not in out.output


@pytest.mark.parametrize("how", [[], ["--cv", "3"]])
def test_a_threshold_above_every_held_out_rating_says_so(csv, how):
    # It said "no user has a relevant held-out item to rank", not why; with --cv, after
    # the cross-validation line and a fit of the first fold.
    out = CliRunner().invoke(main, ["evaluate", str(csv), "-a", "popularity", "--task",
                                    "ranking", "--relevance-threshold", "6", *how])  # fmt: skip
    assert out.exit_code == 1, out.output
    assert out.output == (
        "Error: no held-out cell is at least the relevance threshold 6 (the highest is 5), "
        "so no user has a relevant held-out item to rank\n"
    )


def test_a_holdout_says_its_split_and_how_many_test_users_and_items_are_cold(tmp_path):
    # Only the figures were printed: not which split, nor that a cold user or item (no
    # training cell) is in them, which a Surprise user would expect set aside.
    rng = np.random.default_rng(0)
    rows = [(u, i, int(rng.integers(1, 6))) for u in range(1, 21) for i in range(1, 9)]
    rows += [(21, 1, 4), (21, 2, 5), (22, 3, 2), (1, 9, 5), (2, 9, 3)]  # the latest ones
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    frame["t"] = rng.permutation(len(rows) - 5).tolist() + [10_000 + j for j in range(5)]
    path = tmp_path / "timed.csv"
    frame.to_csv(path, index=False)
    # By hand: the latest 20% of the cells are the test.
    n_test = round(0.2 * len(frame))
    test = frame.nlargest(n_test, "t")
    train = frame.drop(test.index)
    cold_users = set(test["user_id"]) - set(train["user_id"])
    cold_items = set(test["item_id"]) - set(train["item_id"])
    assert cold_users == {21, 22} and cold_items == {9}
    out = CliRunner().invoke(main, ["evaluate", str(path), "--timestamp-col", "t", "-a",
                                    "biases", "--protocol", "temporal"])  # fmt: skip
    assert out.exit_code == 0, out.output
    line = out.output.splitlines()[0]
    assert line.startswith(
        f"holdout: the latest 20% of the cells (one time cutoff): {len(train)} ratings to "
        f"train on, {len(test)} to test; {len(cold_users)} of its {test['user_id'].nunique()} "
        f"users and {len(cold_items)} of its {test['item_id'].nunique()} items have no "
        "training cell (kept in the figures, "
    ), line
    assert _table(out.output, "model").iloc[0]["n"] == len(test)  # kept: every cell scored


@pytest.mark.parametrize("task", ["rating", "ranking"])
def test_cross_validation_says_its_folds_and_how_many_test_users_and_items_are_cold(tmp_path, task):
    # The holdout said its split and its cold cells; --cv said nothing of them.
    frame = random_ratings(n_users=20, n_items=10, density=0.5, seed=0).to_frame()
    # Ten items of one rating each: each is cold in the fold that tests it.
    rare = pd.DataFrame({"user_id": [f"u{j}" for j in range(10)], "item_id": range(900, 910),
                         "rating": 5, "timestamp": 0})  # fmt: skip
    path = tmp_path / "ratings.csv"
    pd.concat([frame, rare[frame.columns]]).to_csv(path, index=False)
    counts = []  # by hand, on the folds cross_validate fits
    for train, test in kfold(load_data(str(path)), 3, random_state=0):
        tr, te = train.to_frame(), test.to_frame()
        counts.append((len(tr), len(te), len(set(te.user_id) - set(tr.user_id)),
                       te.user_id.nunique(), len(set(te.item_id) - set(tr.item_id)),
                       te.item_id.nunique()))  # fmt: skip
    spans = [
        f"{min(c)}" if min(c) == max(c) else f"{min(c)} to {max(c)}"
        for c in zip(*counts, strict=True)
    ]
    assert sum(c[4] for c in counts) >= 10  # every rare item, once
    out = CliRunner().invoke(main, ["evaluate", str(path), "-a", "biases", "--task", task,
                                    "--cv", "3"])  # fmt: skip
    assert out.exit_code == 0, out.output
    what = "ratings" if task == "rating" else "cells"
    assert out.output.splitlines()[1].startswith(
        "folds: the cells dealt at random into 3 parts (--seed 0), each the test of a model "
        f"trained on the others: {spans[0]} {what} to train on, {spans[1]} to test; "
        f"{spans[2]} of its {spans[3]} users and {spans[4]} of its {spans[5]} items have no "
        "training cell (kept in the figures"
    ), out.output
