"""What the service knows about the served items beyond the model, and the re-ranking
knobs of ``GET /users/{id}/recommendations`` that use it.

Owns :class:`ItemFacts` (each served item's genres from the store's catalogue, the
items x genres matrix, and, when first asked for, each item's age), built once per
served model version (:class:`FactsCache`) from a copy of the catalogue's genres kept
up to date by the entries that changed (:class:`GenreCopy`), and :func:`rerank`, which
applies the re-rankers of :mod:`latentrec.pipeline.rerank` to one user's candidates the
way a :class:`~latentrec.pipeline.Pipeline` chains its stages; :func:`reranked` gives a user's
list with the knobs (their candidates are the list they get without knobs), and
:func:`warm_knobs` runs each knob once before a worker says warm:

- ``diversity`` (0-1): maximal marginal relevance in the model's latent space
  (:func:`~latentrec.pipeline.mmr` with ``lambda_ = 1 - diversity``);
- ``calibrate`` (0-1): Steck's calibration of the list's genres to the genres of
  everything the user rated (:func:`~latentrec.pipeline.calibrate` with that weight);
- ``boost_new`` (0 or more): a boost for recently added titles
  (:func:`~latentrec.pipeline.freshness` with that weight and a 30-day half-life).

An item's age is the time from its earliest stored rating (for a title nobody rated
yet, from when it entered the catalogue) to the newest rating in the store, so a
dataset from the 1990s has new and old titles too; a title that entered the catalogue
after that rating is 0 days old.  The youngest titles that the model has no rating of
(added since it was trained) join the freshness stage from outside its top candidates
(:func:`newcomers`): a zero vector ranks such a title like an average one, which keeps
it out of the top candidates for being unknown rather than for being a poor match.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..pipeline.rerank import calibrate as calibrate_list
from ..pipeline.rerank import freshness as freshness_list
from ..pipeline.rerank import mmr as mmr_list
from ..pipeline.stages import KNOB_MAX_BOOST, KNOB_POOL, KNOB_POOL_PER_SLOT, MMR_POOL, knob_pool
from ..store.catalogue import one_spelling_each, pick_spelling
from ..store.records import genre_key, genre_spelling
from .holder import Served
from .live import UserState, predictions, recommend, warm_states

# Candidates re-ranked per request: the model's top this many (at least 5 per slot), as
# `latentrec recommend` re-ranks them (pipeline.stages.knob_pool).
POOL = KNOB_POOL
POOL_PER_SLOT = KNOB_POOL_PER_SLOT
# The freshness boost halves every this many days of age.
HALF_LIFE_DAYS = 30.0
# The largest boost_new accepted (relevance is rescaled to [0, 1] first), the bound of
# `latentrec recommend --boost-new` too.
MAX_BOOST = KNOB_MAX_BOOST
SECONDS_PER_DAY = 86_400.0


class KnobError(ValueError):
    """A knob the served model or its catalogue cannot apply (the service's 422): no
    genres to calibrate to, no ages to boost by."""


@dataclass
class ItemFacts:
    """Facts about the items of one served model, indexed like the model's items.

    ``genres[i]`` is item ``i``'s genre names (a list, empty when the catalogue has
    none; each genre in one spelling, however the catalogue holds it); ``matrix`` is
    the items x genres 0/1 matrix (``None`` when no item has a genre); ``ages`` is
    filled by :meth:`FactsCache.ages` on first use.

    Example:
        >>> from latentrec.models import FactorModel
        >>> from latentrec.store import Item
        >>> m = FactorModel.from_factors(([1], ["a", "b"]), np.eye(2))
        >>> facts = ItemFacts.build(Served.build(m, "v"), [Item("b", "Bee", ("Drama",))])
        >>> facts.genres, facts.matrix.toarray().tolist()
        ([[], ['Drama']], [[0.0], [1.0]])
    """

    serial: int
    genres: list[list[str]]
    genre_names: list[str]
    matrix: sp.csr_matrix | None
    ages: np.ndarray | None = field(default=None)
    # What a later build patches these facts from (:meth:`GenreCopy.facts`): the served
    # ids they are of, the copy's epoch they saw, and how many items hold each name.
    item_ids: np.ndarray | None = field(default=None, repr=False, compare=False)
    epoch: int | None = field(default=None, repr=False, compare=False)
    name_counts: dict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, served: Served, catalogue) -> ItemFacts:
        """Facts from the store's catalogue entries (items the model lacks are ignored)."""
        genres: list[list[str]] = [[] for _ in range(served.n_items)]
        catalogue = list(catalogue)
        # One spelling per genre, so that none is calibrated to as two.
        spelled = one_spelling_each(item.genres or () for item in catalogue)
        for item, names in zip(catalogue, spelled, strict=True):
            idx = served.item_index.get(item.item_id)
            if idx is not None and names:
                genres[idx] = names
        names = sorted({g for row in genres for g in row})
        return cls(served.serial, genres, names, genre_matrix(genres, names))

    def taste(self, rated: np.ndarray) -> np.ndarray:
        """The genre distribution of the items a user rated (all zeros: no genre at all,
        which calibration takes as nothing to calibrate to).

        Example:
            >>> facts = ItemFacts(0, [["A"], ["A", "B"]], ["A", "B"],
            ...                   sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0]])))
            >>> facts.taste(np.array([0, 1])).tolist()
            [0.75, 0.25]
        """
        if self.matrix is None:
            return np.zeros(0)
        if len(rated) == 0:
            return np.zeros(len(self.genre_names))
        rows = self.matrix[np.asarray(rated, dtype=np.int64)]
        per_item = np.asarray(rows.sum(axis=1)).ravel()
        scale = np.divide(1.0, per_item, out=np.zeros_like(per_item), where=per_item > 0)
        mass = np.asarray((sp.diags(scale) @ rows).sum(axis=0)).ravel()
        total = mass.sum()
        return mass if total == 0 else mass / total


