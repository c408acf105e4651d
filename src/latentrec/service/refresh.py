"""A worker's background thread (:class:`Refresher`) and the store's catalogue as the
service reads it: warming the user cache, following the model source, seeding and
following the titles other workers add.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from contextlib import nullcontext
from dataclasses import replace

from ..errors import ModelFileError
from ..store import Item, StoreError, StoreUnavailableError
from ..store.engine import BACKGROUND_READ_S
from .hardening import ERROR_LOGGER, one_line
from .holder import ModelHolder, Served, title_changes, with_new_items, with_titles
from .knobs import FactsCache, warm_knobs
from .live import LiveUsers, warm_kernels
from .metrics import ServiceMetrics
from .versions import read_retrain_status, retrain_status_token

# The refresher looks for titles added through other workers every this many rounds
# (the model source, one stat, every round).
ITEM_CHECK_TICKS = 5

# Page size when the service walks the whole catalogue of the store.
CATALOGUE_PAGE = 1000
# A warm-up the store could not answer is tried again after the refresher's interval,
# then after twice as long each time, up to this many seconds: each try reads every
# stored rating, which a store that is struggling should not get once a second.
WARM_BACKOFF_MAX_S = 300.0

# A warm-up ends with a full collection and gc.freeze (see Refresher.warm).  A process
# that builds app after app (the test suite) may turn it off: each app's stop unfreezes,
# so the next warm-up's collection walks the whole process (about 0.25 s in the tests).
FREEZE_AFTER_WARM = True


def store_catalogue(store) -> list:
    """Every item of the store's catalogue, as one state of it
    (:meth:`~latentrec.store.RatingsStore.all_items`: one snapshot, ``CATALOGUE_PAGE``
    rows a statement): a title another worker adds, renames or removes meanwhile is
    neither missing from the copy nor in it twice.

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("2", "Heat"), Item("1", "Up")])
        >>> [it.title for it in store_catalogue(store)]
        ['Up', 'Heat']
    """
    return store.all_items(page=CATALOGUE_PAGE)


def seed_catalogue(store, served: Served) -> int:
    """Add the model's titles that the store's catalogue lacks (id and title only).

    Existing entries are left alone (they may carry genres and features the model does
    not know), including one written after its ids were looked up here: the store
    inserts only ids it does not hold (:meth:`RatingsStore.add_missing_items`), so
    workers seeding at once add each title once and overwrite nobody's entry.  Returns
    how many this call added.

    Only the model's ids are looked up (:meth:`RatingsStore.stored_item_ids`, by the
    primary key), never the whole catalogue: the seed takes as long with 60,000 titles
    in the store as with 60.

    Example:
        >>> from latentrec.models import FactorModel
        >>> from latentrec.store import open_store
        >>> import numpy as np
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("a", "Heat (edited)")])
        >>> served = Served.build(FactorModel.from_factors(([1], ["a", "b"]), np.eye(2)), "v")
        >>> seed_catalogue(store, served), store.get_item("a").title
        (1, 'Heat (edited)')
    """
    have = store.stored_item_ids(served.item_index)
    missing = [Item(x, served.title(i)) for x, i in served.item_index.items() if x not in have]
    if not missing:
        return 0
    return len(store.add_missing_items(missing))


def add_store_items(store, served: Served) -> Served:
    """``served`` with the store's titles it lacks (see :func:`with_new_items`), and
    with the catalogue's names of the titles it has (:func:`with_store_titles`: a title
    renamed through any worker is answered by its new name).

    The check is one read of the catalogue's change counter
    (:meth:`~latentrec.store.RatingsStore.catalogue_version`), which every catalogue
    write raises: while it stands where it stood before the last copy, nothing else is
    read.  When it moved, the catalogue's ids and titles are read (one statement),
    and only the titles the model lacks are read whole: most writes edit titles the
    model has.  It
    is read before the copy, so a title written during the copy leaves it past the
    value kept and the next check copies again.  Unlike a count of the
    catalogue's titles, it moves for a title added after another was removed (in SQL,
    past the store).

    Example:
        >>> import numpy as np
        >>> from latentrec.models import FactorModel
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> served = Served.build(FactorModel.from_factors(([1], ["a"]), np.eye(1)), "v")
        >>> served = add_store_items(store, served)
        >>> _ = store.add_items([Item("b", "Heat")])
        >>> served = add_store_items(store, served)
        >>> "b" in served.item_index, add_store_items(store, served) is served
        (True, True)
    """
    change = read_store_items(store, served)
    return served if change is None else change(served)


def read_store_items(store, served: Served):
    """What :func:`add_store_items` does to ``served``, read from the store now and done
    later: a function of a served model (for :meth:`ModelHolder.update`), or None when
    the catalogue's counter stands where ``served`` saw it.

    The refresher reads here, outside the holder's lock, so that a ``POST /items`` of
    this worker (which takes the lock) does not wait for a read of the whole catalogue,
    and applies the function only to the very ``served`` it read against: another
    served model may hold a newer name than this read (:meth:`Refresher.follow_items`).
    The names are compared as plain ``(id, title)`` pairs (:func:`title_changes`):
    only a title renamed, cleared or new costs more than a comparison.

    Example:
        >>> import numpy as np
        >>> from latentrec.models import FactorModel
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> served = Served.build(FactorModel.from_factors(([1], ["a"]), np.eye(1)), "v")
        >>> _ = store.add_items([Item("b", "Heat")])
        >>> change = read_store_items(store, served)
        >>> sorted(change(served).item_index), read_store_items(store, change(served))
        (['a', 'b'], None)
    """
    # The counter first: a write landing during the reads below moves it past
    # ``version``, so the next check reads again.
    version = store.catalogue_version()
    if version == served.store_catalogue_seen:
        return None
    # Most catalogue writes edit titles the model has (their genres): the ids say which
    # titles it lacks, and only those are read whole.  A title removed since the ids
    # were read is gone (nothing to add); one added since moved the counter past
    # ``version``, so the next check finds it.
    titles = store.item_titles()
    renamed = title_changes(served, titles)
    lacking = [x for x in titles if x not in served.item_index]
    found = store.get_items(lacking) if lacking else {}
    missing = [found[x] for x in lacking if x in found]

    def change(current: Served) -> Served:
        return replace(
            with_new_items(with_titles(current, renamed), missing),
            store_catalogue_seen=version,
        )

    return change


class TakeIn:
    """A worker's take-in of the store at start: the store's titles the model lacks
    added to the served model (:func:`add_store_items`), the model's titles the store
    lacks added to its catalogue (:func:`seed_catalogue`), and the served model moved
    past the seed's change of the catalogue.

    :meth:`run` does it; a store error (the database down or restarting, a SQLite file
    whose write lock another program holds) leaves it ``pending`` (the error, one line)
    rather than failing the worker's start: the model answers without the store, the
    routes that need the store answer 503 meanwhile, and the :class:`Refresher` runs it
    again each round until it is done.  It is logged when it is first put off, when its
    reason changes and when it is done.

    Example:
        >>> import numpy as np
        >>> from latentrec.models import FactorModel
        >>> from latentrec.service.holder import FixedSource
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> model = FactorModel.from_factors(([1], ["a"]), np.eye(1))
        >>> holder = ModelHolder(FixedSource(model), prepare_first=False)
        >>> take_in = TakeIn(store, holder)
        >>> take_in.run(), take_in.pending, store.get_item("a").item_id
        (True, None, 'a')
    """

    def __init__(self, store, holder: ModelHolder):
        self.store = store
        self.holder = holder
        self.pending: str | None = "not run yet"
        self.logger = logging.getLogger(ERROR_LOGGER)
        self.said: str | None = None
        self.tried = False  # once tried, the model is served: a retry runs under requests

    def run(self) -> bool:
        """Take the store in; whether it is done (now or before)."""
        if self.pending is None:
            return True
        retry, self.tried = self.tried, True
        try:
            if not retry:
                # At start, reads first: with a store that reads but cannot write (its
                # write lock held by another program), the store's titles are served
                # all the same.  Nothing is served yet, so a swap here costs nothing.
                self.holder.update(lambda served: add_store_items(self.store, served))
            # Again later, under requests, the seed comes first, so that the served
            # model is replaced once (below), not once before the seed and once after.
            if seed_catalogue(self.store, self.holder.current) or retry:
                # The seed moved the catalogue's counter past the one the served model
                # saw: taken in now, the next round finds nothing to take in.
                self.holder.update(lambda served: add_store_items(self.store, served))
        except (OSError, StoreError) as err:
            reason = one_line(err)
            if reason != self.said:
                self.logger.warning(
                    "the ratings store is unavailable at start, so this worker serves "
                    "model %s without taking the store in (its new titles, the seed of "
                    "its catalogue); routes that need the store answer 503, and the "
                    "take-in is tried again every round: %s",
                    self.holder.current.version,
                    reason,
                )
                self.said = reason
            self.pending = reason
            return False
        if self.said is not None:
            self.logger.info(
                "the ratings store answers again: took it in for model %s",
                self.holder.current.version,
            )
        self.pending = None
        self.said = None
        return True


class Refresher:
    """A worker's background thread: warms the user cache, follows the model source and
    the store's catalogue.

    First it folds in every stored user (:meth:`LiveUsers.warm`), so the worker answers
    them from its cache; then every ``every`` seconds it reloads the model when the
    source changed (a new current version in the model directory; the cache is warmed
    again for it) and, every ``ITEM_CHECK_TICKS`` rounds, adds titles that another
    worker put in the store.  A failure is
    logged and retried on the next round; the served model stays.  A start-up take-in
    of the store that was put off (``take_in``, :class:`TakeIn`) is tried first in each
    round until it is done; the users are folded in once it is.  With a model
    directory as ``retrain_folder`` each round also reads how the last retrain (whoever
    ran it) ended (``last-retrain.json``, when it changed) into ``last_retrain``, which
    ``/health`` shows.
    """

    def __init__(
        self,
        holder: ModelHolder,
        store,
        metrics: ServiceMetrics,
        every: float,
        live: LiveUsers | None = None,
        facts: FactsCache | None = None,
        retrain_folder=None,
        take_in: TakeIn | None = None,
    ):
        self.holder = holder
        self.take_in = take_in
        self.facts = facts
        self.store = store
        self.metrics = metrics
        self.every = every
        self.live = live
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.logger = logging.getLogger(ERROR_LOGGER)
        self.warmed_serial: int | None = None
        self.warm_done = threading.Event()
        self.froze = False  # whether a warm-up froze the collector's view (gc.freeze)
        self.kernels_serial: int | None = None
        self.ticks = 0
        self.catalogue_seen: int | None = None
        self.reload_failure: str | None = None
        self.retrain_folder = retrain_folder
        self.retrain_seen: str | None = None
        self.last_retrain: dict | None = None
        self.clock = time.monotonic
        # The time limit of the warm-up's reads (Database.background_reads).
        self.background_read_s = BACKGROUND_READ_S
        self.warm_delay = 0.0  # the wait before the next try of a failed warm-up
        self.warm_after = 0.0  # no warm-up tried before this time (the clock's)

    def start(self) -> None:
        if self.thread is None:
            self.stopping.clear()
            self.thread = threading.Thread(target=self.run, name="latentrec-refresh", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None
        # What warm() froze (the app, its model and caches: gc.freeze takes every object
        # then alive) is never collected while frozen, and an app is a reference cycle
        # (FastAPI's routes point back at it): every app stopped in one process (a test
        # run, a program building apps in turn) stayed in memory for good.
        if self.froze:
            gc.unfreeze()

    def run(self) -> None:
        self.guarded(self.warm)
        while not self.stopping.wait(self.every):
            self.guarded(self.tick)
            self.guarded(self.warm)

    def guarded(self, step) -> None:
        """Run one step of a round; an error it did not expect is logged with its
        traceback, and the next round runs (a dead refresher would never load a new
        model version again)."""
        try:
            step()
        except Exception:
            self.logger.exception(
                "the refresher's %s failed; trying again next round", step.__name__
            )
        finally:
            if step == self.warm:
                self.warm_done.set()

    def warm(self) -> None:
        """Fold in every stored user for the served model, once per model (once the
        start-up take-in is done: before, the store does not answer)."""
        served = self.holder.current
        pending = self.take_in is not None and self.take_in.pending is not None
        if self.live is None or self.warmed_serial == served.serial or pending:
            self.compile_kernels(served)
            self.warm_done.set()
            return
        if self.clock() < self.warm_after:
            self.warm_done.set()
            return
        try:
            count = self.warm_users(served)
            self.metrics.fold_ins.inc(count)
            self.logger.info("folded in %d stored users for %s", count, served.version)
        except StoreUnavailableError as err:
            # The store may answer later: tried again, less and less often.
            self.warm_delay = min(max(self.every, 2 * self.warm_delay), WARM_BACKOFF_MAX_S)
            self.warm_after = self.clock() + self.warm_delay
            self.logger.warning(
                "warming the user cache failed; trying again in %g s: %s",
                self.warm_delay,
                one_line(err),
            )
            self.warm_done.set()
            return
        except (OSError, ValueError, StoreError, MemoryError) as err:
            self.logger.warning("warming the user cache failed: %s", one_line(err))
        self.warm_delay = 0.0
        if self.facts is not None:
            try:
                # The item facts too, so that no request waits for the catalogue.
                self.facts.get(served)
            except (OSError, ValueError, StoreError) as err:
                self.logger.warning("reading the catalogue failed: %s", one_line(err))
        # After the users (a request meanwhile folds its user in, and compiles, itself).
        self.compile_kernels(served)
        # What warming built lives as long as the served model: out of the collector's
        # sight, so that a full collection (which would walk every cached user, tens of
        # milliseconds) never stalls a request.
        if FREEZE_AFTER_WARM:
            gc.collect()
            gc.freeze()
            self.froze = True
        self.warmed_serial = served.serial
        self.warm_done.set()

    def warm_users(self, served: Served) -> int:
        """``live.warm`` as a background read (no request's time limit: it reads every
        stored rating); a store that was unavailable meanwhile raises here, even where
        the warm-up itself caught the error."""
        db = getattr(self.store, "db", None)
        reads = (
            db.background_reads(self.background_read_s)
            if hasattr(db, "background_reads")
            else nullcontext()
        )
        with reads as record:
            count = self.live.warm(served)
        if record is not None and record.failures:
            raise record.failures[0]
        return count

    def compile_kernels(self, served: Served) -> None:
        """Once per served model: what the first requests run (:func:`warm_kernels`), and
        each re-ranking knob (:func:`warm_knobs`), so that they find the numba kernels
        compiled; before ``warm`` is reported."""
        if self.kernels_serial == served.serial:
            return
        try:
            warm_kernels(served)
            if self.facts is not None:
                warm_knobs(served, self.facts.get(served))
        except Exception as err:  # a warm-up is an optimisation: the requests still work
            self.logger.warning("compiling the request kernels failed: %s", one_line(err))
        self.kernels_serial = served.serial

    def follow_catalogue(self) -> None:
        """Rebuild the item facts (genres) when the store's catalogue changed since the
        last look: another worker, or any writer, may have edited a title's genres."""
        # The version first: a write landing during the rebuild moves it again.  The
        # first look rebuilds too: the facts may predate it.
        version = self.store.catalogue_version()
        if self.facts is not None and version != self.catalogue_seen:
            self.facts.refresh(self.holder.current)
            self.catalogue_seen = version

    def tick(self) -> None:
        """One round: reload if the source changed, take the store in if that is still
        to do (:class:`TakeIn`), add new store titles, and copy the store's log into its
        database file (a SQLite checkpoint)."""
        self.follow_source()
        self.follow_retrain()
        taken_in = False
        if self.take_in is not None and self.take_in.pending is not None:
            if not self.take_in.run():
                return  # the store's other checks would fail alike (logged by run)
            # The store answers: its users are folded in (warm, after this round) and
            # its catalogue's genres read, as at a start the store answered.
            self.warmed_serial = None
            taken_in = True
        try:
            if self.ticks % ITEM_CHECK_TICKS == 0 or taken_in:
                self.follow_items()
                self.follow_catalogue()
            # Here, off the request path: a commit that checkpoints waits for the copy.
            self.store.checkpoint()
            self.ticks += 1
        except (OSError, LookupError, ValueError, StoreError) as err:
            self.logger.warning("refresh failed, keeping the served model: %s", one_line(err))

    def follow_items(self) -> None:
        """Take in the store's new titles and names (:func:`read_store_items`), read
        outside the holder's lock: a ``POST /items`` meanwhile does not wait for it.

        Applied only to the served model it was read against.  One replaced meanwhile
        (a ``POST /items`` renaming a title, with the name it read under the lock, or a
        reload) may hold a newer name than this read: the store is then read again
        under the lock (:func:`add_store_items`), so the last write wins, as in a worker
        that started after it.
        """
        base = self.holder.current
        change = read_store_items(self.store, base)
        if change is None:
            return

        def apply(current: Served) -> Served:
            if current is base:
                return change(current)
            return add_store_items(self.store, current)

        self.holder.update(apply)

    def follow_retrain(self) -> None:
        """Read the last retrain's record when it changed (one ``stat`` when
        it did not).  A record that cannot be read is shown as such, not as none."""
        if self.retrain_folder is None:
            return
        token = retrain_status_token(self.retrain_folder)
        if token == self.retrain_seen:
            return
        try:
            self.last_retrain = read_retrain_status(self.retrain_folder)
        except ModelFileError as err:
            self.last_retrain = {
                "time": None,
                "ok": False,
                "published": False,
                "version": None,
                "reason": one_line(err),
                "by": None,
            }
        self.retrain_seen = token

    def follow_source(self) -> None:
        """Reload the model if its source changed.  A failure keeps the served model and
        is logged when it first happens, when its reason changes and when it clears:
        the same line every second would bury the rest of the log."""
        try:
            if self.holder.reload():
                self.metrics.reloads.inc()
                self.metrics.set_served(self.holder)
                self.logger.info("serving model version %s", self.holder.current.version)
        except (OSError, LookupError, ValueError, StoreError) as err:
            reason = one_line(err)
            if reason != self.reload_failure:
                # A source keeps a verdict on a file refused for what it holds and does
                # not read it again until it changes: "tried every round" was untrue.
                kept = self.holder.source.kept_refusal(err)
                retry = (
                    "tried every round"
                    if kept is None
                    else f"not read again until {kept} changes, checked every round"
                )
                self.logger.warning(
                    "loading the model failed, keeping the served model %s (%s; logged "
                    "again when the reason changes): %s",
                    self.holder.current.version,
                    retry,
                    reason,
                )
            self.reload_failure = reason
            return
        if self.reload_failure is not None:
            self.logger.info(
                "the model source reads again; serving %s", self.holder.current.version
            )
            self.reload_failure = None
