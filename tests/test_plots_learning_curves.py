"""Learning curves draw every validation column a model records, on whole-number epochs,
and call a test part watched by `train --no-refit` what it is."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from latentrec import Interactions, plots  # noqa: E402
from latentrec.data.splits import random_split  # noqa: E402
from latentrec.models import (  # noqa: E402
    ALS,
    BPR,
    NMF,
    WARP,
    BayesianMF,
    BiasedMF,
    GradientDescentMF,
    HybridMF,
    SVDpp,
)


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(1)
    n_users, n_items = 50, 30
    P, Q = rng.normal(0, 1, (n_users, 3)), rng.normal(0, 1, (n_items, 3))
    R = np.clip(np.round(3 + P @ Q.T / 2), 1, 5)
    u, i = np.nonzero(rng.random((n_users, n_items)) < 0.5)
    df = pd.DataFrame({"user_id": u, "item_id": i, "rating": R[u, i]})
    data = Interactions.from_frame(df, rating_scale=(1, 5))
    return random_split(data, 0.2, random_state=0)


# Every model whose fit records a per-epoch validation column, with a short run.
WATCHING = [
    BiasedMF(n_factors=3, n_epochs=5, random_state=0),
    GradientDescentMF(n_factors=3, n_epochs=5, random_state=0),
    SVDpp(n_factors=3, n_epochs=5, random_state=0),
    ALS(n_factors=3, n_epochs=5, random_state=0),
    NMF(n_factors=3, n_epochs=5, random_state=0),
    BayesianMF(n_factors=3, burn_in=2, n_samples=3, random_state=0),
    BPR(n_factors=3, n_epochs=5, random_state=0),
    WARP(n_factors=3, n_epochs=5, random_state=0),
    HybridMF(n_factors=3, n_epochs=5, random_state=0),
]


def drawn_lines(fig) -> dict:
    return {
        line.get_label(): np.asarray(line.get_ydata(), dtype=float)
        for ax in fig.axes
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


@pytest.mark.parametrize("model", WATCHING, ids=lambda m: type(m).__name__)
def test_every_validation_column_a_model_records_is_drawn(split, model):
    train, valid = split
    model = model.clone().fit(train, valid)
    columns = [key for key in model.history_ if key.startswith("valid_")]
    assert columns, f"{type(model).__name__} recorded no validation column"
    fig = plots.learning_curves(model)
    drawn = list(drawn_lines(fig).values())
    for key in columns:
        expected = np.asarray(model.history_[key], dtype=float)
        assert any(y.shape == expected.shape and np.allclose(y, expected) for y in drawn), (
            f"{key} of {type(model).__name__} is not drawn"
        )
    # Validation was given: the plot must not tell the user to give it.
    legend = fig.axes[0].get_legend()
    assert legend.get_title().get_text() == ""
    # Epochs are whole numbers: 5 epochs once got ticks at 1.5 and 2.5.
    ticks = fig.axes[0].get_xticks()
    assert np.array_equal(ticks, np.round(ticks))


@pytest.mark.parametrize("cls", [BPR, WARP])
def test_a_ranking_models_validation_auc_has_its_own_labelled_axis_and_best_epoch(split, cls):
    train, valid = split
    model = cls(n_factors=3, n_epochs=6, random_state=0).fit(train, valid)
    fig = plots.learning_curves(model)
    loss_ax, auc_ax = fig.axes
    assert loss_ax.get_ylabel() == plots._loss_name(model)
    assert "AUC" in auc_ax.get_ylabel()
    lines = {line.get_label(): line.get_ydata() for line in auc_ax.get_lines()}
    np.testing.assert_allclose(lines["validation AUC"], model.history_["valid_auc"])
    np.testing.assert_allclose(lines["training AUC"], model.history_["train_auc"])
    # These models choose no epoch (best_epoch is the last), so the mark is the epoch of
    # the highest validation AUC, the first one on a tie.
    auc = np.asarray(model.history_["valid_auc"])
    best = model.history_["epoch"][int(np.argmax(auc))]
    (mark,) = [t.get_text() for t in auc_ax.texts]
    assert mark == f"best validation AUC, epoch {best}: {auc.max():.4f}"
    assert [x for line in auc_ax.get_lines() for x in line.get_xdata()][-2:] == [best, best]
    legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert legend == ["training", "training AUC", "validation AUC"]


def test_without_validation_the_hint_stays(split):
    train, _ = split
    model = BPR(n_factors=3, n_epochs=3, random_state=0).fit(train)
    fig = plots.learning_curves(model)
    assert len(fig.axes) == 1
    assert "no validation curve" in fig.axes[0].get_legend().get_title().get_text()


def test_the_best_epoch_marked_on_an_error_is_the_one_the_model_records():
    history = {
        "epoch": [1, 2, 3, 4],
        "train_rmse": [1.2, 1.0, 0.9, 0.8],
        "valid_rmse": [1.3, 1.1, 1.15, 1.2],
        "best_epoch": 2,
    }
    ax = plots.learning_curves(history).axes[0]
    assert [t.get_text() for t in ax.texts] == ["best epoch 2: 1.1000"]
    ticks = ax.get_xticks()
    assert np.array_equal(ticks, np.round(ticks))


def test_a_test_part_watched_without_refit_is_not_called_validation(split):
    train, test = split
    model = BiasedMF(n_factors=3, n_epochs=5, random_state=0).fit(train, test)
    # What `latentrec train --test-size 0.2 --no-refit` records (tests/cli covers it).
    model.record_metrics(holdout_share=0.2, refit=False)
    ax = plots.learning_curves(model).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["training", "held-out test part (20% of ratings)"]
    assert not any("best" in t.get_text() for t in ax.texts)  # it chose no epoch
    # A refitted model's figures say refit=True: its curve (when it has one) is validation.
    model.record_metrics(refit=True)
    labels = [t.get_text() for t in plots.learning_curves(model).axes[0].get_legend().get_texts()]
    assert labels == ["training", "validation"]


@pytest.mark.parametrize("n_epochs", [1, 2, 3, 7, 12, 40])
def test_epoch_ticks_are_whole_epochs_within_the_run(n_epochs):
    # 1 epoch once got ticks 0.945 ... 1.050, 2 epochs ticks 0 and 3 (outside the run).
    rng = np.random.default_rng(n_epochs)
    history = {
        "epoch": list(range(1, n_epochs + 1)),
        "train_rmse": rng.uniform(0.8, 1.2, n_epochs).tolist(),
        "valid_rmse": rng.uniform(0.9, 1.3, n_epochs).tolist(),
        "best_epoch": 1,
    }
    ax = plots.learning_curves(history).axes[0]
    ticks = ax.get_xticks()
    assert len(ticks) >= 1
    assert np.array_equal(ticks, np.round(ticks))
    assert ticks.min() >= 1 and ticks.max() <= n_epochs
    low, high = ax.get_xlim()
    assert low <= ticks.min() and ticks.max() <= high  # each drawn, none beyond the axis
    if n_epochs <= 10:  # a short run: every epoch is ticked
        assert ticks.tolist() == history["epoch"]


def test_a_one_epoch_model_file_gets_one_whole_tick(split):
    # What `latentrec train --epochs 1 --test-size 0.2 --no-refit` saves.
    train, test = split
    model = BiasedMF(n_factors=3, n_epochs=1, random_state=0).fit(train, test)
    model.record_metrics(holdout_share=0.2, refit=False)
    assert plots.learning_curves(model).axes[0].get_xticks().tolist() == [1]
