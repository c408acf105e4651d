"""``latentrec tune``: hyperparameter search, and the built-in search space per algorithm."""

from __future__ import annotations

import json
import warnings

import click

# optuna is an optional extra; evaluation.tuning imports it only when a search starts, so
# this import leaves `latentrec --help` fast and works without optuna installed.
from ..evaluation import tune as run_tune
from ..evaluation.evaluate import relevant_cells, relevant_users
from ..evaluation.tuning import (
    STOPPING_EPOCH,
    SpaceError,
    TuningWarning,
    check_metric,
    check_space,
    validation_split,
)
from ._common import (
    COMMON_PARAMS,
    Failure,
    FiniteFloatRange,
    algorithm_options,
    build_model,
    check_cut_off,
    check_model_output,
    data_options,
    fail_on_known_errors,
    load_data,
    main,
    params_from,
    parse_params,
    print_table,
    writing,
)
from .train import (
    check_threshold_has_ratings,
    describe_cells,
    percent,
    relevance_threshold_option,
    threshold_refused_for_ratings,
)

# Search spaces `latentrec tune` uses when no --space is given.  Each holds the model's
# own defaults (tests/test_cli_tune_space.py): a space that misses them cannot find what
# they already give, and the search then ends below the untuned model.  BiasedMF's step
# decays (x0.75 an epoch), so past about 30 epochs it no longer moves.
DEFAULT_SPACES = {
    "biased-mf": {
        "n_factors": ("int", 16, 256, {"log": True}),
        "learning_rate": ("float", 1e-2, 0.2, {"log": True}),
        "regularization": ("float", 1e-3, 0.3, {"log": True}),
        "n_epochs": ("int", 5, 40),
    },
    "svdpp": {
        "n_factors": ("int", 8, 128, {"log": True}),
        "learning_rate": ("float", 5e-3, 0.1, {"log": True}),
        "regularization": ("float", 1e-3, 0.3, {"log": True}),
    },
    "als": {
        "n_factors": ("int", 8, 200, {"log": True}),
        "regularization": ("float", 1e-2, 1.0, {"log": True}),
        "n_epochs": ("int", 3, 15),
    },
    "nmf": {
        "n_factors": ("int", 5, 60),
        "regularization": ("float", 1e-3, 0.3, {"log": True}),
    },
    "implicit-als": {
        "n_factors": ("int", 16, 128, {"log": True}),
        "regularization": ("float", 0.1, 100.0, {"log": True}),
        "alpha": ("float", 0.5, 50.0, {"log": True}),
    },
    "bpr": {
        "n_factors": ("int", 16, 128, {"log": True}),
        "learning_rate": ("float", 1e-3, 1e-1, {"log": True}),
        "regularization": ("float", 1e-5, 1e-1, {"log": True}),
    },
}


