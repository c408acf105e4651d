"""Between Spark and latentrec models: import a ``pyspark.ml`` ALSModel, distributed top-N.

``from_spark_als`` turns Spark's factor tables into an ordinary
:class:`~latentrec.models.FactorModel` (optionally with the seen items of its training
ratings, which Spark's own ``recommendForAllUsers`` ignores).  ``recommend_all`` ships a
fitted model to the executors once (a broadcast) and runs the model's own
``recommend_batch`` on each batch of users, so the distributed top-N is the
single-machine top-N: seen items excluded, ties broken the same way, unknown users given
the popularity fallback.
"""

from __future__ import annotations

import numbers
from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.vocabulary import Vocabulary
from ..models import FactorModel
from ..models.catalog import Catalog
from ..models.persistence import estimated_rating_mean
from .session import interrupt_wins, session_conf


@interrupt_wins
def from_spark_als(
    als_model,
    *,
    ratings=None,
    rating_col: str = "rating",
    implicit: bool = False,
    unknown: str = "error",
) -> FactorModel:
    """A :class:`~latentrec.models.FactorModel` from a trained ``pyspark.ml`` ``ALSModel``.

    Ids are Spark's (integers); factors are Spark's as they are (no biases, μ = 0), so
    ``predict`` and every score equal Spark's ``transform`` up to float rounding.  Give
    ``ratings`` (a DataFrame with the model's user and item columns, e.g. its training
    data) to record the seen items, which ``recommend`` then excludes; without it nothing
    counts as seen, like Spark's ``recommendForAllUsers``.  A row of ``ratings`` whose
    user or item the model has no factors for (or a null id) cannot be recorded: it is
    refused with a ValueError that counts and names them, unless ``unknown="skip"`` says
    to leave such rows out.  ``implicit`` says the model was trained on implicit data
    (scores are preferences, not ratings).

    Spark's formula has no mean rating μ, so for explicit data the model also records
    the mean of the recorded ratings' ``rating_col`` (or, where ``ratings`` has no such
    column, the mean of the model's predictions of those cells): what ``predict(...,
    unknown="baseline")`` gives a user or item without factors, and what scores a
    stranger's popularity list, as for every other rating model.  Without ``ratings``
    no mean is known and that baseline is 0.  A row whose ``rating_col`` is missing,
    NaN or infinite (none Spark's ALS trains on) is refused with a ValueError.

    Example:
        >>> from pyspark.ml.recommendation import ALS  # doctest: +SKIP
        >>> spark_model = ALS(rank=8, seed=0).fit(ratings_df)  # doctest: +SKIP
        >>> model = from_spark_als(spark_model, ratings=ratings_df)  # doctest: +SKIP
        >>> model.recommend(12, n=5).ids  # doctest: +SKIP
        >>> model  # doctest: +SKIP
        FactorModel(source='pyspark.ml ALSModel', k=8, users=943, items=1682)
    """
    users, P = _factor_table(als_model.userFactors, als_model.rank, "user")
    items, Q = _factor_table(als_model.itemFactors, als_model.rank, "item")
    seen = mean = None
    if ratings is not None:
        user_col, item_col = als_model.getUserCol(), als_model.getItemCol()
        missing = [c for c in (user_col, item_col) if c not in ratings.columns]
        if missing:
            raise ValueError(f"ratings have no column(s) {missing}; they have {ratings.columns}")
        if unknown not in UNKNOWN:
            raise ValueError(f"unknown must be one of {UNKNOWN}, got {unknown!r}")
        values = not implicit and rating_col in ratings.columns
        if values:
            _check_numbers(ratings, rating_col)
        columns = [user_col, item_col] + ([rating_col] if values else [])
        pairs = _to_pandas(ratings.select(*columns).dropna(subset=[user_col, item_col]))
        nulls = ratings.count() - len(pairs) if unknown == "error" else 0
        u = users.lookup(pairs[user_col].to_numpy())
        i = items.lookup(pairs[item_col].to_numpy())
        known = (u >= 0) & (i >= 0)
        if unknown == "error" and (nulls or not known.all()):
            raise ValueError(
                _unknown_message(pairs[[user_col, item_col]], known, nulls, user_col, item_col)
            )
        seen = sp.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (u[known], i[known])),
            shape=(len(users), len(items)),
        )
        if values:
            # The ALS model has no μ: without the mean, a stranger was predicted 0 stars.
            given = pairs[rating_col].to_numpy(np.float64)[known]
            # A missing or NaN value was left out of the mean without a word, yet such a
            # row is none Spark trained on (its ALS fails on a null, and a NaN makes every
            # factor NaN): the ratings given are not the model's training ratings.
            bad = ~np.isfinite(given)
            if bad.any():
                first = pairs[[user_col, item_col]][known].iloc[int(np.flatnonzero(bad)[0])]
                user, item = (v.item() if isinstance(v, np.generic) else v for v in first)
                raise ValueError(
                    f"ratings have {_rows(int(bad.sum()))} whose {rating_col} is missing, "
                    f"NaN or infinite (the first: {user_col} {user!r}, {item_col} {item!r}); "
                    "Spark's ALS trains on no such row, so they are not the model's "
                    f"training ratings and their mean is not its mean: drop those rows, or "
                    f"give only the {user_col} and {item_col} columns"
                )
            mean = float(given.mean()) if given.size else None
    catalog = Catalog.from_ids(users, items, seen=seen, rating_mean=mean)
    model = FactorModel.from_factors(
        catalog, Q, P, predicts_ratings=not implicit, source="pyspark.ml ALSModel"
    )
    if mean is None and ratings is not None and not implicit:
        estimate = estimated_rating_mean(model)
        if estimate is not None:
            model = FactorModel.from_factors(
                replace(catalog, rating_mean=estimate),
                Q,
                P,
                predicts_ratings=True,
                source="pyspark.ml ALSModel",
            )
    return model


