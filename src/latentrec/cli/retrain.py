"""``latentrec retrain`` and ``latentrec models`` (list, publish, rollback, prune).

``retrain`` runs :func:`latentrec.service.retrain.retrain` on a ratings store and a model
directory, and records how it ended there (:func:`records_retrain`); ``models`` looks
after the directory's versions (:class:`latentrec.service.versions.ModelDirectory`).
Both exit 0 whether or not a candidate was published; a failure prints one line and
exits 1.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
from pathlib import Path

import click
import pandas as pd

from ..errors import ModelFileError
from ..pipeline import load as load_model_or_pipeline
from ..registry import ALIASES

# Model versions need no web framework or database (latentrec.service.versions loads with
# the core dependencies); the retraining run does, so it is imported in the command.
from ..service.versions import (
    RETRAIN_STATUS,
    VERSIONS,
    ModelDirectory,
    cannot_serve,
    record_retrain,
)
from ._common import (
    Failure,
    build_model,
    check_cut_off,
    check_output,
    fail_on_known_errors,
    main,
    missing_extra,
    parse_params,
    print_table,
)
from .store import check_store_exists, open_or_fail, store_option


def lookups_fail(fn):
    """Report a ``LookupError`` (no such version, nothing published) as a one-line failure.

    Put it under :func:`fail_on_known_errors`, which reports the other known errors.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LookupError as err:
            if isinstance(err, KeyError):  # UnknownIdError and friends: the common path
                raise
            raise Failure(str(err)) from None

    return wrapper


# The keys of every ``retrain --json`` object, in this order: a success, a refusal and a
# failure alike, so that a program reading them needs no case for each (a failure was
# ``published``, ``version`` and ``error`` alone, and reading its ``metric`` failed).
JSON_KEYS = (
    "published",
    "version",
    "metric",
    "candidate",
    "current",
    "current_version",
    "reason",
    "cutoff",
    "n_train",
    "n_holdout",
    "n_seen_by_current",
    "min_holdout",
    "kind",
    "kind_reason",
    "error",
)


def result_json(result, min_holdout: int) -> str:
    """The JSON object of a retrain that ran (published or not): every key of
    :data:`JSON_KEYS`, ``error`` null.

    Example:
        >>> from latentrec.service.retrain import RetrainResult
        >>> r = RetrainResult(False, None, {"rmse": 1.2}, {"rmse": 0.9}, "worse", 50.0)
        >>> answer = json.loads(result_json(r, 100))
        >>> tuple(answer) == JSON_KEYS, answer["candidate"], answer["error"]
        (True, {'rmse': 1.2}, None)
    """
    answer = {
        "published": result.published,
        "version": None if result.version is None else result.version.name,
        "metric": result.metric,
        "candidate": result.candidate_metrics,
        "current": result.current_metrics,
        "current_version": result.current_version,
        "reason": result.reason,
        # NaN when nothing could be read to hold out: null, as JSON has no NaN.
        "cutoff": result.cutoff if math.isfinite(result.cutoff) else None,
        "n_train": result.n_train,
        "n_holdout": result.n_holdout,
        "n_seen_by_current": result.n_seen_by_current,
        "min_holdout": min_holdout,
        "kind": result.kind,
        "kind_reason": result.kind_reason,
        "error": None,
    }
    return json.dumps({key: answer[key] for key in JSON_KEYS})


def failure_json(message: str) -> str:
    """The JSON object of a failed retrain: the keys of a success (:data:`JSON_KEYS`),
    ``published`` false, ``error`` the one line, every other key null (no figure, no
    cutoff, no count exists for a run that failed).

    Example:
        >>> answer = json.loads(failure_json("no store at typo.db"))
        >>> tuple(answer) == JSON_KEYS, answer["published"], answer["metric"], answer["error"]
        (True, False, None, 'no store at typo.db')
    """
    answer = dict.fromkeys(JSON_KEYS)
    answer.update(published=False, error=message)
    return json.dumps(answer)


