"""`onboard` and `explain` on the command line: a rating model's newcomer list comes with
a note on what it is worth, --answers takes CSV-quoted ids, a model whose scores cannot
order items (global-mean) is refused, and explain --data cites only what the model was
trained on for the user, saying how many ratings it left out."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

import latentrec
from latentrec.cli._common import COMPILE_MESSAGE
from latentrec.models import NMF, BiasedMF, Biases, GlobalMean, ImplicitALS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onboard_said")
    frame = cli_ratings_frame(times=False)
    frame.to_csv(folder / "ratings.csv", index=False)
    data = latentrec.Interactions.from_frame(frame, rating_scale=(1, 5))
    for name, model in {
        "mf": BiasedMF(n_factors=3, n_epochs=10, random_state=0),
        "ials": ImplicitALS(n_factors=3, n_epochs=3, random_state=0),
        "gm": GlobalMean(),
        "biases": Biases(),
    }.items():
        model.fit(data).save(folder / f"{name}.npz")
    return folder, data


def notes(out) -> list[str]:
    return [x for x in out.stderr.splitlines() if x.startswith("note:")]


def test_a_rating_model_says_what_its_newcomer_list_is_worth(folder):
    path, _ = folder
    out = invoke("onboard", path / "mf.npz", "--answers", "101=5,102=1", "-n", 3)
    assert out.exit_code == 0, out.output
    [note] = notes(out)
    assert note.startswith("note: BiasedMF is a rating model")
    for words in ("predicted stars", "rarely-rated", "ranking model", "implicit-als"):
        assert words in note
    # The figures are the ones docs/benchmarks.md records, and the note says where.
    section = DOCS.read_text().split("## Onboarding a new user")[1].split("\n## ")[0]
    assert "docs/benchmarks.md, 'Onboarding a new user'" in note
    for figure in re.findall(r"\d\.\d+", note):
        assert figure in section, figure
    assert "| designed, ask 5 | 0.568 | 0.485 |" in section
    assert "(−0.30)" in section
    # --json keeps standard output JSON; the note stays on standard error.
    raw = invoke("onboard", path / "mf.npz", "--answers", "101=5", "-n", 3, "--json")
    assert raw.exit_code == 0 and json.loads(raw.stdout) and notes(raw) == [note]


def test_the_figure_is_cited_only_for_the_models_measured(folder, tmp_path):
    path, data = folder
    out = invoke("onboard", path / "mf.npz", "--answers", "101=5,102=1", "-n", 3)
    [note] = notes(out)
    assert "measured for BiasedMF and ALS on held-out MovieLens-100K" in note
    # docs/benchmarks.md names the models it measured, as the note does.
    section = DOCS.read_text().split("## Onboarding a new user")[1].split("\n## ")[0]
    assert "rating models (BiasedMF, ALS)" in section and "--models biased-mf als" in section
    # NMF was never measured: the reason, with no figure borrowed from the others.
    NMF(n_factors=3, n_epochs=10, random_state=0).fit(data).save(tmp_path / "nmf.npz")
    out = invoke("onboard", tmp_path / "nmf.npz", "--answers", "101=5,102=1", "-n", 3)
    assert out.exit_code == 0, out.output
    [note] = notes(out)
    assert note.startswith("note: NMF is a rating model")
    assert "predicted stars" in note and "implicit-als" in note
    assert not re.findall(r"\d\.\d+", note), note
    assert "measured" not in note


def test_a_ranking_model_gets_no_rating_note(folder):
    path, _ = folder
    out = invoke("onboard", path / "ials.npz", "--answers", "101=5", "-n", 3)
    assert out.exit_code == 0, out.output
    assert not any("rating model" in n for n in notes(out))


@pytest.fixture(scope="module")
def odd_ids(tmp_path_factory):
    items = ["a,b", "x=y", 'say "hi" now', "plain"]
    rng = np.random.default_rng(1)
    rows = [(u, items[i], int(rng.integers(1, 6))) for u in range(12) for i in range(4)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    data = latentrec.Interactions.from_frame(frame, rating_scale=(1, 5))
    path = tmp_path_factory.mktemp("odd_ids") / "odd.npz"
    BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(data).save(path)
    return path


def test_answers_take_csv_quoted_ids(odd_ids):
    out = invoke("onboard", odd_ids, "--answers", '"a,b"=5, "x=y" = 3', "-n", 4, "--json")
    assert out.exit_code == 0, out.output
    got = [row["item_id"] for row in json.loads(out.stdout)]
    assert sorted(got) == ["plain", 'say "hi" now']  # both answered items excluded
    out = invoke("onboard", odd_ids, "--answers", '"say ""hi"" now"=4,plain=2', "--json")
    assert out.exit_code == 0, out.output
    assert sorted(row["item_id"] for row in json.loads(out.stdout)) == ["a,b", "x=y"]
    assert "double quotes" in invoke("onboard", "--help").output


@pytest.mark.parametrize(
    "answers, words",
    [
        ('"a,b=5', "needs its closing quote"),
        ('"a,b"x=5', "ITEM=RATING pairs"),
        ('"a,b"=', "ITEM=RATING pairs"),
        ('""=5', "ITEM=RATING pairs"),
        ('"a,b"=5,"a,b"=4', "more than once"),
    ],
)
def test_malformed_quoting_is_one_line(odd_ids, answers, words):
    line = error_line(invoke("onboard", odd_ids, "--answers", answers))
    assert words in line


def test_a_model_that_cannot_order_items_is_refused_in_one_line(folder):
    path, data = folder
    gm = path / "gm.npz"
    for args in (
        ("onboard", gm, "--answers", "101=5,102=1", "-n", 3),
        ("onboard", gm),  # before any question
        ("recommend", gm, "--user", 1, "-n", 3),
    ):
        line = error_line(invoke(*args))
        assert "GlobalMean gives every item the same score" in line
        assert "index order" in line and "Popularity" in line
    # An unknown user gets the popularity fallback, ordered by counts: still answered.
    out = invoke("recommend", gm, "--user", 999, "-n", 3, "--json")
    assert out.exit_code == 0, out.output
    assert all(row["fallback"] for row in json.loads(out.stdout))


def test_biases_still_ranks_by_item_bias(folder):
    path, _ = folder
    model = latentrec.load(path / "biases.npz")
    out = invoke("recommend", path / "biases.npz", "--user", 1, "-n", 3, "--json")
    assert out.exit_code == 0, out.output
    got = [row["item_id"] for row in json.loads(out.stdout)]
    assert got == model.recommend(1, n=3).ids.tolist()
    seen = set(model.items_.ids[model.seen_[model.users_.index([1])[0]].indices].tolist())
    unseen = [i for i in model.items_.ids.tolist() if i not in seen]
    by_bias = sorted(unseen, key=lambda i: -model.item_bias_[model.items_.index([i])[0]])
    assert got == by_bias[:3]
    out = invoke("onboard", path / "biases.npz", "--answers", "101=5", "-n", 3)
    assert out.exit_code == 0, out.output


def test_explain_data_cites_only_what_the_model_trained_on(tmp_path):
    frame = cli_ratings_frame(times=False)
    frame.to_csv(tmp_path / "all.csv", index=False)
    user = 1
    # The model never sees half of user 1's ratings (a held-out part).
    held = frame[frame.user_id == user].iloc[::2]
    train = frame.drop(held.index)
    data = latentrec.Interactions.from_frame(frame, rating_scale=(1, 5))
    model = BiasedMF(n_factors=3, n_epochs=10, random_state=0).fit(
        latentrec.Interactions.from_frame(train, rating_scale=(1, 5))
    )
    model.save(tmp_path / "m.npz")
    mine = frame[frame.user_id == user]
    stars = dict(zip(mine.item_id, mine.rating, strict=True))
    record = set(train[train.user_id == user].item_id)
    assert data.n_items == model.n_items
    cited = 0
    for item in model.items_.ids[:10]:
        args = ("explain", tmp_path / "m.npz", "--user", user, "--item", item)
        out = invoke(*args, "--data", tmp_path / "all.csv", "--json")
        assert out.exit_code == 0, out.output
        why = json.loads(out.stdout)
        for row in why["supporting_items"]:
            assert row["item_id"] in record and row["rating"] == stars[row["item_id"]]
        cited += len(why["supporting_items"])
        assert why["supporting_left_out"] == len(held)
        text = invoke(*args, "--data", tmp_path / "all.csv").stdout
        [line] = [x for x in text.splitlines() if "not cited" in x]
        assert f"{len(held)} rated title(s) the model did not train on" in line
    assert cited


def test_explain_an_unknown_user_explains_the_baseline(folder):
    path, _ = folder
    out = invoke("explain", path / "mf.npz", "--user", 999, "--item", 101)
    assert out.exit_code == 0, out.output
    assert "the model does not know this user" in out.stdout
    model = latentrec.load(path / "mf.npz")
    raw = invoke("explain", path / "mf.npz", "--user", 999, "--item", 101, "--json")
    why = json.loads(raw.stdout)
    assert why["prediction"] == model.predict([999], [101], unknown="baseline")[0]
    assert why["user_bias"] == 0 and not why["user_known"]
    assert [x for x in out.stderr.splitlines() if x != COMPILE_MESSAGE] == []
