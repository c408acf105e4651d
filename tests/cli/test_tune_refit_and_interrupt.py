"""``latentrec tune -o`` saves the model it scored, and Ctrl-C keeps the finished trials.

With ``--param patience=2 --epochs 200`` each trial stopped early (22 epochs on
MovieLens-100K) and was scored at its best epoch, while ``-o`` refitted all 200 epochs and
said nothing.  A Ctrl-C printed ``Aborted!`` and nothing else, however many trials had
finished.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import random_ratings

from latentrec import load
from latentrec.cli import main

pytest.importorskip("optuna")

ROOT = Path(__file__).resolve().parents[2]

# Early stopping on, and one thread: the same seed gives the same trials every run.
EARLY = ["-a", "biased-mf", "--epochs", "200", "--param", "patience=2",
         "--param", "learning_rate_decay=1.0", "--param", "num_threads=1"]  # fmt: skip


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune_refit") / "ratings.csv"
    random_ratings(n_users=60, n_items=40, density=0.3, seed=1).to_frame().to_csv(path, index=False)
    return path


def _table(output: str) -> list[list[str]]:
    lines = output.split("\n trial ")[1].split("\nbest ")[0].splitlines()
    header, rows = ("trial " + lines[0]).split(), [line.split() for line in lines[1:]]
    return [dict(zip(header, row, strict=False)) for row in rows]


@pytest.mark.parametrize(
    ("space", "which", "stopped"),
    [
        # The model as given (init_std 0.05) is the first trial; a later one scores better.
        ('{"init_std": ["float", 0.01, 0.05]}', "the best values",
         "the best trial's stopping epoch"),
        # The space is the model as given: one trial, no better; -o writes the model as given.
        ('{"regularization": ["categorical", [0.08]]}', "its own values (as given)",
         "its own stopping epoch on the validation split"),
    ],
)  # fmt: skip
def test_the_saved_model_runs_the_epochs_its_trial_was_scored_at(
    csv, tmp_path, space, which, stopped
):
    out = CliRunner().invoke(main, ["tune", str(csv), *EARLY, "--space", space, "--trials", "3",
                                    "-o", str(tmp_path / "m.npz")])  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = _table(out.output)
    scored = [r for r in rows if r["state"] == "complete"]
    kept = min(scored, key=lambda r: float(r["rmse"])) if which == "the best values" else rows[0]
    epochs = int(kept["best_epoch"])
    assert epochs < 200 and epochs <= int(kept["epochs"])
    assert f"model with {which} refitted" in out.output
    assert f"with n_epochs={epochs}, {stopped} (patience off), and written to" in out.output
    if which == "the best values":
        assert f"(its early stopping kept epoch {epochs})" in out.output
    else:  # train refuses patience: the advice gives the epochs instead
        assert f"use it (latentrec train --epochs {epochs}, no patience)" in out.output
    saved = load(tmp_path / "m.npz")
    assert saved.n_epochs == epochs and saved.patience is None
    assert saved.history_["epoch"] == list(range(1, epochs + 1))


# The child: the command line as the installed script runs it, with the second trial's fit
# held until the test's SIGINT comes (no timing guess: the first trial has surely ended,
# and the second is surely running).
CHILD = """
import sys
from latentrec.models import BiasedMF

fit, fits = BiasedMF.fit, []

def held(self, *args, **kwargs):
    fits.append(1)
    if len(fits) == 2:
        print("holding", flush=True)
        sys.stdin.readline()  # the test's SIGINT comes while the trial waits here
    return fit(self, *args, **kwargs)

BiasedMF.fit = held
from latentrec.cli import main
main(sys.argv[1:], prog_name="latentrec")
"""


def hears_ctrl_c() -> None:
    # A shell runs background jobs (CI runners, `make test &`) with SIGINT ignored, and the
    # child would inherit that; a user's terminal never ignores it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_prints_the_finished_trials_and_saves_nothing(csv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LATENTREC_DEBUG"}
    env["PYTHONPATH"] = str(ROOT / "src")
    args = ["tune", str(csv), *EARLY, "--trials", "50", "-o", str(tmp_path / "m.npz")]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=hears_ctrl_c,
    )
    try:
        lines = []
        while not lines or not lines[-1].startswith("  trial 1/50: "):
            lines.append(child.stdout.readline())
            assert lines[-1], ("".join(lines), child.stderr.read())
        assert child.stdout.readline() == "holding\n"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 1, (out, err)
    # The finished trial's row and the best values, as at the end of a search; then one line.
    rows = _table("".join(lines) + out)
    assert [row["trial"] for row in rows] == ["0"] and rows[0]["state"] == "complete"
    assert out.splitlines()[-1].startswith("best rmse ")
    assert err.splitlines() == [
        f"interrupted after 1 of 50 trials: the table holds those that finished; nothing "
        f"was written to {tmp_path / 'm.npz'} (no refit after Ctrl-C)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no model, no temporary twin


def test_ctrl_c_while_the_model_as_given_is_scored_prints_the_trials(csv, tmp_path):
    # learning_rate 0.01 (the model as given) is outside the space: after its one trial,
    # tune fits the model as given (the CHILD's second fit, held); Ctrl-C there printed
    # "Aborted!" and lost the finished trial.
    env = {k: v for k, v in os.environ.items() if k != "LATENTREC_DEBUG"}
    env["PYTHONPATH"] = str(ROOT / "src")
    space = '{"learning_rate": ["float", 0.02, 0.03]}'
    args = ["tune", str(csv), *EARLY, "--space", space, "--trials", "1",
            "-o", str(tmp_path / "m.npz")]  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=hears_ctrl_c,
    )
    try:
        lines = []
        while not lines or lines[-1] != "holding\n":
            lines.append(child.stdout.readline())
            assert lines[-1], ("".join(lines), child.stderr.read())
        assert any(line.startswith("  trial 1/1: ") for line in lines)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 1, (out, err)
    rows = _table("".join(lines) + out)
    assert [row["trial"] for row in rows] == ["0"] and rows[0]["state"] == "complete"
    assert out.splitlines()[-1].startswith("best rmse ")
    assert err.splitlines() == [
        "interrupted after 1 of 1 trials, while scoring the model as given (not scored): the "
        f"table holds those that finished; nothing was written to {tmp_path / 'm.npz'} "
        "(no refit after Ctrl-C)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_search_a_timeout_ends_advises_a_longer_timeout(csv):
    # A grid of 4 points, --trials 10 and a timeout that ends it after one: "run more
    # --trials" was the advice, though the trials already exceeded the grid.
    # Regularisation so strong that the one point tried scores worse than the model as given.
    space = '{"regularization": ["categorical", [5.0, 6.0, 7.0, 8.0]]}'
    out = CliRunner().invoke(main, ["tune", str(csv), "-a", "biased-mf", "--epochs", "30",
                                    "--param", "num_threads=1", "--space", space,
                                    "--trials", "10", "--timeout", "1e-9"])  # fmt: skip
    assert out.exit_code == 0, out.output
    warning = next(line for line in out.output.splitlines() if line.startswith("warning:"))
    assert warning.endswith("or raise --timeout (it ended the search after 1 of 4 trials)")
    assert "--trials" not in warning
