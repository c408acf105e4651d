"""TruncatedSVD with a fixed random_state under one and two OpenBLAS threads (each in a
fresh process, as OPENBLAS_NUM_THREADS is read at import): the factors may differ, but in
their last float32 bits only, as the docstring and the README say; never a different
solution (another rotation or sign of the singular vectors)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

FIT = """
import sys, numpy as np
from latentrec import Interactions
from latentrec.models import TruncatedSVD
rng = np.random.default_rng(0)
dense = rng.integers(1, 6, (2000, 1500)) * (rng.random((2000, 1500)) < 0.03)
m = TruncatedSVD(n_factors=200, random_state=0).fit(Interactions.from_dense(dense))
np.savez(sys.argv[1], s=m.singular_values_, P=m.user_factors_, Q=m.item_factors_)
"""


def _fit(threads: int, out: Path) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "PYTHONPATH": str(SRC)}
    subprocess.run([sys.executable, "-c", FIT, str(out)], check=True, env=env, timeout=300)
    with np.load(out) as f:
        return {k: f[k].astype(np.float64) for k in f.files}


@pytest.mark.slow
def test_blas_threads_change_the_factors_by_rounding_only(tmp_path):
    one = _fit(1, tmp_path / "one.npz")
    two = _fit(2, tmp_path / "two.npz")
    # Measured (OpenBLAS 0.3.31, 2 cores): singular values within 1e-15 relative, factors
    # within 1e-8 of their largest entry, predictions within 5e-9; k = 8 or 50 identical.
    np.testing.assert_allclose(one["s"], two["s"], rtol=1e-12)
    for name in ("P", "Q"):
        scale = np.abs(one[name]).max()
        assert np.abs(one[name] - two[name]).max() <= 1e-6 * scale, name
    gap = np.abs(one["P"] @ one["Q"].T - two["P"] @ two["Q"].T).max()
    assert gap <= 1e-6
