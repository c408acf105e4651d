"""Files a command may not read or write, and folders where a file belongs: one line that
names the file and the cause, exit 1, before the work (found in a pass over every command
with bad input).

Before: "[Errno 13] Permission denied: 'ratings.csv'"; "unable to open database file" for
a store in a folder that may not be written, or "attempt to write a readonly database"
once the whole ratings file had been read; ``models list`` on a folder left a
``versions`` folder in it; ``--space`` naming a folder said "no file by that name".
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from conftest import AS_ROOT, can_drop_privileges, cli_ratings_frame, python_bound_by_permissions
from new_user_support import error_line, invoke

# Runs each command of argv[1] (a JSON list of argument lists) in this child, whom the
# permission bits bind, and prints [exit code, standard error] for each as JSON.
CHILD = """
import json, sys
from click.testing import CliRunner
from latentrec.cli import main
done = [CliRunner().invoke(main, args) for args in json.loads(sys.argv[1])]
print(json.dumps([[d.exit_code, d.stderr] for d in done]))
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A ratings file, a model, a store and a model directory, and their broken twins."""
    pytest.importorskip("sqlalchemy")  # the store: the 'serve' extra
    folder = tmp_path_factory.mktemp("refused")
    ratings = folder / "ratings.csv"
    cli_ratings_frame().to_csv(ratings, index=False)
    model = folder / "m.npz"
    for args in (
        ["train", ratings, "-a", "biases", "-q", "-o", model],
        ["store", "import", ratings, "--store", folder / "s.db"],
    ):
        out = invoke(*args)
        assert out.exit_code == 0, out.output
    return folder


def unreadable(path: Path) -> Path:
    path.chmod(0)
    return path


def test_what_may_not_be_read_or_written_is_named_with_the_cause(made, tmp_path):
    if AS_ROOT and not can_drop_privileges():
        pytest.skip("root reads and writes past permission bits, and setpriv cannot drop that")
    ratings, model, store = made / "ratings.csv", made / "m.npz", made / "s.db"
    secret = unreadable(Path(shutil.copy(ratings, tmp_path / "secret.csv")))
    secret_store = unreadable(Path(shutil.copy(store, tmp_path / "secret.db")))
    read_only_store = Path(shutil.copy(store, tmp_path / "ro.db"))
    read_only_store.chmod(stat.S_IRUSR)
    space = tmp_path / "space.json"
    space.write_text('{"regularization": ["float", 0.01, 1.0]}')
    unreadable(space)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    expected = {
        ("data", "info", secret): f"Error: {secret}: Permission denied",
        ("store", "import", ratings, "--store", locked / "s.db"): (
            f"Error: cannot write the store {locked / 's.db'}: directory {locked} is not "
            "writable (SQLite writes its journal beside the store)"
        ),
        ("store", "import", ratings, "--store", read_only_store): (
            f"Error: the store {read_only_store} is read-only; make it writable to write to it"
        ),
        ("store", "import", ratings, "--store", secret_store): (
            f"Error: cannot read the store {secret_store}: permission denied"
        ),
        ("store", "info", "--store", secret_store): (
            f"Error: cannot read the store {secret_store}: permission denied"
        ),
        ("retrain", "--store", store, "--model-dir", locked / "md"): (
            f"Error: cannot write {locked / 'md'}: no such directory {locked / 'md'}, and "
            f"{locked} is not writable to create it"
        ),
        ("models", "publish", model, "--model-dir", locked): (
            f"Error: cannot write {locked}: directory {locked} is not writable"
        ),
        ("models", "list", "--model-dir", locked): (
            f"Error: nothing is published in {locked} (it has no versions folder); "
            "publish a model into it first"
        ),
        ("serve", "--model", model, "--store", secret_store, "--port", "0"): (
            f"Error: cannot read the store {secret_store}: permission denied"
        ),
        ("serve", "--model", model, "--store", locked / "new.db", "--port", "0"): (
            f"Error: cannot write the store {locked / 'new.db'}: directory {locked} is not "
            "writable (SQLite writes its journal beside the store)"
        ),
        ("serve", "--model-dir", locked, "--port", "0"): (
            f"Error: no model version published in {locked}; publish one first "
            "(latentrec models publish MODEL_FILE --model-dir DIR)"
        ),
        ("tune", ratings, "-a", "biases", "--space", space): (
            f"Error: --space {space}: cannot read it: Permission denied"
        ),
    }
    commands = [[str(a) for a in args] for args in expected]
    try:
        child = python_bound_by_permissions(CHILD, json.dumps(commands))
    finally:
        locked.chmod(stat.S_IRWXU)
    assert child.returncode == 0, child.stderr
    for (code, stderr), (args, line) in zip(
        json.loads(child.stdout), expected.items(), strict=True
    ):
        assert (code, stderr.strip()) == (1, line), args
    assert list(locked.iterdir()) == []  # nothing made where nothing could be written


@pytest.mark.parametrize("command", [["list"], ["rollback"], ["prune", "--keep", "1"]])
def test_a_folder_with_nothing_published_is_refused_and_left_as_it_was(tmp_path, command):
    (tmp_path / "notes.txt").write_text("mine")
    line = error_line(invoke("models", *command, "--model-dir", tmp_path))
    assert f"nothing is published in {tmp_path} (it has no versions folder)" in line
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_serve_leaves_a_folder_with_nothing_published_as_it_was(tmp_path):
    line = error_line(invoke("serve", "--model-dir", tmp_path, "--port", 0))
    assert f"no model version published in {tmp_path}" in line
    assert list(tmp_path.iterdir()) == []


def test_a_published_directory_still_lists(made, tmp_path):
    out = invoke("models", "publish", made / "m.npz", "--model-dir", tmp_path / "md")
    assert out.exit_code == 0, out.output
    out = invoke("models", "list", "--model-dir", tmp_path / "md")
    assert out.exit_code == 0 and "v000001" in out.stdout, out.output


def test_a_search_space_that_is_a_folder_or_not_text_is_said_so(made, tmp_path):
    ratings = made / "ratings.csv"
    line = error_line(invoke("tune", ratings, "-a", "biases", "--space", tmp_path))
    assert (
        line == f"Error: --space {tmp_path} is a folder; give a JSON object or a file holding one"
    )
    binary = tmp_path / "space.json"
    binary.write_bytes(b'{"n_factors": \xff}')
    line = error_line(invoke("tune", ratings, "-a", "biases", "--space", binary))
    assert line.startswith(f"Error: --space {binary}: cannot read it: not UTF-8 text"), line
    assert "at byte 14" in line


@pytest.mark.parametrize("command", ["train", "evaluate", "tune"])
def test_help_of_an_option_with_no_bounds_shows_no_empty_range(command):
    """``--relevance-threshold`` (any finite number) printed ``[x<=None]`` in the help."""
    out = invoke(command, "--help")
    assert out.exit_code == 0
    assert "None]" not in out.stdout
    assert "--relevance-threshold" in out.stdout


@pytest.mark.parametrize("name", ["m.npz", "renamed.csv"])
def test_a_model_file_given_for_ratings_is_called_a_model_file(made, tmp_path, name):
    """It was "m.npz is a zip file, not text; name it *.zip or unpack it"."""
    model = Path(shutil.copy(made / "m.npz", tmp_path / name))
    for args in (["data", "info", model], ["train", model, "-o", tmp_path / "new.npz"]):
        line = error_line(invoke(*args))
        assert line == (
            f"Error: {model} is a latentrec model file, not ratings; give a ratings file "
            "(CSV, TSV, Parquet or .lrdata) or ml-100k"
        )
    assert not (tmp_path / "new.npz").exists()
