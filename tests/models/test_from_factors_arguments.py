"""``FactorModel.from_factors`` checks its numbers as the model classes check theirs.

It took ``global_mean=nan`` (every score NaN: recommend returned nothing, save wrote a
file load refused) and ``regularization=-1`` or ``nan`` (fold-in with a negative λ
ranked a user's 5-star item last).  They are now a ValueError naming the argument.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from latentrec.models import FactorModel

IDS = (["ann"], ["a", "b", "c"])
Q = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
P = np.array([[2.0, 0.1]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"global_mean": float("nan")}, "global_mean must be a finite number, got nan"),
        ({"global_mean": float("inf")}, "global_mean must be a finite number, got inf"),
        ({"global_mean": 1e300}, "global_mean must be a finite number"),
        ({"global_mean": "3"}, "global_mean must be a finite number, got '3'"),
        ({"regularization": -1}, "regularization must be a finite number >= 0, got -1"),
        ({"regularization": float("nan")}, "regularization must be a finite number >= 0"),
        ({"bias_regularization": -0.5}, "bias_regularization must be a finite number >= 0"),
    ],
)
def test_a_bad_number_is_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FactorModel.from_factors(IDS, Q, P, **kwargs)


def test_good_numbers_still_make_a_model_that_folds_in_by_its_ratings(tmp_path):
    import latentrec

    model = FactorModel.from_factors(IDS, Q, P, global_mean=3.0, regularization=0.1)
    vector = model.fold_in({"a": 5, "c": 4, "b": 1})
    top, _ = model.recommend_vectors([vector.bias], [vector.factors], 3)
    assert top[0].tolist()[0] == 0  # the 5-star item ranks first, not last
    model.save(tmp_path / "m.npz")
    assert latentrec.load(tmp_path / "m.npz").global_mean_ == 3.0


@pytest.mark.parametrize(
    "given",
    [
        np.array(3.5),
        np.float32(3.5),
        np.float64(3.5),
        Decimal("3.5"),
        Fraction(7, 2),
    ],
)
def test_any_real_number_float_converts_is_taken(given):
    # A 0-d array or a Decimal was refused as "must be a finite number, got array(3.5)".
    model = FactorModel.from_factors(
        IDS, Q, P, global_mean=given, regularization=given, bias_regularization=given
    )
    assert model.global_mean_ == 3.5 and type(model.global_mean_) is float
    assert model.fitted_.state["fold_in_regularization_"] == [3.5, 3.5]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"global_mean": np.array(np.nan)}, "global_mean must be a finite number, got nan"),
        ({"global_mean": Decimal("Infinity")}, "got inf"),
        ({"regularization": np.array(-1.0)}, "regularization must be a finite number >= 0"),
        ({"regularization": Fraction(-1, 2)}, "got -0.5"),
        ({"global_mean": np.array(True)}, "global_mean must be a finite number, got True"),
        ({"global_mean": np.array([3.5])}, r"global_mean must be a finite number, got array"),
    ],
)
def test_other_forms_of_bad_numbers_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FactorModel.from_factors(IDS, Q, P, **kwargs)
