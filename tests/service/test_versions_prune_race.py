"""Readers of a model directory while another process publishes and prunes it.

``ModelDirectory.load_current`` reads ``CURRENT`` once and loads the version it names; a
prune in another process may remove that version between the two steps, and the reader
must then read ``CURRENT`` again rather than fail.  Here one process publishes and prunes
to a single version as fast as it can while two threads of this process and a second
process load the current version in a loop; every load must succeed and be whole: the
model's mean, its version's recorded mean and the mean its version number was published
with all agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

from latentrec.models import GlobalMean
from latentrec.service.versions import ModelDirectory

from .retrain_helpers import constant_data

# Bounds of one run: the publisher stops at whichever comes first.
PUBLISHES = 400
SECONDS = 4.0


def mean_of(number: int) -> float:
    """The mean version ``number`` is published with (exact in float32)."""
    return 1.0 + (number % 64) / 16.0


# Publishes v000002, v000003, ... each followed by prune(keep=1), so every version but
# the newest is deleted soon after the next one goes live.
PUBLISHER = textwrap.dedent(
    """
    import sys, time
    from latentrec import Interactions
    from latentrec.models import GlobalMean
    from latentrec.service.versions import ModelDirectory, version_name
    import numpy as np

    folder, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    md = ModelDirectory(folder)
    print("ready", flush=True)
    sys.stdin.readline()  # "go": the readers are all reading
    deadline = time.monotonic() + seconds
    pruned = 0
    number = md.current().number
    while number < count + 1 and time.monotonic() < deadline:
        number += 1
        value = 1.0 + (number % 64) / 16.0
        model = GlobalMean().fit(Interactions.from_dense(np.full((2, 2), value)))
        version = md.publish(model, metrics={"mean": value})
        assert version.name == version_name(number), (version.name, number)
        pruned += len(md.prune(1))
    print(number, pruned, flush=True)
    """
)

# Loads the current version until the stop file appears (or the time runs out) and
# prints what it saw as JSON: the number of loads, the versions met, the first error.
READER = textwrap.dedent(
    """
    import json, os, sys, time
    from latentrec.service.versions import ModelDirectory

    folder, stop_file, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    md = ModelDirectory(folder)
    print("ready", flush=True)
    loads, names, error, last = 0, set(), None, 0
    deadline = time.monotonic() + seconds
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        try:
            version, model = md.load_current()
            mean = float(model.global_mean_)
            expected = 1.0 + (version.number % 64) / 16.0
            if not mean == version.metrics["mean"] == expected:
                raise AssertionError(f"{version.name}: model {mean}, recorded "
                                     f"{version.metrics['mean']}, published {expected}")
            if version.number < last:
                raise AssertionError(f"went back from v{last} to {version.name}")
            last = version.number
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            break
        loads += 1
        names.add(version.name)
    print(json.dumps({"loads": loads, "versions": len(names), "error": error}), flush=True)
    """
)


def script(code: str, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def ready(proc: subprocess.Popen) -> None:
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()


def test_readers_load_whole_versions_while_another_process_prunes(tmp_path):
    folder = tmp_path / "models"
    md = ModelDirectory(folder)
    md.publish(GlobalMean().fit(constant_data(mean_of(1))), metrics={"mean": mean_of(1)})
    stop_file = tmp_path / "stop"
    stop = threading.Event()
    loads: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def reader(slot: int) -> None:
        mine = ModelDirectory(folder)  # as another worker would open it
        last = 0
        deadline = time.monotonic() + SECONDS + 60
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                version, model = mine.load_current()
                mean = float(model.global_mean_)
                assert mean == version.metrics["mean"] == mean_of(version.number), version
                assert version.number >= last, (last, version.name)  # only publishes
                last = version.number
                loads[slot].append(version.name)
        except BaseException as err:  # surfaced in the main thread below
            errors.append(err)

    # Both processes start together (importing takes most of their start-up).
    other = script(READER, folder, stop_file, SECONDS + 60)
    publisher = script(PUBLISHER, folder, PUBLISHES, SECONDS)
    threads = [threading.Thread(target=reader, args=(slot,)) for slot in range(2)]
    for t in threads:
        t.start()
    try:
        ready(other), ready(publisher)
        out, err = publisher.communicate("go\n", timeout=SECONDS + 60)
        assert publisher.returncode == 0, err
    finally:
        stop.set()
        stop_file.touch()
        for t in threads:
            t.join(timeout=60)
        if publisher.poll() is None:
            publisher.kill()
        seen, other_err = other.communicate(timeout=60)
    assert other.returncode == 0, other_err
    assert not errors, repr(errors[0])
    last, pruned = map(int, out.split())
    process = json.loads(seen)
    assert process["error"] is None, process["error"]
    # The publisher really raced the readers: many versions went live and were deleted,
    # and every reader met several of them.
    assert last >= 20 and pruned == last - 1
    assert process["versions"] > 2 and all(len(set(names)) > 2 for names in loads)
    assert [v.name for v in md.versions()] == [md.read_pointer()] == [f"v{last:06d}"]
    leftovers = [p.name for p in (folder / "versions").iterdir() if p.name.startswith(".")]
    assert leftovers == []
