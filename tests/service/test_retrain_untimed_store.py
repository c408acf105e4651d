"""A store imported without its ratings' times holds every rating at the import's time;
retrain's temporal holdout then has no cutoff, and says why in one line instead of
"cutoff 1796528039.49 leaves the train set empty" in raw seconds."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.service.retrain import temporal_cutoff

from .retrain_helpers import as_data, timed_frame

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_retrain_of_a_store_imported_without_times_names_the_cause(tmp_path):
    frame = timed_frame()
    frame.drop(columns="t").to_csv(tmp_path / "untimed.csv", index=False)
    db, models = tmp_path / "r.db", tmp_path / "models"
    r = run("store", "import", tmp_path / "untimed.csv", "--store", db)
    assert r.exit_code == 0, r.output
    r = run("train", tmp_path / "untimed.csv", "-a", "biased-mf", "--factors", 4, "-q",
            "-o", tmp_path / "m.npz")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert run("models", "publish", tmp_path / "m.npz", "--model-dir", models).exit_code == 0
    r = run("retrain", "--store", db, "--model-dir", models, "--seed", 0)
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert f"all {len(frame)} ratings have the same time" in lines[0]
    assert "--timestamp-col" in lines[0] and "Traceback" not in r.output


def test_a_cutoff_among_distinct_times_is_unchanged():
    data = as_data(timed_frame())
    cutoff = temporal_cutoff(data, 0.2)
    share = (data.timestamps >= cutoff).mean()
    assert 0.2 <= share < 0.3 and data.timestamps.min() < cutoff
