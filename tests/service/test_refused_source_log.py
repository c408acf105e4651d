"""What the worker's log says about a model source it refuses.

A served ``--model FILE`` replaced by one refused for what it holds (truncated, or a
model that cannot rank items) is kept as refused and not read again until it changes;
the log said "(tried every round ...)".  It now says the file is not read again until
it changes, and "tried every round" only where that is so (a file that is gone).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

import latentrec.service.holder as holder_module
from latentrec import Interactions
from latentrec.models import FactorModel, GlobalMean
from latentrec.service.hardening import ERROR_LOGGER
from latentrec.service.holder import DirectorySource, FileSource, ModelHolder
from latentrec.service.metrics import ServiceMetrics
from latentrec.service.refresh import Refresher
from latentrec.service.versions import ModelDirectory

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")


@pytest.fixture
def reads(monkeypatch):
    """How many times the holder reads a model file (the library's ``load``)."""
    count = [0]
    real = holder_module.load

    def counted(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(holder_module, "load", counted)
    return count


def rounds(refresher, caplog, n=3) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=ERROR_LOGGER):
        for _ in range(n):
            refresher.follow_source()
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def replace_with(path, write):
    """Write the replacement beside ``path`` and rename it over (a new inode)."""
    aside = path.with_name("aside-" + path.name)
    write(aside)
    os.replace(aside, path)


def cannot_rank(path):
    GlobalMean().fit(Interactions.from_dense(np.array([[5, 3], [4, 0]]))).save(path)


def truncated(good):
    def write(path):
        path.write_bytes(good.read_bytes()[:100])

    return write


@pytest.mark.parametrize("refused", ["truncated", "cannot rank"])
def test_a_refused_file_is_said_to_wait_for_a_change(tmp_path, store, reads, caplog, refused):
    path = tmp_path / "m.npz"
    FactorModel.from_factors(([1], [7, 8]), np.eye(2)).save(path)
    good = tmp_path / "good.npz"
    good.write_bytes(path.read_bytes())
    holder = ModelHolder(FileSource(path))
    served = holder.current.version
    refresher = Refresher(holder, store, ServiceMetrics(), every=1.0)
    reads[0] = 0
    replace_with(path, truncated(good) if refused == "truncated" else cannot_rank)
    warnings = rounds(refresher, caplog)
    assert len(warnings) == 1, warnings
    assert f"keeping the served model {served}" in warnings[0]
    assert "not read again until the file changes" in warnings[0]
    assert "tried every round" not in warnings[0]
    assert reads[0] == 1  # what the line says: three rounds, one read
    assert holder.current.version == served

    # Gone: each round looks for it again, and the line says so.
    path.unlink()
    warnings = rounds(refresher, caplog)
    assert len(warnings) == 1 and "tried every round" in warnings[0], warnings


def test_a_refused_current_version_is_said_to_wait_for_a_change(tmp_path, store, caplog):
    md = ModelDirectory(tmp_path / "models")
    md.publish(FactorModel.from_factors(([1], [7]), np.eye(1)))
    holder = ModelHolder(DirectorySource(md))
    refresher = Refresher(holder, store, ServiceMetrics(), every=1.0)
    md.publish(FactorModel.from_factors(([1], [7]), np.eye(1)))
    current = md.path / "versions" / "v000002"
    files = [p for p in current.iterdir() if p.suffix == ".npz"]
    assert len(files) == 1
    files[0].write_bytes(files[0].read_bytes()[:100])
    warnings = rounds(refresher, caplog)
    assert len(warnings) == 1, warnings
    assert "not read again until the current version or its file changes" in warnings[0]
    assert holder.current.version == "v000001"
