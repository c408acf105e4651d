"""benchmarks/_dpp.py: greedy DPP MAP by incremental Cholesky picks what log det picks."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _dpp import SINGULAR, dpp_greedy  # noqa: E402


def reference(candidates, scores, vectors, n, theta, relevance="minmax", pool=None):
    """Slow and obvious: build L = diag(r) S diag(r) and, at each step, take the item whose
    addition gives the largest log det L_{Y+i} by numpy.linalg.slogdet.  An item whose
    addition would make S_{Y+i} singular (det S_{Y+i} / det S_Y below the threshold) is
    not eligible; when none is, fill by score."""
    cands = np.asarray(candidates)
    raw = np.asarray(scores, dtype=np.float64)
    if pool is not None:
        keep = np.sort(np.argsort(-raw, kind="stable")[: max(pool, n)])
        cands, raw = cands[keep], raw[keep]
    if relevance == "minmax":
        rel = (raw - raw.min()) / (raw.max() - raw.min())
    else:
        rank = np.empty(raw.size)
        rank[np.argsort(-raw, kind="stable")] = np.arange(raw.size)
        rel = 1 - rank / (raw.size - 1)
    unit = vectors[cands] / np.linalg.norm(vectors[cands], axis=1, keepdims=True)
    sim = unit @ unit.T
    alpha = theta / (2 * (1 - theta))
    r = np.exp(alpha * rel)
    kernel = r[:, None] * sim * r[None, :]
    chosen = []
    while len(chosen) < min(n, cands.size):
        s_y = np.linalg.slogdet(sim[np.ix_(chosen, chosen)])[1] if chosen else 0.0
        best, best_value = None, -np.inf
        for i in range(cands.size):
            if i in chosen:
                continue
            y = [*chosen, i]
            sign_s, log_s = np.linalg.slogdet(sim[np.ix_(y, y)])
            if sign_s <= 0 or log_s - s_y < np.log(SINGULAR):
                continue
            sign, value = np.linalg.slogdet(kernel[np.ix_(y, y)])
            if sign > 0 and value > best_value:
                best, best_value = i, value
        if best is None:
            break
        chosen.append(best)
    rest = [i for i in np.argsort(-raw, kind="stable") if i not in chosen]
    chosen += rest[: min(n, cands.size) - len(chosen)]
    return cands[np.array(chosen, dtype=np.int64)]


def random_case(seed, m, dims, n_items=40):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n_items, dims))
    cands = rng.choice(n_items, size=m, replace=False)
    return cands, rng.normal(size=m), vectors


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("theta", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("relevance", ["minmax", "rank"])
def test_same_picks_as_slogdet_reference(seed, theta, relevance):
    rng = np.random.default_rng(100 + seed)
    m = int(rng.integers(5, 31))
    n = int(rng.integers(1, m + 1))
    pool = [None, int(rng.integers(1, m + 1))][seed % 2]
    cands, scores, vectors = random_case(seed, m, dims=int(rng.integers(2, 12)))
    got = dpp_greedy(cands, scores, vectors, n, theta, relevance=relevance, pool=pool)
    want = reference(cands, scores, vectors, n, theta, relevance=relevance, pool=pool)
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize("seed", range(6))
def test_singular_kernel_stops_and_fills_by_score(seed):
    # 3-dimensional vectors: at most 3 items span volume, the rest come by score.
    cands, scores, vectors = random_case(seed, 20, dims=3)
    got = dpp_greedy(cands, scores, vectors, 10, 0.5)
    assert got.tolist() == reference(cands, scores, vectors, 10, 0.5).tolist()
    by_score = cands[np.argsort(-scores, kind="stable")]
    tail = [i for i in by_score if i not in got[:3]][:7]
    assert got[3:].tolist() == tail


@pytest.mark.parametrize("seed", range(6))
def test_pure_relevance_is_the_top_n_by_score(seed):
    cands, scores, vectors = random_case(seed, 25, dims=8)
    top = cands[np.argsort(-scores, kind="stable")[:10]]
    assert dpp_greedy(cands, scores, vectors, 10, 1.0).tolist() == top.tolist()
    # the limit: well-separated relevance and theta near 1 give the same list
    spread = np.argsort(np.argsort(scores)).astype(float)  # 0..24, gaps of 1/24 in minmax
    near = dpp_greedy(cands, spread, vectors, 10, 0.999)
    assert near.tolist() == cands[np.argsort(-spread, kind="stable")[:10]].tolist()


@pytest.mark.parametrize("seed", range(10))
def test_no_duplicates_never_more_than_n(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 30))
    cands, scores, vectors = random_case(seed, m, dims=int(rng.integers(1, 6)))
    vectors[cands[: m // 3]] = 0.0  # zero vectors: unlike every item
    for n in (1, 5, 10, 40):
        got = dpp_greedy(cands, scores, vectors, n, float(rng.uniform(0, 1)))
        assert got.size == min(n, m)
        assert np.unique(got).size == got.size
        assert set(got.tolist()) <= set(cands.tolist())


def test_zero_vector_counts_as_its_own_direction():
    vectors = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 0.0]])
    assert dpp_greedy([0, 1, 2], [1.0, 0.9, 0.1], vectors, 2, 0.5).tolist() == [0, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"theta": 1.5}, "theta"),
        ({"n": 0}, "n must"),
        ({"relevance": "log"}, "relevance"),
        ({"pool": 0}, "pool"),
        ({"candidates": [0, 0, 1]}, "more than once"),
        ({"candidates": [0, 1, 9]}, "outside"),
        ({"scores": [1.0, np.nan, 0.0]}, "finite"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    args = {
        "candidates": [0, 1, 2],
        "scores": [1.0, 0.5, 0.0],
        "item_vectors": np.eye(3),
        "n": 2,
        "theta": 0.5,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        dpp_greedy(**args)