@main.command()
@click.argument("source")
@algorithm_options
@data_options
@click.option(
    "--trials", type=click.IntRange(min=1), default=30, show_default=True, help="Optuna trials."
)
@click.option(
    "--space",
    default=None,
    metavar="JSON|FILE",
    help='JSON search space, e.g. \'{"n_factors": ["int", 8, 128]}\', or a file holding '
    "it; a built-in space per algorithm when omitted.",
)
@click.option(
    "--metric",
    default=None,
    help="rmse (default for rating models) or e.g. ndcg@10 (default for ranking).",
)
@relevance_threshold_option("With a ranking --metric", "validation")
@click.option(
    "--validation",
    type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
    help="Share of SOURCE held out as the inner validation split.",
)
@click.option(
    "--protocol",
    type=click.Choice(["random", "user", "temporal"]),
    default="random",
    show_default=True,
    help="How the validation split is held out: random cells, that share of each user's "
    "cells, or the latest cells in time (one cutoff; needs --timestamp-col). Tune by the "
    "split the model will be judged by.",
)
@click.option(
    "--timeout",
    type=FiniteFloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds.",
)
@click.option(
    "--output",
    "-o",
    # Not click.Path(dir_okay=False): check_output refuses a directory in one line, exit 1.
    metavar="FILE",
    default=None,
    help="Refit with the best values on all of SOURCE and save the model here (with "
    "patience: for the epochs the best trial's early stopping chose).",
)
@fail_on_known_errors
def tune(
    source, trials, space, metric, relevance_threshold, validation, protocol, timeout, output,
    algorithm, extra, seed, **opts,
):  # fmt: skip
    """Search hyperparameters with optuna (TPE, pruning) on a validation split of SOURCE.

    Only SOURCE is used: keep your own test data out of it.  Ctrl-C prints the trials
    that finished and writes nothing.

    \f
    Example: ``latentrec tune ml-100k -a svdpp --trials 50 --timeout 600 -o best.npz``
    """
    if seed >= 2**32:
        # optuna's sampler takes a 32-bit seed; the search would refuse it as random_state,
        # a name the command line does not have, after the "tuning ..." line.
        raise click.BadParameter(
            f"{seed} is above 2**32 - 1, the largest seed optuna's sampler takes",
            param_hint="'--seed'",
        )
    params = params_from(opts)
    model = build_model(algorithm, params, extra, seed)
    # Hyperparameters the user fixed: searched over, they would be overridden unseen.
    fixed = {name: f"--{flag.replace('_', '-')}" for flag, name in COMMON_PARAMS.items()
             if params.get(name) is not None}  # fmt: skip
    fixed.update({name: f"--param {name}" for name in parse_params(extra)})
    if space is None:
        if algorithm not in DEFAULT_SPACES:
            raise Failure(f"no built-in search space for {algorithm}; give --space as JSON")
        # The built-in space searches the rest; what is fixed stays as given.
        grid = {k: v for k, v in DEFAULT_SPACES[algorithm].items() if k not in fixed}
        if not grid:
            raise Failure(
                f"{', '.join(fixed.values())} fix every hyperparameter of the built-in space "
                f"for {algorithm}: nothing to search (give --space)"
            )
    else:
        raw = read_space(space)
        grid = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        both = [name for name in grid if name in fixed]
        if both:
            raise Failure(
                f"{fixed[both[0]]} fixes {both[0]} and --space searches it; give one of them"
            )
        try:
            check_space(grid, model)
        except SpaceError as err:
            raise Failure(space_refusal(err, raw)) from None
    if metric is None:
        metric = "rmse" if model.predicts_ratings else "ndcg@10"
    # The search refuses these too, but only after the "tuning ..." line: say it first, alone.
    name, _, cut, _ = check_metric(metric, model)
    check_cut_off(metric, cut)
    if name in ("rmse", "mae") and relevance_threshold is not None:
        raise threshold_refused_for_ratings("a ranking --metric", f"--metric {metric}")
    if output:
        check_model_output(output, source)
    # The search needs optuna: without it, say so before reading the data and before the
    # "tuning ..." line, which would announce a search that cannot start.
    import optuna  # noqa: F401

    d = load_data(source, **opts)
    if protocol == "temporal" and d.timestamps is None:
        # The library's words name its API; here the fix is an option.
        raise Failure(
            f"--protocol temporal needs timestamps, and {source} was read without them: "
            "name its time column with --timestamp-col"
        )
    check_threshold_has_ratings(relevance_threshold, d, source)
    hits = ""
    if relevance_threshold is not None:
        if relevant_cells(d.matrix, relevance_threshold).nnz == 0:
            # Said before the "tuning ..." line; the search would say it of its split.
            raise Failure(
                f"no rating of {source} is at least --relevance-threshold "
                f"{relevance_threshold:g} (the highest is {d.matrix.data.max():g}), so no "
                "validation cell could be a hit"
            )
        hits = f" (hits: validation ratings of at least {relevance_threshold:g})"
    # The search splits the same way (same seed); split here, its refusals are said
    # before the first line, in the options' words.
    train_part, valid = split_for_trials(d, source, protocol, validation, seed)
    task = "rating" if name in ("rmse", "mae") else "ranking"
    if task == "ranking":
        scored = refuse_no_hits(valid, protocol, validation, relevance_threshold)
        counts = {"validation_users": scored}
    else:
        counts = {"validation_ratings": int(valid.nnz)}
    held = {
        "random": f"a random {percent(validation)} of the cells",
        "user": f"{percent(validation)} of each user's cells",
        "temporal": f"the latest {percent(validation)} of the cells in time",
    }[protocol]
    click.echo(
        f"tuning {model!r} on {d.nnz} cells, {trials} trials, metric {metric}{hits}; "
        f"validation: {held}"
    )
    asked = min(max(round_half_up(validation * d.nnz), 1), d.nnz - 1)
    tied = ""
    if protocol == "temporal" and valid.nnz > asked:
        # A validation set several times the share asked for changes what is tuned.
        tied = f" (ties at the cutoff time hold out {valid.nnz} cells, not the {asked} asked)"
    click.echo(
        f"validation split: {describe_cells([(train_part, valid)], task, relevance_threshold)}"
        f"{tied}"
    )
    with warnings.catch_warnings():
        # Said below in one line of our own, with what to do about it.
        warnings.simplefilter("ignore", TuningWarning)
        result = run_tune(
            model,
            d,
            grid,
            n_trials=trials,
            validation=validation,
            split=protocol,
            metric=metric,
            random_state=seed,
            timeout=timeout,
            relevance_threshold=relevance_threshold,
            verbose=True,
        )
    # Each failure is said in full on its trial's line above; the table keeps what failed
    # (its first clause), so a failed trial does not widen every row past the terminal.
    shown = result.trials.copy()
    shown["error"] = [e.split("; ")[0] if isinstance(e, str) else "" for e in shown["error"]]
    print_table(shown)
    kept = result.refit_params.get("n_epochs")
    kept = f" (its early stopping kept epoch {kept})" if kept is not None else ""
    click.echo(f"best {metric} {result.best_value:.4f} with {result.best_params}{kept}")
    if result.interrupted:
        # Ctrl-C asked to stop: no refit (minutes, maybe) after it, and no file.
        nothing = f"; nothing was written to {output} (no refit after Ctrl-C)" if output else ""
        when = f"after {len(result.trials)} of {result.planned_trials} trials"
        if len(result.trials) >= result.planned_trials:
            # Every trial ended: Ctrl-C came while the model as given was fitted after them.
            when = f"{when}, while scoring the model as given (not scored)"
        click.echo(
            f"interrupted {when}: the table holds those that finished{nothing}",
            err=True,
        )
        raise click.exceptions.Exit(1)
    if not result.improved:
        # More trials cannot help once every point of the space has been tried.
        if result.exhaustive:
            advice = "widen --space (every point of it was tried)"
        elif result.timed_out:  # more trials would be cut by the same --timeout
            advice = (
                f"raise --timeout (it ended the search after {len(result.trials)} of "
                f"{result.planned_trials} trials)"
            )
        else:
            advice = "run more --trials"
        # train refuses patience (its held-out cells must not choose the epoch): the
        # epochs early stopping chose on the validation split are what to give it.
        kept = result.default_refit_params.get("n_epochs")
        train = f"latentrec train --epochs {kept}, no patience" if kept else "latentrec train"
        click.echo(
            f"warning: tuning found nothing better than the model as given ({metric} "
            f"{result.best_value:.4f} vs {result.default_value:.4f} on the same validation "
            f"split); use it ({train}) or {advice}",
            err=True,
        )
    if output:
        figures = {f"validation_{metric}": float(result.best_value)}
        # Which split the figure is of: a temporal one's is not a random one's.
        figures.update(validation_protocol=protocol, validation_share=float(validation))
        figures.update(counts)
        if relevance_threshold is not None:
            figures["validation_relevance_threshold"] = float(relevance_threshold)
        if result.default_value == result.default_value:  # NaN when the default diverged
            figures[f"validation_{metric}_as_given"] = float(result.default_value)
        if result.improved:
            best, which, refit = result.best_model(), "the best values", result.refit_params
            stopped = STOPPING_EPOCH
        else:
            # The search scored worse than the model as given on the same split: -o
            # writes the better of the two, which is the one given.
            best, which = result.model_as_given(), "its own values (as given)"
            refit, stopped = (
                result.default_refit_params,
                "its own stopping epoch on the validation split",
            )
            figures[f"validation_{metric}"] = float(result.default_value)
            figures[f"validation_{metric}_best_trial"] = float(result.best_value)
        best.record_metrics(**figures)
        with writing(output):
            best.save(output)
        # The refit has no validation split to stop on: it runs the epochs that were scored.
        epochs = f" with n_epochs={refit['n_epochs']}, {stopped} (patience off)," if refit else ""
        click.echo(
            f"model with {which} refitted on all of {source}{epochs} and written to {output}"
        )


