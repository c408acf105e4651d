from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from latentrec import retrieval
from latentrec.retrieval import block_size, mask_seen, select_topk, topk, topk_dot


@settings(max_examples=100, deadline=None)
@given(
    scores=arrays(
        np.float32,
        st.tuples(st.integers(1, 5), st.integers(1, 12)),
        elements=st.sampled_from([-np.inf, 0.0, 0.5, 1.0, 2.0, -3.0]),
    ),
    k=st.integers(1, 15),
)
def test_topk_matches_full_sort_reference(scores, k):
    idx, vals = topk(scores, k)
    assert idx.shape == (scores.shape[0], min(k, scores.shape[1]))
    for r in range(scores.shape[0]):
        # Reference: stable sort by descending score, ties by column, -inf dropped.
        order = sorted(range(scores.shape[1]), key=lambda j: (-scores[r, j], j))
        expected = [j for j in order if np.isfinite(scores[r, j])][: idx.shape[1]]
        got = [j for j in idx[r].tolist() if j >= 0]
        assert got == expected
        assert (idx[r] == -1).sum() == idx.shape[1] - len(expected)
        assert np.all(vals[r][idx[r] == -1] == -np.inf)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 1000), n_users=st.integers(1, 6), n_items=st.integers(1, 8))
def test_mask_seen_masks_exactly_the_seen_cells(seed, n_users, n_items):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < 0.4
    seen = sp.csr_matrix(dense.astype(np.float32))
    users = rng.integers(-1, n_users, 7)
    scores = np.zeros((users.size, n_items), np.float32)
    mask_seen(scores, seen, users)
    for r, u in enumerate(users):
        expected = dense[u] if u >= 0 else np.zeros(n_items, bool)
        np.testing.assert_array_equal(np.isneginf(scores[r]), expected)


def test_block_size_bounds_memory():
    assert block_size(10) * 10 <= 16 * 1024 * 1024
    assert block_size(10**9) == 1
    assert block_size(100, n_rows=3) == 3


# ------------------------------------------------------------------ the numba fast path
def full_sort_reference(scores, k, row_offset, col_offset, items, excluded_rows, banned):
    """Score = (s + col) + row in float32; drop -inf/NaN and excluded; sort by (-s, item)."""
    out = []
    for r in range(scores.shape[0]):
        cells = []
        for j in range(scores.shape[1]):
            item = int(items[j])
            v = np.float32(np.float32(scores[r, j] + col_offset[j]) + row_offset[r])
            if not v > -np.inf or item in excluded_rows[r] or item in banned:
                continue
            cells.append((-v, item))
        out.append([item for _, item in sorted(cells)][:k])
    return out


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n_rows=st.integers(1, 5),
    n_cols=st.integers(1, 150),
    k=st.integers(1, 12),
)
def test_select_topk_matches_full_sort_reference(data, n_rows, n_cols, k):
    values = st.sampled_from([-np.inf, np.nan, -1.0, 0.0, 0.25, 0.5, 1.0, 2.0])
    scores = data.draw(arrays(np.float32, (n_rows, n_cols), elements=values))
    quarter = st.integers(-4, 4).map(lambda x: x / 4)
    row_offset = np.array(data.draw(st.lists(quarter, min_size=n_rows, max_size=n_rows)))
    col_offset = np.array(data.draw(st.lists(quarter, min_size=n_cols, max_size=n_cols)))
    gaps = data.draw(st.lists(st.integers(1, 3), min_size=n_cols, max_size=n_cols))
    items = np.cumsum(gaps) - 1
    n_items = int(items[-1]) + 1
    seen = data.draw(arrays(bool, (n_rows + 1, n_items)))
    exclude_rows = np.array(
        data.draw(st.lists(st.integers(-1, n_rows), min_size=n_rows, max_size=n_rows))
    )
    banned = data.draw(st.lists(st.integers(0, n_items - 1), max_size=5))
    idx, vals = select_topk(
        scores,
        k,
        row_offset=row_offset,
        col_offset=col_offset,
        items=items,
        exclude=sp.csr_matrix(seen),
        exclude_rows=exclude_rows,
        banned=banned,
    )
    excluded = [set(np.flatnonzero(seen[e]).tolist()) if e >= 0 else set() for e in exclude_rows]
    expected = full_sort_reference(scores, k, row_offset, col_offset, items, excluded, set(banned))
    assert idx.shape == (n_rows, min(k, n_cols))
    for r in range(n_rows):
        got = idx[r][idx[r] >= 0].tolist()
        assert got == expected[r]
        assert np.all(idx[r][len(got) :] == -1) and np.all(vals[r][len(got) :] == -np.inf)
        v = scores[r, np.searchsorted(items, got)] + col_offset[np.searchsorted(items, got)]
        np.testing.assert_array_equal(vals[r][: len(got)], (v + row_offset[r]).astype(np.float32))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_queries=st.integers(1, 30),
    n_items=st.integers(1, 40),
    n_factors=st.integers(0, 4),
    k=st.integers(1, 45),
    use_items=st.booleans(),
    tile_rows=st.integers(1, 13),
    tile_cols=st.integers(1, 41),
)
def test_topk_dot_equals_selecting_from_the_dense_product(
    seed, n_queries, n_items, n_factors, k, use_items, tile_rows, tile_cols
):
    # Quarter-integer inputs make every product exact, so BLAS kernels agree to the bit.
    rng = np.random.default_rng(seed)
    P = (rng.integers(-4, 5, (n_queries, n_factors)) / 4).astype(np.float32)
    Q = (rng.integers(-4, 5, (n_items, n_factors)) / 4).astype(np.float32)
    b_u = (rng.integers(-4, 5, n_queries) / 4).astype(np.float32)
    b_i = (rng.integers(-4, 5, n_items) / 4).astype(np.float32)
    seen = sp.csr_matrix(rng.random((n_queries, n_items)) < 0.3)
    rows = rng.integers(0, n_queries, 12)
    items = rng.choice(n_items, rng.integers(1, n_items + 1)) if use_items else None
    kw = dict(row_offset=b_u[rows], col_offset=b_i, items=items, exclude=seen, banned=[0])
    # Small tiles: a row's heap and excluded-item pointer carry over many item blocks.
    with mock.patch.multiple(retrieval, TILE_ROWS=tile_rows, TILE_COLS=tile_cols, MIN_TILES=1):
        idx, vals = topk_dot(P, Q, k, rows=rows, **kw)
    cols = np.arange(n_items) if items is None else np.unique(items)
    dense = P[rows] @ Q[cols].T
    ref_idx, ref_vals = select_topk(
        dense,
        k,
        row_offset=b_u[rows],
        col_offset=b_i[cols],
        items=cols,
        exclude=seen,
        exclude_rows=rows,
        banned=[0],
    )
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(vals, ref_vals)


