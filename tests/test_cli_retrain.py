"""`latentrec retrain` and `latentrec models ...`, end to end on a SQLite ratings store."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_forks import latentrec
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.data.synthetic import synthetic
from latentrec.service.versions import ModelDirectory

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")

N_OLD = 2700


def run(*args):
    # The installed command, forked from a process that has run its imports.
    return latentrec(*args, timeout=300)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Old ratings in a CSV (what the first model is trained on); all of them in a store."""
    from latentrec.store import open_store

    folder = tmp_path_factory.mktemp("retrain-cli")
    df = synthetic(120, 50, 3000, random_state=0).to_frame()
    df["t"] = np.random.default_rng(1).permutation(len(df)) + 1_700_000_000
    old_csv = folder / "old.csv"
    df[df["t"] < 1_700_000_000 + N_OLD].to_csv(old_csv, index=False)
    with open_store(folder / "ratings.db") as store:
        store.import_interactions(Interactions.from_frame(df, timestamp="t"))
    return folder, old_csv, folder / "ratings.db"


def test_seed_retrain_list_rollback(setup, tmp_path):
    folder, old_csv, db = setup
    model_file, models = tmp_path / "m.npz", tmp_path / "models"
    r = invoke("train", old_csv, "--timestamp-col", "t", "-a", "biases", "-o", model_file)
    assert r.exit_code == 0, r.output
    r = invoke("models", "publish", model_file, "--model-dir", models)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "published v000001 (Biases); it is now current"

    # A deliberately bad candidate: refused, exit 0, both figures printed.
    r = invoke(
        "retrain",
        "--store",
        db,
        "--model-dir",
        models,
        "--param",
        "regularization=10000",
        "--param",
        "user_regularization=10000",
    )
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(f"scored on {3000 - N_OLD} ratings from 2023-11-14 ")
    assert lines[1].startswith("candidate         rmse ")
    assert lines[2].startswith("current v000001   rmse ")
    cand, cur = float(lines[1].split()[-1]), float(lines[2].split()[-1])
    assert cand > cur and lines[3].startswith("not published: candidate rmse")

    # The current recipe on the new ratings, through the installed command.
    out = run("retrain", "--store", db, "--model-dir", models, "--seed", 3)
    assert out.returncode == 0, out.stderr
    figures = out.stdout.splitlines()
    cand, cur = float(figures[1].split()[-1]), float(figures[2].split()[-1])
    published = ModelDirectory(models).current().name == "v000002"
    assert published == (cand <= cur)
    assert figures[3].startswith("published v000002" if published else "not published")
    if not published:  # make sure there is a second version to list and roll back
        r = invoke("retrain", "--store", db, "--model-dir", models, "--tolerance", 1)
        assert "published v000002" in r.output

    r = invoke("models", "list", "--model-dir", models)
    assert r.exit_code == 0, r.output
    rows = r.output.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["v000001", "*"]
    assert "v000002" in rows[1] and "Biases" in rows[1] and "rmse" in rows[1]
    r = invoke("models", "list", "--model-dir", models, "--json")
    listed = json.loads(r.stdout)
    assert [(v["name"], v["current"]) for v in listed] == [("v000001", False), ("v000002", True)]
    assert listed[1]["metrics"]["current_version"] == "v000001"

    r = invoke("models", "rollback", "--model-dir", models)
    assert r.exit_code == 0 and r.output.strip() == "current version: v000001 (was v000002)"
    r = invoke("models", "rollback", "--model-dir", models, "--to", "v000002")
    assert r.output.strip() == "current version: v000002 (was v000001)"
    r = invoke("retrain", "--store", db, "--model-dir", models, "--json")
    result = json.loads(r.stdout)
    assert result["published"] is False and "no new rating" in result["reason"]
    r = invoke("models", "prune", "--model-dir", models, "--keep", 1)
    assert r.output.strip() == "removed 1 version(s): v000001"


FAILURES = [
    (["models", "list", "--model-dir", "{tmp}/none"], "no model directory at"),
    (["models", "rollback", "--model-dir", "{tmp}"], "nothing is published"),
    (["models", "rollback", "--model-dir", "{seeded}", "--to", "v000009"], "no version"),
    (["models", "rollback", "--model-dir", "{seeded}", "--to", "latest"], "not a version"),
    (["models", "publish", "{tmp}/missing.npz", "--model-dir", "{tmp}"], "no model file"),
    (["retrain", "--store", "{db}", "--model-dir", "{tmp}"], "give --algorithm"),
    (["retrain", "--store", "{db}", "--model-dir", "{seeded}", "--holdout", "2"], "holdout"),
    (["retrain", "--store", "nosuch://x", "--model-dir", "{seeded}"], "store URL"),
    (["retrain", "--store", "{db}", "--model-dir", "{seeded}", "--metric", "auc"], "auc"),
    # Nothing published and no --algorithm either: the option is named first, not on
    # the next try.
    (["retrain", "--store", "{db}", "--model-dir", "{tmp}", "--holdout", "2"], "holdout"),
    (["retrain", "--store", "{db}", "--model-dir", "{tmp}", "--tolerance", "-1"], "tolerance"),
    (["retrain", "--store", "{db}", "--model-dir", "{tmp}", "--metric", "auc"], "auc"),
]


