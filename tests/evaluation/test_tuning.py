"""Hyperparameter search: better than a bad default, pruning, the data it may see, seeds."""

import sys
import warnings

import numpy as np
import pytest
from conftest import random_ratings

from latentrec.data.splits import random_split
from latentrec.evaluation.evaluate import evaluate_ranking, evaluate_ratings
from latentrec.evaluation.tuning import TuningResult, TuningWarning, tune
from latentrec.models import BiasedMF, Biases, Popularity

optuna = pytest.importorskip("optuna")

LOG_LR = {"learning_rate": ("float", 1e-6, 0.2, {"log": True})}


@pytest.fixture(scope="module")
def data():
    # A planted rank-3 table with no bias structure: only learned factors beat the mean,
    # and they need a learning rate large enough to leave their small initial values.
    return random_ratings(n_users=60, n_items=40, density=0.3, seed=1)


def _mf(**kw):
    # A constant step and wider init: BiasedMF's decaying default schedule is tuned for
    # real data and barely moves on a table this small.
    params = dict(n_factors=3, n_epochs=20, learning_rate_decay=1.0, init_std=0.1, random_state=0)
    params.update(kw)
    return BiasedMF(**params)


def test_tune_beats_a_deliberately_bad_default(data):
    bad = _mf(learning_rate=1e-5, n_epochs=3)
    train, valid = random_split(data, 0.1, 0)
    bad_rmse = evaluate_ratings(bad.clone().fit(train, valid), valid)["rmse"]
    space = {
        "learning_rate": ("float", 1e-2, 0.3, {"log": True}),
        "n_epochs": ("int", 10, 40),
    }
    result = tune(bad, data, space, n_trials=8, random_state=0)
    assert isinstance(result, TuningResult)
    assert set(result.best_params) == {"learning_rate", "n_epochs"}
    assert result.best_value < bad_rmse - 0.15
    # best_value is the clipped validation RMSE of that configuration, reproducibly.
    refit = bad.clone().set_params(**result.best_params).fit(train, valid)
    assert result.best_value == pytest.approx(evaluate_ratings(refit, valid)["rmse"])
    assert result.best_value == result.trials["rmse"].min()
    # The template is not touched; the best model is refitted on all of the data.
    assert bad.learning_rate == 1e-5 and not bad.is_fitted
    best = result.best_model()
    assert best.learning_rate == result.best_params["learning_rate"]
    assert best.seen_.nnz == data.nnz and best.data_fingerprint_ == data.fingerprint()
    assert "best rmse" in str(result)


class RecordingMF(BiasedMF):
    """BiasedMF that writes down the cells of every fit's training and validation data."""

    fits: list = []

    def fit(self, data, validation=None):
        RecordingMF.fits.append((_cells(data), None if validation is None else _cells(validation)))
        return super().fit(data, validation)


def _cells(part):
    return set(zip(part.user_idx.tolist(), part.item_idx.tolist(), strict=True))


def test_tune_sees_only_the_data_it_is_given(data):
    outer_train, outer_test = random_split(data, 0.2, random_state=7)
    RecordingMF.fits = []
    result = tune(
        RecordingMF(n_factors=2, n_epochs=5, random_state=0),
        outer_train,
        LOG_LR,
        n_trials=3,
        validation=0.25,
    )
    allowed, test_cells = _cells(outer_train), _cells(outer_test)
    # 3 trials, the first of them the model as given (its score is the one compared
    # against, so it is not fitted a fourth time).
    assert len(RecordingMF.fits) == 3
    first_split = RecordingMF.fits[0]
    for train_cells, valid_cells in RecordingMF.fits:
        assert (train_cells, valid_cells) == first_split  # one inner split for every trial
        assert not train_cells & valid_cells
        assert train_cells | valid_cells == allowed
        assert not (train_cells | valid_cells) & test_cells
        assert len(valid_cells) == round(0.25 * len(allowed))
    result.best_model()
    assert RecordingMF.fits[-1] == (allowed, None)


def test_pruning_stops_clearly_worse_trials_early(data):
    result = tune(_mf(), data, LOG_LR, n_trials=15, random_state=0)
    trials = result.trials
    pruned = trials[trials["state"] == "pruned"]
    complete = trials[trials["state"] == "complete"]
    assert len(pruned) >= 2
    assert (pruned["epochs"] < 20).all() and (pruned["epochs"] >= 5).all()
    assert (complete["epochs"] == 20).all()
    assert pruned["rmse"].isna().all()
    # Per-epoch validation RMSE is kept as optuna's intermediate values.
    done = result.study.trials[int(complete["trial"].iloc[0])]
    assert sorted(done.intermediate_values) == list(range(1, 21))
    assert len(result.study.trials) == 15
    states = {t.state for t in result.study.trials}
    assert optuna.trial.TrialState.PRUNED in states
    # The winner is a learning rate large enough to learn the factors.
    assert result.best_params["learning_rate"] > 0.01


