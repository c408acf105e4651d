"""The package's shape: imports run one way, no module uses another module's private names.

The layer and cycle contracts live in ``pyproject.toml`` (import-linter, run by
``make test``); this test runs them too, and checks the private-name rule that
import-linter cannot see, over every module of ``src/latentrec``.  And every module is in
the "What each module owns" table of ``docs/architecture.md``, so the map cannot drift
from the package again.
"""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "latentrec"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined_names(tree: ast.Module) -> set[str]:
    """Every name a module defines: functions, classes, methods, class attributes,
    module variables and attributes it assigns on any object."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def private_name_uses(path: Path) -> list[str]:
    """``file:line: name`` for each private name this module takes from another one."""
    tree = ast.parse(path.read_text(), filename=str(path))
    own = _defined_names(tree)
    rel = path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE.parent) else path
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{rel}:{node.lineno}: imports {alias.name}")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            on_self = isinstance(base, ast.Name) and base.id in ("self", "cls")
            on_super = (
                isinstance(base, ast.Call)
                and isinstance(base.func, ast.Name)
                and base.func.id == "super"
            )
            if not (on_self or on_super) and node.attr not in own:
                found.append(f"{rel}:{node.lineno}: uses .{node.attr}")
    return found


def test_checker_catches_what_it_should(tmp_path):
    module = tmp_path / "latentrec" / "probe.py"
    module.parent.mkdir()
    module.write_text(
        "from .other import _hidden\n"
        "def f(model):\n"
        "    model._solve_rows()\n"
        "    self_like = model\n"
        "    return self_like._own\n"
        "class A:\n"
        "    _own = 1\n"
        "    def g(self):\n"
        "        return self._anything, super()._hook()\n"
    )
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "latentrec"
    try:
        found = private_name_uses(module)
    finally:
        PACKAGE = saved
    assert [f.split(": ", 1)[1] for f in found] == ["imports _hidden", "uses ._solve_rows"]


def test_no_module_uses_another_modules_private_names():
    found = [f for path in sorted(PACKAGE.rglob("*.py")) for f in private_name_uses(path)]
    assert found == [], "private names used across modules:\n" + "\n".join(found)


@pytest.mark.parametrize("folder", ["benchmarks", "examples"])
def test_scripts_use_the_public_api_only(folder):
    """Benchmarks and examples are users of the library: public names only."""
    paths = sorted((ROOT / folder).rglob("*.py"))
    found = [f for path in paths for f in private_name_uses(path)]
    assert found == [], "private latentrec names used:\n" + "\n".join(found)


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter is not installed (it is in the dev extra)")
    run = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "broken" in run.stdout and "0 broken" in run.stdout


def test_every_module_says_what_it_owns():
    missing = [
        str(p.relative_to(PACKAGE.parent))
        for p in sorted(PACKAGE.rglob("*.py"))
        if ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert missing == []


def modules_in_table(text: str) -> set[str]:
    """The modules the "What each module owns" table names, as paths under the package.

    A row names a module by its path in the first column (`` `io/atomic.py` ``); a row
    for a folder (`` `kernels/` ``, `` `models/<algorithm>.py` ``) names its modules by file
    name (`` `ridge.py` ``) or bare name (`` `sgd` ``) anywhere in the row.
    """
    table = text[text.index("## What each module owns") : text.index("## Fitted state")]
    named = set()
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        first = row.split("|")[1]
        for name in re.findall(r"`([^`]+)`", first):
            if "<" in name or name.endswith("/"):
                folder = name[: name.rindex("/") + 1]
                for token in re.findall(r"`([\w.]+)`", row):
                    named.add(folder + token.removesuffix(".py") + ".py")
            elif name.endswith(".py"):
                named.add(name)
    return named


def test_table_reader_reads_paths_and_folder_rows():
    text = (
        "## What each module owns\n| module | owns |\n| --- | --- |\n"
        "| `io/atomic.py`, `errors.py` | x |\n"
        "| `kernels/` | loops (`sgd`, `als`) and `ridge.py` |\n"
        "| `models/<algorithm>.py` | one each (`svd`) |\n"
        "## Fitted state\n| `x.py` | after the table |\n"
    )
    found = modules_in_table(text)
    expected = {"io/atomic.py", "errors.py", "kernels/ridge.py", "kernels/sgd.py"}
    assert expected | {"kernels/als.py", "models/svd.py"} <= found
    assert "x.py" not in found and "kernels/x.py" not in found


def test_every_module_is_in_the_architecture_table():
    """Each module (package ``__init__`` files aside: they re-export) says in
    docs/architecture.md what it owns."""
    named = modules_in_table(ARCHITECTURE.read_text(encoding="utf-8"))
    modules = [
        p.relative_to(PACKAGE).as_posix()
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "__init__.py"
    ]
    missing = [m for m in modules if m not in named]
    assert missing == [], "add a row to docs/architecture.md for: " + ", ".join(missing)
