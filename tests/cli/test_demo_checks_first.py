"""demo looks the user up before its tour trains anything."""

from __future__ import annotations

from new_user_support import error_line, invoke


def test_demo_checks_the_user_before_training(tmp_path):
    out = invoke("demo", "--output-dir", tmp_path / "out", "-u", 99999)
    line = error_line(out)
    assert "unknown user id(s): '99999'" in line
    assert out.stdout == ""  # the tour did not start
