"""Index arguments of the vector-level API are whole numbers in range, or refused by name.

``predict_vector`` cast its item indices (1.7 predicted item 1, -1 the last item),
``recommend_vectors`` passed ``filter_items`` and ``exclude`` unchecked (0.9 banned
item 0, 7 of 3 items was ignored, an exclude matrix of 5 columns for 3 items was taken)
and its docstring promised the boolean mask ``recommend_batch_idx`` refused, and
``fold_in_idx`` counted a repeated item index twice.  One helper now checks them all.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec import Interactions
from latentrec.models import BiasedMF, ImplicitALS
from latentrec.models.ranking import index_array
from latentrec.retrieval import select_topk, whole_indices

R = np.array([[5, 3, 0, 1, 4], [4, 0, 1, 1, 5], [1, 1, 5, 4, 0], [0, 1, 5, 4, 2]])


@pytest.fixture(scope="module")
def model():
    return BiasedMF(n_factors=2, n_epochs=20, random_state=0).fit(Interactions.from_dense(R))


def _reference_predictions(model, bias, factors, items):
    # The formula written out, one item at a time.
    return [
        model.global_mean_
        + float(bias)
        + float(model.item_bias_[i])
        + sum(float(f) * float(q) for f, q in zip(factors, model.item_factors_[i], strict=True))
        for i in items
    ]


def test_predict_vector_matches_the_formula_for_whole_indices(model):
    b, f = model.user_bias_[1], model.user_factors_[1]
    got = model.predict_vector(b, f, [4, 0, 2])
    assert np.allclose(got, _reference_predictions(model, b, f, [4, 0, 2]), atol=1e-5)
    assert np.array_equal(model.predict_vector(b, f, np.array([4.0, 0.0, 2.0])), got)


@pytest.mark.parametrize(
    ("items", "error", "message"),
    [
        ([1.7], ValueError, r"item_idx must be whole numbers, got 1.7 at position 0"),
        ([0, np.nan], ValueError, r"item_idx must be whole numbers, got nan at position 1"),
        ([-1], IndexError, r"item_idx must lie in \[0, 5\), got -1 at position 0"),
        ([0, 5], IndexError, r"item_idx must lie in \[0, 5\), got 5 at position 1"),
    ],
)
def test_predict_vector_refuses_what_is_no_item(model, items, error, message):
    with pytest.raises(error, match=message):
        model.predict_vector(model.user_bias_[0], model.user_factors_[0], items)


def _vector(model):
    return [0.0], model.user_factors_[:1]


@pytest.mark.parametrize(
    ("filter_items", "error", "message"),
    [
        ([0.9], ValueError, r"filter_items must be whole numbers, got 0.9 at position 0"),
        ([7], IndexError, r"filter_items must lie in \[0, 5\), got 7 at position 0"),
        ([-1], IndexError, r"filter_items must lie in \[0, 5\), got -1"),
        (np.array([True, False]), ValueError, r"at least one entry per item \(5\), got shape"),
        (np.r_[np.zeros(5, bool), True], IndexError, r"marks entry 5, past the 5 items"),
    ],
)
@pytest.mark.parametrize("method", ["recommend_vectors", "recommend_batch_idx"])
def test_filter_items_are_checked_alike_in_both_methods(
    model, method, filter_items, error, message
):
    with pytest.raises(error, match=message):
        if method == "recommend_vectors":
            model.recommend_vectors(*_vector(model), 3, filter_items=filter_items)
        else:
            model.recommend_batch_idx([0], 3, filter_items=filter_items)


@pytest.mark.parametrize("method", ["recommend_vectors", "recommend_batch_idx"])
@pytest.mark.parametrize("argument", ["items", "filter_items"])
def test_a_mask_means_its_true_entries_in_both_methods(model, method, argument):
    mask = np.array([True, False, True, True, False])

    def top(value):
        if method == "recommend_vectors":
            return model.recommend_vectors(*_vector(model), 5, **{argument: value})[0]
        return model.recommend_batch_idx([0], 5, exclude_seen=False, **{argument: value})[0]

    assert np.array_equal(top(mask), top(np.flatnonzero(mask)))
    assert np.array_equal(top(mask), top(np.flatnonzero(mask).astype(float)))


def test_recommend_vectors_ranks_as_a_sort_of_the_scores(model):
    bias, factors = _vector(model)
    scores = model.score_vectors(bias, factors)[0]
    banned = {1}
    exclude = sp.csr_matrix(([1.0], ([0], [3])), shape=(1, 5))
    # The reference: every item not excluded, best first, ties to the lower index.
    expected = sorted((i for i in range(5) if i not in banned | {3}), key=lambda i: -scores[i])
    top, _ = model.recommend_vectors(bias, factors, 5, exclude=exclude, filter_items=[1.0])
    assert [i for i in top[0].tolist() if i >= 0] == expected


def test_an_exclude_matrix_of_another_shape_is_refused(model):
    wrong = sp.csr_matrix(([1.0], ([0], [4])), shape=(1, 6))
    with pytest.raises(ValueError, match=r"exclude must be \(1, 5\).*got shape \(1, 6\)"):
        model.recommend_vectors(*_vector(model), 3, exclude=wrong)
    with pytest.raises(ValueError, match=r"exclude must be \(1, 5\).*got shape \(2, 5\)"):
        model.recommend_vectors(*_vector(model), 3, exclude=sp.csr_matrix((2, 5)))
    with pytest.raises(ValueError, match=r"exclude must be \(1, 5\).*got shape \(1, 4\)"):
        model.recommend_vectors(*_vector(model), 3, exclude=np.zeros((1, 4)))
    with pytest.raises(TypeError, match="exclude must be a scipy.sparse matrix or a 2-D"):
        model.recommend_vectors(*_vector(model), 3, exclude=np.zeros(5))


def test_fold_in_idx_refuses_a_repeated_item_naming_row_and_index(model):
    with pytest.raises(ValueError, match=r"row 1 repeats item index 2 \(positions 2 and 4\)"):
        model.fold_in_idx([0, 2, 5], [0, 1, 2, 3, 2], [5.0, 4.0, 5.0, 1.0, 1.0])
    # The same item in two rows is two users' ratings, not a repeat.
    bias, factors = model.fold_in_idx([0, 1, 2], [2, 2], [5.0, 1.0])
    assert factors.shape == (2, 2) and not np.array_equal(factors[0], factors[1])


def test_fold_in_idx_does_not_depend_on_the_order_within_a_row(model):
    one = model.fold_in_idx([0, 3], [0, 3, 4], [5.0, 1.0, 4.0])
    other = model.fold_in_idx([0, 3], [4, 0, 3], [4.0, 5.0, 1.0])
    assert np.allclose(one[0], other[0], atol=1e-5) and np.allclose(one[1], other[1], atol=1e-5)


def test_implicit_fold_in_rows_refuse_cut_and_wrapped_indices():
    data = Interactions.from_dense((R > 0).astype(float))
    model = ImplicitALS(n_factors=2, n_epochs=2, random_state=0).fit(data)
    with pytest.raises(ValueError, match="indices must be whole numbers, got 1.7"):
        model._solve_user_rows(np.array([0, 1]), np.array([1.7]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 5\), got 4294967297"):
        model._solve_user_rows(
            np.array([0, 1]), np.array([2**32 + 1], dtype=np.int64), np.array([1.0])
        )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-3, 12),
            st.floats(-3, 12),
            st.sampled_from([np.nan, np.inf, -np.inf, 0.5, 2.0]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_index_array_takes_exactly_the_whole_numbers_in_range(values):
    # The obvious rule, value by value: a whole number in [0, 10) is that index.
    def ok(v):
        return np.isfinite(v) and float(v) == int(v) and 0 <= int(v) < 10

    arr = np.array(values, dtype=np.float64 if any(isinstance(v, float) for v in values) else None)
    if all(ok(v) for v in values):
        assert index_array(arr, 10, "items").tolist() == [int(v) for v in values]
    else:
        with pytest.raises((ValueError, IndexError), match="items must"):
            index_array(arr, 10, "items")


def test_whole_indices_refuses_text_booleans_and_floats_past_int64():
    with pytest.raises(ValueError, match=r"got text \(<U1 values\)"):
        whole_indices(np.array(["a"]), "items")
    with pytest.raises(ValueError, match="got a boolean array"):
        whole_indices(np.array([True]), "items")
    with pytest.raises(ValueError, match="indices that int64 holds, got 1e\\+30 at position 0"):
        whole_indices([1e30], "items")
    with pytest.raises(ValueError, match="indices that int64 holds, got 18446744073709551615"):
        whole_indices(np.array([2**64 - 1], dtype=np.uint64), "items")


def test_select_topk_refuses_a_cut_banned_index():
    scores = np.array([[3.0, 2.0, 1.0]], dtype=np.float32)
    with pytest.raises(ValueError, match="banned must be whole numbers, got 0.9"):
        select_topk(scores, 2, banned=[0.9])
    assert select_topk(scores, 2, banned=[0.0])[0].tolist() == [[1, 2]]
