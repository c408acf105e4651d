"""latentrec as a user installs it: an sdist, the wheel built from it, and that wheel installed
outside the repository.

Everything else tests the source tree (``PYTHONPATH=src`` or an editable install), where a
file the wheel leaves out is still found.  Here the build runs as ``python -m build`` runs it
(the sdist first, then the wheel from the unpacked sdist, with the build backend that
``pyproject.toml`` names) on a copy of the working tree in which numba's caches, bytecode, a
model file and converted data lie about, as they do in a used checkout.  The build backend
comes from the package index (``pip install --target``); where it cannot be installed the
tests are skipped and say why.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli the package depends on there
    import tomli as tomllib

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "latentrec"
STATIC = PACKAGE / "service" / "static"

# What a used working tree holds that no distribution may carry: numba's index and data
# files, bytecode, a model file, converted ratings, a ratings store.
LITTER = [
    "src/latentrec/kernels/__pycache__/als.accumulate_gram-24.py311.nbi",
    "src/latentrec/kernels/__pycache__/als.accumulate_gram-24.py311.1.nbc",
    "src/latentrec/kernels/__pycache__/als.cpython-311.pyc",
    "src/latentrec/model.npz",
    "src/latentrec/service/static/ratings.lrdata",
    "src/latentrec/service/static/ratings.sqlite",
    "out/model.npz",
]
FORBIDDEN_SUFFIXES = (".nbi", ".nbc", ".pyc", ".pyo", ".npz", ".lrdata", ".sqlite", ".db")

# The checkout's own build products and tools, which `python -m build` would not see in a
# fresh clone either.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", ".pytest_cache", ".ruff_cache", ".hypothesis"
)


def _package_files() -> set[str]:
    """The files the package consists of, as paths inside a wheel: every module outside
    ``__pycache__`` and the service's web page."""
    files = {
        "latentrec/" + p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    files |= {
        "latentrec/service/static/" + p.name
        for p in STATIC.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(FORBIDDEN_SUFFIXES)
    }
    return files


def _version() -> str:
    """``__version__`` as src/latentrec/_version.py writes it."""
    (line,) = [
        ln
        for ln in (PACKAGE / "_version.py").read_text().splitlines()
        if ln.startswith("__version__")
    ]
    return line.split("=", 1)[1].strip().strip("\"'")


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without the test run's PYTHONPATH=src, so nothing reaches the source."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel built from it, from a littered copy of the working tree."""
    tmp = tmp_path_factory.mktemp("packaging")
    tree = tmp / "tree"
    shutil.copytree(ROOT, tree, ignore=NOT_COPIED)
    for rel in LITTER:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(b"litter")

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    backend = tmp / "backend"
    got = _run(
        [sys.executable, "-m", "pip", "install", "-q", "--retries", "1", "--timeout", "30"]
        + ["--target", str(backend), *requires],
        env=_clean_env(),
    )
    if got.returncode != 0:  # no index reachable and no wheel of it at hand
        pytest.skip(f"the build backend ({', '.join(requires)}) cannot be installed: {got.stderr}")
    env = _clean_env(PYTHONPATH=str(backend))

    out = tmp / "out"
    out.mkdir()
    build = "import sys\nfrom setuptools import build_meta as b\nprint(b.{}(sys.argv[1]))"
    got = _run([sys.executable, "-c", build.format("build_sdist"), str(out)], cwd=tree, env=env)
    assert got.returncode == 0, got.stderr
    sdist = out / got.stdout.split()[-1]
    log = got.stdout + got.stderr

    with tarfile.open(sdist) as archive:
        # The "data" filter (no links out, no device files) exists from 3.11.4 / 3.10.12.
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp / "unpacked", **safe)
    (unpacked,) = (tmp / "unpacked").iterdir()
    got = _run([sys.executable, "-c", build.format("build_wheel"), str(out)], cwd=unpacked, env=env)
    assert got.returncode == 0, got.stderr
    wheel = out / got.stdout.split()[-1]
    log += got.stdout + got.stderr
    return {"sdist": sdist, "wheel": wheel, "tmp": tmp, "log": log}


