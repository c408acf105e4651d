"""What every command module shares: the ``main`` group, errors, common options, loading.

Owns :data:`main` (the group each command module registers on), :class:`Failure` and the
decorator that turns known errors into it, the data and algorithm option sets with
:func:`load_data` and :func:`build_model` behind them, and the table/JSON output helpers.
"""

from __future__ import annotations

import functools
from pathlib import Path

import click
import pandas as pd

from .. import ModelFileError
from ..data import DataError, Interactions, UnknownIdError
from ..datasets import movielens
from ..registry import ALIASES, model_class

# Long options shared by the training commands, mapped to hyperparameter names.
COMMON_PARAMS = {
    "factors": "n_factors",
    "epochs": "n_epochs",
    "learning_rate": "learning_rate",
    "regularization": "regularization",
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="latentrec")
def main():
    """latentrec: matrix-factorization recommenders.

    Start with `latentrec demo`, or: `latentrec train ml-100k -o model.npz`, then
    `latentrec recommend model.npz --user 1`.
    """


class Failure(click.ClickException):
    """An error the user can fix; printed without a traceback, exit code 1."""


def fail_on_known_errors(fn):
    """Wrap a command so that errors the user can fix exit 1 with their message alone."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # Our own errors are ValueErrors, but they are named so that the list stays right
        # if one changes base; a plain ValueError is how models and splitters reject a bad
        # hyperparameter or protocol (e.g. temporal without timestamps).
        try:
            return fn(*args, **kwargs)
        except (DataError, UnknownIdError, ModelFileError, FileNotFoundError, ValueError) as err:
            raise Failure(str(err)) from None

    return wrapper


def data_options(fn):
    """The options that tell :func:`load_data` how to read a ratings file."""
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


def parse_value(text: str):
    """A ``--param`` value as int, float, bool or None where it reads as one, else the text.

    Example:
        >>> parse_value("8"), parse_value("0.5"), parse_value("false"), parse_value("lbfgs")
        (8, 0.5, False, 'lbfgs')
    """
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
        given[name.strip()] = parse_value(value.strip())
    valid = set(cls.param_names())
    if seed is not None and "random_state" in valid:
        given.setdefault("random_state", seed)
    unknown = sorted(set(given) - valid)
    if unknown:
        raise Failure(f"{cls.__name__} has no hyperparameter(s) {unknown}; valid: {sorted(valid)}")
    return cls(**given)


def algorithm_options(fn):
    """``--algorithm`` and the hyperparameter options of the training commands."""
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


def params_from(kwargs: dict) -> dict:
    """Pop the common hyperparameter options out of ``kwargs``, keyed by parameter name."""
    return {COMMON_PARAMS[k]: kwargs.pop(k) for k in list(kwargs) if k in COMMON_PARAMS}


def typed_id(vocab, raw):
    """Ids arrive as text; give integer vocabularies an int so outputs print as ints."""
    return int(raw) if vocab.is_integer and str(raw).lstrip("-").isdigit() else raw


def print_table(df: pd.DataFrame) -> None:
    click.echo(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def emit(table: pd.DataFrame, as_json: bool) -> None:
    """Print ``table`` as JSON records (``--json``) or as an aligned text table."""
    if as_json:
        click.echo(table.to_json(orient="records"))
    else:
        print_table(table)