def filled_args(args, tmp_path, db) -> list[str]:
    seeded = tmp_path / "seeded"
    from latentrec.models import GlobalMean

    ModelDirectory(seeded).publish(GlobalMean().fit(Interactions.from_dense(np.eye(2) + 1)))
    return [a.format(tmp=tmp_path, db=db, seeded=seeded) for a in args]


@pytest.mark.parametrize("args, message", FAILURES)
def test_failures_are_one_line_exit_1(setup, tmp_path, args, message):
    _, _, db = setup
    r = invoke(*filled_args(args, tmp_path, db))
    assert r.exit_code == 1, r.output
    text = r.output.strip()
    assert text.startswith("Error: ") and len(text.splitlines()) == 1, text
    assert message in text and "Traceback" not in text and "unexpected" not in text


@pytest.mark.parametrize(
    "args, message",
    [a for a in FAILURES if a[0][0] == "retrain"]
    + [(["retrain", "--store", "{tmp}/typo.db", "--model-dir", "{seeded}"], "no store at")],
)
def test_retrain_json_failures_are_one_json_object_exit_1(setup, tmp_path, args, message):
    """With --json a failure is JSON on standard output, as a success is (it was an
    'Error: ...' line on standard error, which a program reading the JSON could not
    parse)."""
    _, _, db = setup
    r = invoke(*filled_args(args, tmp_path, db), "--json")
    assert r.exit_code == 1, r.output
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout
    answer = json.loads(lines[0])
    assert answer["published"] is False and answer["version"] is None
    assert message in answer["error"] and "unexpected" not in answer["error"]
    assert "Error:" not in r.stderr


def test_retrain_json_success_has_no_error(setup, tmp_path):
    _, _, db = setup
    r = invoke("retrain", "--store", db, "--model-dir", tmp_path / "m", "-a", "biases", "--json")
    assert r.exit_code == 0, r.output
    answer = json.loads(r.stdout)
    assert answer["published"] is True and answer["error"] is None


@pytest.mark.parametrize("algorithm", [None, "biases"])
@pytest.mark.parametrize(
    "param, message",
    [("x", "--param takes name=value, got 'x'"), ("x=1", "no hyperparameter"), ("=1", "''")],
)
def test_bad_param_is_one_line_exit_1(setup, tmp_path, algorithm, param, message):
    """A bad --param fails alike on the current version's recipe and on --algorithm's."""
    _, _, db = setup
    models = tmp_path / "models"
    from latentrec.models import Biases

    ModelDirectory(models).publish(Biases().fit(Interactions.from_dense(np.eye(2) + 1)))
    chosen = [] if algorithm is None else ["--algorithm", algorithm]
    r = invoke("retrain", "--store", db, "--model-dir", models, *chosen, "--param", param)
    assert r.exit_code == 1, r.output
    text = r.output.strip()
    assert text.startswith("Error: ") and len(text.splitlines()) == 1, text
    assert message in text and "Traceback" not in text and "unexpected" not in text


def test_a_retrain_that_stops_before_fitting_says_no_candidate_was_trained(setup, tmp_path):
    # The first line said "candidate trained on 3000 ratings" when nothing new was held
    # out (or too few to compare on), though no candidate is fitted then.
    folder, old_csv, db = setup
    models = tmp_path / "models"
    r = invoke("retrain", "--store", db, "--model-dir", models, "-a", "biases", "--seed", 0)
    assert r.exit_code == 0 and "published v000001" in r.output, r.output
    assert "; candidate trained on 2700 explicit ratings" in r.output.splitlines()[0]
    r = invoke("retrain", "--store", db, "--model-dir", models)
    assert r.exit_code == 0, r.output
    first, last = r.output.splitlines()[0], r.output.splitlines()[-1]
    assert first.endswith(
        "; no candidate trained on 3000 explicit ratings (the kind v000001 was trained on)"
    ), first
    assert last.startswith("not published: all 300 ratings from the cutoff on were in")


@pytest.mark.parametrize(
    "args, env, code, message",
    [
        (["--store", ":memory:"], {}, 1, "in-memory database"),
        ([], {"LATENTREC_STORE": "sqlite://"}, 1, "in-memory database"),
        ([], {"LATENTREC_STORE": ""}, 2, "Missing option '--store'"),
        (["--store", "r.db", "--holdout", "x"], {}, 2, "'x' is not a valid float"),
    ],
)
def test_retrain_json_covers_the_option_checks_too(tmp_path, args, env, code, message):
    """Found while the command line is read (before the command runs), these were click's
    text on standard error even with --json."""
    r = CliRunner().invoke(
        main, ["retrain", "--model-dir", str(tmp_path / "m"), *args, "--json"], env=env
    )
    assert r.exit_code == code, r.output
    answer = json.loads(r.stdout)
    assert answer["published"] is False and message in answer["error"]
    assert r.stderr == ""
    assert not (tmp_path / "m").exists()
