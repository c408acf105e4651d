"""One version folder with an unreadable version.json (copied in by hand, cut short):
`models list`, `rollback` and `prune` used to fail on it, whichever version they needed."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.errors import ModelFileError
from latentrec.models import FactorModel
from latentrec.service.versions import ModelDirectory


@pytest.fixture(params=['{"name": "v0000', "[1]", '{"created": "x"}', "{}", "\udcff"])
def directory(tmp_path, request):
    md = ModelDirectory(tmp_path / "models")
    for _ in range(3):
        md.publish(FactorModel.from_factors(([1], [7]), np.eye(1)))
    raw = request.param.encode("utf-8", "surrogateescape")
    (md.path / "versions" / "v000002" / "version.json").write_bytes(raw)
    return md


def test_the_others_are_listed_and_the_damage_reported(directory):
    damaged: list[str] = []
    assert [v.name for v in directory.versions(damaged)] == ["v000001", "v000003"]
    assert len(damaged) == 1 and "v000002/version.json" in damaged[0]
    with pytest.raises(ModelFileError, match="v000002/version.json"):
        directory.version("v000002")
    result = CliRunner().invoke(main, ["models", "list", "--model-dir", str(directory.path)])
    assert result.exit_code == 0, result.output
    assert "v000001" in result.stdout and "v000003" in result.stdout
    assert "left out of the list" in result.stderr and "v000002" in result.stderr


def test_rollback_and_prune_still_work(directory):
    assert directory.rollback().name == "v000001"
    assert directory.rollback("v000003").name == "v000003"
    assert directory.prune(keep=1) == ["v000001"]
    result = CliRunner().invoke(
        main, ["models", "rollback", "--model-dir", str(directory.path), "--to", "v000002"]
    )
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert "v000002/version.json" in result.output
