"""ImplicitALS gives the same factors whether its CG kernel was just compiled or loaded
from numba's on-disk cache (a fixed seed must not depend on which run came first)."""

import os
import subprocess
import sys
from pathlib import Path

import latentrec

SRC = str(Path(latentrec.__file__).resolve().parents[1])

# Random counts (not a fixed toy matrix): the last-bit differences this guards against
# only show up when the CG arithmetic has enough cells to round differently.
FIT = """
import hashlib, sys
import numpy as np, scipy.sparse as sp
from latentrec.data.interactions import Interactions
from latentrec.models import ImplicitALS
M = sp.random(300, 200, density=0.05, format="csr", random_state=1, dtype=np.float32)
M.data[:] = np.random.default_rng(0).integers(1, 5, M.nnz)
model = ImplicitALS(n_factors=32, n_epochs=2, random_state=0, num_threads=2, verbose=False)
model.fit(Interactions.from_sparse(M))
digest = hashlib.sha1(model.user_factors_.tobytes() + model.item_factors_.tobytes())
print(digest.hexdigest())
"""


def fit_digest(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=SRC)
    out = subprocess.run(
        [sys.executable, "-c", FIT], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_cg_factors_identical_compiled_and_cached(tmp_path):
    compiled = fit_digest(tmp_path)  # empty cache: this run compiles (and writes the cache)
    assert any(tmp_path.rglob("*.nbi")), "the first run wrote no numba cache"
    cached = fit_digest(tmp_path)  # same cache: this run loads the kernels
    assert compiled == cached
