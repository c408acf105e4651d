"""What the service's item facts (each served item's genres, the genre matrix that the
``calibrate`` knob uses) cost to build, at catalogue scale.

A SQLite store in a temporary folder holds ``--titles`` titles with genres (some in a
second spelling, as rows written past the store's writers can leave them), and a served
model has every one of them.  The facts cache is built the way the service builds it
(``--wiring store``, the default: the store's genre column and change counter,
``genres=`` of :class:`~latentrec.service.knobs.FactsCache`) or as it built it before
(``--wiring app``: the whole catalogue read through ``store_catalogue`` only), then timed:

(a) the first build for a served model version;
(b) the build after one title is added, as ``POST /items`` does it (the store write,
    ``forget()``, a served model with one more item);
(c) the build after one title's genres are edited through this worker (``forget()``,
    then the next request);
(c') the same edit through another worker (``refresh()``, as the refresher runs it).

Each is repeated ``--repeat`` times (median and spread printed); at the end the
cached facts are checked against a full rebuild from the whole catalogue.

    .venv/bin/python benchmarks/genre_facts.py                  # 60,000 titles
    .venv/bin/python benchmarks/genre_facts.py --titles 5000 --wiring app
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import sqlalchemy as sa

from latentrec.models import FactorModel
from latentrec.service.holder import Served, with_new_items
from latentrec.service.knobs import FactsCache, ItemFacts
from latentrec.service.refresh import store_catalogue
from latentrec.store import Item, open_store
from latentrec.store.schema import items

GENRES = [
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]  # fmt: skip


def make_cache(store, wiring: str) -> FactsCache:
    """The facts cache as the service builds it (``store``: with the store's genre
    column), or as it built it before (``app``: the catalogue read as items only)."""
    if wiring == "app":
        return FactsCache(
            lambda: store_catalogue(store), store.item_first_seen, store.newest_timestamp
        )
    if "genres" not in inspect.signature(FactsCache).parameters:
        sys.exit("--wiring store: this FactsCache takes no genres= (a tree before it)")
    return FactsCache(
        lambda: store_catalogue(store),
        store.item_first_seen,
        store.newest_timestamp,
        genres=store.genre_lists,
    )


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def same(facts: ItemFacts, reference: ItemFacts) -> bool:
    if facts.genres != reference.genres or facts.genre_names != reference.genre_names:
        return False
    if facts.matrix is None or reference.matrix is None:
        return facts.matrix is None and reference.matrix is None
    return (
        facts.matrix.shape == reference.matrix.shape and (facts.matrix != reference.matrix).nnz == 0
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--wiring", choices=("app", "store"), default="store")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    def genres_of():
        names = rng.choice(GENRES, size=int(rng.integers(0, 4)), replace=False).tolist()
        # One title in fifty holds a genre in another case (as SQL past the store leaves it).
        return tuple(g.lower() if rng.random() < 0.02 else g for g in names)

    with tempfile.TemporaryDirectory() as folder:
        store = open_store(os.path.join(folder, "ratings.db"))
        titles = [Item(f"t{n:07d}", f"Title {n}", genres_of()) for n in range(args.titles)]
        store.add_items(titles)
        # The second spellings, written as a writer past the store does (in one statement).
        with store.db.write() as conn:
            rows = [
                {
                    "b_id": t.item_id,
                    "b_genres": '["' + '", "'.join(g.lower() for g in t.genres) + '"]',
                }
                for t in titles[::50]
                if t.genres
            ]
            stmt = (
                sa.update(items)
                .where(items.c.item_id == sa.bindparam("b_id"))
                .values(genres=sa.bindparam("b_genres"))
            )
            conn.execute(stmt, rows)
        ids = [t.item_id for t in titles]
        vectors = rng.normal(size=(len(ids), 8)).astype(np.float32)
        served = Served.build(FactorModel.from_factors(([1], ids), vectors), "v")

        first, added, edited, refreshed = [], [], [], []
        cache = None
        for _ in range(args.repeat):
            cache = make_cache(store, args.wiring)
            seconds, _ = timed(lambda c=cache: c.get(served))
            first.append(seconds)
        for r in range(args.repeat):
            item = Item(f"new{r:04d}", f"New {r}", genres_of())
            store.add_items([item])
            cache.forget()
            served = with_new_items(served, [store.get_item(item.item_id)])
            seconds, _ = timed(lambda s=served: cache.get(s))
            added.append(seconds)
        for _ in range(args.repeat):
            pick = titles[int(rng.integers(len(titles)))]
            store.add_items([Item(pick.item_id, pick.title, genres_of())])
            cache.forget()
            seconds, _ = timed(lambda s=served: cache.get(s))
            edited.append(seconds)
        for _ in range(args.repeat):
            pick = titles[int(rng.integers(len(titles)))]
            store.add_items([Item(pick.item_id, pick.title, genres_of())])
            seconds, _ = timed(lambda s=served: cache.refresh(s))
            refreshed.append(seconds)
        reference = ItemFacts.build(served, store_catalogue(store))
        checked = same(cache.get(served), reference)
        load = os.getloadavg()[0]

    print(f"titles {args.titles}, wiring {args.wiring}, {args.repeat} runs each, "
          f"load average {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(f"{'build':44} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, runs in (
        ("(a) first build for a served version", first),
        ("(b) after one title added (POST /items)", added),
        ("(c) after one genre edit, forget() + get", edited),
        ("(c') after one genre edit, refresh()", refreshed),
    ):
        ms = [s * 1000 for s in runs]
        print(f"{name:44} {statistics.median(ms):10.1f} {min(ms):8.1f} {max(ms):8.1f}")
    print(f"facts equal a full rebuild from the whole catalogue: {checked}")
    if not checked:
        sys.exit(1)


if __name__ == "__main__":
    main()
