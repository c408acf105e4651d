"""``latentrec data``: the group that fetches and summarises datasets (``fetch``, ``info``)."""

from __future__ import annotations

import click
import numpy as np

from ..datasets import fetch_movielens
from ._common import data_options, fail_on_known_errors, load_data, main


@main.group()
def data():
    """Fetch and inspect datasets.

    \f
    Example: ``latentrec data info ml-100k``
    """


@data.command("fetch")
@click.option("--dataset", default="100k", show_default=True, help="MovieLens variant.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to keep it (default $LATENTREC_DATA or ~/.cache/latentrec).",
)
@fail_on_known_errors
def data_fetch(dataset, cache_dir):
    """Download MovieLens into the local cache (from GroupLens or the recbole wheel).

    \f
    Example: ``latentrec data fetch --dataset 1m``
    """
    folder = fetch_movielens(dataset, cache_dir=cache_dir)
    click.echo(f"MovieLens {dataset} is in {folder}")


@data.command("info")
@click.argument("source")
@data_options
@fail_on_known_errors
def data_info(source, **opts):
    """Summarise a dataset (ml-100k) or a ratings file.

    \f
    Example: ``latentrec data info ratings.csv --rating-col none``
    """
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
