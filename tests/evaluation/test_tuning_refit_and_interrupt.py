"""What ``tune`` refits when trials stop early, and what Ctrl-C during a search leaves.

A model with ``patience`` keeps its best validation epoch, so the trial scored is that
epoch's model; the refit on all the data has no validation split to stop on and ran
``n_epochs`` to the end (a 200-epoch model where 22 epochs were scored).  Ctrl-C threw away
every finished trial.
"""

import warnings

import numpy as np
import pytest
from conftest import random_ratings

from latentrec.data.splits import random_split
from latentrec.evaluation.tuning import TuningWarning, tune
from latentrec.models import ALS, BiasedMF, HybridMF, SVDpp
from latentrec.models._training import epoch_listener

optuna = pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def data():
    return random_ratings(n_users=60, n_items=40, density=0.3, seed=1)


# Each model with patience, set so that its validation error turns up well before n_epochs:
# (template, space, metric).
EARLY_STOPPING = {
    "BiasedMF": (
        BiasedMF(n_factors=8, n_epochs=200, learning_rate=0.05, learning_rate_decay=1.0,
                 regularization=0.001, init_std=0.1, patience=2, num_threads=1, random_state=0),
        {"learning_rate": ("float", 0.03, 0.08)},
        "rmse",
    ),
    "ALS": (
        ALS(n_factors=8, n_epochs=200, regularization=0.01, patience=2, num_threads=1,
            random_state=0),
        {"regularization": ("float", 0.005, 0.02)},
        "rmse",
    ),
    "SVDpp": (
        SVDpp(n_factors=8, n_epochs=200, learning_rate=0.05, learning_rate_decay=1.0,
              regularization=0.001, init_std=0.1, patience=2, num_threads=1, random_state=0),
        {"learning_rate": ("float", 0.03, 0.08)},
        "rmse",
    ),
    "HybridMF": (
        HybridMF(n_factors=8, n_epochs=200, learning_rate=0.2, regularization=0.0,
                 patience=2, random_state=0),
        {"learning_rate": ("float", 0.1, 0.3)},
        "ndcg@5",
    ),
}  # fmt: skip


def _predictions(model, data):
    return model.score_users(np.arange(data.n_users))