def genre_matrix(genres: list[list[str]], names: list[str]) -> sp.csr_matrix | None:
    """The items x genres 0/1 matrix of ``genres`` (one list per item) over the columns
    ``names`` (``None`` when there are none).

    Example:
        >>> genre_matrix([["B"], [], ["A", "B"]], ["A", "B"]).toarray().tolist()
        [[0.0, 1.0], [0.0, 0.0], [1.0, 1.0]]
    """
    if not names:
        return None
    column = {g: j for j, g in enumerate(names)}
    rows = [i for i, row in enumerate(genres) for _ in row]
    cols = [column[g] for row in genres for g in row]
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(genres), len(names)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def item_ages(served: Served, first_seen: dict, newest: float | None = None) -> np.ndarray:
    """Days from each item's first appearance to ``newest``, the store's newest rating
    or event (NaN: unknown; 0 for an item first seen after it).

    ``newest`` is ``None`` for a store that holds no rating: the ages then run to the
    newest first appearance.  The reference is never a catalogue time when ratings
    exist, as a title added now would make every rated title decades old (and the
    boost vanish for all of them).

    Example:
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1], ["a", "b", "c", "d"]), np.eye(4))
        >>> first = {"a": 0.0, "b": 864000.0, "d": 9e9}  # d: added long after
        >>> item_ages(Served.build(m, "v"), first, newest=864000.0).tolist()
        [10.0, 0.0, nan, 0.0]
        >>> item_ages(Served.build(m, "v"), {"a": 0.0, "b": 864000.0}).tolist()
        [10.0, 0.0, nan, nan]
    """
    seen = np.full(served.n_items, np.nan)
    for item_id, when in first_seen.items():
        idx = served.item_index.get(item_id)
        if idx is not None:
            seen[idx] = when
    if np.isnan(seen).all():
        return seen
    reference = np.nanmax(seen) if newest is None else float(newest)
    # NaN (unknown) stays NaN; an item newer than the reference is brand new.
    return np.maximum(0.0, (reference - seen) / SECONDS_PER_DAY)


