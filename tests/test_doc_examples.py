"""The examples of docs/pipeline.md and docs/service.md run as written and say what they show.

Like tests/test_readme.py, each Python example runs in a fresh interpreter, so a missing
``import`` in a block is caught. Blocks that continue an earlier one (docs/pipeline.md's
second block refits the models of its first) run after it in the same interpreter, as a
reader runs them in one session. docs/pipeline.md's command lines run on the files its
examples write. docs/service.md's retraining session is replayed command by command,
each as the installed ``latentrec`` runs it, and its output compared with the doc's, with
only what changes between runs masked (clock times and durations): the session fits under
numba's parallel threshold, so its figures are the same on every run.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_readme import run_command_lines

DOCS = Path(__file__).resolve().parents[1] / "docs"
PIPELINE = DOCS / "pipeline.md"
SERVICE = DOCS / "service.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
EXE = shutil.which("latentrec", path=str(Path(sys.executable).parent))


def blocks(doc: Path, language: str) -> list[str]:
    """The fenced blocks of ``doc`` in ``language``, in the order they appear."""
    return [
        code for lang, code in FENCE.findall(doc.read_text(encoding="utf-8")) if lang == language
    ]


def service_block(phrase: str) -> str:
    """The one Python block of docs/service.md that holds ``phrase``."""
    (code,) = [code for code in blocks(SERVICE, "python") if phrase in code]
    return code


def run_python(code: str, cwd: Path) -> str:
    """Run ``code`` in a fresh interpreter in ``cwd``; what it printed."""
    # A subprocess, so the test process's imports cannot hide a missing one in the block.
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"example failed:\n{code}\n{done.stderr[-3000:]}"
    return done.stdout


def latentrec_commands(lines: list[str], cwd: Path) -> list[str]:
    """Run documented ``latentrec ...`` lines (comments dropped) in order, each as the
    installed command runs it (tests/test_readme.py's ``run_command_lines``); the standard
    output of each.  The first that fails fails the test with what it wrote."""
    ran = run_command_lines(lines, cwd)
    for line, code, stdout, stderr in ran:
        assert code == 0, f"{line}\n{stdout}{stderr}"
    assert len(ran) == len(lines)
    return [stdout for _, _, stdout, _ in ran]


def test_the_docs_have_the_examples_this_file_runs():
    assert len(blocks(PIPELINE, "python")) >= 2
    assert len(blocks(PIPELINE, "toml")) == 1
    assert len(blocks(SERVICE, "python")) == 3
    assert any(line.startswith("$ ") for b in blocks(SERVICE, "console") for line in b.splitlines())


@pytest.mark.network
@pytest.mark.skipif(EXE is None, reason="the latentrec command is not installed")
def test_pipeline_examples_run_as_written(tmp_path):
    # The second block uses the first one's `train` and `pipe`: one reader's session.
    run_python("\n".join(blocks(PIPELINE, "python")), tmp_path)

    import latentrec
    from latentrec.pipeline import Pipeline

    # "one archive": the file the first block saves opens as a pipeline again.
    assert isinstance(latentrec.load(tmp_path / "pipeline.npz"), Pipeline)

    # Its command lines, on what they name: a model of ml-100k, the pipeline saved above and
    # the rules file of the section before (docs/pipeline.md's `--rules` line once failed
    # without `--data`, since its max_per rule needs genres).
    (tmp_path / "rules.toml").write_text(blocks(PIPELINE, "toml")[0], encoding="utf-8")
    (commands,) = blocks(PIPELINE, "sh")
    lines = [line for line in commands.splitlines() if line.strip()]
    latentrec_commands(["latentrec train ml-100k -o model.npz", *lines], tmp_path)
    assert (tmp_path / "tradeoff.png").stat().st_size > 0


def test_pipeline_rules_file_reads_as_its_comments_say(tmp_path):
    from latentrec.pipeline import Rules

    (toml,) = blocks(PIPELINE, "toml")
    # The doc calls it rules.toml and reads it with Rules.from_toml("rules.toml").
    (tmp_path / "rules.toml").write_text(toml, encoding="utf-8")
    rules = Rules.from_toml(tmp_path / "rules.toml")
    assert rules.never == [1, 2]
    assert rules.bury == [50]
    assert rules.pin == {"181": 1}
    assert rules.boost == {"100": 0.2}
    assert rules.max_per == {"genres": 3}


def normalise(text: str) -> list[str]:
    """Lines with what differs between runs masked and runs of spaces (table padding) made one."""
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<time>", text)  # models list's `created`
    text = re.sub(r" in \d+(\.\d+)?s\b", " in <s>", text)  # store import's duration
    return [" ".join(line.split()) for line in text.strip().splitlines() if line.strip()]


def session() -> list[tuple[str, str]]:
    """(command, the output the doc shows for it) for every ``$`` line of service.md."""
    steps = []
    for block in blocks(SERVICE, "console"):
        command, output = None, []
        for line in block.splitlines() + ["$ "]:
            if line.startswith("$ "):
                if command:
                    steps.append((command, "\n".join(output)))
                command, output = line[2:].strip(), []
            else:
                output.append(line)
    return steps


@pytest.mark.network
@pytest.mark.skipif(EXE is None, reason="the latentrec command is not installed")
def test_service_retraining_session_prints_what_the_doc_shows(tmp_path):
    setup, from_python = service_block("old.csv"), service_block("ModelDirectory(")
    run_python(setup, tmp_path)  # writes old.csv, as the doc says before the session
    steps = session()
    assert [c.split()[1] for c, _ in steps][:3] == ["store", "train", "models"]
    printed = latentrec_commands([command for command, _ in steps], tmp_path)
    for (command, shown), stdout in zip(steps, printed, strict=True):
        assert normalise(stdout) == normalise(shown), command

    # The Python route over the same folder: after the rollback above it retrains against
    # the version rolled back to and publishes the next one (the doc shows no output).
    run_python(from_python, tmp_path)


@pytest.mark.network
def test_service_leakage_figures_are_what_its_example_prints(tmp_path):
    """The section "Leakage, honestly" quotes two RMSEs (the current model scored on ratings it was
    trained on, and the same recipe on the ratings before the cutoff); its block prints
    them, and its comment and the prose show those digits."""
    code = service_block("temporal_split(data, test_size=0.1)")
    shown = re.findall(r"# ([\d.]+)\.\.\., then ([\d.]+)\.\.\.", code)
    assert len(shown) == 1, code
    printed = [float(line) for line in run_python(code, tmp_path).split()]
    assert [f"{value:.3f}" for value in printed] == list(shown[0])
    prose = " ".join(FENCE.sub("", SERVICE.read_text(encoding="utf-8")).split())
    leakage = prose[prose.index("**Leakage, honestly.**") :][:400]
    assert f"its RMSE is {shown[0][0]}" in leakage and f"scores {shown[0][1]}" in leakage
