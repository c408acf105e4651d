"""demo looks the user up before its tour trains anything."""

from __future__ import annotations

from conftest import cli_ratings_frame
from new_user_support import error_line, invoke


def test_demo_checks_the_user_before_training(tmp_path):
    out = invoke("demo", "--output-dir", tmp_path / "out", "-u", 99999)
    line = error_line(out)
    assert "unknown user id(s): '99999'" in line
    assert out.stdout == ""  # the tour did not start


def test_a_bad_hyperparameter_is_refused_before_any_work(tmp_path):
    # evaluate --cv printed its plan (and train read the data) before fit refused it.
    cli_ratings = tmp_path / "r.csv"
    cli_ratings_frame(times=False).to_csv(cli_ratings, index=False)
    for args in (
        ["evaluate", cli_ratings, "--cv", 2, "--param", "n_factors=0"],
        ["train", cli_ratings, "--param", "n_factors=0", "-o", tmp_path / "m.npz"],
        ["tune", cli_ratings, "--param", "n_epochs=-1", "--trials", 1],
    ):
        out = invoke(*args)
        line = error_line(out)
        assert "must be an integer >= 1" in line, line
        assert out.stdout == "", out.stdout
    assert not (tmp_path / "m.npz").exists()