def errors_as_json(fn):
    """With ``--json``, a failure is one JSON object on standard output (:func:`failure_json`:
    the keys of a success, ``published`` false, ``error`` its one line, the others null)
    and exit code 1, as a success is one JSON object: a program reading the output (the
    service's schedule) never gets text.

    Put it above :func:`fail_on_known_errors`, which turns every error into a
    :class:`Failure` first.

    Example:
        >>> @click.command()
        ... @click.option("--json", "as_json", is_flag=True)
        ... @errors_as_json
        ... def cmd(as_json):
        ...     raise Failure("no store at typo.db")
        >>> from click.testing import CliRunner
        >>> result = CliRunner().invoke(cmd, ["--json"])
        >>> result.exit_code, json.loads(result.output)["error"]
        (1, 'no store at typo.db')
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except click.ClickException as err:
            if not kwargs.get("as_json"):
                raise
            click.echo(failure_json(err.message))
            raise SystemExit(1) from None

    return wrapper


def records_retrain(fn):
    """Record how the retrain ended in its model directory's ``last-retrain.json``
    (``by`` "command"), a failure included, so that the service's ``/health`` shows the
    latest round whoever ran it.  The command returns its ``RetrainResult``.

    Left to the schedule of ``serve --retrain-every`` when it started the command (its
    ``--scheduled``, taken here), which records the round itself; and nothing is recorded
    where there is no model directory (a failed first retrain removes the folder it
    made).  A record that cannot be written is a warning on standard error.  Put it
    under :func:`errors_as_json` and above :func:`fail_on_known_errors`, whose one-line
    failures it records as they are shown.

    Example:
        >>> import tempfile
        >>> from latentrec.service.versions import read_retrain_status
        >>> folder = tempfile.mkdtemp()
        >>> @records_retrain
        ... def cmd(model_dir):
        ...     raise Failure("no store at typo.db")
        >>> try:
        ...     cmd(model_dir=folder)
        ... except Failure:
        ...     pass
        >>> shown = read_retrain_status(folder)
        >>> shown["ok"], shown["reason"], shown["by"]
        (False, 'no store at typo.db', 'command')
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs.pop("scheduled", False):
            return fn(*args, **kwargs)
        folder = kwargs["model_dir"]
        existed = Path(folder).is_dir()
        try:
            result = fn(*args, **kwargs)
        except BaseException as err:
            note(folder, existed, record_retrain(folder, "command", error=err))
            raise
        note(folder, existed, record_retrain(folder, "command", result=result))
        return result

    def note(folder, existed, problem):
        if problem is not None and (existed or Path(folder).is_dir()):
            click.echo(
                f"warning: the retrain's end was not recorded in {RETRAIN_STATUS}: {problem}",
                err=True,
            )

    return wrapper


class JsonFailures(click.Command):
    """A command whose ``--json`` covers its option errors too: a store refused by
    ``--store``'s check, a missing or bad option (found while the command line is read,
    before :func:`errors_as_json` runs) is one JSON object on standard output, with
    click's exit code (1 for a refused value, 2 for a usage mistake).

    Example:
        >>> @click.command(cls=JsonFailures)
        ... @click.option("--n", type=int)
        ... @click.option("--json", "as_json", is_flag=True)
        ... def cmd(n, as_json):
        ...     pass
        >>> from click.testing import CliRunner
        >>> result = CliRunner().invoke(cmd, ["--n", "x", "--json"])
        >>> result.exit_code, json.loads(result.stdout)["error"][:32]
        (2, "Invalid value for '--n': 'x' is ")
    """

    def make_context(self, info_name, args, parent=None, **extra):
        as_json = "--json" in args
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as err:
            if not as_json:
                raise
            click.echo(failure_json(err.format_message()))
            raise SystemExit(err.exit_code) from None


