"""End-to-end tests of the installed `latentrec` command (STYLE.md #14)."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from cli_forks import latentrec
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.data.splits import random_split, user_split
from latentrec.evaluation import cross_validate, evaluate_ranking, evaluate_ratings
from latentrec.models import BiasedMF, Biases, Popularity


def run(*args, check=True):
    # The installed command, forked from a process that has run its imports
    # (tests/cli_forks.py): a fresh process's behaviour without a second of imports a line.
    out = latentrec(*args, timeout=300)
    if check and out.returncode != 0:
        raise AssertionError(f"{args} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    taste = np.repeat([0, 1], 20)  # two groups of users with opposite tastes
    genre = np.repeat([0, 1], 15)
    rows = []
    for u in range(40):
        for i in rng.choice(30, 12, replace=False):
            base = 5 if taste[u] == genre[i] else 1
            rows.append((u + 1, i + 100, int(np.clip(base + rng.integers(-1, 2), 1, 5))))
    path = tmp_path_factory.mktemp("cli") / "ratings.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_path(ratings_csv):
    path = ratings_csv.parent / "model.npz"
    out = run(
        "train",
        ratings_csv,
        "--factors",
        4,
        "--epochs",
        60,
        "--seed",
        1,
        "--rating-scale",
        1,
        5,
        "--test-size",
        0.2,
        "-q",
        "-o",
        path,
    )
    assert "held-out RMSE" in out.stdout and path.exists()
    return path


def test_every_command_has_help():
    runner = CliRunner()
    for cmd in (
        [],
        ["data"],
        ["data", "fetch"],
        ["data", "info"],
        ["train"],
        ["evaluate"],
        ["recommend"],
        ["similar"],
        ["explain"],
        ["demo"],
    ):
        result = runner.invoke(main, [*cmd, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_recommend_excludes_seen_and_follows_taste(model_path, ratings_csv):
    out = run("recommend", model_path, "--user", 1, "-n", 5, "--json")
    recs = json.loads(out.stdout)
    assert [r["rank"] for r in recs] == [1, 2, 3, 4, 5]
    df = pd.read_csv(ratings_csv)
    seen = set(df[df.user_id == 1].item_id)
    assert not seen & {r["item_id"] for r in recs}
    # User 1 likes genre 0 (items 100-114): most recommendations come from it.
    assert sum(r["item_id"] < 115 for r in recs) >= 4


def test_unknown_user_gets_flagged_popularity(model_path):
    out = run("recommend", model_path, "--user", 9999, "-n", 3)
    assert "no history" in out.stdout


def test_similar_and_explain(model_path):
    out = run("similar", model_path, "--item", 100, "-n", 3, "--json")
    sims = json.loads(out.stdout)
    assert len(sims) == 3 and all(s["item_id"] < 115 for s in sims)
    out = run("explain", model_path, "--user", 1, "--item", 101, "--json")
    e = json.loads(out.stdout)
    total = e["global_mean"] + e["user_bias"] + e["item_bias"] + e["interaction"]
    assert e["prediction"] == pytest.approx(total)
    text = run("explain", model_path, "--user", 1, "--item", 101).stdout
    assert "global mean" in text and "interaction" in text


def printed_table(stdout: str, first_column: str) -> pd.DataFrame:
    """The table the command printed, from its header line (the last line whose first
    word is ``first_column``: progress lines above it may start so too) to the end; cells
    are separated by blanks."""
    lines = stdout.splitlines()
    start = max(j for j, line in enumerate(lines) if line.split()[:1] == [first_column])
    return pd.read_csv(io.StringIO("\n".join(lines[start:])), sep=r"\s+")


def test_evaluate_holdout_and_cv(ratings_csv):
    # Each printed figure is the library's on the same split: --seed defaults to 0, the
    # rating holdout is random_split, the ranking one user_split (a share of each user).
    data = Interactions.read(ratings_csv)
    printed = 5e-5  # the tables show four decimals

    out = run("evaluate", ratings_csv, "-a", "biases", "--test-size", 0.25)
    assert "rmse" in out.stdout
    train, test = random_split(data, 0.25, random_state=0)
    want = evaluate_ratings(Biases().fit(train), test)
    row = printed_table(out.stdout, "model").iloc[0]
    assert row["model"] == "Biases()" and row["n"] == want["n"]
    assert row["rmse"] == pytest.approx(want["rmse"], abs=printed)
    assert row["mae"] == pytest.approx(want["mae"], abs=printed)

    out = run("evaluate", ratings_csv, "--cv", 3, "--factors", 2, "--epochs", 5)
    assert "mean" in out.stdout and out.stdout.count("fold") >= 3
    model = BiasedMF(n_factors=2, n_epochs=5, random_state=0)
    assert out.stdout.startswith(f"3-fold cross-validation of {model!r} on {data!r}")
    result = cross_validate(model, data, 3, random_state=0)
    table = printed_table(out.stdout, "fold")
    assert table["fold"].tolist() == ["1", "2", "3", "mean"]
    for name in ("rmse", "mae"):
        np.testing.assert_allclose(table[name][:3], result.folds[name], atol=printed)
        assert table[name].iloc[3] == pytest.approx(result.mean()[name], abs=printed)

    out = run("evaluate", ratings_csv, "-a", "popularity", "--task", "ranking", "-k", 5)
    assert "ndcg" in out.stdout
    train, test = user_split(data, 0.2, random_state=0)
    want = evaluate_ranking(Popularity().fit(train), test, 5)
    row = printed_table(out.stdout, "model").iloc[0]
    assert row["model"] == "Popularity()" and row["n_users"] == want["n_users"]
    for name in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage"):
        assert row[name] == pytest.approx(want[name], abs=printed), name


def test_errors_have_messages_and_exit_codes(model_path, ratings_csv, tmp_path):
    out = run("recommend", tmp_path / "missing.npz", "--user", 1, check=False)
    assert out.returncode == 1 and "no model file" in out.stderr
    out = run("explain", model_path, "--user", 1, "--item", 5555, check=False)
    assert out.returncode == 1 and "5555" in out.stderr
    out = run(
        "train", ratings_csv, "-a", "biases", "--factors", 3, "-o", tmp_path / "m.npz", check=False
    )
    assert out.returncode == 1 and "n_factors" in out.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating\n1,2,4\n1,3,nope\n")
    out = run("train", bad, "-o", tmp_path / "m.npz", check=False)
    assert out.returncode == 1 and "non-numeric" in out.stderr and "nope" in out.stderr
    out = run("similar", model_path, check=False)
    assert out.returncode == 2
    out = run("train", "no-such-dataset", "-o", tmp_path / "m.npz", check=False)
    assert out.returncode == 1 and "no dataset named" in out.stderr


def test_param_passes_any_hyperparameter(ratings_csv, tmp_path):
    path = tmp_path / "m.npz"
    run("train", ratings_csv, "--param", "n_epochs=2", "--param", "biased=false", "-q", "-o", path)
    from latentrec import load

    model = load(path)
    assert model.n_epochs == 2 and model.biased is False


def test_evaluate_protocols(ratings_csv):
    for protocol in ("user", "leave-last-out"):
        out = run(
            "evaluate",
            ratings_csv,
            "-a",
            "popularity",
            "--task",
            "ranking",
            "--protocol",
            protocol,
            "-k",
            5,
        )
        assert "ndcg" in out.stdout
    out = run("evaluate", ratings_csv, "--protocol", "temporal", check=False)
    assert out.returncode == 1 and "timestamp" in out.stderr


def test_recommend_all_streams_every_user(model_path, tmp_path):
    path = tmp_path / "all.csv"
    out = run("recommend-all", model_path, "-o", path, "-n", 3)
    assert "40 users" in out.stdout
    table = pd.read_csv(path)
    assert table.groupby("user_id").size().eq(3).all() and table["user_id"].nunique() == 40


def test_tune_searches_and_saves_the_best_model(ratings_csv, tmp_path):
    path = tmp_path / "best.npz"
    space = '{"n_factors": ["int", 2, 8], "regularization": ["float", 0.01, 0.2]}'
    out = run("tune", ratings_csv, "--trials", 3, "--space", space, "--epochs", 20, "-o", path)
    assert "best rmse" in out.stdout and path.exists()
    from latentrec import load
    from latentrec.models import BiasedMF

    saved = load(path)
    if "model with the best values refitted" in out.stdout:
        assert 2 <= saved.n_factors <= 8
    else:
        # Three trials found nothing better than the model as given: -o writes that one.
        assert "warning: tuning found nothing better" in out.stderr
        assert "model with its own values (as given) refitted" in out.stdout
        assert saved.n_factors == BiasedMF().n_factors
        figures = saved.metrics_
        assert figures["validation_rmse"] == figures["validation_rmse_as_given"]
        assert figures["validation_rmse_best_trial"] > figures["validation_rmse"]
    out = run("tune", ratings_csv, "-a", "global-mean", check=False)
    assert out.returncode == 1 and "--space" in out.stderr


def test_factors_and_plots(model_path, ratings_csv, tmp_path):
    out = run(
        "factors", model_path, "--data", ratings_csv, "--min-ratings", 1, "-n", 2, "--user", 1
    )
    assert "factor" in out.stdout.lower()
    for kind, extra in (
        ("ratings", ["--data", ratings_csv]),
        ("learning-curves", ["--model", model_path]),
        ("spectrum", ["--data", ratings_csv, "-k", 2]),
    ):
        png = tmp_path / f"{kind}.png"
        run("plot", kind, *extra, "-o", png)
        assert png.stat().st_size > 5_000
    out = run("plot", "taste-map", "-o", tmp_path / "x.png", check=False)
    assert out.returncode == 2
