"""Two real ``latentrec retrain`` processes at once on one model directory and one store.

Both compare a candidate with v000001; only one may publish v000002, and the other must
publish nothing, saying in one line that another publish came first (it exits 0: the
command exits 0 whether or not it published).  To make them really race, the test holds
the directory's writer lock until both have saved their candidate beside the versions
(each in its own staging folder) and are waiting for the lock to publish.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from latentrec.models import Biases
from latentrec.service.retrain import retrain
from latentrec.service.versions import ModelDirectory, read_retrain_status
from latentrec.store import Rating, open_store

from .retrain_helpers import as_data, timed_frame

# Ratings from this time on arrive after v000001 was trained.
T_NEW = 2700
# Seconds the two processes may take to start, train and reach the publish.
START_SECONDS = 90


def retrain_process(store_path, model_dir) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "latentrec.cli",
            "retrain",
            "--store",
            str(store_path),
            "--model-dir",
            str(model_dir),
            # Any candidate is good enough: each of the two wants to publish.
            "--tolerance",
            "100",
            "--seed",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def staged(versions_dir) -> list:
    """Staging folders holding a complete candidate (its model file renamed into place)."""
    return [
        p
        for p in versions_dir.iterdir()
        if p.name.startswith(".staging-") and (p / "model.npz").is_file()
    ]


def test_two_retrain_processes_at_once_publish_one_version(tmp_path):
    frame = timed_frame()
    store_path, md = tmp_path / "ratings.db", ModelDirectory(tmp_path / "models")
    with open_store(store_path) as store:
        store.import_interactions(as_data(frame[frame["t"] < T_NEW]))
        assert retrain(store, md, model=Biases()).version.name == "v000001"
        new = frame[frame["t"] >= T_NEW]
        store.add_ratings(
            [
                Rating(str(u), str(i), float(r), float(t))
                for u, i, r, t in new[["user_id", "item_id", "rating", "t"]].itertuples(index=False)
            ]
        )
    procs = []
    try:
        with md.locked():  # neither can publish until both are ready to
            procs = [retrain_process(store_path, md.path) for _ in range(2)]
            deadline = time.monotonic() + START_SECONDS
            while len(staged(md.path / "versions")) < 2:
                ended = [p for p in procs if p.poll() is not None]
                assert not ended, ended[0].communicate()
                assert time.monotonic() < deadline, "the two retrains did not reach publish"
                time.sleep(0.05)
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert not [err for _, err in outputs if "Traceback" in err]
    last_lines = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    loser, winner = last_lines  # "not ..." sorts before "published ..."
    assert loser.startswith("not published: the current version of ") and loser.endswith(
        " is v000002, not v000001: another publish or rollback came first"
    ), last_lines
    assert winner.startswith("published v000002: "), last_lines
    # Exactly one new version, current and whole; the loser's candidate left nothing behind.
    assert [v.name for v in md.versions()] == ["v000001", "v000002"]
    current, model = md.load_current()
    assert current.name == "v000002" and current.metrics["current_version"] == "v000001"
    assert type(model).__name__ == "Biases"
    assert [(e["action"], e["version"]) for e in md.history()] == [
        ("publish", "v000001"),
        ("publish", "v000002"),
    ]
    assert sorted(p.name for p in (md.path / "versions").iterdir()) == ["v000001", "v000002"]
    assert sorted(p.name for p in md.path.iterdir()) == [
        ".lock",
        "CURRENT",
        "history.jsonl",
        "last-retrain.json",  # whichever of the two ended last, as /health shows it
        "versions",
    ]
    last = read_retrain_status(md.path)
    assert last["ok"] is True and last["by"] == "command"
    assert last["reason"] in {line.split(": ", 1)[1] for line in last_lines}
