"""Answers outside what a model knows of ratings are refused, in the library and the CLI.

A model fitted on explicit ratings without a rating scale takes fold-in and onboarding
answers within the range its training ratings covered; with a scale, within the scale;
event data (plays) has no such bound.
"""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import latentrec
from latentrec.cli import main
from latentrec.models import BiasedMF, ImplicitALS
from latentrec.models.foldin import answer_range


def _frame(seed=0):
    rng = np.random.default_rng(seed)
    rows = [(u, i, float(rng.integers(2, 5))) for u in range(12) for i in rng.choice(8, 4, False)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


@pytest.fixture(scope="module")
def unscaled():
    data = latentrec.Interactions.from_frame(_frame())  # ratings 2-4, no scale
    return BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(data)


def test_range_is_the_training_ratings(unscaled):
    values = _frame()["rating"]
    assert answer_range(unscaled) == (values.min(), values.max(), "range of its training ratings")


@pytest.mark.parametrize("value", [9.0, 1.0, 4.5, -2.0])
def test_fold_in_and_onboard_refuse_answers_outside_the_range(unscaled, value):
    with pytest.raises(ValueError, match=r"outside the range of its training ratings, 2-4"):
        unscaled.fold_in({0: value})
    with pytest.raises(ValueError, match=r"0=.* 2-4"):
        unscaled.onboard({1: 3.0, 0: value}, n=2)
    assert unscaled.n_users == 12  # nothing added


def test_answers_inside_the_range_are_folded_in(unscaled):
    for value in (2.0, 3.0, 4.0, 3.7):  # 3.7: float64 answers against a float32 range
        unscaled.fold_in({0: value})
    assert len(unscaled.onboard({0: 4.0, 1: 2.0}, n=3).ids) == 3


def test_a_rating_scale_rules_when_there_is_one():
    data = latentrec.Interactions.from_frame(_frame(), rating_scale=(1, 5))
    model = BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(data)
    assert answer_range(model) == (1.0, 5.0, "rating scale")
    model.fold_in({0: 5.0})  # off the training range, on the scale: fine
    with pytest.raises(ValueError, match="rating scale 1-5"):
        model.onboard({0: 9.0})


def test_event_counts_and_ranking_models_have_no_range():
    plays = latentrec.Interactions.from_frame(_frame(), implicit=True)
    model = ImplicitALS(n_factors=2, n_epochs=2, random_state=0).fit(plays)
    assert answer_range(model) is None
    model.fold_in({0: 50.0})
    # A ranking model reads a value as a confidence: more is no extrapolation.
    model = ImplicitALS(n_factors=2, n_epochs=2, random_state=0)
    model.fit(latentrec.Interactions.from_frame(_frame()))
    assert answer_range(model) is None
    model.fold_in({0: 50.0})


def test_the_range_survives_save_and_load(unscaled, tmp_path):
    unscaled.save(tmp_path / "m.npz")
    loaded = latentrec.load(tmp_path / "m.npz")
    assert answer_range(loaded) == answer_range(unscaled)
    with pytest.raises(ValueError, match="2-4"):
        loaded.fold_in({0: 9.0})


def test_cli_refuses_in_one_line(unscaled, tmp_path):
    path = tmp_path / "m.npz"
    unscaled.save(path)
    r = CliRunner().invoke(main, ["onboard", str(path), "--answers", "0=9"])
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        "Error: answer(s) 0=9 lie outside the range of its training ratings, 2-4; this model "
        "was fitted without a rating scale and learned nothing of ratings beyond it"
    ]
    r = CliRunner().invoke(main, ["onboard", str(path), "--answers", "0=4,1=2", "-n", "2"])
    assert r.exit_code == 0, r.output


def test_cli_prompt_asks_within_the_range(unscaled, tmp_path):
    path = tmp_path / "m.npz"
    unscaled.save(path)
    r = CliRunner().invoke(
        main, ["onboard", str(path), "-k", "1", "--min-ratings", "1"], input="9\n3\n"
    )
    assert r.exit_code == 0, r.output
    assert "(2-4)" in r.output and "please answer 2-4" in r.output
