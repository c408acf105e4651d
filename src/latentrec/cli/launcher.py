"""The way into the command line: ``python -m latentrec``, ``python -m latentrec.cli`` and
the installed ``latentrec`` script all run :func:`main`, where a Ctrl-C while it loads ends
as one during a command does.

The command line needs numpy, pandas, scipy and numba, most of a second of imports; a
Ctrl-C in that second printed a traceback from whichever import it landed in, since no
command had started.  Nothing heavy loads before :func:`main`'s ``try``: ``latentrec``
and ``latentrec.cli`` (which ``python -m latentrec.cli`` imports before its ``__main__``)
load their modules on first use, and this module imports nothing of latentrec's at its
top, so :func:`main` holds the whole load inside its ``try``: the user sees click's own
``Aborted!`` and exit status 1, as during a fit.
"""

import sys

# What click writes for a Ctrl-C in a command: a blank line that ends the terminal's "^C",
# then "Aborted!" (click.core.Command.main).  Written here without click, which may be
# the very import interrupted.
ABORTED = "\nAborted!\n"


def main(args=None, prog_name=None):
    """Run the ``latentrec`` command line (the installed script's entry point); exits.

    ``args`` and ``prog_name`` are click's: the command-line words (default
    ``sys.argv[1:]``) and the name usage lines give the command.

    Example:
        >>> try:  # doctest: +ELLIPSIS
        ...     main(["--version"], prog_name="latentrec")
        ... except SystemExit as done:
        ...     print("exit status", done.code)
        latentrec, version ...
        exit status 0
    """
    try:
        try:
            from . import main as command
        except KeyboardInterrupt:
            sys.stderr.write(ABORTED)
            sys.stderr.flush()
            raise SystemExit(1) from None
        return command.main(args=args, prog_name=prog_name)
    finally:
        forget_caught_interrupt()


def forget_caught_interrupt() -> None:
    """Clear CPython's note of a KeyboardInterrupt that ended an ``exec`` of a string.

    CPython notes one in a process-wide flag, kept even when the interrupt is caught, and
    under ``python -m`` it then ends the process by SIGINT (status 130) whatever exit
    status was asked for.  dataclasses and namedtuple build their methods with ``exec``,
    so an import is full of them: a Ctrl-C while loading exited 130 about one time in
    ten.  Each ``exec`` of a string starts by clearing the flag.

    Example:
        >>> forget_caught_interrupt()
    """
    exec("")
