"""``latentrec score MODEL SOURCE``: a saved model scored on a test file, matched by id.

Before, scoring a model on a held-out file (MovieLens' u1.test, the Netflix prize's
probe part) needed Python; now one command gives the figures the library gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from new_user_support import error_line, invoke

from latentrec import Interactions
from latentrec.data.splits import random_split
from latentrec.evaluation import evaluate_ranking
from latentrec.models import BiasedMF, ImplicitALS, Popularity


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "user_id": [f"u{x}" for x in rng.integers(0, 40, n)],
            "item_id": rng.integers(100, 150, n),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    ).drop_duplicates(["user_id", "item_id"])
    data = Interactions.from_frame(frame, rating_scale=(1, 5))
    train, test = random_split(data, 0.2, random_state=0)
    # Keep the test cells whose user and item have a training cell: matched by id,
    # the model holds exactly those.
    model_ids = (set(train.to_frame()["user_id"]), set(train.to_frame()["item_id"]))
    known = test.to_frame()
    known = known[known["user_id"].isin(model_ids[0]) & known["item_id"].isin(model_ids[1])]
    return train, test, known


def _files(tmp_path, train, frame, model):
    model_path, test_path = tmp_path / "m.npz", tmp_path / "test.csv"
    model.fit(train).save(model_path)
    # Shuffled rows: matching is by id, not by position.
    frame.sample(frac=1.0, random_state=1).to_csv(test_path, index=False)
    return model_path, test_path


def test_a_rating_model_gets_the_librarys_rmse_on_a_test_file(split, tmp_path):
    train, test, known = split
    model = BiasedMF(n_factors=3, n_epochs=10, random_state=0)
    model_path, test_path = _files(tmp_path, train, known, model)
    out = invoke("score", model_path, test_path, "--rating-scale", "1", "5")
    assert out.exit_code == 0, out.output
    # The slow reference: the model's own predictions of the known cells, clipped.
    fitted = model.fit(train)
    pred = np.clip(fitted.predict(known["user_id"], known["item_id"]), 1, 5)
    rmse = float(np.sqrt(np.mean((pred - known["rating"].to_numpy()) ** 2)))
    assert f"held-out RMSE {rmse:.4f}" in out.stdout, out.stdout
    assert f"({len(known)} ratings)" in out.stdout


def _ranker(kind):
    if kind == "model":
        return ImplicitALS(n_factors=3, random_state=0)
    from latentrec.pipeline import Pipeline

    return Pipeline([Popularity(), ImplicitALS(n_factors=3, random_state=0)], n_candidates=20)


@pytest.mark.parametrize("kind", ["model", "pipeline"])
def test_a_ranking_model_or_pipeline_gets_the_librarys_ndcg(split, tmp_path, kind):
    """The help says MODEL may be a pipeline; it crashed on ``predicts_ratings``."""
    train, test, known = split
    model = _ranker(kind)
    model_path, test_path = _files(tmp_path, train, known, model)
    out = invoke("score", model_path, test_path, "-k", "5")
    assert out.exit_code == 0, out.output
    fitted = model.fit(train)
    rows = test.to_frame().merge(known[["user_id", "item_id"]])
    part = Interactions.from_frame(rows, users=train.users, items=train.items)
    want = evaluate_ranking(fitted, part, 5)
    assert f"ndcg@5 {want['ndcg']:.4f}" in out.stdout, out.stdout


def test_unknown_ids_are_refused_or_left_out_and_counted(split, tmp_path):
    train, test, known = split
    extra = pd.DataFrame({"user_id": ["stranger"], "item_id": [100], "rating": [4.0]})
    model_path, test_path = _files(
        tmp_path, train, pd.concat([known, extra]), BiasedMF(n_factors=2, n_epochs=3)
    )
    line = error_line(invoke("score", model_path, test_path))
    assert line.startswith(f"Error: {test_path} has 1 cell(s) of users or items that BiasedMF")
    assert "user 'stranger', item 100, an unknown user" in line and "--unknown skip" in line
    out = invoke("score", model_path, test_path, "--unknown", "skip")
    assert out.exit_code == 0, out.output
    assert "left out 1 cell(s)" in out.stderr and f"({len(known)} ratings)" in out.stdout


def test_training_cells_are_refused_before_any_figure(split, tmp_path):
    train, _, _ = split
    model_path, test_path = _files(
        tmp_path, train, train.to_frame(), BiasedMF(n_factors=2, n_epochs=3)
    )
    out = invoke("score", model_path, test_path)
    assert out.exit_code == 1 and out.stdout == ""
    assert "shares" in error_line(out) and "trained on" in error_line(out)


def test_ranking_options_with_a_rating_model_are_refused_before_reading(split, tmp_path):
    """--relevance-threshold failed in the library's words after the announcing line;
    -k was ignored unseen.  Both are refused as train refuses them, nothing read."""
    train, _, known = split
    model_path, test_path = _files(tmp_path, train, known, BiasedMF(n_factors=2, n_epochs=3))
    for extra in (["--relevance-threshold", "4"], ["-k", "5"]):
        out = invoke("score", model_path, tmp_path / "not-read.csv", *extra)
        line = error_line(out, code=2)
        assert f"{extra[0]} applies to a ranking model's figures" in line, line
        assert "BiasedMF predicts ratings" in line and out.stdout == ""


def test_a_rating_model_on_a_file_read_without_ratings_is_refused(split, tmp_path):
    """Every cell read with --rating-col none is 1.0: an RMSE against it was printed."""
    train, _, known = split
    model_path, test_path = _files(
        tmp_path, train, known[["user_id", "item_id"]], BiasedMF(n_factors=2, n_epochs=3)
    )
    line = error_line(invoke("score", model_path, test_path, "--rating-col", "none"))
    assert "BiasedMF predicts ratings" in line and "read without them" in line, line


def test_two_ids_of_the_file_for_one_id_of_the_model_are_refused(tmp_path):
    """'007' and '7' in a file read as text (it names a user 'stranger' too) are one
    user of an integer-id model: their ratings were added into one cell (4 + 5 scored
    as a 9) without a word."""
    train = Interactions.from_arrays([7, 7, 8, 8], [1, 2, 1, 2], [4.0, 2.0, 3.0, 5.0])
    model_path, test_path = tmp_path / "m.npz", tmp_path / "t.csv"
    model = BiasedMF(n_factors=2, n_epochs=3, random_state=0).fit(
        train.subset(np.array([0, 2]))  # (7, 1) and (8, 1): the others are held out
    )
    model.save(model_path)
    test_path.write_text("user_id,item_id,rating\n007,2,4\n7,2,5\n8,2,5\nstranger,2,3\n")
    out = invoke("score", model_path, test_path, "--unknown", "skip")
    assert out.exit_code == 1 and out.stdout == "", out.output
    line = out.stderr.splitlines()[-1]  # below the reader's note on the text ids
    assert "user '007', item 2 and user '7', item 2 are both user 7, item 2" in line, line
    # Each id written one way, the same cells are scored.
    test_path.write_text("user_id,item_id,rating\n007,2,4\n8,2,5\nstranger,2,3\n")
    out = invoke("score", model_path, test_path, "--unknown", "skip")
    assert out.exit_code == 0 and "(2 ratings)" in out.stdout, out.output


def test_baseline_predicts_unknown_ids_from_the_models_biases(split, tmp_path):
    """``--unknown baseline`` scores every cell, as Surprise scores u1.test: a user the
    model has not seen gets mu + b_i, an item mu + b_u, both mu, clipped to the scale."""
    train, _, known = split
    extra = pd.DataFrame(
        {
            "user_id": ["stranger", "u1", "stranger"],
            "item_id": [100, 999, 998],
            "rating": [5.0, 1.0, 3.0],
        }
    )
    model = BiasedMF(n_factors=2, n_epochs=5, random_state=0)
    model_path, test_path = _files(tmp_path, train, pd.concat([known, extra]), model)
    out = invoke("score", model_path, test_path, "--unknown", "baseline")
    assert out.exit_code == 0, out.output
    fitted = model.fit(train)
    mu = float(fitted.global_mean_)
    b_i = float(fitted.item_bias_[fitted.items_.lookup([100])[0]])
    b_u = float(fitted.user_bias_[fitted.users_.lookup(["u1"])[0]])
    # The slow reference: the known cells as the model predicts them, the others by hand.
    pred = list(fitted.predict(known["user_id"], known["item_id"])) + [mu + b_i, mu + b_u, mu]
    truth = list(known["rating"]) + [5.0, 1.0, 3.0]
    error = np.clip(np.array(pred, dtype=np.float64), 1, 5) - np.array(truth)
    rmse, mae = np.sqrt(np.mean(error**2)), np.mean(np.abs(error))
    line = next(x for x in out.stdout.splitlines() if x.startswith("held-out"))
    assert line.startswith(f"held-out RMSE {rmse:.4f}  MAE {mae:.4f} ({len(truth)} ratings; 3 ")
    # A ranking model has no rating to predict for them.
    ranked = _files(tmp_path, train, known, ImplicitALS(n_factors=2, random_state=0))[0]
    refused = error_line(invoke("score", ranked, test_path, "--unknown", "baseline"))
    assert "ranks without predicting ratings; use --unknown skip" in refused
