"""A model that gained users after training (onboard --save-as, fold-in) is described
with the data it was trained on; other data is refused still."""

from __future__ import annotations

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
