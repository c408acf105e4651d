"""The README's Python examples run as written, each in a fresh interpreter; its command
lines run as written too, one after the other in one folder, as a reader types them (each
in a process forked from one that has run the ``latentrec`` script's imports:
``run_command_lines``, ``tests/cli_forks.py``).

A fresh interpreter matters: inside the test process other tests have imported
``latentrec.datasets`` already, which would hide a missing ``import`` in the package
(issue 10: ``latentrec.datasets.movielens`` raised AttributeError after ``import latentrec``).
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_forks import latentrec

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def run_command_lines(lines: list[str], cwd: Path) -> list[tuple[str, int, str, str]]:
    """Run documented ``latentrec ...`` lines (comments dropped) one after another in
    ``cwd``, each as the installed ``latentrec`` runs it (forked from one process that has
    run its imports: ``tests/cli_forks.py``); ``(line, exit code, stdout, stderr)`` for
    each, up to and with the first that fails (the lines after it may need what it was
    to make).

    Example:
        >>> lines = ["latentrec --version", "latentrec similar nope.npz --item 1", "latentrec"]
        >>> for line, code, out, err in run_command_lines(lines, Path(".")):
        ...     print(code, repr(out[:18]), repr(err[:24]))
        0 'latentrec, version' ''
        1 '' 'Error: no model file at '
    """
    runs = [shlex.split(line, comments=True) for line in lines]
    assert all(args[0] == "latentrec" for args in runs), lines
    results = []
    for line, args in zip(lines, runs, strict=True):
        done = latentrec(*args[1:], cwd=cwd, timeout=1200)
        results.append((line, done.returncode, done.stdout, done.stderr))
        if done.returncode != 0:
            break
    return results


def python_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def cases() -> list:
    # MovieLens comes from the cache, or from the package index the first time.
    return [
        pytest.param(
            code,
            id=f"block{number}",
            marks=[pytest.mark.network] if "movielens(" in code else [],
        )
        for number, code in enumerate(python_blocks(), start=1)
    ]


def test_the_readme_has_python_examples():
    assert python_blocks(), "no ```python block in README.md"


# ``expr  # {'rmse': 0.89..., 'mae': 0.70..., ...}``: a result the README shows, by prefix.
SHOWN = re.compile(r"^(?P<expr>\S.*?)\s+# \{(?P<shown>'\w+': [-\d.]+\.\.\..*)\}\s*$")
FIGURE = re.compile(r"'(\w+)': ([-\d.]+?)\.\.\.")


def checked(code: str) -> str:
    """``code`` with each figure its comments show asserted: the value, printed in full,
    must start with the digits shown.

    Example:
        >>> print(checked("f()  # {'rmse': 0.89..., ...}"))
        _shown = f()
        assert str(_shown['rmse']).startswith('0.89'), ('rmse', _shown['rmse'], '0.89')
    """
    out = []
    for line in code.splitlines():
        m = SHOWN.match(line)
        if m is None:
            out.append(line)
            continue
        out.append(f"_shown = {m['expr']}")
        for name, digits in FIGURE.findall(m["shown"]):
            out.append(
                f"assert str(_shown[{name!r}]).startswith({digits!r}), "
                f"({name!r}, _shown[{name!r}], {digits!r})"
            )
    return "\n".join(out)


def test_the_readme_shows_figures_that_are_checked():
    """The notebook block's accuracy comment is one (it once said 0.91 for 0.897)."""
    assert any(SHOWN.match(line) for code in python_blocks() for line in code.splitlines())


