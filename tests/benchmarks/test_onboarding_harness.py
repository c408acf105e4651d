"""The onboarding benchmark harness (benchmarks/onboarding_harness.py) on small and real data."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import skewed_ratings

from latentrec import Interactions
from latentrec.kernels.threads import numba_threads
from latentrec.models import BiasedMF

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from onboarding_harness import onboarding_benchmark  # noqa: E402


def test_benchmark_on_small_data():
    data = skewed_ratings(n_users=150, n_items=30, seed=2)
    model = BiasedMF(n_factors=3, n_epochs=20)
    r = onboarding_benchmark(data, k=3, seed=1, model=model, max_questions=6)
    assert model.is_fitted is False  # cloned, not fitted in place
    assert r["users"] == 15 and 0 < r["evaluated_users"] <= 15
    assert 0 <= r["answered_mean"] <= 3 and r["asked_mean"] <= 6
    assert 0 <= r["ndcg_onboarding"] <= 1 and 0 <= r["ndcg_popularity"] <= 1
    assert r["gain"] == pytest.approx(r["ndcg_onboarding"] - r["ndcg_popularity"])
    again = onboarding_benchmark(data, k=3, seed=1, model=model, max_questions=6)
    assert {k: v for k, v in again.items() if k != "fit_seconds"} == {
        k: v for k, v in r.items() if k != "fit_seconds"
    }
    with pytest.raises(ValueError, match="max_questions"):
        onboarding_benchmark(data, k=3, max_questions=2)


def tastes(n_users=200, n_groups=4, per_group=8, seed=1) -> Interactions:
    """Users in taste groups, each rating mostly its group's items (popular ones more
    often), plus three blockbusters most users rated whatever their taste: the most
    popular items tell nothing of a user's taste, a designed question does."""
    rng = np.random.default_rng(seed)
    n_items = n_groups * per_group
    group = rng.integers(0, n_groups, n_users)
    own = (np.arange(n_items) // per_group)[None, :] == group[:, None]
    reach = 0.9 / (1 + np.arange(n_items) % per_group) ** 0.5
    mask = rng.random((n_users, n_items)) < np.where(own, reach[None, :], 0.05)
    mask[np.arange(n_users), group * per_group] = True
    mask = np.hstack([mask, rng.random((n_users, 3)) < 0.8])
    u, i = np.nonzero(mask)
    df = pd.DataFrame({"user_id": u, "item_id": i + 100, "rating": rng.integers(1, 6, u.size)})
    return Interactions.from_frame(df, rating_scale=(1, 5))


def test_the_movielens_check_s_paths_on_small_data():
    """What the MovieLens check below runs and claims, on small data with tastes to find:
    the default model (the former ImplicitALS defaults), a question list longer than k,
    the popular-items control."""
    data = tastes()
    # One numba thread: these fits are a few rows each, and starting the thread pool for
    # every half-step would be most of their cost.
    with numba_threads(1):
        five = onboarding_benchmark(data, k=3, seed=0)
        ten = onboarding_benchmark(data, k=3, seed=0, max_questions=6)
        popular = onboarding_benchmark(data, k=3, seed=0, questions="popular")
    assert "ImplicitALS(" in five["model"] and "regularization=30.0" in five["model"]
    for r, most in ((five, 3), (ten, 6), (popular, 3)):
        assert r["users"] == 20 and 0 < r["evaluated_users"] <= 20
        assert 0 <= r["answered_mean"] <= 3 and r["asked_mean"] <= most
        assert 0 <= r["ndcg_onboarding"] <= 1 and 0 <= r["ndcg_popularity"] <= 1
        assert r["gain"] == pytest.approx(r["ndcg_onboarding"] - r["ndcg_popularity"])
    # Asking down the longer list gets more answers, and the answers (folded in, not the
    # popularity list) rank the user's items significantly better than popularity.
    assert ten["asked_mean"] > five["asked_mean"]
    assert ten["answered_mean"] > five["answered_mean"]
    assert ten["gain"] > ten["gain_ci95"] > 0
    # The popular control asks other questions (the blockbusters), which find no taste.
    assert popular["questions"] == "popular"
    assert popular["answered_mean"] != five["answered_mean"]
    assert five["gain"] > popular["gain"]


# The claim on real data: three fits of MovieLens-100K, 5-10 s on the shared
# 2-core machine, so it runs with the slow checks; the test above takes its paths on small
# data in the default run.
@pytest.mark.slow
@pytest.mark.network
def test_five_answers_beat_popularity_for_unseen_users():
    """The issue's claim on MovieLens-100K, 10% of users held out (seed 0), ImplicitALS.

    Measured over seeds 0-4 (see the module's report): asking the 5 designed questions
    (2.1 answered on average) gives NDCG@10 0.597 vs popularity 0.486 (per-seed gains
    +0.09 to +0.13); asking down a list of 10 until 5 are answered (3.5 answered, 9.0
    asked) gives 0.598 vs 0.467 (+0.12 to +0.15).  Asking the 5 most popular items
    instead gives only +0.03 to +0.05.
    """
    from latentrec import datasets

    data = datasets.movielens("100k", verbose=False)
    five = onboarding_benchmark(data, k=5, seed=0)
    assert five["evaluated_users"] >= 90
    assert 1.5 < five["answered_mean"] < 3.5
    assert five["ndcg_onboarding"] > five["ndcg_popularity"] + 0.05
    assert five["gain"] > five["gain_ci95"]  # the paired gain is significant
    ten = onboarding_benchmark(data, k=5, seed=0, max_questions=10)
    assert ten["answered_mean"] > five["answered_mean"]
    assert ten["ndcg_onboarding"] > ten["ndcg_popularity"] + 0.07
    popular = onboarding_benchmark(data, k=5, seed=0, questions="popular")
    assert five["gain"] > popular["gain"] + 0.03
