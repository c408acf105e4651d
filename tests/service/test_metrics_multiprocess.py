"""With ``PROMETHEUS_MULTIPROC_DIR`` set (``serve --workers N``), a model version swap
warns nothing (prometheus-client warns on every label removal there) and ``/metrics``
still shows the new version at 1 and the old one at 0.

Run in a fresh interpreter: prometheus-client chooses file-backed values when it is
first imported, which in this process happened without the variable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import latentrec
from latentrec.cli import main

# The source tree under test, for an interpreter started in another folder.
SOURCE = str(Path(latentrec.__file__).resolve().parents[1])

SWAPS = textwrap.dedent(
    """
    import json, os
    from latentrec.service.metrics import ServiceMetrics

    metrics = ServiceMetrics()
    metrics.set_model("v000001", 100.0)
    metrics.set_model("v000002", 200.0)
    metrics.set_model("v000003", 300.0)
    lines = [x for x in metrics.expose().decode().splitlines()
             if x.startswith("latentrec_model_info{")]
    print(json.dumps({"pid": os.getpid(), "lines": lines}))
    """
)


def run_swaps(env: dict, cwd) -> tuple[int, list[str], str]:
    """Three swaps in a fresh interpreter where a UserWarning is an error (prometheus-client
    leaves its value files open at exit: ResourceWarnings are its own)."""
    path = os.pathsep.join(filter(None, [SOURCE, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", SWAPS],
        env={**env, "PYTHONPATH": path},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return summary["pid"], summary["lines"], done.stderr


def test_version_swaps_in_multiprocess_mode_warn_nothing_and_show_each_version(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pid, lines, stderr = run_swaps(env, tmp_path)
    assert "UserWarning" not in stderr
    values = {line.split('version="')[1].split('"')[0]: line.rsplit(" ", 1)[1] for line in lines}
    assert values == {"v000001": "0.0", "v000002": "0.0", "v000003": "1.0"}, lines
    assert all(f'pid="{pid}"' in line for line in lines)


@pytest.mark.parametrize(
    "name, value",
    [
        ("PROMETHEUS_MULTIPROC_DIR", ""),
        # A fresh interpreter each (3 s): the other two forms in the slow run.
        pytest.param("prometheus_multiproc_dir", "  ", marks=pytest.mark.slow),
        pytest.param("PROMETHEUS_MULTIPROC_DIR", "missing-folder", marks=pytest.mark.slow),
    ],
)
def test_a_blank_or_missing_multiprocess_folder_is_refused_and_nothing_is_written(
    tmp_path, name, value
):
    # prometheus-client takes the variable's mere presence for multiprocess mode: empty,
    # it wrote counter_<pid>.db and its kin into the working folder (here, the test's),
    # and /metrics read none of them.
    env = {k: v for k, v in os.environ.items() if k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", SWAPS],
        env={**env, name: value, "PYTHONPATH": SOURCE},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ValueError: {name} ")
    assert ("is set but empty" if not value.strip() else "which is not a folder") in last
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_an_empty_multiprocess_variable_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    (tmp_path / "m.npz").write_bytes(b"")
    result = CliRunner().invoke(main, ["serve", "--model", "m.npz", "--port", "1"])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: PROMETHEUS_MULTIPROC_DIR is set but empty: unset it, or name an existing "
        "folder for the metrics files of several workers"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # nothing created


def test_a_single_process_drops_the_old_versions(tmp_path):
    env = {k: v for k, v in os.environ.items() if k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    _, lines, _ = run_swaps(env, tmp_path)
    assert lines == ['latentrec_model_info{version="v000003"} 1.0']
