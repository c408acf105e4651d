"""The ``latentrec`` command line: data, train, evaluate, recommend, similar, explain, demo.

Every command has ``--help``.  Exit codes: 0 success, 1 a failure the message explains
(bad data, unknown id, damaged model file), 2 a usage error.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

# evaluation.tuning imports optuna and plots imports matplotlib only when called, so these
# top-level imports cost `latentrec --help` nothing.
from . import ModelFileError, load, plots
from .data import DataError, Interactions, UnknownIdError, splits
from .datasets import fetch_movielens, movielens
from .demo import run_demo
from .evaluation import cross_validate, evaluate_ranking, evaluate_ratings
from .evaluation import tune as run_tune
from .registry import ALIASES, model_class
from .reports import factor_report, user_profile

# Search spaces `latentrec tune` uses when no --space is given.
DEFAULT_SPACES = {
    "biased-mf": {
        "n_factors": ("int", 16, 256, {"log": True}),
        "learning_rate": ("float", 1e-3, 5e-2, {"log": True}),
        "regularization": ("float", 1e-3, 0.3, {"log": True}),
        "n_epochs": ("int", 10, 80),
    },
    "svdpp": {
        "n_factors": ("int", 8, 128, {"log": True}),
        "learning_rate": ("float", 1e-3, 3e-2, {"log": True}),
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

# Long options shared by the training commands, mapped to hyperparameter names.
COMMON_PARAMS = {
    "factors": "n_factors",
    "epochs": "n_epochs",
    "learning_rate": "learning_rate",
    "regularization": "regularization",
}


class Failure(click.ClickException):
    """An error the user can fix; printed without a traceback, exit code 1."""


def _fail_on_known_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (DataError, UnknownIdError, ModelFileError, FileNotFoundError) as err:
            raise Failure(str(err)) from None
        except ValueError as err:
            raise Failure(str(err)) from None

    return wrapper


def _data_options(fn):
    options = [
        click.option(
            "--user-col",
            default="user_id",
            show_default=True,
            help="User id column of a ratings file.",
        ),
        click.option(
            "--item-col",
            default="item_id",
            show_default=True,
            help="Item id column of a ratings file.",
        ),
        click.option(
            "--rating-col",
            default="rating",
            show_default=True,
            help="Rating column; 'none' for implicit data.",
        ),
        click.option("--timestamp-col", default=None, help="Optional timestamp column."),
        click.option("--sep", default=None, help="Field separator (sniffed when omitted)."),
        click.option(
            "--rating-scale",
            nargs=2,
            type=float,
            default=None,
            help="Lowest and highest valid rating, e.g. --rating-scale 1 5.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def load_data(
    source: str,
    user_col="user_id",
    item_col="item_id",
    rating_col="rating",
    timestamp_col=None,
    sep=None,
    rating_scale=None,
) -> Interactions:
    """A known dataset name (``ml-100k`` / ``100k``) or a CSV/TSV/Parquet ratings file.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("user_id,item_id,rating\\n1,2,4\\n")
        >>> load_data(path).nnz
        1
    """
    if source.lower() in ("ml-100k", "100k", "movielens-100k"):
        return movielens("100k")
    path = Path(source)
    if not path.exists():
        raise Failure(f"no dataset named {source!r} and no such file; use ml-100k or a path")
    rating = None if str(rating_col).lower() == "none" else rating_col
    kwargs = {"rating_scale": tuple(rating_scale) if rating_scale else None}
    if path.suffix.lower() in (".parquet", ".pq"):
        return Interactions.from_parquet(path, user_col, item_col, rating, timestamp_col, **kwargs)
    return Interactions.from_csv(path, user_col, item_col, rating, timestamp_col, sep=sep, **kwargs)


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def build_model(algorithm: str, params: dict, extra: tuple[str, ...] = (), seed=None):
    """An unfitted model from a CLI algorithm name and hyperparameters.

    ``seed`` becomes ``random_state`` for algorithms that have one.

    Example:
        >>> build_model("biased-mf", {"n_factors": 8}, ("n_epochs=3",)).n_epochs
        3
    """
    cls = model_class(algorithm)
    given = {k: v for k, v in params.items() if v is not None}
    for item in extra:
        if "=" not in item:
            raise Failure(f"--param takes name=value, got {item!r}")
        name, value = item.split("=", 1)
        given[name.strip()] = _parse_value(value.strip())
    valid = set(cls.param_names())
    if seed is not None and "random_state" in valid:
        given.setdefault("random_state", seed)
    unknown = sorted(set(given) - valid)
    if unknown:
        raise Failure(f"{cls.__name__} has no hyperparameter(s) {unknown}; valid: {sorted(valid)}")
    return cls(**given)


def _algorithm_options(fn):
    options = [
        click.option(
            "--algorithm",
            "-a",
            type=click.Choice(sorted(ALIASES)),
            default="biased-mf",
            show_default=True,
            help="What to train.",
        ),
        click.option("--factors", type=int, default=None, help="Latent factors k."),
        click.option("--epochs", type=int, default=None, help="Training epochs."),
        click.option("--learning-rate", type=float, default=None, help="SGD step size."),
        click.option("--regularization", type=float, default=None, help="L2 penalty λ."),
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seed for splits and for the algorithm's random_state.",
        ),
        click.option(
            "--param",
            "extra",
            multiple=True,
            metavar="NAME=VALUE",
            help="Any other hyperparameter, repeatable.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _params_from(kwargs: dict) -> dict:
    return {COMMON_PARAMS[k]: kwargs.pop(k) for k in list(kwargs) if k in COMMON_PARAMS}


def _print_table(df: pd.DataFrame) -> None:
    click.echo(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="latentrec")
def main():
    """latentrec: matrix-factorization recommenders.

    Start with `latentrec demo`, or: `latentrec train ml-100k -o model.npz`, then
    `latentrec recommend model.npz --user 1`.
    """


@main.group()
def data():
    """Fetch and inspect datasets."""


@data.command("fetch")
@click.option("--dataset", default="100k", show_default=True, help="MovieLens variant.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to keep it (default $LATENTREC_DATA or ~/.cache/latentrec).",
)
@_fail_on_known_errors
def data_fetch(dataset, cache_dir):
    """Download MovieLens into the local cache (from GroupLens or the recbole wheel)."""
    folder = fetch_movielens(dataset, cache_dir=cache_dir)
    click.echo(f"MovieLens {dataset} is in {folder}")


@data.command("info")
@click.argument("source")
@_data_options
@_fail_on_known_errors
def data_info(source, **opts):
    """Summarise a dataset (ml-100k) or a ratings file."""
    d = load_data(source, **opts)
    click.echo(repr(d))
    counts = d.user_counts()
    click.echo(
        f"ratings per user: min {counts.min()}, median {np.median(counts):g}, max {counts.max()}"
    )
    values, freq = np.unique(d.ratings, return_counts=True)
    if values.size <= 20:
        click.echo(
            "rating distribution: "
            + ", ".join(f"{v:g}: {c}" for v, c in zip(values, freq, strict=True))
        )


@main.command()
@click.argument("source")
@_algorithm_options
@_data_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    required=True,
    help="Where to write the model file (.npz).",
)
@click.option(
    "--test-size",
    type=float,
    default=0.0,
    show_default=True,
    help="Hold out this share of ratings and report RMSE/MAE on it.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_fail_on_known_errors
def train(source, output, test_size, quiet, algorithm, extra, seed, **opts):
    """Train a model on SOURCE (ml-100k or a ratings file) and save it."""
    model = build_model(algorithm, _params_from(opts), extra, seed)
    if "verbose" in model.get_params() and not quiet:
        model.set_params(verbose=True)
    d = load_data(source, **opts)
    test = None
    if test_size:
        d, test = splits.random_split(d, test_size, random_state=seed)
    start = time.perf_counter()
    model.fit(d)
    seconds = time.perf_counter() - start
    click.echo(f"trained {model!r} on {d.nnz} ratings in {seconds:.2f}s")
    metrics = {"fit_seconds": seconds}
    if test is not None and model.predicts_ratings:
        scores = evaluate_ratings(model, test)
        click.echo(
            f"held-out RMSE {scores['rmse']:.4f}  MAE {scores['mae']:.4f} ({scores['n']} ratings)"
        )
        metrics.update(scores)
    model.metrics_ = metrics
    model.save(output)
    click.echo(f"model written to {output}")


@main.command()
@click.argument("source")
@_algorithm_options
@_data_options
@click.option("--cv", type=int, default=None, help="k-fold cross-validation with this many folds.")
@click.option(
    "--test-size",
    type=float,
    default=0.2,
    show_default=True,
    help="Holdout share when --cv is not given.",
)
@click.option(
    "--task",
    type=click.Choice(["rating", "ranking"]),
    default="rating",
    show_default=True,
    help="RMSE/MAE, or ranking metrics at -k.",
)
@click.option("-k", "k", type=int, default=10, show_default=True, help="Cut-off for ranking.")
@click.option(
    "--protocol",
    type=click.Choice(["random", "user", "leave-last-out", "temporal"]),
    default=None,
    help="Holdout split: random cells (default for ratings), a share of each user's cells "
    "(default for ranking), each user's latest cell, or a global time cutoff.",
)
@_fail_on_known_errors
def evaluate(source, cv, test_size, task, k, protocol, algorithm, extra, seed, **opts):
    """Evaluate an algorithm on SOURCE by holdout or k-fold cross-validation."""
    model = build_model(algorithm, _params_from(opts), extra, seed)
    if task == "rating" and not model.predicts_ratings:
        raise Failure(f"{algorithm} does not predict ratings; use --task ranking")
    d = load_data(source, **opts)
    if cv:
        click.echo(f"{cv}-fold cross-validation of {model!r} on {d!r}")
        result = cross_validate(model, d, cv, random_state=seed, task=task, k=k, verbose=True)
        _print_table(
            pd.concat([result.folds, pd.DataFrame([{"fold": "mean", **result.mean().to_dict()}])])
        )
        return
    train_part, test = holdout(
        d, protocol or ("random" if task == "rating" else "user"), test_size, seed
    )
    start = time.perf_counter()
    model.fit(train_part)
    seconds = time.perf_counter() - start
    scores = evaluate_ratings(model, test) if task == "rating" else evaluate_ranking(model, test, k)
    _print_table(pd.DataFrame([{"model": repr(model), **scores, "fit_seconds": seconds}]))


def holdout(data, protocol: str, test_size: float, seed):
    """Split ``data`` by the named protocol (see ``latentrec evaluate --help``).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> train, test = holdout(Interactions.from_dense(np.ones((4, 5))), "user", 0.2, 0)
        >>> test.nnz
        4
    """
    if protocol == "random":
        return splits.random_split(data, test_size, random_state=seed)
    if protocol == "user":
        return splits.user_split(data, test_size, random_state=seed)
    if protocol == "leave-last-out":
        return splits.leave_last_out(data, random_state=seed)
    return splits.temporal_split(data, test_size=test_size)


def _typed_id(vocab, raw):
    """Ids arrive as text; give integer vocabularies an int so outputs print as ints."""
    return int(raw) if vocab.is_integer and str(raw).lstrip("-").isdigit() else raw


def _emit(table: pd.DataFrame, as_json: bool) -> None:
    if as_json:
        click.echo(table.to_json(orient="records"))
    else:
        _print_table(table)


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--user", "-u", required=True, help="Raw user id.")
@click.option("-n", "n", type=int, default=10, show_default=True, help="How many items.")
@click.option("--include-seen", is_flag=True, help="Do not exclude items the user rated.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@_fail_on_known_errors
def recommend(model_path, user, n, include_seen, as_json):
    """Top-N items for a user (popularity for an unknown user, flagged)."""
    model = load(model_path)
    rec = model.recommend(_typed_id(model.users_, user), n=n, exclude_seen=not include_seen)
    if rec.fallback and not as_json:
        click.echo(f"user {user!r} has no history in this model: most popular items instead")
    _emit(rec.to_frame(), as_json)


def _parse_answers(model, text: str) -> dict:
    """``"50=5,172=4"`` -> ``{50: 5.0, 172: 4.0}`` with ids typed like the model's."""
    answers = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        item, sep, value = part.partition("=")
        try:
            rating = float(value)
        except ValueError:
            rating = None
        if not sep or not item.strip() or rating is None:
            raise Failure(f"--answers takes ITEM=RATING pairs separated by commas, got {part!r}")
        answers[_typed_id(model.items_, item.strip())] = rating
    return answers


