"""The refresher's "anything new?" check (every ``ITEM_CHECK_TICKS`` rounds) follows the
catalogue's change counter, not its count of titles.

Before, it asked the store for one title past the count seen last time
(``search_items(limit=1, offset=seen)``: 96 ms at 60,000 titles on SQLite, the counter
0.1 ms), assuming titles are never removed: a title removed in SQL and another added left
the count where it was, and the new title never reached the served model.
"""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from latentrec.models import FactorModel
from latentrec.service.holder import FixedSource, ModelHolder
from latentrec.service.metrics import ServiceMetrics
from latentrec.service.refresh import ITEM_CHECK_TICKS, Refresher, add_store_items
from latentrec.store import Item, open_store
from latentrec.store.schema import item_genres, items

from .test_seed_race import statements_of

TITLES = {"1": "Heat", "2": "Up", "3": "Ran", "4": "Jaws", "5": "Alien", "6": "Brazil"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "ratings.sqlite")
    return request.getfixturevalue("pg_url")


def worker(store):
    """A worker's model holder (the store's titles added to each model it loads) and its
    refresher, serving a model of the six titles."""
    model = FactorModel.from_factors(([1], list(TITLES)), np.eye(len(TITLES)))
    holder = ModelHolder(FixedSource(model), prepare=lambda served: add_store_items(store, served))
    return holder, Refresher(holder, store, ServiceMetrics(), every=1.0)


def remove_in_sql(store, item_id):
    # Past the store (it has no way to remove a title): a program or a person in SQL.
    with store.db.write() as conn:
        conn.execute(sa.delete(item_genres).where(item_genres.c.item_id == item_id))
        conn.execute(sa.delete(items).where(items.c.item_id == item_id))


def catalogue_reads(store, call):
    """The statements ``call()`` runs that read the catalogue's rows."""
    return [
        s
        for s in statements_of(store, call)
        if s.lstrip().upper().startswith("SELECT") and "LR_ITEMS" in s.upper()
    ]


def test_a_title_added_after_one_was_removed_reaches_the_served_model(store_url):
    with open_store(store_url) as store, open_store(store_url) as other:
        store.add_items([Item(i, t) for i, t in TITLES.items()])
        holder, refresher = worker(store)
        refresher.tick()  # a checking round: nothing new
        assert holder.current.n_items == len(TITLES)
        # Behind the worker's back: one title removed, another added by another worker;
        # the catalogue holds as many titles as before.
        remove_in_sql(other, "1")
        other.add_items([Item("7", "Seven Samurai")])
        for _ in range(ITEM_CHECK_TICKS):
            refresher.tick()
        served = holder.current
        assert "7" in served.item_index
        # The removed title stays served (a model only ever gains titles).
        assert served.n_items == len(TITLES) + 1 and "1" in served.item_index


def test_a_check_that_finds_nothing_new_reads_no_title(store_url):
    with open_store(store_url) as store:
        store.add_items([Item(i, t) for i, t in TITLES.items()])
        holder, _ = worker(store)
        served = holder.current
        assert catalogue_reads(store, lambda: add_store_items(store, served)) == []
        assert add_store_items(store, served) is served


def test_a_new_model_version_gets_the_store_titles_though_the_catalogue_stood(store_url):
    with open_store(store_url) as store:
        store.add_items([Item(i, t) for i, t in TITLES.items()] + [Item("7", "Seven")])
        holder, _ = worker(store)
        assert "7" in holder.current.item_index
        version = store.catalogue_version()
        assert holder.reload(force=True)  # the same titles, a new model: added again
        assert "7" in holder.current.item_index
        assert store.catalogue_version() == version


def reads_whole_titles(statements):
    """Those of ``statements`` that read a title's genres or features (not only ids)."""
    return [s for s in statements if "LR_ITEMS.GENRES" in s.upper() or "FEATURES" in s.upper()]


def test_an_edit_of_a_title_the_model_has_reads_no_title_whole(store_url):
    # Before, any catalogue write (most edit the genres of titles the model has) made
    # every worker read every title whole: 440 ms at 60,000 titles on SQLite, the ids
    # alone about 100 ms.
    with open_store(store_url) as store, open_store(store_url) as other:
        store.add_items([Item(i, t) for i, t in TITLES.items()])
        holder, _ = worker(store)
        served = holder.current
        other.add_items([Item("3", "Ran", ("Drama",))])
        reads = catalogue_reads(store, lambda: add_store_items(store, served))
        assert reads and reads_whole_titles(reads) == []
        after = add_store_items(store, served)
        assert after.n_items == len(TITLES)
        assert after.store_catalogue_seen == store.catalogue_version()


def test_a_new_title_is_read_whole_and_added_beside_an_edit(store_url):
    with open_store(store_url) as store, open_store(store_url) as other:
        store.add_items([Item(i, t) for i, t in TITLES.items()])
        holder, _ = worker(store)
        other.add_items([Item("3", "Ran", ("Drama",)), Item("7", "Seven", ("War",))])
        served = add_store_items(store, holder.current)
        assert served.n_items == len(TITLES) + 1 and "7" in served.item_index


def test_a_title_removed_between_the_two_reads_is_left_out(store_url):
    with open_store(store_url) as store, open_store(store_url) as other:
        store.add_items([Item(i, t) for i, t in TITLES.items()])
        holder, _ = worker(store)
        other.add_items([Item("7", "Seven"), Item("8", "Eight")])
        real = store.item_titles

        def ids_then_removed():
            ids = real()
            remove_in_sql(other, "8")  # after the ids were read, before the titles
            return ids

        store.item_titles = ids_then_removed
        served = add_store_items(store, holder.current)
        assert "7" in served.item_index and "8" not in served.item_index
