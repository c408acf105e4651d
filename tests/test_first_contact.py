"""Issue 10, first contact: each user step that broke, reproduced as the user took it.

Command-line steps run the installed ``latentrec`` command in a process of its own (forked
from one that has run its imports: tests/cli_forks.py), so what is checked is what a user
sees: the exit code, one line on standard error, no traceback.
Items 2, 3, 9 and 11 (the readers) are tested with the readers in tests/data/.
"""

import importlib.metadata
import io
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_forks import latentrec as latentrec_command

import latentrec
from latentrec import Interactions, UnknownIdError, load
from latentrec.data.splits import random_split, user_split
from latentrec.evaluation import evaluate_ranking, evaluate_ratings, tune
from latentrec.evaluation.tuning import TuningWarning
from latentrec.models import (
    BPR,
    BiasedMF,
    Biases,
    GradientDescentMF,
    Popularity,
)
from latentrec.models import _training as training

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None, check=False):
    """Run the installed command (forked from one that has run its imports, or in a
    subprocess where ``env`` changes a setting read at import: tests/cli_forks.py); the
    result has returncode, stdout and stderr."""
    done = latentrec_command(*args, env=env, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def assert_one_line_failure(done, *fragments):
    """Exit code 1, one line on standard error naming the fault, no Python traceback."""
    err = done.stderr.strip()
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def planted_rows(n_users=40, n_items=30, per_user=12, seed=0):
    """Two groups of users with opposite tastes over two groups of items."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, per_user, replace=False):
            base = 5 if (u < n_users // 2) == (i < n_items // 2) else 1
            rows.append((u + 1, i + 100, int(np.clip(base + rng.integers(-1, 2), 1, 5))))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("first_contact")


@pytest.fixture(scope="module")
def ratings_csv(folder):
    path = folder / "ratings.csv"
    planted_rows().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def own_columns_csv(folder):
    """A file as people export it: their own column names, no latentrec defaults."""
    path = folder / "stars.csv"
    planted_rows().rename(columns={"user_id": "uid", "item_id": "movie", "rating": "stars"}).to_csv(
        path, index=False
    )
    return path


@pytest.fixture(scope="module")
def blocker(folder):
    """A PYTHONPATH folder whose sitecustomize makes the modules in BLOCK_MODULES unimportable,
    as if that optional extra were not installed."""
    path = folder / "block"
    path.mkdir()
    (path / "sitecustomize.py").write_text(
        "import os, sys\n"
        "for _name in filter(None, os.environ.get('BLOCK_MODULES', '').split(',')):\n"
        "    sys.modules[_name] = None\n"
    )
    return path


def without(blocker, *modules):
    return {"PYTHONPATH": str(blocker), "BLOCK_MODULES": ",".join(modules)}


# ---------------------------------------------------------------------- 1. README snippet
def test_01_import_latentrec_then_datasets_is_an_attribute():
    # A fresh interpreter: in this process another test may have imported the module.
    code = "import latentrec; print(latentrec.datasets.synthetic(5, 4, 10).shape)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(5, 4)"


@pytest.mark.network
def test_01_readme_first_data_line_loads_movielens():
    code = "import latentrec; print(latentrec.datasets.movielens('100k', verbose=False).nnz)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "100000"


# ---------------------------------------------------------------------- 4. one-line errors
@pytest.mark.parametrize(
    "module, extra, command",
    [
        (
            "optuna",
            "tune",
            ["tune", "{csv}", "-a", "biases", "--space", '{{"n_epochs": ["int", 1, 3]}}'],
        ),
        ("matplotlib", "plot", ["plot", "ratings", "--data", "{csv}", "-o", "{dir}/r.png"]),
        ("pyarrow", "parquet", ["train", "{parquet}", "-a", "biases", "-o", "{dir}/m.npz"]),
    ],
)
def test_04_missing_extra_is_one_line(module, extra, command, ratings_csv, folder, blocker):
    parquet = folder / "ratings.parquet"
    if not parquet.exists():
        pd.read_csv(ratings_csv).to_parquet(parquet)
    args = [a.format(csv=ratings_csv, dir=folder, parquet=parquet) for a in command]
    done = cli(*args, env=without(blocker, module))
    # The line names the missing module and the extra that brings it.
    assert_one_line_failure(done, module, f"latentrec[{extra}]")


def test_04_diverged_training_is_one_line(ratings_csv, folder):
    done = cli(
        "train", ratings_csv, "--learning-rate", 1000, "--param", "learning_rate_decay=1.0",
        "-q", "-o", folder / "diverged.npz",
    )  # fmt: skip
    assert_one_line_failure(done, "diverged", "--learning-rate")


def test_04_empty_and_unreadable_inputs_are_one_line(folder):
    empty = folder / "empty.csv"
    empty.write_text("")
    assert_one_line_failure(cli("train", empty, "-o", folder / "m.npz"), "empty")
    blank = folder / "blank.csv"
    blank.write_text("\n\n")
    assert_one_line_failure(cli("train", blank, "-o", folder / "m.npz"), "blank.csv")
    header_only = folder / "header.csv"
    header_only.write_text("user_id,item_id,rating\n")
    assert_one_line_failure(cli("train", header_only, "-o", folder / "m.npz"), "no data rows")
    assert_one_line_failure(cli("train", folder, "-o", folder / "m.npz"), "folder")
    latin = folder / "latin.csv"
    latin.write_bytes("user_id,item_id,rating\njosé,1,4\nana,2,3\n".encode("latin-1"))
    done = cli("data", "info", latin)
    # Read as UTF-8 it is refused with the way out; once readers take --encoding it loads.
    if done.returncode:
        assert_one_line_failure(done, "--encoding")
    damaged = folder / "damaged.npz"
    damaged.write_bytes(b"not a model")
    assert_one_line_failure(cli("recommend", damaged, "--user", 1), "damaged.npz")


def test_04_unexpected_errors_are_one_line_with_the_way_to_the_traceback():
    from latentrec.cli._common import failure_message

    text = failure_message(KeyError("boom"))
    assert "\n" not in text and "KeyError" in text and "LATENTREC_DEBUG" in text


# ---------------------------------------------------------------------- 5. train --test-size
def test_05_test_size_reports_then_saves_a_model_of_all_the_data(ratings_csv, folder):
    path = folder / "refit.npz"
    done = cli(
        "train", ratings_csv, "--factors", 4, "--epochs", 40, "--rating-scale", 1, 5,
        "--test-size", 0.2, "-q", "-o", path, check=True,
    )  # fmt: skip
    assert "held-out RMSE" in done.stdout and "on all of it" in done.stdout
    df = pd.read_csv(ratings_csv)
    model = load(path)
    # The saved model saw every rating, the held-out 20% included ...
    assert model.seen_.nnz == len(df)
    assert model.metrics_["refit"] is True and 0 < model.metrics_["holdout_rmse"] < 2
    assert model.metrics_["holdout_share"] == 0.2
    # ... so no user is recommended a title they rated (Star Wars for user 1 in the issue).
    recs = json.loads(cli("recommend", path, "--user", 1, "-n", 10, "--json", check=True).stdout)
    assert not {r["item_id"] for r in recs} & set(df[df.user_id == 1].item_id)


def test_05_no_refit_keeps_the_model_that_never_saw_the_held_out_part(ratings_csv, folder):
    path = folder / "no_refit.npz"
    cli(
        "train", ratings_csv, "-a", "biases", "--test-size", 0.25, "--no-refit", "-o", path,
        check=True,
    )  # fmt: skip
    model = load(path)
    assert model.seen_.nnz == round(0.75 * len(pd.read_csv(ratings_csv)))
    assert model.metrics_["refit"] is False


def test_05_ranking_models_report_held_out_ranking_metrics(ratings_csv, folder):
    path = folder / "popularity.npz"
    done = cli(
        "train", ratings_csv, "-a", "popularity", "--rating-col", "none", "--test-size", 0.2,
        "-k", 5, "-o", path, check=True,
    )  # fmt: skip
    assert "held-out ndcg@5" in done.stdout
    model = load(path)
    assert 0 <= model.metrics_["holdout_ndcg@5"] <= 1 and model.metrics_["holdout_users"] > 0
    assert model.seen_.nnz == len(pd.read_csv(ratings_csv))
    # The same figures from the library: a ranking model's holdout is user_split (a share
    # of each user's cells) with the command's seed, 0 by default.
    data = Interactions.read(ratings_csv, rating=None)
    part, test = user_split(data, 0.2, random_state=0)
    want = evaluate_ranking(Popularity().fit(part), test, 5)
    assert model.metrics_["holdout_ndcg@5"] == pytest.approx(want["ndcg"], abs=1e-12)
    assert model.metrics_["holdout_recall@5"] == pytest.approx(want["recall"], abs=1e-12)
    assert model.metrics_["holdout_users"] == want["n_users"]
    assert f"held-out ndcg@5 {want['ndcg']:.4f}" in done.stdout


# ---------------------------------------------------------------------- 6. no rating column
def test_06_rating_model_on_data_without_ratings_is_refused(ratings_csv, folder):
    done = cli("train", ratings_csv, "--rating-col", "none", "-o", folder / "m.npz")
    assert_one_line_failure(done, "ImplicitALS", "BPR", "WARP", "Popularity")
    data = Interactions.from_frame(pd.read_csv(ratings_csv), rating=None)
    with pytest.raises(ValueError, match="ImplicitALS, BPR, WARP or Popularity"):
        BiasedMF().fit(data)
    # All-equal values are refused even with a rating column; ranking models take them.
    ones = pd.read_csv(ratings_csv).assign(rating=1)
    with pytest.raises(ValueError, match="every value in the data is 1"):
        Biases().fit(Interactions.from_frame(ones))
    assert Popularity().fit(data).is_fitted
    # Repeated events add up to counts, which are no ratings either: still refused.
    repeated = pd.concat([pd.read_csv(ratings_csv)] * 2).reset_index(drop=True)
    counts = Interactions.from_frame(repeated.iloc[: len(repeated) // 2 + 5], rating=None)
    assert counts.ratings.max() > counts.ratings.min()
    with pytest.raises(ValueError, match="holds implicit feedback"):
        BiasedMF().fit(counts)
    done = cli("evaluate", ratings_csv, "--rating-col", "none", "-a", "biased-mf")
    assert_one_line_failure(done, "ImplicitALS", "BPR", "WARP", "Popularity")


# ---------------------------------------------------------------------- 7. fallback rows
def test_07_fallback_rows_are_flagged_and_not_counts(ratings_csv, folder):
    path = folder / "mf.npz"
    cli("train", ratings_csv, "--factors", 4, "--epochs", 20, "-q", "-o", path, check=True)
    model = load(path)
    unknown = json.loads(cli("recommend", path, "--user", 9999, "-n", 3, "--json").stdout)
    known = json.loads(cli("recommend", path, "--user", 1, "-n", 3, "--json").stdout)
    assert all(r["fallback"] is True for r in unknown)
    assert all(r["fallback"] is False for r in known)
    # In rating units: what the model predicts for a user it does not know, μ + b_i.
    items = [r["item_id"] for r in unknown]
    baseline = model.predict([9999] * 3, items, unknown="baseline")
    np.testing.assert_allclose([r["score"] for r in unknown], baseline, rtol=1e-5)
    assert all(1 <= r["score"] <= 5 for r in unknown)
    # Still ranked by popularity.
    counts = pd.read_csv(ratings_csv).item_id.value_counts()
    assert [counts[i] for i in items] == sorted(counts[items], reverse=True)
    batch = model.recommend_batch([1, 9999], n=3)
    assert batch.groupby("user_id")["fallback"].first().to_dict() == {1: False, 9999: True}


def test_07_ranking_model_fallback_scores_are_nan():
    data = Interactions.from_frame(planted_rows(), rating=None)
    model = BPR(n_factors=4, n_epochs=2, random_state=0).fit(data)
    rec = model.recommend("stranger", n=3)
    assert rec.fallback and np.isnan(rec.scores).all()
    assert not np.isnan(model.recommend(1, n=3).scores).any()


# ---------------------------------------------------------------------- 8. gd-mf defaults
@pytest.mark.network
def test_08_gd_mf_with_its_own_defaults_trains_on_movielens(folder):
    # Default learning rate and regularization; fewer steps than the default 8000 to keep
    # the suite fast (the old step diverged within 40).
    done = cli(
        "train", "ml-100k", "-a", "gd-mf", "--epochs", 300, "--test-size", 0.2, "--no-refit",
        "-q", "-o", folder / "gd.npz", check=True,
    )  # fmt: skip
    rmse = float(re.search(r"held-out RMSE (\d+\.\d+)", done.stdout).group(1))
    assert rmse < 1.0


def test_08_gd_step_is_normalised_for_busy_rows_only():
    # Rows of 500 ratings with a strong taste factor: the texts' step overshoots on them.
    rng = np.random.default_rng(0)
    taste, kind = rng.choice([-1.0, 1.0], 40), rng.choice([-1.0, 1.0], 500)
    noise = rng.normal(0, 0.5, (40, 500))
    data = Interactions.from_dense(np.clip(np.round(3 + 2 * np.outer(taste, kind) + noise), 1, 5))
    model = GradientDescentMF(n_epochs=100, random_state=0).fit(data)
    assert model.history_["train_rmse"][-1] < 0.5
    with pytest.raises(FloatingPointError, match="diverged"):
        GradientDescentMF(n_epochs=100, full_step_ratings=None, random_state=0).fit(data)


# ---------------------------------------------------------------------- 10. own data
def test_10_factors_and_plot_read_your_own_file(own_columns_csv, folder):
    cols = ["--user-col", "uid", "--item-col", "movie", "--rating-col", "stars"]
    path = folder / "own.npz"
    cli(
        "train",
        own_columns_csv,
        *cols,
        "--factors",
        3,
        "--epochs",
        20,
        "-q",
        "-o",
        path,
        check=True,
    )
    done = cli("factors", path, "--data", own_columns_csv, *cols, "--min-ratings", 1, "-n", 2)
    assert done.returncode == 0, done.stderr
    assert "factor" in done.stdout.lower()
    done = cli("plot", "ratings", "--data", own_columns_csv, *cols, "-o", folder / "own.png")
    assert done.returncode == 0, done.stderr
    done = cli("plot", "spectrum", "--data", own_columns_csv, *cols, "-o", folder / "sp.png")
    assert done.returncode == 0, done.stderr
    # Without the options, the error names options that exist.
    done = cli("factors", path, "--data", own_columns_csv)
    assert_one_line_failure(done, "user_id")


def test_10_no_header_and_positions(ratings_csv, folder):
    bare = folder / "bare.tsv"
    pd.read_csv(ratings_csv).to_csv(bare, sep="\t", header=False, index=False)
    done = cli("data", "info", bare, "--no-header", check=True)
    assert f"{len(pd.read_csv(ratings_csv))}" in done.stdout.replace(",", "")
    done = cli("data", "info", bare, "--no-header", "--user-col", "uid")
    assert_one_line_failure(done, "--user-col")
    cli("data", "info", bare, "--no-header", "--item-col", 0, "--user-col", 1, check=True)


def test_10_duplicates_option_reaches_the_reader(folder):
    path = folder / "dupes.csv"
    path.write_text("user_id,item_id,rating\n1,1,4\n1,1,2\n2,1,5\n2,2,3\n")
    assert_one_line_failure(cli("data", "info", path, "--duplicates", "error"), "1")
    done = cli("data", "info", path, "--duplicates", "mean", check=True)
    assert "rating distribution: 3: 2, 5: 1" in done.stdout


def test_10_encoding_option_reads_a_latin1_file(folder):
    path = folder / "latin_ok.csv"
    path.write_bytes("user_id,item_id,rating\njosé,1,4\nana,2,3\n".encode("latin-1"))
    done = cli("data", "info", path, "--encoding", "latin-1", check=True)
    assert "2 users" in done.stdout or "2" in done.stdout
    assert "Interactions(2 users x 2 items, 2 ratings," in done.stdout
    # The name comes back as written: the byte 0xE9 read as Latin-1 is "é", not "Ã©" or "\ufffd".
    converted = folder / "latin_ok.lrdata"
    cli("data", "convert", path, "--encoding", "latin-1", "-o", converted, check=True)
    assert sorted(Interactions.read(converted).users.ids.tolist()) == ["ana", "josé"]


# ---------------------------------------------------------------------- 12. first use
def test_12_cold_kernel_cache_is_announced_once(tmp_path):
    data = Interactions.from_frame(planted_rows(n_users=6, n_items=8, per_user=4))
    model_path = tmp_path / "m.npz"
    Biases().fit(data).save(model_path)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    first = cli("recommend", model_path, "--user", 1, env=env, check=True)
    assert first.stderr.count("compiling latentrec's kernels (first run only)...") == 1
    second = cli("recommend", model_path, "--user", 1, env=env, check=True)
    assert "compiling" not in second.stderr
    assert first.stdout == second.stdout


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_12_auto_progress_shows_in_a_terminal_and_ends_at_100(monkeypatch, seed_data):
    monkeypatch.setattr(training, "AUTO_PROGRESS_DELAY", 0)
    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    GradientDescentMF(n_epochs=9, random_state=0).fit(seed_data)  # verbose=None: auto
    shown = screen.getvalue()
    assert "GradientDescentMF" in shown
    assert re.findall(r"(\d+)%\|[^\r\n]*\| (\d+)/(\d+)", shown)[-1] == ("100", "9", "9")
    # Not a terminal (a log file, a pipe): no bar at all.
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    GradientDescentMF(n_epochs=9, random_state=0).fit(seed_data)
    assert log.getvalue() == ""


def test_12_early_stopping_bar_ends_at_100(monkeypatch):
    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    valid = iter([1.0, 0.9, 0.95, 0.96, 0.97] + [1.0] * 100)
    history = training.run_epochs(
        "early", 250, lambda e: None, lambda: (1.0, next(valid)), patience=3, verbose=True
    )
    assert history["stopped_early"] and history["epoch"][-1] == 5
    assert re.findall(r"(\d+)%\|[^\r\n]*\| (\d+)/(\d+)", screen.getvalue())[-1] == (
        "100",
        "5",
        "5",
    )


def test_12_version():
    done = cli("--version", check=True)
    assert done.stdout.strip() == f"latentrec, version {latentrec.__version__}"


# ---------------------------------------------------------------------- 13. unknown ids, tune
def test_13_unknown_id_says_how_to_get_the_baseline():
    data = Interactions.from_frame(planted_rows(n_users=6, n_items=8, per_user=4))
    model = Biases().fit(data)
    with pytest.raises(UnknownIdError) as info:
        model.predict([1], [99])
    assert str(info.value) == (
        "unknown item id(s): 99; pass unknown='baseline' to predict from the known parts"
    )
    assert np.isfinite(model.predict([1], [99], unknown="baseline")).all()


def _worse_space():
    # Steps far too small for 3 epochs: every trial is worse than the model's own settings.
    return {"learning_rate": ("float", 1e-7, 1e-6, {"log": True})}


def test_13_tune_warns_when_nothing_beats_the_model_as_given():
    data = Interactions.from_frame(planted_rows())
    model = BiasedMF(n_factors=2, n_epochs=3, learning_rate_decay=1.0, random_state=0)
    with pytest.warns(TuningWarning, match="nothing better"):
        result = tune(model, data, _worse_space(), n_trials=2, random_state=0)
    assert not result.improved and result.best_value > result.default_value
    train, valid = random_split(data, 0.1, 0)
    own = evaluate_ratings(model.clone().fit(train, valid), valid)["rmse"]
    assert result.default_value == pytest.approx(own)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TuningWarning)
        good = {"learning_rate": ("float", 0.1, 0.3)}
        assert tune(model, data, good, n_trials=2, random_state=0).improved


def test_13_cli_tune_says_so_in_one_line(ratings_csv):
    space = json.dumps({"learning_rate": ["float", 1e-7, 1e-6, {"log": True}]})
    done = cli(
        "tune", ratings_csv, "--factors", 2, "--epochs", 3, "--param", "learning_rate_decay=1.0",
        "--trials", 2, "--space", space,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "nothing better" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: ")
    assert "Traceback" not in done.stderr and "TuningWarning" not in done.stderr


# ---------------------------------------------------------------------- dependency set
def test_constraints_pin_every_dependency_and_make_uses_them():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert "latentrec" not in pins
    # What make installs: the core dependencies and the dev and plot extras.
    wanted = [
        dep
        for dep in importlib.metadata.requires("latentrec")
        if ";" not in dep or re.search(r"extra == .(dev|plot).", dep)
    ]
    assert len(wanted) > 10
    for dep in wanted:
        name = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", dep).group()).lower()
        assert name in pins, f"{name} is not pinned in constraints.txt"
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.count("-c constraints.txt") >= 2 and "\nlock:" in makefile
    assert "ruff check" in makefile and "ruff format --check" in makefile
