"""The re-ranking knobs of `latentrec recommend` and `latentrec plot tradeoff`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame

from latentrec.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline_cli")
    csv = folder / "ratings.csv"
    cli_ratings_frame(n_users=60).to_csv(csv, index=False)
    model = folder / "model.npz"
    out = invoke("train", csv, "-a", "implicit-als", "--factors", 4, "--seed", 0, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    return csv, model, folder


def items_of(out) -> list:
    assert out.exit_code == 0, out.output
    # stdout only: on a cold numba cache the compile notice goes to stderr, and click's
    # runner interleaves the two in .output, which then is not JSON.
    return [row["item_id"] for row in json.loads(out.stdout)]


def test_knobs_rerank_and_rules_hold(trained):
    csv, model, folder = trained
    plain = items_of(invoke("recommend", model, "--user", 1, "-n", 6, "--json"))
    same = items_of(invoke("recommend", model, "--user", 1, "-n", 6, "--diversity", 0, "--json"))
    assert same == plain  # diversity 0 keeps the ranking
    diverse = items_of(
        invoke("recommend", model, "--user", 1, "-n", 6, "--diversity", 0.9, "--json")
    )
    assert diverse[0] == plain[0] and len(diverse) == 6
    rules = folder / "rules.toml"
    rules.write_text(f'never = [{plain[0]}]\n[pin]\n"{plain[5]}" = 1\n')
    ruled = items_of(invoke("recommend", model, "--user", 1, "-n", 6, "--rules", rules, "--json"))
    assert plain[0] not in ruled and ruled[0] == plain[5]
    timed = items_of(
        invoke(
            "recommend",
            model,
            "--user",
            1,
            "-n",
            6,
            "--boost-new",
            0.5,
            "--data",
            csv,
            "--timestamp-col",
            "t",
            "--json",
        )
    )
    assert len(timed) == 6
    seen = pd.read_csv(csv).query("user_id == 1")["item_id"].tolist()
    assert not set(diverse + ruled + timed) & set(seen)


def test_knob_errors_are_one_line(trained):
    csv, model, folder = trained
    bad = folder / "bad.toml"
    bad.write_text("never = [1]\n[pin]\nwhat = 'x'\n")
    out = invoke("recommend", model, "--user", 1, "--rules", bad)
    assert out.exit_code == 1
    assert out.output.strip() == f"Error: {bad}, line 3: pin.what must be an integer, got 'x'"
    out = invoke("recommend", model, "--user", 1, "--calibrate")
    assert out.exit_code == 1 and "needs item genres" in out.output
    assert len(out.output.strip().splitlines()) == 1
    # A model file holds no genres or timestamps: the message says where they come from.
    assert "--data" in out.output
    out = invoke("recommend", model, "--user", 1, "--boost-new", 0.1)
    assert out.exit_code == 1 and "no timestamps" in out.output and "--data" in out.output
    capped = folder / "capped.toml"
    capped.write_text("[max_per]\ngenres = 1\n")
    out = invoke("recommend", model, "--user", 1, "--rules", capped)
    assert out.exit_code == 1 and "genres" in out.output and "--data" in out.output
    assert len(out.output.strip().splitlines()) == 1
    out = invoke("recommend", model, "--user", 1, "--diversity", 2)
    assert out.exit_code == 2  # click's range check


@pytest.mark.parametrize("with_data", [True, False])
def test_an_unknown_item_in_a_rules_file_names_the_file_and_line(trained, with_data):
    """It said 'Rules bury: item 99999 is not in the catalogue', naming neither."""
    csv, model, folder = trained
    unknown = folder / "unknown.toml"
    unknown.write_text("never = [100]\nbury = [99999]\n")
    data = ["--data", csv] if with_data else []
    out = invoke("recommend", model, "--user", 19, "--rules", unknown, *data)
    assert out.exit_code == 1
    assert out.output.strip() == (
        f"Error: {unknown}, line 2: bury: item 99999 is not in the catalogue"
    )


def test_plot_tradeoff(trained, tmp_path):
    csv, _, _ = trained
    picture = tmp_path / "tradeoff.png"
    out = invoke(
        "plot",
        "tradeoff",
        "--data",
        csv,
        "--timestamp-col",
        "t",
        "-o",
        picture,
        "--lambdas",
        "1,0.5",
        "-k",
        5,
    )
    assert out.exit_code == 0, out.output
    assert picture.stat().st_size > 0
    assert "lambda" in out.output and "diversity" in out.output
    out = invoke("plot", "tradeoff", "--data", csv, "-o", picture, "--lambdas", "1,x")
    assert out.exit_code == 1 and "--lambdas takes numbers" in out.output
    out = invoke("plot", "tradeoff", "--data", csv, "-o", picture, "-k", 0)
    assert out.exit_code == 1 and "-k must be a positive list length, got 0" in out.output


@pytest.mark.network
def test_calibrate_on_movielens_lowers_miscalibration(tmp_path):
    """The knobs that need genres, on the data that has them."""
    model = tmp_path / "m.npz"
    assert invoke("train", "ml-100k", "-a", "implicit-als", "--seed", 0, "-q", "-o", model)
    rec = invoke(
        "recommend", model, "--user", 7, "-n", 10, "--calibrate", 0.9, "--data", "ml-100k", "--json"
    )
    plain = invoke("recommend", model, "--user", 7, "-n", 10, "--json")
    assert rec.exit_code == plain.exit_code == 0
    assert items_of(rec) != items_of(plain)


def test_a_saved_pipeline_through_the_model_commands(tmp_path):
    """latentrec.load opens a pipeline, so every command taking MODEL gets one: those that
    rank serve it, the others say in one line what a pipeline lacks."""
    from latentrec import datasets
    from latentrec.models import ImplicitALS
    from latentrec.pipeline import MMR, Pipeline

    data = datasets.synthetic(40, 25, 400, random_state=0)
    model = ImplicitALS(n_factors=3, random_state=0, num_threads=1)
    pipe = Pipeline(model, rerankers=[MMR(0.5)], n_candidates=12).fit(data)
    saved = tmp_path / "pipe.npz"
    pipe.save(saved)
    out = invoke("recommend-all", saved, "-n", 4, "-o", tmp_path / "all.csv")
    assert out.exit_code == 0, out.output
    got = pd.read_csv(tmp_path / "all.csv")
    want = pipe.recommend_batch(data.users.ids, 4)
    assert got["item_id"].tolist() == want["item_id"].tolist()
    assert got["user_id"].tolist() == want["user_id"].tolist()
    runner = CliRunner()
    for args in (
        ["recommend-all", saved, "-o", tmp_path / "x.csv", "--include-seen"],
        ["recommend", saved, "--user", data.users.ids[0], "--include-seen"],
        ["explain", saved, "--user", 0, "--item", 0],
        ["similar", saved, "--item", 0],
    ):
        out = runner.invoke(main, [str(a) for a in args])
        assert out.exit_code == 1
        assert len(out.output.strip().splitlines()) == 1 and "Traceback" not in out.output
        # explain said "unexpected AttributeError ... a bug in latentrec": name the pipeline.
        assert "pipeline" in out.output and "bug" not in out.output, out.output


def test_diversity_picks_among_the_models_best_50(tmp_path):
    """`--diversity` runs MMR's validated default pool: with 100 items, even diversity 1
    (lambda 0) lists only items among the model's 50 best unseen ones."""
    import numpy as np

    from latentrec import Interactions, load
    from latentrec.pipeline import MMR, Pipeline

    rng = np.random.default_rng(0)
    rows = [(u, i, 1) for u in range(1, 41) for i in rng.choice(100, 8, replace=False) + 100]
    csv = tmp_path / "wide.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).to_csv(csv, index=False)
    model = tmp_path / "model.npz"
    out = invoke("train", csv, "-a", "implicit-als", "--factors", 4, "--seed", 0, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    best50 = items_of(invoke("recommend", model, "--user", 1, "-n", 50, "--json"))
    diverse = items_of(invoke("recommend", model, "--user", 1, "-n", 8, "--diversity", 1, "--json"))
    assert len(diverse) == 8 and set(diverse) <= set(best50)
    # What the old default (every candidate) gave reaches past them: the pool is what holds.
    fitted = load(model)
    seen = Interactions(fitted.users_, fitted.items_, fitted.catalog_.seen)
    wide = Pipeline(fitted, rerankers=[MMR(0.0, pool=None)]).fit(seen).recommend(1, n=8)
    assert not set(wide.ids.tolist()) <= set(best50)


def test_boost_new_on_a_model_grown_after_training(tmp_path):
    """`--boost-new --data` on a model that gained a user (onboard --save-as): the
    training data is taken over the model's ids, timestamps kept, and the new user's list
    leaves out the items they rated (the model's own cells)."""
    csv = tmp_path / "ratings.csv"
    cli_ratings_frame(n_users=60).to_csv(csv, index=False)
    model, grown = tmp_path / "model.npz", tmp_path / "grown.npz"
    timed = ["--timestamp-col", "t"]
    out = invoke("train", csv, *timed, "-a", "implicit-als", "--factors", 4, "--seed", 0, "-q",
                 "-o", model)  # fmt: skip
    assert out.exit_code == 0, out.output
    out = invoke("onboard", model, "--answers", "100=5,101=4", "--save-as", 5000, "-o", grown)
    assert out.exit_code == 0, out.output
    args = ["recommend", grown, "--user", 5000, "-n", 6, "--boost-new", 0.5, "--data", csv]
    out = invoke(*args, *timed, "--json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    # (Their list is the popularity one, fallback true: their ratings are in the model,
    # not in --data, whose cells are the pipeline's histories.)
    assert len(rows) == 6 and not {100, 101} & {row["item_id"] for row in rows}


def test_diversity_on_a_model_without_factors_says_what_it_needs(tmp_path):
    """It said MMR's "no candidate model has item factors (item_factors_); use a factor
    model among the candidates", though the command shows no candidates."""
    csv = tmp_path / "ratings.csv"
    cli_ratings_frame(n_users=30).to_csv(csv, index=False)
    model = tmp_path / "pop.npz"
    assert invoke("train", csv, "-a", "popularity", "-q", "-o", model).exit_code == 0
    out = CliRunner().invoke(main, ["recommend", str(model), "--user", "1", "--diversity", "0.3"])
    assert out.exit_code == 1
    assert out.output.strip().splitlines() == [
        f"Error: --diversity compares items in a model's latent space, and {model} holds a "
        "Popularity, which has no item factors; train a factor model (implicit-als, bpr, "
        "biased-mf, ...)"
    ]


def test_knobs_whose_data_lacks_a_field_name_the_flag_and_the_data(tmp_path):
    """--calibrate and --boost-new on a ratings file without genres or timestamps said
    "Calibrate needs item genres: the training data has no item side table ..." and
    "Freshness needs item ages ...", naming stages the command never shows."""
    csv = tmp_path / "ratings.csv"
    cli_ratings_frame(n_users=30).to_csv(csv, index=False)
    model = tmp_path / "m.npz"
    assert invoke("train", csv, "-a", "implicit-als", "-q", "-o", model).exit_code == 0
    runner = CliRunner()
    for flag, want in (
        (["--calibrate"], f"Error: --calibrate needs item genres, and --data {csv} has none"),
        (["--boost-new", "0.1"], f"Error: --boost-new needs item ages, and --data {csv} has no"),
    ):
        args = ["recommend", str(model), "--user", "1", *flag, "--data", str(csv)]
        out = runner.invoke(main, args)
        assert out.exit_code == 1
        lines = out.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(want), lines
