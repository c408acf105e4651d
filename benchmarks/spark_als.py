"""latentrec.spark.fit_als against pyspark.ml ALS on the same Spark, side by side in one run.

Data: ``--ratings`` synthetic ratings (default 10M) over ``ratings / 100`` users and
``ratings / 1000`` items (ML-10M's shape: 100 ratings a user), item popularity falling
off like a power law, stars 1-5 from a planted rank-5 model; written to Parquet in a
temporary folder and read back by Spark, so neither engine gets data from the driver.

For each mode (explicit, implicit) and engine, with the same rank, λ, alpha and number
of iterations:

* setup: the fit's time outside the iterations (indexing, grouping, caching);
* per iteration: latentrec records each iteration's wall time (both half-steps, the
  broadcasts and the collection of the factors); for Spark, whose ALS does not report
  it, the time of a fit with ``maxIter=N`` minus one with ``maxIter=0`` (same seed),
  divided by N;
* seen in top-10: over ``--sample-users`` random users, how many of the top-10 items each
  engine recommends are items the user rated in training (Spark's
  ``recommendForUserSubset``; latentrec's ``recommend_all``), joined in Spark.

Both engines first fit a 20k-rating warm-up set, so neither pays one-off start-up costs
(JIT compilation of the kernels in the Python workers, JVM class loading) in the figures.
latentrec fits ``objective="latentrec"`` (explicit: with biases, as ``ALS``; implicit:
λ not scaled by counts, as ``ImplicitALS``); both solve every row exactly (Cholesky).

    .venv/bin/python benchmarks/spark_als.py                       # 10M, local[2]
    .venv/bin/python benchmarks/spark_als.py --ratings 1e6 --iterations 2
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from latentrec.spark import fit_als, recommend_all, spark_session


def synthetic(n_ratings: int, seed: int = 0):
    """(user int32, item int32, rating float32) arrays of unique pairs."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(10, n_ratings // 100), max(10, n_ratings // 1000)
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.8
    weights /= weights.sum()
    draw = int(n_ratings * 1.15)
    u = rng.integers(0, n_users, draw, dtype=np.int64)
    i = rng.choice(n_items, draw, p=weights)
    key = np.unique(u * n_items + i)
    key = rng.permutation(key)[:n_ratings]
    u, i = (key // n_items).astype(np.int32), (key % n_items).astype(np.int32)
    P = rng.normal(0, 1, (n_users, 5)).astype(np.float32)
    Q = rng.normal(0, 1, (n_items, 5)).astype(np.float32)
    r = np.empty(u.size, np.float32)
    for s in range(0, u.size, 1 << 20):
        e = s + (1 << 20)
        dot = np.einsum("ij,ij->i", P[u[s:e]], Q[i[s:e]]) / np.sqrt(5)
        r[s:e] = np.clip(np.round(3 + dot + rng.normal(0, 0.5, dot.size)), 1, 5)
    return u, i, r


def write_parquet(path, u, i, r) -> None:
    table = pa.table({"user": u, "item": i, "rating": r})
    pq.write_table(table, path, row_group_size=1 << 20)


def spark_als(spark_df, rank, iterations, reg, alpha, implicit):
    from pyspark.ml.recommendation import ALS

    als = ALS(
        rank=rank,
        maxIter=iterations,
        regParam=reg,
        alpha=alpha,
        implicitPrefs=implicit,
        seed=0,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
    )
    start = time.perf_counter()
    model = als.fit(spark_df)
    return model, time.perf_counter() - start


def seen_in_top10(spark, ratings, recs) -> tuple[int, int]:
    """(seen items among the recommendations, recommendations) by a join in Spark."""
    total = recs.count()
    seen = recs.join(ratings.select("user", "item"), ["user", "item"]).count()
    return seen, total


def run_mode(spark, df, args, implicit: bool, users):
    from pyspark.sql import functions as F

    mode = "implicit" if implicit else "explicit"
    reg = args.regularization
    rows = []
    # latentrec
    start = time.perf_counter()
    ours = fit_als(
        df,
        implicit=implicit,
        n_factors=args.rank,
        n_epochs=args.iterations,
        regularization=reg,
        alpha=args.alpha,
        random_state=0,
    )
    total = time.perf_counter() - start
    per_iter = ours.metrics_["spark_iteration_seconds"]
    ours_recs = recommend_all(ours, users, n=10)
    seen, count = seen_in_top10(spark, df, ours_recs)
    rows.append(
        (mode, "latentrec.spark.fit_als", ours.metrics_["spark_setup_seconds"],
         float(np.mean(per_iter)), total, seen, count)
    )  # fmt: skip
    # pyspark.ml
    _, t0 = spark_als(df, args.rank, 0, reg, args.alpha, implicit)
    theirs, tn = spark_als(df, args.rank, args.iterations, reg, args.alpha, implicit)
    recs = theirs.recommendForUserSubset(users, 10)
    recs = recs.select("user", F.explode("recommendations").alias("r")).select(
        "user", F.col("r.item").alias("item")
    )
    seen, count = seen_in_top10(spark, df, recs)
    rows.append(
        (mode, "pyspark.ml ALS", t0, (tn - t0) / args.iterations, tn, seen, count)
    )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=float, default=1e7)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--regularization", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--modes", default="explicit,implicit")
    parser.add_argument("--sample-users", type=int, default=1000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")

    n = int(args.ratings)
    load_start = os.getloadavg()
    tick = time.perf_counter()
    u, i, r = synthetic(n)
    print(f"{n:,} ratings, {u.max() + 1:,} users x {i.max() + 1:,} items "
          f"generated in {time.perf_counter() - tick:.1f}s", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ratings.parquet")
        write_parquet(path, u, i, r)
        warm = os.path.join(tmp, "warm.parquet")
        write_parquet(warm, *synthetic(20_000, seed=1))
        rng = np.random.default_rng(1)
        sample = np.unique(rng.choice(u, args.sample_users))
        del u, i, r
        spark = spark_session(args.master, driver_memory=args.driver_memory)
        spark.sparkContext.setLogLevel("ERROR")
        try:
            df = spark.read.parquet(path).cache()
            df.count()
            users = spark.createDataFrame([(int(x),) for x in sample], "user int")
            warm_df = spark.read.parquet(warm)
            rows = []
            for implicit in (m == "implicit" for m in args.modes.split(",")):
                fit_als(warm_df, implicit=implicit, n_factors=args.rank, n_epochs=1)
                spark_als(warm_df, args.rank, 1, 0.1, 1.0, implicit)
                rows += run_mode(spark, df, args, implicit, users)
                print(rows[-2:], flush=True)
        finally:
            spark.stop()
    print()
    print(f"{n:,} ratings, rank {args.rank}, {args.iterations} iterations, λ "
          f"{args.regularization}, alpha {args.alpha}, {args.master}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")  # fmt: skip
    loads = (load_start, os.getloadavg())
    print("load average (1, 5, 15 min) at start {:.1f} {:.1f} {:.1f}, at end {:.1f} {:.1f} {:.1f}"
          .format(*loads[0], *loads[1]))  # fmt: skip
    print()
    print("| mode | engine | setup s | s / iteration | whole fit s | seen in top-10 |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for mode, engine, setup, per, total, seen, count in rows:
        print(f"| {mode} | {engine} | {setup:.1f} | {per:.1f} | {total:.1f} | "
              f"{seen:,} of {count:,} ({seen / max(count, 1):.0%}) |")  # fmt: skip


if __name__ == "__main__":
    main()