@pytest.mark.parametrize("name", list(EARLY_STOPPING))
def test_the_refit_runs_the_epochs_the_best_trial_was_scored_at(data, name):
    template, space, metric = EARLY_STOPPING[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        result = tune(template, data, space, n_trials=3, metric=metric, prune=False)
    trials = result.trials
    best = trials.loc[trials["trial"] == result.study.best_trial.number].iloc[0]
    stop = int(best["best_epoch"])
    # The reference: the best trial's fit on the same split, whose validation curve has
    # its minimum at the epoch recorded, well before n_epochs.
    train, valid = random_split(data, 0.1, 0)
    again = template.clone().set_params(**result.best_params).fit(train, valid)
    curve = again.history_["valid_rmse" if metric == "rmse" else "valid_loss"]
    assert stop == int(np.argmin(curve)) + 1 == again.history_["best_epoch"]
    assert stop < template.n_epochs and stop <= best["epochs"]
    assert (trials["best_epoch"] <= trials["epochs"]).all()

    assert result.refit_params == {"n_epochs": stop, "patience": None}
    refit = result.best_model()
    assert refit.n_epochs == stop and refit.patience is None
    assert refit.history_["epoch"] == list(range(1, stop + 1))
    plain = template.clone().set_params(**result.best_params, n_epochs=stop, patience=None)
    plain.fit(data)
    np.testing.assert_array_equal(_predictions(refit, data), _predictions(plain, data))
    assert f"refitted with n_epochs={stop}, the best trial's stopping epoch" in str(result)


def test_the_model_as_given_is_refitted_at_its_own_stopping_epoch(data):
    template, space, _ = EARLY_STOPPING["BiasedMF"]
    space = {"learning_rate": ("categorical", [template.learning_rate])}  # one point: it
    with pytest.warns(TuningWarning, match="nothing better"):
        result = tune(template, data, space, n_trials=1, prune=False)
    stop = int(result.trials["best_epoch"].iloc[0])
    assert result.default_refit_params == result.refit_params == {"n_epochs": stop,
                                                                   "patience": None}  # fmt: skip
    given = result.model_as_given()
    assert given.n_epochs == stop < template.n_epochs
    np.testing.assert_array_equal(
        _predictions(given, data),
        _predictions(template.clone().set_params(n_epochs=stop, patience=None).fit(data), data),
    )


def test_a_model_without_early_stopping_refits_its_n_epochs(data):
    template = BiasedMF(n_factors=3, n_epochs=7, learning_rate_decay=1.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        result = tune(template, data, {"learning_rate": ("float", 0.01, 0.1)}, n_trials=2)
    assert "best_epoch" not in result.trials.columns
    assert result.refit_params == {} and result.default_refit_params == {}
    refit = result.best_model()
    assert refit.n_epochs == 7 and len(refit.history_["epoch"]) == 7
    assert "refitted with" not in str(result)


def _small(**kw):
    params = dict(n_factors=3, n_epochs=5, learning_rate_decay=1.0, random_state=0)
    return BiasedMF(**{**params, **kw})


class CountingMF(BiasedMF):
    fits = 0

    def fit(self, data, validation=None):
        CountingMF.fits += 1
        return super().fit(data, validation)


def _interrupt_at_trial(n):
    """An epoch listener that raises KeyboardInterrupt in the first epoch of the n-th fit,
    as a Ctrl-C during that trial does."""
    seen = {"fits": 0}

    def listener(epoch, train_rmse, valid_rmse):
        if epoch == 1:
            seen["fits"] += 1
            if seen["fits"] == n:
                raise KeyboardInterrupt

    return listener


def _tune_cut_at_trial(n, *args, **kwargs):
    """``tune`` with Ctrl-C in its n-th fit; an interrupt that escapes fails the test
    (pytest would take it for the user's and end the whole run)."""
    try:
        with epoch_listener(_interrupt_at_trial(n)):
            return tune(*args, **kwargs)
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped tune, with the trials that had finished")


def test_ctrl_c_returns_the_finished_trials_and_says_so(data):
    template = _small()
    space = {"learning_rate": ("float", 0.001, 0.1), "regularization": ("float", 0.01, 0.1)}
    with pytest.warns(TuningWarning) as said:  # also: nothing better than as given
        result = _tune_cut_at_trial(3, template, data, space, n_trials=10, prune=False)
    told = [str(w.message) for w in said if "interrupted" in str(w.message)]
    assert len(told) == 1 and "interrupted after 2 of 10 trials" in told[0]
    assert result.interrupted and result.planned_trials == 10
    # The trial cut short is told to optuna as failed (as optuna's optimize does) and is
    # not a row; the two that ended are, and the best is the better of them.
    states = [t.state for t in result.study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.FAIL]
    assert result.trials["trial"].tolist() == [0, 1]
    assert result.best_value == result.trials["rmse"].min()
    assert result.default_value == result.trials["rmse"].iloc[0]  # trial 0 is as given
    assert not result.exhaustive
    assert "interrupted after 2 of 10 trials" in str(result)
    assert template.learning_rate == 0.1 and not template.is_fitted  # not touched


def test_ctrl_c_fits_nothing_more_after_it(data):
    # The model as given lies outside this space, so an uninterrupted search fits it once
    # more for default_value; after Ctrl-C it must not start a fit the user did not want.
    space = {"learning_rate": ("float", 0.01, 0.05)}
    CountingMF.fits = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        result = _tune_cut_at_trial(3, CountingMF(n_epochs=5), data, space, n_trials=10)
    assert result.interrupted and len(result.trials) == 2
    assert CountingMF.fits == 3  # two trials and the one cut short
    assert np.isnan(result.default_value)


def test_ctrl_c_before_any_trial_completed_is_raised_again(data):
    CountingMF.fits = 0
    with epoch_listener(_interrupt_at_trial(1)), pytest.raises(KeyboardInterrupt):
        tune(CountingMF(n_epochs=5), data, {"learning_rate": ("float", 0.01, 0.2)}, n_trials=5)
    assert CountingMF.fits == 1


def test_a_grid_cut_short_is_not_exhaustive_and_shows_no_waiting_points(data):
    space = {"learning_rate": ("categorical", [0.01, 0.02, 0.03, 0.04])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        interrupted = _tune_cut_at_trial(3, _small(), data, space, n_trials=4)
        timed_out = tune(_small(), data, space, n_trials=4, timeout=1e-9)
    # optuna keeps a grid's enqueued points in study.trials, waiting: they were rows of the
    # table, and the search counted as having tried every point.
    for result, ended in ((interrupted, 2), (timed_out, 1)):
        assert result.trials["state"].tolist() == ["complete"] * ended
        assert not result.exhaustive


def test_ctrl_c_while_the_model_as_given_is_scored_keeps_the_trials(data):
    # The model as given (learning_rate 0.1) lies outside the space, so after the loop tune
    # fits it once more; Ctrl-C there escaped tune and lost both finished trials.
    space = {"learning_rate": ("float", 0.01, 0.05)}
    with pytest.warns(TuningWarning) as said:
        result = _tune_cut_at_trial(3, _small(), data, space, n_trials=2)
    assert result.interrupted and result.planned_trials == 2
    assert result.trials["state"].tolist() == ["complete", "complete"]
    assert result.best_value == result.trials["rmse"].min()
    assert np.isnan(result.default_value) and result.default_refit_params == {}
    told = [str(w.message) for w in said if "interrupted" in str(w.message)]
    assert len(told) == 1
    assert "interrupted after 2 of 2 trials (the model as given, fitted after them, is not " \
        "scored)" in told[0]  # fmt: skip


def test_a_search_a_timeout_ends_advises_a_longer_timeout(data):
    # A grid of 4 points cut to one by the timeout: "run more trials" cannot help (the
    # trials already cover the grid); a longer timeout can.  The model as given (30 epochs
    # at learning rate 0.05) beats the one point tried (a rate too small to move anything).
    space = {"learning_rate": ("categorical", [1e-6, 2e-6, 3e-6, 4e-6])}
    given = _small(n_epochs=30, learning_rate=0.05)
    with pytest.warns(TuningWarning, match="nothing better") as said:
        result = tune(given, data, space, n_trials=10, timeout=1e-9)
    assert result.timed_out and not result.improved and len(result.trials) == 1
    message = next(str(w.message) for w in said if "nothing better" in str(w.message))
    assert message.endswith("raise timeout (it ended the search after 1 of 4 trials)")
    assert "more trials" not in message
    # The same search without a timeout runs every point: not cut short.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        full = tune(given, data, space, n_trials=10)
    assert not full.timed_out and full.exhaustive


def test_best_epoch_is_na_for_a_completed_trial_without_early_stopping(data):
    # With patience searched, a trial drawing patience=None completes without a stopping
    # epoch: its best_epoch is <NA>, which the docstring said only of unfinished trials.
    space = {"patience": ("categorical", [None, 2])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        result = tune(_small(n_epochs=30, learning_rate=0.05), data, space, n_trials=2)
    complete = result.trials[result.trials["state"] == "complete"]
    assert len(complete) == 2
    none_row = complete[complete["patience"].isna()]
    assert len(none_row) == 1 and none_row["best_epoch"].isna().all()
    assert complete[complete["patience"] == 2]["best_epoch"].notna().all()
    doc = " ".join(type(result).__doc__.split())
    assert "for a completed one without early stopping, e.g. ``patience=None``" in doc
