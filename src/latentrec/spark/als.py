"""``fit_als``: explicit and implicit ALS on a Spark DataFrame, returned as a ``FactorModel``.

The driver holds only what becomes the model: the id vocabularies, the two factor
matrices (and biases) and, at the end, the seen-items index pairs of the catalogue.
Ratings stay on the executors, grouped once by user and once by item and cached as CSR
blocks of whole rows (an RDD of numpy buffers, Spark's in/out blocks in spirit).  A
half-step broadcasts the fixed side's factors (and, for implicit steps, ``YᵀY``, computed
once on the driver), runs :func:`latentrec.spark.rows.solve_blocks` over the cached
blocks in ``mapPartitions``, and collects the solved rows as one array triple per block.

Integer ids (64-bit included) and string ids, as :class:`latentrec.Interactions` takes,
are indexed by sorting the distinct ids and numbering them with ``zipWithIndex`` on the
executors, so the id map is never shipped from the driver to the cluster; only the
vocabulary comes back to the driver, as the model needs it.  Sorted ids give the same
indices as :class:`latentrec.Interactions`, so with the same ``random_state`` the fit
starts from the same factors as the single-machine :class:`latentrec.models.ALS` /
:class:`latentrec.models.ImplicitALS`.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from ..errors import needs_extra
from ..kernels.implicit_als import gram
from ..models import FactorModel
from ..models.catalog import Catalog
from .rows import BLOCK_SCHEMA, COL, ROW, VALUE, HalfStep, block_batches, solve_blocks, unpack_block
from .session import interrupt_wins, session_conf

OBJECTIVES = ("latentrec", "spark-ml")
DUPLICATES = ("error", "mean", "sum")


class RepeatedPairError(ValueError):
    """``fit_als(duplicates="error")`` met a (user, item) pair more than once.

    ``user``, ``item`` and ``times`` say which and how often; ``where`` (optional) says
    where in the input, for a caller that knows its files (the CLI names the lines).

    Example:
        >>> str(RepeatedPairError(1, 7, 2, where="lines 2 and 3 of r.csv"))  # doctest: +ELLIPSIS
        "user 1 rated item 7 2 times (lines 2 and 3 of r.csv); pass duplicates='mean' or ..."
    """

    def __init__(self, user, item, times: int, where: str | None = None):
        self.user, self.item, self.times, self.where = user, item, times, where
        at = f" ({where})" if where else ""
        super().__init__(
            f"user {user!r} rated item {item!r} {times} times{at}; pass "
            # The keyword and the flag, as the local reader words it.
            "duplicates='mean' or 'sum' to merge repeated pairs (--duplicates mean or sum; "
            "Spark's rows have no order, so the local engine's 'last' cannot be offered)"
        )


ARROW_BATCH = "spark.sql.execution.arrow.maxRecordsPerBatch"
#: Arrow batch size when the ratings are cut into blocks, once per fit (Spark's default
#: of 10,000 rows costs a Python round trip per 10,000 ratings).
BATCH_ROWS = 100_000


@interrupt_wins
def fit_als(
    df,
    *,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str = "rating",
    implicit: bool = False,
    n_factors: int = 10,
    n_epochs: int = 10,
    regularization: float = 0.1,
    bias_regularization: float | None = None,
    alpha: float = 1.0,
    objective: str = "latentrec",
    duplicates: str = "error",
    init: FactorModel | None = None,
    num_partitions: int | None = None,
    random_state=None,
    verbose: bool = False,
) -> FactorModel:
    """Fit ALS on a Spark DataFrame of ratings; each half-step runs latentrec's row solver.

    ``df`` has a user, an item and a rating column (integer or string ids).  Each
    iteration solves every item against the fixed users, then every user against the
    fixed items, as :class:`latentrec.models.ALS` does.

    ``objective="latentrec"`` (default) minimises what the single-machine models do:

    * explicit: ``Σ (r − μ − b_u − b_i − p_u·q_i)² + Σ_u n_u (λ‖p_u‖² + λ_b b_u²) + Σ_i n_i
      (λ‖q_i‖² + λ_b b_i²)``, μ the mean rating, as :class:`~latentrec.models.ALS`;
      with the same settings and ``random_state`` it starts from the same factors and
      gives the same model up to float rounding;
    * implicit: Hu, Koren & Volinsky's ``Σ c_ui (p_ui − x_u·y_i)² + λ(‖X‖² + ‖Y‖²)``
      with ``c = 1 + alpha·r`` over every cell, solved exactly (Cholesky), as
      ``ImplicitALS(solver="cholesky", confidence="linear")``.

    ``objective="spark-ml"`` minimises what ``pyspark.ml.recommendation.ALS`` does: no
    biases and λ multiplied by each row's number of (positive) ratings, also for
    implicit data; cells of value 0 then carry no preference and are left out, as Spark
    does.  With Spark's initial factors (``init=from_spark_als(als_with_maxIter_0)``) it
    reproduces Spark's factors.

    Args:
        df: a ``pyspark.sql.DataFrame``.
        user_col, item_col, rating_col: its columns.
        implicit: ratings are interaction strengths (>= 0), not stars.
        n_factors, n_epochs: k and the number of iterations (0: the initial factors).
        regularization: λ; bias_regularization: λ_b (explicit, default λ).
        alpha: confidence slope of implicit data.
        objective: ``"latentrec"`` or ``"spark-ml"`` (above).
        duplicates: repeated (user, item) pairs: ``"error"``, ``"mean"`` or ``"sum"``.
        init: a model whose user factors (and biases) start the fit, matched by user id
            (a warm start; users it lacks start at random).
        num_partitions: partitions of the grouped ratings (default: twice the cluster's
            default parallelism).
        random_state: seed of the initial factors (as in the single-machine models).
        verbose: print the time of each iteration.

    Returns:
        a :class:`~latentrec.models.FactorModel` whose catalogue holds the ids, the
        seen items (so ``recommend`` never returns an item the user rated) and, for
        explicit ratings, their mean (``rating_mean_``: what a ``"spark-ml"`` fit, which
        has no μ, predicts for an unknown id); its
        ``metrics_`` hold ``spark_setup_seconds`` and ``spark_iteration_seconds``.

    Example:
        >>> from pyspark.sql import SparkSession  # doctest: +SKIP
        >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
        >>> rows = [("ann", "a", 5.0), ("ann", "b", 1.0), ("bob", "a", 4.0)]
        >>> schema = "user string, item string, rating float"
        >>> df = spark.createDataFrame(rows, schema)  # doctest: +SKIP
        >>> model = fit_als(df, n_factors=2, n_epochs=5, random_state=0)  # doctest: +SKIP
        >>> model.recommend("bob", n=1).ids.tolist()  # doctest: +SKIP
        ['b']
    """
    with needs_extra("spark", "latentrec.spark.fit_als"):
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
    # mapInPandas needs pyarrow (pyspark's own 'sql' extra, part of ours), which plain
    # pyspark lacks: checked before any Spark work, after pyspark, which it would hide.
    with needs_extra("spark", "latentrec.spark.fit_als"):
        import pyarrow  # noqa: F401

    _check(
        df, user_col, item_col, rating_col, n_factors, n_epochs, regularization,
        bias_regularization, alpha, num_partitions,
    )  # fmt: skip
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}, got {duplicates!r}")
    spark = df.sparkSession
    start = time.perf_counter()
    reg = float(regularization)
    reg_b = reg if bias_regularization is None else float(bias_regularization)
    raw = df.select(
        F.col(user_col).alias("u_id"),
        F.col(item_col).alias("i_id"),
        _as_float(df, rating_col).alias(VALUE),
        F.col(rating_col).alias("given"),
    )
    _check_values(raw, user_col, item_col, rating_col, implicit)
    raw = raw.drop("given")
    # Whatever is cached or broadcast is released on every path out, errors included:
    # the id maps and cells once the blocks are cut, the blocks once the fit ends.
    maps, blocks, cells = [], [], None
    try:
        users, user_map = _index(raw, "u_id")
        maps.append(user_map)
        if not len(users):
            raise ValueError(
                f"the DataFrame has no ratings (columns {user_col}, {item_col}, {rating_col})"
            )
        items, item_map = _index(raw, "i_id")
        maps.append(item_map)
        cells = (
            raw.join(F.broadcast(user_map) if len(users) < 1_000_000 else user_map, "u_id")
            .join(F.broadcast(item_map) if len(items) < 1_000_000 else item_map, "i_id")
            .select("u", "i", VALUE)
        )
        if duplicates != "error":
            cells = _merge_duplicates(cells, duplicates)
        cells = cells.persist(StorageLevel.MEMORY_AND_DISK)
        # Repeated pairs are found on the driver in the seen pairs it collects anyway,
        # not by a shuffle of every rating (a third of the setup time on 10M ratings).
        seen = _seen(cells, users, items, refuse_duplicates=duplicates == "error")
        # The training mean of explicit ratings: μ of the biased objective, and what
        # the catalogue records (a fit without μ predicts it for an unknown id).
        # With the lowest and highest value, which a fold-in of explicit ratings is held to.
        summary = cells.agg(F.avg(VALUE), F.min(VALUE), F.max(VALUE)).first()
        mean = None if implicit else float(summary[0])
        value_range = (float(summary[1]), float(summary[2]))
        mu = mean if mean is not None and objective == "latentrec" else 0.0
        solved = (
            cells if not (implicit and objective == "spark-ml") else cells.where(F.col(VALUE) > 0)
        )
        parts = int(num_partitions or 2 * spark.sparkContext.defaultParallelism)
        blocks.append(_grouped(solved, "u", "i", parts))
        blocks.append(_grouped(solved, "i", "u", parts))
    except BaseException:
        for cached in blocks:
            cached.unpersist()
        raise
    finally:
        if cells is not None:
            cells.unpersist()
        for mapping in maps:
            mapping.unpersist()
    by_user, by_item = blocks
    seconds = []
    try:
        k = int(n_factors)
        rng = np.random.default_rng(random_state)
        if implicit:
            P = rng.random((len(users), k), dtype=np.float32) * np.float32(0.01)
        else:
            P = rng.normal(0.0, 0.1, (len(users), k)).astype(np.float32)
        bu = np.zeros(len(users), np.float32)
        if init is not None:
            P, bu = _warm_start(init, users, P, bu)
        Q = np.zeros((len(items), k), np.float32)
        bi = np.zeros(len(items), np.float32)
        threads = int(spark.sparkContext.getConf().get("spark.task.cpus", "1"))
        step = HalfStep(
            kind="implicit" if implicit else "explicit",
            k=k,
            regularization=reg,
            bias_regularization=reg_b,
            biases=objective == "latentrec",
            scaled=objective == "spark-ml" or not implicit,
            alpha=float(alpha),
            mu=mu,
            threads=threads,
        )
        setup = time.perf_counter() - start
        for epoch in range(int(n_epochs)):
            tick = time.perf_counter()
            bi, Q = half_step(by_item, step, P, bu, len(items))
            bu, P = half_step(by_user, step, Q, bi, len(users))
            seconds.append(time.perf_counter() - tick)
            if not (np.isfinite(P).all() and np.isfinite(Q).all()):
                raise FloatingPointError(
                    f"ALS diverged at iteration {epoch + 1}; raise regularization"
                )
            if verbose:
                print(f"iteration {epoch + 1}/{n_epochs}: {seconds[-1]:.2f}s", flush=True)
    finally:
        by_user.unpersist()
        by_item.unpersist()
    # What Catalog.from_interactions records of a local training set, so a fold-in, a
    # ratings store and the service treat this model as the single-machine one.  The
    # strengths of an implicit fit may be plays or stars (the local engine calls stars
    # explicit even under ImplicitALS): their kind stays unknown.
    catalog = replace(
        Catalog.from_ids(users, items, seen=seen, rating_mean=mean),
        implicit=False if not implicit else None,
        rating_range=value_range,
        trained_shape=(len(users), len(items)),
    )
    biased = not implicit and objective == "latentrec"
    model = FactorModel.from_factors(
        catalog,
        Q,
        P,
        global_mean=mu,
        user_bias=bu if biased else None,
        item_bias=bi if biased else None,
        predicts_ratings=not implicit,
        regularization=reg,
        bias_regularization=reg_b,
        source="latentrec.spark.fit_als",
    )
    return model.record_metrics(
        spark_setup_seconds=setup, spark_iteration_seconds=[float(s) for s in seconds]
    )


def half_step(blocks, step: HalfStep, factors, bias, n_rows: int):
    """Solve every row of ``blocks`` (a cached RDD of CSR blocks) against fixed ``factors``.

    The fixed side (``factors``, ``bias``) travels as one broadcast (with ``YᵀY`` for
    implicit steps); the solved rows come back as one array triple per block.  Rows
    without cells get zeros.  Returns ``(bias (n_rows,), factors (n_rows, k))``.
    """
    sc = blocks.context
    k = factors.shape[1]
    # float64 YᵀY: the exact implicit solve needs λ to register against it (see gram).
    fixed = (factors, bias, gram(factors, 0.0, np.float64) if step.kind == "implicit" else None)
    shared = sc.broadcast(fixed)

    def solve(part):
        other, other_bias, other_gram = shared.value
        try:
            yield from solve_blocks(part, step, other, other_bias, other_gram)
        except FloatingPointError as err:
            # Sent back as a value: raised here it would reach the driver as a Spark
            # PythonException wrapping the executor's traceback.
            yield None, str(err), None

    try:
        solved = blocks.mapPartitions(solve).collect()
    finally:
        shared.destroy()
    out = np.zeros((n_rows, k), np.float32)
    out_bias = np.zeros(n_rows, np.float32)
    for rows, b, f in solved:
        if rows is None:
            raise FloatingPointError(b)
        out[rows] = f
        out_bias[rows] = b
    return out_bias, out


# ---------------------------------------------------------------------- preparation
def _check(
    df, user_col, item_col, rating_col, n_factors, n_epochs, regularization, bias_regularization,
    alpha, num_partitions,
):  # fmt: skip
    from pyspark.sql.types import IntegralType, StringType

    missing = [c for c in (user_col, item_col, rating_col) if c not in df.columns]
    if missing:
        raise ValueError(f"no column(s) {missing} in the DataFrame; it has {df.columns}")
    # The ids Interactions takes: another type would reach the model as something else
    # (a double 1.5 is saved as the text '1.5') or fail in Spark's analyser (maps).
    for name in (user_col, item_col):
        kind = df.schema[name].dataType
        if not isinstance(kind, (IntegralType, StringType)):
            raise ValueError(
                f"column {name!r} holds {kind.simpleString()} ids; ids are integers or "
                f"text: write the file's ids so, or cast the DataFrame's column "
                f"(df.withColumn({name!r}, df[{name!r}].cast('long')))"
            )
    # numbers.Integral / Real: a numpy scalar from a tuning grid is a number too.
    if num_partitions is not None and (
        isinstance(num_partitions, bool)
        or not isinstance(num_partitions, numbers.Integral)
        or num_partitions < 1
    ):
        raise ValueError(f"num_partitions must be a positive integer, got {num_partitions!r}")
    if isinstance(n_factors, bool) or not isinstance(n_factors, numbers.Integral) or n_factors < 1:
        raise ValueError(f"n_factors must be a positive integer, got {n_factors!r}")
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, numbers.Integral) or n_epochs < 0:
        raise ValueError(f"n_epochs must be an integer >= 0, got {n_epochs!r}")
    settings = [("regularization", regularization), ("alpha", alpha)]
    if bias_regularization is not None:
        settings.append(("bias_regularization", bias_regularization))
    for name, value in settings:
        if not (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _as_float(df, rating_col: str):
    # Numbers are cast; text through try_cast, so a value that is not a number becomes
    # null and _check_values names its row (a plain cast fails on the executor under
    # ANSI mode, Spark 4's default, with a Java stack trace).  Any other type is refused
    # here, before Spark's analyser rejects the cast with its query plan.
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, NumericType, StringType

    kind = df.schema[rating_col].dataType
    if isinstance(kind, (NumericType, BooleanType)):
        return F.col(rating_col).cast("float")
    if isinstance(kind, StringType):
        quoted = rating_col.replace("`", "``")
        return F.expr(f"try_cast(`{quoted}` AS FLOAT)")
    raise ValueError(f"rating column {rating_col!r} holds {kind.simpleString()}, not numbers")


def _check_values(raw, user_col, item_col, rating_col, implicit) -> None:
    # One pass that stops at the first bad row: a missing id, or a rating that is missing,
    # not a number or (implicit) negative.
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    bad = (
        F.col("u_id").isNull()
        | F.col("i_id").isNull()
        | F.col(VALUE).isNull()
        | F.isnan(VALUE)
        | (F.abs(F.col(VALUE)) == float("inf"))
    )
    if implicit:
        bad = bad | (F.col(VALUE) < 0)
    # Text ids as Interactions takes them: an empty id is none, and " eve" is "eve" (the
    # local engine strips it), not another user beside "eve".
    for column in ("u_id", "i_id"):
        if isinstance(raw.schema[column].dataType, StringType):
            bad = bad | F.col(column).rlike(r"^\s*$|^\s|\s$")
    row = raw.where(bad).limit(1).collect()
    if row:
        u, i, given = row[0]["u_id"], row[0]["i_id"], row[0]["given"]
        what = "a negative strength (implicit data needs >= 0)" if implicit else "no valid value"
        for name, value in ((item_col, i), (user_col, u)):
            if value is None:
                what = f"a missing {name}"
            elif isinstance(value, str) and not value.strip():
                what = f"an empty {name}"
            elif isinstance(value, str) and value != value.strip():
                what = (
                    f"the {name} {value!r}, with spaces around it (the local engine reads "
                    f"it as {value.strip()!r}; strip the column first)"
                )
        raise ValueError(
            f"a rating row has {what}: {user_col}={u!r}, {item_col}={i!r}, {rating_col}={given!r}"
        )


def _index(raw, column: str):
    """Sorted distinct ids numbered on the executors; (Vocabulary, DataFrame(id, index))."""
    from pyspark.sql.types import IntegerType, StructField, StructType

    from ..data.vocabulary import Vocabulary

    ids = raw.select(column).distinct().orderBy(column)
    name = "u" if column == "u_id" else "i"
    schema = StructType([ids.schema[column], StructField(name, IntegerType(), False)])
    mapping = ids.rdd.zipWithIndex().map(lambda pair: (pair[0][0], pair[1])).toDF(schema)
    mapping = mapping.persist()
    try:
        with session_conf(raw.sparkSession, {"spark.sql.execution.arrow.pyspark.enabled": "true"}):
            table = mapping.toPandas()
        if len(table) >= 2**31:
            raise ValueError(f"{len(table)} distinct {name} ids: more than int32 indices hold")
    except BaseException:
        mapping.unpersist()
        raise
    ids = table[column].to_numpy()
    ids = ids if ids.dtype.kind in "iu" else ids.astype(object)
    ordered = np.empty(len(table), dtype=ids.dtype)
    ordered[table[name].to_numpy()] = ids
    return Vocabulary(ordered, "user" if name == "u" else "item"), mapping


def _merge_duplicates(cells, duplicates: str):
    from pyspark.sql import functions as F

    merged = cells.groupBy("u", "i").agg(
        (F.avg(VALUE) if duplicates == "mean" else F.sum(VALUE)).cast("float").alias(VALUE),
    )
    return merged.select("u", "i", VALUE)


def _grouped(cells, row: str, col: str, parts: int):
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    cells = (
        cells.select(F.col(row).alias(ROW), F.col(col).alias(COL), VALUE)
        .repartition(parts, ROW)
        .sortWithinPartitions(ROW)
    )
    # The blocks are cut once through Arrow, then cached as pickled numpy buffers: a
    # half-step streams them to Python as they are, with no per-value Arrow conversion
    # (measured ~2x faster per pass than mapInPandas or mapInArrow over cached binary
    # columns on 10M ratings).
    with session_conf(cells.sparkSession, {ARROW_BATCH: str(BATCH_ROWS)}):
        packed = cells.mapInPandas(block_batches, BLOCK_SCHEMA)
        blocks = packed.rdd.map(unpack_block).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            blocks.count()
        except BaseException:
            blocks.unpersist()
            raise
    return blocks


def _seen(cells, users, items, *, refuse_duplicates: bool) -> sp.csr_matrix:
    # The catalogue's seen items: the index pairs only (about 16 bytes a rating on the
    # driver while the matrix is built, 4 in the model), never the rating values.  The
    # pairs are sorted by (user, item) once, which gives the CSR arrays directly and puts
    # any repeated pair next to its twin.
    with session_conf(cells.sparkSession, {"spark.sql.execution.arrow.pyspark.enabled": "true"}):
        pairs = cells.select("u", "i").toPandas()
    n_users, n_items = len(users), len(items)
    key = pairs["u"].to_numpy(np.int64) * n_items
    key += pairs["i"].to_numpy(np.int64)
    del pairs
    key.sort()
    repeated = np.flatnonzero(key[1:] == key[:-1])
    if refuse_duplicates and repeated.size:
        u, i = divmod(int(key[repeated[0]]), n_items)
        times = int(np.searchsorted(key, key[repeated[0]], side="right") - repeated[0])
        raise RepeatedPairError(
            users.ids[u : u + 1].tolist()[0], items.ids[i : i + 1].tolist()[0], times
        )
    indptr = np.searchsorted(key, np.arange(n_users + 1, dtype=np.int64) * n_items)
    np.remainder(key, n_items, out=key)
    indices = key.astype(np.int32)
    del key
    data = np.ones(indices.size, np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))


def _warm_start(init, users, P, bu):
    idx = init.catalog_.users.lookup(users.ids)
    known = idx >= 0
    if init.item_factors_.shape[1] != P.shape[1]:
        raise ValueError(
            f"init has {init.item_factors_.shape[1]} factors; this fit has {P.shape[1]}"
        )
    P = P.copy()
    bu = bu.copy()
    P[known] = init.user_factors_[idx[known]]
    bu[known] = init.user_bias_[idx[known]]
    return P, bu
