"""tune's ``split``: the validation cells are held out the way it names, and only so."""

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.evaluation.tuning import tune
from latentrec.models import BiasedMF

pytest.importorskip("optuna")

SPACE = {"learning_rate": ("float", 1e-3, 0.1, {"log": True})}


class RecordingMF(BiasedMF):
    """BiasedMF that writes down the (user, item, time) cells of each fit's two parts."""

    fits: list = []

    def fit(self, data, validation=None):
        RecordingMF.fits.append((_cells(data), None if validation is None else _cells(validation)))
        return super().fit(data, validation)


def _cells(part):
    times = part.timestamps if part.timestamps is not None else np.zeros(part.nnz)
    return set(zip(part.user_idx.tolist(), part.item_idx.tolist(), times.tolist(), strict=True))


def _timed(seed=0, n=400):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 30, n),
            "item_id": rng.integers(0, 25, n),
            "rating": rng.integers(1, 6, n).astype(float),
            "t": rng.permutation(n).astype(float),  # distinct times: one clean cutoff
        }
    ).drop_duplicates(["user_id", "item_id"])
    return Interactions.from_frame(frame, timestamp="t")


def _search(data, split, validation=0.2):
    RecordingMF.fits = []
    tune(
        RecordingMF(n_factors=2, n_epochs=3, random_state=0),
        data,
        SPACE,
        n_trials=2,
        validation=validation,
        split=split,
    )
    first = RecordingMF.fits[0]
    assert all(fit == first for fit in RecordingMF.fits)  # one split for every trial
    train, valid = first
    assert not train & valid and len(train) + len(valid) == data.nnz
    return train, valid


def test_temporal_holds_out_the_latest_cells():
    data = _timed()
    train, valid = _search(data, "temporal")
    assert len(valid) == round(0.2 * data.nnz)
    assert max(t for *_, t in train) < min(t for *_, t in valid)


def test_user_holds_out_a_share_of_each_users_cells():
    data = _timed(1)
    train, valid = _search(data, "user", 0.25)
    counts = np.bincount(data.user_idx, minlength=data.n_users)
    held = np.bincount([u for u, *_ in valid], minlength=data.n_users)
    for user, n in enumerate(counts):
        if n >= 2:  # a user's own share, rounded half up, at least one left to train on
            assert held[user] == min(int(np.floor(0.25 * n + 0.5)), n - 1), (user, n)


def test_random_is_the_default_and_mixes_times():
    data = _timed(2)
    RecordingMF.fits = []
    tune(RecordingMF(n_factors=2, n_epochs=3, random_state=0), data, SPACE, n_trials=2)
    by_default = RecordingMF.fits[0]
    train, valid = _search(data, "random", 0.1)
    assert (train, valid) == by_default
    assert min(t for *_, t in valid) < max(t for *_, t in train)  # not a time cutoff


def test_an_unknown_split_and_a_temporal_one_without_times_are_refused():
    data = _timed()
    with pytest.raises(ValueError, match="split must be one of 'random', 'user', 'temporal'"):
        tune(BiasedMF(), data, SPACE, split="time")
    untimed = Interactions.from_dense(np.arange(1, 13, dtype=float).reshape(3, 4))
    with pytest.raises(ValueError, match="needs timestamps"):
        tune(BiasedMF(), untimed, SPACE, split="temporal")


def test_the_result_names_its_split_and_validation_split_gives_it_again():
    """The result did not say which split its scores were of; validation_split gives the
    very cells: the model as given, fitted on its train part, scores default_value."""
    from latentrec.evaluation import evaluate_ratings
    from latentrec.evaluation.tuning import validation_split

    data = _timed()
    model = BiasedMF(n_factors=2, n_epochs=3, random_state=0)
    result = tune(model, data, SPACE, n_trials=2, split="temporal", validation=0.25)
    assert (result.split, result.validation) == ("temporal", 0.25)
    train, valid = validation_split(data, "temporal", 0.25, 0)
    assert valid.timestamps.min() >= train.timestamps.max()
    again = evaluate_ratings(model.clone().fit(train, valid), valid)["rmse"]
    assert again == pytest.approx(result.default_value)


def test_a_user_split_of_single_cell_users_says_a_larger_share_cannot_help():
    from latentrec.evaluation.tuning import validation_split

    data = Interactions.from_dense(np.eye(6) * 3)
    with pytest.raises(ValueError, match="no user has more than one cell .*split='random'"):
        validation_split(data, "user", 0.5)
    with pytest.raises(ValueError, match="no user has more than one cell"):
        tune(BiasedMF(), data, SPACE, n_trials=1, split="user", validation=0.5)
