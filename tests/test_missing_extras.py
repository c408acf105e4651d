"""The library names the extra to install when an optional module is missing.

In an install without the extra (``pip install latentrec``), Spark, the ratings store,
the service and Parquet output said only "No module named 'pyspark'" (or 'sqlalchemy',
'fastapi'), or "pip install pyarrow", where plots, tune and the readers name the extra.
Each now raises :class:`latentrec.errors.MissingExtraError`, a ``ModuleNotFoundError``
whose ``name`` is the missing module (so code that catches that keeps working), at first
use or import as before, never at ``import latentrec``.

A missing module is simulated in this process where it is imported inside a call (a
finder that finds nothing, for that test only), and in a fresh interpreter with ``None``
in ``sys.modules`` where an import of ours at module level would be cached here by
other tests.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import latentrec
from latentrec.errors import MissingExtraError, needs_extra
from latentrec.models import Popularity

SRC = str(Path(latentrec.__file__).resolve().parents[1])


class Uninstalled(importlib.abc.MetaPathFinder):
    """A finder, first on ``sys.meta_path``, for which ``names`` (and their submodules)
    are not installed: it raises what Python raises for a module no finder finds."""

    def __init__(self, names):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def uninstall(monkeypatch, *names: str) -> None:
    """Make ``names`` missing in this process, as if not installed, for one test: their
    loaded modules leave ``sys.modules`` (put back afterwards) and none can be found.
    ``None`` in ``sys.modules`` would name a submodule (``pyspark.sql``) where Python
    names the package that is not installed (``pyspark``)."""
    for loaded in list(sys.modules):
        if loaded.split(".")[0] in names:
            monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setattr(sys, "meta_path", [Uninstalled(names), *sys.meta_path])


def names_the_extra(err: BaseException, module: str, extra: str) -> None:
    assert isinstance(err, MissingExtraError), repr(err)
    assert isinstance(err, ModuleNotFoundError) and err.name == module
    assert err.extra == extra
    message = str(err)
    assert f"needs {module}, which is not installed" in message, message
    assert f"install the '{extra}' extra: pip install 'latentrec[{extra}]'" in message, message
    # One error, not Python's own with ours after "During handling of the above...".
    assert err.__cause__ is None and err.__suppress_context__


# ----------------------------------------------------------------------------- Spark
def test_spark_session_without_pyspark_names_the_spark_extra(monkeypatch):
    from latentrec.spark import spark_session

    uninstall(monkeypatch, "pyspark", "py4j")
    with pytest.raises(ModuleNotFoundError) as caught:
        spark_session("local[1]")
    names_the_extra(caught.value, "pyspark", "spark")
    assert "spark_session" in str(caught.value)


def test_fit_als_without_pyspark_names_the_spark_extra(monkeypatch):
    from latentrec.spark import fit_als

    uninstall(monkeypatch, "pyspark", "py4j")
    df = pd.DataFrame({"user": [1], "item": [2], "rating": [5.0]})
    with pytest.raises(ModuleNotFoundError) as caught:
        fit_als(df)
    names_the_extra(caught.value, "pyspark", "spark")
    assert "fit_als" in str(caught.value)


def test_fit_als_without_pyarrow_names_the_spark_extra_before_any_spark_work(monkeypatch):
    # Plain `pip install pyspark` lacks the pyarrow that mapInPandas needs; the spark
    # extra (pyspark[sql]) brings it.  The check comes before the DataFrame is looked at:
    # this one is not even a Spark DataFrame.
    pytest.importorskip("pyspark")
    from latentrec.spark import fit_als

    uninstall(monkeypatch, "pyarrow")
    with pytest.raises(ModuleNotFoundError) as caught:
        fit_als(pd.DataFrame({"user": [1], "item": [2], "rating": [5.0]}))
    names_the_extra(caught.value, "pyarrow", "spark")


# ----------------------------------------------------------------- Parquet output
def test_recommend_all_to_parquet_without_pyarrow_names_the_parquet_extra(monkeypatch, tmp_path):
    model = Popularity().fit(latentrec.Interactions.from_dense(np.array([[1, 0], [1, 1]])))
    uninstall(monkeypatch, "pyarrow")
    out = tmp_path / "top.parquet"
    with pytest.raises(ModuleNotFoundError) as caught:
        model.recommend_all(out)
    names_the_extra(caught.value, "pyarrow", "parquet")
    assert str(out) in str(caught.value) and ".csv" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


# ------------------------------------------------ the store and the service (fresh)
CHECK = """
import json, sys
for name in {blocked!r}:
    sys.modules[name] = None
