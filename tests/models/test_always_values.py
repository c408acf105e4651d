"""Values a user writes for "always" / scikit-learn's idiom are taken as they mean:
``GradientDescentMF(full_step_ratings=sys.maxsize)`` (every row takes the full step, as
before counts were bounded) trains as ``None`` does, saves and loads; past 64 bits the
refusal says to write None.  ``verbose`` takes a level >= 0 at fit (0: no bar), as a
model file's integer ``verbose`` loads; a negative level (LightGBM's silence) is refused."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import latentrec
from latentrec import datasets
from latentrec.models import BiasedMF, GradientDescentMF

DATA = datasets.synthetic(30, 20, 300, random_state=0)


def _gd(**kw):
    return GradientDescentMF(n_epochs=5, random_state=0, verbose=False, **kw)


def test_full_step_ratings_sys_maxsize_is_the_full_step_for_every_row(tmp_path):
    always = _gd(full_step_ratings=sys.maxsize).fit(DATA)
    unscaled = _gd(full_step_ratings=None).fit(DATA)
    np.testing.assert_array_equal(always.user_factors_, unscaled.user_factors_)
    np.testing.assert_array_equal(always.item_factors_, unscaled.item_factors_)
    path = tmp_path / "gd.npz"
    always.save(path)
    loaded = latentrec.load(path)
    assert loaded.full_step_ratings == sys.maxsize
    np.testing.assert_array_equal(loaded.item_factors_, always.item_factors_)


def test_full_step_ratings_past_64_bits_says_to_write_none():
    with pytest.raises(
        ValueError, match=r"<= 9223372036854775807, got 18446744073709551616; None gives every"
    ):
        _gd(full_step_ratings=2**64).check_params()
    for bad in (0, 2.5, True, "10"):
        with pytest.raises(ValueError, match="^full_step_ratings must be an integer >= 1"):
            _gd(full_step_ratings=bad).check_params()


@pytest.mark.parametrize("level", [0, 1, 2, np.int64(1)])
def test_verbose_levels_fit_save_and_load(level, tmp_path, capsys):
    model = BiasedMF(n_factors=2, n_epochs=2, random_state=0, verbose=level).fit(DATA)
    bar = capsys.readouterr().err
    assert ("epoch" in bar) == bool(level)
    path = tmp_path / "m.npz"
    model.save(path)
    assert latentrec.load(path).verbose == bool(level)


def test_a_negative_verbose_is_refused_naming_levels():
    with pytest.raises(ValueError, match=r"True, False or an int >= 0, got -1$"):
        BiasedMF(verbose=-1).check_params()
