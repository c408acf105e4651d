"""Values ``fit`` refuses for the data (a ``HyperparameterError``: an ImplicitALS alpha
past what its CG solver computes, arrays that would not fit in memory) fail their own
trial, with the message, and the search goes on to a feasible best; the command line
says each refusal of ``latentrec train`` in one line."""

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.errors import HyperparameterError
from latentrec.evaluation.tuning import tune
from latentrec.models import BiasedMF, HybridMF, ImplicitALS, TruncatedSVD

optuna = pytest.importorskip("optuna")


def _plays() -> Interactions:
    rng = np.random.default_rng(0)
    dense = rng.integers(1, 6, size=(30, 20)) * (rng.random((30, 20)) < 0.4)
    dense[:, 0] = 3
    dense[0, :] = 4
    return Interactions.from_dense(dense)


DATA = _plays()


def test_the_three_refusals_are_one_class_and_still_value_errors():
    with pytest.raises(HyperparameterError, match="alpha=1000000000000.0"):
        ImplicitALS(alpha=1e12, solver="cg", n_factors=2).fit(DATA)
    with pytest.raises(HyperparameterError, match="n_factors=2147483647 needs at least"):
        BiasedMF(n_factors=2**31 - 1).fit(DATA)
    with pytest.raises(HyperparameterError, match="ends only by patience"):
        BiasedMF(n_epochs=sys.maxsize, patience=2).fit(DATA)
    with pytest.raises(HyperparameterError, match="n_factors=25 exceeds min"):
        TruncatedSVD(n_factors=25).fit(DATA)
    assert issubclass(HyperparameterError, ValueError)


def test_an_svd_rank_past_the_data_fails_its_trial_and_the_search_goes_on():
    # Before: n_factors=25 on 30 x 20 data raised a plain ValueError that ended the search.
    space = {"n_factors": ("categorical", [2, 25])}
    result = tune(TruncatedSVD(), DATA, space, n_trials=2, random_state=0)
    trials = result.trials.set_index("n_factors")
    assert trials.loc[25, "state"] == "fail"
    assert "exceeds min(n_users, n_items) = 20" in trials.loc[25, "error"]
    assert result.best_params == {"n_factors": 2}


def test_an_alpha_the_solver_cannot_compute_fails_its_trial_and_the_search_goes_on():
    # Before: the first alpha=1e12 trial's ValueError stopped the whole search.
    model = ImplicitALS(n_factors=2, n_epochs=2, solver="cg", random_state=0)
    space = {"alpha": ("categorical", [1.0, 4.0, 1e9, 1e12])}
    result = tune(model, DATA, space, metric="ndcg@5", n_trials=4, random_state=0)
    trials = result.trials.set_index("alpha")
    assert list(trials.loc[[1e9, 1e12], "state"]) == ["fail", "fail"]
    for alpha in (1e9, 1e12):
        error = trials.loc[alpha, "error"]
        assert error.startswith(f"alpha={alpha!r} gives the strongest cell a confidence"), error
        assert "lower alpha to at most" in error
    assert list(trials.loc[[1.0, 4.0], "state"]) == ["complete", "complete"]
    assert result.best_params["alpha"] in (1.0, 4.0)
    assert np.isfinite(result.best_value)


def test_a_template_whose_own_values_are_refused_scores_nan_not_an_error():
    # The template is scored on the split too; its refusal is no reason to lose the search.
    model = ImplicitALS(n_factors=2, n_epochs=2, solver="cg", alpha=1e12, random_state=0)
    space = {"n_factors": ("categorical", [2, 3])}
    with pytest.raises(RuntimeError, match="no trial completed .*alpha=1000000000000.0"):
        tune(model, DATA, space, metric="ndcg@5", n_trials=2)
    model = ImplicitALS(n_factors=2, n_epochs=2, solver="cg", alpha=1e12, random_state=0)
    result = tune(model, DATA, {"alpha": ("categorical", [2.0])}, metric="ndcg@5")
    assert np.isnan(result.default_value) and result.improved


@pytest.mark.filterwarnings("ignore::latentrec.evaluation.tuning.TuningWarning")
def test_a_size_beyond_memory_fails_its_trial_and_the_search_goes_on():
    model = BiasedMF(n_epochs=2, random_state=0)
    space = {"n_factors": ("categorical", [2, 2**31 - 1])}
    result = tune(model, DATA, space, n_trials=2, random_state=0)
    trials = result.trials.set_index("n_factors")
    assert trials.loc[2**31 - 1, "state"] == "fail"
    assert trials.loc[2**31 - 1, "error"].startswith("BiasedMF: n_factors=2147483647 needs")
    assert trials.loc[2, "state"] == "complete" and result.best_params == {"n_factors": 2}


@pytest.mark.filterwarnings("ignore::latentrec.evaluation.tuning.TuningWarning")
def test_a_min_rating_above_every_value_fails_its_trial_and_the_search_goes_on():
    with pytest.raises(HyperparameterError, match=r"min_rating=9.0 \(the highest is 5\)"):
        HybridMF(n_factors=2, n_epochs=1, min_rating=9.0).fit(DATA)
    model = HybridMF(n_factors=2, n_epochs=2, random_state=0)
    space = {"min_rating": ("categorical", [1.0, 9.0])}
    result = tune(model, DATA, space, metric="ndcg@5", n_trials=2, random_state=0)
    trials = result.trials.set_index("min_rating")
    assert trials.loc[9.0, "state"] == "fail"
    assert trials.loc[9.0, "error"].startswith("no training cell has a rating >= min_rating=9.0")
    assert result.best_params == {"min_rating": 1.0}


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("refused") / "plays.csv"
    DATA.to_frame().to_csv(path, index=False)
    return path


def test_tune_on_the_command_line_reports_refused_alphas_as_failed_trials(csv):
    space = '{"alpha": ["float", 1, 1e12, {"log": true}]}'
    args = ["tune", str(csv), "-a", "implicit-als", "--factors", "2", "--epochs", "2"]
    args += ["--param", "solver=cg", "--trials", "6", "--space", space]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    failed = [line for line in lines if ": failed: alpha=" in line]
    complete = [line for line in lines if line.startswith("  trial ") and "ndcg@10=" in line]
    assert failed and complete, out.output
    assert all("gives the strongest cell a confidence" in line for line in failed)
    best = float(
        next(line for line in lines if line.startswith("best ")).split("'alpha': ")[1][:-1]
    )
    assert best <= 1.7e7
    assert "Traceback" not in out.output


@pytest.mark.parametrize(
    "options, words",
    [
        (["-a", "implicit-als", "--param", "solver=cg", "--param", "alpha=1e12"],
         "alpha=1000000000000.0 gives the strongest cell a confidence"),
        (["-a", "biased-mf", "--factors", str(2**31 - 1)],
         "BiasedMF: n_factors=2147483647 needs at least"),
        (["-a", "biased-mf", "--epochs", str(sys.maxsize), "--param", "patience=2"],
         "--param patience needs validation data"),
    ],
)  # fmt: skip
def test_train_says_each_refusal_in_one_line(csv, tmp_path, options, words):
    out = CliRunner().invoke(
        main, ["train", str(csv), "-q", "-o", str(tmp_path / "m.npz"), *options]
    )
    assert out.exit_code == 1, out.output
    errors = [line for line in out.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and words in errors[0], out.output
    assert "Traceback" not in out.output and "unexpected" not in out.output
