"""The shared epoch loop: epoch listeners seen through a real model (BiasedMF)."""

import math

import numpy as np
import pytest
from conftest import random_ratings

from latentrec.data.splits import random_split
from latentrec.models import BiasedMF
from latentrec.models._training import _LISTENERS, epoch_listener, run_epochs


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def split():
    return random_split(random_ratings(), 0.2, random_state=0)


def _model(n_epochs=6, **kw):
    return BiasedMF(n_factors=3, n_epochs=n_epochs, random_state=0, **kw)


def test_listener_sees_every_epoch_with_the_history_values(split):
    train, valid = split
    calls = []
    with epoch_listener(lambda *args: calls.append(args)):
        model = _model().fit(train, valid)
    assert [c[0] for c in calls] == [1, 2, 3, 4, 5, 6]
    assert [c[1] for c in calls] == model.history_["train_rmse"]
    assert [c[2] for c in calls] == model.history_["valid_rmse"]
    assert all(isinstance(x, float) for c in calls for x in c[1:])


def test_listener_gets_nan_without_validation(split):
    train, _ = split
    calls = []
    with epoch_listener(lambda *args: calls.append(args)):
        _model(n_epochs=2).fit(train)
    assert len(calls) == 2 and all(math.isnan(c[2]) for c in calls)


def test_listener_does_not_change_training(split):
    train, valid = split
    plain = _model().fit(train, valid)
    with epoch_listener(lambda *args: None):
        watched = _model().fit(train, valid)
    np.testing.assert_array_equal(plain.user_factors_, watched.user_factors_)
    assert plain.history_["valid_rmse"] == watched.history_["valid_rmse"]


def test_listeners_nest_outer_first_and_are_removed_after_the_block(split):
    train, _ = split
    calls = []
    with epoch_listener(lambda e, tr, va: calls.append(("outer", e))):
        _model(n_epochs=1).fit(train)
        with epoch_listener(lambda e, tr, va: calls.append(("inner", e))):
            _model(n_epochs=2).fit(train)
        _model(n_epochs=1).fit(train)
    _model(n_epochs=1).fit(train)
    assert calls == [
        ("outer", 1),
        ("outer", 1),
        ("inner", 1),
        ("outer", 2),
        ("inner", 2),
        ("outer", 1),
    ]
    assert _LISTENERS.get() == ()


def test_listener_is_removed_even_when_the_block_raises(split):
    train, _ = split
    with pytest.raises(Stop), epoch_listener(lambda *args: None):
        raise Stop
    assert _LISTENERS.get() == ()


def test_exception_from_listener_stops_training_and_propagates(split):
    train, valid = split
    calls = []

    def stop_at_three(epoch, train_rmse, valid_rmse):
        calls.append(epoch)
        if epoch == 3:
            raise Stop(epoch)

    with pytest.raises(Stop) as info, epoch_listener(stop_at_three):
        _model(n_epochs=20).fit(train, valid)
    assert info.value.args == (3,)
    assert calls == [1, 2, 3]  # no epoch ran after the one that raised


def test_exception_stops_the_step_function_too():
    steps = []

    def stop(epoch, train_rmse, valid_rmse):
        raise Stop

    with pytest.raises(Stop), epoch_listener(stop):
        run_epochs("demo", 5, steps.append, lambda: (1.0, 0.5))
    assert steps == [0]


def test_listener_must_be_callable():
    with pytest.raises(TypeError, match="callable"), epoch_listener(3):
        pass


def test_early_stopping_still_reports_only_epochs_run(split):
    train, valid = split
    calls = []
    with epoch_listener(lambda e, tr, va: calls.append(e)):
        # Tiny data overfits fast, so validation RMSE stops improving long before epoch 200.
        model = _model(n_epochs=200, patience=2, learning_rate=0.05).fit(train, valid)
    assert calls == model.history_["epoch"]
    assert model.history_["stopped_early"]


def test_validation_cells_that_are_training_cells_are_refused():
    # Before: fit(train, validation=train) was accepted; the "validation" RMSE was the
    # training RMSE, falling every epoch, so early stopping and learning curves lied.
    data = random_ratings(n_users=30, n_items=20, seed=6)
    train, held_out = random_split(data, 0.2, random_state=0)
    model = BiasedMF(n_factors=2, n_epochs=3, random_state=0)
    with pytest.raises(
        ValueError, match=rf"validation shares {train.nnz} of its {train.nnz} cells"
    ):
        model.fit(train, validation=train)
    with pytest.raises(ValueError, match=rf"shares {train.nnz} of its {data.nnz} cells"):
        model.fit(train, validation=data)
    assert not model.is_fitted
    assert len(model.fit(train, validation=held_out).history_["valid_rmse"]) == 3


@pytest.mark.parametrize("seed", ["seven", -1, 1.5, True])
def test_a_bad_random_state_is_named_before_any_fit(seed):
    # Before: NumPy's "SeedSequence expects int or sequence of ints for entropy not
    # seven" (or "expected non-negative integer"), from inside the fit.
    from latentrec.models import ALS, NMF, ImplicitALS

    data = random_ratings(n_users=8, n_items=6, seed=1)
    for model in (
        BiasedMF(random_state=seed),
        ALS(random_state=seed),
        NMF(random_state=seed),
        ImplicitALS(random_state=seed),
    ):
        with pytest.raises(ValueError, match=rf"^random_state must be None, .* got {seed!r}$"):
            model.fit(data)
        with pytest.raises(ValueError, match="random_state"):
            model.check_params()
    generator = np.random.default_rng(0)
    assert BiasedMF(n_factors=2, n_epochs=1, random_state=generator).fit(data).is_fitted