def retrain_modules():
    """``(retrain, follow_parent)``, imported when ``latentrec retrain`` runs.

    They need the 'serve' extra (the ratings store's SQLAlchemy, the service's FastAPI):
    imported at the top, they would stop every ``latentrec`` command, ``--help`` included,
    in an install without it (``latentrec[spark]`` on a cluster node, say).  A missing one
    is a one-line failure naming the extra.

    Example:
        >>> run_retrain, follow_parent = retrain_modules()
        >>> run_retrain.__module__
        'latentrec.service.retrain'
    """
    try:
        from ..service.retrain import retrain as run_retrain
        from ..service.schedule import follow_parent
    except ImportError as err:
        raise Failure(missing_extra(err)) from None
    return run_retrain, follow_parent


def check_options(**options) -> None:
    """The retrain comparison options checked (``service.retrain.check_options``),
    imported when ``latentrec retrain`` runs, as :func:`retrain_modules`.

    Example:
        >>> check_options(holdout=0.1, tolerance=0.0, min_holdout=100, metric=None)
    """
    from ..service.retrain import check_options as check

    check(**options)


def model_dir_option(fn):
    # A plain path, checked by the command: click's own check of a file given here
    # (file_okay=False) was a three-line usage error and exit code 2, not bad input's
    # one line and exit code 1.
    return click.option(
        "--model-dir",
        "model_dir",
        type=click.Path(),
        required=True,
        callback=not_a_file,
        help="The folder of model versions (created by the first publish).",
    )(fn)


def not_a_file(ctx, param, value):
    """``--model-dir``'s check: a file given as the folder is refused in one line, exit
    code 1 (``--json`` answers it as one JSON object, as every refused value).

    Example:
        >>> import tempfile
        >>> path = tempfile.mkstemp(suffix=".txt")[1]
        >>> try:
        ...     not_a_file(None, None, path)
        ... except Failure as err:
        ...     print(err.message.replace(path, "F"))
        --model-dir F is a file, not a folder of model versions
    """
    if value is not None and Path(value).exists() and not Path(value).is_dir():
        raise Failure(f"--model-dir {value} is a file, not a folder of model versions")
    return value


def existing_directory(path: str) -> ModelDirectory:
    """The model directory at ``path``, which must exist (reading never creates one).

    A folder without the ``versions`` folder that the first publish makes is refused
    too: opening it as a model directory created one there (``models list`` on any
    folder left a ``versions`` folder in it), and in a folder the user may not write,
    failed with "[Errno 13] Permission denied".

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> try:
        ...     existing_directory(folder)
        ... except Failure as err:
        ...     print(err.message.replace(folder, "F"))
        nothing is published in F (it has no versions folder); publish a model into it first
        >>> os.listdir(folder)
        []
    """
    if not Path(path).is_dir():
        raise Failure(f"no model directory at {path}; publish a model into it first")
    if not (Path(path) / VERSIONS).is_dir():
        raise Failure(
            f"nothing is published in {path} (it has no {VERSIONS} folder); "
            "publish a model into it first"
        )
    return ModelDirectory(path)


