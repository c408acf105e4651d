"""With ``--relevance-threshold``, the split line counts the cold users and items of the
ranking figures: those with a hit (a held-out rating of at least the threshold).

The figures leave out a user whose held-out ratings are all below the threshold; the
line above them counted that user among the test's cold ones all the same, so it could
say "1 of its 3 users have no training cell" above figures over 2 users, none cold.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import load_data, main
from latentrec.cli.train import describe_folds, describe_holdout, holdout
from latentrec.data import splits

# Held out by time (the latest 4 cells): user 1's 5 and user 4's 5 are the hits at 4;
# user 2's 2 and user 3's 1 are not.  Users 3 and 4, and item 14, have no training cell.
RATINGS = """user_id,item_id,rating,timestamp
1,10,5,1
1,11,4,2
1,12,5,9
2,10,4,3
2,11,2,4
2,13,2,10
3,14,1,11
4,11,5,12
5,10,3,5
5,13,4,6
5,11,5,7
5,12,2,8
"""

N = r"(\d+(?: to \d+)?)"  # a count, or its range over folds
COLD_WORDS = re.compile(
    rf"{N} to test(?:, {N} of them hits \(a rating of at least [\d.]+\))?; "
    rf"{N} of (?:its|the) {N} users and {N} of (?:its|the) {N} items"
)


def evaluate(path, *extra):
    args = ["evaluate", str(path), "--timestamp-col", "timestamp", "-a", "popularity"]
    out = CliRunner().invoke(main, [*args, "--task", "ranking", *extra])
    assert out.exit_code == 0, out.output
    return out.output.splitlines()


def test_the_cold_users_counted_are_the_users_of_the_figures(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(RATINGS)
    holdout_args = ("--protocol", "temporal", "--test-size", "0.34")
    lines = evaluate(path, *holdout_args, "--relevance-threshold", "4")
    assert lines[0].startswith(
        "holdout: the latest 34% of the cells (one time cutoff): 8 cells to train on, 4 to "
        "test, 2 of them hits (a rating of at least 4); 1 of the 2 users and 0 of the 2 "
        "items with a hit have no training cell (kept in the figures"
    ), lines[0]
    table = lines[1].split()
    assert lines[2].split()[table.index("n_users")] == "2"  # the users the line counts
    # Without a threshold every held-out cell is a hit: all four users, as before.
    lines = evaluate(path, *holdout_args)
    assert lines[0].startswith(
        "holdout: the latest 34% of the cells (one time cutoff): 8 cells to train on, 4 to "
        "test; 2 of its 4 users and 1 of its 4 items have no training cell (kept in the"
    ), lines[0]


def counted_by_hand(pairs, threshold):
    """``(test cells, hits, cold users, users, cold items, items)`` of each pair, the
    users and items being those of the hits, counted one cell at a time."""
    rows = []
    for train, test in pairs:
        trained = train.to_frame()
        hits = test.to_frame().query("rating >= @threshold")
        users, items = set(hits.user_id), set(hits.item_id)
        rows.append(
            (
                test.nnz,
                len(hits),
                len(users - set(trained.user_id)),
                len(users),
                len(items - set(trained.item_id)),
                len(items),
            )
        )
    return rows


def span(values) -> str:
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)} to {max(values)}"


@pytest.mark.parametrize("seed", range(4))
def test_the_counts_match_a_count_by_hand(seed):
    rng = np.random.default_rng(seed)
    cells = np.unique(rng.integers(0, [25, 15], size=(90, 2)), axis=0)
    frame = pd.DataFrame(
        {"user_id": cells[:, 0], "item_id": cells[:, 1], "rating": rng.integers(1, 6, len(cells))}
    )
    data = Interactions.from_frame(frame)
    train, test = holdout(data, "random", 0.4, seed)
    line = describe_holdout("random", 0.4, seed, train, test, "ranking", 4)
    (row,) = counted_by_hand([(train, test)], 4)
    said = COLD_WORDS.search(line).groups()
    assert tuple(int(x) for x in said) == row, line
    assert row[2] or row[4] or "kept in the figures" not in line

    folds = list(splits.kfold(data, 3, random_state=seed))
    line = describe_folds(data, 3, seed, "ranking", 3.5)
    rows = counted_by_hand(folds, 3.5)
    assert COLD_WORDS.search(line).groups() == tuple(span(c) for c in zip(*rows, strict=True))


def test_train_says_it_too(tmp_path):
    """``train --test-size`` with a ranking model prints the same line as evaluate."""
    path = tmp_path / "ratings.csv"
    path.write_text(RATINGS)
    args = ["-a", "popularity", "--timestamp-col", "timestamp", "--relevance-threshold", "4"]
    out = CliRunner().invoke(
        main, ["train", str(path), *args, "--test-size", "0.5", "-o", str(tmp_path / "m.npz")]
    )
    assert out.exit_code == 0, out.output
    (said,) = [line for line in out.output.splitlines() if line.startswith("holdout: ")]
    data = load_data(str(path), timestamp_col="timestamp")
    part, test = holdout(data, "user", 0.5, 0)
    (row,) = counted_by_hand([(part, test)], 4)
    assert tuple(int(x) for x in COLD_WORDS.search(said).groups()) == row, said
    evaluated = evaluate(path, "--test-size", "0.5", "--relevance-threshold", "4")
    assert said in evaluated
