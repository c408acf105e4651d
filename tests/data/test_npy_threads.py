"""Threads reading model files and .lrdata files at once parse .npy headers one at a time.

NumPy parses each header with ``ast.literal_eval``, and on CPython 3.11 two threads in the
AST builder at once can fail with "SystemError: AST constructor recursion depth mismatch"
(gh-106905).  The failure needs an unlucky thread switch, so these tests watch for the
overlap itself instead: ``ast.literal_eval`` is wrapped to note how many threads are
inside it and to linger there, which makes any overlap certain where no lock prevents it.
"""

from __future__ import annotations

import ast
import threading
import time

import numpy as np
import pytest

import latentrec
from latentrec import Interactions
from latentrec.data.lrdata import read_lrdata
from latentrec.models import Biases


@pytest.fixture
def watched(monkeypatch):
    """The most threads seen inside ``ast.literal_eval`` at once."""
    real = ast.literal_eval
    state = {"inside": 0, "most": 0}
    guard = threading.Lock()

    def literal_eval(text):
        with guard:
            state["inside"] += 1
            state["most"] = max(state["most"], state["inside"])
        try:
            time.sleep(0.002)  # a thread switch here is what the lock must make harmless
            return real(text)
        finally:
            with guard:
                state["inside"] -= 1

    monkeypatch.setattr(ast, "literal_eval", literal_eval)
    return state


@pytest.fixture
def files(tmp_path):
    data = Interactions.from_arrays(
        ["a", "b", "c", "a"], [1, 2, 3, 3], [1.0, 2.0, 4.0, 5.0], timestamps=[1.0, 2, 3, 4]
    )
    lrdata = data.to_lrdata(tmp_path / "r.lrdata")
    model = tmp_path / "m.npz"
    Biases().fit(data).save(model)
    return data, lrdata, model


def _run_together(jobs) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job):
        start.wait()
        try:
            for _ in range(3):
                job()
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


@pytest.mark.parametrize("mmap", [True, False])
def test_lrdata_reads_parse_headers_one_thread_at_a_time(watched, files, mmap):
    data, lrdata, _ = files
    errors = _run_together([lambda: read_lrdata(Interactions, lrdata, mmap=mmap)] * 3)
    assert not errors, errors
    assert watched["most"] == 1, f"{watched['most']} threads parsed .npy headers at once"
    assert read_lrdata(Interactions, lrdata, mmap=mmap).fingerprint() == data.fingerprint()


def test_model_and_lrdata_reads_share_one_lock(watched, files):
    _, lrdata, model = files
    errors = _run_together(
        [lambda: read_lrdata(Interactions, lrdata), lambda: latentrec.load(model)] * 2
    )
    assert not errors, errors
    assert watched["most"] == 1, f"{watched['most']} threads parsed .npy headers at once"


def test_the_header_lock_is_not_held_while_the_array_bytes_are_read(tmp_path):
    """Only the header parse is serialised: a reader blocked mid-array (a slow disk, a
    huge array) does not hold up another thread's load."""
    import io

    from latentrec.data.npyfile import read_npy

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(1000, dtype=np.int64))
    raw = buf.getvalue()
    reached, release = threading.Event(), threading.Event()

    class Slow(io.BytesIO):
        def readinto(self, b):
            reached.set()
            release.wait(10)
            return super().readinto(b)

    out = {}
    slow = threading.Thread(target=lambda: out.setdefault("a", read_npy(Slow(raw), len(raw))))
    slow.start()
    try:
        assert reached.wait(10)
        other = threading.Thread(target=lambda: out.setdefault("b", read_npy(io.BytesIO(raw))))
        other.start()
        other.join(5)
        blocked = other.is_alive()
    finally:
        release.set()
        slow.join(10)
    other.join(10)
    assert not blocked, "a read waited for another thread's array bytes"
    assert out["a"].tolist() == out["b"].tolist() == list(range(1000))
