"""recommend_all on the executors, and pyspark.ml ALSModels imported as latentrec models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import spark_support
from spark_support import sample_ratings

spark = spark_support.spark  # the shared session fixture

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def test_recommend_all_never_returns_a_seen_item_and_equals_recommend(spark, tmp_path):
    """Random data, dense users: the distributed top-n is each user's own recommend()."""
    from latentrec.spark import fit_als, recommend_all

    rng = np.random.default_rng(3)
    n_users, n_items = 40, 25
    mask = rng.random((n_users, n_items)) < 0.6  # most items seen: exclusion matters
    mask[:, 0] = True  # item 0 seen by all: the most popular, never recommended
    u, i = np.nonzero(mask)
    frame = pd.DataFrame(
        {"user": u.astype(np.int64) * 10, "item": [f"i{x}" for x in i],
         "rating": rng.integers(1, 6, u.size).astype(np.float32)}
    )  # fmt: skip
    df = spark.createDataFrame(frame)
    model = fit_als(df, n_factors=3, n_epochs=3, random_state=1)
    users = spark.createDataFrame([(int(x) * 10,) for x in range(n_users)] + [(-5,)], "user long")
    top = recommend_all(model, users, n=8, path=tmp_path / "top.parquet").toPandas()
    assert list(top.columns) == ["user", "rank", "item", "score", "fallback"]
    seen = set(zip(frame["user"], frame["item"], strict=True))
    assert not any((a, b) in seen for a, b in zip(top["user"], top["item"], strict=True))
    for user, rows in top[top["user"] >= 0].groupby("user"):
        want = model.recommend(user, n=8)
        assert rows.sort_values("rank")["item"].tolist() == want.ids.tolist()
        np.testing.assert_allclose(rows.sort_values("rank")["score"], want.scores, rtol=1e-6)
    # The unknown user gets the popularity fallback, as model.recommend would give it.
    assert top[top["user"] == -5]["item"].tolist() == model.recommend(-5, n=8).ids.tolist()
    # ... flagged on each of its rows, as the model's own recommend_batch flags it.
    local = model.recommend_batch(top["user"].unique(), n=8)
    by_user = top.groupby("user")["fallback"].agg(set).to_dict()
    assert by_user == local.groupby("user_id")["fallback"].agg(set).to_dict()
    assert by_user[-5] == {True} and all(v == {False} for u, v in by_user.items() if u != -5)
    written = pd.read_parquet(tmp_path / "top.parquet")
    assert len(written) == len(top)


def test_from_spark_als_scores_as_spark_and_excludes_what_spark_does_not(spark):
    from pyspark.ml.recommendation import ALS as SparkALS

    from latentrec.spark import from_spark_als

    frame = sample_ratings()
    df = spark.createDataFrame(frame, "user int, item int, rating float")
    als_model = SparkALS(rank=5, maxIter=4, regParam=0.1, seed=3).fit(df)
    theirs = {
        row["user"]: row["recommendations"] for row in als_model.recommendForAllUsers(5).collect()
    }
    plain = from_spark_als(als_model)
    for user, recs in theirs.items():
        got = plain.recommend(user, n=5)
        np.testing.assert_allclose(got.scores, [r["rating"] for r in recs], rtol=1e-5, atol=1e-5)
        assert set(got.ids.tolist()) == {r["item"] for r in recs}
    # Spark's include items the user rated; with the ratings, latentrec's never do.
    seen = set(zip(frame["user"], frame["item"], strict=True))
    spark_seen = sum((u, r["item"]) in seen for u, recs in theirs.items() for r in recs)
    assert spark_seen > 0
    model = from_spark_als(als_model, ratings=df)
    assert model.catalog_.seen.nnz == len(frame)
    for user in theirs:
        assert not {(user, item) for item in model.recommend(user, n=5).ids.tolist()} & seen
    predicted = als_model.transform(df).toPandas()
    np.testing.assert_allclose(
        model.predict(predicted["user"], predicted["item"]), predicted["prediction"], rtol=1e-5
    )


