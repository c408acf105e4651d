"""What a model made from factors prints: it said 'FactorModel()' whatever it held."""

import numpy as np
import pandas as pd
import pytest

from latentrec import load
from latentrec.models import BiasedMF, FactorModel


def _model(**kwargs):
    Q = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    P = np.array([[2.0, 0.1], [0.3, 0.4]])
    return FactorModel.from_factors(([1, 2], ["a", "b", "c"]), Q, P, **kwargs)


def test_a_model_from_factors_names_its_source_and_its_size(tmp_path):
    model = _model(global_mean=3.0, source="another process")
    assert repr(model) == "FactorModel(source='another process', k=2, users=2, items=3)"
    model.save(tmp_path / "m.npz")
    assert repr(load(tmp_path / "m.npz")) == repr(model)
    # Users added later are counted; the source stays.
    model.partial_fit_users(pd.DataFrame({"user_id": [9], "item_id": ["a"], "rating": [5.0]}))
    assert repr(model) == "FactorModel(source='another process', k=2, users=3, items=3)"


def test_without_a_source_the_size_is_still_said_and_a_ranking_model_says_so():
    assert repr(_model()) == "FactorModel(k=2, users=2, items=3, predicts_ratings=False)"
    assert repr(FactorModel()) == "FactorModel()"  # unfitted: nothing to say yet


def test_a_trained_models_repr_is_still_its_hyperparameters(small_data):
    model = BiasedMF(n_factors=3, n_epochs=2, random_state=0)
    assert repr(model.fit(small_data)) == "BiasedMF(n_factors=3, n_epochs=2, random_state=0)"


def test_a_source_that_is_not_text_is_refused():
    with pytest.raises(TypeError, match="source must be a string, got int"):
        _model(source=5)
