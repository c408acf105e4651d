"""BPR and WARP fold in each user on their own: a user's vector is the same folded in
alone, first or last in a batch, beside any others, on one thread or two.  It depended
on the user's place in the batch (one generator state per position), so the service's
batched warm-up and its one-user fold-in gave one user two vectors."""

from __future__ import annotations

import numpy as np
import pytest

from latentrec import datasets
from latentrec.kernels.bpr import row_seed_states
from latentrec.models import BPR, WARP


@pytest.fixture(scope="module")
def data():
    return datasets.synthetic(60, 40, 700, random_state=0)


@pytest.mark.parametrize("cls", [BPR, WARP])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_users_fold_in_does_not_depend_on_the_batch(data, cls, threads):
    model = cls(n_factors=4, n_epochs=5, random_state=3, num_threads=threads).fit(data)
    rng = np.random.default_rng(threads)
    rows = [np.sort(rng.choice(40, size=rng.integers(1, 8), replace=False)) for _ in range(9)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    _, batch = model.fold_in_idx(indptr, np.concatenate(rows), np.ones(indptr[-1]))
    for j, row in enumerate(rows):
        # alone, and with the row's items given in another order
        _, alone = model.fold_in_idx([0, len(row)], row[::-1].copy(), np.ones(len(row)))
        np.testing.assert_array_equal(alone[0], batch[j])
    # the same items twice in one batch: the same vector twice
    twice = np.concatenate([rows[0], rows[0]])
    _, pair = model.fold_in_idx([0, len(rows[0]), len(twice)], twice, np.ones(len(twice)))
    np.testing.assert_array_equal(pair[0], pair[1])


def test_row_states_depend_on_the_set_of_items_and_the_base_only():
    rng = np.random.default_rng(0)
    for _ in range(50):
        row = rng.choice(1000, size=rng.integers(0, 20), replace=False)
        other = rng.choice(1000, size=rng.integers(0, 20), replace=False)
        both = np.concatenate([other, row])
        a = row_seed_states(11, [0, row.size], row)
        b = row_seed_states(11, [0, other.size, both.size], both)
        c = row_seed_states(11, [0, row.size], rng.permutation(row))
        assert a[0] == b[1] == c[0]
        assert row_seed_states(12, [0, row.size], row)[0] != a[0]
    # distinct sets give distinct states (no collisions among many small rows)
    rows = [np.array([i]) for i in range(500)] + [np.array([i, i + 1]) for i in range(500)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    states = row_seed_states(0, indptr, np.concatenate(rows))
    assert len(set(states.tolist())) == len(rows)
