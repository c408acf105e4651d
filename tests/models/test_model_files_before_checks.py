"""Model files written before every flag was checked (fit took ``biased=1`` or
``verbose=0`` by their truth value and saved them as written) still load, as the model
they were trained as."""

from __future__ import annotations

import numpy as np
import pytest

import latentrec
from latentrec import Interactions
from latentrec.errors import ModelFileError
from latentrec.io import read_archive, write_archive
from latentrec.models import NMF, BiasedMF, TruncatedSVD

DATA = Interactions.from_dense(np.array([[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5], [0, 1, 5, 4]]))


def _as_written_before(tmp_path, model, **stored):
    good = tmp_path / "good.npz"
    model.fit(DATA).save(good)
    manifest, arrays = read_archive(good)
    manifest["params"].update(stored)
    old = tmp_path / "old.npz"
    write_archive(old, manifest, arrays)
    return old


@pytest.mark.parametrize(
    ("model", "flag"),
    [
        (BiasedMF(n_epochs=2, random_state=0, verbose=False), "biased"),
        (NMF(n_epochs=2, random_state=0, verbose=False), "biased"),
        (TruncatedSVD(n_factors=2), "center"),
    ],
)
@pytest.mark.parametrize("value", [0, 1])
def test_a_flag_saved_as_an_integer_loads_as_the_bool_it_was_trained_as(
    tmp_path, model, flag, value
):
    trained = getattr(model, flag)
    path = _as_written_before(tmp_path, model.set_params(**{flag: bool(value)}), **{flag: value})
    loaded = latentrec.load(path)
    assert getattr(loaded, flag) is bool(value)
    assert loaded.predict([0], [2]).tolist() == model.predict([0], [2]).tolist()
    loaded.clone().fit(DATA)  # and it trains again as it was trained
    model.set_params(**{flag: trained})


@pytest.mark.parametrize("value", [0, 1, 2])
def test_verbose_saved_as_an_integer_loads(tmp_path, value):
    model = BiasedMF(n_epochs=2, random_state=0, verbose=False)
    loaded = latentrec.load(_as_written_before(tmp_path, model, verbose=value))
    assert loaded.verbose is bool(value)
    assert loaded.predict([1], [2]).tolist() == model.predict([1], [2]).tolist()


def test_a_flag_saved_as_a_string_is_still_refused_by_name(tmp_path):
    model = BiasedMF(n_epochs=2, random_state=0, verbose=False)
    with pytest.raises(ModelFileError, match="biased must be True or False"):
        latentrec.load(_as_written_before(tmp_path, model, biased="false"))