def _ask(model, questions, k: int) -> dict:
    """Ask the questions in order until ``k`` are answered; skipped titles stay out."""
    scale = model.rating_scale_
    hint = f"{scale[0]:g}-{scale[1]:g}" if scale else "a number, or y"
    click.echo(
        f"Rate up to {k} of these titles ({hint}); 's' skips one you have not seen, "
        "'q' stops asking.",
        err=True,
    )
    answers = {}
    for number, row in enumerate(questions.itertuples(index=False), start=1):
        if len(answers) >= k:
            break
        name = getattr(row, "title", None) or row.item_id
        while True:
            prompt = f"[{number}/{len(questions)}] {name}"
            text = click.prompt(prompt, default="s", show_default=False, err=True)
            text = text.strip().lower()
            if text in ("s", "skip", ""):
                break
            if text in ("q", "quit"):
                return answers
            if text in ("y", "yes") and scale is None:
                answers[row.item_id] = 1.0
                break
            try:
                value = float(text)
            except ValueError:
                value = None
            if value is not None and (scale is None or scale[0] <= value <= scale[1]):
                answers[row.item_id] = value
                break
            click.echo(f"  please answer {hint}, or s to skip", err=True)
    return answers


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("-k", "k", type=int, default=5, show_default=True, help="Answers to collect.")
@click.option(
    "--max-questions",
    type=int,
    default=None,
    help="Titles to offer at most while collecting k answers (default 2k).",
)
@click.option("-n", "n", type=int, default=10, show_default=True, help="How many items.")
@click.option(
    "--answers",
    default=None,
    metavar="ITEM=RATING,...",
    help='Answer without prompting, e.g. --answers "50=5,172=4".',
)
@click.option(
    "--min-ratings",
    type=int,
    default=None,
    help="Ask only about titles with at least this many ratings (default: top 15%).",
)
@click.option("--save-as", default=None, help="Add the new user to the model under this id.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the model with the new user (with --save-as).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@_fail_on_known_errors
def onboard(model_path, k, max_questions, n, answers, min_ratings, save_as, output, as_json):
    """Recommend for a new user from their ratings of a few well-chosen titles.

    Shows popular titles spread across the model's taste dimensions and asks for a
    rating of each (skip the ones you have not seen) until k are answered, folds the
    answers into a user vector and prints the top-n.  With --save-as ID --output FILE the
    new user is added to the model and written to FILE.
    """
    if (save_as is None) != (output is None):
        raise click.UsageError("--save-as and --output go together")
    if k < 1 or (max_questions is not None and max_questions < k):
        raise click.UsageError("need k >= 1 and --max-questions >= k")
    model = load(model_path)
    if not hasattr(model, "onboard"):
        raise Failure(f"{type(model).__name__} has no latent factors to place a new user in")
    if answers is not None:
        given = _parse_answers(model, answers)
    else:
        questions = model.onboarding_items(max_questions or 2 * k, min_ratings=min_ratings)
        given = _ask(model, questions, k)
    user = None if save_as is None else _typed_id(model.users_, save_as)
    if user is not None and not given:
        raise Failure(f"no answers, so no user {user!r} to add")
    try:
        rec = model.onboard(given, n=n, user_id=user)
    except TypeError as err:  # e.g. a text --save-as for a model with integer user ids
        raise Failure(str(err)) from None
    if rec.fallback and not as_json:
        click.echo("no usable answers: most popular items instead")
    elif not as_json:
        click.echo(f"Recommended from {len(given)} answer(s):")
    _emit(rec.to_frame(), as_json)
    if user is not None:
        model.save(output)
        click.echo(f"user {user!r} added; model written to {output}", err=True)


@main.command("recommend-all")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    required=True,
    help="Where to write: .parquet, .csv (or .csv.gz).",
)
@click.option("-n", "n", type=int, default=10, show_default=True, help="Items per user.")
@click.option("--include-seen", is_flag=True, help="Do not exclude items the user rated.")
@_fail_on_known_errors
def recommend_all(model_path, output, n, include_seen):
    """Top-N for every user of the model, streamed to a file in chunks."""
    model = load(model_path)
    rows = model.recommend_all(output, n=n, exclude_seen=not include_seen)
    click.echo(f"wrote {rows} recommendations for {model.n_users} users to {output}")


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--item", "-i", default=None, help="Raw item id: items like this one.")
@click.option("--user", "-u", default=None, help="Raw user id: users like this one.")
@click.option("-n", "n", type=int, default=10, show_default=True, help="How many.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@_fail_on_known_errors
def similar(model_path, item, user, n, as_json):
    """Nearest items (or users) by cosine in the latent space."""
    if (item is None) == (user is None):
        raise click.UsageError("give exactly one of --item or --user")
    model = load(model_path)
    if not hasattr(model, "similar_items"):
        raise Failure(f"{type(model).__name__} has no latent space to compare in")
    if item is not None:
        iid = _typed_id(model.items_, item)
        if not as_json:
            title = model.item_title(iid)
            click.echo(f"Because you watched {title or iid}:")
        _emit(model.similar_items(iid, n=n).to_frame(), as_json)
    else:
        rec = model.similar_users(_typed_id(model.users_, user), n=n)
        _emit(
            pd.DataFrame(
                {"rank": np.arange(1, len(rec.ids) + 1), "user_id": rec.ids, "cosine": rec.scores}
            ),
            as_json,
        )


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--user", "-u", required=True, help="Raw user id.")
@click.option("--item", "-i", required=True, help="Raw item id.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@_fail_on_known_errors
def explain(model_path, user, item, as_json):
    """Split one prediction into μ + b_u + b_i + p_u·q_i."""
    model = load(model_path)
    if not hasattr(model, "explain"):
        raise Failure(f"{type(model).__name__} predicts no ratings to explain")
    e = model.explain(_typed_id(model.users_, user), _typed_id(model.items_, item))
    click.echo(json.dumps(e.to_dict(), indent=2) if as_json else str(e))


@main.command()
@click.argument("source")
@_algorithm_options
@_data_options
@click.option("--trials", type=int, default=30, show_default=True, help="Optuna trials.")
@click.option(
    "--space",
    default=None,
    help='JSON search space, e.g. \'{"n_factors": ["int", 8, 128]}\'; '
    "a built-in space per algorithm when omitted.",
)
@click.option(
    "--metric",
    default=None,
    help="rmse (default for rating models) or e.g. ndcg@10 (default for ranking).",
)
@click.option(
    "--validation",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of SOURCE held out as the inner validation split.",
)
@click.option("--timeout", type=float, default=None, help="Stop after this many seconds.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Refit with the best values on all of SOURCE and save the model here.",
)
@_fail_on_known_errors
def tune(
    source, trials, space, metric, validation, timeout, output, algorithm, extra, seed, **opts
):
    """Search hyperparameters with optuna (TPE, pruning) on a validation split of SOURCE.

    Only SOURCE is used: keep your own test data out of it.
    """
    model = build_model(algorithm, _params_from(opts), extra, seed)
    if space is None:
        if algorithm not in DEFAULT_SPACES:
            raise Failure(f"no built-in search space for {algorithm}; give --space as JSON")
        grid = DEFAULT_SPACES[algorithm]
    else:
        try:
            grid = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(space).items()}
        except (json.JSONDecodeError, AttributeError) as err:
            raise Failure(f"--space must be a JSON object: {err}") from None
    if metric is None:
        metric = "rmse" if model.predicts_ratings else "ndcg@10"
    d = load_data(source, **opts)
    click.echo(f"tuning {model!r} on {d.nnz} cells, {trials} trials, metric {metric}")
    result = run_tune(
        model,
        d,
        grid,
        n_trials=trials,
        validation=validation,
        metric=metric,
        random_state=seed,
        timeout=timeout,
        verbose=True,
    )
    _print_table(result.trials)
    click.echo(f"best {metric} {result.best_value:.4f} with {result.best_params}")
    if output:
        best = result.best_model()
        best.metrics_ = {f"validation_{metric}": float(result.best_value)}
        best.save(output)
        click.echo(f"model refitted on all of {source} and written to {output}")


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    "source",
    default="ml-100k",
    show_default=True,
    help="The data the model was trained on (titles, counts, genres).",
)
@click.option("-n", "n", type=int, default=5, show_default=True, help="Titles per pole.")
@click.option(
    "--min-ratings",
    type=int,
    default=20,
    show_default=True,
    help="Only list titles with at least this many ratings.",
)
@click.option("--rotate", is_flag=True, help="Rotate factors onto principal axes first.")
@click.option("--user", "-u", default=None, help="Also show this user's profile.")
@_fail_on_known_errors
def factors(model_path, source, n, min_ratings, rotate, user):
    """Name each latent factor by its top/bottom titles and the genres it follows."""
    model = load(model_path)
    d = load_data(source)
    report = factor_report(model, d, n, min_ratings=min_ratings, rotate=rotate)
    click.echo(str(report))
    if user is not None:
        click.echo()
        click.echo(str(user_profile(model, _typed_id(model.users_, user), d, report=report)))