def test_no_pruning_when_switched_off(data):
    result = tune(_mf(n_epochs=8), data, LOG_LR, n_trials=8, prune=False)
    assert (result.trials["state"] == "complete").all()
    assert (result.trials["epochs"] == 8).all()


@pytest.mark.parametrize("seed", [0, 3])
def test_same_seed_gives_the_same_trials(data, seed):
    space = {**LOG_LR, "n_factors": ("int", 1, 6), "biased": ("categorical", [True, False])}
    runs = [tune(_mf(n_epochs=4), data, space, n_trials=6, random_state=seed) for _ in range(2)]
    cols = ["state", "rmse", "learning_rate", "n_factors", "biased", "epochs"]
    assert runs[0].trials[cols].equals(runs[1].trials[cols])
    assert runs[0].best_params == runs[1].best_params


def test_different_seeds_draw_different_trials(data):
    a, b = (tune(_mf(n_epochs=2), data, LOG_LR, n_trials=4, random_state=s) for s in (0, 1))
    assert a.trials["learning_rate"].tolist() != b.trials["learning_rate"].tolist()


def test_space_draws_stay_inside_the_given_ranges(data):
    space = {
        "learning_rate": ("float", 0.01, 0.02),
        "n_factors": ("int", 2, 8, {"step": 2}),
        "regularization": optuna.distributions.FloatDistribution(0.05, 0.2, log=True),
        "biased": ("categorical", [True]),
    }
    result = tune(_mf(n_epochs=3), data, space, n_trials=6, prune=False)
    t = result.trials
    assert t["learning_rate"].between(0.01, 0.02).all()
    assert set(t["n_factors"]) <= {2, 4, 6, 8}
    assert all(isinstance(v, int) for v in t["n_factors"])
    assert t["regularization"].between(0.05, 0.2).all()
    assert (t["biased"] == True).all()  # noqa: E712


def test_unknown_hyperparameter_names_are_an_error(data):
    with pytest.raises(ValueError, match=r"no hyperparameter 'n_factor'.*valid:.*n_factors"):
        tune(_mf(), data, {"n_factor": ("int", 1, 4)}, n_trials=1)


