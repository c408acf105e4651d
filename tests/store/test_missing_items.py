"""``add_missing_items``: inserts only the ids the catalogue lacks, checked against a
dict that models the catalogue, and from threads at once each id is inserted once;
``stored_item_ids`` answers as one ``get_item`` per id would."""

import threading

import numpy as np

from latentrec.store import Item, open_store


def test_add_missing_items_matches_a_dict_model_of_the_catalogue(store):
    rng = np.random.default_rng(0)
    model: dict[str, Item] = {}
    before = store.catalogue_version()
    for step in range(12):
        batch = [
            Item(str(i), f"t{step}-{i}", tuple(rng.choice(["A", "B", "C"], rng.integers(0, 3))))
            for i in rng.integers(0, 25, rng.integers(1, 8))
        ]
        if step % 3 == 0:
            store.add_items(batch)
            for item in batch:
                model[item.item_id] = item
            before = store.catalogue_version()
            continue
        expected = sorted({it.item_id for it in batch} - set(model))
        latest = {it.item_id: it for it in batch}  # the last of a repeated id
        assert store.add_missing_items(batch) == expected
        for item_id in expected:
            model[item_id] = latest[item_id]
        version = store.catalogue_version()
        assert (version > before) == bool(expected)
        before = version
    stored = {it.item_id: it for it in store.search_items(limit=1000)}
    assert set(stored) == set(model)
    for item_id, item in model.items():
        assert (stored[item_id].title, stored[item_id].genres) == (
            item.title,
            tuple(dict.fromkeys(item.genres)),
        )
    with_a = {it.item_id for it in store.search_items(genre="A", limit=1000)}
    assert with_a == {i for i, it in model.items() if "A" in it.genres}


def test_threads_adding_the_same_missing_items_insert_each_once(store_url):
    items = [Item(str(i), f"Film {i}") for i in range(200)]
    barrier, results, errors = threading.Barrier(4), [], []

    def add():
        try:
            with open_store(store_url) as store:
                barrier.wait(30)
                results.append(store.add_missing_items(items))
        except Exception as err:  # reported below, with the others
            errors.append(repr(err))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    inserted = [i for r in results for i in r]
    assert sorted(inserted) == sorted(it.item_id for it in items)
    with open_store(store_url) as store:
        assert len(store.search_items(limit=1000)) == 200


def test_stored_item_ids_matches_a_lookup_per_id(store):
    rng = np.random.default_rng(1)
    stored = [f"i{k}" for k in range(1200)] + ["a'b", "x/y", "名前", "100%_"]
    store.add_items([Item(i, None) for i in stored])
    asked = list(rng.choice(stored, 700)) + [f"n{k}" for k in range(600)]
    asked += ["", "A'B", "i1 ", "名前", "100%"]
    expected = {i for i in asked if store.get_item(i) is not None}
    assert store.stored_item_ids(asked) == expected
    assert store.stored_item_ids([]) == set()


def test_get_items_matches_a_lookup_per_id(store):
    rng = np.random.default_rng(2)
    stored = [f"i{k}" for k in range(1200)] + ["a'b", "x/y", "名前", "100%_"]
    store.add_items([Item(i, f"title of {i}", ("Drama",)) for i in stored])
    asked = list(rng.choice(stored, 700)) + [f"n{k}" for k in range(600)] + ["", "A'B", "名前"]
    expected = {i: store.get_item(i) for i in asked if store.get_item(i) is not None}
    assert store.get_items(asked) == expected
    assert store.get_items([]) == {}