@main.command()
@click.argument("kind", type=click.Choice(["taste-map", "learning-curves", "spectrum", "ratings"]))
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Model file (taste-map, learning-curves).",
)
@click.option(
    "--data",
    "source",
    default="ml-100k",
    show_default=True,
    help="Dataset or ratings file (taste-map, spectrum, ratings).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    required=True,
    help="Picture to write (.png or .svg).",
)
@click.option("-k", "k", type=int, default=None, help="spectrum: mark the first k values.")
@_fail_on_known_errors
def plot(kind, model_path, source, output, k):
    """Draw the taste map, learning curves, singular spectrum or rating distribution."""
    if kind in ("taste-map", "learning-curves") and model_path is None:
        raise click.UsageError(f"{kind} needs --model")
    if kind == "learning-curves":
        model = load(model_path)
        if not getattr(model, "history_", None):
            raise Failure(f"{type(model).__name__} in {model_path} has no training history")
        plots.learning_curves(model.history_, output)
    elif kind == "taste-map":
        plots.taste_map(load(model_path), load_data(source), output)
    elif kind == "spectrum":
        plots.singular_spectrum(load_data(source), k, output)
    else:
        plots.rating_distribution(load_data(source), output)
    click.echo(f"wrote {output}")


@main.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False),
    default="out",
    show_default=True,
    help="Where the demo writes its model file.",
)
@click.option("--user", "-u", default="1", show_default=True, help="The user to show.")
@_fail_on_known_errors
def demo(output_dir, user):
    """Train on real MovieLens-100K and show what the model learned."""
    run_demo(output_dir=output_dir, user_id=int(user))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
