"""The demo's closing hints name the latentrec command the user can run from where they
are: they said ``.venv/bin/latentrec`` for a latentrec installed from a wheel too."""

from __future__ import annotations

import sys

from latentrec.demo import command_name


def test_the_command_is_named_as_the_user_can_run_it(tmp_path, monkeypatch):
    bin_dir = tmp_path / "repo" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "latentrec"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))

    monkeypatch.chdir(tmp_path / "repo")  # make demo: inside the checkout
    assert command_name() == ".venv/bin/latentrec"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")  # an activated venv
    assert command_name() == "latentrec"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # neither: the full path
    assert command_name() == str(script)

    script.unlink()  # no script beside the interpreter (python -m latentrec.cli)
    assert command_name() == "latentrec"
