"""benchmarks/_explicit_folds.py: both libraries get the same cells and are scored alike."""

import math
import sys
from pathlib import Path

import pytest
from conftest import random_ratings

from latentrec.data.splits import random_split
from latentrec.evaluation import evaluate_ratings
from latentrec.models import Biases

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _explicit_folds import run_latentrec, run_surprise, surprise_fold  # noqa: E402


def fold(seed=0):
    return random_split(random_ratings(n_users=40, n_items=25, seed=seed), 0.25, random_state=seed)


def test_run_latentrec_fits_the_model_it_is_given_and_scores_it_as_evaluate_ratings():
    train, test = fold()
    model = Biases()
    r = run_latentrec(model, train, test)
    assert model.is_fitted
    expected = evaluate_ratings(model, test)
    assert (r["rmse"], r["mae"]) == (expected["rmse"], expected["mae"])
    assert sorted(r) == ["fit_s", "mae", "rmse", "test_s"]


@pytest.mark.parametrize("seed", [0, 1])
def test_surprise_gets_exactly_the_cells_and_is_scored_by_hand(seed):
    surprise = pytest.importorskip("surprise", reason="Surprise is the 'bench' extra")
    train, test = fold(seed)
    trainset, testset = surprise_fold(train, test)
    given = sorted(
        (trainset.to_raw_uid(u), trainset.to_raw_iid(i), r) for u, i, r in trainset.all_ratings()
    )
    cells = train.to_frame()
    assert given == sorted(zip(cells["user_id"], cells["item_id"], cells["rating"], strict=True))
    cells = test.to_frame()
    assert sorted(testset) == sorted(
        zip(cells["user_id"], cells["item_id"], cells["rating"], strict=True)
    )

    r = run_surprise(surprise.BaselineOnly(verbose=False), trainset, testset)
    reference = surprise.BaselineOnly(verbose=False).fit(trainset)  # deterministic (ALS)
    errors = [reference.predict(u, i).est - rating for u, i, rating in testset]
    assert r["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / len(errors)))
    assert r["mae"] == pytest.approx(sum(abs(e) for e in errors) / len(errors))
