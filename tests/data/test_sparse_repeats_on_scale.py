"""A sparse matrix's repeated cells follow ``from_arrays``' rule for sums on a scale.

``from_sparse`` added a COO matrix's repeated (row, column) cells (5 + 3 = 8 on a 1-5
scale) without a word, while ``from_arrays(..., duplicates="sum", rating_scale=...)``
refuses ("two 3s make a 6").  With a scale, repeated cells are now refused by cell.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec import Interactions
from latentrec.data.report import DataError


def _coo(cells, shape=(3, 4)):
    rows, cols, vals = (np.array(x) for x in zip(*cells, strict=True))
    return sp.coo_matrix((vals.astype(float), (rows, cols)), shape=shape)


def test_repeated_cells_on_a_scale_are_refused_by_cell_like_from_arrays():
    coo = _coo([(0, 1, 5.0), (2, 0, 4.0), (0, 1, 3.0)])
    with pytest.raises(DataError, match=r"cells \(row, column\) \[\[0, 1\]\] more than once"):
        Interactions.from_sparse(coo, rating_scale=(1, 5))
    with pytest.raises(DataError, match="two 3s make a 6"):
        Interactions.from_arrays(
            [0, 2, 0], [1, 0, 1], [5, 4, 3], duplicates="sum", rating_scale=(1, 5)
        )
    with pytest.raises(DataError, match="two 3s make a 6"):
        Interactions.from_sparse(coo, rating_scale=(1, 5))


def test_without_repeats_a_scale_is_taken_and_without_a_scale_repeats_are_counts():
    data = Interactions.from_sparse(_coo([(0, 1, 5.0), (2, 0, 4.0)]), rating_scale=(1, 5))
    assert data.rating_scale == (1, 5) and data.nnz == 2
    counts = Interactions.from_sparse(_coo([(0, 1, 5.0), (2, 0, 4.0), (0, 1, 3.0)]))
    assert counts.matrix[0, 1] == 8.0 and counts.load_report.merged == 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(1, 5)), min_size=1, max_size=12
    )
)
def test_from_sparse_with_a_scale_loads_exactly_when_no_cell_repeats(cells):
    coo = _coo(cells)
    # The reference: a dict of cells, and whether any was given twice.
    seen: dict = {}
    for r, c, v in cells:
        seen.setdefault((r, c), []).append(v)
    if all(len(v) == 1 for v in seen.values()):
        data = Interactions.from_sparse(coo, rating_scale=(1, 5))
        got = {(int(r), int(c)): float(v) for r, c, v in zip(*sp.find(data.matrix), strict=True)}
        assert got == {k: float(v[0]) for k, v in seen.items()}
    else:
        with pytest.raises(DataError, match="more than once"):
            Interactions.from_sparse(coo, rating_scale=(1, 5))
        summed = Interactions.from_sparse(coo)  # counts: added, as scipy does
        got = {(int(r), int(c)): float(v) for r, c, v in zip(*sp.find(summed.matrix), strict=True)}
        assert got == {k: float(sum(v)) for k, v in seen.items()}
