"""An output a command cannot write is refused before the command loads or fits anything:
one line naming the path and what is wrong, exit 1.

Each command's first long step (reading the ratings, loading the model, the demo's tour)
is replaced by a spy that records the call and then does the real work, so a refusal that
came only after that work shows as a recorded call.  No timing is measured.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from conftest import AS_ROOT, UNPRIVILEGED, can_drop_privileges, cli_ratings_frame

from latentrec.cli import data as data_cli
from latentrec.cli import demo as demo_cli
from latentrec.cli import insight, main, onboard, recommend, train, tune
from latentrec.cli._common import COMPILE_MESSAGE

# Running as root, permission bits do not bind: a read-only folder is writable.

# id -> (arguments before -o, the file name written, spied (module, name) pairs, whether the
# writer creates missing folders as mkdir -p does).  {csv} and {model} are filled in.
COMMANDS = {
    "train": (["train", "{csv}", "--epochs", 1, "-q"], "m.npz", [(train, "load_data")], True),
    "tune": (
        ["tune", "{csv}", "--trials", 1, "--space", '{"n_epochs": ["int", 1, 2]}'],
        "best.npz",
        [(tune, "load_data")],
        True,
    ),
    "onboard": (
        ["onboard", "{model}", "--answers", "100=5", "--save-as", 99],
        "m2.npz",
        [(onboard, "load")],
        True,
    ),
    "recommend-all": (["recommend-all", "{model}"], "recs.csv", [(recommend, "load")], True),
    "data-convert": (["data", "convert", "{csv}"], "r.lrdata", [(data_cli, "load_data")], False),
    "plot-ratings": (
        ["plot", "ratings", "--data", "{csv}"],
        "r.png",
        [(insight, "load_data"), (insight, "load")],
        True,
    ),
    "plot-tradeoff": (
        ["plot", "tradeoff", "--data", "{csv}", "-a", "biased-mf"],
        "t.png",
        [(insight, "load_data"), (insight, "load")],
        True,
    ),
    "plot-learning-curves": (
        ["plot", "learning-curves", "--model", "{model}"],
        "c.png",
        [(insight, "load_data"), (insight, "load")],
        True,
    ),
}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_line(out) -> str:
    """The one line a failed command printed (the compile notice aside), checked."""
    assert out.exit_code == 1, out.output
    lines = [x for x in out.stderr.splitlines() if x.strip() and x != COMPILE_MESSAGE]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("Error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("output_checked_early")
    csv = folder / "ratings.csv"
    cli_ratings_frame(times=False).to_csv(csv, index=False)
    model = folder / "model.npz"
    out = invoke("train", csv, "--factors", 3, "--epochs", 3, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    return {"{csv}": csv, "{model}": model}


def spy_on(monkeypatch, targets) -> list:
    """Replace each (module, name) by a wrapper that records its call and runs it."""
    calls = []
    for module, name in targets:
        real = getattr(module, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    return calls


# A child that spies as spy_on does, then runs the CLI: reaching a spied step prints its
# name and exits 99 (the step's work is not needed once it is known to have started).
CHILD = """
import importlib, sys
for spec in sys.argv[1].split(","):
    module, name = spec.split(":")
    def spy(*args, _name=name, **kwargs):
        print("SPIED " + _name, file=sys.stderr)
        sys.exit(99)
    setattr(importlib.import_module(module), name, spy)