def _check_numbers(ratings, rating_col: str) -> None:
    from pyspark.sql.types import NumericType

    kind = ratings.schema[rating_col].dataType
    if not isinstance(kind, NumericType):
        raise ValueError(
            f"rating column {rating_col!r} holds {kind.simpleString()}, not numbers: cast "
            f"it (ratings.withColumn({rating_col!r}, ratings[{rating_col!r}].cast('float')))"
        )


UNKNOWN = ("error", "skip")


def _unknown_message(pairs, known, nulls: int, user_col: str, item_col: str) -> str:
    """What ``from_spark_als`` says of ratings it cannot record as seen."""
    parts = []
    bad = np.flatnonzero(~known)
    if bad.size:
        first = pairs.iloc[int(bad[0])]
        user, item = (v.item() if isinstance(v, np.generic) else v for v in first)
        parts.append(
            f"{_rows(bad.size)} whose {user_col} or {item_col} the ALS model has no factors "
            f"for (the first: {user_col} {user!r}, {item_col} {item!r})"
        )
    if nulls:
        parts.append(f"{_rows(nulls)} with a null {user_col} or {item_col}")
    return (
        f"ratings have {' and '.join(parts)}; they cannot be recorded as seen: give the "
        'model\'s training ratings, or unknown="skip" to leave those rows out'
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _factor_table(table, rank: int, name: str) -> tuple[Vocabulary, np.ndarray]:
    frame = _to_pandas(table.select("id", "features"))
    order = np.argsort(frame["id"].to_numpy(), kind="stable")
    ids = frame["id"].to_numpy()[order]
    features = frame["features"].to_numpy()[order]
    factors = np.zeros((ids.size, rank), np.float32)
    if ids.size:
        factors[:] = np.stack([np.asarray(f, np.float32) for f in features])
    return Vocabulary(ids.astype(np.int64), name), factors


@interrupt_wins
def recommend_all(model, users_df, n: int = 10, *, user_col: str = "user", path=None):
    """Top-``n`` of every user in ``users_df``, computed on the executors; seen items excluded.

    ``model`` is any fitted latentrec model (from :func:`latentrec.spark.fit_als`,
    :func:`from_spark_als` or a file); it is broadcast once and each task runs the
    model's own ``recommend_batch``, so the answer for every user is exactly
    ``model.recommend(user, n)``: items the user has seen never appear, and an unknown
    user gets the popularity fallback (a null user is refused; a pipeline's random
    slots are seeded by the user's id, so strangers differ there, and no list depends
    on which other users share its batch); a user listed more than once in
    ``users_df`` gets one list.  Returns a DataFrame with
    columns ``user``, ``rank`` (1 = best), ``item``, ``score`` and ``fallback`` (True on
    every row of a user who got the popularity list, as in the model's
    ``recommend_batch``: its scores are not a personal ranking).  With ``path`` the
    rows are written there as Parquet (Spark's writer: a folder of part files, published
    when the job commits), the model's broadcast is released, and the DataFrame returned
    reads the written files (using it computes nothing again).  Without ``path`` the
    DataFrame is computed each time it is used, so the broadcast stays until Spark's
    cleaner collects it after the DataFrame is gone.  A ``path`` that exists already is
    a ``FileExistsError``, before anything is computed.

    Example:
        >>> top = recommend_all(model, spark.createDataFrame([(1,), (2,)], "user long"),
        ...                     n=5, path="top5.parquet")  # doctest: +SKIP
        >>> top.columns  # doctest: +SKIP
        ['user', 'rank', 'item', 'score', 'fallback']
    """
    from pyspark.sql.types import (
        BooleanType,
        FloatType,
        IntegerType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if user_col not in users_df.columns:
        raise ValueError(f"users_df has no column {user_col!r}; it has {users_df.columns}")
    model.check_fitted()
    # One pass over the users here: a null id would fail the job on an executor (a Java
    # trace), and on the way to pandas it turns a 64-bit id column into floats.
    if users_df.where(users_df[user_col].isNull()).limit(1).count():
        raise ValueError(f"users_df has a null in its column {user_col!r}; drop it first")
    item_type = LongType() if model.catalog_.items.is_integer else StringType()
    schema = StructType(
        [
            StructField("user", users_df.schema[user_col].dataType),
            StructField("rank", IntegerType(), False),
            StructField("item", item_type, False),
            StructField("score", FloatType(), False),
            StructField("fallback", BooleanType(), False),
        ]
    )
    shared = users_df.sparkSession.sparkContext.broadcast(model)

    n = int(n)

    def top(batches):
        yield from top_n_batches(batches, shared.value, n, user_col)

    # Each user once: a column of users as the ratings hold them (a user per rating,
    # without .distinct()) gave every user's list once per rating, silently.
    out = users_df.select(user_col).distinct().mapInPandas(top, schema)
    if path is None:
        return out
    from pyspark.errors import AnalysisException

    try:
        out.write.mode("error").parquet(str(path))
    except AnalysisException as err:
        # Spark's words say to set a mode "overwrite" that this function does not take.
        if "PATH_ALREADY_EXISTS" not in str(err):
            raise
        raise FileExistsError(
            f"{path} exists already; recommend_all writes a new folder there and "
            "overwrites nothing: remove it or give another path"
        ) from None
    finally:
        shared.destroy()
    return users_df.sparkSession.read.parquet(str(path))


def top_n_batches(batches, model, n: int, user_col: str = "user"):
    """The rows of :func:`recommend_all` for a stream of pandas batches of users.

    What each task runs (one BLAS thread per task: Spark runs the tasks in parallel).

    Example:
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1, 2], ["a", "b", "c"]), np.eye(3, 2), np.eye(2))
        >>> out = next(top_n_batches([pd.DataFrame({"user": [2]})], m, n=2))
        >>> out.drop(columns="fallback").to_dict("list")
        {'user': [2, 2], 'rank': [1, 2], 'item': ['b', 'a'], 'score': [1.0, 0.0]}
        >>> out["fallback"].tolist()  # user 2 is known: a personal list
        [False, False]
    """
    from threadpoolctl import threadpool_limits

    for frame in batches:
        raw = frame[user_col].to_numpy()
        if raw.size == 0:
            continue
        with threadpool_limits(1):
            # By raw id, not index: a pipeline seeds each unknown user's random slots
            # (Explore, Thompson) by their id, as its recommend does, where index -1
            # gave every stranger in the batch the same list.
            table = model.recommend_batch(raw, n)
        yield pd.DataFrame(
            {
                "user": table["user_id"].to_numpy(),
                "rank": table["rank"].to_numpy().astype(np.int32),
                "item": table["item_id"].to_numpy(),
                "score": table["score"].to_numpy().astype(np.float32),
                # Without it a stranger's popularity list read as a personal ranking.
                "fallback": table["fallback"].to_numpy().astype(bool),
            }
        )


def _to_pandas(frame) -> pd.DataFrame:
    with session_conf(frame.sparkSession, {"spark.sql.execution.arrow.pyspark.enabled": "true"}):
        return frame.toPandas()
