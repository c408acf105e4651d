"""`latentrec train --test-size` records the held-out test part's curve of the figures it prints.

The rating model trained without the held-out share watches its RMSE on that share per
epoch, so the model file (with --no-refit) carries the curve and `plot learning-curves`
draws it beside the training curve.  Watching changes nothing the model learns, and
early stopping on the held-out share is refused: it would flatter the printed figures.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

from latentrec import Interactions, load
from latentrec.data.splits import random_split
from latentrec.evaluation import evaluate_ratings
from latentrec.models import ALS, BiasedMF

FIT = {"biased-mf": BiasedMF, "als": ALS}


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    """300 users with 10 ratings each of 40 items: every held-out user and item keeps
    training cells (checked below), so the curve's last point is exactly comparable."""
    csv = tmp_path_factory.mktemp("curve") / "ratings.csv"
    cli_ratings_frame(n_users=300, times=False).to_csv(csv, index=False)
    return csv


def held_out(csv):
    """The command's split: a rating model's holdout is random_split with --seed (0)."""
    data = Interactions.read(csv, rating_scale=(1, 5))
    part, test = random_split(data, 0.2, random_state=0)
    assert (part.user_counts()[test.user_idx] > 0).all()
    assert (part.item_counts()[test.item_idx] > 0).all()
    return part, test


@pytest.mark.parametrize("algorithm", sorted(FIT))
def test_no_refit_model_carries_the_validation_curve_of_the_printed_rmse(ratings, algorithm):
    path = ratings.parent / f"{algorithm}.npz"
    out = invoke(
        "train", ratings, "-a", algorithm, "--factors", 3, "--epochs", 6,
        "--rating-scale", 1, 5, "--test-size", 0.2, "--no-refit", "-q", "-o", path,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    printed = float(re.search(r"held-out RMSE (\d+\.\d+)", out.output).group(1))
    model = load(path)
    curve = model.history_["valid_rmse"]
    assert len(curve) == len(model.history_["train_rmse"]) == 6
    part, test = held_out(ratings)
    # The last point is the saved model's RMSE on the held-out cells before clipping
    # (float32 arithmetic in the kernel, float64 here); the printed figure is clipped to
    # the scale, which can only bring a prediction nearer a rating inside it.
    unclipped = evaluate_ratings(model, test, clip=False)["rmse"]
    assert curve[-1] == pytest.approx(unclipped, abs=1e-6)
    clipped = evaluate_ratings(model, test)["rmse"]
    assert model.metrics_["holdout_rmse"] == pytest.approx(clipped, abs=1e-12)
    assert f"{clipped:.4f}" == f"{printed:.4f}" and clipped <= curve[-1] + 1e-6
    if clipped == unclipped:  # no prediction left the scale: the figures are one
        assert f"{curve[-1]:.4f}" == f"{printed:.4f}"
    # Watching the held-out share changed nothing learned: the same fit without it.
    plain = FIT[algorithm](n_factors=3, n_epochs=6, random_state=0).fit(part)
    np.testing.assert_array_equal(model.item_factors_, plain.item_factors_)
    np.testing.assert_array_equal(model.user_factors_, plain.user_factors_)
    assert "valid_rmse" not in plain.history_


def test_plot_draws_the_training_and_the_validation_curve(ratings, monkeypatch):
    pytest.importorskip("matplotlib")
    from latentrec import plots

    path = ratings.parent / "plotted.npz"
    args = ("--factors", 3, "--epochs", 5, "--test-size", 0.2, "--no-refit", "-q", "-o", path)
    assert invoke("train", ratings, *args).exit_code == 0
    drawn = {}
    original = plots.learning_curves

    def keep(*a, **kw):
        drawn["fig"] = original(*a, **kw)
        return drawn["fig"]

    monkeypatch.setattr(plots, "learning_curves", keep)
    out = invoke("plot", "learning-curves", "--model", path, "-o", ratings.parent / "c.png")
    assert out.exit_code == 0, out.output
    ax = drawn["fig"].axes[0]
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines() if line.get_label()}
    history = load(path).history_
    np.testing.assert_allclose(lines["training"], history["train_rmse"])
    # The model watched the test part whose figures train printed: it chose no epoch,
    # so the curve is named for what it is and no "best epoch" is marked on it.
    np.testing.assert_allclose(lines["held-out test part (20% of ratings)"], history["valid_rmse"])
    assert "validation" not in lines
    assert not any("best" in t.get_text() for t in ax.texts)
    assert ax.get_legend().get_title().get_text() == ""  # no "no validation curve" hint


def test_the_refitted_model_records_its_training_curve_only(ratings):
    path = ratings.parent / "refit.npz"
    args = ("--factors", 3, "--epochs", 4, "--test-size", 0.2, "-q", "-o", path)
    assert invoke("train", ratings, *args).exit_code == 0
    model = load(path)
    # Nothing was held out of the refit; its held-out figures are the first fit's.
    assert "valid_rmse" not in model.history_ and len(model.history_["train_rmse"]) == 4
    assert model.metrics_["refit"] is True and "holdout_rmse" in model.metrics_
    text = " ".join(invoke("train", "--help").output.split())
    assert "the refitted model held nothing out, so it records its training curve only" in text


@pytest.mark.parametrize("test_size", [(), ("--test-size", 0.2)])
def test_early_stopping_is_refused_before_any_work(ratings, test_size):
    path = ratings.parent / "patience.npz"
    out = invoke("train", ratings, "--param", "patience=2", *test_size, "-q", "-o", path)
    line = error_line(out)
    assert "patience needs validation data" in line and "--test-size" in line
    assert "trained" not in out.stdout and not path.exists()


def test_the_help_calls_the_no_refit_curve_what_the_plot_draws():
    # The help called it "the validation curve", while `plot learning-curves` labels it
    # the held-out test part (it chose no epoch, so it validates nothing).
    text = " ".join(invoke("train", "--help").output.split())
    no_refit = text[text.index("--no-refit With --test-size") :]
    no_refit = no_refit[: no_refit.index(" -k ")]
    assert "draws beside the training curve, labelled the held-out test part" in no_refit
    assert "a curve of the held-out test part" in text
    assert text.count("validation curve") == text.count("no validation curve") > 0