def test_topk_dot_threads_do_not_change_results_nor_tiles_exact_scores(monkeypatch):

    rng = np.random.default_rng(0)
    seen = sp.random(300, 50, density=0.2, random_state=0, format="csr")
    P = rng.normal(size=(300, 8)).astype(np.float32)
    Q = rng.normal(size=(50, 8)).astype(np.float32)
    monkeypatch.setattr(retrieval, "TILE_ROWS", 7)
    monkeypatch.setattr(retrieval, "TILE_COLS", 16)  # four item blocks
    first = topk_dot(P, Q, 5, exclude=seen, num_threads=1)
    second = topk_dot(P, Q, 5, exclude=seen, num_threads=2)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    # Tile shapes only move BLAS rounding; with exact products nothing changes at all.
    P, Q = (np.round(x * 4) / 4 for x in (P, Q))
    whole = topk_dot(P, Q, 5, exclude=seen)
    monkeypatch.setattr(retrieval, "TILE_ROWS", 1)  # one row per tile
    monkeypatch.setattr(retrieval, "TILE_COLS", 50)
    monkeypatch.setattr(retrieval, "MIN_TILES", 1)
    np.testing.assert_array_equal(topk_dot(P, Q, 5, exclude=seen)[0], whole[0])


def test_blas_limit_is_restored_after_concurrent_calls():
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads():
        return sorted(
            (lib["filepath"], lib["num_threads"])
            for lib in threadpool_info()
            if lib["user_api"] == "blas"
        )

    rng = np.random.default_rng(1)
    P = rng.normal(size=(200, 16)).astype(np.float32)
    Q = rng.normal(size=(300, 16)).astype(np.float32)
    topk_dot(P, Q, 3)  # compiles and loads SciPy's BLAS
    before = blas_threads()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: topk_dot(P, Q, 3)[0], range(16)))
    assert all(np.array_equal(r, results[0]) for r in results)
    assert blas_threads() == before