def test_recommend_all_names_a_null_user_instead_of_a_java_error(spark):
    """A null in the users' column is refused on the driver; before, the job failed on an
    executor with Java's "Value at index is null" inside a Py4JJavaError."""
    from latentrec.models import FactorModel
    from latentrec.spark import recommend_all

    big = 2**60  # 64-bit ids: a null must not turn the column into floats either
    model = FactorModel.from_factors(([big, big + 1], ["a", "b", "c"]), np.eye(3, 2), np.eye(2))
    users = spark.createDataFrame([(big + 1,), (None,)], "id long")
    with pytest.raises(ValueError, match="users_df has a null in its column 'id'"):
        recommend_all(model, users, n=1, user_col="id")
    top = recommend_all(model, users.dropna(), n=1, user_col="id").collect()
    assert [(r["user"], r["item"]) for r in top] == [(big + 1, "b")]


def test_from_spark_als_keeps_ids_that_are_not_0_to_n(spark):
    """Sparse, unordered ids: every factor row stays with its own id (Spark's transform
    equals predict) and the seen items are those of the right users."""
    from pyspark.ml.recommendation import ALS as SparkALS

    from latentrec.spark import from_spark_als

    rows = [(100, 7, 4.0), (5, 7, 3.0), (5, 300, 1.0), (100, 300, 2.0), (42, 9, 5.0)]
    df = spark.createDataFrame(rows, "user int, item int, rating float")
    als_model = SparkALS(rank=2, maxIter=3, regParam=0.1, seed=0).fit(df)
    model = from_spark_als(als_model, ratings=df)
    assert model.catalog_.users.ids.tolist() == [5, 42, 100]
    assert model.catalog_.items.ids.tolist() == [7, 9, 300]
    predicted = als_model.transform(df).toPandas()
    np.testing.assert_allclose(
        model.predict(predicted["user"], predicted["item"]), predicted["prediction"], rtol=1e-5
    )
    assert model.recommend(5, n=3).ids.tolist() == [9]
    assert sorted(model.recommend(42, n=3).ids.tolist()) == [7, 300]


def test_from_spark_als_names_ratings_it_cannot_record_as_seen(spark):
    """Ratings of a user or item the ALS model has no factors for were left out of the
    seen items without a word; now they are counted and named, or skipped on request."""
    from pyspark.ml.recommendation import ALS as SparkALS

    from latentrec.spark import from_spark_als

    rows = [(1, 7, 4.0), (2, 7, 3.0), (2, 8, 1.0), (1, 9, 2.0)]
    schema = "user int, item int, rating float"
    als_model = SparkALS(rank=2, maxIter=2, regParam=0.1, seed=0).fit(
        spark.createDataFrame(rows, schema)
    )
    later = spark.createDataFrame(rows + [(3, 7, 5.0), (1, 10, 1.0), (None, 8, 2.0)], schema)
    with pytest.raises(ValueError) as err:
        from_spark_als(als_model, ratings=later)
    assert str(err.value).startswith(
        "ratings have 2 rows whose user or item the ALS model has no factors for "
        "(the first: user 3, item 7) and 1 row with a null user or item; they cannot"
    )
    model = from_spark_als(als_model, ratings=later, unknown="skip")
    assert model.catalog_.seen.nnz == len(rows)
    assert model.recommend(1, n=3).ids.tolist() == [8]
    with pytest.raises(ValueError, match="unknown must be one of"):
        from_spark_als(als_model, ratings=later, unknown="drop")


def test_recommend_all_to_a_path_releases_its_broadcast(spark, tmp_path, monkeypatch):
    """Written to Parquet, the model's broadcast is destroyed (before, every call left a
    copy of the model on the driver and each executor until the cleaner ran) and the
    rows returned are the written ones."""
    import os

    from pyspark import SparkContext

    from latentrec.models import FactorModel
    from latentrec.spark import recommend_all

    made = []
    original = SparkContext.broadcast

    def recording(self, value):
        made.append(original(self, value))
        return made[-1]

    monkeypatch.setattr(SparkContext, "broadcast", recording)
    model = FactorModel.from_factors(([1, 2], ["a", "b", "c"]), np.eye(3, 2), np.eye(2))
    users = spark.createDataFrame([(1,), (2,)], "user long")
    top = recommend_all(model, users, n=2, path=tmp_path / "top.parquet")
    assert len(made) == 1 and not os.path.exists(made[0]._path)
    got = top.orderBy("user", "rank").toPandas()
    want = [model.recommend(u, n=2).ids.tolist() for u in (1, 2)]
    assert got["item"].tolist() == want[0] + want[1] == ["a", "b", "b", "a"]
    assert got["rank"].tolist() == [1, 2, 1, 2]
    lazy = recommend_all(model, users, n=1)  # no path: computed when used
    assert sorted(r["item"] for r in lazy.collect()) == ["a", "b"]
    # Users as the ratings list them, once per rating: one list each, not one per rating.
    repeated = spark.createDataFrame([(1,), (2,), (1,), (1,)], "user long")
    rows = recommend_all(model, repeated, n=2).orderBy("user", "rank").toPandas()
    assert rows["user"].tolist() == [1, 1, 2, 2]


