"""A model directory whose pointer was lost: a dangling symlink, a deleted CURRENT, junk.

Each used to read as "nothing published yet", so `retrain -a ...` published its
candidate with no comparison; and `models rollback --to`, the fix the damage message
names, refused to run on a damaged pointer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.errors import ModelFileError
from latentrec.models import BiasedMF, FactorModel
from latentrec.service.versions import ModelDirectory


def published(tmp_path, n=2):
    md = ModelDirectory(tmp_path / "models")
    for _ in range(n):
        md.publish(FactorModel.from_factors(([1], [7]), np.eye(1)))
    return md


def dangle(md):
    md.pointer_path.unlink()
    md.pointer_path.symlink_to(md.path / "nowhere")


def lose(md):
    md.pointer_path.unlink()


def garble(md):
    md.pointer_path.write_text("garbage\n")


@pytest.mark.parametrize("damage", [dangle, lose, garble])
def test_a_lost_pointer_is_an_error_not_an_empty_directory(tmp_path, damage):
    md = published(tmp_path)
    damage(md)
    with pytest.raises(ModelFileError, match="CURRENT.*rollback --to NAME"):
        md.read_pointer()
    with pytest.raises(ModelFileError):
        md.current()


@pytest.mark.parametrize("damage", [dangle, lose, garble])
def test_retrain_publishes_nothing_over_a_lost_pointer(tmp_path, damage):
    from latentrec.service.retrain import retrain_on

    md = published(tmp_path)
    damage(md)
    rng = np.random.default_rng(0)
    data = Interactions.from_frame(
        pd.DataFrame(
            {
                "user_id": rng.integers(0, 30, 600),
                "item_id": rng.integers(0, 20, 600),
                "rating": rng.integers(1, 6, 600).astype(float),
                "timestamp": np.arange(600.0),
            }
        ),
        timestamp="timestamp",
    )
    with pytest.raises(ModelFileError):
        retrain_on(data, md, model=BiasedMF(n_factors=2, random_state=0))
    assert [v.name for v in md.versions()] == ["v000001", "v000002"]


@pytest.mark.parametrize("damage", [dangle, lose, garble])
def test_rollback_to_repairs_the_pointer_and_list_still_lists(tmp_path, damage):
    md = published(tmp_path)
    damage(md)
    runner = CliRunner()
    listed = runner.invoke(main, ["models", "list", "--model-dir", str(md.path)])
    assert listed.exit_code == 0, listed.output
    assert "warning:" in listed.stderr and "v000002" in listed.stdout
    plain = runner.invoke(main, ["models", "rollback", "--model-dir", str(md.path)])
    assert plain.exit_code == 1 and plain.output.startswith("Error: ")
    fixed = runner.invoke(
        main, ["models", "rollback", "--model-dir", str(md.path), "--to", "v000001"]
    )
    assert fixed.exit_code == 0, fixed.output
    assert "current version: v000001" in fixed.output
    assert md.read_pointer() == "v000001" and not md.pointer_path.is_symlink()


def test_a_fresh_directory_still_has_no_current_version(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    assert md.read_pointer() is None
