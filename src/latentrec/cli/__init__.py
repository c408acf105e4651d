"""The ``latentrec`` command line: data, train, evaluate, tune, recommend, similar, explain,
onboard, factors, plot, demo.

Every command has ``--help``.  Exit codes: 0 success, 1 a failure the message explains
(bad data, unknown id, damaged model file), 2 a usage error.

One module per command group, each registering its commands on :data:`main` from
:mod:`._common` (which also holds what they share): :mod:`.data` (``data fetch``,
``data info``), :mod:`.train` (``train``, ``evaluate``), :mod:`.tune`, :mod:`.recommend`
(``recommend``, ``recommend-all``, ``similar``, ``explain``), :mod:`.onboard`,
:mod:`.insight` (``factors``, ``plot``) and :mod:`.demo`.

Example:
    >>> from click.testing import CliRunner
    >>> from latentrec.cli import main
    >>> CliRunner().invoke(main, ["train", "--help"]).exit_code
    0
"""

# Importing the command modules is what registers their commands on `main`.
from . import data, demo, insight, onboard, recommend, retrain, serve, store, train, tune  # noqa: F401
from ._common import COMMON_PARAMS, Failure, build_model, load_data, main
from .train import holdout
from .tune import DEFAULT_SPACES

__all__ = [
    "COMMON_PARAMS",
    "DEFAULT_SPACES",
    "Failure",
    "build_model",
    "holdout",
    "load_data",
    "main",
]
