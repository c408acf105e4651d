"""An item a ``Rules`` stage never shows cannot also be boosted up; it can be buried.

``never = [7]`` with a boost of 7 showed nothing of 7 and dropped the boost without a
word, where an item both pinned and never shown (or pinned and buried) is refused: the
rules say two opposite things of one item. It is refused, naming the file and line of the
boost when the rules came from a file.  A bury (or a boost of 0 or less) of a never-shown
item asks it down, as never does: those files were valid and stay so.
"""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.models import Popularity
from latentrec.pipeline import Pipeline, Rules


def catalogue() -> Interactions:
    df = pd.DataFrame({"user_id": [1, 2, 2, 3], "item_id": [5, 6, 7, 5], "rating": 1.0})
    return Interactions.from_frame(df)


def fit_error(stage: Rules) -> str:
    with pytest.raises(ValueError) as info:
        Pipeline(Popularity(), rerankers=[stage]).fit(catalogue())
    return str(info.value)


def test_a_file_boosting_a_never_shown_item_is_refused_with_its_line(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('never = [7]\n[boost]\n"6" = 0.1\n"7" = 0.3\n')
    assert fit_error(Rules.from_toml(path)) == (
        f"{path}, line 4: boost: item 7 is both boosted by 0.3 and never shown"
    )


def test_rules_built_in_python_are_refused_too():
    assert fit_error(Rules(never=[6], boost={6: 0.5})) == (
        "Rules: item 6 is both boosted by 0.5 and never shown"
    )


@pytest.mark.parametrize(
    "stage",
    [
        Rules(never=[5], bury=[5]),
        Rules(never=[5], bury=[6, 5]),
        Rules(never=[5], boost={5: -0.5}),
        Rules(never=[5], boost={5: 0.0}, bury=[5]),
    ],
)
def test_a_never_shown_item_may_also_be_asked_down(stage):
    """Refused since never and bury were checked together (and with it a saved pipeline
    holding such rules could no longer be refitted by retraining); both ask the item
    down, and it is not shown."""
    pipe = Pipeline(Popularity(), rerankers=[stage], n_candidates=3).fit(catalogue())
    assert 5 not in pipe.recommend("nobody", n=3).ids.tolist()
    again = pipe.clone().fit(catalogue())
    assert again.recommend("nobody", n=3).ids.tolist() == pipe.recommend("nobody", n=3).ids.tolist()


def test_a_buried_and_boosted_item_is_still_allowed():
    # The boost orders it among the buried items: the two do not contradict each other.
    stage = Rules(bury=[5, 6], boost={6: 1.5})  # 5 is the more popular
    pipe = Pipeline(Popularity(), rerankers=[stage], n_candidates=3).fit(catalogue())
    assert pipe.recommend("nobody", n=3).ids.tolist() == [7, 6, 5]


def train_popularity(tmp_path):
    csv = tmp_path / "ratings.csv"
    catalogue().to_frame().to_csv(csv, index=False)
    model = tmp_path / "model.npz"
    out = CliRunner().invoke(main, ["train", str(csv), "-a", "popularity", "-q", "-o", str(model)])
    assert out.exit_code == 0, out.output
    return model


def test_the_command_says_it_in_one_line(tmp_path):
    model = train_popularity(tmp_path)
    rules = tmp_path / "rules.toml"
    rules.write_text('never = [5]\n[boost]\n"5" = 1\n')
    out = CliRunner().invoke(main, ["recommend", str(model), "-u", "1", "--rules", str(rules)])
    assert out.exit_code == 1
    assert (
        out.output
        == f"Error: {rules}, line 3: boost: item 5 is both boosted by 1 and never shown\n"
    )


def test_the_command_takes_a_file_that_never_shows_and_buries_one_item(tmp_path):
    model = train_popularity(tmp_path)
    rules = tmp_path / "rules.toml"
    rules.write_text("never = [5]\nbury = [5, 6]\n")
    out = CliRunner().invoke(
        main, ["recommend", str(model), "-u", "1", "--rules", str(rules), "--json"]
    )
    assert out.exit_code == 0, out.output
    assert [row["item_id"] for row in json.loads(out.output)] == [7, 6]


@pytest.mark.parametrize("rank", [2**63, 10**23])
def test_a_pin_past_the_largest_rank_is_refused_by_name(tmp_path, rank):
    """It failed as "unexpected OverflowError: Python int too large to convert to C long"
    (a bug, the command said); the largest 64-bit rank is taken, and shows nothing."""
    path = tmp_path / "rules.toml"
    path.write_text(f'never = [7]\n[pin]\n"6" = {rank}\n')
    assert fit_error(Rules.from_toml(path)) == (
        f"{path}, line 3: pin: item 6 is pinned at rank {rank}; a rank is at most {2**63 - 1}"
    )
    assert fit_error(Rules(pin={6: rank})) == (
        f"Rules pin: item 6 is pinned at rank {rank}; a rank is at most {2**63 - 1}"
    )
    stage = Rules(pin={6: 2**63 - 1})
    pipe = Pipeline(Popularity(), rerankers=[stage], n_candidates=3).fit(catalogue())
    assert 6 not in pipe.recommend("nobody", n=3).ids.tolist()


@pytest.mark.parametrize(
    ("stage", "says"),
    [
        (Rules(pin={6: 1.5}), "Rules pin: item 6 is pinned at rank 1.5; a rank is a whole number"),
        (
            Rules(pin={6: True}),
            "Rules pin: item 6 is pinned at rank True; a rank is a whole number",
        ),
        (Rules(pin={6: "2"}), "Rules pin: item 6 is pinned at rank '2'; a rank is a whole number"),
        (Rules(boost={6: "0.5"}), "Rules boost: item 6 is boosted by '0.5'; a boost is a number"),
        (Rules(boost={6: True}), "Rules boost: item 6 is boosted by True; a boost is a number"),
    ],
)
def test_pins_and_boosts_of_another_kind_are_refused(stage, says):
    """A rank of 1.5 (or True) was read as 1, and text as the number it spells, without a
    word; a rules file refuses them on reading, and code now does at fit."""
    assert fit_error(stage) == says


def test_numpy_numbers_are_pins_and_boosts():
    stage = Rules(pin={6: np.int64(1)}, boost={7: np.float32(2.0)})
    pipe = Pipeline(Popularity(), rerankers=[stage], n_candidates=3).fit(catalogue())
    assert pipe.recommend("nobody", n=3).ids.tolist() == [6, 7, 5]


@pytest.mark.parametrize("rank", [0, -(2**63), -(10**20)])
def test_a_pin_below_the_first_rank_is_refused_by_name(rank):
    """A rank under -2**63 failed as an OverflowError (a bug, the command said), where
    one just above it was refused as a rank below 1."""
    assert fit_error(Rules(pin={6: rank})) == (
        f"Rules pin: item 6 is pinned at rank {rank}; ranks start at 1"
    )


def test_a_boost_past_any_float_is_refused_by_name():
    """A whole number too large for a float failed as an OverflowError at fit."""
    assert fit_error(Rules(boost={6: 10**400})) == (
        f"Rules boost: item 6 is boosted by {10**400}; a boost is a finite number"
    )


@pytest.mark.parametrize(
    ("rank", "amount"),
    [(1.0, Decimal("2")), (np.float64(1.0), np.float32(2.0)), (Decimal("1"), 2.0)],
)
def test_whole_ranks_and_numbers_of_any_kind_are_taken(rank, amount):
    """Fit refused a rank of 1.0 ("a rank is a whole number", which it is: a column of
    ranks with a gap reads as floats) and a Decimal boost ("a boost is a number"), both
    taken before as the numbers they are."""
    pinned = Rules(pin={6: rank}, boost={7: amount})
    as_ints = Rules(pin={6: 1}, boost={7: 2.0})
    lists = [
        Pipeline(Popularity(), rerankers=[stage], n_candidates=3).fit(catalogue())
        for stage in (pinned, as_ints)
    ]
    got = [pipe.recommend("nobody", n=3).ids.tolist() for pipe in lists]
    assert got[0] == got[1] == [6, 7, 5]