@pytest.mark.parametrize(
    "spec",
    [
        ("int", 1),
        ("uniform", 0.0, 1.0),
        ("float", 0.0, 1.0, {"logg": True}),
        ("float", 2.0, 1.0),
        ("categorical", []),
        "float",
        0.01,
    ],
)
def test_malformed_distributions_name_the_hyperparameter(data, spec):
    with pytest.raises(ValueError, match=r"space\['learning_rate'\]"):
        tune(_mf(), data, {"learning_rate": spec}, n_trials=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"space": {}}, "non-empty dict"),
        ({"n_trials": 0}, "n_trials"),
        ({"validation": 1.0}, "validation"),
        ({"timeout": -1}, "timeout"),
        ({"metric": "auc"}, "unknown metric"),
        ({"metric": "ndcg@0"}, "cut-off"),
        ({"prune": "yes"}, "prune"),
    ],
)
def test_bad_arguments_are_errors(data, kwargs, match):
    args = {"space": LOG_LR, "n_trials": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        tune(_mf(), data, args.pop("space"), **args)


def test_model_and_data_types_are_checked(data):
    with pytest.raises(TypeError, match="latentrec model"):
        tune("BiasedMF", data, LOG_LR)
    with pytest.raises(TypeError, match="Interactions"):
        tune(_mf(), data.to_frame(), LOG_LR)


def test_ranking_metric_is_maximised_without_pruning(data):
    result = tune(_mf(), data, LOG_LR, n_trials=8, metric="NDCG@5", random_state=0)
    assert result.metric == "ndcg@5" and result.direction == "maximize"
    assert (result.trials["state"] == "complete").all()  # the RMSE pruner is off
    assert result.best_value == result.trials["ndcg@5"].max()
    train, valid = random_split(data, 0.1, 0)
    refit = _mf().set_params(**result.best_params).fit(train, valid)
    assert result.best_value == pytest.approx(evaluate_ranking(refit, valid, 5)["ndcg"])
    with pytest.raises(ValueError, match="ranking metric"):
        tune(_mf(), data, LOG_LR, n_trials=1, metric="ndcg@5", prune=optuna.pruners.NopPruner())


def test_rating_metric_needs_a_model_that_predicts_ratings(data):
    with pytest.raises(ValueError, match="ndcg@10"):
        tune(Popularity(), data, {}, metric="rmse")


def test_models_without_epochs_are_tuned_but_not_pruned(data):
    space = {"regularization": ("float", 0.0, 50.0), "user_regularization": ("float", 0.0, 50.0)}
    result = tune(Biases(), data, space, n_trials=8, metric="mae")
    assert (result.trials["state"] == "complete").all()
    assert (result.trials["epochs"] == 0).all()
    assert result.best_value == result.trials["mae"].min()


def test_diverging_trials_fail_and_the_search_goes_on(data):
    space = {"learning_rate": ("float", 1e-3, 100.0, {"log": True})}
    result = tune(_mf(n_epochs=5), data, space, n_trials=8, prune=False)
    states = result.trials["state"]
    assert (states == "fail").any() and (states == "complete").any()
    failed = result.trials[states == "fail"]
    assert failed["error"].str.contains("diverged").all()
    assert result.best_params["learning_rate"] < failed["learning_rate"].min()


def test_no_completed_trial_is_an_error_that_says_why(data):
    space = {"learning_rate": ("float", 50.0, 100.0)}
    with pytest.raises(RuntimeError, match=r"no trial completed.*2 failed.*diverged"):
        tune(_mf(n_epochs=5), data, space, n_trials=2)


def test_a_given_pruner_is_used_and_all_pruned_is_an_error(data):
    # ThresholdPruner(upper=0) prunes every trial at its first epoch past warm-up (none).
    with pytest.raises(RuntimeError, match="3 pruned"):
        tune(_mf(), data, LOG_LR, n_trials=3, prune=optuna.pruners.ThresholdPruner(upper=0.0))


def test_timeout_stops_after_the_running_trial(data):
    result = tune(_mf(n_epochs=2), data, LOG_LR, n_trials=50, timeout=1e-9)
    assert len(result.trials) == 1


def test_verbose_prints_one_line_per_trial_and_optuna_logging_is_restored(data, capsys):
    before = optuna.logging.get_verbosity()
    tune(_mf(n_epochs=2), data, LOG_LR, n_trials=3, verbose=True)
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("  trial 1/3: rmse=")
    assert optuna.logging.get_verbosity() == before


def test_missing_optuna_names_the_extra(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` fail
    with pytest.raises(ImportError, match=r"latentrec\[tune\]"):
        tune(_mf(), data, LOG_LR)


def test_generator_seed_is_accepted(data):
    result = tune(_mf(n_epochs=2), data, LOG_LR, n_trials=2, random_state=np.random.default_rng(0))
    assert len(result.trials) == 2


def test_an_all_categorical_space_is_a_grid_search(data):
    # TPE on a 2x2 grid ran one point twice and missed another; a grid tries each once.
    space = {
        "n_factors": ("categorical", [2, 4]),
        "regularization": ("categorical", [0.02, 0.08]),
    }
    model = BiasedMF(n_epochs=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        for n_trials in (4, 10):  # more trials than points: each point once, no more
            result = tune(model, data, space, n_trials=n_trials, prune=False)
            tried = sorted(
                zip(result.trials["n_factors"], result.trials["regularization"], strict=True)
            )
            assert tried == [(2, 0.02), (2, 0.08), (4, 0.02), (4, 0.08)]
        # Fewer trials than points: the sampler draws as before (TPE), n_trials of them.
        assert len(tune(model, data, space, n_trials=3, prune=False).trials) == 3


@pytest.mark.parametrize(
    ("name", "spec", "words"),
    [
        ("n_factors", ("int", 1.5, 4.7), "whole-number"),  # was searched as 1..4
        ("learning_rate", ("float", float("nan"), 0.1), "finite"),  # was an OverflowError
        ("learning_rate", ("float", 0.01, float("inf")), "finite"),
        ("learning_rate", ("float", 0.01, 0.1, {"log": "no"}), "'log' must be true or false"),
        ("n_factors", ("categorical", [2, 3, 2]), "choice 2 is listed more than once"),
        # The model refuses an end of the range: said now, not when a trial draws it.
        ("n_factors", ("int", 0, 8), r"reaches n_factors=0, which BiasedMF refuses"),
        ("regularization", ("categorical", [0.1, -1.0]), "reaches regularization=-1.0"),
    ],
)
def test_spaces_that_would_search_something_else_or_fail_later_are_refused(data, name, spec, words):
    with pytest.raises(ValueError, match=rf"space\['{name}'\].*{words}"):
        tune(_mf(), data, {name: spec}, n_trials=1)


def test_a_rule_between_two_searched_hyperparameters_is_left_to_the_trials(data):
    from latentrec.models import NMF

    # NMF refuses init_high <= init_low: init_high=0.5 breaks it with the template's
    # init_low=0.6, but the trials draw both, and every drawn pair keeps it.
    space = {"init_low": ("float", 0.0, 0.1), "init_high": ("float", 0.5, 1.0)}
    template = NMF(n_factors=2, n_epochs=2, init_low=0.6, random_state=0)
    result = tune(template, data, space, n_trials=2)
    assert (result.trials["state"] == "complete").all()


@pytest.mark.parametrize("seed", ["a", -1, 1.5, True, 2**32])
def test_a_bad_seed_is_a_clear_error(data, seed):
    with pytest.raises(ValueError, match="random_state must be None, an integer"):
        tune(_mf(), data, LOG_LR, n_trials=1, random_state=seed)


@pytest.mark.parametrize(
    ("space", "n_points"),
    [
        ({"n_factors": ("int", 3, 3)}, 1),  # a one-point space: one fit, not n_trials
        ({"learning_rate": ("float", 0.05, 0.05)}, 1),
        ({"n_factors": ("int", 1, 3), "biased": ("categorical", [True, False])}, 6),
        ({"n_factors": ("int", 2, 6, {"step": 2})}, 3),
    ],
)
def test_a_space_of_few_points_is_searched_once_per_point(data, space, n_points):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        result = tune(_mf(n_epochs=2), data, space, n_trials=10, prune=False)
    points = result.trials[list(space)].apply(tuple, axis=1).tolist()
    assert len(points) == n_points and len(set(points)) == n_points
    assert result.exhaustive


def test_a_range_with_more_points_than_trials_is_sampled(data):
    result = tune(_mf(n_epochs=2), data, {"n_factors": ("int", 1, 9)}, n_trials=3, prune=False)
    assert len(result.trials) == 3 and not result.exhaustive


def test_an_exhausted_space_asks_for_a_wider_one_not_more_trials(data):
    # The template's own value is the only point: the search cannot beat it, and more
    # trials would try the same point again.
    with pytest.warns(TuningWarning, match="search a wider space") as caught:
        result = tune(_mf(n_epochs=2), data, {"n_factors": ("int", 3, 3)}, n_trials=30)
    assert "more trials" not in str(caught[0].message)
    assert not result.improved and len(result.trials) == 1


def test_the_model_as_given_is_the_first_trial_when_the_space_holds_it(data):
    # The README's search (BiasedMF's built-in space, 30 trials) ended below the untuned
    # model on MovieLens: TPE never tried its settings.  Now it starts from them.
    template = _mf(learning_rate=0.05)
    space = {"learning_rate": ("float", 1e-4, 0.3, {"log": True}), "n_factors": ("int", 1, 6)}
    result = tune(template, data, space, n_trials=4, random_state=0)
    first = result.trials.iloc[0]
    assert (first["learning_rate"], first["n_factors"]) == (0.05, 3)
    train, valid = random_split(data, 0.1, 0)
    given = evaluate_ratings(template.clone().fit(train, valid), valid)["rmse"]
    assert result.default_value == pytest.approx(given)
    assert result.best_value <= result.default_value


def test_a_template_outside_the_space_is_not_a_trial_but_still_scored(data):
    template = _mf(learning_rate=1e-5)  # below the range searched
    space = {"learning_rate": ("float", 1e-3, 0.1, {"log": True})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TuningWarning)
        result = tune(template, data, space, n_trials=3, random_state=0, prune=False)
    assert result.trials["learning_rate"].between(1e-3, 0.1).all()
    train, valid = random_split(data, 0.1, 0)
    given = evaluate_ratings(template.clone().fit(train, valid), valid)["rmse"]
    assert result.default_value == pytest.approx(given)


def test_a_trial_whose_model_ranks_by_item_index_fails_and_the_search_goes_on(data, capsys):
    # evaluate_ranking's refusal of equal scores (factors that start and stay at zero,
    # no biases) ended the whole search with a ValueError at that trial.
    model = BiasedMF(biased=False, n_factors=2, random_state=0)
    space = {"init_std": ("categorical", [0.0, 0.1])}
    result = tune(model, data, space, n_trials=2, metric="ndcg@5", verbose=True)
    trials = result.trials.set_index("init_std")
    assert trials.loc[0.0, "state"] == "fail"
    assert "same score" in trials.loc[0.0, "error"]
    assert trials.loc[0.1, "state"] == "complete"
    assert result.best_params == {"init_std": 0.1}
    # Each line is its own trial's: it printed the enqueued, unrun point as "failed: None".
    lines = [line for line in capsys.readouterr().out.splitlines() if "trial " in line]
    assert lines[0].startswith("  trial 1/2: failed: the model gave every candidate the same")
    assert lines[0].endswith("(init_std=0)")
    assert lines[1].startswith("  trial 2/2: ndcg@5=") and lines[1].endswith("(init_std=0.1)")


@pytest.mark.filterwarnings("ignore::latentrec.evaluation.tuning.TuningWarning")
def test_relevance_threshold_scores_only_good_validation_ratings(data):
    # Every validation cell counted as relevant, 1 star included: there was no way to say.
    train, valid = random_split(data, 0.1, 0)
    space = {"regularization": ("categorical", [10.0])}
    for threshold in (None, 4):
        result = tune(Biases(), data, space, n_trials=1, metric="ndcg@5",
                      relevance_threshold=threshold)  # fmt: skip
        want = evaluate_ranking(Biases().fit(train), valid, 5, relevance_threshold=threshold)
        assert result.best_value == pytest.approx(want["ndcg"])
    assert want["n_users"] < np.count_nonzero(valid.user_counts())  # the threshold filters


@pytest.mark.parametrize(
    "metric, threshold, words",
    [
        ("rmse", 4, "relevance_threshold applies to a ranking metric"),
        ("ndcg@5", "4", "relevance_threshold must be a number or None"),
        ("ndcg@5", 6, "no held-out cell is at least the relevance threshold 6"),
    ],
)
def test_relevance_threshold_is_refused_before_any_trial_where_it_cannot_apply(
    data, metric, threshold, words
):
    space = {"regularization": ("float", 1.0, 20.0)}
    with pytest.raises(ValueError, match=words):
        tune(Biases(), data, space, n_trials=1, metric=metric, relevance_threshold=threshold)


class _ScoresNaNAt20(Biases):
    """Biases whose scores are all NaN at regularization 20: a fit gone wrong past what its
    checks see, as a GradientDescentMF whose factors overflow float32 in its scores."""

    def _score_block(self, user_idx):
        scores = np.array(super()._score_block(user_idx), dtype=np.float32)
        if self.regularization == 20.0:
            scores[:] = np.nan
        return scores


def test_a_trial_whose_model_scores_nan_fails_and_the_search_goes_on(data):
    # evaluate_ranking's refusal of lists run short of NaN-scored candidates was a plain
    # ValueError, which ended the whole search at that trial.
    space = {"regularization": ("categorical", [10.0, 20.0])}
    result = tune(_ScoresNaNAt20(regularization=20.0), data, space, n_trials=2, metric="ndcg@5")
    trials = result.trials.set_index("regularization")
    assert trials.loc[20.0, "state"] == "fail"
    assert "not finite" in trials.loc[20.0, "error"]
    assert trials.loc[10.0, "state"] == "complete"
    assert result.best_params == {"regularization": 10.0}
    assert np.isnan(result.default_value)  # the template, refused the same way


class _PredictsInfAt20(Biases):
    """Biases predicting +inf for every cell at regularization 20."""

    def _predict_idx(self, user_idx, item_idx):
        pred = np.asarray(super()._predict_idx(user_idx, item_idx), dtype=np.float64)
        return np.full_like(pred, np.inf) if self.regularization == 20.0 else pred


def test_a_trial_whose_model_predicts_infinity_fails_and_the_search_goes_on(data):
    # evaluate_ratings' refusal of a prediction that is not finite (once clipped to the
    # end of the scale and scored) was a plain ValueError, which ended the whole search.
    space = {"regularization": ("categorical", [10.0, 20.0])}
    result = tune(_PredictsInfAt20(regularization=20.0), data, space, n_trials=2)
    trials = result.trials.set_index("regularization")
    assert trials.loc[20.0, "state"] == "fail"
    assert "_PredictsInfAt20 predicted inf for user" in trials.loc[20.0, "error"]
    assert trials.loc[10.0, "state"] == "complete"
    assert result.best_params == {"regularization": 10.0}
    assert np.isnan(result.default_value)
