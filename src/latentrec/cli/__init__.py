"""The ``latentrec`` command line: data, train, evaluate, tune, recommend, similar, explain,
onboard, factors, plot, demo.

Every command has ``--help``.  Exit codes: 0 success, 1 a failure the message explains
(bad data, unknown id, damaged model file), 2 a usage error.

One module per command group, each registering its commands on :data:`main` from
:mod:`._common` (which also holds what they share): :mod:`.data` (``data fetch``,
``data info``), :mod:`.train` (``train``, ``evaluate``), :mod:`.tune`, :mod:`.recommend`
(``recommend``, ``recommend-all``, ``similar``, ``explain``), :mod:`.onboard`,
:mod:`.insight` (``factors``, ``plot``) and :mod:`.demo`.

The command modules load on the first use of a name here, not at ``import latentrec.cli``:
``python -m latentrec.cli`` imports this package before its ``__main__`` can catch a
Ctrl-C, and the command line's imports (numpy, pandas, scipy, numba: most of a second)
printed a traceback when one landed in them.  ``__main__`` runs the launcher
(:mod:`.launcher`), which loads them inside its ``try``.

Example:
    >>> from click.testing import CliRunner
    >>> from latentrec.cli import main
    >>> CliRunner().invoke(main, ["train", "--help"]).exit_code
    0
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import (  # noqa: F401
        data,
        demo,
        insight,
        onboard,
        recommend,
        retrain,
        serve,
        store,
        train,
        tune,
    )
    from ._common import COMMON_PARAMS, Failure, build_model, load_data, main
    from .train import holdout
    from .tune import DEFAULT_SPACES

# Importing these is what registers their commands on `main`.
_COMMAND_MODULES = (
    "data",
    "demo",
    "insight",
    "onboard",
    "recommend",
    "retrain",
    "serve",
    "store",
    "train",
    "tune",
)

# The package's names and the module each comes from.
_NAMES = {
    "COMMON_PARAMS": "._common",
    "Failure": "._common",
    "build_model": "._common",
    "load_data": "._common",
    "main": "._common",
    "holdout": ".train",
    "DEFAULT_SPACES": ".tune",
}
_loading = False


def __getattr__(name: str):
    """The package's names, with every command registered, loaded on first use (PEP 562).

    A command module's name counts too: ``latentrec.cli.train`` after a bare
    ``import latentrec.cli`` finds it, as when the package imported them all.

    Example:
        >>> import latentrec.cli
        >>> sorted(latentrec.cli.main.commands)[:3]
        ['data', 'demo', 'evaluate']
    """
    global _loading
    if name not in _NAMES and name not in _COMMAND_MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _loading:
        # All at once: `main` is whole only when every command module has registered on it.
        _loading = True
        try:
            for module in _COMMAND_MODULES:
                _import_module(f".{module}", __name__)
        finally:
            _loading = False
    if name in _NAMES:
        value = getattr(_import_module(_NAMES[name], __name__), name)
    else:
        value = _import_module(f".{name}", __name__)
    globals()[name] = value
    return value


def __dir__():
    """Every public name, the ones not loaded yet included.

    Example:
        >>> import latentrec.cli
        >>> {"main", "train", "holdout"} <= set(dir(latentrec.cli))
        True
    """
    return sorted(set(globals()) | set(_NAMES) | set(_COMMAND_MODULES))


__all__ = [
    "COMMON_PARAMS",
    "DEFAULT_SPACES",
    "Failure",
    "build_model",
    "holdout",
    "load_data",
    "main",
]
