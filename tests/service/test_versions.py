"""Model versions: publish, current, rollback, prune, the pointer, and real concurrency."""

from __future__ import annotations

import json
import os
import shutil
import threading

import numpy as np
import pytest

import latentrec
from latentrec.errors import ModelFileError
from latentrec.models import Biases, GlobalMean
from latentrec.service.versions import ModelDirectory, StaleVersionError, Version

from .retrain_helpers import constant_data, start_publishers, wait_all


def mean_model(value: float) -> GlobalMean:
    return GlobalMean().fit(constant_data(value))


def test_empty_directory_is_created_and_has_no_current(tmp_path):
    md = ModelDirectory(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert md.current() is None and md.versions() == [] and md.pointer_token() == "none"
    with pytest.raises(LookupError, match="no model version published"):
        md.load_current()
    with pytest.raises(LookupError, match="nothing is published"):
        md.rollback()


def test_a_file_is_not_a_model_directory(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        ModelDirectory(tmp_path / "f")


def test_publish_records_the_model_its_metrics_and_note(small_data, tmp_path):
    md = ModelDirectory(tmp_path)
    model = Biases().fit(small_data)
    v = md.publish(model, metrics={"rmse": np.float64(0.9), "n": np.int64(3)}, note="hello")
    assert isinstance(v, Version)
    assert v.name == "v000001" and v.note == "hello" and v.metrics == {"rmse": 0.9, "n": 3}
    assert v.path == tmp_path / "versions" / "v000001" / "model.npz" and v.path.is_file()
    assert md.current() == v and md.versions() == [v]
    loaded_version, loaded = md.load_current()
    assert loaded_version.name == "v000001"
    users, items = small_data.users.ids[:5], small_data.items.ids[:5]
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    # The folder holds exactly the model file and its description; no staging left over.
    assert sorted(p.name for p in v.folder.iterdir()) == ["model.npz", "version.json"]
    assert [p.name for p in (tmp_path / "versions").iterdir()] == ["v000001"]
    info = json.loads((v.folder / "version.json").read_text())
    assert info["algorithm"] == "Biases" and info["previous"] is None


def test_publish_needs_a_fitted_model_and_json_metrics(tmp_path):
    md = ModelDirectory(tmp_path)
    with pytest.raises(latentrec.NotFittedError):
        md.publish(Biases())
    with pytest.raises(TypeError, match="cannot store"):
        md.publish(mean_model(3.0), metrics={"x": object()})
    assert md.versions() == [] and md.current() is None


def test_rollback_walks_back_and_numbering_continues(tmp_path):
    md = ModelDirectory(tmp_path)
    for value in (1.0, 2.0, 3.0):
        md.publish(mean_model(value), metrics={"mean": value})
    assert md.rollback().name == "v000002"
    assert md.load_current()[1].global_mean_ == 2.0
    assert md.rollback().name == "v000001"
    with pytest.raises(LookupError, match="oldest version"):
        md.rollback()
    assert md.rollback("v000003").name == "v000003"
    assert md.rollback(to="v000002").name == "v000002"
    v4 = md.publish(mean_model(4.0))
    assert v4.name == "v000004" and md.current().name == "v000004"
    actions = [(e["action"], e["version"], e["previous"]) for e in md.history()]
    assert actions == [
        ("publish", "v000001", None),
        ("publish", "v000002", "v000001"),
        ("publish", "v000003", "v000002"),
        ("rollback", "v000002", "v000003"),
        ("rollback", "v000001", "v000002"),
        ("rollback", "v000003", "v000001"),
        ("rollback", "v000002", "v000003"),
        ("publish", "v000004", "v000002"),
    ]


def test_rollback_to_an_unknown_or_malformed_name(tmp_path):
    md = ModelDirectory(tmp_path)
    md.publish(mean_model(1.0))
    with pytest.raises(LookupError, match=r"no version 'v000007'.*known: \['v000001'\]"):
        md.rollback("v000007")
    with pytest.raises(ValueError, match="not a version name"):
        md.rollback("../../etc")
    assert md.current().name == "v000001"


def test_rollback_refuses_a_damaged_version(tmp_path):
    md = ModelDirectory(tmp_path)
    v1 = md.publish(mean_model(1.0))
    md.publish(mean_model(2.0))
    v1.path.write_bytes(v1.path.read_bytes()[:100])
    with pytest.raises(ModelFileError):
        md.rollback("v000001")
    assert md.current().name == "v000002"


def test_pointer_token_changes_on_every_switch_and_only_then(tmp_path):
    md = ModelDirectory(tmp_path)
    tokens = [md.pointer_token()]
    model = mean_model(1.0)
    for _ in range(20):  # back to back, well inside one tick of a coarse file clock
        md.publish(model)
        tokens.append(md.pointer_token())
        assert md.pointer_token() == tokens[-1]  # stable while nothing changes
    for _ in range(5):
        md.rollback()
        tokens.append(md.pointer_token())
    assert all(a != b for a, b in zip(tokens, tokens[1:], strict=False))
    md.versions()
    md.load_current()
    assert md.pointer_token() == tokens[-1]


def test_a_damaged_pointer_is_named(tmp_path):
    md = ModelDirectory(tmp_path)
    md.publish(mean_model(1.0))
    md.pointer_path.write_text("garbage")
    with pytest.raises(ModelFileError, match="CURRENT is damaged"):
        md.current()


def test_prune_keeps_the_newest_and_the_current(tmp_path):
    md = ModelDirectory(tmp_path)
    for value in range(5):
        md.publish(mean_model(float(value + 1)))
    md.rollback("v000001")
    assert md.prune(2) == ["v000002", "v000003"]
    assert [v.name for v in md.versions()] == ["v000001", "v000004", "v000005"]
    assert md.current().name == "v000001"
    assert md.prune(1) == ["v000004"]
    with pytest.raises(ValueError, match="keep must be"):
        md.prune(0)
    # Names are never reused, even when the newest folder disappears behind our back.
    shutil.rmtree(tmp_path / "versions" / "v000005")
    assert md.publish(mean_model(9.0)).name == "v000006"


def test_publish_if_current_refuses_a_stale_expectation(tmp_path):
    md = ModelDirectory(tmp_path)
    md.publish(mean_model(1.0), if_current=None)
    with pytest.raises(StaleVersionError, match="is v000001, not none"):
        md.publish(mean_model(2.0), if_current=None)
    assert md.publish(mean_model(2.0), if_current="v000001").name == "v000002"
    assert [v.name for v in md.versions()] == ["v000001", "v000002"]
    assert not [p for p in (tmp_path / "versions").iterdir() if p.name.startswith(".")]


def test_two_processes_publish_while_threads_read(tmp_path):
    """Two publisher processes at once; reader threads load current in a loop meanwhile.

    Every load must be a complete, checksummed model of a published version whose file
    agrees with its version.json; afterwards every number is used exactly once.
    """
    md = ModelDirectory(tmp_path)
    md.publish(mean_model(0.5), metrics={"mean": 0.5})
    count = 12
    stop = threading.Event()
    seen: list[list[tuple[str, float]]] = [[], []]
    errors: list[BaseException] = []

    def reader(slot: int) -> None:
        mine = ModelDirectory(tmp_path)  # as another worker would open it
        last_number = 0
        try:
            while not stop.is_set():
                version, model = mine.load_current()
                assert model.global_mean_ == version.metrics["mean"]
                assert version.number >= last_number  # only publishes: never backwards
                last_number = version.number
                seen[slot].append((version.name, float(model.global_mean_)))
        except BaseException as err:  # surfaced in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=reader, args=(slot,)) for slot in range(2)]
    for t in threads:
        t.start()
    try:
        wait_all(start_publishers(tmp_path, tags=(1, 2), count=count))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[0]
    versions = md.versions()
    assert [v.number for v in versions] == list(range(1, 2 * count + 2))
    assert md.current().name == versions[-1].name
    means = sorted(v.metrics["mean"] for v in versions[1:])
    assert means == sorted(1.0 + tag + j / 16 for tag in (1, 2) for j in range(count))
    for v in versions:
        assert latentrec.load(v.path).global_mean_ == v.metrics["mean"]
    assert len(md.history()) == 2 * count + 1
    # The reads overlapped the publishing: they met several versions, not just the first.
    assert len({name for s in seen for name, _ in s}) > 2
    leftovers = [p.name for p in (tmp_path / "versions").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_stray_entries_in_the_versions_folder_do_not_move_the_numbering(tmp_path):
    """Files and folders left by hand under ``versions/`` (notes, an empty ``v000099``)
    made the next publish jump to v000100; only versions count now, and none of those
    entries is replaced or listed."""
    md = ModelDirectory(tmp_path)
    md.publish(mean_model(1.0))
    stray = md.path / "versions"
    (stray / "notes.txt").write_text("what v1 was", encoding="utf-8")
    (stray / "v0099").write_text("too few digits", encoding="utf-8")
    (stray / "v000099").write_text("a file under a version's name", encoding="utf-8")
    (stray / "v000050").mkdir()  # an empty folder: a rename would replace it
    (stray / "v000003").mkdir()  # exactly the name after the next: skipped, kept
    assert md.publish(mean_model(2.0)).name == "v000002"
    assert md.publish(mean_model(3.0)).name == "v000004"
    assert (stray / "v000003").is_dir() and not any((stray / "v000003").iterdir())
    assert [v.name for v in md.versions()] == ["v000001", "v000002", "v000004"]
    assert (stray / "v000099").read_text(encoding="utf-8") == "a file under a version's name"
    # A damaged version is still a version: its number is never reused.
    (stray / "v000007").mkdir()
    (stray / "v000007" / "version.json").write_text("{cut", encoding="utf-8")
    assert md.publish(mean_model(4.0)).name == "v000008"
