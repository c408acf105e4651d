"""Commands that show what a model learned: ``factors`` (named factors) and ``plot``
(also ``plot tradeoff``: accuracy against diversity as MMR's lambda moves)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

# plots imports matplotlib (the optional plot extra) only when it draws, so this import
# leaves `latentrec --help` fast and works without matplotlib installed.
from .. import load, plots
from ..data import UnknownIdError
from ..data.splits import random_split, temporal_split
from ..pipeline import tradeoff
from ..registry import ALIASES, model_class
from ..reports import factor_report, user_profile
from ._common import (
    Failure,
    FiniteFloatRange,
    build_model,
    check_output,
    data_options,
    fail_on_known_errors,
    given_on_command_line,
    known_id,
    load_data,
    load_training_data,
    main,
)
from .onboard import quoted_fields
from .train import percent


@main.command()
@click.argument("model_path", metavar="MODEL")  # a folder or no file: one line from load
@click.option(
    "--data",
    "source",
    default="ml-100k",
    show_default=True,
    help="The data the model was trained on (titles, counts, genres).",
)
@click.option(
    "-n", "n", type=click.IntRange(min=1), default=5, show_default=True, help="Titles per pole."
)
@click.option(
    "--min-ratings",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Only list titles with at least this many ratings.",
)
@click.option("--rotate", is_flag=True, help="Rotate factors onto principal axes first.")
@click.option("--user", "-u", default=None, help="Also show this user's profile.")
@data_options
@fail_on_known_errors
def factors(model_path, source, n, min_ratings, rotate, user, **opts):
    """Name each latent factor by its top/bottom titles and the genres it follows.

    --data is read with the same options as `latentrec train` (--user-col, --sep, ...),
    so a model trained on your own file is described from that file.

    \f
    Example: ``latentrec factors model.npz --data ratings.csv --user-col uid --user 1``
    """
    model = load(model_path)
    if getattr(model, "item_factors_", None) is None:
        raise Failure(f"{type(model).__name__} in {model_path} has no latent factors to name")
    d = load_training_data(model, model_path, source, **opts)
    # Checked before the report, not after it.
    uid = None if user is None else known_id(model.users_, user)
    if uid is not None and model.users_.lookup(np.asarray([uid]))[0] < 0:
        raise UnknownIdError("user", [uid])
    if not (d.item_counts() >= min_ratings).any():  # factor_report would name min_ratings=
        raise Failure(
            f"no item of --data has {min_ratings} ratings (the most is "
            f"{int(d.item_counts().max(initial=0))}); lower --min-ratings"
        )
    report = factor_report(model, d, n, min_ratings=min_ratings, rotate=rotate)
    click.echo(str(report))
    if user is not None:
        click.echo()
        click.echo(str(user_profile(model, uid, d, report=report)))


PLOT_KINDS = ["taste-map", "learning-curves", "spectrum", "ratings", "tradeoff"]
# The options of `plot` that only some kinds read, with those kinds.
PLOT_OPTIONS = {
    "model_path": "--model",
    "source": "--data",
    "k": "-k",
    "algorithm": "--algorithm",
    "test_size": "--test-size",
    "lambdas": "--lambdas",
    "min_ratings": "--min-ratings",
    "label_items": "--label-items",
}
PLOT_USES = {
    "model_path": ("taste-map", "learning-curves"),
    "source": ("taste-map", "spectrum", "ratings", "tradeoff"),
    "k": ("spectrum", "tradeoff"),
    "algorithm": ("tradeoff",),
    "test_size": ("tradeoff",),
    "lambdas": ("tradeoff",),
    "min_ratings": ("taste-map",),
    "label_items": ("taste-map",),
}
# The reading options apply where --data is read.
for _name in ("user_col", "item_col", "rating_col", "timestamp_col", "sep", "no_header",
              "encoding", "duplicates", "rating_scale"):  # fmt: skip
    PLOT_OPTIONS[_name] = "--" + _name.replace("_", "-")
    PLOT_USES[_name] = PLOT_USES["source"]


def tradeoff_algorithms() -> list[str]:
    """The ``-a`` names ``plot tradeoff`` can use: the algorithms with latent factors (an
    ``n_factors`` hyperparameter), in whose item space MMR compares items.

    Example:
        >>> "biased-mf" in tradeoff_algorithms(), "global-mean" in tradeoff_algorithms()
        (True, False)
    """
    return sorted(a for a in ALIASES if "n_factors" in model_class(a).param_names())


def check_tradeoff_algorithm(algorithm: str) -> None:
    """Refuse, naming what works, an ``-a`` that ``plot tradeoff`` cannot re-rank with MMR:
    an unknown name, one without a latent space (global-mean, biases: zero factors;
    itemknn, popularity: none), or a registered class no ``-a`` trains (Blend, FactorModel).

    Example:
        >>> check_tradeoff_algorithm("implicit-als")
        >>> try:
        ...     check_tradeoff_algorithm("global-mean")
        ... except Failure as err:
        ...     print(err.message[:68])
        -a global-mean has no latent space: plot tradeoff re-ranks with MMR,
    """
    usable = tradeoff_algorithms()
    if algorithm in usable:
        return
    choices = f"use one of {', '.join(usable)}"
    try:
        cls = model_class(algorithm)
    except ValueError:
        raise Failure(f"-a {algorithm!r} is no algorithm; {choices}") from None
    alias = {name: a for a, name in ALIASES.items()}.get(cls.__name__)
    if alias in usable:  # the class name of one that works (-a BiasedMF)
        return
    if alias is None:
        raise Failure(f"-a {algorithm} is not trained by plot tradeoff; {choices}")
    raise Failure(
        f"-a {algorithm} has no latent space: plot tradeoff re-ranks with MMR, which "
        f"compares items by their latent vectors; {choices}"
    )


def mapped_labels(model, data, text: str, min_ratings: int) -> list:
    """The ids ``--label-items`` names (comma-separated; an id holding a comma in double
    quotes, CSV-style, as ``onboard --answers`` reads them), those on the taste map.

    An id the model does not know is an :class:`UnknownIdError` naming it; one with fewer
    than ``min_ratings`` ratings in ``data`` is not on the map: a warning names it and
    the option to lower, and it is left out (rather than the library's warning, which
    names its own argument).

    Example:
        >>> import warnings
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 2]]))
        >>> model = Popularity().fit(data)
        >>> with warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     mapped_labels(model, data, "0, 1,2", 2), str(said[0].message)[:34]
        ([0], '--label-items 1, 2 have fewer than')
    """
    import warnings

    fields = quoted_fields(text, "--label-items")  # as onboard --answers reads its ids
    if not fields:
        raise Failure(f"--label-items takes item ids separated by commas, got {text!r}")
    for field in fields:
        if field.tail or not field.text:
            raise Failure(
                "--label-items takes item ids separated by commas (quote an id holding a "
                f'comma as "a,b", "" for a quote inside), got {field.raw!r}'
            )
    ids = [known_id(model.items_, field.text) for field in fields]
    missing = model.items_.lookup(np.asarray(ids, dtype=object)) < 0
    if missing.any():
        raise UnknownIdError("item", [i for i, m in zip(ids, missing, strict=True) if m])
    # An item the model gained after training has no row in its training data: 0 ratings.
    rows = data.items.lookup(np.asarray(ids, dtype=object))
    counts = np.where(rows >= 0, data.item_counts()[np.maximum(rows, 0)], 0)
    off = [i for i, n in zip(ids, counts, strict=True) if n < min_ratings]
    if off:
        warnings.warn(
            f"--label-items {', '.join(map(str, off))} have fewer than {min_ratings} ratings "
            "in --data, so they are not on the map and get no label; lower --min-ratings "
            "to show them",
            UserWarning,
            stacklevel=2,
        )
    return [i for i, n in zip(ids, counts, strict=True) if n >= min_ratings]


def unused_by(kind: str, names) -> str:
    """What ``plot KIND`` says of the options ``names`` (parameter names) it does not read.

    Example:
        >>> unused_by("spectrum", ["lambdas"])
        'plot spectrum does not read --lambdas (tradeoff only)'
    """

    def kinds(name):
        used = PLOT_USES[name]
        return used[0] if len(used) == 1 else f"{', '.join(used[:-1])} and {used[-1]}"

    said = ", ".join(f"{PLOT_OPTIONS[name]} ({kinds(name)} only)" for name in names)
    return f"plot {kind} does not read {said}"


@main.command()
@click.argument(
    "kind",
    # Named KIND and listed in an unwrapped paragraph: the usage line's {a|b|...} was
    # wrapped at the hyphen of "learning-curves", printing half a name on each line.
    metavar="KIND",
    type=click.Choice(PLOT_KINDS),
)
@click.option(
    "--model",
    "model_path",
    # Not click.Path(dir_okay=False): load says a folder is no model file in one line, exit 1.
    metavar="FILE",
    default=None,
    help="Model file (taste-map, learning-curves).",
)
@click.option(
    "--data",
    "source",
    default="ml-100k",
    show_default=True,
    help="Dataset or ratings file (taste-map, spectrum, ratings, tradeoff).",
)
@click.option(
    "--output",
    "-o",
    # Not click.Path(dir_okay=False): check_output refuses a directory in one line, exit 1.
    metavar="FILE",
    required=True,
    help="Picture to write (.png or .svg).",
)
@click.option(
    "-k",
    "k",
    type=int,
    default=None,
    help="spectrum: mark the first k singular values (as many are computed, up to "
    "min(users, items) - 1); tradeoff: list length.",
)
@click.option(
    "--algorithm",
    "-a",
    default="implicit-als",
    show_default=True,
    help="tradeoff: the candidate model fitted on the training part; one with latent "
    "factors (an algorithm that takes --factors), since MMR compares items by them.",
)
@click.option(
    "--test-size",
    type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="tradeoff: share held out (the latest, when the data has timestamps).",
)
@click.option(
    "--lambdas",
    default="1,0.9,0.8,0.7,0.6,0.5,0.4,0.3",
    show_default=True,
    help="tradeoff: MMR's lambda values, comma-separated.",
)
@click.option(
    "--min-ratings",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="taste-map: map the items with at least this many ratings in --data.",
)
@click.option(
    "--label-items",
    metavar="IDS",
    default=None,
    help="taste-map: label these items (comma-separated ids; an id holding a comma in "
    "double quotes, e.g. '\"a,b\",c') instead of the most-rated.",
)
@data_options
@fail_on_known_errors
def plot(
    kind, model_path, source, output, k, algorithm, test_size, lambdas, min_ratings, label_items,
    **opts,
):  # fmt: skip
    """Draw the taste map, learning curves, singular spectrum, rating distribution, or the
    accuracy-diversity trade-off.

    \b
    KIND is one of:
      taste-map, learning-curves, spectrum, ratings, tradeoff

    --data is read with the same options as `latentrec train` (--user-col, --sep, ...).
    tradeoff holds out --test-size of --data (by time when it has timestamps), fits
    --algorithm on the rest, and re-ranks its candidates with MMR at each lambda.

    \f
    Example: ``latentrec plot ratings --data ratings.csv --rating-col stars -o r.png``
    """
    if kind in ("taste-map", "learning-curves") and model_path is None:
        raise click.UsageError(f"{kind} needs --model")
    unused = [n for n in PLOT_OPTIONS if kind not in PLOT_USES[n] and given_on_command_line(n)]
    if unused:  # refused, not ignored: a plot drawn without them would look like one with
        raise click.UsageError(unused_by(kind, unused))
    check_output(output)
    try:
        plots.check_picture_path(output)  # the plots check it only as they save
    except ValueError:
        raise Failure(f"cannot write {output}: a picture's name ends in .png or .svg") from None
    if kind == "learning-curves":
        model = load(model_path)
        if not getattr(model, "history_", None):
            raise Failure(f"{type(model).__name__} in {model_path} has no training history")
        plots.learning_curves(model, output)  # the model, not its history: the title names it
    elif kind == "taste-map":
        model = load(model_path)
        if getattr(model, "item_factors_", None) is None:
            raise Failure(f"{type(model).__name__} in {model_path} has no latent space to map")
        data = load_training_data(model, model_path, source, **opts)
        mapped = int((data.item_counts() >= min_ratings).sum())
        if mapped < 3:  # plots.taste_map's own message names an option `plot` lacked
            raise Failure(
                f"taste-map draws the items with at least {min_ratings} ratings and {mapped} "
                f"of --data's {data.n_items} have that many; lower --min-ratings"
            )
        chosen = (
            None if label_items is None else mapped_labels(model, data, label_items, min_ratings)
        )
        plots.taste_map(model, data, output, min_ratings=min_ratings, label_items=chosen)
    elif kind == "spectrum":
        plots.singular_spectrum(load_data(source, **opts), output, k=k)
    elif kind == "tradeoff":
        try:
            values = [float(x) for x in lambdas.split(",") if x.strip()]
        except ValueError:
            raise Failure(f"--lambdas takes numbers separated by commas, got {lambdas!r}") from None
        outside = [v for v in values if not 0 <= v <= 1]  # nan too
        if outside:
            raise Failure(f"--lambdas are MMR weights in [0, 1], got {outside[0]:g}")
        if k is not None and k < 1:  # `k or 10` once turned -k 0 into 10 without a word
            raise Failure(f"-k must be a positive list length, got {k}")
        k = 10 if k is None else k
        check_tradeoff_algorithm(algorithm)  # before the data is read and a model fitted
        data = load_data(source, **opts)
        if data.timestamps is not None:
            train, test = temporal_split(data, test_size=test_size)
            split = f"latest {percent(test_size)} of ratings held out"
        else:
            train, test = random_split(data, test_size, random_state=0)
            split = f"random {percent(test_size)} of ratings held out (seed 0)"
        # Fitted on the training part: the numbers are held-out figures of this model.
        model = build_model(algorithm, {}, seed=0).fit(train)
        curve = tradeoff(model, train, test, values, k=k)
        named = Path(source).name if Path(source).is_file() else source  # a file: its name
        users = int(curve["n_users"].iloc[0])
        about = f"{type(model).__name__} on {named}, {split}, {users} users"
        plots.tradeoff_curve(curve, output, k=k, about=about)
        click.echo(curve.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    else:
        plots.rating_distribution(load_data(source, **opts), output)
    click.echo(f"wrote {output}")
