"""One local[2] SparkSession for the Spark tests, skipped with the reason when Spark cannot run.

Not a ``conftest.py``: the tests import helpers with ``from conftest import ...`` and a
second conftest module would shadow the top one; test modules import ``spark`` from here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'latentrec[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        return "Java is not installed (Spark needs a Java 17 runtime)"
    return None


def quiet_pyspark() -> None:
    # pyspark warns on every pandas conversion that it has not been tested with pandas 3.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")


@pytest.fixture(scope="session")
def spark():
    why = spark_missing()
    if why:
        pytest.skip(f"Spark tests skipped: {why}")
    quiet_pyspark()
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from latentrec.spark import spark_session

    session = spark_session(
        "local[2]",
        app_name="latentrec-tests",
        sql_shuffle_partitions=4,
        default_parallelism=2,
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def sample_ratings_path() -> Path:
    """The sample MovieLens ratings that ship inside the pyspark package (user::item::rating::t)."""
    import pyspark

    return Path(pyspark.__file__).parent / "data" / "mllib" / "als" / "sample_movielens_ratings.txt"


def sample_ratings() -> pd.DataFrame:
    frame = pd.read_csv(
        sample_ratings_path(), sep="::", engine="python", names=["user", "item", "rating", "t"]
    )
    return frame.drop(columns="t").astype({"rating": np.float32})
