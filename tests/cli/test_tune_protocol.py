"""``latentrec tune --protocol``: the validation split it names, said on the first line."""

import numpy as np
import pandas as pd
from click.testing import CliRunner

from latentrec.cli import main

SPACE = '{"regularization": ["categorical", [1.0, 10.0]]}'


def _csv(path, timed=True):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"user_id": rng.integers(0, 30, 300), "item_id": rng.integers(0, 20, 300)}
    ).drop_duplicates()
    frame["rating"] = rng.integers(1, 6, len(frame))
    if timed:
        frame["when"] = np.arange(len(frame)) * 60
    frame.to_csv(path, index=False)
    return len(frame)


def _tune(path, *more):
    args = ["tune", str(path), "-a", "biases", "--space", SPACE, "--validation", "0.2"]
    return CliRunner().invoke(main, [*args, *more])


def test_each_protocol_is_named_on_the_first_line(tmp_path):
    path = tmp_path / "r.csv"
    _csv(path)
    said = {
        "random": "validation: a random 20% of the cells",
        "user": "validation: 20% of each user's cells",
        "temporal": "validation: the latest 20% of the cells in time",
    }
    scores = {}
    for protocol, line in said.items():
        out = _tune(path, "--protocol", protocol, "--timestamp-col", "when")
        assert out.exit_code == 0, out.output
        assert out.output.splitlines()[0].endswith(line), out.output
        best = next(x for x in out.output.splitlines() if x.startswith("best rmse"))
        scores[protocol] = float(best.split()[2])
    # Three different validation sets: three different scores of the same search.
    assert len(set(scores.values())) == 3, scores
    default = _tune(path, "--timestamp-col", "when")
    assert default.output.splitlines()[0].endswith(said["random"])


def test_temporal_without_a_time_column_is_one_line(tmp_path):
    path = tmp_path / "r.csv"
    _csv(path, timed=False)
    out = _tune(path, "--protocol", "temporal")
    assert out.exit_code == 1
    assert out.output.strip().splitlines() == [
        f"Error: --protocol temporal needs timestamps, and {path} was read without them: "
        "name its time column with --timestamp-col"
    ], out.output


def _frame(times, ratings=None, users=None):
    n = len(times)
    return pd.DataFrame(
        {
            "user_id": np.arange(n) % 30 if users is None else users,
            "item_id": np.arange(n) // 30,
            "rating": (np.arange(n) % 5) + 1 if ratings is None else ratings,
            "when": times,
        }
    )


def _refusal(out):
    """The whole output of a refused run: one line, exit 1, nothing said before it."""
    assert out.exit_code == 1, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1, out.output
    return lines[0]


def test_a_temporal_split_that_ties_leave_nothing_to_train_on_is_refused_first(tmp_path):
    """Every cell at one time: the search said "tuning ..." and then the split's own
    words ("cutoff 5 leaves the train set empty"), naming no option."""
    path = tmp_path / "r.csv"
    _frame(np.full(120, 5)).to_csv(path, index=False)
    line = _refusal(_tune(path, "--protocol", "temporal", "--timestamp-col", "when"))
    assert line.startswith(
        f"Error: --protocol temporal cannot hold out the latest 20% of {path} "
        "(--validation 0.2): cutoff 5 leaves the train set empty"
    ), line
    assert line.endswith("use --protocol random or user"), line


def test_ties_that_hold_out_more_than_asked_are_said(tmp_path):
    """The latest 20% of 120 cells is 24, but 90 share the last time: the first line
    said "the latest 20%" and the search scored every trial on 90 cells."""
    path = tmp_path / "r.csv"
    _frame(np.where(np.arange(120) < 30, np.arange(120), 1000)).to_csv(path, index=False)
    out = _tune(path, "--protocol", "temporal", "--timestamp-col", "when")
    assert out.exit_code == 0, out.output
    second = out.output.splitlines()[1]
    assert second.startswith("validation split: 30 ratings to train on, 90 to test;"), second
    assert second.endswith("(ties at the cutoff time hold out 90 cells, not the 24 asked)")


def test_a_user_split_of_users_with_one_cell_each_is_refused_with_what_helps(tmp_path):
    """It said "give a larger validation share", which cannot help: each user keeps
    their only cell to train on.  And it said it after the first line, as validation=."""
    path = tmp_path / "r.csv"
    _frame(np.arange(40), users=np.arange(40)).to_csv(path, index=False)
    line = _refusal(_tune(path, "--protocol", "user"))
    assert line == (
        f"Error: --protocol user holds out no cell of {path}: no user has more than one "
        "cell (each keeps one to train on); use --protocol random"
    )
    path = tmp_path / "r4.csv"
    _frame(np.arange(120), users=np.arange(120) % 30).to_csv(path, index=False)
    line = _refusal(_tune(path, "--protocol", "user", "--validation", "0.1"))
    assert line == (
        "Error: --validation 0.1 holds out no cell with --protocol user: a share of each "
        "user's cells, it rounds to 0 for every user (the most a user has is 4); give a "
        "larger --validation"
    )


def test_a_temporal_split_without_a_hit_is_refused_in_the_options_words(tmp_path):
    """Ratings of 4 and 5 exist, none in the latest 20%: refused after the first line,
    in the library's words ("the relevance threshold"), naming neither option."""
    path = tmp_path / "r.csv"
    ratings = np.where(np.arange(120) >= 90, 1, (np.arange(120) % 5) + 1)
    _frame(np.arange(120), ratings=ratings).to_csv(path, index=False)
    args = ["--protocol", "temporal", "--timestamp-col", "when", "--metric", "ndcg@5"]
    line = _refusal(_tune(path, *args, "--relevance-threshold", "4"))
    assert line == (
        "Error: no validation cell of --protocol temporal (--validation 0.2) is at least "
        "--relevance-threshold 4 (the highest is 1), so no user has a hit to rank; give "
        "another --protocol, a larger --validation or a lower --relevance-threshold"
    )


def test_the_saved_model_and_models_list_say_which_split_scored_it(tmp_path):
    """-o recorded validation_rmse alone: a temporal figure read as a random one."""
    path = tmp_path / "r.csv"
    _csv(path)
    out = tmp_path / "m.npz"
    run = _tune(path, "--protocol", "temporal", "--timestamp-col", "when", "-o", str(out))
    assert run.exit_code == 0, run.output
    from latentrec import load

    metrics = load(out).metrics_
    n = len(pd.read_csv(path))
    asked = int(0.2 * n + 0.5)  # distinct times: no ties at the cutoff
    assert metrics["validation_protocol"] == "temporal"
    assert metrics["validation_share"] == 0.2
    assert metrics["validation_ratings"] == asked
    md = tmp_path / "md"
    runner = CliRunner()
    assert (
        runner.invoke(main, ["models", "publish", str(out), "--model-dir", str(md)]).exit_code == 0
    )
    listing = runner.invoke(main, ["models", "list", "--model-dir", str(md)]).output
    assert f"{asked} ratings, temporal split" in listing, listing