def test_fast_path_argument_checks():
    scores = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="increasing"):
        select_topk(scores, 1, items=[2, 1, 3])
    with pytest.raises(ValueError, match="entries"):
        select_topk(scores, 1, items=[1, 2])
    with pytest.raises(ValueError, match="row_offset"):
        select_topk(scores, 1, row_offset=[1.0])
    with pytest.raises(ValueError, match="non-negative"):
        select_topk(scores, -1)
    with pytest.raises(ValueError, match="same number of factors"):
        topk_dot(np.zeros((2, 3)), np.zeros((4, 2)), 1)
    with pytest.raises(IndexError, match="candidate"):
        topk_dot(np.zeros((2, 3)), np.zeros((4, 3)), 1, items=[4])
    idx, vals = select_topk(scores, 0)
    assert idx.shape == (2, 0)


def test_topk_dot_without_threadpoolctl_scores_blocks_with_threaded_blas(monkeypatch):

    rng = np.random.default_rng(5)
    P = (rng.integers(-4, 5, (70, 6)) / 4).astype(np.float32)
    Q = (rng.integers(-4, 5, (90, 6)) / 4).astype(np.float32)
    seen = sp.random(70, 90, density=0.3, random_state=1, format="csr")
    fused = topk_dot(P, Q, 7, exclude=seen, col_offset=np.linspace(-1, 1, 90), banned=[3])
    monkeypatch.setattr(retrieval, "_single_threaded_blas", lambda: None)
    monkeypatch.setattr(retrieval, "BLOCK_CELLS", 90 * 8)  # several blocks
    blocked = topk_dot(P, Q, 7, exclude=seen, col_offset=np.linspace(-1, 1, 90), banned=[3])
    np.testing.assert_array_equal(fused[0], blocked[0])
    np.testing.assert_array_equal(fused[1], blocked[1])
    # No factors at all: the scores are the offsets, through the same blocked path.
    idx, vals = topk_dot(np.zeros((2, 0)), np.zeros((4, 0)), 2, col_offset=[0, 3, 1, 2])
    assert idx.tolist() == [[1, 3], [1, 3]] and vals.tolist() == [[3, 2], [3, 2]]


def test_a_batch_of_one_tile_runs_on_one_thread_and_gives_the_same_lists(monkeypatch):
    """One tile of query rows (a single user's list) is one thread's work: the call does
    not wake numba's other threads, gives what the threaded call gives, and leaves the
    caller's thread count as it was; a batch of several tiles keeps every thread."""
    import numba

    asked = []
    real = retrieval.numba_threads

    def recording(n):
        asked.append(n)
        return real(n)

    monkeypatch.setattr(retrieval, "numba_threads", recording)
    rng = np.random.default_rng(2)
    seen = sp.random(400, 300, density=0.05, random_state=2, format="csr")
    P = rng.normal(size=(400, 8)).astype(np.float32)
    Q = rng.normal(size=(300, 8)).astype(np.float32)
    before = numba.get_num_threads()
    for rows in ([3], [0, 5, 9], list(range(16))):
        alone = topk_dot(P, Q, 10, rows=np.array(rows), exclude=seen)
        threaded = topk_dot(P, Q, 10, rows=np.array(rows), exclude=seen, num_threads=before)
        np.testing.assert_array_equal(alone[0], threaded[0])
        np.testing.assert_array_equal(alone[1], threaded[1])
        assert asked[-2:] == [1, before]
        assert numba.get_num_threads() == before
    topk_dot(P, Q, 10, exclude=seen)  # 400 rows: many tiles
    assert asked[-1] is None  # numba's own setting, every thread


def test_select_topk_runs_a_small_block_on_one_thread(monkeypatch):
    """A block of one tile's size (a served user's list) does not wake numba's pool; a
    larger one does; both give the answer of the other thread count."""
    import numba

    seen_threads = []
    kernel = retrieval.topk_kernels.topk_rows

    def recording(*args):
        seen_threads.append(numba.get_num_threads())
        return kernel(*args)

    monkeypatch.setattr(retrieval.topk_kernels, "topk_rows", recording)
    monkeypatch.setattr(retrieval, "TILE_ROWS", 2)
    monkeypatch.setattr(retrieval, "TILE_COLS", 50)
    rng = np.random.default_rng(3)
    for rows in (1, 2, 3):
        scores = rng.integers(-3, 4, (rows, 50)).astype(np.float32)
        got = select_topk(scores, 5, banned=[7])
        monkeypatch.setattr(retrieval, "TILE_ROWS", 10**6)  # everything on one thread
        np.testing.assert_array_equal(got[0], select_topk(scores, 5, banned=[7])[0])
        monkeypatch.setattr(retrieval, "TILE_ROWS", 2)
    pool = numba.get_num_threads()
    assert seen_threads[0::2] == [1, 1, pool]
    assert seen_threads[1::2] == [1, 1, 1]
    assert numba.get_num_threads() == pool
