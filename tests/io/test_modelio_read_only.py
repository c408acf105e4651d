"""Saves and permission bits, as a plain ``open(path, "w")`` would treat them.

A save gave its temporary file the final mode (the umask's, or the replaced file's)
before writing it, so under a umask of 0222 (new files read-only, which the shell's
``>`` writes happily) every save failed with "Permission denied" naming the temporary
``.m.npz.XXXXXXXX.tmp``; a model made read-only to keep it failed the same way, by
accident, for a user and was replaced for root.  Now the mode is set once the file is
written, and a read-only file is refused by name (``it is read-only``) for whoever may
not write it, by the command line before it reads any data.

Permission bits do not bind root, so as root the children run without the capabilities
that override them (``setpriv``), as tests/cli/test_output_checked_early.py does.
"""

from __future__ import annotations

import os
import stat
import subprocess
import textwrap

import numpy as np
import pytest
from conftest import AS_ROOT, can_drop_privileges, python_bound_by_permissions

import latentrec
from latentrec import Interactions
from latentrec.models import Popularity

pytestmark = [
    pytest.mark.skipif(os.name != "posix", reason="POSIX permissions"),
    pytest.mark.skipif(
        AS_ROOT and not can_drop_privileges(), reason="root that cannot drop its overrides"
    ),
]

SAVE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from latentrec import Interactions
    from latentrec.models import Popularity
    os.umask(int(sys.argv[2], 8))
    try:
        Popularity().fit(Interactions.from_dense(np.eye(4) + 1)).save(sys.argv[1])
    except OSError as err:
        print(f"refused {err.filename}: {err.strerror}")
    else:
        print("saved")
    """
)

CLI = "import sys\nfrom latentrec.cli import main\nmain(sys.argv[1:], prog_name='latentrec')\n"


def run(script: str, *args) -> subprocess.CompletedProcess:
    """``script`` in a child whom permission bits bind."""
    return python_bound_by_permissions(script, *args)


def test_a_umask_that_makes_files_read_only_still_saves(tmp_path):
    target = tmp_path / "m.npz"
    done = run(SAVE, target, "0222")
    assert done.stdout.strip() == "saved", done.stdout + done.stderr[-2000:]
    assert stat.S_IMODE(target.stat().st_mode) == 0o444  # as `umask 222; echo > f` gives
    assert latentrec.load(target).n_users == 4
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_a_read_only_model_is_refused_by_name_and_kept(tmp_path):
    target = tmp_path / "kept.npz"
    Popularity().fit(Interactions.from_dense(np.eye(3) + 1)).save(target)
    target.chmod(0o444)
    before = target.read_bytes()
    done = run(SAVE, target, "0022")
    assert done.stdout.strip() == (
        f"refused {target}: it is read-only; make it writable to replace it"
    ), done.stdout + done.stderr[-2000:]
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["kept.npz"]


def test_train_refuses_a_read_only_output_before_reading_the_data(tmp_path):
    target = tmp_path / "kept.npz"
    Popularity().fit(Interactions.from_dense(np.eye(3) + 1)).save(target)
    target.chmod(0o444)
    # The ratings file does not exist: its error would come first if it were read first.
    done = run(CLI, "train", tmp_path / "missing.csv", "-o", target)
    assert done.returncode == 1, done.stderr[-2000:]
    lines = [x for x in done.stderr.splitlines() if x.strip() and not x.startswith("compiling")]
    assert lines == [
        f"Error: cannot write {target}: it is read-only; make it writable to replace it"
    ]


@pytest.mark.skipif(not AS_ROOT, reason="root's own rights")
def test_root_replaces_a_read_only_file_as_its_shell_would(tmp_path):
    target = tmp_path / "kept.npz"
    Popularity().fit(Interactions.from_dense(np.eye(3) + 1)).save(target)
    target.chmod(0o444)
    Popularity().fit(Interactions.from_dense(np.eye(5) + 1)).save(target)
    assert latentrec.load(target).n_users == 5
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
