"""``latentrec train --engine spark``: what it refuses before starting Spark.

The fit itself runs through a standalone cluster in ``test_spark_cluster.py``.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from latentrec.cli import main


@pytest.mark.parametrize(
    "args, message",
    [
        (["-a", "biased-mf"], "--engine spark trains als or implicit-als, not biased-mf"),
        (["-a", "als", "--test-size", "0.2"], "--test-size is not available with --engine spark"),
    ],
)
def test_train_on_spark_refuses_what_it_cannot_do(tmp_path, args, message):
    result = CliRunner().invoke(
        main, ["train", "ml-100k", "--engine", "spark", *args, "-o", str(tmp_path / "m.npz")]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
