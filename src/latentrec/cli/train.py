"""``latentrec train`` (fit and save a model) and ``latentrec evaluate`` (score an algorithm).

Also owns :func:`holdout`, the named split protocols behind ``evaluate --protocol``.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import replace
from urllib.parse import unquote, urlparse

import click
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data import Interactions, splits
from ..data.movielens import ml_folder_layout
from ..data.readers import DefaultColumn, default_columns, header_fields, parquet_columns
from ..datasets import movielens
from ..evaluation import cross_validate, evaluate_ranking, evaluate_ratings
from ..evaluation.evaluate import check_heldout, relevant_users
from ..models import GlobalMean, HybridMF
from ._common import (
    CutOff,
    Failure,
    FiniteFloatRange,
    algorithm_options,
    build_model,
    builtin_dataset,
    check_model_output,
    column,
    data_options,
    describe,
    diverging_on,
    fail_on_known_errors,
    flags_apply,
    given_on_command_line,
    load_data,
    main,
    one_line,
    params_from,
    parse_value,
    print_table,
    separator,
    writing,
)

DEFAULT_MASTER = "local[2]"


def refuse_ranking_options(scored: str, figures: str, relevance_threshold) -> None:
    """Refuse, for a model that predicts ratings, the options of ranking figures, which
    its RMSE/MAE would ignore unseen: ``--relevance-threshold`` (given) and ``-k`` (given
    on the command line).  ``scored`` names the model and its figures, ``figures`` the
    ranking figures the options belong to.

    Example:
        >>> @click.command()
        ... @click.option("-k", type=int, default=10)
        ... def run(k):
        ...     refuse_ranking_options("Biases predicts ratings", "ranking figures", None)
        >>> from click.testing import CliRunner
        >>> CliRunner().invoke(run, []).exit_code, CliRunner().invoke(run, ["-k", "5"]).exit_code
        (0, 2)
    """
    if relevance_threshold is not None:
        raise threshold_refused_for_ratings(figures, scored)
    if given_on_command_line("k"):
        raise click.UsageError(
            f"-k applies to {figures} (it cuts its rankings); {scored} scores every held-out rating"
        )


def cut_off_option(help_text: str):
    """The ``-k`` option of ``train``, ``evaluate`` and ``score``: a ranking cut-off, 10
    unless given.

    Example:
        >>> callable(cut_off_option("Cut-off for ranking."))
        True
    """
    return click.option("-k", "k", type=CutOff(), default=10, show_default=True, help=help_text)


def relevance_threshold_option(when: str, cells: str = "held-out"):
    """The ``--relevance-threshold`` option of ``train``, ``evaluate`` and ``tune``: the
    same words but for ``when`` it applies and which ``cells`` it picks from.

    Example:
        >>> option = relevance_threshold_option("With a ranking --metric", "validation")
        >>> callable(option)
        True
    """
    return click.option(
        "--relevance-threshold",
        type=FiniteFloatRange(),
        default=None,
        metavar="RATING",
        help=f"{when}: a {cells} cell is relevant when its rating is at least this (4: "
        "only 4 and 5 stars count as hits); users with no such cell are left out. "
        f"[default: every {cells} cell is relevant]",
    )


def threshold_refused_for_ratings(ranking: str, rating: str) -> click.UsageError:
    """The refusal of ``--relevance-threshold`` where ratings are scored, not rankings:
    it applies to ``ranking``; ``rating`` (what is scored instead) scores every rating.

    Example:
        >>> print(threshold_refused_for_ratings("--task ranking", "--task rating").message)
        --relevance-threshold applies to --task ranking (which ... --task rating scores every ...
    """
    return click.UsageError(
        f"--relevance-threshold applies to {ranking} (which held-out cells count as "
        f"hits); {rating} scores every held-out rating"
    )


def check_threshold_has_ratings(relevance_threshold, data, source: str) -> None:
    """Refuse ``--relevance-threshold`` on data read without ratings (cells count events).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> check_threshold_has_ratings(4, Interactions.from_dense(np.eye(2) * 5), "r.csv")
    """
    if relevance_threshold is not None and data.implicit:
        # Every cell of data without ratings is 1: a threshold keeps all or nothing.
        raise Failure(
            f"--relevance-threshold needs ratings to compare, and {source} was read without "
            "them (implicit data: its cells count events); leave it out, every held-out cell is "
            "then relevant"
        )


@main.command()
@click.argument("source")
@algorithm_options
@data_options
@click.option(
    "--output",
    "-o",
    # Not click.Path(dir_okay=False): check_output refuses a directory in one line, exit 1.
    metavar="FILE",
    required=True,
    help="Where to write the model file (.npz).",
)
@click.option(
    "--test-size",
    type=float,
    default=0.0,
    show_default=True,
    help="Hold out this share and report held-out figures on it (RMSE/MAE for rating "
    "models, ranking metrics at -k for ranking models), below a line saying the split and "
    "its cold users and items; the saved model is then refitted "
    "on all of SOURCE unless --no-refit. A rating model trained without the share also "
    "records its RMSE on it after each epoch, a curve of the held-out test part (drawn "
    "so by `latentrec plot learning-curves`, with no best epoch: it chose nothing, so it "
    "is no validation curve; its last point is the held-out RMSE before clipping to the "
    "rating scale, exactly so when every held-out user and item has training cells); the "
    "refitted model held nothing out, so it records its training curve only.",
)
@click.option(
    "--no-refit",
    is_flag=True,
    help="With --test-size: save the model trained without the held-out part (a rating "
    "model with its RMSE per epoch on that test part, which `latentrec plot "
    "learning-curves` draws beside the training curve, labelled the held-out test part).",
)
@cut_off_option("Cut-off of held-out ranking metrics.")
@relevance_threshold_option("With --test-size and a ranking model (-a bpr, implicit-als, ...)")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="spark: read SOURCE with Apache Spark and fit ALS / implicit ALS on it "
    "(latentrec.spark.fit_als); needs the spark extra and Java.",
)
@click.option(
    "--spark-master",
    default=None,
    help="With --engine spark: local[N] or a cluster URL such as spark://host:7077 "
    f"[default: {DEFAULT_MASTER}].",
)
@fail_on_known_errors
def train(
    source, output, test_size, no_refit, k, relevance_threshold, quiet, engine, spark_master,
    algorithm, extra, seed, **opts,
):  # fmt: skip
    """Train a model on SOURCE (ml-100k, a MovieLens folder or a ratings file) and save it.

    With --test-size, the model is first trained without a held-out share and scored on
    it; the figures are printed and stored in the model file, and the model saved is then
    trained on all of SOURCE (the figures describe that recipe on unseen data).
    A rating model trained without the share records its RMSE on it per epoch: the
    curve of the held-out test part, which a model saved with --no-refit keeps (it chose
    nothing, so it is no validation curve); the refitted model records its training
    curve only.

    \f
    Example: ``latentrec train ml-100k -a als --factors 64 --test-size 0.2 -o model.npz``
    """
    if no_refit and not test_size:
        raise click.UsageError("--no-refit applies only with --test-size (nothing is held out)")
    if given_on_command_line("k") and not test_size:
        raise click.UsageError("-k applies only with --test-size (it cuts held-out rankings)")
    if relevance_threshold is not None and not test_size:
        raise click.UsageError(
            "--relevance-threshold applies only with --test-size (it picks the held-out hits)"
        )
    if spark_master is not None and engine != "spark":
        raise click.UsageError("--spark-master applies only with --engine spark")
    check_model_output(output, source)
    if engine == "spark":
        master = spark_master or DEFAULT_MASTER
        train_on_spark(source, output, test_size, quiet, master, algorithm, extra, seed, opts)
        return
    model = build_model(algorithm, params_from(opts), extra, seed)
    if test_size and model.predicts_ratings:
        # Held-out RMSE/MAE: options of the ranking figures would be ignored unseen.
        refuse_ranking_options(
            f"-a {algorithm} predicts ratings, and its RMSE/MAE",
            "a ranking model's held-out figures",
            relevance_threshold,
        )
    if model.get_params().get("patience") is not None:
        # Early stopping chooses the epoch by a validation RMSE; the only held-out data
        # here is the --test-size share, whose figures would then flatter the model.
        raise Failure(
            "--param patience needs validation data to stop on, and train has none "
            "(the --test-size share is a test set: it must not choose the epoch)"
        )
    if "verbose" in model.get_params():
        # None: a bar in a terminal once a fit takes a few seconds, nothing in a log.
        model.set_params(verbose=False if quiet else None)
    if not 0 <= test_size < 1:
        raise click.BadParameter("must lie in [0, 1)", param_hint="--test-size")
    d = load_data(source, **opts)
    check_threshold_has_ratings(relevance_threshold, d, source)
    metrics = {}
    with diverging_on(d, opts.get("rating_col"), opts.get("no_header")):
        if test_size:
            task = "rating" if model.predicts_ratings else "ranking"
            protocol = "random" if model.predicts_ratings else "user"
            part, test = holdout(d, protocol, test_size, seed)
            if task == "ranking":
                relevant_users(test, relevance_threshold)  # said before the fit, not after
            note = f"without the held-out {percent(test_size)}"
            # A rating model records its RMSE on the held-out cells per epoch: the model
            # file then carries the test part's curve of the figures printed (history's
            # valid_rmse, which plots label as the held-out test part: it chooses
            # nothing, so it is no validation curve).  Its last point is unclipped, and
            # a user or item with no training cell still has its initial vector there
            # (the fit zeroes it after).  Watching changes nothing
            # the model learns (no early stopping: patience is refused above).
            # A ranking model's validation figures (a loss or AUC on sampled negatives)
            # are not the held-out ranking metrics, and drawing those negatives would
            # change its training draws, so it gets none.
            watched = test if model.predicts_ratings else None
            fitted, seconds = timed_fit(model.clone(), part, note, watched)
            split = describe_holdout(
                protocol, test_size, seed, part, test, task, relevance_threshold
            )
            metrics = held_out_figures(
                fitted, test, k, relevance_threshold=relevance_threshold, split=split
            )
            metrics.update(holdout_share=test_size, refit=not no_refit)
        if not test_size or not no_refit:
            fitted, seconds = timed_fit(model, d, "on all of it" if test_size else "")
    fitted.record_metrics(fit_seconds=seconds, **metrics)
    unused = features_not_used(fitted)
    if unused:
        click.echo(unused)
    with writing(output):
        fitted.save(output)
    click.echo(f"model written to {output}")


def features_not_used(model) -> str:
    """The line ``train`` prints for the side-table columns a fitted HybridMF left out
    (``""`` for any other model, and when none was): without it a column such as a
    director with hundreds of values was dropped without a word.

    Example:
        >>> import pandas as pd
        >>> from latentrec import Interactions
        >>> df = pd.DataFrame({"user_id": [0, 0, 1], "item_id": [0, 1, 2], "rating": [5, 4, 5]})
        >>> films = pd.DataFrame({"title": [f"t{i}" for i in range(101)]})
        >>> data = Interactions.from_frame(df, item_features=films)
        >>> features_not_used(HybridMF(n_factors=2, n_epochs=1, random_state=0).fit(data))
        "features not used: items' title (one title per item: an item id in disguise, not content)"
    """
    if not isinstance(model, HybridMF):
        return ""
    text = model.describe_skipped_features()
    return f"features not used: {text}" if text else ""


SPARK_ALGORITHMS = {"als": False, "implicit-als": True}
# The reading options of a text or Parquet file (Spark's reader takes these).
TEXT_OPTIONS = ("user_col", "item_col", "rating_col", "timestamp_col", "sep", "no_header",
                "encoding")  # fmt: skip


# How --engine spark reads the ratings file of each MovieLens layout: the headerless
# ones need their separator and --no-header, or Spark sees one column named by a row.
SPARK_ML_FILES = {
    "ratings.csv": "ratings.csv",
    "ratings.dat": "ratings.dat with --no-header --sep ::",
    "u.data": "u.data with --no-header --sep tab",
    "ml-100k.inter": "ml-100k.inter with --sep tab --user-col user_id:token "
    "--item-col item_id:token --rating-col rating:float",
}


def train_on_spark(source, output, test_size, quiet, master, algorithm, extra, seed, opts):
    """``train --engine spark``: read SOURCE with Spark, fit ALS there, save a model file.

    SOURCE is a Parquet file or folder, a CSV file or folder (``--sep``, ``--no-header``),
    or ``ml-100k`` (read here and handed to Spark).  ``--factors``, ``--epochs``,
    ``--regularization`` and ``--seed`` apply; ``--param`` passes any other keyword of
    :func:`latentrec.spark.fit_als` (``alpha``, ``objective``, ``duplicates``, ...).
    """
    if algorithm not in SPARK_ALGORITHMS:
        if not given_on_command_line("algorithm"):
            # The default (-a biased-mf) was never the user's choice: say what to choose.
            raise Failure(
                f"--engine spark trains {' or '.join(SPARK_ALGORITHMS)}: give -a als "
                "(ratings) or -a implicit-als (plays, clicks)"
            )
        raise Failure(f"--engine spark trains {' or '.join(SPARK_ALGORITHMS)}, not {algorithm}")
    if test_size:
        raise Failure("--test-size is not available with --engine spark")
    # Options the local reader applies and Spark's would not: refused, not ignored.
    if opts.get("rating_scale"):
        raise Failure("--rating-scale is not available with --engine spark")
    if opts.get("timestamp_col"):  # Spark's reader takes the three columns ALS fits on
        raise Failure("--timestamp-col is not available with --engine spark (ALS uses no times)")
    if opts.get("duplicates") == "last":
        raise Failure(
            "--duplicates last is not available with --engine spark (Spark's rows have no "
            "order): use mean, sum or error"
        )
    # Spark's own rule for a master URL, checked before its JVM starts: a bad one makes
    # the JVM exit with a Java trace and pyspark report only JAVA_GATEWAY_EXITED.
    if not (master == "yarn" or master.startswith(("local", "spark", "k8s"))):
        raise Failure(
            f"--spark-master {master!r} is not a Spark master: use local[N], "
            "spark://host:port, yarn or k8s://host:port"
        )
    # Events (--rating-col none): each row is one play or click, a 1.0 whose repeats add
    # up, as the local engine and store import count them.
    events = str(opts.get("rating_col") or "").lower() == "none"
    if builtin_dataset(source):  # read here, as published: no options to apply
        given = [f"--{k.replace('_', '-')}" for k in TEXT_OPTIONS if opts.get(k)]
        if given:
            raise Failure(f"{flags_apply(given)} to ratings files, not to the dataset {source}")
    # A local path is looked at here, before the JVM starts: Spark would report a missing
    # one with a warning and a Java stack trace on standard error.
    if not builtin_dataset(source) and not _remote(source):
        local = unquote(urlparse(source).path) if source.lower().startswith("file:") else source
        if not os.path.exists(local):
            raise Failure(
                f"no dataset named {source!r} and no such file or folder; use ml-100k or a path"
            )
        layout = ml_folder_layout(local) if os.path.isdir(local) else None
        if layout is not None:
            # Spark reads every file of a folder as ratings: movies.csv and tags.csv too.
            raise Failure(
                f"{source} is a MovieLens release folder, which --engine spark does not read "
                f"(it reads every file of a folder as ratings); give its "
                f"{SPARK_ML_FILES[layout[0]]}, or train on the folder with the local engine"
            )
    params = {k: v for k, v in params_from(opts).items() if v is not None}
    if "learning_rate" in params:  # refused, not dropped: ALS solves, it takes no steps
        raise Failure("--learning-rate is not available with --engine spark (ALS has no step size)")
    for item in extra:
        if "=" not in item:
            raise Failure(f"--param takes name=value, got {item!r}")
        name, value = item.split("=", 1)
        params[name.strip()] = parse_value(value.strip())
    if opts.get("duplicates"):
        params.setdefault("duplicates", opts["duplicates"])
    elif events:
        params.setdefault("duplicates", "sum")
    # Otherwise fit_als refuses a repeated pair ("error"): the local engine keeps a rating
    # given again (the last), which Spark's rows, in no order, cannot say; its error names
    # --duplicates mean or sum.
    from ..spark import fit_als, spark_session
    from ..spark.als import RepeatedPairError
    from ..spark.reading import EVENTS, pair_lines
    from ..spark.session import stop_session

    header = not opts.get("no_header")
    cols = {
        f"{role}_col": str(column(opts.get(f"{role}_col"), role, True)) if header
        else f"_c{column(opts.get(f'{role}_col'), role, False)}"
        for role in ("user", "item", "rating")
    }  # fmt: skip
    if events:
        cols["rating_col"] = None
    if header and not builtin_dataset(source) and not _remote(source):
        cols = spark_columns(local, cols, opts)
    # pyspark's notices about its pandas support (its version, pandas' deprecations in its
    # conversions) are no news to the user of a command.
    warnings.filterwarnings("ignore", module=r"pyspark(\.|$)")
    with tempfile.TemporaryFile() as jvm_log:
        spark, created = _start_spark(spark_session, master, jvm_log)
    try:
        if builtin_dataset(source):
            d = movielens("100k")
            m = d.matrix.tocoo()
            frame = pd.DataFrame(
                {"user_id": d.users.ids[m.row], "item_id": d.items.ids[m.col], "rating": m.data}
            )
            df = spark.createDataFrame(frame)
            cols = {"user_col": "user_id", "item_col": "item_id", "rating_col": "rating"}
        else:
            df = _read_with_spark(spark, source, header, opts, cols, SPARK_ALGORITHMS[algorithm])
        read_cols = dict(cols)
        if events:  # read_ratings added the events' column of 1.0
            cols = {**cols, "rating_col": EVENTS}
        start = time.perf_counter()
        try:
            model = fit_als(
                df,
                implicit=SPARK_ALGORITHMS[algorithm],
                random_state=seed,
                verbose=not quiet,
                **cols,
                **params,
            )
        except TypeError as err:  # an unknown --param
            raise Failure(f"fit_als: {err}") from None
        except RepeatedPairError as err:
            if builtin_dataset(source) or _remote(source):
                raise
            where = pair_lines(
                df, source, err.user, err.item, header=header,
                sep=separator(opts.get("sep")), encoding=opts.get("encoding") or "UTF-8",
                **read_cols,
            )  # fmt: skip
            raise RepeatedPairError(err.user, err.item, err.times, where) from None
        seconds = time.perf_counter() - start
        click.echo(
            f"trained {algorithm} on Spark ({master}): {model.catalog_.seen.nnz} cells, "
            f"{model.catalog_.n_users} users, {model.catalog_.n_items} items in {seconds:.2f}s"
        )
    finally:
        if created:
            # As Ctrl-C unwinds, a stop that fails on the cut connection is the interrupt.
            stop_session(spark)
    if builtin_dataset(source):
        model = with_dataset_tables(model, d)
    else:
        # What the local engine records of the same file: events (--rating-col none) are
        # implicit feedback, a rating column's values explicit ratings, also under
        # implicit-als.  fit_als cannot tell plays from stars and left the kind unknown,
        # so a ratings store retraining the model could not tell which kind to read.
        model = with_catalog(model, replace(model.catalog_, implicit=events))
    model.record_metrics(fit_seconds=seconds, engine="spark")
    with writing(output):
        model.save(output)
    click.echo(f"model written to {output}")


def with_dataset_tables(model, data):
    """``model``, fitted on Spark to the ratings of ``data`` (a known dataset), with what a
    local fit of ``data`` records beside them: its item titles, rating scale,
    fingerprint and kind (explicit or implicit).  Without them ``recommend`` and the
    service showed no titles, scores past 5 stars went unclipped and
    ``predict(clip=True)`` was refused.  A model with an id ``data`` lacks, or one that
    saw fewer cells (it was fitted to other ratings, or part of them, which the
    fingerprint would vouch for), is refused with a ValueError.

    Example:
        >>> import latentrec
        >>> from latentrec.models import FactorModel
        >>> titles = pd.DataFrame({"title": ["A", "B"]}, index=pd.Index([7, 8], name="item_id"))
        >>> data = latentrec.Interactions.from_arrays([1, 1], [7, 8], [4.0, 2.0],
        ...                                           rating_scale=(1, 5), item_features=titles)
        >>> from latentrec.models.catalog import Catalog
        >>> fitted = Catalog.from_ids([1], [7, 8], seen=[[1, 1]])  # what Spark trained on
        >>> spark = FactorModel.from_factors(fitted, np.eye(2, 1), np.eye(1), global_mean=3)
        >>> local = with_dataset_tables(spark, data)
        >>> local.catalog_.item_titles.tolist(), local.rating_scale_
        (['A', 'B'], (1.0, 5.0))
    """
    cat = model.catalog_
    for side, ours, theirs in (("user", cat.users, data.users), ("item", cat.items, data.items)):
        # The titles are looked up by id: an id the data lacks (lookup -1) took the last
        # item's title, and the fingerprint would vouch for data the model did not see.
        missing = ours.ids[theirs.lookup(ours.ids) < 0]
        if missing.size:
            raise ValueError(
                f"the model has {missing.size} {side} id(s) the data lacks (the first: "
                f"{missing[:1].tolist()[0]!r}); it was not fitted to these ratings"
            )
    if cat.seen.nnz != data.nnz:
        # The fingerprint says the model saw this data: a fit on part of it (a held-out
        # share) would be trusted on cells it never saw.
        raise ValueError(
            f"the model saw {cat.seen.nnz} cells and the data has {data.nnz}; its fingerprint "
            "would vouch for ratings it was not fitted to"
        )
    titles = None
    if data.item_features is not None and "title" in data.item_features.columns:
        # By id: the Spark model's items are those with ratings, in its own order.
        every = data.item_features["title"].astype(str).to_numpy()
        titles = every[data.items.lookup(cat.items.ids)]
    catalog = replace(
        cat,
        item_titles=titles,
        rating_scale=data.rating_scale,
        fingerprint=data.fingerprint(),
        # As the local fit records it: stars stay explicit under implicit-als too.
        implicit=data.implicit,
    )
    return with_catalog(model, catalog)


def with_catalog(model, catalog):
    """``model`` (a :class:`~latentrec.models.FactorModel`) over ``catalog``, a catalogue
    of the same ids (a copy with other side tables or records), its metrics kept.

    Example:
        >>> from dataclasses import replace
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1], [7, 8]), np.eye(2, 1), np.eye(1), global_mean=3)
        >>> with_catalog(m, replace(m.catalog_, implicit=False)).catalog_.implicit
        False
    """
    from ..models import FactorModel

    reg, reg_b = model.fold_in_regularization_
    rebuilt = FactorModel.from_factors(
        catalog,
        model.item_factors_,
        model.user_factors_,
        global_mean=model.global_mean_,
        user_bias=model.user_bias_,
        item_bias=model.item_bias_,
        predicts_ratings=model.predicts_ratings,
        regularization=reg,
        bias_regularization=reg_b,
        source=getattr(model, "source_", None),
    )
    return rebuilt.record_metrics(**getattr(model, "metrics_", {}))


def spark_columns(path: str, cols: dict, opts) -> dict:
    """``cols`` (``user_col``, ``item_col``, ``rating_col``) with an id column left at its
    default read from the well-known name the local file's header holds (``userId``,
    ``movieId``...), as the local engine reads it, and said on standard error; a header
    with two such names is refused.  A folder, or a file whose header cannot be read here,
    keeps ``cols`` (Spark then names the columns it has).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "ratings.csv")
        >>> _ = open(path, "w").write("userId,movieId,rating\\n1,2,4\\n")
        >>> cols = {"user_col": "user_id", "item_col": "item_id", "rating_col": "rating"}
        >>> spark_columns(path, cols, {})["item_col"]  # a note on standard error
        'movieId'
    """
    names = (column(opts.get("user_col"), "user", True), column(opts.get("item_col"), "item", True),
             cols["rating_col"], None)  # fmt: skip
    if not os.path.isfile(path) or not any(isinstance(n, DefaultColumn) for n in names):
        return cols
    if path.lower().endswith((".parquet", ".pq")):
        fields, what, error = parquet_columns(path), path, {"source": path}
    else:
        head = header_fields(path, sep=separator(opts.get("sep")), encoding=opts.get("encoding"))
        if head is None:
            return cols
        fields, line = head
        what = f"the header (line {line} of {path})"
        error = {"source": path, "where": (line,), "unit": "line"}
    if fields is None:
        return cols
    found, note = default_columns(names, fields, what, **error)
    if note is None:
        return cols
    click.echo(f"note: {path}: {note}", err=True)
    return {**cols, "user_col": str(found[0]), "item_col": str(found[1])}


# A source Spark reads from elsewhere (hdfs://, s3a://, ...): only Spark can look at it.
def _remote(source: str) -> bool:
    return "://" in source and not source.lower().startswith("file:")


def _start_spark(spark_session, master: str, jvm_log):
    """``(session, created)``: a session on ``master`` whose JVM writes its log to
    ``jvm_log``, not the terminal, and whether this call started it (the command then
    stops it).

    A session already running in this process (a notebook's, a test's) is used as it is
    and left running.  If the JVM cannot start, the last line it wrote says why.
    """
    # pyspark before py4j: where neither is installed, the message names the package
    # users install (pyspark), not its JVM bridge; pyspark without py4j still names py4j.
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    created = SparkSession.getActiveSession() is None
    from py4j.protocol import Py4JJavaError

    try:
        session = spark_session(master, jvm_log=jvm_log)
    except PySparkRuntimeError as err:
        jvm_log.seek(0)
        said = [line for line in jvm_log.read().decode(errors="replace").splitlines() if line]
        why = f": {said[-1].strip()}" if said else ""
        raise Failure(f"Spark did not start ({one_line(err)}){why}") from None
    except Py4JJavaError as err:  # the JVM refused a setting, e.g. a master URL
        raise Failure(f"Spark did not start: {one_line(err.java_exception.toString())}") from None
    if created:
        # Past start-up the JVM's log goes to the file; ERROR keeps it small.
        session.sparkContext.setLogLevel("ERROR")
    return session, created


def _read_with_spark(spark, source: str, header: bool, opts, cols: dict, implicit: bool):
    """SOURCE as a Spark DataFrame (Parquet by its suffix, else CSV); a failure is one line.

    A bad row is refused with its file and line (see :func:`latentrec.spark.read_ratings`).
    Spark reports an unreadable path as an ``AnalysisException`` whose text carries its
    query plan; the first line says what is wrong.
    """
    from pyspark.errors import AnalysisException

    from ..spark import read_ratings

    try:
        return read_ratings(
            spark,
            source,
            header=header,
            sep=separator(opts.get("sep")),  # None: found as the local engine finds it
            encoding=opts.get("encoding") or "UTF-8",
            implicit=implicit,
            **cols,
        )
    except AnalysisException as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise Failure(f"cannot read {source} with Spark: {first}") from None


def timed_fit(model, data, note: str, validation=None):
    """Fit ``model`` on ``data``, print what was trained on, return it and the seconds.

    ``validation`` is passed to ``fit`` (a model that keeps a history records its error
    on it per epoch).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Biases
        >>> data = Interactions.from_dense(np.array([[5, 3], [4, 1]]))
        >>> model, seconds = timed_fit(Biases(), data, "")  # doctest: +ELLIPSIS
        trained Biases() on 4 ratings in ...s
    """
    start = time.perf_counter()
    model.fit(data, validation)
    seconds = time.perf_counter() - start
    what = "ratings" if model.predicts_ratings else "interactions"
    note = f" ({note})" if note else ""
    click.echo(f"trained {describe(model)} on {data.nnz} {what}{note} in {seconds:.2f}s")
    return model, seconds


def held_out_figures(model, test, k: int, *, relevance_threshold=None, split=None) -> dict:
    """Score a fitted model on held-out data, print the figures and return them.

    Rating models get RMSE/MAE; ranking models precision, recall, NDCG, MAP and hit rate
    at ``k``, a held-out cell being a hit when its rating is at least
    ``relevance_threshold`` (every one when None; the threshold is then stored too).
    ``split`` (:func:`describe_holdout`'s line) is printed above the figures once they are
    computed.  The keys are ``holdout_<metric>``, as stored in the model file.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Biases
        >>> from latentrec.data.splits import random_split
        >>> data = Interactions.from_dense(np.array([[5, 3, 4, 2], [4, 1, 2, 5]]))
        >>> train, test = random_split(data, 0.25, random_state=0)
        >>> figures = held_out_figures(Biases().fit(train), test, 10)  # doctest: +ELLIPSIS
        held-out RMSE ... MAE ... (2 ratings)
        >>> sorted(figures)
        ['holdout_mae', 'holdout_ratings', 'holdout_rmse']
    """
    if getattr(model, "predicts_ratings", False):  # a Pipeline ranks, and has no such flag
        if relevance_threshold is not None:  # refused, not ignored
            raise ValueError("relevance_threshold applies to ranking models, not to ratings")
        scores = evaluate_ratings(model, test)
        if split:
            click.echo(split)
        click.echo(
            f"held-out RMSE {scores['rmse']:.4f}  MAE {scores['mae']:.4f} ({scores['n']} ratings)"
        )
        figures = {"rmse": scores["rmse"], "mae": scores["mae"], "ratings": scores["n"]}
    else:
        names = ("ndcg", "precision", "recall", "map", "hit_rate")
        scores = evaluate_ranking(model, test, k, relevance_threshold=relevance_threshold)
        if split:
            click.echo(split)
        shown = "  ".join(f"{name}@{k} {scores[name]:.4f}" for name in names)
        who = f"{scores['n_users']} users"
        if relevance_threshold is not None:
            who += f" with a held-out rating of at least {relevance_threshold:g}, the hits"
        click.echo(f"held-out {shown} ({who})")
        figures = {f"{name}@{k}": scores[name] for name in names}
        figures["users"] = scores["n_users"]
        if relevance_threshold is not None:
            figures["relevance_threshold"] = float(relevance_threshold)
    return {f"holdout_{name}": value for name, value in figures.items()}


@main.command()
@click.argument("source")
@algorithm_options
@data_options
@click.option(
    "--cv",
    type=click.IntRange(min=2),
    default=None,
    help="k-fold cross-validation with this many folds (at least 2).",
)
@click.option(
    "--test-size",
    # Refused here, naming the option; the splitter's refusal named its own argument.
    type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Holdout share when --cv is not given, strictly between 0 and 1 [default: 0.2].",
)
@click.option(
    "--task",
    type=click.Choice(["rating", "ranking"]),
    default="rating",
    show_default=True,
    help="RMSE/MAE, or ranking metrics at -k.",
)
@cut_off_option("Cut-off for ranking.")
@relevance_threshold_option("With --task ranking")
@click.option(
    "--protocol",
    type=click.Choice(["random", "user", "leave-last-out", "temporal"]),
    default=None,
    help="Holdout split: random cells (default for ratings), a share of each user's cells "
    "(default for ranking), each user's latest cell, or a global time cutoff.",
)
@fail_on_known_errors
def evaluate(
    source, cv, test_size, task, k, relevance_threshold, protocol, algorithm, extra, seed, **opts
):
    """Evaluate an algorithm on SOURCE by holdout or k-fold cross-validation.

    Early stopping (--param patience) is refused: it picks the epoch by a validation
    score, and the only held-out cells here are the test's, which must not choose it
    (the figures would flatter the model). `latentrec tune` stops early on its own
    validation split.

    \f
    Example: ``latentrec evaluate ml-100k -a bpr --task ranking -k 10 --cv 5``
    """
    # Options the chosen protocol does not read would be ignored without a word.
    unused = [f for f, v in (("--test-size", test_size), ("--protocol", protocol)) if v is not None]
    if cv and unused:
        verb = "apply" if len(unused) > 1 else "applies"
        raise click.UsageError(f"{' and '.join(unused)} {verb} to a holdout, not to --cv")
    if protocol == "leave-last-out" and test_size is not None:
        raise click.UsageError("--test-size does not apply to --protocol leave-last-out")
    if task == "rating" and given_on_command_line("k"):
        raise click.UsageError("-k applies to --task ranking; --task rating scores RMSE/MAE")
    if task == "rating" and relevance_threshold is not None:
        raise threshold_refused_for_ratings("--task ranking", "--task rating")
    test_size = 0.2 if test_size is None else test_size
    model = build_model(algorithm, params_from(opts), extra, seed)
    if model.get_params().get("patience") is not None:
        # As train refuses it: a model stops early only on validation data passed to fit,
        # which evaluate never passes, so patience did nothing while the table's label
        # said patience=2; and the test cells must not choose the epoch.
        raise Failure(
            "--param patience needs validation data to stop on, and evaluate has none "
            "(its held-out cells are the test: they must not choose the epoch); tune "
            "stops early on its own validation split"
        )
    if task == "rating" and not model.predicts_ratings:
        raise Failure(f"{algorithm} does not predict ratings; use --task ranking")
    if task == "ranking" and type(model) is GlobalMean:
        # Refused, not printed with a warning: a figure in a table of baselines is copied
        # without its warning, and this one describes how the items were numbered (ties
        # go to the lower index).  evaluate_ranking refuses any model that ties so; this
        # says it before the data is read, in the command line's words.
        raise Failure(
            "-a global-mean gives every item the same score (the training mean), so its "
            "ranking would be the items in index order and its figures would measure how "
            "the items were numbered; for a baseline that ranks without personalising, "
            "use -a popularity"
        )
    d = load_data(source, **opts)
    check_threshold_has_ratings(relevance_threshold, d, source)
    diverging = diverging_on(d, opts.get("rating_col"), opts.get("no_header"))
    if cv:
        if cv > d.nnz:
            # kfold refuses it too, but as n_splits and after the line below.
            raise Failure(
                f"--cv {cv} asks for more folds than the {d.nnz} cells of {source}: "
                "every fold needs a cell to test on"
            )
        if task == "ranking" and relevance_threshold is not None:
            # Said before any line or fit, not after fitting the first fold.
            for _, test in splits.kfold(d, cv, random_state=seed):
                relevant_users(test, relevance_threshold)
        click.echo(f"{cv}-fold cross-validation of {model!r} on {d!r}")
        click.echo(describe_folds(d, cv, seed, task, relevance_threshold))
        with diverging:
            result = cross_validate(
                model, d, cv, random_state=seed, task=task, k=k,
                relevance_threshold=relevance_threshold, verbose=True,
            )  # fmt: skip
        print_table(
            pd.concat([result.folds, pd.DataFrame([{"fold": "mean", **result.mean().to_dict()}])])
        )
        return
    if protocol in ("temporal", "leave-last-out") and d.timestamps is None:
        # The library's words name its API; here the fix is an option.
        if protocol == "temporal":
            raise Failure(
                f"--protocol temporal needs timestamps, and {source} was read without "
                "them: name its time column with --timestamp-col"
            )
        click.echo(
            f"warning: {source} was read without timestamps (--timestamp-col), so "
            "leave-last-out holds out a random cell of each user",
            err=True,
        )
    protocol = protocol or ("random" if task == "rating" else "user")
    train_part, test = holdout(d, protocol, test_size, seed, choosable=True)
    if task == "ranking":
        relevant_users(test, relevance_threshold)  # said before the fit, not after
    start = time.perf_counter()
    with diverging:
        model.fit(train_part)
    seconds = time.perf_counter() - start
    if task == "rating":
        scores = evaluate_ratings(model, test)
    else:
        scores = evaluate_ranking(model, test, k, relevance_threshold=relevance_threshold)
    # Above the table, once it is sure to follow (a refusal stays one line).
    click.echo(
        describe_holdout(protocol, test_size, seed, train_part, test, task, relevance_threshold)
    )
    print_table(pd.DataFrame([{"model": repr(model), **scores, "fit_seconds": seconds}]))


def describe_holdout(
    protocol: str, test_size: float, seed, train, test, task: str, relevance_threshold=None
) -> str:
    """One line saying how a holdout (``evaluate``'s, ``train --test-size``'s) split, how
    many cells each part has, and how many of the test's users and items have no training
    cell (cold) and how they are scored: what a Surprise user reads off
    ``train_test_split`` and ``was_impossible``.  With a ``relevance_threshold``, of the
    users and items the ranking figures are about: those with a hit (:func:`describe_cells`).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1], [0, 0, 2]]))
        >>> train, test = holdout(data, "random", 0.4, 0)
        >>> print(describe_holdout("random", 0.4, 0, train, test, "rating"))  # doctest: +ELLIPSIS
        holdout: a random 40% of the cells (--seed 0): 3 ratings to train on, 2 to test; ...
    """
    how = {
        "random": f"a random {percent(test_size)} of the cells (--seed {seed})",
        "user": f"{percent(test_size)} of each user's cells (--seed {seed})",
        "leave-last-out": "one cell of each user, the latest when there are timestamps",
        "temporal": f"the latest {percent(test_size)} of the cells (one time cutoff)",
    }[protocol]
    return f"holdout: {how}: {describe_cells([(train, test)], task, relevance_threshold)}"


def percent(share: float) -> str:
    """``share`` (a --test-size) as a percentage with the digits it was given: whole
    percents (``:.0%``) called 0.005 "0%" and 0.125 "12%".

    Example:
        >>> percent(0.2), percent(0.125), percent(0.005), percent(0.07)
        ('20%', '12.5%', '0.5%', '7%')
    """
    return f"{share * 100:.4g}%"


def describe_folds(data, n_splits: int, seed, task: str, relevance_threshold=None) -> str:
    """One line saying how ``evaluate --cv`` deals the cells into folds and, over the
    folds, how many cells each part has and how many test users and items are cold (a
    range when the folds differ), as :func:`describe_holdout` says it of a holdout.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1], [0, 0, 2]]))
        >>> print(describe_folds(data, 2, 0, "rating"))  # doctest: +ELLIPSIS
        folds: the cells dealt at random into 2 parts (--seed 0), each the test of a model ...
        >>> print(describe_folds(data, 2, 0, "rating").split("; ")[1])  # doctest: +ELLIPSIS
        1 of its 2 users and 0 to 1 of its 2 to 3 items have no training cell (kept ...)
    """
    # The same folds cross_validate fits (kfold with the same seed), counted one at a time.
    folds = splits.kfold(data, n_splits, random_state=seed)
    return (
        f"folds: the cells dealt at random into {n_splits} parts (--seed {seed}), each the "
        f"test of a model trained on the others: "
        f"{describe_cells(folds, task, relevance_threshold)}"
    )


def describe_cells(pairs, task: str, relevance_threshold=None) -> str:
    """What :func:`describe_holdout` and :func:`describe_folds` say of their
    ``(train, test)`` pairs: the cells of each part, the test's users and items with no
    training cell, and how those are scored; a count that differs between pairs is
    given as its range.

    With a ``relevance_threshold`` (ranking), the users and items counted are those of
    the hits, the held-out cells rated at least that: the ranking figures leave out a
    user with none, so a cold user among them is not in the figures either.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> train = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 0]]))
        >>> test = Interactions.from_dense(np.array([[0, 0, 0], [0, 0, 2]]))
        >>> print(describe_cells([(train, test)], "ranking"))  # doctest: +ELLIPSIS
        3 cells to train on, 1 to test; 0 of its 1 users and 1 of its 1 items have no ...
        >>> print(describe_cells([(train, test)], "ranking", 2))  # doctest: +ELLIPSIS
        3 cells to train on, 1 to test, 1 of them hits (a rating of at least 2); 0 of the ...
    """
    counts = []
    for train, test in pairs:
        if relevance_threshold is None:
            tested_users, tested_items = test.user_counts() > 0, test.item_counts() > 0
            hits = test.nnz
        else:
            # The commands refused a split without a hit before this line (the same call).
            relevant, _ = relevant_users(test, relevance_threshold)
            tested_users = np.diff(relevant.indptr) > 0
            tested_items = np.bincount(relevant.indices, minlength=relevant.shape[1]) > 0
            hits = relevant.nnz
        counts.append(
            (
                train.nnz,
                test.nnz,
                np.count_nonzero(tested_users & (train.user_counts() == 0)),
                np.count_nonzero(tested_users),
                np.count_nonzero(tested_items & (train.item_counts() == 0)),
                np.count_nonzero(tested_items),
                hits,
            )
        )
    n_train, n_test, cold_users, users, cold_items, items, n_hits = (
        _span(c) for c in zip(*counts, strict=True)
    )
    what = "ratings" if task == "rating" else "cells"
    if relevance_threshold is None:
        line = (
            f"{n_train} {what} to train on, {n_test} to test; {cold_users} of its {users} "
            f"users and {cold_items} of its {items} items have no training cell"
        )
    else:
        line = (
            f"{n_train} {what} to train on, {n_test} to test, {n_hits} of them hits (a "
            f"rating of at least {relevance_threshold:g}); {cold_users} of the {users} users "
            f"and {cold_items} of the {items} items with a hit have no training cell"
        )
    if not any(c[2] + c[4] for c in counts):
        return line
    # Kept, as Surprise keeps its was_impossible predictions (it gives them the global
    # mean): the count says how much of the figure rests on them.
    if task == "rating":
        return (
            f"{line} (kept in the figures, predicted as the model predicts a newcomer: "
            "the training mean plus the known side's bias, for a factor model)"
        )
    return (
        f"{line} (kept in the figures: a user without one is given the popularity list, "
        "an item without one is still a candidate)"
    )


def _span(values) -> str:
    low, high = int(min(values)), int(max(values))
    return f"{low}" if low == high else f"{low} to {high}"


def holdout(data, protocol: str, test_size: float, seed, *, choosable: bool = False):
    """Split ``data`` by the named protocol (see ``latentrec evaluate --help``);
    ``choosable``: the command takes ``--protocol``, so a refusal may name another.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> train, test = holdout(Interactions.from_dense(np.ones((4, 5))), "user", 0.2, 0)
        >>> test.nnz
        4
    """
    if protocol == "random":
        return splits.random_split(data, test_size, random_state=seed)
    if protocol == "temporal":
        try:
            return splits.temporal_split(data, test_size=test_size)
        except ValueError as err:
            # Ties at the cutoff time: the split's words name no option (as tune says it).
            raise Failure(
                f"--protocol temporal cannot hold out the latest {percent(test_size)} of the "
                f"cells (--test-size {test_size:g}): {err}; ties at the cutoff time leave "
                "nothing to train on, so use --protocol random or user"
            ) from None
    if protocol == "user":
        train, test = splits.user_split(data, test_size, random_state=seed)
    else:
        train, test = splits.leave_last_out(data, random_state=seed)
    if test.nnz == 0:
        # Said now, before any fit, not as "no cells to evaluate" after one.
        most = int(data.user_counts().max(initial=0))
        if protocol == "user" and most <= 1:
            # A larger share cannot help: each user keeps their one cell to train on.
            raise Failure(
                f"--test-size {test_size:g} holds out no cell: a share of each user's cells, "
                "and no user has more than one (each keeps one to train on), so no share can"
                f"{'; use --protocol random' if choosable else ''}"
            )
        if protocol == "user":
            raise Failure(
                f"--test-size {test_size:g} holds out no cell: a share of each user's "
                f"cells, it rounds to 0 for every user (the most a user has is {most}); "
                "give a larger --test-size"
            )
        raise Failure("leave-last-out holds out no cell: no user has more than one cell")
    return train, test


@main.command()
@click.argument("model_path", metavar="MODEL")
@click.argument("source")
@data_options
@cut_off_option("Cut-off for a ranking model (or pipeline).")
@relevance_threshold_option("For a ranking model")
@click.option(
    "--unknown",
    type=click.Choice(["error", "skip", "baseline"]),
    default="error",
    show_default=True,
    help="Cells of users or items the model was not trained with: refused, naming the "
    "first (error), left out and counted (skip), or, for a rating model, predicted from "
    "what it has, mu + b_i for a new user, mu + b_u for a new item (baseline, as Surprise "
    "scores a test file).",
)
@fail_on_known_errors
def score(model_path, source, k, relevance_threshold, unknown, **opts):
    """Score a saved MODEL (or pipeline) on the held-out ratings in SOURCE.

    SOURCE is read as `train` reads one (a CSV/TSV/Parquet file, a .lrdata file, a
    MovieLens folder) and matched to the model's users and items by id.  A rating model
    gets RMSE and MAE (clipped to its scale), a ranking model NDCG, precision, recall,
    MAP and hit rate at -k, the items each user rated in training left out of their
    list.  A cell the model was trained on is refused: its figure would flatter it.

    \f
    Example: ``latentrec score model.npz probe.lrdata`` (``data convert --probe``)
    """
    from .. import load

    model = load(model_path)
    name = type(model).__name__
    # A pipeline ranks and has no predicts_ratings: reading it crashed the command.
    rates = getattr(model, "predicts_ratings", False)
    if rates:
        # Options of the ranking figures would be ignored unseen (or, the threshold,
        # refused in the library's words after the announcing line).
        refuse_ranking_options(
            f"{name} predicts ratings, and its RMSE/MAE",
            "a ranking model's figures",
            relevance_threshold,
        )
    d = load_data(source, **opts)
    check_threshold_has_ratings(relevance_threshold, d, source)
    if rates and d.implicit:
        # Every cell read without ratings is 1.0: an RMSE against it measures nothing.
        raise Failure(
            f"{name} predicts ratings and {source} was read without them (--rating-col "
            "none): its RMSE/MAE needs the held-out ratings; read them with --rating-col"
        )
    if unknown == "baseline" and not rates:
        raise Failure(
            f"--unknown baseline predicts a rating for a user or item {name} has not seen, "
            "and it ranks without predicting ratings; use --unknown skip"
        )
    test, left_out = cells_for(model, d, source, "skip" if unknown == "baseline" else unknown)
    check_heldout(model, test)  # said alone, before the line announcing the figures
    n_scored = d.nnz if unknown == "baseline" else test.nnz
    click.echo(f"scoring {name} from {model_path} on {n_scored} held-out cells of {source}")
    if unknown == "baseline" and left_out:
        baseline_figures(model, test, d, left_out, model_path)
        return
    if left_out:
        click.echo(
            f"left out {left_out} cell(s) of users or items {model_path} was not trained with "
            "(--unknown skip)",
            err=True,
        )
    held_out_figures(model, test, k, relevance_threshold=relevance_threshold)


def baseline_figures(model, known, data, n_unknown: int, model_path: str) -> None:
    """Print the RMSE and MAE of a rating ``model`` over every cell of ``data``: those of
    users and items it holds (``known``, checked as any held-out set) as it predicts them,
    the other ``n_unknown`` from its baseline part (``predict_idx`` with -1: mu + b_i for a
    new user, mu + b_u for a new item, mu for both), all clipped to its scale.

    Example:
        >>> from latentrec import Interactions
        >>> from latentrec.models import Biases
        >>> model = Biases().fit(Interactions.from_arrays([1, 1, 2], [10, 20, 10],
        ...                                               [4.0, 2.0, 5.0]))
        >>> test = Interactions.from_arrays([2, 3], [20, 10], [3.0, 4.0])
        >>> known, _ = cells_for(model, test, "t.csv", "skip")
        >>> baseline_figures(model, known, test, 1, "m.npz")  # doctest: +ELLIPSIS
        held-out RMSE ... MAE ... (2 ratings; 1 of users or items m.npz was not trained ...
    """
    evaluate_ratings(model, known)  # the known part's checks: held out, finite
    m = data.matrix.tocoo()
    users = model.users_.lookup(data.users.ids)[m.row]
    items = model.items_.lookup(data.items.ids)[m.col]
    pred = np.asarray(model.predict_idx(users, items), dtype=np.float64)
    if model.rating_scale_ is not None:
        np.clip(pred, *model.rating_scale_, out=pred)
    error = pred - m.data.astype(np.float64)
    rmse, mae = float(np.sqrt(np.mean(error**2))), float(np.mean(np.abs(error)))
    click.echo(
        f"held-out RMSE {rmse:.4f}  MAE {mae:.4f} ({m.nnz} ratings; {n_unknown} of users or "
        f"items {model_path} was not trained with, predicted from its baseline)"
    )


def cells_for(model, data, source: str, unknown: str = "error"):
    """``data``'s cells on ``model``'s users and items (matched by id), as the test set
    the evaluation takes, and how many were left out for ids the model does not hold
    (``unknown="skip"``; with ``"error"`` the first such cell is refused by name).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Biases
        >>> model = Biases().fit(Interactions.from_arrays([1, 2], [10, 20], [4.0, 2.0]))
        >>> test = Interactions.from_arrays([2, 1, 3], [10, 20, 10], [3.0, 5.0, 1.0])
        >>> part, left = cells_for(model, test, "t.csv", "skip")
        >>> part.shape, part.nnz, left
        ((2, 2), 2, 1)
    """
    m = data.matrix.tocoo()
    users = model.users_.lookup(data.users.ids)[m.row]
    items = model.items_.lookup(data.items.ids)[m.col]
    known = (users >= 0) & (items >= 0)
    left_out = int(np.count_nonzero(~known))
    if left_out and unknown == "error":
        first = int(np.flatnonzero(~known)[0])
        user, item = data.users.ids[m.row[first]], data.items.ids[m.col[first]]
        user, item = _plain(user), _plain(item)
        which = "user" if users[first] < 0 else "item"
        raise Failure(
            f"{source} has {left_out} cell(s) of users or items that {model.__class__.__name__} "
            f"was not trained with (the first: user {user!r}, item {item!r}, an unknown "
            f"{which}); score the rest with --unknown skip"
        )
    if not known.any():
        raise Failure(f"none of the cells of {source} is of a user and an item the model holds")
    order = np.lexsort((items[known], users[known]))
    rows, cols = users[known][order], items[known][order]
    values = m.data[known][order]
    twice = np.flatnonzero((rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1]))
    if twice.size:
        # Two ids of the file that are one id of the model ("007" and "7" for its user
        # 7): csr_matrix would have added their ratings into one cell without a word.
        rr, cc = m.row[known][order], m.col[known][order]
        at = int(twice[0])
        said = [
            f"user {_plain(data.users.ids[rr[j]])!r}, item {_plain(data.items.ids[cc[j]])!r}"
            for j in (at, at + 1)
        ]
        raise Failure(
            f"{source} has {twice.size} cell(s) that name one cell of the model under two "
            f"ids (the first: {said[0]} and {said[1]} are both user "
            f"{_plain(model.users_.ids[rows[at]])!r}, item "
            f"{_plain(model.items_.ids[cols[at]])!r}); write each id one way"
        )
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(model.n_users, model.n_items))
    matrix.sort_indices()
    test = Interactions(
        model.users_,
        model.items_,
        matrix,
        rating_scale=data.rating_scale,
        implicit=data.implicit,
    )
    return test, left_out


def _plain(x):
    """A NumPy scalar id as the Python value it holds, for messages (``7``, not
    ``np.int64(7)``)."""
    return x.item() if isinstance(x, np.generic) else x