from latentrec.cli import main
main(sys.argv[2:], prog_name="latentrec")
"""


def run(inputs, monkeypatch, name, output, child=False):
    """Run command ``name`` with ``-o output``: (its output, the spied calls made); with
    ``child``, in a process of its own run by root without its overriding capabilities."""
    args, _, targets, _ = COMMANDS[name]
    argv = [str(inputs.get(a, a)) for a in args] + ["-o", str(output)]
    if not child:
        calls = spy_on(monkeypatch, targets)
        return invoke(*argv), calls
    spies = ",".join(f"{module.__name__}:{name}" for module, name in targets)
    done = subprocess.run(
        [*UNPRIVILEGED, sys.executable, "-c", CHILD, spies, *argv],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    calls = [x.split()[1] for x in done.stderr.splitlines() if x.startswith("SPIED ")]
    return Ran(done.returncode, done.stderr, done.stdout + done.stderr), calls


class Ran(NamedTuple):
    """A child's outcome, read as CliRunner's result is."""

    exit_code: int
    stderr: str
    output: str


def listing(folder) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refused(inputs, monkeypatch, name, output, problem, folder, child=False) -> None:
    """``name -o output`` fails in one line naming ``output`` and ``problem``, before its
    long step, and leaves ``folder`` as it was (no probe file, no folder made)."""
    before = listing(folder)
    out, calls = run(inputs, monkeypatch, name, output, child)
    line = error_line(out)
    assert f"cannot write {output}: " in line and problem in line, line
    assert calls == [], f"{name} ran {calls} before refusing its output"
    assert listing(folder) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_an_existing_directory_as_the_output_is_refused_first(inputs, monkeypatch, tmp_path, name):
    target = tmp_path / COMMANDS[name][1]  # a folder with the name a file would have
    target.mkdir()
    refused(inputs, monkeypatch, name, target, "it is a directory", tmp_path)


@pytest.mark.parametrize("name", COMMANDS)
def test_a_file_in_the_way_of_the_parent_folder_is_refused_first(
    inputs, monkeypatch, tmp_path, name
):
    (tmp_path / "plain").write_text("not a folder")
    target = tmp_path / "plain" / "sub" / COMMANDS[name][1]
    refused(inputs, monkeypatch, name, target, f"{tmp_path / 'plain'} is not a directory", tmp_path)


@pytest.mark.parametrize("name", [n for n, c in COMMANDS.items() if not c[3]])
def test_a_missing_folder_the_writer_would_not_make_is_refused_first(
    inputs, monkeypatch, tmp_path, name
):
    missing = tmp_path / "missing"
    refused(
        inputs,
        monkeypatch,
        name,
        missing / COMMANDS[name][1],
        f"no such directory {missing}",
        tmp_path,
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_a_read_only_folder_is_refused_first(inputs, monkeypatch, tmp_path, name):
    # As root (CI), in a child without root's overriding capabilities, or root writes.
    child = AS_ROOT
    if child and not can_drop_privileges():
        pytest.skip("root writes into read-only folders, and setpriv cannot drop that")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        target = locked / COMMANDS[name][1]
        problem = f"directory {locked} is not writable"
        refused(inputs, monkeypatch, name, target, problem, tmp_path, child)
        # Below it, a folder that would have to be made there is refused too.
        deeper = locked / "sub" / COMMANDS[name][1]
        problem = f"{locked} is not writable" if COMMANDS[name][3] else "no such directory"
        refused(inputs, monkeypatch, name, deeper, problem, tmp_path, child)
    finally:
        locked.chmod(stat.S_IRWXU)


def test_the_demo_refuses_an_output_folder_it_could_not_write_before_its_tour(
    monkeypatch, tmp_path
):
    calls = spy_on(monkeypatch, [(demo_cli, "run_demo")])
    (tmp_path / "plain").write_text("not a folder")
    target = tmp_path / "plain" / "out"
    line = error_line(invoke("demo", "--output-dir", target))
    assert f"cannot write {target}: {tmp_path / 'plain'} is not a directory" in line, line
    if not AS_ROOT:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            line = error_line(invoke("demo", "--output-dir", locked))
            assert f"cannot write {locked}: directory {locked} is not writable" in line, line
        finally:
            locked.chmod(stat.S_IRWXU)
    assert calls == []


@pytest.mark.parametrize("name", ["train", "recommend-all", "onboard"])
def test_missing_folders_the_writer_makes_are_not_refused(inputs, monkeypatch, tmp_path, name):
    # The early check agrees with the write: model files and exported tables go through
    # an atomic write that creates missing folders (mkdir -p), so these are made, not refused.
    target = tmp_path / "new" / "deeper" / COMMANDS[name][1]
    out, calls = run(inputs, monkeypatch, name, target)
    assert out.exit_code == 0, out.output
    assert calls and target.is_file()


@pytest.mark.parametrize("name", [n for n in COMMANDS if n.startswith("plot-")])
def test_a_picture_name_without_png_or_svg_is_refused_first(inputs, monkeypatch, tmp_path, name):
    output = tmp_path / "picture.pdf"
    refused(inputs, monkeypatch, name, output, "ends in .png or .svg", tmp_path)
