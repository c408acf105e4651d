"""The examples of docs/scaling.md, docs/architecture.md and docs/benchmarks.md work as a
reader copies them, and every fenced block of docs/*.md is run somewhere or listed here with
the reason it is not.

``LEDGER`` says, for each block, which test runs it (here or in tests/test_doc_examples.py,
which replays docs/pipeline.md and docs/service.md) or why no test can. A new block that no
entry covers fails ``test_every_doc_block_is_run_or_listed``, so none is skipped silently.

What the reader brings is made here, small: the ``ratings.parquet`` and ``plays.parquet``
of docs/scaling.md's Spark example, a ``ratings.csv`` for ``latentrec data convert``. The
benchmarks take minutes to hours, so their command lines are parsed by the scripts' own
argument parsers (``--help`` appended) rather than run.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# The Spark tests' own check of whether Spark can run here (tests/spark is not a package:
# pytest puts that folder on sys.path for its tests, and this module does the same).
sys.path.insert(0, str(Path(__file__).resolve().parent / "spark"))
from spark_support import spark_missing  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli the package depends on there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
EXE = shutil.which("latentrec", path=str(Path(sys.executable).parent))
THERE = "tests/test_doc_examples.py runs it"

# (page, language, a phrase of the block or None for every block, who runs it or why not).
# A block takes the first entry of its page and language whose phrase it contains.
LEDGER = [
    ("pipeline.md", "python", None, THERE),
    ("pipeline.md", "toml", None, THERE),
    ("pipeline.md", "sh", None, THERE),
    ("service.md", "python", None, THERE),
    ("service.md", "console", None, THERE),
    ("service.md", "", "CURRENT", "not a command: the layout of a model directory"),
    (
        "service.md",
        "",
        "latentrec serve",
        "not run: servers that run until stopped, the second on the reader's PostgreSQL "
        "server; tests/service starts `latentrec serve` (tests/service/serving.py)",
    ),
    (
        "service.md",
        "",
        "curl ",
        "not run: needs a served model with the MovieLens catalogue (calibrate needs genres); "
        "tests/service/test_knobs.py asks the same route",
    ),
    ("scaling.md", "python", "latentrec.spark", "test_scaling_spark_example_runs_as_written"),
    ("scaling.md", "sh", "--engine spark", "test_scaling_spark_command_lines_run_as_written"),
    ("scaling.md", "sh", "benchmarks/", "test_benchmark_command_lines_parse"),
    (
        "scaling.md",
        "sh",
        "spark-submit",
        "not run: a Spark cluster (spark://10.0.0.5:7077), package downloads and the "
        "reader's train_job.py; test_pip_extras_exist checks the extra it installs",
    ),
    ("scaling.md", "", "benchmarks/scale.py", "test_benchmark_command_lines_parse"),
    ("architecture.md", "", "── floor", "test_architecture_layers_are_the_import_contracts"),
    ("architecture.md", "", "FactorModel:", "test_architecture_layers_are_the_import_contracts"),
    ("benchmarks.md", "sh", "benchmarks/", "test_benchmark_command_lines_parse"),
]


def fences(page: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block of ``docs/<page>``, in order."""
    return FENCE.findall((DOCS / page).read_text(encoding="utf-8"))


def blocks(page: str, language: str, phrase: str | None = None) -> list[str]:
    return [
        code
        for lang, code in fences(page)
        if lang == language and (phrase is None or phrase in code)
    ]


def entry(page: str, language: str, code: str):
    for rule in LEDGER:
        if rule[:2] == (page, language) and (rule[2] is None or rule[2] in code):
            return rule
    return None


def test_every_doc_block_is_run_or_listed():
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    unlisted = [
        f"{page}: ```{language}\n{code[:200]}"
        for page in pages
        for language, code in fences(page)
        if entry(page, language, code) is None
    ]
    assert unlisted == [], "add these blocks to LEDGER:\n" + "\n".join(unlisted)
    # No entry outlives its block.
    used = {entry(page, lang, code) for page in pages for lang, code in fences(page)}
    assert [rule for rule in LEDGER if rule not in used] == []


# --- docs/benchmarks.md and docs/scaling.md: the benchmark command lines -----------------

BENCH = re.compile(r"benchmarks/(\w+\.py)((?:\s+[^\s#`]+)*)")