import latentrec  # the core install imports none of them
try:
{statement}
except ModuleNotFoundError as err:
    print(json.dumps({{"type": type(err).__name__, "name": err.name, "message": str(err),
                      "cause": err.__cause__ is not None,
                      "suppressed": err.__suppress_context__}}))
else:
    print(json.dumps(None))
"""


def raised_without(blocked: tuple[str, ...], statement: str) -> dict | None:
    """What ``statement`` raises in a fresh interpreter that cannot import ``blocked``."""
    code = CHECK.format(blocked=blocked, statement="    " + statement)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def check_named(raised: dict | None, module: str, extra: str) -> None:
    assert raised is not None, "nothing was raised"
    assert raised["type"] == "MissingExtraError" and raised["name"] == module, raised
    assert f"needs {module}, which is not installed" in raised["message"], raised
    assert f"pip install 'latentrec[{extra}]'" in raised["message"], raised
    assert not raised["cause"] and raised["suppressed"], raised


def test_importing_the_store_without_sqlalchemy_names_the_serve_extra():
    raised = raised_without(("sqlalchemy",), "import latentrec.store")
    check_named(raised, "sqlalchemy", "serve")
    assert "latentrec.store" in raised["message"]


@pytest.mark.parametrize("module", ["fastapi", "sqlalchemy", "prometheus_client"])
def test_create_app_without_a_serve_module_names_the_serve_extra(module):
    raised = raised_without((module,), "from latentrec.service import create_app")
    check_named(raised, module, "serve")


def test_the_service_module_itself_names_the_extra_when_imported_directly():
    # What uvicorn's factory path (latentrec.service.app:app_from_env) imports.
    check_named(raised_without(("fastapi",), "import latentrec.service.app"), "fastapi", "serve")


# ---------------------------------------------------------------------- the helper
def test_needs_extra_keeps_the_name_python_gave_the_missing_module(monkeypatch):
    # A half-installed pyspark: its bridge to the JVM is the module that is missing.
    uninstall(monkeypatch, "latentrec_test_bridge")
    with pytest.raises(MissingExtraError) as caught:
        with needs_extra("spark", "something"):
            import latentrec_test_bridge  # noqa: F401
    names_the_extra(caught.value, "latentrec_test_bridge", "spark")


def test_needs_extra_leaves_other_errors_alone(monkeypatch):
    # A module of ours that is missing is a bug to see as it is, not an extra to install.
    with pytest.raises(ModuleNotFoundError) as caught:
        with needs_extra("spark", "something"):
            import latentrec.no_such_module  # noqa: F401
    assert type(caught.value) is ModuleNotFoundError
    # A module that is there but fails to import says so itself.
    with pytest.raises(ImportError) as caught:
        with needs_extra("spark", "something"):
            raise ImportError("cannot import name 'X' from 'pyspark'", name="pyspark")
    assert type(caught.value) is ImportError
    # An inner block's error passes the outer unchanged (the store's, inside the service's).
    inner = MissingExtraError("sqlalchemy", "serve", "the ratings store")
    with pytest.raises(MissingExtraError) as caught:
        with needs_extra("serve", "create_app"):
            raise inner
    assert caught.value is inner


def test_the_error_survives_pickling():
    # Errors cross processes (the service's workers, multiprocessing pools).
    err = MissingExtraError("pyarrow", "parquet", "writing t.parquet", hint="or write a .csv")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is MissingExtraError
    assert (str(back), back.name, back.extra) == (str(err), "pyarrow", "parquet")