def test_recommend_all_to_a_path_that_exists_says_so(spark, tmp_path):
    """Spark's refusal told the caller to set a mode "overwrite" that recommend_all does
    not take; the path is named, and what was there is left as it was."""
    from latentrec.models import FactorModel
    from latentrec.spark import recommend_all

    model = FactorModel.from_factors(([1, 2], ["a", "b", "c"]), np.eye(3, 2), np.eye(2))
    users = spark.createDataFrame([(1,), (2,)], "user long")
    path = tmp_path / "top.parquet"
    recommend_all(model, users, n=1, path=path)
    before = sorted(p.name for p in path.iterdir())
    with pytest.raises(FileExistsError, match=f"{path} exists already; recommend_all writes"):
        recommend_all(model, users, n=2, path=path)
    assert sorted(p.name for p in path.iterdir()) == before


def test_an_imported_als_model_says_what_it_is(spark):
    """A model imported from Spark printed as 'FactorModel()': nothing of where it came
    from or what it holds.  Its repr now names the source, k and the numbers of users and
    items (a ranking model's says so too), and a saved copy keeps the source."""
    from pyspark.ml.recommendation import ALS as SparkALS

    from latentrec.spark import from_spark_als

    frame = sample_ratings()
    df = spark.createDataFrame(frame, "user int, item int, rating float")
    als_model = SparkALS(rank=4, maxIter=2, seed=0).fit(df)
    model = from_spark_als(als_model)
    users, items = frame["user"].nunique(), frame["item"].nunique()
    assert repr(model) == (
        f"FactorModel(source='pyspark.ml ALSModel', k=4, users={users}, items={items})"
    )
    implicit = from_spark_als(als_model, implicit=True)
    assert repr(implicit).endswith(f"items={items}, predicts_ratings=False)")


def _exploring_pipeline():
    from conftest import random_ratings

    from latentrec.models import BiasedMF
    from latentrec.pipeline import Explore, Pipeline

    data = random_ratings()
    model = BiasedMF(n_factors=3, n_epochs=5, random_state=0)
    return Pipeline(model, rerankers=[Explore(share=0.5, random_state=0)]).fit(data), data


def test_each_stranger_gets_their_own_exploration_slots_whoever_shares_the_batch():
    """The executors ran recommend_batch_idx, where an unknown user is index -1: every
    stranger in a batch got the same exploration slots, unlike pipe.recommend(id),
    which seeds them by the id.  Now each list is the user's own recommend, whoever
    else is in the batch."""
    from latentrec.spark.interop import top_n_batches

    pipe, data = _exploring_pipeline()
    strangers = ["x", "y", "z", "w"]
    known = data.users.ids[0]

    def lists(users):
        out = next(top_n_batches([pd.DataFrame({"user": users})], pipe, n=6))
        return {u: rows.sort_values("rank")["item"].tolist() for u, rows in out.groupby("user")}

    together = lists([*strangers, known])
    for user in [*strangers, known]:
        assert together[user] == pipe.recommend(user, n=6).ids.tolist()
        assert lists([user]) == {user: together[user]}
    assert len({tuple(together[s]) for s in strangers}) > 1


def test_recommend_all_with_a_pipeline_answers_each_stranger_as_recommend_does(spark):
    from latentrec.spark import recommend_all

    pipe, _ = _exploring_pipeline()
    users = spark.createDataFrame([("x",), ("y",), ("z",)], "user string")
    top = recommend_all(pipe, users, n=6).toPandas()
    for user, rows in top.groupby("user"):
        assert rows.sort_values("rank")["item"].tolist() == pipe.recommend(user, n=6).ids.tolist()


