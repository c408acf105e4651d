"""benchmarks/_memory.py: the peak the benchmarks report follows real allocations."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _memory import peak_mib, reset_peak, rss_mib  # noqa: E402


def test_peak_rises_with_a_touched_allocation_and_resets_after_it():
    before = rss_mib()
    big = np.ones(48 << 17)  # 48 MiB, every page written
    during = rss_mib()
    assert during - before > 40
    assert peak_mib() >= during
    del big
    assert reset_peak()
    after = peak_mib()
    assert after < during - 24  # the freed 48 MiB no longer counts
    assert abs(after - rss_mib()) < 8