def newcomers(ages: np.ndarray, pool: np.ndarray, n: int, *, banned=None, items=None) -> np.ndarray:
    """The ``n`` youngest items of known age outside ``pool`` and ``banned`` (and
    within ``items``, the allowed indices, when given), youngest first.

    They join :func:`rerank`'s freshness stage ranked as its least relevant candidate:
    an item outside the model's top candidates scores no higher than the last of them.
    At most ``n`` items outside the pool can be listed, and then the ``n`` youngest
    (whose boost is the largest), so the list is the one every item would give as a
    candidate at that floor, at the cost of ``n`` more.

    Example:
        >>> ages = np.array([5.0, 0.0, np.nan, 2.0, 1.0, 9.0])
        >>> newcomers(ages, np.array([0]), 2).tolist()
        [1, 4]
        >>> newcomers(ages, np.array([0]), 2, banned=np.array([1]), items=[3, 5]).tolist()
        [3, 5]
    """
    eligible = ~np.isnan(np.asarray(ages, dtype=np.float64))
    if items is not None:
        allowed = np.zeros(eligible.size, dtype=bool)
        allowed[np.asarray(items, dtype=np.int64)] = True
        eligible &= allowed
    eligible[np.asarray(pool, dtype=np.int64)] = False
    if banned is not None:
        eligible[np.asarray(banned, dtype=np.int64)] = False
    idx = np.flatnonzero(eligible)
    if idx.size > n:
        idx = np.sort(idx[np.argpartition(ages[idx], n - 1)[:n]])
    # Youngest first, ties to the lower index.
    return idx[np.argsort(ages[idx], kind="stable")]


