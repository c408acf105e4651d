"""The `latentrec onboard` command: questions, answers, fold-in, saving the new user."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import latentrec
from latentrec.cli import main


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    taste = np.repeat([0, 1], 20)
    genre = np.repeat([0, 1], 15)
    rows = []
    for u in range(40):
        for i in rng.choice(30, 12, replace=False):
            base = 5 if taste[u] == genre[i] else 1
            rows.append((u + 1, i + 100, int(np.clip(base + rng.integers(-1, 2), 1, 5))))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    data = latentrec.Interactions.from_frame(df, rating_scale=(1, 5))
    model = latentrec.models.BiasedMF(n_factors=4, n_epochs=60, random_state=1).fit(data)
    path = tmp_path_factory.mktemp("cli") / "model.npz"
    model.save(path)
    return path


def test_onboard_interactive(model_path):
    model = latentrec.load(model_path)
    q = model.onboarding_items(10)
    r = CliRunner().invoke(
        main, ["onboard", str(model_path), "-k", "2", "-n", "3", "--json"], input="s\n9\n5\nq\n"
    )
    assert r.exit_code == 0, r.output
    # The JSON ends standard output (a rating model's note follows on standard error).
    recs = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(recs) == 3
    expected = model.onboard(
        {int(q.item_id[1]): 5.0}, n=3
    )  # first skipped, 9 refused, 5 accepted, q stops
    assert [x["item_id"] for x in recs] == expected.ids.tolist()


def test_answers_piped_on_stdin_that_end_before_k_are_used_not_aborted(model_path):
    # Two answers piped, k = 5: the input ends at the third question.  This printed
    # "Aborted!" and exited 1, dropping both answers.
    model = latentrec.load(model_path)
    q = model.onboarding_items(10)
    r = CliRunner().invoke(main, ["onboard", str(model_path), "-n", "3", "--json"], input="5\n1\n")
    assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout.strip().splitlines()[-1])
    expected = model.onboard({int(q.item_id[0]): 5.0, int(q.item_id[1]): 1.0}, n=3)
    assert [x["item_id"] for x in recs] == expected.ids.tolist()
    assert not any(x["fallback"] for x in recs)
    # No input at all is no answers (as 'q' at the first question), not an abort.
    r = CliRunner().invoke(main, ["onboard", str(model_path), "-n", "3"], input="")
    assert r.exit_code == 0, r.output
    assert "no usable answers" in r.output


def test_n_zero_is_refused_before_any_question(model_path):
    # It was refused only after all k questions had been answered.
    r = CliRunner().invoke(main, ["onboard", str(model_path), "-n", "0"], input="5\n4\n5\n4\n5\n")
    assert r.exit_code == 2 and "'-n'" in r.output
    assert "Rate up to" not in r.output


def test_onboard_answers_and_save(model_path, tmp_path):
    out = tmp_path / "new.npz"
    r = CliRunner().invoke(
        main,
        [
            "onboard",
            str(model_path),
            "--answers",
            "100=5, 101=4,116=1",
            "-n",
            "4",
            "--save-as",
            "777",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    new = latentrec.load(out)
    expected = latentrec.load(model_path).onboard({100: 5, 101: 4, 116: 1}, n=4)
    assert new.recommend(777, n=4).ids.tolist() == expected.ids.tolist()
    assert "Recommended from 3 answer(s)" in r.output


def test_onboard_errors(model_path, tmp_path):
    def run(*a, **kw):
        return CliRunner().invoke(main, ["onboard", str(model_path), *a], **kw)

    r = run("--answers", "100:5")
    assert r.exit_code == 1 and "ITEM=RATING" in r.output
    r = run("--answers", "99999=5")
    assert r.exit_code == 1 and "99999" in r.output
    r = run("--answers", "100=9")
    assert r.exit_code == 1 and "scale" in r.output
    r = run("--save-as", "5")
    assert r.exit_code == 2
    r = run("--answers", "100=5", "--save-as", "1", "-o", str(tmp_path / "x.npz"))
    assert r.exit_code == 1 and "history" in r.output
    r = run("--answers", "100=5", "--save-as", "abc", "-o", str(tmp_path / "x.npz"))
    assert r.exit_code == 1 and "integer" in r.output, r.output
    r = run("--answers", "", "--save-as", "900", "-o", str(tmp_path / "x.npz"))
    assert r.exit_code == 1 and "no answers" in r.output
    r = run("--answers", "")
    assert r.exit_code == 0 and "most popular" in r.output
    r = run("-k", "3", "--max-questions", "2")
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["onboard", "--help"])
    assert r.exit_code == 0 and "--save-as" in r.output


def test_a_ranking_model_says_a_low_star_answer_counts_as_liked(tmp_path):
    # Asked "1-5", a 1 for a disliked title was read as a liking, without a word.
    rng = np.random.default_rng(0)
    rows = [(u, i, int(rng.integers(1, 6))) for u in range(30) for i in rng.choice(20, 8, False)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    data = latentrec.Interactions.from_frame(df, rating_scale=(1, 5))
    path = tmp_path / "implicit.npz"
    latentrec.models.ImplicitALS(n_factors=4, n_epochs=3, random_state=0).fit(data).save(path)
    r = CliRunner().invoke(main, ["onboard", str(path), "--answers", "3=1", "-n", "2"])
    assert r.exit_code == 0, r.output
    assert "ImplicitALS ranks; it reads every answer as a title the user liked" in r.output
    r = CliRunner().invoke(main, ["onboard", str(path), "-k", "1", "-n", "2"], input="q\n")
    assert "skip the titles you disliked" in r.output
    # A rating model reads the stars as stars: no note on how answers are read (its
    # note is on what its list is worth: tests/cli/test_onboard_and_explain_said_plainly.py).
    r = CliRunner().invoke(main, ["onboard", str(_rating_model(tmp_path)), "--answers", "100=1"])
    assert r.exit_code == 0 and "ranks; it reads" not in r.output
    assert "note: BiasedMF is a rating model" in r.output


def _rating_model(tmp_path):
    rng = np.random.default_rng(1)
    rows = [(u, i + 100, int(rng.integers(1, 6))) for u in range(20) for i in range(10)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    path = tmp_path / "rating.npz"
    model = latentrec.models.BiasedMF(n_factors=2, n_epochs=5, random_state=0)
    model.fit(latentrec.Interactions.from_frame(df, rating_scale=(1, 5))).save(path)
    return path


def test_save_as_an_id_the_model_has_is_refused_before_any_question(model_path, tmp_path):
    """--save-as 1 for a user the model has: the refusal came after the questions and
    told a command-line user to 'use partial_fit_users', a Python method; it is now one
    line before any question, saying to give a new id."""
    out = tmp_path / "x.npz"
    r = CliRunner().invoke(main, ["onboard", str(model_path), "--save-as", "1", "-o", str(out)])
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        "Error: --save-as 1: user 1 already has a history in this model; onboarding adds "
        "new users: give an id the model does not have"
    ]
    assert not out.exists()


def _read_from_a_file(tmp_path, spelled: str, other: str):
    """The user id a ratings file holding ``spelled`` (beside a user ``other``) reads."""
    path = tmp_path / "ratings.csv"
    pd.DataFrame({"user_id": [other, spelled], "item_id": [100, 101], "rating": [4, 5]}).to_csv(
        path, index=False
    )
    ids = latentrec.Interactions.from_csv(path).users.ids.tolist()
    (read,) = [x for x in ids if str(x) != other]
    return read


@pytest.mark.parametrize("spelled", ["0900", "+900", "900.0", " 900 "])
def test_save_as_a_spelling_a_file_reads_as_another_number_names_that_number(
    model_path, tmp_path, spelled
):
    """An integer model's --save-as 007 was refused as not "written in digits"; a file
    (and --user) read "007" as 7: the refusal says so and gives the spelling to use."""
    read = _read_from_a_file(tmp_path, spelled, "1")
    assert read == 900
    out = tmp_path / "x.npz"
    args = ["onboard", str(model_path), "--answers", "100=5", "--save-as", spelled, "-o", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and not out.exists()
    assert r.output.strip().splitlines() == [
        f"Error: --save-as {spelled!r}: this model's user ids are integers, and a ratings "
        f"file reads {spelled!r} as {read}: give --save-as {read}"
    ]
    r = CliRunner().invoke(main, [*args[:-4], "--save-as", str(read), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert 900 in latentrec.load(out).users_.ids.tolist()


def test_save_as_past_64_bits_is_refused_in_one_line(model_path, tmp_path):
    big = str(2**64)
    args = ["onboard", str(model_path), "--answers", "100=5", "--save-as", big, "-o"]
    r = CliRunner().invoke(main, [*args, str(tmp_path / "x.npz")])
    assert r.exit_code == 1 and "past their 64-bit range" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def text_model_path(tmp_path_factory):
    rows = [(u, i, 1 + (len(u) + i) % 5) for u in ("ann", "bob", "cy") for i in (100, 101, 102)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    model = latentrec.models.BiasedMF(n_factors=2, n_epochs=5, random_state=0)
    path = tmp_path_factory.mktemp("text") / "text.npz"
    model.fit(latentrec.Interactions.from_frame(df, rating_scale=(1, 5))).save(path)
    return path


def test_a_text_model_saves_an_id_as_a_file_reads_it(text_model_path, tmp_path):
    """A text model kept --save-as ' dee ' with its spaces, an id no file (and not the
    service) would name; "007" among text ids is "007", as a file reads it."""
    out = tmp_path / "x.npz"
    base = ["onboard", str(text_model_path), "--answers", "100=5", "-o", str(out)]
    r = CliRunner().invoke(main, [*base, "--save-as", " dee "])
    assert r.exit_code == 1 and not out.exists()
    assert _read_from_a_file(tmp_path, " dee ", "ann") == "dee"
    assert r.output.strip().splitlines() == [
        "Error: --save-as ' dee ': a ratings file reads it as 'dee' (ids lose the spaces "
        "around them): give --save-as 'dee'"
    ]
    r = CliRunner().invoke(main, [*base, "--save-as", "  "])
    assert r.exit_code == 1 and "nothing but spaces" in r.output
    r = CliRunner().invoke(main, [*base, "--save-as", "007"])
    assert r.exit_code == 0, r.output
    assert _read_from_a_file(tmp_path, "007", "ann") == "007"
    assert "007" in latentrec.load(out).users_.ids.tolist()
