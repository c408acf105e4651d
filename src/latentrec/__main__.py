"""``python -m latentrec`` and the installed ``latentrec`` script (``[project.scripts]``
names :func:`main`): the command line, through its launcher (``latentrec/cli/launcher.py``),
where a Ctrl-C while it loads ends as one during a command does.
"""

import sys

from .cli.launcher import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
