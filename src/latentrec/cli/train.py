"""``latentrec train`` (fit and save a model) and ``latentrec evaluate`` (score an algorithm).

Also owns :func:`holdout`, the named split protocols behind ``evaluate --protocol``.
"""

from __future__ import annotations

import time

import click
import pandas as pd

from ..data import splits
from ..evaluation import cross_validate, evaluate_ranking, evaluate_ratings
from ._common import (
    Failure,
    algorithm_options,
    build_model,
    data_options,
    fail_on_known_errors,
    load_data,
    main,
    params_from,
    print_table,
)


@main.command()
@click.argument("source")
@algorithm_options
@data_options
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
@fail_on_known_errors
def train(source, output, test_size, quiet, algorithm, extra, seed, **opts):
    """Train a model on SOURCE (ml-100k or a ratings file) and save it.

    \f
    Example: ``latentrec train ml-100k -a als --factors 64 --test-size 0.2 -o model.npz``
    """
    model = build_model(algorithm, params_from(opts), extra, seed)
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
    model.record_metrics(**metrics)
    model.save(output)
    click.echo(f"model written to {output}")


@main.command()
@click.argument("source")
@algorithm_options
@data_options
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
@fail_on_known_errors
def evaluate(source, cv, test_size, task, k, protocol, algorithm, extra, seed, **opts):
    """Evaluate an algorithm on SOURCE by holdout or k-fold cross-validation.

    \f
    Example: ``latentrec evaluate ml-100k -a bpr --task ranking -k 10 --cv 5``
    """
    model = build_model(algorithm, params_from(opts), extra, seed)
    if task == "rating" and not model.predicts_ratings:
        raise Failure(f"{algorithm} does not predict ratings; use --task ranking")
    d = load_data(source, **opts)
    if cv:
        click.echo(f"{cv}-fold cross-validation of {model!r} on {d!r}")
        result = cross_validate(model, d, cv, random_state=seed, task=task, k=k, verbose=True)
        print_table(
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
    print_table(pd.DataFrame([{"model": repr(model), **scores, "fit_seconds": seconds}]))


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
