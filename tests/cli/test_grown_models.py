"""A model that gained users after training (onboard --save-as, fold-in) is described
with the data it was trained on; other data is refused still."""

from __future__ import annotations

import json

import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke, train_both

from latentrec import load


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_both(tmp_path_factory.mktemp("grown"))


# A model that gained users after training is described with its training data
def test_a_model_with_an_onboarded_user_is_described_with_its_training_data(trained):
    csv, model, _, folder = trained
    grown = folder / "onboarded.npz"
    out = invoke("onboard", model, "--answers", "100=5,101=4", "--save-as", 5000, "-o", grown)
    assert out.exit_code == 0, out.output
    assert len(load(grown).users_) == len(load(model).users_) + 1
    out = invoke("factors", grown, "--data", csv, "--min-ratings", 1, "--user", 5000)
    assert out.exit_code == 0, out.output
    assert "user 5000" in out.output
    # Not in --data, but the model keeps the items they answered: those illustrate the
    # profile (it said "user 5000 (0 ratings)" and named no item).
    profile = out.output[out.output.index("user 5000") :]
    assert "user 5000 (2 items the model keeps for them; none in the data)" in profile
    examples = [line.split(" — e.g. ")[1] for line in profile.splitlines() if " — e.g. " in line]
    assert examples and {t for e in examples for t in e.split("; ")} <= {"100", "101"}
    picture = folder / "map.png"
    out = invoke("plot", "taste-map", "--model", grown, "--data", csv, "-o", picture)
    assert out.exit_code == 0, out.output
    assert picture.stat().st_size > 0
    # Other data is refused still: here, ratings without the model's last user.
    fewer = folder / "fewer.csv"
    frame = cli_ratings_frame(n_users=300)
    frame[frame.user_id != 300].to_csv(fewer, index=False)
    line = error_line(invoke("factors", grown, "--data", fewer))
    assert "is not the data" in line


# Re-ranking knobs with --data: the onboarded user's answers are their history, as without
@pytest.mark.parametrize(
    "knob", [["--diversity", "0.5"], ["--boost-new", "0.1", "--timestamp-col", "t"]]
)
def test_an_onboarded_user_keeps_their_list_under_knobs_read_with_data(trained, knob):
    csv, model, _, folder = trained
    grown = folder / f"onboarded{knob[0]}.npz"
    out = invoke("onboard", model, "--answers", "100=5,101=4", "--save-as", 5000, "-o", grown)
    assert out.exit_code == 0, out.output
    out = invoke("recommend", grown, "-u", 5000, "-n", 38, "--json", *knob, "--data", csv)
    assert out.exit_code == 0, out.output
    # Standard output alone: click's output holds standard error too, where the notice
    # "compiling latentrec's kernels" goes (once per process) when --diversity compiles
    # a top-k specialisation that train and onboard do not use.  With numba's cache warm
    # for theirs and cold for it, the notice came first and the JSON did not parse.
    rows = json.loads(out.stdout)
    # Not the stranger's popularity list, and never an item the user answered about.
    assert not any(r["fallback"] for r in rows)
    assert {r["item_id"] for r in rows} == set(range(102, 140))
    plain = json.loads(invoke("recommend", grown, "-u", 5000, "-n", 38, "--json").stdout)
    assert {r["item_id"]: r["score"] for r in rows} == pytest.approx(
        {r["item_id"]: r["score"] for r in plain}
    )


# The demo's route: a model of an 80% split that gained a user takes the whole file, as
# it did before the user was added; data with other ids is refused still.
def test_a_grown_model_of_a_split_takes_the_whole_file_as_before_it_grew(trained):
    csv, _, _, folder = trained
    split = folder / "split.npz"
    out = invoke(
        "train", csv, "--factors", 3, "--epochs", 3, "--test-size", 0.2, "--no-refit", "-q",
        "-o", split,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    args = ("-u", 5, "-n", 5, "--diversity", "0.5", "--data", csv)
    assert invoke("recommend", split, *args).exit_code == 0
    grown = folder / "split-onboarded.npz"
    out = invoke("onboard", split, "--answers", "100=5,101=4", "--save-as", 5000, "-o", grown)
    assert out.exit_code == 0, out.output
    assert load(grown).catalog_.trained_shape == load(split).catalog_.trained_shape
    out = invoke("recommend", grown, *args[:1], 5000, *args[2:])
    assert out.exit_code == 0, out.output
    out = invoke("recommend", grown, *args)
    assert out.exit_code == 0, out.output
    # Ratings without the model's last user: the model's first ids, not its training ids.
    fewer = folder / "split-fewer.csv"
    frame = cli_ratings_frame(n_users=300)
    frame[frame.user_id != 300].to_csv(fewer, index=False)
    line = error_line(invoke("recommend", grown, "-u", 5000, "--diversity", "0.5", "--data", fewer))
    assert "is not the data" in line
    assert "300 x" in line and "when trained (it gained 1 users and 0 items later)" in line
