"""Interactions.replace: one or more fields changed, every other one kept, checked as
construction checks it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from latentrec.cli.data import ratings_only
from latentrec.data import Interactions, Vocabulary


@pytest.fixture
def data():
    frame = pd.DataFrame(
        {
            "u": ["ann", "bob", "ann", "cy"],
            "i": [3, 1, 1, 2],
            "r": [4.0, 2.0, 5.0, 1.0],
            "t": [10.0, 20.0, 30.0, 40.0],
        }
    )
    return Interactions.from_frame(frame, "u", "i", "r", "t", rating_scale=(1, 5))


def _fields(d: Interactions) -> dict:
    return {name: getattr(d, name) for name in Interactions.FIELDS}


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, sp.spmatrix):
        return (a != b).nnz == 0 and a.shape == b.shape
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    return a == b


TITLES = pd.DataFrame({"title": ["x", "y", "z"]}, index=[1, 2, 3])
AGES = pd.DataFrame({"age": [30, 40, 50]}, index=["ann", "bob", "cy"])


@pytest.mark.parametrize(
    "change",
    [
        {"item_features": TITLES},
        {"user_features": AGES},
        {"implicit": True},
        {"rating_scale": (0, 10)},
        {"rating_scale": None},
        {"timestamps": None},
        {"load_report": None},
        {"item_features": TITLES, "user_features": AGES, "implicit": True},
    ],
)
def test_replace_changes_what_is_given_and_keeps_the_rest(data, change):
    before = _fields(data)
    out = data.replace(**change)
    assert out is not data and type(out) is Interactions
    # The slow obvious answer: the constructor called with every field spelled out.
    expected = Interactions(**{**before, **change})
    for name in Interactions.FIELDS:
        assert _same(getattr(out, name), getattr(expected, name)), name
    # self is untouched.
    for name, value in before.items():
        assert getattr(data, name) is value, name
    assert out.fingerprint() == data.fingerprint()


def test_replace_of_nothing_is_an_equal_table(data):
    out = data.replace()
    assert out is not data
    assert out.fingerprint() == data.fingerprint()
    assert out.load_report is data.load_report and out.rating_scale == (1.0, 5.0)


def test_replace_matrix_and_vocabularies_together(data):
    users = Vocabulary(["a", "b"], "user")
    items = Vocabulary([7], "item")
    matrix = sp.csr_matrix(np.array([[2.0], [3.0]]))
    out = data.replace(users=users, items=items, matrix=matrix, timestamps=None)
    assert out.shape == (2, 1) and out.ratings.tolist() == [2.0, 3.0]
    assert out.ratings.dtype == np.float32 and not out.ratings.flags.writeable


def test_replace_is_checked_as_construction_is(data):
    with pytest.raises(ValueError, match="does not match vocabularies"):
        data.replace(users=Vocabulary(["ann"], "user"))
    with pytest.raises(ValueError, match="one value per stored rating"):
        data.replace(timestamps=np.array([1.0]))
    # A new matrix with fewer cells needs timestamps to match it, as the constructor says.
    fewer = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="one value per stored rating"):
        data.replace(matrix=fewer)
    unsorted = sp.csr_matrix(
        (np.array([1.0, 2.0]), np.array([2, 0]), np.array([0, 2, 2, 2])), shape=(3, 3)
    )
    with pytest.raises(ValueError, match="sorted"):
        data.replace(matrix=unsorted, timestamps=None)


def test_replace_refuses_an_unknown_field_by_name(data):
    with pytest.raises(TypeError, match=r"unknown field\(s\) \['ratings'\]"):
        data.replace(ratings=np.ones(4))


def test_ratings_only_keeps_everything_but_the_side_tables(data, capsys):
    rich = data.replace(item_features=TITLES, user_features=AGES)
    plain = ratings_only(rich, "r.csv")
    assert plain.item_features is None and plain.user_features is None
    assert plain.load_report is data.load_report
    assert plain.rating_scale == data.rating_scale and plain.implicit == data.implicit
    assert np.array_equal(plain.timestamps, data.timestamps)
    assert plain.fingerprint() == data.fingerprint()
    err = capsys.readouterr().err
    assert "item features ['title'] and user features ['age'] of r.csv not written" in err
    assert ratings_only(data, "r.csv") is data