class GenreCopy:
    """A worker's copy of every catalogue entry's genres, brought up to date by the
    entries that changed, and the :class:`ItemFacts` built from it.

    :meth:`update` takes every entry's genres as read (``(item_id, genres)``: the JSON
    text the store holds, or the names) and works only on the entries whose genres
    differ from the copy's: it keeps, per genre (by :func:`~latentrec.store.records.genre_key`),
    how many entries hold each spelling and the one shown
    (:func:`~latentrec.store.catalogue.pick_spelling`), so each entry's names come out
    as :func:`~latentrec.store.catalogue.one_spelling_each` of the whole catalogue gives
    them, including when an edit changes which spelling of a genre wins (then every
    entry holding that genre is spelled again).  :meth:`facts` builds a served model's
    facts, patching those of a model whose items it extends (a title added) in the rows
    that changed since.

    Not thread-safe: the caller holds ``lock`` around :meth:`update` and :meth:`facts`.
    The lists handed out are shared between the copy and every facts built from it,
    and never changed in place (an update makes new ones).

    Example:
        >>> from latentrec.models import FactorModel
        >>> s = Served.build(FactorModel.from_factors(([1], ["a", "b", "c"]), np.eye(3)), "v")
        >>> copy = GenreCopy()
        >>> copy.update([("a", '["Sci-Fi"]'), ("b", '["sci-fi", "War"]'), ("c", '["Sci-Fi"]')])
        >>> copy.facts(s).genres
        [['Sci-Fi'], ['Sci-Fi', 'War'], ['Sci-Fi']]
        >>> copy.update([("a", '["sci-fi"]'), ("b", '["sci-fi", "War"]'), ("c", '[]')])
        >>> copy.facts(s).genres  # sci-fi now holds more entries: it wins
        [['sci-fi'], ['sci-fi', 'War'], []]
    """

    # Updates whose changed entries are kept, for patching facts built before them.
    LOG = 64
    # Distinct genre texts whose reading is kept (most titles share a few combinations).
    MEMO = 100_000

    def __init__(self):
        self.lock = threading.Lock()
        self.version: int | None = None  # the store's catalogue counter read with the copy
        self.raw: dict = {}  # item id -> genres as read
        self.order: dict[str, tuple[str, ...]] = {}  # item id -> its genre keys, first named first
        self.pairs: dict[str, frozenset] = {}  # item id -> its (key, stored spelling) pairs
        self.counts: dict[str, dict[str, int]] = {}  # key -> spelling -> entries holding it
        self.chosen: dict[str, str] = {}  # key -> the spelling shown
        self.members: dict[str, set[str]] = {}  # key -> ids of the entries holding it
        self.lists: dict[str, list[str]] = {}  # item id -> its names as shown (non-empty only)
        self.epoch = 0  # counts the updates that changed some entry's names
        self.log: dict[int, set[str]] = {}  # epoch -> ids whose names changed in that update
        self.read: dict = {}  # genres as read -> (keys in order, pairs)

    def reading(self, raw) -> tuple[tuple[str, ...], frozenset]:
        """An entry's genres as read: its genre keys in the order first named and its
        ``(key, stored spelling)`` pairs, as :func:`one_spelling_each` counts them."""
        found = self.read.get(raw)
        if found is None:
            names = json.loads(raw) if isinstance(raw, str) else raw
            held = [(genre_key(name), genre_spelling(name)) for name in names]
            found = (tuple(dict.fromkeys(key for key, _ in held)), frozenset(held))
            if len(self.read) >= self.MEMO:
                self.read.clear()
            self.read[raw] = found
        return found

    def update(self, rows) -> None:
        """Bring the copy to ``rows``, every catalogue entry's ``(item_id, genres)``
        (an id missing from them was removed)."""
        fresh = dict(rows)
        raw = self.raw
        # A loop, not a difference of the two item views: that makes a tuple per entry.
        changed = [(item_id, held) for item_id, held in fresh.items() if raw.get(item_id) != held]
        came = sum(1 for item_id, _ in changed if item_id not in raw)
        gone = raw.keys() - fresh.keys() if len(raw) + came != len(fresh) else set()
        if not gone and not changed:
            self.raw = fresh
            return
        touched: set[str] = set()
        for item_id in gone:
            self.drop(item_id, touched)
        for item_id, raw in changed:
            self.drop(item_id, touched)
            order, pairs = self.reading(raw)
            if not order:
                continue
            self.order[item_id], self.pairs[item_id] = order, pairs
            for key, spelling in pairs:
                held = self.counts.setdefault(key, {})
                held[spelling] = held.get(spelling, 0) + 1
                touched.add(key)
            for key in order:
                self.members.setdefault(key, set()).add(item_id)
        self.raw = fresh
        redo = set(gone)
        redo.update(item_id for item_id, _ in changed)
        for key in touched:
            held = self.counts.get(key)
            if not held:
                self.counts.pop(key, None)
                self.chosen.pop(key, None)
                continue
            shown = pick_spelling(held)
            if self.chosen.get(key, shown) != shown:
                # Another spelling wins: every entry holding the genre shows it.
                redo.update(self.members[key])
            self.chosen[key] = shown
        for item_id in redo:
            order = self.order.get(item_id)
            if order:
                self.lists[item_id] = [self.chosen[key] for key in order]
            else:
                self.lists.pop(item_id, None)
        self.epoch += 1
        self.log[self.epoch] = redo
        self.log.pop(self.epoch - self.LOG, None)

    def drop(self, item_id: str, touched: set[str]) -> None:
        """Take an entry's genres out of the counts (the genres it held: ``touched``)."""
        pairs = self.pairs.pop(item_id, None)
        order = self.order.pop(item_id, None)
        if pairs is None:
            return
        for key, spelling in pairs:
            held = self.counts[key]
            held[spelling] -= 1
            if not held[spelling]:
                del held[spelling]
            touched.add(key)
        for key in order:
            ids = self.members[key]
            ids.discard(item_id)
            if not ids:
                del self.members[key]

    def changed_since(self, epoch: int) -> set[str] | None:
        """The ids whose names changed in the updates after ``epoch``; ``None`` when
        the log no longer reaches back to it."""
        if epoch > self.epoch or any(e not in self.log for e in range(epoch + 1, self.epoch + 1)):
            return None
        out: set[str] = set()
        for e in range(epoch + 1, self.epoch + 1):
            out |= self.log[e]
        return out

    def facts(self, served: Served, base: ItemFacts | None = None) -> ItemFacts:
        """``served``'s facts from the copy: ``base`` patched when it was built by this
        copy for a model whose items ``served`` starts with (the rows whose names
        changed since, and the items added), else built over every item."""
        patched = self.patched(served, base) if base is not None else None
        if patched is not None:
            return patched
        genres = [self.lists.get(item_id) or [] for item_id in served.item_ids]
        counts = Counter(name for row in genres for name in row)
        names = sorted(counts)
        return ItemFacts(
            served.serial,
            genres,
            names,
            genre_matrix(genres, names),
            item_ids=served.item_ids,
            epoch=self.epoch,
            name_counts=dict(counts),
        )

    def patched(self, served: Served, base: ItemFacts) -> ItemFacts | None:
        """``base`` brought to ``served`` and the copy as it is, or ``None`` when it
        cannot be (see :meth:`facts`)."""
        if base.epoch is None or base.item_ids is None or base.name_counts is None:
            return None
        n_base = len(base.item_ids)
        if n_base > served.n_items:
            return None
        if base.item_ids is not served.item_ids and not np.array_equal(
            served.item_ids[:n_base], base.item_ids
        ):
            return None
        changed = self.changed_since(base.epoch)
        if changed is None or len(changed) > max(1000, n_base // 4):
            return None  # as dear as a build over every item
        index = served.item_index
        rows = sorted(i for i in (index.get(x) for x in changed) if i is not None and i < n_base)
        genres = base.genres.copy()
        counts = dict(base.name_counts)
        before = [genres[i] for i in rows]
        for i, old in zip(rows, before, strict=True):
            new = self.lists.get(served.item_ids[i]) or []
            for name in old:
                counts[name] -= 1
            for name in new:
                counts[name] = counts.get(name, 0) + 1
            genres[i] = new
        added = [self.lists.get(item_id) or [] for item_id in served.item_ids[n_base:]]
        for row in added:
            for name in row:
                counts[name] = counts.get(name, 0) + 1
        genres.extend(added)
        counts = {name: count for name, count in counts.items() if count > 0}
        names = sorted(counts)
        if names != base.genre_names or base.matrix is None:
            # A genre came or went (or changed its spelling): the columns move.
            matrix = genre_matrix(genres, names)
        else:
            column = {g: j for j, g in enumerate(names)}
            matrix = base.matrix
            if added:
                grown = genre_matrix(added, names)
                matrix = sp.vstack([matrix, grown], format="csr")
            if rows:
                # The rows' old entries out, their new ones in (in C, over the nonzeros).
                r = [i for i, old in zip(rows, before, strict=True) for _ in old]
                r += [i for i in rows for _ in genres[i]]
                c = [column[g] for old in before for g in old]
                c += [column[g] for i in rows for g in genres[i]]
                n_old = sum(len(old) for old in before)
                d = [-1.0] * n_old + [1.0] * (len(r) - n_old)
                delta = sp.csr_matrix((d, (r, c)), shape=matrix.shape)
                matrix = (matrix + delta).tocsr()
                matrix.eliminate_zeros()
                matrix.sort_indices()
        return ItemFacts(
            served.serial,
            genres,
            names,
            matrix,
            item_ids=served.item_ids,
            epoch=self.epoch,
            name_counts=counts,
        )


class FactsCache:
    """:class:`ItemFacts` of the served model, built on first use per model version.

    ``catalogue()`` gives the store's catalogue entries, ``first_seen()`` each item's
    first timestamp and ``newest()`` the store's newest rating time or ``None`` (each
    called at most once per served model version; no ``newest``: ages run to the newest
    first timestamp).  ``genres(since)``, when given, stands in for ``catalogue()``:
    the store's catalogue change counter and every entry's ``(item_id, genres JSON)``,
    or ``None`` for the entries while the counter stands at ``since``
    (:meth:`~latentrec.store.RatingsStore.genre_lists`).

    The genres are kept in one copy of the catalogue (:class:`GenreCopy`), which a
    build brings up to date by the entries that changed: a served model with a title
    more, a genre edit or a retrained model costs what changed, not a pass over the
    catalogue in Python (with ``genres``, the store is read two columns a row, and not
    at all while its counter stands still).

    Example:
        >>> from latentrec.models import FactorModel
        >>> from latentrec.store import Item
        >>> s = Served.build(FactorModel.from_factors(([1], ["a", "b"]), np.eye(2)), "v")
        >>> cache = FactsCache(lambda: [Item("a", "Aye", ("Drama",))], lambda: {"a": 0.0})
        >>> cache.get(s).genres, cache.get(s) is cache.get(s), cache.ages(s).tolist()
        ([['Drama'], []], True, [0.0, nan])
    """

    def __init__(self, catalogue, first_seen, newest=None, *, genres=None):
        self.catalogue = catalogue
        self.first_seen = first_seen
        self.newest = newest
        self.genres = genres
        self.copy = GenreCopy()
        self.base: ItemFacts | None = None  # the newest model's facts built (under copy.lock)
        self.lock = threading.Lock()
        self.current: ItemFacts | None = None
        self.older: ItemFacts | None = None  # of one model served before ``current``
        self.generation = 0  # counts forget() calls
        self.kept_ages: tuple[int, np.ndarray] | None = None  # (serial, ages) forget() kept

    def get(self, served: Served) -> ItemFacts:
        facts = self.current
        if facts is not None and facts.serial == served.serial:
            return facts
        with self.lock:
            facts = self.current
            if facts is not None and facts.serial == served.serial:
                return facts
            older = facts is not None and facts.serial > served.serial
            if older and self.older is not None and self.older.serial == served.serial:
                return self.older
            built = self.build(served)
            if older:
                # A model served before the cached one (a warm-up or a request that
                # began on it): kept, its facts would put the newer model's away, and
                # that model's ages would be computed again, later, from other ratings.
                # Kept apart instead: each of its requests in flight at the swap would
                # otherwise read the catalogue (and pass over the ratings) again, under
                # the lock that the newer model's first requests wait for.
                self.older = built
                return built
            self.take_kept_ages(built)
            self.keep_as_older(facts, built)
            self.current = built
        return built

    def build(self, served: Served) -> ItemFacts:
        """``served``'s facts from the catalogue as it is now: the copy brought up to
        date (``genres``: only when the store's counter moved; else from ``catalogue()``),
        then the facts patched from the newest ones built, where they fit.

        Holds the copy's own lock, not the cache's: :meth:`refresh` builds while
        requests keep being answered from the cached facts.
        """
        copy = self.copy
        with copy.lock:
            if self.genres is None:
                copy.update((item.item_id, tuple(item.genres or ())) for item in self.catalogue())
            else:
                version, rows = self.genres(copy.version)
                if rows is not None:
                    copy.update(rows)
                copy.version = version
            facts = copy.facts(served, self.base)
            if self.base is None or facts.serial >= self.base.serial:
                self.base = facts
        return facts

    def ages(self, served: Served) -> np.ndarray:
        facts = self.get(served)
        if facts.ages is None:
            with self.lock:
                if facts.ages is None:
                    newest = None if self.newest is None else self.newest()
                    facts.ages = item_ages(served, self.first_seen(), newest)
        return facts.ages

    def forget(self) -> None:
        """Drop the cached genres (a catalogue entry changed through this worker).

        The ages stay, as :meth:`refresh` keeps them for an edit through another worker:
        an edit changes no title's first appearance (its ``added_at`` stays), so every
        worker ranks ``boost_new`` by the same ages until the next served model (a new
        title makes one).  Recomputing them would cost the next request a pass over the
        stored ratings.
        """
        with self.lock:
            if self.current is not None and self.current.ages is not None:
                self.kept_ages = (self.current.serial, self.current.ages)
            self.current = None
            self.older = None
            self.generation += 1

    def refresh(self, served: Served) -> ItemFacts:
        """Build the genres again and swap the facts in whole (requests meanwhile keep
        using the previous ones, as no request waits for the catalogue).  Ages already
        computed for this model version are kept: a request would otherwise pay for a
        pass over the stored ratings again.

        Example:
            >>> from latentrec.models import FactorModel
            >>> from latentrec.store import Item
            >>> s = Served.build(FactorModel.from_factors(([1], ["a"]), np.eye(1)), "v")
            >>> catalogue = [Item("a", "Aye", ("Drama",))]
            >>> cache = FactsCache(lambda: catalogue, dict)
            >>> cache.get(s).genres
            [['Drama']]
            >>> catalogue[0] = Item("a", "Aye", ("Western",))
            >>> cache.get(s).genres, cache.refresh(s).genres
            ([['Drama']], [['Western']])
        """
        generation = self.generation
        facts = self.build(served)
        with self.lock:
            if self.generation != generation:
                # forget() came meanwhile (an edit through this worker): what was read
                # may predate it, and the next request reads the catalogue afresh.
                return facts
            previous = self.current
            if previous is not None and previous.serial == facts.serial:
                facts.ages = previous.ages
            self.take_kept_ages(facts)
            self.keep_as_older(previous, facts)
            self.current = facts
        return facts

    def keep_as_older(self, previous: ItemFacts | None, facts: ItemFacts) -> None:
        """Keep ``previous`` for the requests still on its model, when ``facts`` are of a
        newer one: they need not read the catalogue again (under the lock)."""
        if previous is not None and previous.serial < facts.serial:
            self.older = previous

    def take_kept_ages(self, facts: ItemFacts) -> None:
        """Give ``facts`` the ages :meth:`forget` kept, if they are of its served model
        and it has none (under the lock)."""
        kept = self.kept_ages
        if facts.ages is None and kept is not None and kept[0] == facts.serial:
            facts.ages = kept[1]
        self.kept_ages = None


def pool_size(n: int, n_items: int) -> int:
    """How many of the model's candidates a re-ranked list of ``n`` starts from.

    Example:
        >>> pool_size(10, 1682), pool_size(50, 1682), pool_size(10, 30)
        (200, 250, 30)
    """
    return knob_pool(n, n_items, pool=POOL, per_slot=POOL_PER_SLOT)


def rerank(
    served: Served,
    facts: ItemFacts,
    candidates: np.ndarray,
    scores: np.ndarray,
    n: int,
    *,
    rated: np.ndarray,
    diversity: float = 0.0,
    calibrate: float = 0.0,
    boost_new: float = 0.0,
    ages: np.ndarray | None = None,
    joining: np.ndarray | None = None,
) -> np.ndarray:
    """Up to ``n`` of ``candidates`` (best first by the model's ``scores``), re-ranked by
    the knobs that are above 0, in the order diversity, calibration, freshness.

    As in a :class:`~latentrec.pipeline.Pipeline`, each stage but the last decides the
    first ``n`` places and the rest of the pool follows in the order it came; later
    stages take that order as relevance.  ``rated`` is the user's rated items (the
    taste that calibration aims at); ``ages`` the items' ages (for ``boost_new``);
    ``joining`` items (:func:`newcomers`) that join the candidates at the freshness
    stage, ranked as the least relevant of them.

    Example:
        >>> from latentrec.models import FactorModel
        >>> vectors = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], ["a", "b", "c"]), vectors), "v")
        >>> facts = ItemFacts.build(s, [])
        >>> cands, scores = np.array([0, 1, 2]), np.array([1.0, 0.9, 0.5])
        >>> rerank(s, facts, cands, scores, 2, rated=np.empty(0, int)).tolist()
        [0, 1]
        >>> rerank(s, facts, cands, scores, 2, rated=np.empty(0, int), diversity=0.5).tolist()
        [0, 2]
        >>> ages = np.array([90.0, 90.0, 0.0])
        >>> rerank(s, facts, cands[:2], scores[:2], 2, rated=np.empty(0, int), boost_new=2.0,
        ...        ages=ages, joining=np.array([2])).tolist()
        [2, 0]
    """
    stages = []
    joins: list[np.ndarray | None] = []  # items joining the candidates at each stage
    if diversity > 0:
        vectors = served.model.item_factors_
        # The setting validated for MMR (pipeline.stages.MMR's default), as the CLI's
        # --diversity runs it: the knob only reorders the model's best MMR_POOL items.
        stages.append(lambda c, s: mmr_list(c, s, vectors, n, 1.0 - diversity, pool=MMR_POOL))
        joins.append(None)
    if calibrate > 0:
        if facts.matrix is None:
            raise ValueError(
                "calibrate needs item genres, and no served item has any in the catalogue"
            )
        taste = facts.taste(rated)
        stages.append(
            lambda c, s: calibrate_list(c, s, taste, facts.matrix, n, calibrate, alpha=0.01)
        )
        joins.append(None)
    if boost_new > 0:
        if ages is None or np.isnan(ages).all():
            raise ValueError("boost_new needs item ages, and the store has no timestamps")
        stages.append(
            lambda c, s: freshness_list(c, s, ages, n, boost_new, half_life=HALF_LIFE_DAYS)
        )
        joins.append(joining)
    cands = np.asarray(candidates, dtype=np.int64)
    rel = np.asarray(scores, dtype=np.float64)
    if not stages:
        return cands[:n]
    for s, (stage, join) in enumerate(zip(stages, joins, strict=True)):
        if join is not None and len(join):
            # At the floor of the relevance so far: the rescaling of the others'
            # relevance, and so their trade-off with the boost, stays as it was.
            floor = rel.min() if rel.size else 0.0
            cands = np.concatenate([cands, np.asarray(join, dtype=np.int64)])
            rel = np.concatenate([rel, np.full(len(join), floor)])
        if cands.size == 0:
            break
        picked = np.asarray(stage(cands, rel), dtype=np.int64)
        if s == len(stages) - 1:
            cands = picked
        else:
            cands = np.concatenate([picked, cands[~np.isin(cands, picked)]])
            rel = -np.arange(cands.size, dtype=np.float64)
    return cands[:n]


def reranked(
    served: Served,
    facts: ItemFacts,
    state: UserState,
    n: int,
    items=None,
    exclude=None,
    *,
    diversity: float = 0.0,
    calibrate: float = 0.0,
    boost_new: float = 0.0,
    ages: np.ndarray | None = None,
):
    """``(item indices, scores, fallback)``: the user's list with the knobs applied.

    The candidates are the list :func:`~latentrec.service.live.recommend` gives the user
    without knobs (their own for a user with a vector, the popularity list otherwise),
    :func:`pool_size` long, with ``items`` and ``exclude`` as there; :func:`rerank`
    re-ranks them, the youngest titles the model has no rating of joining the
    freshness stage (:func:`newcomers`).  ``ages`` are the items' ages (needed when
    ``boost_new`` is above 0).  A knob that cannot apply raises :class:`KnobError`.

    Example:
        >>> from latentrec.models import FactorModel
        >>> vectors = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], ["a", "b", "c"]), vectors), "v")
        >>> ann = UserState("ann", 1, s.serial, 0.0, np.array([1.0, 0.0]), np.empty(0, int), "x")
        >>> top, scores, fallback = reranked(s, ItemFacts.build(s, []), ann, 2, diversity=0.5)
        >>> top.tolist(), fallback
        ([0, 2], False)
    """
    pool, scores, fallback = recommend(served, state, pool_size(n, served.n_items), items, exclude)
    joining = None
    if boost_new > 0 and ages is not None and not np.isnan(ages).all():
        # A title the model has no rating of (one added since: a zero vector, an
        # average score) is rarely among its top candidates, not for being a poor
        # match but for being unknown: the youngest of them join the boost.
        unknown = np.flatnonzero(served.model.catalog_.item_popularity == 0)
        if items is not None:
            unknown = np.intersect1d(unknown, items)
        banned = state.rated if exclude is None else np.union1d(state.rated, exclude)
        joining = newcomers(ages, pool, n, banned=banned, items=unknown)
    # The popularity list's relevance is each title's number of users, as a Pipeline's
    # fallback (so `latentrec recommend` with the same knobs) has it: not a ranking
    # model's missing scores, nor a rating model's mu + b_i, which is not its order.
    relevance = (
        served.model.catalog_.item_popularity[pool].astype(np.float64) if fallback else scores
    )
    try:
        top = rerank(
            served,
            facts,
            pool,
            relevance,
            n,
            rated=state.rated,
            diversity=diversity,
            calibrate=calibrate,
            boost_new=boost_new,
            ages=ages if boost_new > 0 else None,
            joining=joining,
        )
    except ValueError as err:
        raise KnobError(str(err)) from None
    score_of = dict(zip(pool.tolist(), scores.tolist(), strict=True))
    if joining is not None and joining.size:
        joined_scores, _ = predictions(served, state, joining)
        score_of.update(zip(joining.tolist(), joined_scores.tolist(), strict=True))
    return top, np.array([score_of[i] for i in top.tolist()], dtype=np.float64), fallback


def warm_knobs(served: Served, facts: ItemFacts) -> int:
    """Run each knob once on a known user, and all three together on each made-up user
    of a warm-up (:func:`~latentrec.service.live.warm_states`) and with ``items=``, so
    that a worker's first request with a knob runs nothing for the first time; how many
    lists it computed.  Made-up facts stand in where the catalogue has none: one genre
    for every item, and every item brand new (the store's real ages are read on the
    first request with ``boost_new``, as reading them is a pass over the ratings).  A
    served pipeline takes no knob (nothing to run).

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], [10, 20]), q, global_mean=3.0), "v")
        >>> warm_knobs(s, ItemFacts.build(s, []))  # 3 knobs alone, all 3 for 3 users, items=
        7
    """
    if served.pipeline is not None or served.n_items == 0:
        return 0
    if facts.matrix is None:
        one = sp.csr_matrix(np.ones((served.n_items, 1)))
        facts = ItemFacts(facts.serial, [["warm-up"]] * served.n_items, ["warm-up"], one)
    ages = np.zeros(served.n_items)
    every = {"diversity": 0.5, "calibrate": 0.5, "boost_new": 1.0}
    states = warm_states(served)
    known = states[1] if len(states) > 1 else states[0]
    asks = [(known, {name: value}, None) for name, value in every.items()]
    asks += [(state, every, None) for state in states]
    asks.append((known, every, np.arange(min(served.n_items, 2 * POOL_PER_SLOT), dtype=np.int64)))
    for state, knobs, items in asks:
        reranked(served, facts, state, 10, items, ages=ages, **knobs)
    return len(asks)
