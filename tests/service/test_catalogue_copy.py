"""A worker's copy of the store's catalogue (``store_catalogue``: what the item facts and
the titles added to the served model are built from) is one state of the catalogue,
however titles are added, renamed or removed (past the store) while it is read page by
page: no title missing, none twice.
"""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from store.pgserver import ENGINES

from latentrec.models import FactorModel
from latentrec.service import refresh
from latentrec.service.holder import Served
from latentrec.service.refresh import add_store_items, store_catalogue
from latentrec.store import Item, open_store
from latentrec.store.schema import item_genres, items

# Six titles, read two a page: in title order a, c, e, g, i, k.
TITLES = {"1": "a", "2": "c", "3": "e", "4": "g", "5": "i", "6": "k"}


@pytest.fixture(params=ENGINES)
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ratings.db'}"
    return request.getfixturevalue("postgres_url")


def after_first_read(store, change):
    """Run ``change`` once, just after the first statement that reads the catalogue's
    rows (another worker's write landing between two page reads)."""
    done = []

    def hook(conn, cursor, statement, *args):
        text = statement.lstrip().upper()
        if not done and text.startswith("SELECT") and "LR_ITEMS.GENRES" in text:
            done.append(True)
            change()

    sa.event.listen(store.db.engine, "after_cursor_execute", hook)
    return done


def add_before(other):
    other.add_items([Item("7", "b")])  # sorts into the page already read


def rename_last(other):
    other.add_items([Item("6", "0 now first")])  # the last title now sorts first


def remove_first(other):
    # Past the store (it has no way to remove a title): a program or a person in SQL.
    with other.db.write() as conn:
        conn.execute(sa.delete(item_genres).where(item_genres.c.item_id == "1"))
        conn.execute(sa.delete(items).where(items.c.item_id == "1"))


@pytest.mark.parametrize("change", [add_before, rename_last, remove_first])
def test_the_copy_is_one_state_of_the_catalogue(store_url, monkeypatch, change):
    monkeypatch.setattr(refresh, "CATALOGUE_PAGE", 2)
    with open_store(store_url) as store, open_store(store_url) as other:
        store.add_items([Item(i, t, ("Drama",)) for i, t in TITLES.items()])
        fired = after_first_read(store, lambda: change(other))
        copy = store_catalogue(store)
        assert fired
        ids = [it.item_id for it in copy]
        assert len(ids) == len(set(ids)), f"a title twice: {ids}"
        # The catalogue as it was when the copy began (the change came after).
        assert {it.item_id: it.title for it in copy} == TITLES


def test_a_title_added_during_a_copy_reaches_the_served_model(store_url, monkeypatch):
    monkeypatch.setattr(refresh, "CATALOGUE_PAGE", 2)
    model = FactorModel.from_factors(([1], list(TITLES)), np.eye(len(TITLES)))
    served = Served.build(model, "v")
    with open_store(store_url) as store, open_store(store_url) as other:
        store.add_items([Item(i, t) for i, t in TITLES.items()])
        # Just after the copy's first read of the catalogue (its ids, or its titles).
        done = []

        def hook(conn, cursor, statement, *args):
            text = statement.lstrip().upper()
            if not done and text.startswith("SELECT") and "FROM LR_ITEMS" in text:
                done.append(True)
                add_before(other)

        sa.event.listen(store.db.engine, "after_cursor_execute", hook)
        served = add_store_items(store, served)
        assert done
        # The next looks find it: the version kept is the one read before the copy.
        served = add_store_items(store, served)
        assert "7" in served.item_index
        assert served.store_catalogue_seen == store.catalogue_version()
