"""``latentrec demo``: the guided first run on MovieLens-100K (the tour: :mod:`latentrec.demo`)."""

from __future__ import annotations

import click

from ..data import UnknownIdError
from ..datasets import movielens
from ..demo import run_demo
from ._common import check_output, fail_on_known_errors, known_id, main


@main.command()
@click.option(
    "--output-dir",
    # Not click.Path(file_okay=False): check_output refuses a file in one line, exit 1.
    metavar="DIR",
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
    # The user is looked up before the tour trains anything (seconds), not after it.
    users = movielens("100k").users
    try:
        uid = known_id(users, user)
    except UnknownIdError:
        uid = None  # text that is no whole number: the range below says what ids there are
    if uid is None or uid not in users:
        raise UnknownIdError(
            "user",
            [user],
            hint=f"MovieLens-100K's users are {users.ids.min()} to {users.ids.max()}",
        )
    run_demo(output_dir=output_dir, user_id=uid)
