"""The distinct ids of the lean path: a table of the id range, or hashing for wide ranges,
both equal to ``np.unique`` of all the ids (the slow obvious answer)."""

from __future__ import annotations

import numpy as np
import pytest

from latentrec.data import ingest


@pytest.mark.parametrize("seed", range(10))
def test_distinct_ids_equal_np_unique(seed):
    rng = np.random.default_rng(seed)
    # Narrow ranges take the table; ids spread up to 2^62 take the hash sets.
    spread = [10, 1000, 1 << 22, 1 << 62][seed % 4]
    chunks = []
    for _ in range(rng.integers(1, 5)):
        n = int(rng.integers(0, 3000))
        ids = rng.integers(-spread, spread, n, dtype=np.int64)
        ids = ids.astype(np.int32) if spread <= 1 << 22 and seed % 2 else ids
        chunks.append(ingest.Chunk(ids, ids, None, None))
    got = ingest._distinct(chunks, "users")
    expected = np.unique(np.concatenate([c.users.astype(np.int64) for c in chunks]))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
