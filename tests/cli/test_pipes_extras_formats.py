"""A new user's pipes, missing extras and data formats: a closed pipe ends a command
quietly, a missing module names its extra, a file in the wrong format says so first,
and what a format cannot hold is said, not dropped."""

from __future__ import annotations

import subprocess

import pytest
from new_user_support import COMPILE_MESSAGE, invoke, latentrec_process, run_process, train_both

from latentrec import Interactions
from latentrec.cli._common import missing_extra


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_both(tmp_path_factory.mktemp("pipes"))


# pyspark without its JVM bridge
def test_py4j_belongs_to_the_spark_extra(trained):
    err = ModuleNotFoundError("No module named 'py4j'", name="py4j")
    assert "install the 'spark' extra" in missing_extra(err)
    csv, _, _, folder = trained
    code, _, lines = run_process(
        "train", csv, "-a", "als", "-o", folder / "sp.npz", "--engine", "spark",
        blocked=("py4j",),
    )  # fmt: skip
    assert code == 1 and len(lines) == 1, lines
    assert "install the 'spark' extra" in lines[0], lines


def test_without_pyspark_the_message_names_pyspark(trained):
    csv, _, _, folder = trained
    code, _, lines = run_process(
        "train", csv, "-a", "als", "-o", folder / "sp.npz", "--engine", "spark",
        blocked=("pyspark", "py4j"),
    )  # fmt: skip
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("Error: pyspark is not installed"), lines
    assert "install the 'spark' extra" in lines[0], lines


def test_tune_without_optuna_says_only_that(trained):
    csv, _, _, _ = trained
    code, out, lines = run_process("tune", csv, "--trials", 1, blocked=("optuna",))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0] == (
        "Error: optuna is not installed; install the 'tune' extra: pip install 'latentrec[tune]'"
    ), lines
    assert out == "", out  # no "tuning ..." line announcing a search that cannot start


# A reader that stops reading
@pytest.mark.parametrize("command", ["data-info", "similar"])
def test_a_closed_pipe_ends_the_command_quietly(trained, command):
    csv, model, _, _ = trained
    args = ["data", "info", csv] if command == "data-info" else ["similar", model, "-i", 100]
    proc = latentrec_process(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The reader closes before the command writes a line (as `| head -1` does after one):
    # every write then meets a broken pipe.
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.wait(timeout=300)
    said = [x for x in stderr.splitlines() if x != COMPILE_MESSAGE]
    assert said == [], stderr
    assert proc.returncode != 0


# Netflix-prize files without pyarrow
NETFLIX_LINE = (
    "Error: reading Netflix-prize files (nf.txt) needs pyarrow: pip install 'latentrec[parquet]'"
)


def test_netflix_files_without_pyarrow_name_the_extra(tmp_path, trained):
    (tmp_path / "nf.txt").write_text("1:\n7,3,2005-09-06\n8,4,2005-09-07\n2:\n7,5,2005-01-01\n")
    for args in (["data", "info", "nf.txt"], ["train", "nf.txt", "-q", "-o", "nf.npz"]):
        code, _, lines = run_process(*args, blocked=("pyarrow",), cwd=tmp_path)
        assert (code, lines) == (1, [NETFLIX_LINE])
    csv = trained[0]
    code, _, lines = run_process("data", "info", csv, "--format", "netflix", blocked=("pyarrow",))
    assert code == 1 and len(lines) == 1, lines
    assert f"{csv} is not a Netflix-prize file" in lines[0]


# Converting data that has side tables
def test_convert_writes_the_ratings_and_says_the_side_tables_were_not(tmp_path):
    target = tmp_path / "c.lrdata"
    out = invoke("data", "convert", "ml-100k", "-o", target)
    assert out.exit_code == 0, out.output
    warning = [x for x in out.stderr.splitlines() if x.startswith("warning:")]
    assert len(warning) == 1 and "item features" in warning[0] and "not written" in warning[0]
    assert Interactions.read(target).nnz == 100_000


def test_data_fetch_help_lists_the_dataset_names():
    fetch = invoke("data", "fetch", "--help").output
    assert "100k" in fetch and "latest-small" in fetch
