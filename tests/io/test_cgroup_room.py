"""The room under a container's memory limit leaves out the page cache the kernel would
give back (``inactive_file``): after reading a large CSV, ``memory.current`` counted that
cache and a fit that would run was refused as needing more than was "available"."""

from __future__ import annotations

import pytest

from latentrec.io.modelfile import cgroup_room


def write(root, **files):
    for name, text in files.items():
        (root / name.replace("_", ".", 1)).write_text(text)


def test_reclaimable_file_cache_counts_as_room(tmp_path):
    write(
        tmp_path,
        memory_max="10000\n",
        memory_current="9000\n",
        memory_stat="anon 2000\nfile 7000\nactive_file 1000\ninactive_file 6000\n",
    )
    # 10000 - (9000 - 6000): the active cache stays counted, as container runtimes do.
    assert cgroup_room(str(tmp_path)) == 7000


def test_without_a_limit_there_is_no_room_to_report(tmp_path):
    write(tmp_path, memory_max="max\n", memory_current="9000\n")
    assert cgroup_room(str(tmp_path)) is None
    assert cgroup_room(str(tmp_path / "no-cgroup")) is None


@pytest.mark.parametrize(
    "current, stat, room",
    [
        ("9000", None, 1000),  # no memory.stat: the usage as reported
        ("9000", "anon 9000\n", 1000),  # nothing reclaimable
        ("9000", "inactive_file 20000\n", 10000),  # more cache than usage: never negative use
        ("12000", "inactive_file 1000\n", 0),  # over the limit: no room, not negative
        ("9000", "garbled\n", 1000),  # an unreadable stat is ignored, not fatal
    ],
)
def test_room_is_the_limit_less_what_cannot_be_reclaimed(tmp_path, current, stat, room):
    write(tmp_path, memory_max="10000\n", memory_current=current + "\n")
    if stat is not None:
        write(tmp_path, memory_stat=stat)
    assert cgroup_room(str(tmp_path)) == room