@main.command(cls=JsonFailures)
@store_option
@model_dir_option
@click.option(
    "--algorithm",
    "-a",
    type=click.Choice(sorted(ALIASES)),
    default=None,
    help="Train this algorithm [default: the current version's, with its hyperparameters].",
)
@click.option(
    "--param",
    "extra",
    multiple=True,
    metavar="NAME=VALUE",
    help="A hyperparameter of the candidate, repeatable (on top of the current "
    "version's when --algorithm is not given).",
)
@click.option(
    "--holdout",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of the most recent ratings held out to compare the two models on.",
)
@click.option(
    "--tolerance",
    type=float,
    default=0.0,
    show_default=True,
    help="How much worse (absolute) the candidate's figure may be and still be published.",
)
@click.option(
    "--min-holdout",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Fewest held-out ratings (users, for a ranking metric) to trust a comparison "
    "with the current version on; with fewer, the current version stays.",
)
@click.option(
    "--metric",
    default=None,
    help="rmse, mae, or e.g. ndcg@10 [default: rmse for rating models, else ndcg@10].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="The candidate's random_state (as train's --seed, a whole number >= 0).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON object with the keys "
    + ", ".join(JSON_KEYS)
    + " ('candidate' and 'current': each model's held-out figures; 'cutoff': the time "
    "held out from, in the store's units). A failure has the same keys: 'published' "
    "false, 'error' its one line (null on a success) and every other key null; exit "
    "code 1, or 2 for a missing or mistyped option.",
)
@click.option(
    "--scheduled",
    is_flag=True,
    hidden=True,
    help="Started by serve --retrain-every, whose schedule records the round: record nothing.",
)
@errors_as_json
@records_retrain
@fail_on_known_errors
@lookups_fail
def retrain(
    store_url, model_dir, algorithm, extra, holdout, tolerance, min_holdout, metric, seed, as_json
):
    """Train a candidate on the ratings store; publish it if it is not worse.

    The most recent --holdout share of the ratings (those the current model was not
    trained on) is held out; a candidate trained on the rest and the current version
    are scored on it; the candidate is refitted on everything and published as a new
    version only if its figure is not worse by more than --tolerance.  A comparison on
    fewer than --min-holdout held-out ratings is not trusted: the current version stays.
    A current pipeline is refitted the way it was built (its models on the earlier ratings, its
    ranker on the latest 20%) unless --algorithm names a single model to train instead.
    Exit code 0 whether or not it was published.  How it ended, a failure included, is
    recorded in the model directory's last-retrain.json, which the service's /health shows.

    \f
    Example: ``latentrec retrain --store ratings.db --model-dir models/``
    """
    run_retrain, follow_parent = retrain_modules()
    follow_parent()
    # All of them first, so that a second mistake is not found only on the next try
    # (the first model's --algorithm, the store and the folder are checked below).
    check_options(holdout=holdout, tolerance=tolerance, min_holdout=min_holdout, metric=metric)
    if metric is not None:
        from ..evaluation.tuning import parse_metric

        check_cut_off(metric, parse_metric(metric)[2])
    # Before the model directory is made (opening one creates its folder): a mistyped
    # store leaves nothing behind, neither an empty store nor a model folder.
    check_store_exists(store_url)
    check_output(model_dir, folder=True)  # what opening it would create, or write in
    fresh = not Path(model_dir).exists()
    md = ModelDirectory(model_dir)
    try:
        model = candidate(md, algorithm, extra, seed)
        with open_or_fail(store_url) as store:
            result = run_retrain(
                store,
                md,
                model=model,
                holdout=holdout,
                tolerance=tolerance,
                metric=metric,
                random_state=seed,
                min_holdout=min_holdout,
                record=None,  # records_retrain does, the checks before this run included
            )
    except BaseException:
        if fresh:  # made here only to be read: a failed first retrain leaves no empty folder
            md.remove_if_empty()
        raise
    if as_json:
        click.echo(result_json(result, min_holdout))
        return result
    if math.isfinite(result.cutoff):
        click.echo(holdout_line(result))
    click.echo(result.summary())
    return result


