"""Every `latentrec retrain --json` object has the same keys, a failure's included.

A failure's object was ``published``, ``version`` and ``error`` alone, so a program that
read ``metric``, ``candidate`` or ``cutoff`` from every answer broke on the first failed
run (a NaN rating written into the store by hand, nothing published yet, a bad option).
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.cli.retrain import JSON_KEYS
from latentrec.data.synthetic import synthetic

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")


def answer(*args, code: int) -> dict:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == code, r.output
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout
    return json.loads(lines[0])


@pytest.fixture
def store(tmp_path):
    """A store of 800 timed ratings (the latest 10% are held out)."""
    from latentrec.store import open_store

    df = synthetic(60, 30, 800, random_state=0).to_frame()
    df["t"] = np.random.default_rng(1).permutation(len(df)) + 1_700_000_000
    db = tmp_path / "ratings.db"
    with open_store(db) as s:
        s.import_interactions(Interactions.from_frame(df, timestamp="t"))
    return db


def spoil_one_rating(db) -> None:
    """A rating no number, written past the store's checks, as by hand in the database."""
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "UPDATE lr_ratings SET value = 'NaN' WHERE rowid = (SELECT MIN(rowid) FROM lr_ratings)"
        )
    con.close()


def test_success_refusal_and_failures_have_the_same_keys(store, tmp_path):
    models = tmp_path / "models"
    first = answer(
        "retrain", "--store", store, "--model-dir", models, "-a", "biases", "--json", code=0
    )
    assert first["published"] is True and first["error"] is None
    # Nothing new since: not published, exit 0, the figures' keys there all the same.
    refused = answer("retrain", "--store", store, "--model-dir", models, "--json", code=0)
    assert refused["published"] is False and refused["error"] is None
    assert list(first) == list(refused) == list(JSON_KEYS)

    failures = [
        # Nothing published in the folder and no --algorithm.
        answer("retrain", "--store", store, "--model-dir", tmp_path / "empty", "--json", code=1),
        # A value refused while the command line is read (before the command runs).
        answer(
            "retrain", "--store", store, "--model-dir", models, "--holdout", "x", "--json", code=2
        ),
    ]
    spoil_one_rating(store)
    failures.append(answer("retrain", "--store", store, "--model-dir", models, "--json", code=1))
    assert "no finite number" in failures[-1]["error"]
    for failed in failures:
        assert list(failed) == list(JSON_KEYS), failed
        assert failed["published"] is False and failed["error"]
        # Nothing ran to give a figure, a cutoff or a count: each is null, not left out.
        assert all(failed[key] is None for key in JSON_KEYS if key not in ("published", "error"))


def test_the_help_names_every_key():
    r = CliRunner().invoke(main, ["retrain", "--help"])
    text = " ".join(r.output.split())
    assert ", ".join(JSON_KEYS) in text
    assert "A failure has the same keys" in text
