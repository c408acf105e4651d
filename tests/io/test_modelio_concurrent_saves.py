"""Several processes saving to one model file at once, and a save killed mid-way.

Each save writes its own temporary file (a unique name beside the target) and renames it
onto the target, so saves that overlap never write into each other's file: the target is
one whole model, the last renamed, and each process reports success.  The children are
made to overlap for certain (no timing guess): each stops before its rename until every
child has its temporary file complete.  A temporary file a killed save left behind is
never read, listed or tripped over by a later save or load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

import latentrec
from latentrec import Interactions
from latentrec.models import Biases, Popularity

SRC = str(Path(latentrec.__file__).resolve().parents[1])

# Stops each rename onto the target until `n` children have their temporary file done.
BARRIER = textwrap.dedent(
    """
    import os, sys, time
    folder, n = os.path.realpath(sys.argv[1]), int(sys.argv[2])
    real_replace = os.replace

    def replace(src, dst):
        if os.path.dirname(os.path.realpath(src)) == folder:
            # The marker names this child's temporary file, complete now.
            with open(os.path.join(folder, f"ready-{os.getpid()}"), "w") as fh:
                fh.write(os.path.basename(src))
            deadline = time.monotonic() + 120
            while sum(p.startswith("ready-") for p in os.listdir(folder)) < n:
                assert time.monotonic() < deadline, "the other saves never came"
                time.sleep(0.01)
        return real_replace(src, dst)

    os.replace = replace
    """
)

SAVE = BARRIER + textwrap.dedent(
    """
    import numpy as np
    from latentrec import Interactions
    from latentrec.models import Popularity
    k = int(sys.argv[3])
    data = Interactions.from_dense(np.eye(k) + 1)  # k users: which save won shows
    Popularity().fit(data).save(os.path.join(folder, "model.npz"))
    """
)

TRAIN = BARRIER + textwrap.dedent(
    """
    from latentrec.cli import main
    main(sys.argv[3:], prog_name="latentrec")
    """
)


def start(script: str, *args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(children) -> list[tuple[int, str, str]]:
    done = []
    for child in children:
        try:
            out, err = child.communicate(timeout=300)
        finally:
            if child.poll() is None:
                child.kill()
        done.append((child.returncode, out, err))
    return done


def temporaries(folder) -> set[str]:
    """The distinct temporary files the children's markers name, each beside the target."""
    names = {p.read_text() for p in Path(folder).glob("ready-*")}
    assert all(n.startswith(".model.npz.") and n.endswith(".tmp") for n in names), names
    return names


def test_processes_saving_one_model_at_once_each_write_their_own_file(tmp_path):
    sizes = (3, 4, 5)
    done = finish([start(SAVE, tmp_path, len(sizes), k) for k in sizes])
    for code, _, err in done:
        assert code == 0, err[-2000:]
    # All three temporary files were complete at once, under three names.
    assert len(temporaries(tmp_path)) == len(sizes)
    model = latentrec.load(tmp_path / "model.npz")  # whole: every digest checks
    assert model.n_users in sizes
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("ready-")) == [
        "model.npz"
    ]


def test_two_train_commands_writing_one_model_at_once_both_succeed(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for n_users in (20, 30):
        frame = pd.DataFrame(
            {
                "user_id": np.repeat(np.arange(n_users), 5),
                "item_id": rng.integers(0, 15, 5 * n_users),
                "rating": rng.integers(1, 6, 5 * n_users),
            }
        ).drop_duplicates(["user_id", "item_id"])
        files.append(tmp_path / f"r{n_users}.csv")
        frame.to_csv(files[-1], index=False)
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "model.npz"
    argv = ["train", "-a", "popularity", "-q", "-o", target]
    done = finish([start(TRAIN, folder, 2, *argv[:1], f, *argv[1:]) for f in files])
    for code, out, err in done:
        assert code == 0, err[-2000:]
        assert f"model written to {target}" in out, out
    assert len(temporaries(folder)) == 2
    assert latentrec.load(target).n_users in (20, 30)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("ready-")) == [
        "model.npz"
    ]


def test_a_temporary_file_a_killed_save_left_is_never_read_or_in_the_way(tmp_path):
    data = Interactions.from_dense(np.eye(3) + 1)
    target = tmp_path / "model.npz"
    Biases().fit(data).save(target)
    whole = target.read_bytes()
    # What SIGKILL between the write and the rename leaves (tests/io/test_kill_mid_write.py):
    # a hidden file with mkstemp's name, here with half a model in it.
    left = tmp_path / ".model.npz.k2x8q0z1.tmp"
    left.write_bytes(whole[: len(whole) // 2])
    assert type(latentrec.load(target)).__name__ == "Biases"
    Popularity().fit(data).save(target)
    assert type(latentrec.load(target)).__name__ == "Popularity"
    # Under a minute old, it may be a live save's: not touched (an old one is removed,
    # tests/io/test_modelio_stale_temporaries.py).
    assert left.read_bytes() == whole[: len(whole) // 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [left.name, "model.npz"]
