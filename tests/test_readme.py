"""The README's Python examples run as written, each in a fresh interpreter.

A fresh interpreter matters: inside the test process other tests have imported
``latentrec.datasets`` already, which would hide a missing ``import`` in the package
(issue 10: ``latentrec.datasets.movielens`` raised AttributeError after ``import latentrec``).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def cases() -> list:
    # MovieLens comes from the cache, or from the package index the first time.
    return [
        pytest.param(
            code,
            id=f"block{number}",
            marks=[pytest.mark.network] if "movielens(" in code else [],
        )
        for number, code in enumerate(python_blocks(), start=1)
    ]


def test_the_readme_has_python_examples():
    assert python_blocks(), "no ```python block in README.md"


@pytest.mark.parametrize("code", cases())
def test_readme_block_runs_as_written(code, tmp_path):
    # Its own folder: the examples write files (model.npz) where they run.
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"README example failed:\n{code}\n{done.stderr[-3000:]}"