def test_build_has_no_deprecated_configuration(dists):
    """setuptools announces the configuration it will stop building (the ``license`` table
    did, from 2027-02-18): a build that warns now fails on a later setuptools."""
    warned = [line for line in dists["log"].splitlines() if "deprecated" in line.lower()]
    assert not warned, "\n".join(warned)


def test_wheel_holds_the_package_and_nothing_else(dists):
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = wheel.namelist()
    inside = {n for n in names if n.startswith("latentrec/")}
    assert {"latentrec/service/static/index.html", "latentrec/cli/__init__.py"} <= inside
    missing = sorted(_package_files() - inside)
    extra = sorted(inside - _package_files())
    assert not missing, f"the wheel lacks {missing}"
    assert not extra, f"the wheel carries {extra}"
    others = {n.split("/")[0] for n in names} - {"latentrec"}
    assert len(others) == 1 and others.pop().endswith(".dist-info"), names


def test_wheel_metadata_version_is_the_package_version(dists):
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        text = wheel.read(metadata).decode()
        entry_points = wheel.read(metadata.replace("METADATA", "entry_points.txt")).decode()
    assert f"\nVersion: {_version()}\n" in text
    assert "latentrec = latentrec.__main__:main" in entry_points
    # The MIT license's text travels with the code it licenses.
    assert "\nLicense-Expression: MIT\n" in text and "\nLicense-File: LICENSE\n" in text


def test_wheel_and_sdist_carry_the_license_text(dists):
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        (license_file,) = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert wheel.read(license_file).decode().startswith("MIT License")
    with tarfile.open(dists["sdist"]) as archive:
        assert "LICENSE" in [m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile()]


def test_sdist_holds_the_sources_without_tests_or_litter(dists):
    with tarfile.open(dists["sdist"]) as archive:
        names = [m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile()]
    assert {"pyproject.toml", "README.md"} <= set(names)
    package = {n.removeprefix("src/") for n in names if n.startswith("src/latentrec/")}
    assert package == _package_files()
    assert not [n for n in names if n.startswith("tests/")]
    assert not [n for n in names if n.endswith(FORBIDDEN_SUFFIXES) or "__pycache__" in n]


def test_installed_wheel_imports_and_runs_from_another_directory(dists):
    """The wheel installed with --target (its dependencies are this environment's) and run
    from a directory that is not the repository: the import is the installed copy, the
    command starts, and the service finds its page in the installed package."""
    tmp = dists["tmp"]
    target = tmp / "installed"
    got = _run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
        + ["--target", str(target), str(dists["wheel"])],
        env=_clean_env(),
    )
    assert got.returncode == 0, got.stderr
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(PYTHONPATH=str(target))

    got = _run(
        [
            sys.executable,
            "-c",
            "import latentrec; print(latentrec.__file__, latentrec.__version__)",
        ],
        cwd=elsewhere,
        env=env,
    )
    assert got.returncode == 0, got.stderr
    where, version = got.stdout.split()
    assert Path(where).is_relative_to(target)
    assert version == _version()

    script = target / "bin" / "latentrec"
    got = _run([str(script), "--help"], cwd=elsewhere, env=env)
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("Usage: latentrec")
    got = _run([str(script), "--version"], cwd=elsewhere, env=env)
    assert got.returncode == 0 and version in got.stdout, got.stdout + got.stderr

    pytest.importorskip("fastapi")
    page = "from latentrec.service.app import STATIC_DIR as d; print(d / 'index.html')"
    got = _run([sys.executable, "-c", page], cwd=elsewhere, env=env)
    assert got.returncode == 0, got.stderr
    index = Path(got.stdout.strip())
    assert index.is_relative_to(target) and index.is_file()