@pytest.mark.parametrize("code", cases())
def test_readme_block_runs_as_written(code, tmp_path):
    # Its own folder: the examples write files (model.npz) where they run.
    done = subprocess.run(
        [sys.executable, "-c", checked(code)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"README example failed:\n{code}\n{done.stderr[-3000:]}"


def command_lines() -> list[str]:
    """Every ``latentrec ...`` line of the README's shell blocks, in order."""
    text = README.read_text(encoding="utf-8")
    return [
        line.strip()
        for language, block in FENCE.findall(text)
        if language == "sh"
        for line in block.splitlines()
        if line.strip().startswith("latentrec ")
    ]


def the_readers_files(folder: Path) -> None:
    """The two files of the reader's own that the README trains on: ``ratings.csv`` with
    its own column names and ``plays.tsv`` without a header or ratings."""
    rng = np.random.default_rng(0)
    cells = np.unique(rng.integers(0, [40, 60], size=(400, 2)), axis=0)
    pd.DataFrame(
        {
            "uid": [f"u{u}" for u in cells[:, 0]],
            "iid": [f"i{i}" for i in cells[:, 1]],
            "rating": rng.integers(1, 6, len(cells)),
        }
    ).to_csv(folder / "ratings.csv", index=False)
    pd.DataFrame(cells).to_csv(folder / "plays.tsv", sep="\t", header=False, index=False)


def test_the_readme_shows_the_command_line():
    lines = command_lines()
    assert len(lines) >= 10, lines


@pytest.mark.network
def test_readme_command_lines_run_as_written(tmp_path):
    the_readers_files(tmp_path)
    lines = command_lines()
    ran = run_command_lines(lines, tmp_path)
    out = {}
    for line, code, stdout, stderr in ran:
        assert code == 0, f"{line}\n{stdout[-2000:]}{stderr[-2000:]}"
        out[line.split("#")[0].strip()] = stdout
    assert len(ran) == len(lines)
    # What the lines say they make, they made.
    for name in ("model.npz", "mine.npz", "plays.npz", "tuned.npz", "taste.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    recs = pd.read_parquet(tmp_path / "recs.parquet")
    assert recs["user_id"].nunique() == 943 and len(recs) == 943 * 10
    table = out["latentrec recommend model.npz --user 1 -n 10"].splitlines()
    assert table[0].split()[:2] == ["rank", "item_id"] and len(table) == 11
    assert "fold 5/5" in out["latentrec evaluate ml-100k --cv 5"]
    assert re.search(r"version \d+\.\d+", out["latentrec --version"])


def commands_with_data_options(option: str = "--user-col") -> set[str]:
    """Every command (``data info`` for a group's) whose ``--help`` shows ``option``."""
    import click
    from click.testing import CliRunner

    from latentrec.cli import main

    found = set()

    def walk(command, path):
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        help_text = CliRunner().invoke(main, [*path, "--help"]).output
        if option in help_text:
            found.add(" ".join(path))

    walk(main, [])
    return found


def test_the_data_options_sentence_names_every_command_that_takes_them():
    """The README says which commands take the shared data options; a command that gains
    them (``data convert``, ``store import``, ``recommend --data``) must be named there."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    sentence = re.search(r"Every command that reads ratings \((.*?)\) takes the same", text)
    assert sentence, "the README's data-options sentence is gone"
    named = set(re.findall(r"`([a-z -]+)`", sentence.group(1)))
    assert commands_with_data_options() - named == set()


def test_the_layout_line_names_every_subpackage():
    text = README.read_text(encoding="utf-8")
    layout = re.search(r"`src/latentrec/\{([a-z,]+)\}`", text)
    assert layout, "the README's layout line is gone"
    package = README.parent / "src" / "latentrec"
    subpackages = {p.parent.name for p in package.glob("*/__init__.py")}
    assert subpackages - set(layout.group(1).split(",")) == set()


def test_the_quick_start_names_every_file_the_demo_writes():
    """``make demo`` writes into ``out/``; the README's quick start says what lands there."""
    demo = (README.parent / "src" / "latentrec" / "demo.py").read_text(encoding="utf-8")
    code = "\n".join(line for line in demo.splitlines() if ">>>" not in line)  # not doctests
    written = set(re.findall(r'\bout / "([\w.]+)"', code))
    assert {"biased_mf_ml100k.npz", "ratings.db"} <= written, written
    quick_start = README.read_text(encoding="utf-8").split("## In a notebook")[0]
    assert {name for name in written if f"`out/{name}`" not in quick_start} == set()


def test_every_command_is_shown_somewhere():
    """A newcomer finds each command in README.md or docs/*.md as ``latentrec <command>``
    (``onboard`` and ``store info`` were in ``--help`` alone)."""
    pages = [README, *sorted((README.parent / "docs").glob("*.md"))]
    text = " ".join(" ".join(page.read_text(encoding="utf-8").split()) for page in pages)
    commands = all_commands()
    assert {"onboard", "store info", "models rollback"} <= commands
    assert {c for c in commands if f"latentrec {c}" not in text} == set()


def all_commands() -> set[str]:
    """Every command the ``latentrec`` group runs, a group's as ``group command``."""
    import click

    from latentrec.cli import main

    def walk(command, path):
        if isinstance(command, click.Group):
            return {c for n, sub in command.commands.items() for c in walk(sub, [*path, n])}
        return {" ".join(path)}

    return walk(main, [])


def test_the_param_sentence_names_every_command_that_takes_it():
    """``--param NAME=VALUE`` is how a reader sets a hyperparameter without its own
    option; the README names the commands that take it."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    sentence = re.search(
        r"popularity\. (.*?) any other hyperparameter as `--param NAME=VALUE`", text
    )
    assert sentence, "the README's --param sentence is gone"
    named = set(re.findall(r"`([a-z -]+)`", sentence.group(1)))
    assert {"train", "retrain"} <= commands_with_data_options("--param")
    assert commands_with_data_options("--param") - named == set()


def figures(text: str) -> list[str]:
    """The decimal figures of ``text`` as written (``0.451``, ``17.6``), thousands
    separators and the ``MovieLens-100K`` kind of name left out.

    Example:
        >>> figures("RMSE 0.893, 1,501 ratings, numba 0.68.1, 17.6× in 2.7–10 s")
        ['0.893', '17.6', '2.7']
    """
    return re.findall(r"(?<![\w.,-])(\d+\.\d+)(?![\w.]*\d)", text)


def rounds_to(shown: str, measured: set[str]) -> bool:
    """Whether a figure ``measured`` somewhere, rounded to the digits ``shown`` has, is it.

    Example:
        >>> rounds_to("0.354", {"0.3543", "1.2"}), rounds_to("0.355", {"0.3543"})
        (True, False)
    """
    from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

    places = Decimal(shown)
    return any(
        len(m.split(".")[1]) >= len(shown.split(".")[1])
        and places
        in {Decimal(m).quantize(places, rounding=r) for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)}
        for m in measured
    )


def test_the_readme_highlights_are_figures_of_the_benchmarks_page():
    """Every figure of the README's "Accuracy and speed" is one of docs/benchmarks.md's,
    rounded: the page names the command and the run behind each (the README once kept
    implicit's ALS at 0.355 after a rerun there had printed 0.3543)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Accuracy and speed")[1].split("\n## ")[0]
    shown = figures(section)
    assert len(shown) >= 15, shown
    page = (README.parent / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    measured = set(figures(page))
    assert [figure for figure in shown if not rounds_to(figure, measured)] == []


def test_the_wheel_the_readme_installs_is_the_one_the_build_writes():
    """``pip install ... 'dist/latentrec-X-py3-none-any.whl[...]'`` names this version's
    wheel, the file ``pip wheel -w dist .`` leaves (a version bump must not leave the
    install line naming a file no build makes)."""
    from latentrec import __version__

    named = re.findall(r"dist/(latentrec-[^\s`'\[]+\.whl)", README.read_text(encoding="utf-8"))
    assert named == [f"latentrec-{__version__}-py3-none-any.whl"]
