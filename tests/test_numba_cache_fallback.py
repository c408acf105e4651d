"""A root-owned install run by a user who can write neither beside the kernels nor in a
home folder: numba found no cache locator and every ``cache=True`` kernel failed at
import, so even ``latentrec --help`` ended in a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import UNPRIVILEGED, python_bound_by_permissions

from latentrec.kernels import ensure_numba_cache

SRC = Path(__file__).resolve().parents[1] / "src"


def test_a_writable_source_folder_or_cache_dir_is_left_to_numba(tmp_path, monkeypatch):
    from numba import config

    monkeypatch.setattr(config, "CACHE_DIR", "")
    assert ensure_numba_cache(str(tmp_path / "here")) is None
    assert ensure_numba_cache("/proc/nowhere", str(tmp_path / "home")) is None
    assert config.CACHE_DIR == ""
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "set"))
    assert ensure_numba_cache("/proc/nowhere", "/proc/nowhere") is None  # the user's choice


def test_with_nowhere_to_write_numba_caches_in_the_temporary_directory(tmp_path, monkeypatch):
    from numba import config

    monkeypatch.setattr(config, "CACHE_DIR", "")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    given = ensure_numba_cache("/proc/nowhere", "/proc/nowhere/numba")
    assert given == str(tmp_path / f"latentrec-numba-{os.getuid()}")
    assert config.CACHE_DIR == given and Path(given).is_dir()


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to run a child the permission bits bind",
)
def test_an_install_nobody_can_write_to_imports_and_runs(tmp_path):
    # The package copied into a folder owned by another user (as a root-owned site-packages
    # is to a service user), a home it cannot write either, run without root's override
    # capabilities.
    site = tmp_path / "site"
    shutil.copytree(SRC / "latentrec", site / "latentrec", ignore=shutil.ignore_patterns("*.nb*"))
    for folder, _, _ in os.walk(site):
        os.chown(folder, 65534, 65534)
        os.chmod(folder, 0o755)
    home = tmp_path / "home"  # another user's, with no .cache in it
    home.mkdir()
    os.chown(home, 65534, 65534)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(temp),
        "PYTHONPATH": str(site),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    code = (
        "import numpy as np, latentrec, numba\n"
        "from latentrec.kernels.topk import topk_dot\n"
        "print(numba.config.CACHE_DIR)\n"
    )
    probe = subprocess.run([*UNPRIVILEGED, "touch", str(site / "x")], check=False)
    if probe.returncode == 0:
        pytest.skip("setpriv did not drop root's override capabilities here")
    done = python_bound_by_permissions(code, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(temp / "latentrec-numba-0")
    assert "Traceback" not in done.stderr
