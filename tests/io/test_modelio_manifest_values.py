"""Numbers in a model file that no model can use are one ModelFileError naming the file
and the value: a training mean beyond float32's range loaded and scored every item
``inf``; a hyperparameter of 10**400 escaped as an OverflowError (the command line's
"unexpected ... a bug"); a rating scale holding one said "ufunc 'isfinite' not supported".
The file's digests are recomputed (``write_archive``), as an editor of the file would."""

from __future__ import annotations

import json

import numpy as np
import pytest

import latentrec
from latentrec import ModelFileError
from latentrec.io.modelfile import read_archive, write_archive
from latentrec.models import BiasedMF, ItemKNN


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return latentrec.Interactions.from_dense(rng.integers(0, 6, (12, 8)).astype(float))


def edited(src, out, edit=None, arrays_edit=None):
    manifest, arrays = read_archive(src)
    kept = {k: v for k, v in manifest.items() if k not in ("format", "format_version", "arrays")}
    kept = json.loads(json.dumps(kept))
    if edit:
        edit(kept)
    if arrays_edit:
        arrays_edit(arrays)
    write_archive(out, kept, arrays)
    return out


def setter(section, key, value):
    def edit(manifest):
        manifest[section][key] = value

    return edit


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        pytest.param(
            "state", "global_mean_", 1e300, "its global_mean_ is 1e+300, not a finite", id="mu"
        ),
        pytest.param("data", "rating_mean", 10**400, "its rating_mean is 1000000", id="mean"),
        pytest.param(
            "data", "rating_mean", "3.5", "its rating_mean is '3.5', not a finite", id="text"
        ),
        pytest.param("data", "rating_scale", [1, 10**400], "its rating_scale [1, 1000", id="scale"),
        pytest.param(
            "data", "rating_range", [1, 1e39], "its rating_range [1, 1e+39] is not", id="range"
        ),
        pytest.param("params", "learning_rate", 10**400, "hyperparameters are invalid", id="lr"),
    ],
)
def test_a_number_no_model_can_use_is_named(tmp_path, data, section, key, value, says):
    src = tmp_path / "m.npz"
    BiasedMF(n_factors=2, n_epochs=2, random_state=0).fit(data).save(src)
    bad = edited(src, tmp_path / "bad.npz", setter(section, key, value))
    with pytest.raises(ModelFileError) as err:
        latentrec.load(bad)
    text = str(err.value)
    assert text.startswith(f"{bad} is damaged: ") and says in text, text
    assert len(text) < 300, text  # a huge value is cut short


def test_a_float64_learned_array_beyond_float32_is_named(tmp_path, data):
    src = tmp_path / "m.npz"
    ItemKNN(k=3).fit(data).save(src)
    assert read_archive(src)[1]["state.user_bias_"].dtype == np.float64

    def huge(arrays):
        arrays["state.user_bias_"] = arrays["state.user_bias_"].copy()
        arrays["state.user_bias_"][1] = 1e300

    bad = edited(src, tmp_path / "bad.npz", arrays_edit=huge)
    with pytest.raises(ModelFileError, match="'state.user_bias_' holds values beyond float32"):
        latentrec.load(bad)


def test_the_values_a_model_writes_load(tmp_path, data):
    for model in (BiasedMF(n_factors=2, n_epochs=2, random_state=0), ItemKNN(k=3)):
        model.fit(data).save(tmp_path / "m.npz")
        loaded = latentrec.load(tmp_path / "m.npz")
        assert np.allclose(loaded.predict([0, 1], [2, 3]), model.predict([0, 1], [2, 3]))
