"""evaluate_ratings and cross_validate report what Surprise reports on the same cells.

Biases is Surprise's BaselineOnly (ALS, reg_i 10, reg_u 15, 10 epochs, item biases first),
and both clip to the 1-5 scale; so on the same split, cold users and items included (both
predict mu + the known bias), RMSE and MAE agree to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_ratings

from latentrec import Interactions
from latentrec.data.splits import kfold
from latentrec.evaluation import cross_validate, evaluate_ratings
from latentrec.models import Biases

surprise = pytest.importorskip("surprise", reason="Surprise is the 'bench' extra")


def _surprise_scores(train: Interactions, test: Interactions) -> tuple[float, float]:
    frame = train.to_frame()[["user_id", "item_id", "rating"]]
    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
    testset = list(test.to_frame()[["user_id", "item_id", "rating"]].itertuples(index=False))
    predictions = surprise.BaselineOnly(verbose=False).fit(trainset).test(testset)
    return (
        surprise.accuracy.rmse(predictions, verbose=False),
        surprise.accuracy.mae(predictions, verbose=False),
    )


@pytest.fixture(scope="module")
def data():
    frame = random_ratings(n_users=40, n_items=30, density=0.4, seed=11).to_frame()
    return Interactions.from_frame(frame, rating_scale=(1, 5))


def test_holdout_with_cold_users_and_items_matches_surprise(data):
    rng = np.random.default_rng(0)
    users, items = data.users.ids[data.user_idx], data.items.ids[data.item_idx]
    # Two users and two items have every cell held out: cold in train, scored in test.
    cold = np.isin(users, data.users.ids[:2]) | np.isin(items, data.items.ids[:2])
    held = cold | (rng.random(data.nnz) < 0.2)
    train, test = data.subset(~held), data.subset(held)
    ours = evaluate_ratings(Biases().fit(train), test)
    rmse, mae = _surprise_scores(train, test)
    assert ours["rmse"] == pytest.approx(rmse, abs=1e-6)
    assert ours["mae"] == pytest.approx(mae, abs=1e-6)
    assert ours["n"] == test.nnz


def test_every_cross_validation_fold_matches_surprise_on_its_cells(data):
    cv = cross_validate(Biases(), data, 3, random_state=4)
    for row, (train, test) in zip(
        cv.folds.itertuples(), kfold(data, 3, random_state=4), strict=True
    ):
        rmse, mae = _surprise_scores(train, test)
        assert row.rmse == pytest.approx(rmse, abs=1e-6)
        assert row.mae == pytest.approx(mae, abs=1e-6)