def test_an_imported_rating_model_predicts_the_training_mean_for_a_stranger(spark, tmp_path):
    """Spark's factors have no μ, and the import recorded no training mean: a user or item
    it has no factors for was predicted 0.0 stars (``unknown="baseline"``) and a
    stranger's fallback list scored 0.0, where every other rating model gives its
    training mean.  With the ratings it is their mean (from the rating column, else
    estimated from the model's predictions of the rated cells), kept by a saved copy."""
    from pyspark.ml.recommendation import ALS as SparkALS

    import latentrec
    from latentrec.spark import from_spark_als

    frame = sample_ratings()
    df = spark.createDataFrame(frame, "user int, item int, rating float")
    als_model = SparkALS(rank=4, maxIter=3, regParam=0.1, seed=0).fit(df)
    mean = float(frame["rating"].astype(np.float64).mean())
    model = from_spark_als(als_model, ratings=df)
    assert model.rating_mean_ == pytest.approx(mean, rel=1e-6)
    path = tmp_path / "imported.npz"
    model.save(path)
    for m in (model, latentrec.load(path)):
        got = m.predict([-1, frame["user"][0]], [frame["item"][0], -1], unknown="baseline")
        np.testing.assert_allclose(got, [mean, mean], rtol=1e-6)
        stranger = m.recommend(-1, n=3)
        assert stranger.fallback
        np.testing.assert_allclose(stranger.scores, mean, rtol=1e-6)
        # What Spark predicts stays Spark's own (μ = 0 in the formula).
        predicted = als_model.transform(df.limit(20)).toPandas()
        np.testing.assert_allclose(
            m.predict(predicted["user"], predicted["item"]), predicted["prediction"], rtol=1e-5
        )
    # Ratings without their values (seen pairs only): the mean of what the model
    # predicts for the rated cells, which a least-squares fit puts near the true mean.
    pairs_only = from_spark_als(als_model, ratings=df.select("user", "item"))
    predicted = als_model.transform(df).toPandas()["prediction"].to_numpy(np.float64)
    assert pairs_only.rating_mean_ == pytest.approx(predicted.mean(), rel=1e-5)
    assert abs(pairs_only.rating_mean_ - mean) < 0.1
    # Implicit data has no rating scale: nothing is recorded, scores stay preferences.
    assert from_spark_als(als_model, ratings=df, implicit=True).rating_mean_ is None
    # A rating column that does not hold numbers is named, as fit_als names it.
    texts = df.withColumn("rating", df["rating"].cast("string"))
    with pytest.raises(ValueError, match="rating column 'rating' holds string"):
        from_spark_als(als_model, ratings=texts)


def test_an_import_refuses_ratings_whose_values_spark_could_not_have_trained_on(spark):
    """A row of ``ratings`` with a missing or NaN rating was recorded as seen and left out
    of the recorded mean without a word: such a row is none Spark's ALS trains on (a null
    fails its fit, a NaN makes every factor NaN), so the mean recorded was not that of
    the model's training ratings.  It is refused, naming the first such row."""
    from pyspark.ml.recommendation import ALS as SparkALS

    from latentrec.spark import from_spark_als

    rows = [(1, 10, 4.0), (1, 11, 2.0), (2, 10, 5.0), (2, 12, 1.0), (3, 11, 3.0)]
    df = spark.createDataFrame(rows, "user int, item int, rating double")
    als_model = SparkALS(rank=2, maxIter=2, regParam=0.1, seed=0).fit(df)
    assert from_spark_als(als_model, ratings=df).rating_mean_ == pytest.approx(3.0)
    for bad in (None, float("nan")):
        extra = spark.createDataFrame([(3, 12, bad)], "user int, item int, rating double")
        with pytest.raises(ValueError, match=r"1 row whose rating is missing, NaN or infinite "
                           r"\(the first: user 3, item 12\)"):  # fmt: skip
            from_spark_als(als_model, ratings=df.unionByName(extra))
    # The pairs alone (no values) are still taken: the mean is then estimated.
    assert from_spark_als(als_model, ratings=df.select("user", "item")).rating_mean_ is not None
