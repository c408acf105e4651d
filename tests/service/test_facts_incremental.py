"""The item facts (each served item's genres, the genre matrix) kept up to date by what
changed in the catalogue, not rebuilt from a full read of it per served model version.

Every served version (a retrain, and every title added through ``POST /items``) read the
whole catalogue and spelled every genre again: at 60,000 titles the first request with a
re-ranking knob after each change paid for it.  The facts now come from one copy of the
catalogue's genres (:class:`~latentrec.service.knobs.GenreCopy`) brought up to date by
the entries that changed.  The reference is the slow, obvious build: a full read of the
catalogue through :meth:`ItemFacts.build` (``one_spelling_each`` over every entry).
"""

from __future__ import annotations

import json
import random
import threading

import numpy as np
import pytest
import sqlalchemy as sa

from latentrec.models import FactorModel
from latentrec.service import knobs
from latentrec.service.holder import Served, with_new_items
from latentrec.service.knobs import FactsCache, ItemFacts
from latentrec.store import Item, open_store
from latentrec.store.schema import items
from latentrec.store.writes import bump_catalogue

# Spellings of a few genres (as rows written past the store's writers can hold them),
# composed and decomposed accents included.
SPELLINGS = [
    ["Drama", "drama", "DRAMA "],
    ["Sci-Fi", "sci-fi", "SCI-FI"],
    ["War"],
    ["Comedy", "comedy"],
    ["Film-Noir"],
    ["Épique", "E\u0301pique", "épique"],
]


def same_facts(facts: ItemFacts, reference: ItemFacts) -> None:
    assert facts.serial == reference.serial
    assert facts.genres == reference.genres
    assert facts.genre_names == reference.genre_names
    if reference.matrix is None:
        assert facts.matrix is None
        return
    assert facts.matrix.shape == reference.matrix.shape
    assert (facts.matrix != reference.matrix).nnz == 0
    assert np.all(facts.matrix.data == 1.0)


def reference(store, served: Served) -> ItemFacts:
    return ItemFacts.build(served, store.all_items())


def served_of(ids, seed=0) -> Served:
    vectors = np.random.default_rng(seed).normal(size=(len(ids), 3))
    return Served.build(FactorModel.from_factors(([1], list(ids)), vectors), "v")


def some_genres(rng: random.Random) -> tuple[str, ...]:
    return tuple(rng.choice(rng.choice(SPELLINGS)) for _ in range(rng.randint(0, 3)))


def write_past_the_store(store, item_id: str, names) -> None:
    """An entry's genres as a writer past the store's own leaves them (any spelling),
    raising the catalogue's counter as every catalogue write does."""
    with store.db.write() as conn:
        conn.execute(
            sa.update(items)
            .where(items.c.item_id == item_id)
            .values(genres=json.dumps(list(names), ensure_ascii=False))
        )
        bump_catalogue(conn, store.dialect)


def remove_past_the_store(store, item_id: str) -> None:
    with store.db.write() as conn:
        conn.execute(sa.delete(items).where(items.c.item_id == item_id))
        bump_catalogue(conn, store.dialect)


def make_cache(store, source: str) -> FactsCache:
    if source == "genres":
        return FactsCache(store.all_items, dict, genres=store.genre_lists)
    return FactsCache(store.all_items, dict)


