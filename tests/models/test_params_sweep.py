"""Every hyperparameter of every registered model, given a value users get wrong, gets a
clear answer: accepted and working (fit, recommend, save, load, recommend again), or
refused with one ValueError that names it; and the same value written into a saved
model's manifest loads and works, or is a ModelFileError that names it.  Never an
OverflowError, a numba TypingError or a TypeError from NumPy, which the command line
reports as a bug.  The sweep reads the registry, so a new model is covered as it is
registered."""

from __future__ import annotations

import inspect
import math

import click
import numpy as np
import pytest

import latentrec
from latentrec import Interactions
from latentrec.cli._common import build_model, parse_value
from latentrec.data.splits import random_split
from latentrec.errors import CannotRankError, HyperparameterError, ModelFileError
from latentrec.io import read_archive, write_archive
from latentrec.models import Biases, GlobalMean, Recommender
from latentrec.registry import ALIASES, model_class, model_names

# What users get wrong: zero, negative, wider than 64 bits, a float where an int is
# wanted, not finite, a bool, a string, None, and beyond float32 (the kernels' floats).
WRONG = [0, -1, -2.5, 2**70, 2.5, 1e3, math.nan, math.inf, True, "abc", None, 1e300]

# Small settings, so that every fit takes milliseconds (a model lacking one keeps its
# default).
SMALL = {
    "n_factors": 2,
    "n_epochs": 2,
    "n_samples": 3,
    "burn_in": 1,
    "bias_epochs": 2,
    "full_step_ratings": 2,
    "num_threads": 1,
    "random_state": 0,
    "verbose": False,
}


def _data() -> Interactions:
    rng = np.random.default_rng(0)
    dense = rng.integers(1, 6, size=(12, 9)) * (rng.random((12, 9)) < 0.6)
    dense[:, 0] = 3  # every user has a rating, every item one
    dense[0, :] = 4
    return Interactions.from_dense(dense)


DATA = _data()
TRAIN, HELD_OUT = random_split(DATA, 0.3, random_state=0)


def _sweepable() -> list[str]:
    """Registered models that can be fitted (an abstract base has no fit of its own)."""
    return [
        n
        for n in model_names()
        if model_class(n)._fit is not Recommender._fit or model_class(n).fit is not Recommender.fit
    ]


def _base(cls) -> dict:
    names = cls.param_names()
    params = {k: v for k, v in SMALL.items() if k in names}
    if "models" in names:  # Blend: fitted members
        params["models"] = [Biases().fit(TRAIN), GlobalMean().fit(TRAIN)]
    return params


def _fit_data(cls) -> Interactions:
    return HELD_OUT if "models" in cls.param_names() else DATA


def _saveable(cls) -> bool:
    return "models" not in cls.param_names()  # a Blend holds whole models: not saved


def _answer_is_clear(err: Exception, name: str) -> None:
    """A refusal the command line prints as one ``Error:`` line, naming the parameter."""
    text = str(err)
    assert "\n" not in text, text
    if isinstance(err, FloatingPointError):
        # A fit that ran and diverged (a learning rate of 1e3): the CLI prints it with
        # the options to change; it names the model and what to lower or raise.
        assert "diverged" in text or "singular" in text or "broke down" in text, text
        return
    assert type(err) in (ValueError, HyperparameterError) or isinstance(err, ModelFileError), repr(
        err
    )
    assert name in text, text


CASES = [(m, p) for m in _sweepable() for p in model_class(m).param_names()]


@pytest.mark.parametrize(("model", "param"), CASES)
def test_every_wrong_value_is_accepted_and_works_or_refused_by_name(model, param, tmp_path):
    cls = model_class(model)
    for value in WRONG:
        params = {**_base(cls), param: value}
        estimator = cls(**params)
        try:
            estimator.fit(_fit_data(cls))
        except Exception as err:  # noqa: BLE001 - what was raised is the point
            _answer_is_clear(err, param)
            # Refused by fit: check_params (what the CLI runs first) refuses it too, or
            # the value was one only the data could rule out.
            continue
        user = estimator.users_.ids[1]
        try:
            first = estimator.recommend(user, n=3)
        except CannotRankError:
            # A fit that left every item term at zero (GradientDescentMF's init_std=0: the
            # factors never move off 0) has nothing to order items by; saying so is the
            # answer, as it is for GlobalMean.
            assert not estimator.orders_items, (param, value)
            continue
        if not _saveable(cls):
            continue
        path = tmp_path / "m.npz"
        estimator.save(path)
        loaded = latentrec.load(path)
        again = loaded.recommend(user, n=3)
        assert again.ids.tolist() == first.ids.tolist(), (param, value)


@pytest.mark.parametrize(("model", "param"), [c for c in CASES if _saveable(model_class(c[0]))])
def test_every_wrong_value_in_a_model_file_loads_and_works_or_is_refused_by_name(
    model, param, tmp_path
):
    cls = model_class(model)
    good = tmp_path / "good.npz"
    cls(**_base(cls)).fit(DATA).save(good)
    manifest, arrays = read_archive(good)
    assert param in manifest["params"] or manifest["params"] == {}
    for value in WRONG:
        manifest["params"][param] = value
        bad = tmp_path / "bad.npz"
        write_archive(bad, manifest, arrays)
        try:
            loaded = latentrec.load(bad)
        except ModelFileError as err:
            _answer_is_clear(err, param)
            continue
        user = loaded.users_.ids[1]
        loaded.recommend(user, n=3)
        if loaded.predicts_ratings:
            assert np.isfinite(loaded.predict([user], [loaded.items_.ids[0]])).all()


def test_the_sweep_covers_every_model_the_command_line_trains():
    swept = set(_sweepable())
    assert set(ALIASES.values()) <= swept
    # And each of them has hyperparameters swept (GlobalMean and Popularity have none).
    with_params = {m for m, _ in CASES}
    for name in ALIASES.values():
        if inspect.signature(model_class(name).__init__).parameters.keys() - {"self"}:
            assert name in with_params, name


# What a user types after --param NAME=: each parses (cli parse_value) to one of WRONG.
TYPED = ["0", "-1", "-2.5", str(2**70), "2.5", "1e3", "nan", "inf", "true", "abc", "none", "1e300"]


def test_what_users_type_after_param_parses_to_the_values_swept():
    parsed = [parse_value(text) for text in TYPED]
    assert [repr(v) for v in parsed] == [repr(v) for v in WRONG]


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_train_builds_or_refuses_every_param_typed_by_name(alias):
    # What `latentrec train -a ALIAS --param NAME=TEXT` does before reading any data:
    # a model whose values the sweep above fits, or one ValueError naming NAME.
    for name in model_class(alias).param_names():
        for text in TYPED:
            try:
                build_model(alias, {}, (f"{name}={text}",))
            except (ValueError, click.ClickException) as err:
                assert name in str(err) and "\n" not in str(err), (alias, name, text, err)
