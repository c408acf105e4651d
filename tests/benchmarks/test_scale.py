"""benchmarks/scale.py: any documented small size has a table shape, a too-small one is
refused in one line, and a failed step makes the script exit non-zero."""

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import scale  # noqa: E402

from latentrec.data.synthetic import synthetic  # noqa: E402


def test_docstring_examples():
    assert doctest.testmod(scale).failed == 0


@pytest.mark.parametrize("n", [scale.MIN_SMOKE, 1_001, 4_999, 20_000, 30_000, 50_000, 123_457])
def test_every_smoke_size_has_room_for_its_ratings(n):
    n_users, n_items = scale.shape_of(n)
    # The generator's own limits: a rating for every user and item, no more than the cells.
    assert max(n_users, n_items) <= n <= n_users * n_items
    assert n_users * n_items >= 4 * n  # at most a quarter of the cells rated
    assert n // n_users >= 10  # enough for a top-10 to be a choice
    data = synthetic(n_users, n_items, n, random_state=0)
    assert data.shape == (n_users, n_items) and data.nnz == n


def test_the_full_sizes_keep_their_shapes():
    assert scale.shape_of(10**7) == (100_000, 20_000)
    assert scale.shape_of(10**8) == (480_189, 17_770)


def test_help_documents_smoke():
    r = subprocess.run(
        [sys.executable, str(BENCH / "scale.py"), "--help"], capture_output=True, text=True
    )
    assert r.returncode == 0
    assert "--smoke N" in r.stdout and "1,000" in r.stdout
    assert "issue" not in r.stdout


def test_too_small_a_smoke_size_is_one_line_and_exit_1():
    r = subprocess.run(
        [sys.executable, str(BENCH / "scale.py"), "--smoke", "999"], capture_output=True, text=True
    )
    assert r.returncode == 1
    assert r.stderr.strip() == "scale.py: --smoke must be at least 1,000 ratings, got 999"


def test_a_failed_step_exits_non_zero(monkeypatch, capsys):
    # The generator fails (as a too-small table or a memory cap makes it): no other step
    # runs, the table says why, and the script's exit status says it failed.
    spawned = []

    def spawn(kind, n, folder, args):
        spawned.append(kind)
        return {"error": "exit 1: ValueError: boom"}

    monkeypatch.setattr(scale, "spawn", spawn)
    monkeypatch.setattr(sys, "argv", ["scale.py", "--smoke", "2000"])
    with pytest.raises(SystemExit) as stop:
        scale.main()
    failed = "scale.py: 1 step(s) failed: generate at 2e+03: exit 1: ValueError: boom"
    assert stop.value.code == failed
    assert spawned == ["generate"]
    assert "generator: exit 1: ValueError: boom" in capsys.readouterr().out


def test_a_failed_later_step_exits_non_zero_after_the_table(monkeypatch, capsys):
    def spawn(kind, n, folder, args):
        if kind == "implicit":
            return {"error": "exit 1: ModuleNotFoundError: No module named 'implicit'"}
        return {"error": "not run"} if kind != "generate" else {"generate_s": 0.1, "peak_mib": 1}

    monkeypatch.setattr(scale, "spawn", spawn)
    monkeypatch.setattr(sys, "argv", ["scale.py", "--smoke", "2000", "--skip-surprise"])
    with pytest.raises(SystemExit) as stop:
        scale.main()
    assert str(stop.value.code).startswith("scale.py: 1 step(s) failed: implicit at 2e+03")
    assert "implicit: ALS per iteration" in capsys.readouterr().out
