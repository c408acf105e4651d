"""``latentrec data``: the group that fetches, summarises and converts datasets
(``fetch``, ``info``, ``convert``)."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from ..data.lrdata import SUFFIX
from ..datasets import fetch_movielens
from ._common import (
    Failure,
    check_output,
    data_options,
    fail_on_known_errors,
    load_data,
    main,
    writing,
)


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
    if d.load_report is not None and Path(source).exists():
        # A file's rows merged as duplicates (or ids stripped) are counted, not hidden.
        click.echo(d.load_report.summary())
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


@data.command("convert")
@click.argument("source")
@click.option(
    "-o",
    "--output",
    required=True,
    # Not click.Path(dir_okay=False): check_output refuses a directory in one line, exit 1.
    metavar="FILE",
    help=f"The converted file to write (ends in {SUFFIX}).",
)
@data_options
@fail_on_known_errors
def data_convert(source, output, **opts):
    """Convert a ratings file (CSV/TSV/Parquet) to a .lrdata file that loads in seconds.

    The file is read once, checked as every command checks it, and written as an
    uncompressed .npz of the CSR arrays and the ids that later commands (and
    ``Interactions.read``) memory-map instead of parsing.

    \f
    Example: ``latentrec data convert ratings.csv -o ratings.lrdata``
    """
    out = Path(output)
    if out.suffix.lower() != SUFFIX:
        raise Failure(f"the output must end in {SUFFIX}, got {output}")
    if Path(source).suffix.lower() == SUFFIX:
        raise Failure(f"{source} is converted already")
    check_output(output, makes_folders=False)  # to_lrdata does not create missing folders
    start = time.perf_counter()
    d = load_data(source, **opts)
    read_s = time.perf_counter() - start
    with writing(output):
        d.to_lrdata(out)
    click.echo(f"{d.load_report}" if d.load_report is not None else repr(d))
    click.echo(
        f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {d.nnz} ratings, "
        f"{d.n_users} users x {d.n_items} items) in {time.perf_counter() - start:.1f} s "
        f"(reading {read_s:.1f} s)"
    )