def round_half_up(x: float) -> int:
    """As the splits round a share of cells (half up, not to even).

    Example:
        >>> round_half_up(2.5), round_half_up(2.4)
        (3, 2)
    """
    return int(x + 0.5)


def split_for_trials(d, source, protocol: str, validation: float, seed):
    """The validation split ``tune`` scores its trials on, refused in the options' words.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> data = Interactions.from_dense(np.eye(3))
        >>> split_for_trials(data, "r.csv", "user", 0.5, 0)
        Traceback (most recent call last):
        ...
        latentrec.cli._common.Failure: --protocol user holds out no cell of r.csv: no user ...
    """
    try:
        return validation_split(d, protocol, validation, seed)
    except ValueError as err:
        if protocol == "temporal":
            raise Failure(
                f"--protocol temporal cannot hold out the latest {percent(validation)} of "
                f"{source} (--validation {validation:g}): {err}; ties at the cutoff time "
                "leave nothing to train on, so use --protocol random or user"
            ) from None
        most = int(d.user_counts().max(initial=0))
        if most <= 1:
            raise Failure(
                f"--protocol user holds out no cell of {source}: no user has more than "
                "one cell (each keeps one to train on); use --protocol random"
            ) from None
        raise Failure(
            f"--validation {validation:g} holds out no cell with --protocol user: a share "
            f"of each user's cells, it rounds to 0 for every user (the most a user has is "
            f"{most}); give a larger --validation"
        ) from None


