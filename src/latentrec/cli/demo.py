"""``latentrec demo``: the guided first run on MovieLens-100K (the tour: :mod:`latentrec.demo`)."""

from __future__ import annotations

import click

from ..demo import run_demo
from ._common import check_output, fail_on_known_errors, main


@main.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False),
    default="out",
    show_default=True,
    help="Where the demo writes its model file.",
)
@click.option("--user", "-u", default="1", show_default=True, help="The user to show.")
@fail_on_known_errors
def demo(output_dir, user):
    """Train on real MovieLens-100K and show what the model learned.

    \f
    Example: ``latentrec demo --output-dir out --user 42``
    """
    check_output(output_dir, folder=True)  # the model is written after the whole tour
    run_demo(output_dir=output_dir, user_id=int(user))