def benchmark_lines() -> list[tuple[str, str, list[str]]]:
    """(page, the line, its arguments) for every benchmark a reader is told to run: in
    fenced blocks, whole lines; in the prose, the `benchmarks/x.py ...` spans, whose
    ``[--flag]`` means "optionally" and is read as the flag."""
    found = []
    for doc in sorted(DOCS.glob("*.md")):
        page, text = doc.name, doc.read_text(encoding="utf-8")
        for _, code in FENCE.findall(text):
            for line in code.splitlines():
                if line.startswith(".venv/bin/python benchmarks/"):
                    args = shlex.split(line, comments=True)[1:]
                    found.append((page, line, args))
        prose = FENCE.sub("", text)
        for span in re.findall(r"`([^`]*benchmarks/\w+\.py[^`]*)`", prose):
            match = BENCH.search(span)
            if match:
                args = [
                    f"benchmarks/{match[1]}",
                    *match[2].replace("[", "").replace("]", "").split(),
                ]
                found.append((page, span, args))
    return found


def test_the_docs_name_their_benchmarks():
    scripts = {args[0] for _, _, args in benchmark_lines()}
    assert len(scripts) >= 15, scripts


# Every command line in one child interpreter: a fresh one per line cost 45 starts, each
# importing numpy, pandas and latentrec (about 25 s of CPU) to print a help text.  Each
# script still runs as ``__main__`` in its own namespace, with its own folder first on
# sys.path, as ``python benchmarks/x.py`` runs it; the child keeps the test process's
# environment free of what the scripts set (OPENBLAS_NUM_THREADS).
PARSE_CHILD = """
import contextlib, io, json, runpy, sys, traceback
out = []
for args in json.loads(sys.argv[1]):
    saved = sys.argv[:], sys.path[:]
    sys.argv = [args[0], *args[1:], "--help"]
    sys.path.insert(0, "benchmarks")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            runpy.run_path(args[0], run_name="__main__")
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else int(done.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
    sys.argv, sys.path[:] = saved
    out.append([code, stdout.getvalue(), stderr.getvalue()])
print(json.dumps(out))
"""


def test_benchmark_command_lines_parse():
    """Each script exists and its parser takes the arguments as written: ``--help`` last,
    so a bad choice or number fails the parse and nothing runs; every option written
    must be one its help lists (a misspelt one would otherwise only fail after --help)."""
    lines = benchmark_lines()
    bracketed = [line for _, line, args in lines if any(a.startswith("[") for a in args)]
    assert bracketed == [], f"a shell takes [--flag] literally: {bracketed}"
    missing = [args[0] for _, _, args in lines if not (ROOT / args[0]).is_file()]
    assert missing == []

    assert parse_failures(sorted({tuple(args) for _, _, args in lines})) == []


def parse_failures(unique: list[tuple[str, ...]]) -> list[str]:
    """What is wrong with each command line (script and arguments) that its script's
    parser refuses, or whose options its ``--help`` does not list."""
    child = subprocess.run(
        [sys.executable, "-c", PARSE_CHILD, json.dumps(unique)], cwd=ROOT, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-3000:]
    done = dict(zip(unique, json.loads(child.stdout.splitlines()[-1]), strict=True))
    bad = []
    for args, (code, stdout, stderr) in done.items():
        options = [a.split("=")[0] for a in args[1:] if a.startswith("-")]
        unknown = [o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}\b", stdout)]
        if code != 0 or unknown:
            bad.append(f"{' '.join(args)}: rc {code}, unknown {unknown}\n{stderr}")
    return bad


def test_a_benchmark_line_its_parser_refuses_is_reported():
    """The one-interpreter parse still sees a bad value, an option the help does not list,
    and a script that cannot run, each as its own line."""
    bad = parse_failures(
        [("benchmarks/scale.py", "--size", "huge"), ("benchmarks/scale.py", "--siz", "1e7"),
         ("benchmarks/topk_scale.py", "--scale", "10m"), ("benchmarks/_broken.py",)]
    )  # fmt: skip
    assert [line.split(":")[0] for line in bad] == [
        "benchmarks/scale.py --size huge", "benchmarks/scale.py --siz 1e7",
        "benchmarks/_broken.py",
    ]  # fmt: skip