def holdout_line(result) -> str:
    """What was held out, and the kind of feedback read, in words; store timestamps are
    Unix seconds, shown in UTC.

    Example:
        >>> from latentrec.service.retrain import RetrainResult
        >>> r = RetrainResult(False, None, {}, {}, "", 891_382_000.0, n_train=95000,
        ...                   n_holdout=5000, n_seen_by_current=5000, kind="explicit",
        ...                   kind_reason="the kind v000001 was trained on")
        >>> print(holdout_line(r))  # doctest: +NORMALIZE_WHITESPACE
        scored on 5000 ratings from 1998-03-31 22:06 UTC on (5000 more from then on were
        in the current model's training data, left out); candidate trained on 95000
        explicit ratings (the kind v000001 was trained on)
        >>> r = RetrainResult(False, None, {}, {}, "", 891_382_000.0, n_train=100000,
        ...                   n_seen_by_current=10000, kind="explicit", fitted=False)
        >>> print(holdout_line(r).split("); ")[1])
        no candidate trained on 100000 explicit ratings
    """
    when = _dt.datetime.fromtimestamp(result.cutoff, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    line = (
        f"scored on {result.n_holdout} ratings from {when} UTC on ({result.n_seen_by_current} "
        "more from then on were in the current model's training data, left out); "
    )
    # A retrain that stops before fitting (nothing new, too few to compare on) must not
    # say a candidate was trained: the reason below says why none was.
    counted = f"{result.n_train}" + ("" if result.kind is None else f" {result.kind} ratings")
    if result.fitted:
        line += f"candidate trained on {counted}"
    else:
        line += f"no candidate trained on {counted}"
    if result.kind is not None and result.kind_reason:
        line += f" ({result.kind_reason})"
    return line


def candidate(md: ModelDirectory, algorithm, extra, seed):
    """The estimator to train: ``--algorithm`` with ``--param``s, or ``None`` (the current
    version's recipe, which :func:`retrain` copies) unless ``--param`` changes it.

    A current pipeline is refitted with its own recipe (``None``); ``--algorithm`` trains
    that single model instead, compared with the pipeline on a ranking metric.
    """
    version = md.current()
    if algorithm is not None:
        return build_model(algorithm, {}, extra, seed)
    if version is None:
        raise Failure(
            f"nothing is published in {md.path} yet; give --algorithm for the first model "
            "(or seed it: latentrec models publish MODEL_FILE --model-dir DIR)"
        )
    if not extra:
        return None
    if version.algorithm == "Pipeline":
        raise Failure(
            f"--param sets a single model's hyperparameters, and the current version of "
            f"{md.path} ({version.name}) is a pipeline, which is refitted with its own "
            "recipe: leave out --param, or give --algorithm to train a single model"
        )
    return md.load_version(version)[1].clone().set_params(**parse_params(extra))


@main.group()
def models():
    """The versions in a model directory: list, publish, rollback, prune."""


@models.command("list")
@model_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON records.")
@click.option(
    "--rehash",
    is_flag=True,
    help="Hash every model file, not only those changed since a listing found them intact.",
)
@fail_on_known_errors
@lookups_fail
def list_versions(model_dir, as_json, rehash):
    """List the versions, oldest first; the current one is marked with *."""
    md = existing_directory(model_dir)
    try:
        current = md.read_pointer()
    except ModelFileError as err:
        # The listing is what one reads to pick the version that repairs the pointer.
        click.echo(f"warning: {err}", err=True)
        current = None
    damaged: list[str] = []
    versions = md.versions(damaged)
    for problem in damaged:
        click.echo(f"warning: left out of the list: {problem}", err=True)
    # Each file is checked against the digest recorded at its publish: a file written
    # over since would be listed under the old version's figures.  Only files changed
    # since a listing found them intact are hashed (a listing of fifty large versions
    # hashed gigabytes each time); a load still hashes the whole file.
    changed: dict[str, str] = {}
    pruned: set[str] = set()
    checks = md.verify_many(versions, rehash=rehash)
    for i, (v, checked) in enumerate(zip(versions, checks, strict=True)):
        if not isinstance(checked, ModelFileError):
            versions[i] = checked
        elif not v.path.parent.exists():
            pruned.add(v.name)  # its folder went between the listing and the check
        else:
            changed[v.name] = str(checked)
            click.echo(f"warning: {v.name} is damaged: {checked}", err=True)
    versions = [v for v in versions if v.name not in pruned]
    refused = _current_refused(md, versions, current, changed)
    if refused is not None:
        click.echo(f"warning: {refused}", err=True)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {**v.to_dict(), "current": v.name == current, "damaged": changed.get(v.name)}
                    for v in versions
                ]
            )
        )
        return
    if not versions:
        click.echo(f"no versions in {model_dir}")
        return
    rows = [
        {
            "": "*" if v.name == current else "",
            "version": v.name,
            "created": _dt.datetime.fromtimestamp(v.created, _dt.timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "algorithm": v.algorithm,
            # A changed file's recorded figures are not its model's.
            "figure": "DAMAGED" if v.name in changed else figure_text(v.metrics),
            "scored on": "" if v.name in changed else scored_text(v.metrics),
            "note": v.note,
        }
        for v in versions
    ]
    print_table(pd.DataFrame(rows))


# The kinds serve may refuse for what they are (cannot_serve): only a current version of
# one of these is loaded by a listing to say so; any other kind is served.
MAY_BE_REFUSED = ("Popularity", "ItemKNN", "GlobalMean", "Pipeline", "FactorModel")


def _current_refused(md, versions, current, changed) -> str | None:
    """Why ``latentrec serve`` refuses the current version, when it does (one published
    before publish refused its kind): said by the listing an operator reads, with the
    way out."""
    version = next((v for v in versions if v.name == current), None)
    if version is None or version.name in changed or version.algorithm not in MAY_BE_REFUSED:
        return None
    try:
        _, model = md.load_version(version)
    except (ModelFileError, OSError):
        return None  # a load's own failure is said by serve and by rollback, by name
    refused = cannot_serve(model)
    if refused is None:
        return None
    return (
        f"the current version {version.name} is one latentrec serve refuses ({refused}): "
        "workers keep the model they had and a new one has none; roll back to one it "
        "serves (latentrec models rollback --to VERSION) or retrain with another "
        "algorithm (latentrec retrain -a ...)"
    )


# Figures recorded beside the scores that are not scores themselves: the share held out,
# the threshold a hit needed, the model as given before tuning, the best trial's figure.
NOT_A_FIGURE = ("_share", "_relevance_threshold", "_as_given", "_best_trial")
# The counts a figure was computed on, as `train --test-size` records them.
COUNTS = {
    "holdout_ratings": "ratings",
    "holdout_users": "users",
    "validation_ratings": "ratings",
    "validation_users": "users",
}


def figure_text(metrics: dict) -> str:
    """The figure a version was published on, labelled by what it is, or ``""``.

    A retrained version's is the metric it was compared on (``rmse 0.9123``, on the
    most recent ratings); a model trained with ``train --test-size`` has held-out
    figures (``holdout_rmse 0.9123``); one written by ``tune -o`` has the figure of its
    validation split (``validation_rmse 0.8034``).  The first score of those is shown.

    Example:
        >>> figure_text({"metric": "rmse", "candidate": {"rmse": 0.91234}})
        'rmse 0.9123'
        >>> figure_text({"holdout_share": 0.2, "holdout_rmse": 0.5, "holdout_ratings": 60})
        'holdout_rmse 0.5000'
        >>> figure_text({"validation_rmse": 0.80337, "validation_rmse_as_given": 0.8353})
        'validation_rmse 0.8034'
        >>> figure_text({"fit_seconds": 0.1})
        ''
    """
    name = metrics.get("metric")
    value = (metrics.get("candidate") or {}).get(name) if name else None
    if _is_number(value):
        return f"{name} {value:.4f}"
    for key, value in metrics.items():
        if (
            key.startswith(("holdout_", "validation_"))
            and key not in COUNTS
            and not key.endswith(NOT_A_FIGURE)
            and _is_number(value)
        ):
            return f"{key} {value:.4f}"
    return ""


def scored_text(metrics: dict) -> str:
    """How many held-out ratings (or, for a ranking metric, users) a version's figure was
    computed on, e.g. ``300 ratings``, or ``""`` when it records none (``tune -o``
    records no count for its validation split before it recorded ``validation_ratings``
    or ``validation_users``); ``tune -o``'s count says its split, e.g. ``24 ratings,
    temporal split``.

    Example:
        >>> scored_text({"metric": "rmse", "candidate": {"rmse": 0.9, "n": 300}})
        '300 ratings'
        >>> scored_text({"metric": "ndcg@10", "candidate": {"ndcg@10": 0.2, "n_users": 45}})
        '45 users'
        >>> scored_text({"holdout_rmse": 0.5, "holdout_ratings": 20000})
        '20000 ratings'
        >>> scored_text({"holdout_ndcg@10": 0.6, "holdout_users": 120})
        '120 users'
        >>> scored_text({"validation_rmse": 0.5})
        ''
        >>> scored_text({"validation_rmse": 0.5, "validation_protocol": "temporal",
        ...              "validation_ratings": 24})
        '24 ratings, temporal split'
    """
    figures = metrics.get("candidate") or {}
    for key, unit in (("n", "ratings"), ("n_users", "users")):
        value = figures.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value} {unit}"
    for key, unit in COUNTS.items():
        value = metrics.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            protocol = metrics.get("validation_protocol") if key.startswith("validation_") else None
            # A temporal split's figure is not a random one's: the list says which.
            split = f", {protocol} split" if isinstance(protocol, str) else ""
            return f"{value} {unit}{split}"
    return ""


