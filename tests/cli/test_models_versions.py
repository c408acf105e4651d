"""`latentrec models list/rollback/publish/prune` on what users actually put there.

Found in a review of the model directory as a user meets it:

- a version published from ``tune -o`` (``validation_rmse`` in its metrics) showed no
  figure, and one from ``train --test-size`` (``holdout_ratings``) no "scored on";
- ``train ... -o DIR/versions/v000001/model.npz`` replaced a published version's file
  unnoticed: ``models list`` kept showing the old figure, and rollback and the service
  loaded the other model under the old version's name;
- ``--model-dir`` naming a file was click's three-line usage error with exit code 2.
"""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

from latentrec import Interactions
from latentrec.io.modelfile import read_manifest
from latentrec.service.versions import ChangedVersionError, ModelDirectory


def rows(listing: str) -> dict[str, str]:
    """``models list``'s table lines by version name."""
    out = {}
    for line in listing.splitlines()[1:]:
        name = line.lstrip("* ").split()[0]
        out[name] = line
    return out


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models-versions")
    csv = folder / "ratings.csv"
    cli_ratings_frame(times=False).to_csv(csv, index=False)
    return csv


def test_list_shows_the_figures_each_manifest_holds(ratings, tmp_path):
    md = tmp_path / "models"
    held, ranked = tmp_path / "held.npz", tmp_path / "ranked.npz"
    out = invoke("train", ratings, "-a", "biases", "--test-size", "0.2", "-o", held)
    assert out.exit_code == 0, out.output
    out = invoke("train", ratings, "-a", "implicit-als", "--test-size", "0.2", "-o", ranked)
    assert out.exit_code == 0, out.output
    files = [held, ranked]
    pytest.importorskip("optuna")
    tuned = tmp_path / "tuned.npz"
    space = json.dumps({"regularization": ["float", 0.1, 20.0]})
    out = invoke("tune", ratings, "-a", "biases", "--space", space, "--trials", 2, "-o", tuned)
    assert out.exit_code == 0, out.output
    files.append(tuned)
    for f in files:
        out = invoke("models", "publish", f, "--model-dir", md)
        assert out.exit_code == 0, out.output

    out = invoke("models", "list", "--model-dir", md)
    assert out.exit_code == 0, out.output
    shown = rows(out.stdout)
    held_m, ranked_m, tuned_m = (read_manifest(f)["metrics"] for f in files)

    # Each figure is the manifest's, under its own name, and counted as it says.
    assert f"holdout_rmse {held_m['holdout_rmse']:.4f}" in shown["v000001"]
    assert f" {held_m['holdout_ratings']} ratings " in shown["v000001"]
    assert f"holdout_ndcg@10 {ranked_m['holdout_ndcg@10']:.4f}" in shown["v000002"]
    assert f" {ranked_m['holdout_users']} users " in shown["v000002"]
    assert f"validation_rmse {tuned_m['validation_rmse']:.4f}" in shown["v000003"]
    # Not the share held out, nor the figure of the model before tuning.
    assert "holdout_share" not in out.stdout and "as_given" not in out.stdout


@pytest.fixture
def published(ratings, tmp_path):
    """Two versions trained on the ratings with a held-out share; v000002 current.
    (Not a global mean nor a popularity list: publish refuses a model serve refuses.)"""
    md = tmp_path / "models"
    for algorithm in ("biases", "implicit-als"):
        model = tmp_path / f"{algorithm}.npz"
        out = invoke("train", ratings, "-a", algorithm, "--test-size", "0.2", "-o", model)
        assert out.exit_code == 0, out.output
        out = invoke("models", "publish", model, "--model-dir", md)
        assert out.exit_code == 0, out.output
    small = tmp_path / "bom.csv"
    small.write_text("user_id,item_id,rating\n1,1,5\n1,2,3\n2,1,4\n2,2,1\n")
    return md, small


def write_over(target, ratings):
    """Another model written over a published file, as `cp` (train -o is refused there)."""
    other = target.parent.parent.parent.parent / "other.npz"
    out = invoke("train", ratings, "-a", "biases", "-o", other)
    assert out.exit_code == 0, out.output
    shutil.copyfile(other, target)


@pytest.mark.parametrize("command", ["train", "tune"])
def test_train_and_tune_refuse_to_write_into_a_published_version(published, command):
    md, small = published
    target = md / "versions" / "v000001" / "model.npz"
    before = target.read_bytes()
    space = json.dumps({"regularization": ["float", 0.1, 20.0]})
    extra = ["--trials", 1, "--space", space] if command == "tune" else []
    if command == "tune":
        pytest.importorskip("optuna")
    for out_path in (target, md / "versions" / "v000001" / "beside.npz"):
        message = error_line(invoke(command, small, "-a", "biases", *extra, "-o", out_path))
        assert "inside a model directory's versions folder" in message
        assert "latentrec models publish" in message
    assert target.read_bytes() == before
    assert not (md / "versions" / "v000001" / "beside.npz").exists()


