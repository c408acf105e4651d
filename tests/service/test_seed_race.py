"""Workers starting at once on one store seed the catalogue with the model's titles: each
title is added once, by one of them, none fails, and a catalogue entry written meanwhile
(an edit through a worker already serving) is never overwritten by a seed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
import sqlalchemy as sa

from latentrec import load
from latentrec.service.holder import Served
from latentrec.service.refresh import seed_catalogue
from latentrec.store import Item, open_store

# One worker's start-up seeding, in its own process: each says when it is ready and
# seeds when told to go, so that all seed at the same moment.
SEEDER = textwrap.dedent(
    """
    import sys
    from latentrec import load
    from latentrec.service.refresh import seed_catalogue
    from latentrec.service.holder import Served
    from latentrec.store import open_store

    url, model = sys.argv[1], sys.argv[2]
    served = Served.build(load(model), "v")
    with open_store(url) as store:
        store.search_items(limit=1)  # connected
        print("ready", flush=True)
        sys.stdin.readline()
        print(seed_catalogue(store, served), flush=True)
    """
)


def explicit(model_files):
    """The session's fitted BiasedMF (30 titles, "Film 0" to "Film 29")."""
    return load(model_files["explicit"])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "ratings.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_seeding_at_once_add_each_title_once(store_url, model_files, workers):
    with open_store(store_url):
        pass  # the schema exists before the workers race to seed
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SEEDER, store_url, str(model_files["explicit"])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    added = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        added.append(int(out.split()[-1]))
    with open_store(store_url) as store:
        catalogue = store.search_items(limit=1000)
        ids = [it.item_id for it in catalogue]
        assert len(ids) == len(set(ids)) == 30
        assert sum(added) == 30, added  # each title added by exactly one worker
        assert {it.title for it in catalogue} == {f"Film {j}" for j in range(30)}
        # Seeding again finds nothing to add.
        assert seed_catalogue(store, Served.build(explicit(model_files), "v")) == 0


class PausedCatalogue:
    """A store whose look-up of the ids it holds (the seed's read of the catalogue)
    returns what it read only once released: a worker that read the catalogue just
    before another worker wrote to it."""

    def __init__(self, store):
        self.store = store
        self.read, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.store, name)

    def stored_item_ids(self, *args, **kwargs):
        found = self.store.stored_item_ids(*args, **kwargs)
        self.read.set()
        assert self.release.wait(30)
        return found


def test_a_seed_never_overwrites_an_entry_written_after_it_read(store_url, model_files):
    served = Served.build(explicit(model_files), "v")
    with open_store(store_url) as store:
        paused = PausedCatalogue(store)
        added = []
        seeding = threading.Thread(target=lambda: added.append(seed_catalogue(paused, served)))
        seeding.start()
        try:
            assert paused.read.wait(30)  # the seed has read an empty catalogue
            edited = Item("100", "Film 0 (restored)", ("Drama", "Comedy"), {"year": 1999.0})
            store.add_items([edited])  # another worker's edit, committed meanwhile
        finally:
            paused.release.set()
            seeding.join(timeout=60)
        kept = store.get_item("100")
        assert (kept.title, kept.genres, kept.features) == (
            "Film 0 (restored)",
            ("Drama", "Comedy"),
            {"year": 1999.0},
        )
        assert added == [29]
        assert len(store.search_items(limit=1000)) == 30


def statements_of(store, call):
    """The SQL statements ``call()`` runs on ``store``."""
    seen: list[str] = []

    def hook(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(store.db.engine, "after_cursor_execute", hook)
    try:
        call()
    finally:
        sa.event.remove(store.db.engine, "after_cursor_execute", hook)
    return seen


def test_the_seed_reads_as_much_of_a_large_catalogue_as_of_a_small_one(store_url, model_files):
    # Before, the seed paged through the whole catalogue by title with OFFSET (a page
    # per CATALOGUE_PAGE titles, each reading and skipping every title before it): 6 s
    # of every worker's start at 60,000 titles.  Now it looks up the model's ids only.
    served = Served.build(explicit(model_files), "v")
    with open_store(store_url) as store:
        assert seed_catalogue(store, served) == 30
        store.add_items([Item(f"other-{j}", f"Other {j}") for j in range(10)])
        small = statements_of(store, lambda: seed_catalogue(store, served))
        store.add_items([Item(f"other-{j}", f"Other {j}") for j in range(10, 2_510)])
        large = statements_of(store, lambda: seed_catalogue(store, served))
        assert seed_catalogue(store, served) == 0
        assert len(large) == len(small), large
        assert not [s for s in large if "OFFSET" in s.upper()], large
