"""A fixed seed gives the same fitted model: every registered model, in and across processes.

The deterministic mode is ``num_threads=1`` (models without ``num_threads`` run their
numba code on one thread anyway): two fits with one ``random_state`` give bit-identical
arrays, in this process and in a fresh one whose numba cache is cold.  With more threads,
models that solve rows independently (ALS, ImplicitALS, NMF, BayesianMF, ItemKNN) still
give the very same arrays; the lock-free SGD models in ``LOCK_FREE`` do not, by design.
A model added to the registry is covered here without an entry (see ``make``).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from two_threads import on_two_threads

import latentrec
from latentrec.models import Biases, Blend, GlobalMean
from latentrec.registry import model_class, model_names

# Tiny sizes: behaviour, not accuracy.  k = 8 and BayesianMF's few draws keep each fit
# to milliseconds once the kernels are compiled.
SMALL = {"n_factors": 8, "n_epochs": 3, "n_samples": 4, "burn_in": 2, "random_state": 0}
# Lock-free (Hogwild) SGD: with more than one thread, updates race and each thread draws
# from its own random stream, so results change from run to run and with the thread
# count.  (BiasedMF and SVDpp train on one thread below mf.PARALLEL_MIN_CELLS cells, as
# here, but not on real data.)
LOCK_FREE = {"BiasedMF", "SVDpp", "BPR", "WARP"}
# Registered models that are not fitted from a seed.
NOT_FITTED = {"FactorModel": "made from factors (from_factors), never fitted"}

PACKAGE_MODELS = sorted(
    n
    for n in model_names()
    if model_class(n).__module__.startswith("latentrec.") and n not in NOT_FITTED
)


def ratings():
    """150 users x 100 items, about 1,200 stars from a planted rank-3 model."""
    from conftest import random_ratings

    return random_ratings(n_users=150, n_items=100, density=0.08, seed=3)


def make(name: str, num_threads: int | None = 1):
    """A small seeded instance of the registered model ``name`` on ``num_threads``."""
    if name == "Blend":  # combines fitted models: two deterministic members
        train, _ = blend_split()
        return Blend([Biases().fit(train), GlobalMean().fit(train)])
    cls = model_class(name)
    params = {k: v for k, v in SMALL.items() if k in cls.param_names()}
    if "num_threads" in cls.param_names():
        params["num_threads"] = num_threads
    return cls(**params)


def fingerprint(model) -> dict[str, str]:
    """A digest of every learned value (history without its timings) and of all scores."""
    out = {}
    state = dict(model.fitted_.state)
    state["scores"] = model.score_users(np.arange(model.n_users))  # covers the catalogue
    for key, value in sorted(state.items()):
        if isinstance(value, np.ndarray):
            raw = f"{value.dtype}{value.shape}".encode() + np.ascontiguousarray(value).tobytes()
        elif isinstance(value, dict):
            raw = repr({k: v for k, v in sorted(value.items()) if k != "seconds"}).encode()
        else:
            raw = repr(value).encode()
        out[key] = hashlib.sha1(raw).hexdigest()
    return out


def blend_split():
    """The members' training part and the held-out part a Blend is fitted on."""
    from latentrec.data.splits import random_split

    return random_split(ratings(), 0.5, random_state=0)


def fit_fingerprint(name: str, num_threads: int | None = 1) -> dict[str, str]:
    data = blend_split()[1] if name == "Blend" else ratings()
    return fingerprint(make(name, num_threads).fit(data))


def differing(a: dict, b: dict) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def test_every_registered_model_is_covered():
    assert set(PACKAGE_MODELS) | set(NOT_FITTED) >= {
        n for n in model_names() if model_class(n).__module__.startswith("latentrec.")
    }
    assert LOCK_FREE <= set(PACKAGE_MODELS)


@pytest.mark.parametrize("name", PACKAGE_MODELS)
def test_one_thread_fixed_seed_gives_identical_arrays(name):
    first, second = fit_fingerprint(name), fit_fingerprint(name)
    assert not differing(first, second), f"{name}: {differing(first, second)} changed"


def check_two_threads_match_one() -> None:
    """Every model outside LOCK_FREE: two threads give the arrays of one thread."""
    bad = {}
    for name in PACKAGE_MODELS:
        if name in LOCK_FREE:
            continue
        diff = differing(fit_fingerprint(name, 1), fit_fingerprint(name, 2))
        if diff:
            bad[name] = diff
    assert not bad, f"results depend on the thread count: {bad}"


def test_thread_count_does_not_change_row_parallel_models():
    on_two_threads(check_two_threads_match_one)


# A fresh interpreter (another hash seed) with an empty numba cache, so its kernels are
# compiled while this process may have loaded them from the cache (tests/models/
# test_cg_cache.py shows why that matters).  BPR and WARP: a parallel kernel that calls
# uncached fastmath helpers, with one thread.
FRESH = ["BPR", "WARP"]
CHILD = """
import json, sys
sys.path[:0] = {paths!r}
from test_reproducible import fit_fingerprint
print(json.dumps({{n: fit_fingerprint(n) for n in {names!r}}}))
"""


def test_fresh_process_with_cold_cache_gives_identical_arrays(tmp_path):
    here = Path(__file__).resolve().parent
    paths = [str(Path(latentrec.__file__).resolve().parents[1]), str(here.parent), str(here)]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    code = CHILD.format(paths=paths, names=FRESH)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(tmp_path.rglob("*.nbi")), "the fresh process wrote no numba cache"
    for name in FRESH:
        here_now = fit_fingerprint(name)
        assert not differing(here_now, fresh[name]), f"{name}: {differing(here_now, fresh[name])}"


def test_truncated_svd_energy_does_not_depend_on_blas_threads():
    # A threaded BLAS dot product splits its sum by thread count; above about 10^4
    # values OpenBLAS does, and total_energy_ used to change in its last bits.
    from threadpoolctl import threadpool_limits

    from latentrec import Interactions
    from latentrec.models import TruncatedSVD

    rng = np.random.default_rng(0)
    stars = rng.integers(1, 6, 60_000).astype(np.float32)
    users, items = rng.integers(0, 2000, 60_000), rng.integers(0, 300, 60_000)
    matrix = sp.csr_matrix((stars, (users, items)), shape=(2000, 300))
    matrix.sum_duplicates()
    matrix.data = np.minimum(matrix.data, 5)
    data = Interactions.from_sparse(matrix)
    fits = []
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            fits.append(fingerprint(TruncatedSVD(n_factors=4, random_state=0).fit(data)))
    assert not differing(*fits), f"TruncatedSVD: {differing(*fits)} depend on BLAS threads"