@pytest.mark.parametrize("source", ["genres", "catalogue"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_kept_facts_equal_a_full_rebuild_after_random_changes(source, seed):
    rng = random.Random(seed)
    store = open_store(":memory:")
    ids = [f"t{n:03d}" for n in range(40)]
    store.add_items([Item(x, f"Title {x}", some_genres(rng)) for x in ids])
    for x in rng.sample(ids, 10):  # other spellings, as rows written past the store
        write_past_the_store(store, x, some_genres(rng))
    cache = make_cache(store, source)
    served = served_of(ids[:30] + ["not-in-catalogue"])
    earlier: list[Served] = []
    same_facts(cache.get(served), reference(store, served))
    for step in range(60):
        op = rng.choice(["add", "edit", "respell", "remove", "swap", "refresh"])
        catalogue = store.all_item_ids()
        if op == "add":
            new_id = f"n{seed}-{step}"
            store.add_items([Item(new_id, "New", some_genres(rng))])
            cache.forget()
            earlier.append(served)
            served = with_new_items(served, [store.get_item(new_id)])
        elif op == "edit" and catalogue:
            x = rng.choice(catalogue)
            store.add_items([Item(x, "Edited", some_genres(rng))])
            cache.forget()
        elif op == "respell" and catalogue:
            write_past_the_store(store, rng.choice(catalogue), some_genres(rng))
            cache.forget()
        elif op == "remove" and catalogue:
            remove_past_the_store(store, rng.choice(catalogue))
            cache.forget()
        elif op == "swap" and catalogue:
            # A retrain: another set of items, in another order.
            earlier.append(served)
            picked = rng.sample(catalogue, k=min(len(catalogue), rng.randint(1, 45)))
            served = served_of(picked, seed=step)
        elif op == "refresh" and catalogue:
            # An edit through another worker: the refresher builds the facts aside.
            write_past_the_store(store, rng.choice(catalogue), some_genres(rng))
            cache.refresh(served)
        same_facts(cache.get(served), reference(store, served))
        if earlier and rng.random() < 0.3:
            # A request still on a model served before.
            older = rng.choice(earlier)
            same_facts(cache.get(older), reference(store, older))


def test_an_edit_that_changes_which_spelling_wins_respells_every_entry():
    store = open_store(":memory:")
    ids = ["a", "b", "c", "d"]
    store.add_items([Item(x, x, ("Sci-Fi", "War")) for x in ids[:2]] + [Item("c", "c", ("War",))])
    store.add_items([Item("d", "d")])
    write_past_the_store(store, "c", ["sci-fi"])
    cache = FactsCache(store.all_items, dict, genres=store.genre_lists)
    served = served_of(ids)
    assert cache.get(served).genres == [["Sci-Fi", "War"], ["Sci-Fi", "War"], ["Sci-Fi"], []]
    write_past_the_store(store, "d", ["SCI-FI", "sci-fi"])  # 2 x Sci-Fi, 2 x sci-fi: a tie
    cache.forget()
    facts = cache.get(served)
    same_facts(facts, reference(store, served))
    assert facts.genre_names == ["Sci-Fi", "War"]  # code-point order breaks the tie
    write_past_the_store(store, "a", ["sci-fi", "War"])  # now 3 x sci-fi
    cache.forget()
    facts = cache.get(served)
    same_facts(facts, reference(store, served))
    assert facts.genres == [["sci-fi", "War"], ["sci-fi", "War"], ["sci-fi"], ["sci-fi"]]
    assert facts.genre_names == ["War", "sci-fi"]


def test_one_title_added_or_edited_builds_only_its_own_rows(monkeypatch):
    """The patch path: after a title is added, the genre matrix is made for that one
    row (and stacked under the previous one); after an edit, for none, and only the
    entries that changed are read."""
    store = open_store(":memory:")
    ids = [f"t{n:03d}" for n in range(300)]
    rng = random.Random(7)
    store.add_items([Item(x, x, (rng.choice(["Drama", "War", "Comedy"]),)) for x in ids])
    cache = FactsCache(store.all_items, dict, genres=store.genre_lists)
    served = served_of(ids)
    cache.get(served)
    made: list[int] = []
    full = knobs.genre_matrix
    monkeypatch.setattr(knobs, "genre_matrix", lambda g, n: made.append(len(g)) or full(g, n))
    readings: list = []
    reading = cache.copy.reading
    monkeypatch.setattr(cache.copy, "reading", lambda raw: readings.append(raw) or reading(raw))

    store.add_items([Item("new", "New", ("War",))])
    cache.forget()
    served = with_new_items(served, [store.get_item("new")])
    facts = cache.get(served)
    assert made == [1] and readings == ['["War"]']
    same_facts(facts, reference(store, served))

    made.clear()
    readings.clear()
    store.add_items([Item("t005", "Edited", ("Comedy", "Drama"))])
    cache.forget()
    facts = cache.get(served)
    assert made == [] and readings == ['["Comedy", "Drama"]']
    same_facts(facts, reference(store, served))


def test_a_retrain_with_the_catalogue_unchanged_reads_only_the_counter():
    store = open_store(":memory:")
    store.add_items([Item("a", "A", ("Drama",)), Item("b", "B", ("War",))])
    asked = []

    def genres(since):
        found = store.genre_lists(since)
        asked.append(found[1] is None)
        return found

    cache = FactsCache(store.all_items, dict, genres=genres)
    cache.get(served_of(["a", "b"]))
    retrained = served_of(["b", "a", "c"], seed=1)
    same_facts(cache.get(retrained), reference(store, retrained))
    assert asked == [False, True]


@pytest.mark.parametrize("source", ["genres", "catalogue"])
def test_requests_during_edits_never_see_a_mix(tmp_path, source):
    """Each edit gives two titles one new genre in one write; a request, on any thread,
    sees both with the old genre or both with the new one, in its genre lists and in
    its matrix alike, while edits come through this worker (``forget``) and the
    refresher rebuilds the facts aside (``refresh``)."""
    store = open_store(str(tmp_path / "ratings.db"))
    ids = [f"t{n:03d}" for n in range(200)]
    store.add_items([Item(x, x, ("Drama",)) for x in ids])
    cache = make_cache(store, source)
    served = served_of(ids)
    a, b = served.item_index["t010"], served.item_index["t150"]
    cache.get(served)
    done = threading.Event()
    errors: list[BaseException] = []
    seen: set[tuple[str, ...]] = set()

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as err:  # reported by the test's thread
                errors.append(err)
                done.set()

        return run

    @guarded
    def writer():
        try:
            for k in range(40):
                genre = ["War", "war", "Comedy", "Film-Noir"][k % 4] + str(k % 7)
                store.add_items([Item("t010", "A", (genre,)), Item("t150", "B", (genre,))])
                cache.forget()
        finally:
            done.set()

    @guarded
    def refresher():
        while not done.is_set():
            cache.refresh(served)

    @guarded
    def reader():
        while not done.is_set():
            facts = cache.get(served)
            assert facts.genres[a] == facts.genres[b]
            seen.add(tuple(facts.genres[a]))
            row_a = facts.matrix[a].toarray().ravel()
            assert row_a.tolist() == facts.matrix[b].toarray().ravel().tolist()
            assert [facts.genre_names[j] for j in np.flatnonzero(row_a)] == facts.genres[a]

    threads = [threading.Thread(target=f) for f in (writer, refresher, reader, reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[0]
    assert len(seen) > 1  # the readers did see edits
    same_facts(cache.get(served), reference(store, served))
