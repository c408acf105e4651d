#!/usr/bin/env bash
# LightFM 1.17 (its last release, on PyPI) no longer builds through pip's isolated PEP 517
# backend: its setup.py assigns to __builtins__, a dict there.  The legacy setup.py path
# still works, so this installs it that way into a virtual environment (default .venv) for
# the WARP comparison in benchmarks/implicit_ml100k.py.
set -euo pipefail
venv=${1:-.venv}
"$venv/bin/python" -m pip install -q setuptools wheel
"$venv/bin/python" -m pip install -q --no-use-pep517 --no-deps lightfm==1.17
"$venv/bin/python" -c "import lightfm; print('lightfm', lightfm.__version__, 'installed')"
