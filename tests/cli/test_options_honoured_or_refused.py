"""Options a command would ignore, or that contradict another, are refused in one line;
a model file is written only under .npz and never over the ratings read; a fit that
diverges on values far from any rating scale names the column they came from."""

from __future__ import annotations

import pytest
from new_user_support import error_line, invoke, train_both


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_both(tmp_path_factory.mktemp("options"))


# An -o that would overwrite the ratings, or that no command reads as a model
def test_train_never_writes_a_model_over_its_ratings(trained):
    csv, _, _, folder = trained
    copy = folder / "copy.csv"
    copy.write_bytes(csv.read_bytes())
    line = error_line(invoke("train", copy, "-q", "-o", copy))
    assert ".npz" in line and str(copy) in line
    assert copy.read_bytes() == csv.read_bytes()
    # Named .npz, the ratings file is still the file read: refused, left as it was.
    npz = folder / "ratings_named.npz"
    npz.write_bytes(csv.read_bytes())
    line = error_line(invoke("train", npz, "-q", "-o", npz))
    assert "is the file read" in line
    assert npz.read_bytes() == csv.read_bytes()


@pytest.mark.parametrize("command", ["tune", "onboard"])
def test_tune_and_onboard_write_models_only_under_npz(trained, command):
    csv, model, _, folder = trained
    target = folder / f"{command}_model.csv"
    if command == "tune":
        args = ["tune", csv, "--trials", 1, "-o", target]
    else:
        args = ["onboard", model, "--answers", "100=5", "--save-as", 9000, "-o", target]
    line = error_line(invoke(*args))
    assert "must end in .npz" in line and str(target) in line
    assert not target.exists()


# Options that were ignored or in conflict without a word
def test_tune_refuses_a_hyperparameter_both_fixed_and_searched(trained):
    csv = trained[0]
    line = error_line(
        invoke("tune", csv, "--factors", 8, "--space", '{"n_factors": ["int", 20, 30]}')
    )
    assert "--factors" in line and "n_factors" in line and "--space" in line


def test_tune_keeps_a_fixed_hyperparameter_out_of_the_built_in_space(trained):
    csv = trained[0]
    out = invoke("tune", csv, "--factors", 8, "--epochs", 2, "--trials", 2)
    assert out.exit_code == 0, out.output
    trials = [x for x in out.output.splitlines() if x.strip().startswith("trial ")]
    assert trials and all("n_factors" not in x for x in trials), out.output
    assert "n_factors" not in out.output.split("best ")[-1]


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["train", "{csv}", "-o", "{folder}/s.npz", "--spark-master", "local[4]"], 2,
         "--spark-master applies only with --engine spark"),
        (["train", "{csv}", "-o", "{folder}/s.npz", "-k", 5], 2, "-k applies only with"),
        (["train", "{csv}", "-o", "{folder}/s.npz", "--engine", "spark", "-a", "als",
          "--learning-rate", 0.1], 1, "--learning-rate is not available with --engine spark"),
        (["plot", "ratings", "--data", "{csv}", "--model", "/nonexistent.npz",
          "-o", "{folder}/r.png"], 2,
         "plot ratings does not read --model (taste-map and learning-curves only)"),
        (["plot", "spectrum", "--data", "{csv}", "--lambdas", "1", "-o", "{folder}/r.png"], 2,
         "plot spectrum does not read --lambdas (tradeoff only)"),
        (["plot", "taste-map", "--model", "{model}", "--data", "{csv}", "-k", 5,
          "-o", "{folder}/r.png"], 2,
         "plot taste-map does not read -k (spectrum and tradeoff only)"),
        (["evaluate", "{csv}", "-k", 5, "--task", "rating"], 2, "-k applies to --task ranking"),
        (["train", "{csv}", "-o", "{folder}/s.npz", "--rating-col", "none",
          "--rating-scale", 1, 5], 1, "--rating-scale applies to ratings, not to implicit"),
        (["train", "ml-100k", "-o", "{folder}/s.npz", "--rating-col", "t"], 1,
         "--rating-col applies to ratings files, not to the dataset ml-100k"),
        (["train", "ml-100k", "-o", "{folder}/s.npz", "--engine", "spark", "-a", "als",
          "--user-col", "u"], 1, "--user-col applies to ratings files, not to the dataset"),
        (["train", "{csv}", "-o", "{folder}/s.npz", "--engine", "spark", "-a", "als",
          "--timestamp-col", "t"], 1, "--timestamp-col is not available with --engine spark"),
        # The models stop early only on validation data, which evaluate never has: the
        # figures were those without patience, under a label saying patience=2.
        (["evaluate", "{csv}", "--param", "patience=2"], 1,
         "--param patience needs validation data to stop on, and evaluate has none"),
        (["evaluate", "{csv}", "--param", "patience=2", "--cv", 2], 1,
         "--param patience needs validation data to stop on, and evaluate has none"),
        (["evaluate", "{csv}", "-a", "hybrid", "--task", "ranking", "--param", "patience=1"], 1,
         "--param patience needs validation data to stop on, and evaluate has none"),
        (["onboard", "{model}", "--min-ratings", -5], 2, "--min-ratings"),
        (["onboard", "{model}", "--answers", "100=5", "-k", 3], 2,
         "-k applies to the questions asked"),
    ],
)  # fmt: skip
def test_an_option_the_command_would_not_use_is_refused(trained, args, code, words):
    csv, model, _, folder = trained
    args = [str(a).format(csv=csv, model=model, folder=folder) for a in args]
    line = error_line(invoke(*args), code)
    assert words in line, line
    assert not list(folder.glob("s.npz")) and not list(folder.glob("r.png"))


# A column that holds no ratings, read as ratings
def test_divergence_on_values_far_from_a_scale_names_the_column(trained):
    csv, _, _, folder = trained
    line = error_line(invoke("train", csv, "--rating-col", "t", "-q", "-o", folder / "t.npz"))
    assert "column 't'" in line and "rating column" in line
    line = error_line(invoke("evaluate", csv, "--rating-col", "t"))
    assert "column 't'" in line
    # A real divergence on ordinary ratings keeps its advice.
    line = error_line(invoke("train", csv, "--learning-rate", 50, "-q", "-o", folder / "t.npz"))
    assert "lower learning_rate" in line and "column" not in line


def test_plot_help_names_every_kind_that_reads_data():
    plot = " ".join(invoke("plot", "--help").output.split())
    assert "(taste-map, spectrum, ratings, tradeoff)" in plot


def test_a_space_that_is_not_an_object_is_one_clear_line(trained):
    line = error_line(invoke("tune", trained[0], "--space", "[1,2]"))
    assert "--space must be a JSON object" in line and "got [1,2]" in line
    assert "attribute" not in line
