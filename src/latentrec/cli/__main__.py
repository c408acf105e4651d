"""``python -m latentrec.cli``: the ``latentrec`` command without the installed script.

It runs the launcher ``python -m latentrec`` and the script run, so a Ctrl-C while the
command line loads ends the same way (``Aborted!``, exit status 1): this package imports
nothing heavy before the launcher's ``try``.
"""

import sys

from .launcher import main

sys.exit(main())
