"""ImplicitALS's lean fit: the block transpose is scipy's, the factors do not change."""

from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp

import latentrec.models.implicit_als as implicit_als
from latentrec import Interactions
from latentrec.kernels.implicit_als import row_chunks
from latentrec.kernels.transpose import block_edges, column_block, column_counts
from latentrec.models.implicit_als import ImplicitALS


def random_csr(n_rows, n_cols, density, seed) -> sp.csr_matrix:
    """Random float32 CSR with empty rows and columns, sorted int32 indices."""
    rng = np.random.default_rng(seed)
    m = sp.random(n_rows, n_cols, density=density, format="csr", random_state=rng)
    m.data = (m.data * 5).astype(np.float32)
    m.indices = m.indices.astype(np.int32)
    m.sort_indices()
    return m


@pytest.mark.parametrize("sorted_rows", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_column_blocks_are_scipys_transpose(seed, sorted_rows):
    rng = np.random.default_rng(seed)
    m = random_csr(int(rng.integers(1, 60)), int(rng.integers(1, 40)), rng.random() * 0.5, seed)
    ref = m.tocsc()  # columns as rows, row numbers increasing within a column
    if not sorted_rows:  # the transpose must not rely on sorted rows
        for r in range(m.shape[0]):
            a, b = m.indptr[r], m.indptr[r + 1]
            order = rng.permutation(b - a)
            m.indices[a:b], m.data[a:b] = m.indices[a:b][order], m.data[a:b][order]
    counts = column_counts(m.indices, m.shape[1])
    assert counts.tolist() == np.diff(ref.indptr).tolist()
    ptr = np.concatenate([[0], np.cumsum(counts)])
    edges = np.unique(np.concatenate([[0, m.shape[1]], rng.integers(0, m.shape[1] + 1, 4)]))
    indptr = m.indptr.astype(np.int64)
    for lo, hi in pairwise(edges):
        block_ptr = ptr[lo : hi + 1] - ptr[lo]
        rows = np.full(block_ptr[-1], -1, dtype=np.int32)
        vals = np.full(block_ptr[-1], np.nan, dtype=np.float32)
        column_block(indptr, m.indices, m.data, lo, hi, block_ptr, rows, vals)
        a, b = ref.indptr[lo], ref.indptr[hi]
        assert rows.tolist() == ref.indices[a:b].tolist()
        assert vals.tolist() == ref.data[a:b].tolist()


@pytest.mark.parametrize("seed", range(5))
def test_block_edges_group_whole_chunks_within_the_budget(seed):
    rng = np.random.default_rng(seed)
    indptr = np.concatenate([[0], np.cumsum(rng.integers(0, 30, rng.integers(1, 200)))])
    bounds = row_chunks(indptr, k=4, n_chunks=int(rng.integers(1, 40)))
    budget = int(rng.integers(1, 200))
    edges = block_edges(indptr, bounds, budget)
    assert edges[0] == 0 and edges[-1] == bounds.size - 1
    assert np.all(np.diff(edges) > 0)
    for c0, c1 in pairwise(edges):
        cells = indptr[bounds[c1]] - indptr[bounds[c0]]
        assert cells <= budget or c1 == c0 + 1  # over budget only as one chunk
        if c1 < bounds.size - 1:  # a block stops only where the next chunk would not fit
            assert indptr[bounds[c1 + 1]] - indptr[bounds[c0]] > budget


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
@pytest.mark.parametrize("confidence", ["linear", "log"])
def test_factors_and_history_do_not_depend_on_the_blocks(monkeypatch, solver, confidence):
    m = random_csr(150, 90, 0.1, seed=3)
    data = Interactions.from_sparse(m)

    def fit():
        model = ImplicitALS(
            n_factors=6, n_epochs=3, solver=solver, confidence=confidence, random_state=1
        )
        return model.fit(data)

    whole = fit()  # one block: small data stays under MIN_BLOCK_CELLS
    monkeypatch.setattr(implicit_als, "MIN_BLOCK_CELLS", 1)
    monkeypatch.setattr(implicit_als, "ITEM_BLOCKS", 9)
    monkeypatch.setattr(implicit_als, "STRENGTH_SLICE", 7)  # log confidences in slices too
    blocked = fit()
    assert np.array_equal(whole.item_factors_, blocked.item_factors_)
    assert np.array_equal(whole.user_factors_, blocked.user_factors_)
    assert whole.history_["train_loss"] == blocked.history_["train_loss"]
