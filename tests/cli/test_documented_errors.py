"""Each documented refusal of the command line, taken as a user would trip on it: exit 1
(click's 2 for a usage mistake), one line naming the option or value at fault, no
traceback, and no file written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame

from latentrec import Interactions
from latentrec.cli import main
from latentrec.cli._common import COMPILE_MESSAGE
from latentrec.models import Biases, Popularity


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A ratings file, a folder, an empty file, and two models without what some
    commands need: Popularity (no latent space, no ratings) and Biases (no history)."""
    folder = tmp_path_factory.mktemp("documented_errors")
    frame = cli_ratings_frame(times=False)
    frame.to_csv(folder / "ratings.csv", index=False)
    data = Interactions.from_frame(frame)
    Popularity().fit(data).save(folder / "popularity.npz")
    Biases().fit(data).save(folder / "biases.npz")
    (folder / "a_folder").mkdir()
    (folder / "empty.csv").write_bytes(b"")
    return folder


# (arguments, exit code, words the error line holds, a file it must not leave behind);
# {d} is the folder of `files`.
CASES = {
    "train-test-size-above-one": (
        "train {d}/ratings.csv --test-size 1.5 -o {d}/out.npz",
        2,
        ["--test-size", "must lie in [0, 1)"],
        "out.npz",
    ),
    "evaluate-leave-last-out-with-test-size": (
        "evaluate {d}/ratings.csv --protocol leave-last-out --test-size 0.2",
        2,
        ["--test-size does not apply to --protocol leave-last-out"],
        None,
    ),
    "onboard-save-as-without-output": (
        "onboard {d}/biases.npz --save-as zed",
        2,
        ["--save-as and --output go together"],
        None,
    ),
    "similar-on-popularity": (
        "similar {d}/popularity.npz --item 100",
        1,
        ["Popularity has no latent space to compare in"],
        None,
    ),
    "explain-on-popularity": (
        "explain {d}/popularity.npz --user 1 --item 100",
        1,
        ["Popularity predicts no ratings to explain"],
        None,
    ),
    "tune-without-a-built-in-space": (
        "tune {d}/ratings.csv -a biases -o {d}/out.npz",
        1,
        ["no built-in search space for biases", "--space"],
        "out.npz",
    ),
    "learning-curves-without-history": (
        "plot learning-curves --model {d}/biases.npz -o {d}/curves.png",
        1,
        ["Biases in", "biases.npz has no training history"],
        "curves.png",
    ),
    "data-convert-to-csv": (
        "data convert {d}/ratings.csv -o {d}/x.csv",
        1,
        ["the output must end in .lrdata", "x.csv"],
        "x.csv",
    ),
    "data-file-is-a-folder": (
        "train {d}/a_folder -o {d}/out.npz",
        1,
        ["a_folder is a folder; give a ratings file"],
        "out.npz",
    ),
    "data-file-is-empty": (
        "train {d}/empty.csv -o {d}/out.npz",
        1,
        ["empty.csv is empty: no header line and no ratings"],
        "out.npz",
    ),
    "data-info-on-a-folder": (
        "data info {d}/a_folder",
        1,
        ["a_folder is a folder"],
        None,
    ),
    "data-info-on-an-empty-file": (
        "data info {d}/empty.csv",
        1,
        ["empty.csv is empty"],
        None,
    ),
}


@pytest.mark.parametrize(("args", "code", "words", "left"), CASES.values(), ids=CASES.keys())
def test_documented_refusals_are_one_line(files, args, code, words, left):
    out = CliRunner().invoke(main, [a.format(d=files) for a in args.split()])
    assert out.exit_code == code, out.output
    # A clean exit, not an exception that the runner caught (which would be a traceback).
    assert isinstance(out.exception, SystemExit), out.exception
    assert "Traceback" not in out.output
    assert out.stdout == ""
    lines = [x for x in out.stderr.splitlines() if x.strip() and x != COMPILE_MESSAGE]
    errors = [x for x in lines if x.startswith("Error: ")]
    assert len(errors) == 1, out.stderr
    if code == 1:
        assert lines == errors  # a failure is that one line; a usage error adds click's hint
    for fragment in words:
        assert fragment in errors[0], (fragment, errors[0])
    if left is not None:
        assert not (files / left).exists()