def _is_number(value) -> bool:
    """A finite JSON number (not a bool), as a figure must be to be shown.

    Example:
        >>> _is_number(0.5), _is_number(1), _is_number(True), _is_number(float("nan"))
        (True, True, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)  # an int may be too big for one


@models.command("publish")
# No click.Path check: its refusal is a three-line usage error (exit 2); the loader says
# "X is a folder, not a model file" in one line.
@click.argument("model_file")
@model_dir_option
@click.option("--note", default=None, help="A note kept with the version.")
@fail_on_known_errors
@lookups_fail
def publish(model_file, model_dir, note):
    """Publish MODEL_FILE (from `latentrec train`, or a saved pipeline) as a new version
    and make it current.  A model whose lists cannot be ranked (global-mean, or a
    pipeline of such candidates), which `latentrec serve` refuses, is not published.

    \f
    Example: ``latentrec models publish model.npz --model-dir models/``
    """
    check_output(model_dir, folder=True)  # before the model is read: said first
    model = load_model_or_pipeline(model_file)
    # Made current, it would be the version every worker refuses to load (a new one
    # keeps no model at all): refused here, in the service's words, nothing written.
    refused = cannot_serve(model)
    if refused is not None:
        raise Failure(f"{model_file} is not published, as latentrec serve refuses it: {refused}")
    md = ModelDirectory(model_dir)
    metrics = dict(getattr(model, "metrics_", None) or {})
    version = md.publish(model, metrics=metrics, note=note or f"published from {model_file}")
    click.echo(f"published {version.name} ({version.algorithm}); it is now current")


@models.command("rollback")
@model_dir_option
@click.option(
    "--to", "to", default=None, help="The version to go back to [default: the one before]."
)
@fail_on_known_errors
@lookups_fail
def rollback(model_dir, to):
    """Make an older version current again (the one before the current, or --to NAME)."""
    md = existing_directory(model_dir)
    try:
        before = md.read_pointer()
    except ModelFileError:
        if to is None:
            raise
        before = "a damaged pointer"  # what --to repairs, as the damage message says
    version = md.rollback(to, refuse=cannot_serve)
    if version.name == before:
        click.echo(f"{version.name} is already current")
    else:
        click.echo(f"current version: {version.name} (was {before})")


@models.command("prune")
@model_dir_option
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    required=True,
    help="How many of the newest versions to keep.",
)
@fail_on_known_errors
@lookups_fail
def prune(model_dir, keep):
    """Delete old versions, keeping the --keep newest and always the current one."""
    md = existing_directory(model_dir)
    removed = md.prune(keep)
    click.echo(f"removed {len(removed)} version(s){': ' + ', '.join(removed) if removed else ''}")
