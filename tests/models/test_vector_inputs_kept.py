"""What the vector-level API took before its index checks, it takes still.

``recommend_vectors`` refused a boolean mask longer than the items (``select_topk``
takes one of "at least n_items entries"), a dense ``exclude`` array (it used to be
read as a matrix: nonzero excluded) and, like ``recommend_batch_idx``, an empty
boolean array for ``filter_items`` (no indices, as an empty list).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from latentrec.models import FactorModel

ITEMS = ["a", "b", "c", "d", "e"]


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    items, users = rng.normal(size=(5, 3)), rng.normal(size=(2, 3))
    return FactorModel.from_factors(([0, 1], ITEMS), items, users)


def _reference(scores, banned):
    # Every item not banned, best first, ties to the lower index.
    keep = [i for i in range(scores.size) if i not in banned]
    return sorted(keep, key=lambda i: (-scores[i], i))


def _top(model, n=5, **kwargs):
    top, _ = model.recommend_vectors([0.0], model.user_factors_[:1], n, **kwargs)
    return [i for i in top[0].tolist() if i >= 0]


def test_a_mask_longer_than_the_items_is_its_true_entries(model):
    scores = model.score_vectors([0.0], model.user_factors_[:1])[0]
    mask = np.zeros(8, dtype=bool)
    mask[[1, 3]] = True
    assert _top(model, filter_items=mask) == _reference(scores, {1, 3})
    assert _top(model, items=mask) == [i for i in _reference(scores, set()) if i in (1, 3)]
    top, _, _ = model.recommend_batch_idx([0], 5, exclude_seen=False, filter_items=mask)
    assert top[0].tolist()[:3] == _reference(scores, {1, 3})


def test_a_dense_exclude_is_read_as_the_matrix(model):
    scores = model.score_vectors([0.0, 0.0], model.user_factors_)
    dense = np.array([[0, 1, 0, 0, 1], [1, 0, 0, 0, 0]])
    top, _ = model.recommend_vectors([0.0, 0.0], model.user_factors_, 5, exclude=dense)
    assert [i for i in top[0].tolist() if i >= 0] == _reference(scores[0], {1, 4})
    assert [i for i in top[1].tolist() if i >= 0] == _reference(scores[1], {0})
    same, _ = model.recommend_vectors(
        [0.0, 0.0], model.user_factors_, 5, exclude=sp.csr_matrix(dense)
    )
    assert np.array_equal(top, same)
    as_bool, _ = model.recommend_vectors([0.0, 0.0], model.user_factors_, 5, exclude=dense > 0)
    assert np.array_equal(top, as_bool)


def test_an_empty_boolean_filter_is_no_filter(model):
    scores = model.score_vectors([0.0], model.user_factors_[:1])[0]
    empty = np.array([], dtype=bool)
    assert _top(model, filter_items=empty) == _reference(scores, set())
    top, _, _ = model.recommend_batch_idx([0], 5, exclude_seen=False, filter_items=empty)
    assert top[0].tolist() == _reference(scores, set())


def test_a_mask_shorter_than_the_items_says_what_to_pass(model):
    with pytest.raises(ValueError, match=r"np\.flatnonzero\(mask\)"):
        model.recommend_vectors([0.0], model.user_factors_[:1], 3, filter_items=[True, False])