def test_pip_extras_exist():
    """The extras that docs/scaling.md's install lines name are in pyproject.toml."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = set(re.findall(r"pip install [^\n]*?\[(\w+)\]", (DOCS / "scaling.md").read_text()))
    assert named == {"bench", "spark"}
    assert named <= set(extras["optional-dependencies"])
    assert (ROOT / "constraints.txt").is_file()  # `-c constraints.txt`


# --- docs/architecture.md -----------------------------------------------------------------


def diagram_layers(code: str) -> list[set[str]]:
    """The floors of a layer diagram, top first: the names in the first column of each
    line indented by two spaces (deeper lines continue a description); ``a → b`` is two."""
    floors = []
    for line in code.splitlines():
        if not re.match(r"^  \S", line):
            continue
        names = re.split(r"\s{2,}", line.strip())[0]
        for part in names.split("→"):
            floors.append({re.sub(r"(/|\.py)$", "", n) for n in part.split()})
    return floors


def contract_layers(container: str | None) -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["type"] == "layers" and c.get("containers", [None]) == [container]
    ]
    return [
        {n.strip().removeprefix("latentrec.") for n in re.split(r"[|:]", layer)}
        for layer in contract["layers"]
    ]


def test_architecture_layers_are_the_import_contracts():
    (package,) = blocks("architecture.md", "", "── floor")
    assert diagram_layers(package) == contract_layers(None)
    (models,) = blocks("architecture.md", "", "FactorModel:")
    assert diagram_layers(models) == contract_layers("latentrec.models")


def test_architecture_module_table_names_modules_that_exist():
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("## What each module owns") : text.index("## Fitted state")]
    paths = [
        path
        for row in table.splitlines()
        if row.startswith("| `")
        for path in re.findall(r"`([\w/]+(?:/|\.py))`", row.split("|")[1])
    ]
    assert len(paths) >= 25, paths
    package = ROOT / "src" / "latentrec"
    assert [p for p in paths if not (package / p).exists()] == []


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped,
    spaces as hyphens (fenced blocks skipped: a ``#`` comment there is no heading)."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_links_between_the_docs_resolve():
    """Every relative link of README.md and docs/*.md names a file that exists and, with a
    ``#fragment``, a heading of that page: a renamed section leaves no dead link."""
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    dead = []
    for page in pages:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                dead.append(f"{page.name}: {target} (no such file)")
            elif fragment and linked.suffix == ".md" and fragment not in heading_anchors(linked):
                dead.append(f"{page.name}: {target} (no such heading)")
    assert len(pages) >= 6
    assert dead == []


def test_every_page_on_numbas_cache_names_each_place_it_can_be():
    """Where a page says where the compiled kernels are kept, it names every place
    ``ensure_numba_cache`` can leave them: one page said "under the package, or under
    NUMBA_CACHE_DIR when the package folder is read-only" after the fallbacks came."""
    kernels = (ROOT / "src" / "latentrec" / "kernels" / "__init__.py").read_text("utf-8")
    assert 'f"latentrec-numba-{uid}"' in kernels
    places = ["~/.cache/numba", "latentrec-numba-<uid>", "NUMBA_CACHE_DIR"]
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    incomplete = {
        page.name: [p for p in places if p not in " ".join(page.read_text("utf-8").split())]
        for page in pages
        if "NUMBA_CACHE_DIR" in page.read_text("utf-8")
    }
    assert "README.md" in incomplete
    assert {name: gaps for name, gaps in incomplete.items() if gaps} == {}


# --- docs/scaling.md ------------------------------------------------------------------------


@pytest.mark.skipif(EXE is None, reason="the latentrec command is not installed")
def test_scaling_lrdata_convert_runs_as_written(tmp_path):
    """`latentrec data convert ratings.csv -o ratings.lrdata`, then
    `Interactions.read("ratings.lrdata")`: the same table as the CSV, memory-mapped."""
    from latentrec import Interactions

    text = (DOCS / "scaling.md").read_text(encoding="utf-8")
    (command,) = set(re.findall(r"`(latentrec data convert [^`]*)`", text))
    assert 'Interactions.read("ratings.lrdata")' in text
    rng = np.random.default_rng(0)
    cells = np.unique(rng.integers(0, [50, 30], size=(300, 2)), axis=0)
    pd.DataFrame(
        {"user_id": cells[:, 0], "item_id": cells[:, 1], "rating": rng.integers(1, 6, len(cells))}
    ).to_csv(tmp_path / "ratings.csv", index=False)
    done = subprocess.run(
        [EXE, *shlex.split(command)[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    converted = Interactions.read(tmp_path / "ratings.lrdata")
    original = Interactions.read(tmp_path / "ratings.csv")
    assert (converted.matrix != original.matrix).nnz == 0
    assert converted.users.ids.tolist() == original.users.ids.tolist()


# One child process, as a reader's session: the Python block (if any) and then the command
# lines through the CLI (a command's spark.stop() then ends no session but its own).
SPARK_CHILD = """
import json, shlex, sys, warnings
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
block, lines = json.loads(sys.argv[1])
out = {}
if block:
    names = {}
    exec(compile(block, "scaling.md", "exec"), names)
    out = {"user_42_top": names["model"].recommend(42, n=10).ids.tolist(),
           "top_rows": names["top"].count(),
           "imported_users": len(names["imported"].catalog_.users)}
from click.testing import CliRunner
from latentrec.cli import main
for line in lines:
    result = CliRunner().invoke(main, shlex.split(line)[1:])
    out[line] = [result.exit_code, result.output[-2000:]]
print(json.dumps(out))
"""

NO_SPARK = spark_missing()


def the_readers_spark_files(folder: Path) -> pd.DataFrame:
    """``ratings.parquet`` (stars) and ``plays.parquet`` (play counts) with the example's
    columns ``user``, ``item``, ``rating`` and integer ids, as pyspark.ml's ALS needs."""
    rng = np.random.default_rng(0)
    cells = np.unique(rng.integers(0, [60, 40], size=(600, 2)), axis=0)
    frame = pd.DataFrame({"user": cells[:, 0], "item": cells[:, 1]})
    stars = rng.integers(1, 6, len(cells)).astype(np.float32)
    frame.assign(rating=stars).to_parquet(folder / "ratings.parquet")
    plays = rng.integers(1, 20, len(cells)).astype(np.float32)
    frame.assign(rating=plays).to_parquet(folder / "plays.parquet")
    return frame


def run_spark_child(folder: Path, block: str, lines: list[str]) -> dict:
    child = subprocess.run(
        [sys.executable, "-c", SPARK_CHILD, json.dumps([block, lines])],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
    )
    assert child.returncode == 0, child.stderr[-3000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # its own Spark session in a child: about 30 s of the default suite's 15 min
@pytest.mark.spark
@pytest.mark.skipif(NO_SPARK is not None, reason=f"Spark cannot run: {NO_SPARK}")
def test_scaling_spark_example_runs_as_written(tmp_path):
    """The Python block of docs/scaling.md, run as written (``make test-all``).

    Each call it makes is checked in the default suite on the shared session:
    ``fit_als`` explicit and implicit and ``from_spark_als`` in tests/spark/test_spark_als.py,
    ``recommend_all`` (no seen item, the same lists as ``recommend``) in
    tests/spark/test_spark_interop.py.
    """
    (block,) = blocks("scaling.md", "python", "latentrec.spark")
    frame = the_readers_spark_files(tmp_path)
    out = run_spark_child(tmp_path, block, [])
    # What its comments say: user 42's list holds no item they rated; 60 users x 10 rows.
    rated = set(frame.loc[frame["user"] == 42, "item"])
    assert len(out["user_42_top"]) == 10 and not rated & set(out["user_42_top"])
    assert out["top_rows"] == 60 * 10
    assert out["imported_users"] == 60
    assert (tmp_path / "model.npz").stat().st_size > 0
    assert (tmp_path / "top10.parquet").exists()


@pytest.mark.slow  # a Spark session and two fits of 10 iterations: about 30 s more
@pytest.mark.spark
@pytest.mark.skipif(NO_SPARK is not None, reason=f"Spark cannot run: {NO_SPARK}")
def test_scaling_spark_command_lines_run_as_written(tmp_path):
    # Two blocks: MovieLens' own rating files, then the reader's Parquet files. The last
    # line names a cluster (spark://10.0.0.5:7077); here it runs on local[2].
    movielens, parquet = blocks("scaling.md", "sh", "--engine spark")
    assert "ml-1m/ratings.dat" in movielens and "ratings.parquet" in parquet
    lines = [
        line.replace("spark://10.0.0.5:7077", "local[2]")
        for line in (movielens + parquet).replace("\\\n", " ").splitlines()
        if line.startswith("latentrec ")
    ]
    assert len(lines) == 4
    the_readers_spark_files(tmp_path)
    the_readers_movielens_files(tmp_path)
    out = run_spark_child(tmp_path, "", lines)
    for line in lines:
        assert out[line][0] == 0, f"{line}\n{out[line][1]}"
    for name in ("model.npz", "plays.npz"):
        assert (tmp_path / name).stat().st_size > 0, name


def the_readers_movielens_files(folder: Path) -> None:
    """Small files in the layout GroupLens ships: ``ml-1m/ratings.dat``
    (``user::item::rating::timestamp``) and ``ml-100k/u.data`` (the same, tab-separated),
    both without a header."""
    rng = np.random.default_rng(1)
    cells = np.unique(rng.integers(1, [61, 41], size=(600, 2)), axis=0)
    stars = rng.integers(1, 6, len(cells))
    rows = [(*cells[n], stars[n], 978300760 + n) for n in range(len(cells))]
    for path, sep in (("ml-1m/ratings.dat", "::"), ("ml-100k/u.data", "\t")):
        (folder / path).parent.mkdir()
        text = "".join(sep.join(map(str, row)) + "\n" for row in rows)
        (folder / path).write_text(text, encoding="utf-8")
