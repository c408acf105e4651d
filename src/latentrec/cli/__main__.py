"""``python -m latentrec.cli``: the ``latentrec`` command without the installed script."""

import sys

from . import main

sys.exit(main())