def refuse_no_hits(valid, protocol: str, validation: float, relevance_threshold) -> int:
    """The number of validation users with a hit (a cell at least ``relevance_threshold``,
    any cell when None), refusing none in the options' words.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> valid = Interactions.from_dense(np.array([[2, 0], [0, 5]]))
        >>> refuse_no_hits(valid, "temporal", 0.1, 4)
        1
    """
    try:
        _, users = relevant_users(valid, relevance_threshold)
    except ValueError:
        top = float(valid.matrix.data.max()) if valid.nnz else float("nan")
        raise Failure(
            f"no validation cell of --protocol {protocol} (--validation {validation:g}) is at "
            f"least --relevance-threshold {relevance_threshold:g} (the highest is {top:g}), so "
            "no user has a hit to rank; give another --protocol, a larger --validation or a "
            "lower --relevance-threshold"
        ) from None
    return int(users.size)


# The forms of an entry of --space, as JSON.
SPACE_FORMS = (
    '["int", low, high], ["float", low, high] (either with {"log": true} or {"step": s} '
    'after them) or ["categorical", [choice, ...]]'
)


def read_space(text: str) -> dict:
    """``--space``: a JSON object, or the name of a file holding one.

    Example:
        >>> read_space('{"n_factors": ["int", 8, 64]}')
        {'n_factors': ['int', 8, 64]}
    """
    import os

    source = "--space"
    if not text.lstrip().startswith(("{", "[")) and os.path.isdir(text):
        # Said as what it is: read as JSON it failed "no file by that name".
        raise Failure(f"--space {text} is a folder; give a JSON object or a file holding one")
    if not text.lstrip().startswith(("{", "[")) and os.path.isfile(text):
        try:
            with open(text, encoding="utf-8") as f:
                body = f.read()
        except OSError as err:
            raise Failure(f"--space {text}: cannot read it: {err.strerror or err}") from None
        except UnicodeDecodeError as err:
            raise Failure(
                f"--space {text}: cannot read it: not UTF-8 text ({err.reason} at byte {err.start})"
            ) from None
        source, text = f"--space {text}", body
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        looks_like_path = source == "--space" and not text.lstrip().startswith(("{", "["))
        also = " (or a file holding one; no file by that name)" if looks_like_path else ""
        raise Failure(f"{source} must be a JSON object{also}: {err}") from None
    if not isinstance(raw, dict):
        raise Failure(
            f"{source} must be a JSON object of name: [kind, low, high], such as "
            f'\'{{"n_factors": ["int", 8, 128]}}\', got {text.strip()[:200]}'
        )
    return raw


def space_refusal(err: SpaceError, raw: dict) -> str:
    """The library's refusal of a search space, said in the JSON ``--space`` is written in.

    Example:
        >>> err = SpaceError("n_factors", ("int", 9, 2), "low 9 is above high 2")
        >>> space_refusal(err, {"n_factors": ["int", 9, 2]})
        '--space "n_factors": ["int", 9, 2]: low 9 is above high 2'
    """
    if err.name is None:
        return '--space is empty: give at least one "name": [kind, low, high]'
    entry = f"{json.dumps(err.name)}: {json.dumps(raw.get(err.name))}"
    forms = f"; use {SPACE_FORMS}" if err.shows_forms else ""
    return f"--space {entry}: {err.reason}{forms}"