def test_a_version_written_over_is_listed_as_damaged_and_refused_by_rollback(published):
    md, small = published
    before = invoke("models", "list", "--model-dir", md)
    old_figure = rows(before.stdout)["v000001"].split("Biases")[1].split()[1]
    write_over(md / "versions" / "v000001" / "model.npz", small)

    out = invoke("models", "list", "--model-dir", md)
    assert out.exit_code == 0, out.output
    line = rows(out.stdout)["v000001"]
    assert "DAMAGED" in line and old_figure not in line
    assert "v000002" in out.stdout and "DAMAGED" not in rows(out.stdout)["v000002"]
    warning = [x for x in out.stderr.splitlines() if x.startswith("warning: v000001")]
    assert len(warning) == 1 and "v000001/model.npz has changed since" in warning[0]
    listed = json.loads(invoke("models", "list", "--model-dir", md, "--json").stdout)
    assert "has changed since v000001" in listed[0]["damaged"]
    assert listed[1]["damaged"] is None and len(listed[1]["sha256"]) == 64

    # Rollback, to the one before or by name, refuses it and leaves v000002 current.
    for args in ([], ["--to", "v000001"]):
        message = error_line(invoke("models", "rollback", "--model-dir", md, *args))
        assert "v000001/model.npz has changed since v000001 was published" in message
        assert ModelDirectory(md).read_pointer() == "v000002"


def test_the_current_version_written_over_is_not_served(published, ratings):
    md, small = published
    write_over(md / "versions" / "v000002" / "model.npz", small)
    # What serve --model-dir and retrain load (service.holder.DirectorySource does this).
    with pytest.raises(ChangedVersionError, match="v000002/model.npz has changed"):
        ModelDirectory(md).load_current()
    # A retrain reads the current version's file: its recipe (with --param) or its
    # figure to compare with; either way the changed file is refused by name.
    pytest.importorskip("sqlalchemy")
    from latentrec.store import open_store

    db = md.parent / "ratings.db"
    with open_store(db) as store:
        store.import_interactions(Interactions.read(ratings))
    for extra in (["--param", "regularization=2"], []):
        message = error_line(invoke("retrain", "--store", db, "--model-dir", md, *extra))
        assert "v000002/model.npz has changed since v000002 was published" in message
    assert ModelDirectory(md).read_pointer() == "v000002"
    assert [v.name for v in ModelDirectory(md).versions()] == ["v000001", "v000002"]
    assert ModelDirectory(md).rollback().name == "v000001"  # the intact one is still usable


@pytest.mark.parametrize(
    "args",
    [
        ["models", "list"],
        ["models", "list", "--json"],
        ["models", "rollback"],
        ["models", "prune", "--keep", "1"],
        ["models", "publish", "MODEL"],
    ],
)
def test_a_file_as_model_dir_is_one_line_exit_1(published, tmp_path, args):
    md, _ = published
    helps = tmp_path / "helps.txt"
    helps.write_text("not a folder\n")
    args = [str(md / "versions" / "v000001" / "model.npz") if a == "MODEL" else a for a in args]
    message = error_line(invoke(*args, "--model-dir", helps))
    assert message == f"Error: --model-dir {helps} is a file, not a folder of model versions"
    assert helps.read_text() == "not a folder\n"


def test_retrain_json_answers_a_file_as_model_dir_in_json_exit_1(tmp_path):
    pytest.importorskip("sqlalchemy")
    helps = tmp_path / "helps.txt"
    helps.write_text("x")
    out = invoke("retrain", "--store", tmp_path / "r.db", "--model-dir", helps, "--json")
    assert out.exit_code == 1, out.output
    answer = json.loads(out.stdout)
    assert answer["error"] == f"--model-dir {helps} is a file, not a folder of model versions"
    assert answer["published"] is False


def test_a_version_pruned_while_listing_is_left_out_not_damaged(published, monkeypatch):
    """A prune between the listing and each file's check: the pruned version is not
    shown (nor called damaged); the current one is."""
    md, _ = published
    listing = ModelDirectory.versions

    def list_then_prune(self, *args, **kwargs):
        found = listing(self, *args, **kwargs)
        monkeypatch.setattr(ModelDirectory, "versions", listing)
        assert ModelDirectory(md).prune(1) == ["v000001"]
        return found

    monkeypatch.setattr(ModelDirectory, "versions", list_then_prune)
    out = invoke("models", "list", "--model-dir", md)
    assert out.exit_code == 0, out.output
    assert "v000001" not in out.output and "DAMAGED" not in out.output
    assert "v000002" in rows(out.stdout)
