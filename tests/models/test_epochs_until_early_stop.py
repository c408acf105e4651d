"""``n_epochs=sys.maxsize`` with ``patience`` ("until validation stops improving") trained
before counts were bounded, and its model files loaded; the bound of 2**31 - 1 refused
both.  With ``patience`` the cap is 2**63 - 1; without it the bound stands."""

from __future__ import annotations

import sys

import pytest

import latentrec
from latentrec import datasets
from latentrec.data.splits import random_split
from latentrec.io import read_archive, write_archive
from latentrec.models import ALS, BiasedMF, HybridMF

DATA = datasets.synthetic(60, 30, 900, random_state=0)
TRAIN, VALID = random_split(DATA, 0.2, random_state=0)
MODELS = [
    lambda **kw: BiasedMF(n_factors=2, random_state=0, verbose=False, **kw),
    lambda **kw: ALS(n_factors=2, random_state=0, verbose=False, **kw),
    lambda **kw: HybridMF(n_factors=2, random_state=0, verbose=False, **kw),
]


@pytest.mark.parametrize("make", MODELS)
def test_until_validation_stops_improving_trains_saves_and_loads(make, tmp_path):
    model = make(n_epochs=sys.maxsize, patience=1).fit(TRAIN, VALID)
    assert model.history_["epoch"][-1] < 10_000  # early stopping ended it
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = latentrec.load(path)
    assert loaded.n_epochs == sys.maxsize
    user = TRAIN.users.ids[0]
    assert loaded.recommend(user, n=3).ids.tolist() == model.recommend(user, n=3).ids.tolist()


@pytest.mark.parametrize("make", MODELS)
def test_a_file_saved_so_before_the_bound_loads(make, tmp_path):
    # As such a file was written: the value in the manifest, the model it trained.
    path = tmp_path / "m.npz"
    make(n_epochs=3, patience=1).fit(TRAIN, VALID).save(path)
    manifest, arrays = read_archive(path)
    manifest["params"]["n_epochs"] = sys.maxsize
    write_archive(path, manifest, arrays)
    assert latentrec.load(path).n_epochs == sys.maxsize


@pytest.mark.parametrize("make", MODELS)
@pytest.mark.parametrize(("n_epochs", "patience"), [(2**31, None), (2**63, 1), (2**70, 1)])
def test_the_bound_stands_without_patience_and_past_64_bits(make, n_epochs, patience):
    with pytest.raises(ValueError, match="n_epochs must be an integer >= 1 and <="):
        make(n_epochs=n_epochs, patience=patience).check_params()
