"""fit_als against Spark's own ALS, against the single-machine models, and on bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import spark_support
from spark_support import sample_ratings

from latentrec import Interactions
from latentrec.models import ALS, ImplicitALS

spark = spark_support.spark  # the shared session fixture

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

ITERATIONS = 5
RANK = 4


def by_id(model, side):
    """{raw id: factor row} of a model's users or items."""
    vocab = model.catalog_.users if side == "user" else model.catalog_.items
    factors = model.user_factors_ if side == "user" else model.item_factors_
    return dict(zip(vocab.ids.tolist(), factors, strict=True))


# About 35 s each on 2 cores (two Spark fits a side): in make test-all, with the slow
# checks; test_same_model_as_single_machine_als_and_implicit_als stays in the default run.
@pytest.mark.slow
@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_reproduces_spark_als_from_sparks_initial_factors(spark, implicit):
    """Same data, rank, λ, α, iterations and initial factors: Spark's factors, to 1e-4.

    Spark's initial user factors are those of an ALSModel fitted with maxIter=0 and the
    same seed and blocks (its item half-step comes first, so its initial item factors are
    never used); fit_als starts from them with objective="spark-ml".  Compared: every user
    and item factor after 5 iterations (10 half-steps) and the prediction of every rated
    cell, within 1e-4 absolute + 1e-3 relative (float32 factors, float64 solves on both
    sides).
    """
    from pyspark.ml.recommendation import ALS as SparkALS

    from latentrec.spark import fit_als, from_spark_als

    frame = sample_ratings()
    df = spark.createDataFrame(frame, "user int, item int, rating float")
    params = dict(
        rank=RANK, regParam=0.1, alpha=0.5, implicitPrefs=implicit, seed=11,
        numUserBlocks=2, numItemBlocks=2,
    )  # fmt: skip
    start = SparkALS(maxIter=0, **params).fit(df)
    theirs = from_spark_als(SparkALS(maxIter=ITERATIONS, **params).fit(df), implicit=implicit)
    ours = fit_als(
        df,
        implicit=implicit,
        n_factors=RANK,
        n_epochs=ITERATIONS,
        regularization=0.1,
        alpha=0.5,
        objective="spark-ml",
        init=from_spark_als(start),
    )
    moved = 0.0
    for side in ("user", "item"):
        mine, spark_rows = by_id(ours, side), by_id(theirs, side)
        assert mine.keys() == spark_rows.keys()
        for key, row in spark_rows.items():
            np.testing.assert_allclose(mine[key], row, rtol=1e-3, atol=1e-4)
    first = by_id(from_spark_als(start), "user")
    moved = max(np.abs(first[u] - row).max() for u, row in by_id(theirs, "user").items())
    assert moved > 0.1  # the comparison is after real work, not of the starting point
    users, items = frame["user"].to_numpy(), frame["item"].to_numpy()
    got = ours.score_users(ours.catalog_.users.index(users))[
        np.arange(len(frame)), ours.catalog_.items.index(items)
    ]
    want = theirs.score_users(theirs.catalog_.users.index(users))[
        np.arange(len(frame)), theirs.catalog_.items.index(items)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def random_frame(seed=0, n_users=50, n_items=30, density=0.25):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(mask)
    return pd.DataFrame(
        {
            "user": [f"user-{x:03d}" for x in u],  # strings: indexed for the user
            "item": (i * 7_000_000_000).astype(np.int64),  # beyond 32 bits
            "rating": rng.integers(1, 6, u.size).astype(np.float32),
        }
    )


def test_same_model_as_single_machine_als_and_implicit_als(spark):
    """objective="latentrec" is ALS / ImplicitALS(cholesky, linear) on a cluster: same factors."""
    from latentrec.spark import fit_als

    frame = random_frame()
    df = spark.createDataFrame(frame)
    data = Interactions.from_frame(frame, "user", "item", "rating")
    ours = fit_als(df, n_factors=3, n_epochs=4, regularization=0.1, random_state=5)
    ref = ALS(n_factors=3, n_epochs=4, regularization=0.1, random_state=5).fit(data)
    assert ours.catalog_.users == ref.catalog_.users and ours.catalog_.items == ref.catalog_.items
    assert (ours.catalog_.seen != ref.catalog_.seen).nnz == 0
    assert ours.global_mean_ == pytest.approx(ref.global_mean_, abs=1e-6)
    # The catalogue records the training mean (test_explicit_fits_record_the_training_mean).
    assert ours.rating_mean_ == pytest.approx(frame.rating.astype(np.float64).mean(), rel=1e-6)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), atol=1e-4)
    assert (
        ours.recommend("user-007", n=5).ids.tolist() == ref.recommend("user-007", n=5).ids.tolist()
    )
    # The catalogue records what the local one records of its training data (before, the
    # kind, the range and the shape were unknown): explicit ratings, the range a fold-in
    # is held to, and the trained shape.
    for name in ("implicit", "rating_range", "trained_shape"):
        assert getattr(ours.catalog_, name) == getattr(ref.catalog_, name), name
    assert ours.catalog_.rating_range == (1.0, 5.0)
    # So a fold-in refuses a 9 on a model that saw 1-5 stars, as the local model does
    # (it folded the 9 in, off the scale of every prediction).
    for model in (ours, ref):
        with pytest.raises(ValueError, match="range of its training ratings"):
            model.fold_in({frame.item[0]: 9.0})

    ours = fit_als(df, implicit=True, n_factors=3, n_epochs=4, regularization=2.0, alpha=0.5,
                   random_state=5)  # fmt: skip
    ref = ImplicitALS(
        n_factors=3, n_epochs=4, regularization=2.0, alpha=0.5, confidence="linear",
        solver="cholesky", random_state=5,
    ).fit(data)  # fmt: skip
    assert not ours.predicts_ratings
    for name in ("user_factors_", "item_factors_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), atol=1e-4)
    # Implicit strengths have no training mean, and the repr says it ranks only.
    assert ours.rating_mean_ is None
    # Strengths may be plays or stars (the local reference read stars): kind unknown.
    assert ours.catalog_.implicit is None
    assert ours.catalog_.trained_shape == ref.catalog_.trained_shape
    assert "predicts_ratings=False" in repr(ours)


def test_explicit_fits_record_the_training_mean(spark):
    """The catalogue records the mean of explicit ratings, as Catalog.from_data does: a
    "spark-ml" fit has no μ, so an unknown user's prediction is that mean, not 0.  (The
    "latentrec" objective's mean and an implicit fit's None are checked on the fits of
    test_same_model_as_single_machine_als_and_implicit_als.)"""
    from latentrec.spark import fit_als

    frame = random_frame(seed=1)
    df = spark.createDataFrame(frame)
    mean = float(frame.rating.astype(np.float64).mean())
    model = fit_als(df, n_factors=2, n_epochs=2, objective="spark-ml", random_state=0)
    assert model.rating_mean_ == pytest.approx(mean, rel=1e-6)
    assert model.global_mean_ == 0.0
    guess = model.predict(["nobody"], [frame.item[0]], unknown="baseline")[0]
    assert guess == pytest.approx(mean, rel=1e-6)
    # It says where it came from, as an imported ALSModel does.
    assert repr(model).startswith("FactorModel(source='latentrec.spark.fit_als', k=2")


def test_bad_input_is_named(spark):
    from latentrec.spark import fit_als

    df = spark.createDataFrame(
        [("a", 1, 4.0), ("a", 1, 5.0), ("b", 2, 3.0)], "user string, item long, rating double"
    )
    with pytest.raises(ValueError, match=r"user 'a' rated item 1 2 times"):
        fit_als(df, n_epochs=1)
    merged = fit_als(df, n_factors=2, n_epochs=1, duplicates="mean", random_state=0)
    assert merged.catalog_.seen.nnz == 2
    with pytest.raises(ValueError, match="no column"):
        fit_als(df, rating_col="stars")
    bad = spark.createDataFrame([("a", 1, None)], "user string, item long, rating double")
    with pytest.raises(ValueError, match="user='a', item=1, rating=None"):
        fit_als(bad)
    negative = spark.createDataFrame([("a", 1, -2.0)], "user string, item long, rating double")
    with pytest.raises(ValueError, match="negative"):
        fit_als(negative, implicit=True)


@pytest.mark.slow
@pytest.mark.network
def test_movielens_100k_rmse_matches_single_machine_als(spark):
    """Held-out RMSE on MovieLens-100K within 0.01 of ALS with the same settings."""
    from latentrec.data import splits
    from latentrec.datasets import movielens
    from latentrec.spark import fit_als

    train, test = splits.random_split(movielens("100k"), 0.2, random_state=0)
    m = train.matrix.tocoo()
    frame = pd.DataFrame(
        {"user": train.users.ids[m.row], "item": train.items.ids[m.col], "rating": m.data}
    )
    settings = dict(n_factors=20, n_epochs=6, regularization=0.1, random_state=0)
    ours = fit_als(spark.createDataFrame(frame), **settings)
    ref = ALS(**settings).fit(train)
    t = test.matrix.tocoo()
    users, items = test.users.ids[t.row], test.items.ids[t.col]

    def rmse(model):
        # By raw id: the Spark model's vocabularies hold only ids with training cells
        # (-1, an unknown id, is predicted from the baseline part).
        cat = model.catalog_
        pred = model.predict_idx(cat.users.lookup(users), cat.items.lookup(items))
        return float(np.sqrt(np.mean((pred - t.data) ** 2)))

    # The same RMSE by raw id for both models.
    assert abs(rmse(ours) - rmse(ref)) < 0.01
    assert rmse(ours) < 1.0
