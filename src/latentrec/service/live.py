"""Live users: each user's vector folded from the store, cached by the store's version.

The ratings store is the truth; this module keeps a worker's cache of it.  A user's entry
is valid for one ``(store version of the user, served model)`` pair, so a rating written
through any worker (which raises the user's version) is folded in by every worker on
that user's next request, and a new model version re-folds everyone lazily.  A request
for a cached user costs no query while nothing was written anywhere: the store's
:class:`~latentrec.store.ChangeWatch` token (SQLite's ``data_version``) says so, and when
it moves one ``changes_since`` read tells which users' versions rose.

Owns :class:`UserState`, :class:`LiveUsers` (resolve a user to a state; the cache) and
the answers computed from a state (:func:`recommend`, :func:`predictions`,
:func:`explain`), all through the model's public vector-level API
(``fold_in_idx``, ``recommend_vectors``, ``score_vectors``, ``recommend_batch_idx``,
``FactorModel.from_factors`` + ``explain``).

Which stored ratings a fold-in uses, and with which value, is the models' rule,
stated once in :mod:`latentrec.models.foldin` (:func:`fold_values` applies it to a
store's cells, each an explicit rating or an event).  Every stored
item counts as seen (never recommended back).  A user the model was trained on keeps
their training row, whatever the store holds of it: the fold-in reads the row merged
with the store.  An item of the row the store holds a cell for that replaces its
training value (:func:`replaces_training`: any cell for a ranking model, an explicit
rating for a rating model, whose events say nothing of stars) enters as the fold-in
makes of the stored cell, which may be not at all: a star below a ranking model's
``min_rating`` or like threshold is seen only, so re-rating a training title low takes
it out of the positives.  Every other item of the row enters at the model's own
prediction (1 for a ranking model), since the model file keeps no training values.  A
store that holds the whole training history (``store import`` of the training data)
so gives the store alone; a store holding a few ratings (or one re-rated title) adds
them to the row rather than replacing it.  (The model file keeps no training values, so
for a ranking model whose fit left some out, a HybridMF's stars below ``min_rating``,
the row's items the store lacks all join at 1.)  Every item of the row stays rated
(never recommended back).  One with nothing stored (never, or no longer: deleting one's
last rating) is served their training row as it is.  A user the store marks erased
(``DELETE /users/{id}``, :meth:`RatingsStore.user_record`) never gets their training
row back: what they store afterwards is folded in alone.

A served pipeline (``Served.pipeline``) ranks from the user's history: a training user
with nothing stored is given their stored history and the models' training state (one
known from the ranker's slice alone, that slice folded in:
``Pipeline.validation_users``), so their list is ``Pipeline.recommend``'s; a user with
stored ratings gets, per candidate factor model, a vector folded in by that model's
rules (above), and a history of every stored item the pipeline knows, with its largest
stored value, plus the items of their training history the store lacks (as for a
fold-in).  Their training row, if any, is never recommended back either.  Cache warming
skips a pipeline: its users are folded in on their first request.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data import UnknownIdError
from ..models import Catalog, FactorModel
from ..models.foldin import fold_in_values
from ..models.foldin import like_threshold as model_like_threshold
from ..pipeline.history import Histories, UserHistory, as_history, user_key
from ..store import StoreError, StoreUnavailableError
from ..store.bulk import StoredRatingsError
from ..store.records import rating_route
from .hardening import ERROR_LOGGER
from .holder import Served, id_text

# Users folded in per batch when the cache is warmed (bounds the solve's memory).
WARM_BATCH = 4096


# Slots: a worker caches up to hundreds of thousands of these, and each __dict__ would be
# one more object for the garbage collector to walk.
@dataclass(frozen=True, slots=True)
class UserState:
    """What the service knows about one user for one served model.

    ``bias`` / ``factors`` are the user's vector (``factors`` is ``None`` when the user
    cannot be personalised: unknown, erased, or nothing foldable yet); ``rated`` the
    sorted item indices never to recommend back; ``version`` the store's version of the
    user (0: nothing stored); ``source`` says where the vector came from: ``"model"``
    (the training row), ``"store"`` (folded from stored ratings, merged with the
    training row) or ``"none"``.  ``fitted`` are the sorted item indices of the training
    row that joined a ``"store"`` fold-in valued at the model's own prediction (the
    store held no cell replacing them, :func:`replaces_training`; None when there are
    none).

    For a served pipeline, ``history`` is the :class:`UserHistory` it ranks from,
    ``vectors`` one entry per candidate model (None, or ``(bias, factors)`` folded in
    by that model) and ``pipeline_user`` the user's training index (-1: none).

    Example:
        >>> UserState("ann", 0, 0, 0.0, None, np.empty(0, np.int64), "none").personal
        False
    """

    user_id: str
    version: int
    serial: int
    bias: float
    factors: np.ndarray | None
    rated: np.ndarray
    source: str
    history: UserHistory | None = None
    vectors: tuple = ()
    pipeline_user: int = -1
    fitted: np.ndarray | None = None

    @property
    def personal(self) -> bool:
        """Whether the user has a vector (else they get the popularity fallback)."""
        return self.factors is not None


def like_threshold(served: Served) -> float:
    """The lowest explicit rating ``served.model`` takes as a positive when its fit did
    not read stars: :func:`latentrec.models.foldin.like_threshold` (60 % of the way up
    its scale; any rating without one).

    Example:
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1], [7]), np.eye(1))
        >>> like_threshold(Served.build(m, "v"))
        -inf
    """
    return model_like_threshold(served.model)


class LiveUsers:
    """Resolve users to :class:`UserState` against the store, with a bounded cache.

    The cache holds at most ``capacity`` users (``Settings.cache_users``), the least
    recently used leaving first; a user who left it is folded in again from the store on
    their next request.  Nothing else here grows with the users seen: a long-running
    worker's memory is bounded by ``capacity``, whatever the number of distinct users.

    ``resolve`` of a cached user first reads the store's change token
    (:meth:`RatingsStore.watch`); unchanged, the cached state stands without a query.
    When the token moved, one ``changes_since`` read gives the versions of the users
    written since the last look, and every cached state older than its user's new
    version is dropped (so the next request folds that user in again: one
    ``user_record`` query and a fold-in), as a user not in the cache is.  A fold-in in
    progress while its user is written is not cached when the write is newer than what
    it read.  So a write through any worker or process is seen on the next request.
    ``fold_ins`` counts the fold-ins done, and ``on_fold_in`` (if given) is called after
    each.

    Example (a store is needed, so not run here)::

        users = LiveUsers(store, capacity=1000)
        state = users.resolve(holder.current, "ann")
    """

    def __init__(self, store, capacity: int = 200_000, on_fold_in=None):
        self.store = store
        self.capacity = capacity
        self.cache: OrderedDict[str, UserState] = OrderedDict()
        self.lock = threading.Lock()
        self.fold_ins = 0
        self.on_fold_in = on_fold_in
        self.watch = store.watch()
        self.sync_lock = threading.Lock()
        # The token first, then the sequence.  Every write after the sequence read moves
        # the token, so a later sync asks for it; a write before it is older than any
        # state this (still empty) cache will compute, since those read the store later.
        self.token = self.watch.token()
        self.seq = store.sequence()
        # Fold-ins in progress (user -> how many), and warm-ups in progress: while they
        # run, the newest version a sync saw for their users goes in `newer`, and a state
        # older than that is not cached.  All three empty out when the work ends.
        self.folding: dict[str, int] = {}
        self.warming = 0
        self.newer: dict[str, int] = {}
        # user -> the newest version whose ratings that are not finite were logged: said
        # once per version, not on each request (a reload or an eviction folds it again).
        self.warned: dict[str, int] = {}

    def sync(self) -> None:
        """Learn the users written since the last call and drop their cached states
        that are older (cheap when nothing was written)."""
        if self.watch.token() == self.token:
            return
        with self.sync_lock:
            token = self.watch.token()
            if token == self.token:
                return
            newest, changed = self.store.changes_since(self.seq)
            with self.lock:
                cache, folding, newer = self.cache, self.folding, self.newer
                for user, version in changed:
                    cached = cache.get(user)
                    if cached is not None and cached.version < version:
                        del cache[user]
                    if (self.warming or user in folding) and version > newer.get(user, 0):
                        newer[user] = version
            self.seq = max(self.seq, newest)
            self.token = token

    def resolve(self, served: Served, user_id: str, version: int | None = None) -> UserState:
        """The user's current state (``version``: the store's, when the caller has it)."""
        if version is None:
            self.sync()
            cached = self.cache.get(user_id)
            if cached is not None and cached.serial == served.serial:
                self.touch(user_id)
                return cached
        else:
            cached = self.cache.get(user_id)
            if cached is not None and cached.version == version and cached.serial == served.serial:
                self.touch(user_id)
                return cached
        # Registered before the store is read: a write a sync sees from now on, while
        # this fold-in runs, keeps its (possibly older) state out of the cache.
        with self.lock:
            self.folding[user_id] = self.folding.get(user_id, 0) + 1
        try:
            if version is None:
                version = self.store.user_version(user_id)
            state = self.compute(served, user_id, version)
            with self.lock:
                if self.newer.get(user_id, 0) <= state.version:
                    self.cache[user_id] = state
                    self.cache.move_to_end(user_id)
                    while len(self.cache) > self.capacity:
                        self.cache.popitem(last=False)
        finally:
            with self.lock:
                left = self.folding.pop(user_id) - 1
                if left:
                    self.folding[user_id] = left
                elif not self.warming:
                    self.newer.pop(user_id, None)
        return state

    def touch(self, user_id: str) -> None:
        """Mark a cached user as the most recently used (if still cached)."""
        with self.lock:
            if user_id in self.cache:
                self.cache.move_to_end(user_id)

    def warm(self, served: Served) -> int:
        """Fold in every user the store holds, in batches, and cache them; how many.

        The same rules as :meth:`compute`, in bulk: one read of the versions (first) and
        one of each kind of rating, then batched fold-ins, so a worker answers any stored
        user from its cache from the start.  Users the model was trained on whose stored
        cells do not replace their whole training row are left to :meth:`compute` (which
        merges the row in, or not for an erased user); so are users beyond the cache's
        capacity, and those of a batch whose solve fails.
        """
        # Registered before the versions are read: a write a sync sees from now on keeps
        # the (older) warmed state of its user out of the cache.
        with self.lock:
            self.warming += 1
        try:
            return self.warm_from_store(served)
        finally:
            with self.lock:
                self.warming -= 1
                if not self.warming:
                    self.newer = {u: v for u, v in self.newer.items() if u in self.folding}

    def warm_from_store(self, served: Served) -> int:
        if served.pipeline is not None:
            # A pipeline's user needs a fold-in per candidate model and a history: the
            # first request of each builds them (compute).
            return 0
        _, changed = self.store.changes_since(0)
        versions = dict(changed)
        if not versions or len(versions) > self.capacity:
            return 0
        frames = []
        for kind in ("explicit", "event"):
            try:
                data = self.store.interactions(kind=kind)
            except StoredRatingsError as err:
                # Ratings a retrain refuses (a NaN written by hand).  Nobody is warmed:
                # users who also hold the other kind were cached from it alone, their
                # ratings of this kind missing from what they rated, so a request that
                # found them in the cache got those items recommended back.  Each user is
                # folded in when asked for, as without warming; said, not done quietly.
                logging.getLogger(ERROR_LOGGER).warning(
                    "not warming the user cache (each user is folded in when first asked for): %s",
                    err,
                )
                return 0
            except StoreUnavailableError:
                raise  # down or slow is not "no rating of this kind": the refresher retries
            except StoreError:  # no rating of this kind
                continue
            m = data.matrix.tocoo()
            item_map = np.array(
                [served.item_index.get(id_text(x), -1) for x in data.items.ids], dtype=np.int64
            )
            frames.append(
                pd.DataFrame(
                    {
                        "user": np.array([id_text(x) for x in data.users.ids], dtype=object)[m.row],
                        "item": item_map[m.col],
                        "value": m.data.astype(np.float64),
                        "explicit": kind == "explicit",
                    }
                )
            )
        if not frames:
            return 0
        table = pd.concat(frames, ignore_index=True)
        table = table[table["item"] >= 0]
        table = table[table["user"].isin(versions.keys())]
        explicit = table["explicit"].to_numpy()
        table["fold"] = fold_values(served, table["value"].to_numpy(), explicit)
        codes, users = pd.factorize(table["user"], sort=False)
        items = table["item"].to_numpy()
        rated = sp.csr_matrix(
            (np.ones(codes.size, np.float32), (codes, items)), shape=(len(users), served.n_items)
        )
        rated.sum_duplicates()
        rated.sort_indices()
        keep = ~np.isnan(table["fold"].to_numpy())
        # An item with an explicit rating and events counts once, with the larger value.
        fold = table["fold"].to_numpy()
        folded = max_duplicates(codes[keep], items[keep], fold[keep], (len(users), served.n_items))
        in_model = np.array([served.user_index.get(u, -1) for u in users], dtype=np.int64)
        skip = np.zeros(len(users), dtype=bool)
        trained = in_model >= 0
        if trained.any():
            # A training user whose stored cells replace their whole training row
            # (replaces_training, whether the fold-in takes them or not) folds in from
            # the store alone (the merge adds nothing, erased or not); any other has
            # items the merge values at the model's fit, or no row if erased, which only
            # the per-user read (user_record) tells: left to compute().
            seen = served.model.seen_[in_model[trained]]
            held = replaces_training(served, explicit)
            has_value = sp.csr_matrix(
                (np.ones(int(held.sum()), np.float32), (codes[held], items[held])),
                shape=(len(users), served.n_items),
            )[np.flatnonzero(trained)]
            # A repeated cell (an explicit rating and events) counts once.
            has_value.data[:] = 1
            in_row = sp.csr_matrix(
                (np.ones(seen.nnz, np.float32), seen.indices, seen.indptr), shape=seen.shape
            )
            covered = np.asarray(has_value.multiply(in_row).sum(axis=1)).ravel()
            skip[np.flatnonzero(trained)[covered < np.diff(seen.indptr)]] = True
        warmed = 0
        for start in range(0, len(users), WARM_BATCH):
            rows = np.arange(start, min(start + WARM_BATCH, len(users)))
            rows = rows[~skip[rows]]
            if rows.size == 0:
                continue
            block = folded[rows]
            try:
                bias, factors = served.model.fold_in_idx(block.indptr, block.indices, block.data)
            except FloatingPointError:
                # One user's values (an enormous event weight) spoil the batch's solve:
                # its users are left to compute(), where only that user goes without.
                continue
            self.fold_ins += rows.size
            states = {}
            for j, r in enumerate(rows):
                user = users[r]
                has = block.indptr[j + 1] > block.indptr[j]
                states[user] = UserState(
                    user,
                    versions[user],
                    served.serial,
                    float(bias[j]) if has else 0.0,
                    factors[j] if has else None,
                    rated.indices[rated.indptr[r] : rated.indptr[r + 1]].astype(np.int64),
                    "store" if has else "none",
                )
            with self.lock:
                for user, state in states.items():
                    current = self.cache.get(user)
                    # A request may have folded the user in meanwhile from newer ratings,
                    # or the user was written since the versions were read.
                    if (current is None or current.serial != served.serial) and self.newer.get(
                        user, 0
                    ) <= state.version:
                        self.cache[user] = state
                        warmed += 1
                while len(self.cache) > self.capacity:
                    self.cache.popitem(last=False)
        return warmed

    def forget(self, user_id: str) -> None:
        """Drop a user's cached state (after an erasure)."""
        with self.lock:
            self.cache.pop(user_id, None)

    def compute(self, served: Served, user_id: str, version: int) -> UserState:
        """Fold the user in from the store (or take their training row); a user whose
        values the solve cannot take gets no vector (the popularity fallback).  For a
        pipeline, also what it ranks from (see the module docstring)."""
        state, cells, erased = self.model_state(served, user_id, version)
        if served.pipeline is not None:
            state = pipeline_state(served, state, cells, erased=erased)
        return state

    def model_state(self, served: Served, user_id: str, version: int):
        """``(state, cells, erased)``: the user's state for ``served.model``, their stored
        cells (None when nothing is stored) and whether the store marks them erased.

        One read (:meth:`RatingsStore.user_record`) gives the cells and the mark
        together.  A user with nothing stored keeps their training row unless they were
        erased (``DELETE /users/{id}``): one who deleted their last rating was not.  Their
        vector is personal when the model says so
        (:meth:`~latentrec.models.FactorModel.can_personalise`), else they get the
        popularity fallback, as the model's ``recommend`` gives them.  An
        erased user's training row is never used again; what they stored since is
        folded in alone."""
        model = served.model
        u = served.user_index.get(user_id, -1)
        # Version 0: never written, so nothing stored and never erased (no query).
        cells, erased = ([], False) if version == 0 else self.store.user_record(user_id)
        if cells:
            self.say_not_finite(user_id, version, cells)
        if erased:
            u = -1
        if not cells:
            if u < 0:
                return self.nobody(served, user_id, version), None, erased
            seen = model.seen_
            trained = np.asarray(seen.indices[seen.indptr[u] : seen.indptr[u + 1]], np.int64)
            bias = float(model.user_bias_[u])
            factors = np.asarray(model.user_factors_[u], dtype=np.float32)
            # The model's rule, as its recommend applies it: counting cells marked a
            # HybridMF user without a positive (all below min_rating) personal, and
            # served the item biases with fallback false where the library falls back.
            has_vector = bool(model.can_personalise([u])[0])
            state = UserState(
                user_id,
                version,
                served.serial,
                bias,
                factors if has_vector else None,
                trained,
                "model" if has_vector else "none",
            )
            return state, None, erased
        bias, factors, rated, fitted = merged_fold(served, u, cells)
        if factors is None:
            state = UserState(user_id, version, served.serial, 0.0, None, rated, "none")
            return state, cells, erased
        self.fold_ins += 1
        if self.on_fold_in is not None:
            self.on_fold_in()
        state = UserState(
            user_id, version, served.serial, bias, factors, rated, "store", fitted=fitted
        )
        return state, cells, erased

    def say_not_finite(self, user_id: str, version: int, cells) -> None:
        """Log the user's stored ratings that are not finite (written past the store's
        checks, by hand in the database), once per user version: the fold-in leaves them
        out (:meth:`signal`), and that is said rather than done quietly."""
        bad = [(c[0], c[1]) for c in cells if not np.isfinite(c[1])]
        if not bad:
            return
        with self.lock:
            if self.warned.get(user_id, -1) >= version:
                return
            if len(self.warned) >= self.capacity:
                self.warned.clear()
            self.warned[user_id] = version
        shown = ", ".join(f"item {item!r}: {value!r}" for item, value in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        routes = ", ".join(rating_route(user_id, item) for item, _ in bad[:5])
        logging.getLogger(ERROR_LOGGER).warning(
            "user %r has %d stored rating(s) that are not finite (%s%s), left out of their "
            "fold-in (the items still count as seen); written past the store's checks, by "
            "hand in the database?  Delete or correct them (%s%s)",
            user_id,
            len(bad),
            shown,
            more,
            routes,
            ", ..." if more else "",
        )

    @staticmethod
    def nobody(served: Served, user_id: str, version: int) -> UserState:
        """The state of a user the service cannot personalise."""
        return UserState(user_id, version, served.serial, 0.0, None, np.empty(0, np.int64), "none")

    @staticmethod
    def signal(served: Served, cells) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(item indices, values) to fold in, every rated item index, and the items whose
        stored cells replace a training value (:func:`replaces_training`), from a user's
        stored ``(item_id, value, kind)`` cells (:meth:`RatingsStore.user_cells`).

        See the module docstring for which ratings count.  Items the model does not know
        are left out; an item with both an explicit rating and events counts once, with
        the larger value.  A stored value that is not finite (written by hand past the
        store's checks) is left out of the fold-in, its item still rated
        (:meth:`say_not_finite` logs it).

        Example:
            >>> from latentrec.models import FactorModel
            >>> m = FactorModel.from_factors(([1], [7, 8]), np.eye(2), global_mean=3.0)
            >>> cells = [("7", 4.0, "explicit"), ("8", 2.0, "event")]
            >>> [a.tolist() for a in LiveUsers.signal(Served.build(m, "v"), cells)]
            [[0], [4.0], [0, 1], [0]]
        """
        index = served.item_index
        count = len(cells)
        idx = np.fromiter((index.get(c[0], -1) for c in cells), np.int64, count)
        known = idx >= 0
        if not known.any():
            empty = np.empty(0, np.int64)
            return empty, np.empty(0), empty, empty
        idx = idx[known]
        explicit = np.fromiter((c[2] == "explicit" for c in cells), bool, count)[known]
        raw = np.fromiter((c[1] for c in cells), np.float64, count)[known]
        # Not finite: no fold-in can take it (an infinity would fail the solve, or be
        # clipped to a star), and a NaN is no "seen only" verdict of the model's rules.
        finite = np.isfinite(raw)
        values = fold_values(served, np.where(finite, raw, 0.0), explicit)
        keep = finite & ~np.isnan(values)
        uniq, inverse = np.unique(idx[keep], return_inverse=True)
        best = np.full(uniq.size, -np.inf)
        np.maximum.at(best, inverse, values[keep])
        held = np.unique(idx[replaces_training(served, explicit)])
        return uniq, best, np.unique(idx), held


def fold_values(served: Served, values: np.ndarray, explicit: np.ndarray) -> np.ndarray:
    """The value each stored rating enters the fold-in of ``served.model`` with (a
    :class:`Served` or a :class:`ModelRules`), NaN for "seen only": the models' rule,
    :func:`latentrec.models.foldin.fold_in_values`, for cells each ``explicit`` or an
    event.

    Example:
        >>> from latentrec.models import Catalog, FactorModel
        >>> m = FactorModel.from_factors(([1], [7]), np.eye(1), global_mean=3.0)
        >>> fold_values(Served.build(m, "v"), np.array([4.0, 2.0]), np.array([True, False]))
        array([ 4., nan])
        >>> cat = Catalog.from_ids([1], [7, 8], rating_scale=(1, 5))  # kind unknown
        >>> made = FactorModel.from_factors(cat, np.eye(2), predicts_ratings=False)
        >>> fold_values(Served.build(made, "v"), np.array([5.0, 2.0]), np.array([True, True]))
        array([ 1., nan])
    """
    return fold_in_values(served.model, values, np.asarray(explicit, dtype=bool))


def replaces_training(served, explicit: np.ndarray) -> np.ndarray:
    """Whether each stored cell (``explicit``: an explicit rating, else an event) replaces
    its item's value in the training row of ``served.model`` (a :class:`Served` or a
    :class:`ModelRules`) when a training user's row is merged with the store.

    It does when the model reads that kind of cell at all, whatever the fold-in then
    makes of this one's value: for a ranking model every cell (a star below its
    ``min_rating`` or like threshold is seen only, so the item leaves the positives, as
    the store says), for a rating model an explicit rating, never an event (it folds in
    no event, so an event is no new star and the training rating stands).  Merging
    anything less would fold a training title in at the model's fit although the store
    holds its current value (a store imported from the training data would no longer
    give the store alone).

    Example:
        >>> from latentrec.models import FactorModel
        >>> rating = FactorModel.from_factors(([1], [7]), np.eye(1), global_mean=3.0)
        >>> ranking = FactorModel.from_factors(([1], [7]), np.eye(1))
        >>> kinds = np.array([True, False])
        >>> replaces_training(Served.build(rating, "v"), kinds).tolist()
        [True, False]
        >>> replaces_training(Served.build(ranking, "v"), kinds).tolist()
        [True, True]
    """
    explicit = np.asarray(explicit, dtype=bool)
    if served.predicts_ratings:
        return explicit
    return np.ones(explicit.shape, dtype=bool)


def max_duplicates(rows, cols, values, shape) -> sp.csr_matrix:
    """A CSR matrix of ``(rows, cols, values)`` where a repeated cell keeps its largest value.

    Example:
        >>> max_duplicates([0, 0], [1, 1], [2.0, 5.0], (1, 2)).toarray().tolist()
        [[0.0, 5.0]]
    """
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    values = np.asarray(values, np.float64)
    order = np.lexsort((-values, cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    out = sp.csr_matrix((values[first], (rows[first], cols[first])), shape=shape)
    out.sort_indices()
    return out


@dataclass(frozen=True)
class ModelRules:
    """One model's fold-in rules over the served items: what :func:`fold_cells` reads
    of a :class:`Served` (a pipeline's other candidates fold in by their own rules).

    Example:
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1], [7]), np.eye(1), global_mean=3.0)
        >>> ModelRules(m, {"7": 0}).predicts_ratings
        True
    """

    model: FactorModel
    item_index: dict

    @property
    def predicts_ratings(self) -> bool:
        """Whether the model's scores are ratings."""
        return bool(self.model.predicts_ratings)

    @property
    def rating_scale(self):
        """The model's rating scale, when it has one."""
        return self.model.rating_scale_


def fold_cells(served, u: int, cells):
    """``(bias, factors or None, rated)`` of a user from their stored cells, folded in by
    ``served.model``'s rules (a :class:`Served` or :class:`ModelRules`); ``u`` is their
    training index (-1: none), whose training row is merged in (:func:`merged_fold`).
    See the module docstring for which ratings count; ``factors`` is None when nothing
    is foldable or the solve cannot take the values.

    Example:
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1], [7, 8]), np.eye(2), global_mean=3.0)
        >>> bias, factors, rated = fold_cells(Served.build(m, "v"), -1, [("8", 5.0, "explicit")])
        >>> factors is not None, rated.tolist()
        (True, [1])
    """
    bias, factors, rated, _ = merged_fold(served, u, cells)
    return bias, factors, rated


def merged_history(served, u: int, cells):
    """``(idx, values, rated, fitted)``: what a user's fold-in reads, from their stored
    ``cells`` merged with training row ``u`` (-1: none, or erased).

    ``idx`` / ``values`` are the items folded in (sorted) and their values: each stored
    item the fold-in takes (:meth:`LiveUsers.signal`) with the value it makes of the
    stored one, and each item of the training row the store holds no cell for that
    replaces it (:func:`replaces_training`) with the model's own prediction for the
    user (clipped to its scale; 1 for a ranking model), which stands in for the
    training value the model file does not keep.  So a re-rated training title takes
    its new value, or leaves the fold-in when the model takes no such value (a star
    below a ranking model's ``min_rating``), and a training title the store lacks keeps
    counting.  ``rated`` are the stored items and the whole training row; ``fitted``
    the training items valued at the model's prediction.

    Example:
        >>> from latentrec.models import Catalog, FactorModel
        >>> cat = Catalog.from_ids([1], [7, 8], seen=np.array([[1.0, 1.0]]), rating_scale=(1, 5))
        >>> m = FactorModel.from_factors(cat, np.eye(2), [[1.0, 0.0]], global_mean=3.0)
        >>> idx, values, rated, fitted = merged_history(Served.build(m, "v"), 0,
        ...                                             [("8", 5.0, "explicit")])
        >>> idx.tolist(), values.tolist(), rated.tolist(), fitted.tolist()
        ([0, 1], [4.0, 5.0], [0, 1], [0])
    """
    model = served.model
    idx, values, rated, held = LiveUsers.signal(served, cells)
    if u >= 0:
        seen = model.seen_
        trained = np.asarray(seen.indices[seen.indptr[u] : seen.indptr[u + 1]], dtype=np.int64)
    else:
        trained = np.empty(0, np.int64)
    # Not the items taken (idx): a stored star the fold-in leaves out (below a ranking
    # model's min_rating) would then bring its item back as a positive at 1.
    fitted = np.setdiff1d(trained, held)
    if fitted.size:
        if served.predicts_ratings:
            scores = model.score_vectors([model.user_bias_[u]], model.user_factors_[u][None])
            extra_values = np.clip(scores[0, fitted], *(served.rating_scale or (-np.inf, np.inf)))
        else:
            extra_values = np.ones(fitted.size)
        idx = np.concatenate([idx, fitted])
        values = np.concatenate([values, np.asarray(extra_values, np.float64)])
    rated = np.union1d(rated, trained)
    order = np.argsort(idx, kind="stable")
    return idx[order], values[order], rated, fitted


def merged_fold(served, u: int, cells):
    """``(bias, factors or None, rated, fitted)``: :func:`merged_history` folded in by
    ``served.model`` (factors None when nothing is foldable or the solve cannot take
    the values).

    Example:
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1], [7, 8]), np.eye(2), global_mean=3.0)
        >>> merged_fold(Served.build(m, "v"), -1, [("8", 5.0, "explicit")])[3].tolist()
        []
    """
    idx, values, rated, fitted = merged_history(served, u, cells)
    if idx.size == 0:
        return 0.0, None, rated, fitted
    try:
        bias, factors = served.model.fold_in_idx([0, idx.size], idx, values)
    except FloatingPointError:
        # Values the model's solve cannot take (an enormous event weight): no vector,
        # as for a user with nothing foldable, rather than an error on every request.
        return 0.0, None, rated, fitted
    return float(bias[0]), factors[0], rated, fitted


def pipeline_state(served: Served, state: UserState, cells, *, erased: bool = False) -> UserState:
    """``state`` (the user's state for ``served.model``) with what ``served.pipeline``
    ranks them from (see the module docstring); ``cells`` are their stored cells, None
    when nothing is stored; ``erased``: the store marks them erased, so nothing of their
    training (row, history) is used.

    Example:
        >>> import latentrec
        >>> from latentrec.models import ImplicitALS
        >>> from latentrec.pipeline import Pipeline
        >>> data = latentrec.Interactions.from_dense(np.eye(4) + np.eye(4, k=1))
        >>> pipe = Pipeline(ImplicitALS(n_factors=2, random_state=0), n_candidates=3).fit(data)
        >>> s = Served.build(pipe, "v")
        >>> cells = [("1", 1.0, "event")]
        >>> bias, factors, rated = fold_cells(s, -1, cells)
        >>> ann = UserState("ann", 1, s.serial, bias, factors, rated, "store")
        >>> ann = pipeline_state(s, ann, cells)
        >>> ann.history.items.tolist(), ann.vectors[0] is not None, ann.pipeline_user
        ([1], True, -1)
    """
    pipe = served.pipeline
    ctx = pipe.context_
    u = -1 if erased else served.user_index.get(state.user_id, -1)
    key = u if u >= 0 else user_key(state.user_id, pipe.n_users)
    if cells is None:
        if u >= 0:
            # Nothing stored (never, or no longer: deleting one's last rating is no
            # erasure): what recommend_batch_idx ranks them from.  A user known from the
            # ranker's slice alone is folded in from it; any other, their stored history
            # and the models' training state.
            rows, later = pipe.validation_users(np.array([u]))
            if rows.size:
                folded = tuple(
                    None if v is None or not v[2][0] else (float(v[0][0]), v[1][0])
                    for v in later.vectors
                )
                who = int(later.user_idx[0])
                return replace(state, history=later.user(0), vectors=folded, pipeline_user=who)
            return replace(state, history=as_history(ctx, u), pipeline_user=u)
        empty = np.empty(0, np.int64)
        return replace(state, history=UserHistory(empty, np.empty(0), empty, key=key))
    vectors = []
    for model in pipe.models:
        if not isinstance(model, FactorModel):
            vectors.append(None)
            continue
        if model.fitted_ is served.model.fitted_:
            # served.model (a view of this candidate) folded them in already.
            vectors.append(None if state.factors is None else (state.bias, state.factors))
            continue
        bias, factors, _ = fold_cells(ModelRules(model, served.item_index), u, cells)
        vectors.append(None if factors is None else (bias, factors))
    count = len(cells)
    idx = np.fromiter((served.item_index.get(c[0], -1) for c in cells), np.int64, count)
    raw = np.fromiter((c[1] for c in cells), np.float64, count)
    known = idx >= 0
    # A stored value that is not finite (written by hand) ranks from nothing; its item
    # stays excluded through ``state.rated``.
    known &= np.isfinite(raw)
    items, inverse = np.unique(idx[known], return_inverse=True)
    values = np.full(items.size, -np.inf)
    np.maximum.at(values, inverse, raw[known])
    exclude = np.union1d(state.rated, items)
    holder = -1  # whose training state the models read: none without a training row
    if u >= 0:
        row = as_history(ctx, u)
        if row.items.size:
            holder = u
        if row.items.size:
            # Their training history still describes them, merged as for a fold-in: a
            # stored item keeps its stored value, the history's others join with theirs.
            extra = ~np.isin(row.items, items)
            had = np.ones(row.items.size) if row.values is None else row.values
            items = np.concatenate([items, row.items[extra]])
            values = np.concatenate([values, had[extra]])
        exclude = np.union1d(exclude, row.seen)
    history = UserHistory(items, values, items, exclude, key=key)
    return replace(state, history=history, vectors=tuple(vectors), pipeline_user=holder)


def pipeline_recommend(served: Served, state: UserState, n: int, exclude=None):
    """Top-``n`` (item indices, scores, fallback) from ``served.pipeline`` for a user
    state built by :func:`pipeline_state`; ``exclude`` (indices) are never listed.

    Example:
        >>> import latentrec
        >>> from latentrec.models import ImplicitALS
        >>> from latentrec.pipeline import Pipeline
        >>> data = latentrec.Interactions.from_dense(np.eye(4) + np.eye(4, k=1))
        >>> pipe = Pipeline(ImplicitALS(n_factors=2, random_state=0), n_candidates=3).fit(data)
        >>> s = Served.build(pipe, "v")
        >>> ann = pipeline_state(s, LiveUsers.nobody(s, "ann", 0), None)
        >>> top, scores, fallback = pipeline_recommend(s, ann, 2, exclude=[0])
        >>> 0 in top.tolist(), fallback
        (False, True)
    """
    return pipeline_recommend_many(served, [(state, exclude)], n)[0]


def pipeline_recommend_many(served: Served, asks, n: int) -> list:
    """:func:`pipeline_recommend` for many users in one ``Pipeline.recommend_histories``
    call: ``asks`` is a list of ``(state, exclude)``; one ``(item indices, scores,
    fallback)`` per ask, in order.

    Each user's list is the one :func:`pipeline_recommend` gives them alone (the same
    items, fallback and, up to float32 rounding, scores: BLAS multiplies one vector and
    many by different routes).  Users the pipeline cannot rank together are ranked in
    separate calls: a batch gives every user values or none, so users whose history has
    values and users whose has none go apart.

    Example:
        >>> import latentrec
        >>> from latentrec.models import ImplicitALS
        >>> from latentrec.pipeline import Pipeline
        >>> data = latentrec.Interactions.from_dense(np.eye(4) + np.eye(4, k=1))
        >>> pipe = Pipeline(ImplicitALS(n_factors=2, random_state=0), n_candidates=3).fit(data)
        >>> s = Served.build(pipe, "v")
        >>> ann = pipeline_state(s, LiveUsers.nobody(s, "ann", 0), None)
        >>> bob = pipeline_state(s, LiveUsers.nobody(s, "bob", 0), None)
        >>> [top.tolist() for top, _, _ in pipeline_recommend_many(s, [(ann, [1]), (bob, None)], 2)]
        [[2, 3], [1, 2]]
    """
    pipe = served.pipeline
    whos = []
    for state, exclude in asks:
        who = state.history
        if who is None:
            empty = np.empty(0, np.int64)
            who = UserHistory(empty, np.empty(0), empty, key=user_key(state.user_id, pipe.n_users))
        if exclude is not None and len(exclude):
            who = UserHistory(
                who.items, who.values, who.seen, np.union1d(who.exclude, exclude), key=who.key
            )
        whos.append(who)
    out: list = [None] * len(asks)
    for valued in (True, False):
        rows = [b for b, who in enumerate(whos) if (who.values is not None) == valued]
        if not rows:
            continue
        states = [asks[b][0] for b in rows]
        batch = Histories.of(
            pipe.context_,
            [(states[j].pipeline_user, whos[b]) for j, b in enumerate(rows)],
            stacked_vectors(states, len(pipe.models)),
        )
        idx, scores, fallback = pipe.recommend_histories(batch, n)
        for j, b in enumerate(rows):
            keep = idx[j] >= 0
            out[b] = (
                idx[j][keep].astype(np.int64),
                scores[j][keep].astype(np.float64),
                bool(fallback[j]),
            )
    return out


def stacked_vectors(states, n_models: int) -> tuple:
    """One ``Histories`` vectors entry per candidate model for ``states`` in order: None
    where no state has a vector for that model, else ``(bias, factors, has)`` with zeros
    (and ``has`` False) for the states without one.

    Example:
        >>> s = [UserState("a", 0, 0, 0.5, None, np.empty(0, np.int64), "none", vectors=(None,)),
        ...      UserState("b", 0, 0, 0.5, None, np.empty(0, np.int64), "none",
        ...                vectors=((1.0, np.ones(2)),))]
        >>> bias, factors, has = stacked_vectors(s, 1)[0]
        >>> bias.tolist(), factors.tolist(), has.tolist()
        ([0.0, 1.0], [[0.0, 0.0], [1.0, 1.0]], [False, True])
    """
    out = []
    for j in range(n_models):
        given = [s.vectors[j] if j < len(s.vectors) else None for s in states]
        present = [v for v in given if v is not None]
        if not present:
            out.append(None)
            continue
        k = np.asarray(present[0][1]).size
        bias = np.zeros(len(states), np.float32)
        factors = np.zeros((len(states), k), np.float32)
        has = np.zeros(len(states), dtype=bool)
        for b, v in enumerate(given):
            if v is not None:
                bias[b] = v[0]
                factors[b] = np.asarray(v[1], np.float32)
                has[b] = True
        out.append((bias, factors, has))
    # Trailing Nones dropped, as a state's own tuple may be shorter than the models.
    while out and out[-1] is None:
        out.pop()
    return tuple(out)


# ---------------------------------------------------------------------------- answers
def recommend(served: Served, state: UserState, n: int, items=None, exclude=None):
    """Top-``n`` (item indices, scores, fallback) for a user state.

    ``items`` (candidate indices) restricts the list; ``exclude`` (indices) and the
    user's rated items are never in it.  A served pipeline answers through
    :func:`pipeline_recommend` (it takes no ``items``).  A user without a vector gets the model's
    popularity list (``recommend_batch_idx`` of an unknown user), marked as fallback.

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
        >>> s = Served.build(FactorModel.from_factors(([1], [10, 20, 30]), q, global_mean=3.0), "v")
        >>> ann = UserState("ann", 1, s.serial, 0.0, np.array([1.0, 0.0]), np.array([0]), "store")
        >>> top, scores, fallback = recommend(s, ann, 2)  # item 0 (id 10) is rated
        >>> top.tolist(), scores.tolist(), fallback
        ([2, 1], [3.5, 3.0], False)
    """
    if served.pipeline is not None:
        if items is not None:
            raise ValueError("a pipeline ranks its own candidates; it takes no items list")
        return pipeline_recommend(served, state, n, exclude)
    model = served.model
    banned = np.zeros(served.n_items, dtype=bool)
    banned[state.rated] = True
    if exclude is not None and len(exclude):
        banned[np.asarray(exclude, dtype=np.int64)] = True
    cand = None if items is None else np.asarray(items, dtype=np.int64)
    if state.personal:
        top, scores = model.recommend_vectors(
            [state.bias], state.factors[None, :], n, items=cand, filter_items=banned
        )
        fallback = False
    else:
        top, scores, _ = model.recommend_batch_idx(
            [-1], n, items=cand, filter_items=np.flatnonzero(banned)
        )
        fallback = True
    keep = top[0] >= 0
    return top[0][keep], scores[0][keep], fallback


def predictions(served: Served, state: UserState, items: np.ndarray):
    """Scores of ``items`` (indices) for a user state, and whether they are a fallback.

    A user without a vector gets the model's baseline μ + b_i for a rating model and no
    score (NaN) for a ranking model, as ``recommend`` does for the popularity list.

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], [10, 20]), q, global_mean=3.0), "v")
        >>> ann = UserState("ann", 1, s.serial, 0.0, np.array([1.0, 0.0]), np.array([0]), "store")
        >>> predictions(s, ann, np.array([0, 1]))
        (array([4., 3.]), False)
    """
    model = served.model
    items = np.asarray(items, dtype=np.int64)
    if state.personal:
        # As the library's predict and /explain sum it: float32 scores differed from
        # /explain's prediction in the 7th digit, in the 4th decimal for 1 pair in 3,000.
        return model.predict_vector(state.bias, state.factors, items), False
    if served.predicts_ratings:
        # The library's baseline (predict(..., unknown="baseline")), which the popularity
        # list shows too: a model without μ in its formula (NMF, unbiased MF) starts from
        # its training mean; its μ of 0 gave every stranger a prediction of 0 stars.
        return model.predict_idx(np.full(items.size, -1), items).astype(np.float64), True
    return np.full(len(items), np.nan), True


def explain_stars(served: Served, state: UserState, cells) -> tuple[dict | None, frozenset]:
    """``(stars, fitted)``: the user's stars to choose explain's supporting titles by, as
    ``{item index: rating}`` (None when there are none: the model's fit then stands
    in), and the item indices among them whose value is the model's fit, not a star.

    ``cells`` are the user's stored ``(item_id, value, kind)`` cells (None: nothing
    stored).  The stars are their explicit ratings of items the model knows and
    ``state`` counts as rated (an event is no star, nor a value that is not finite; a
    rating written after ``state`` was resolved waits for the next request, as the
    vector does).  The items of a
    training row that joined their fold-in without a stored value (``state.fitted``,
    see the module docstring) are added with the model's prediction of them, clipped to
    its scale, when the model predicts ratings (the value the fold-in gave them; those
    are ``fitted``); a ranking model keeps no such value, so those items are not cited.

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], [10, 20]), q, global_mean=3.0), "v")
        >>> cells = [("10", 1.0, "explicit"), ("20", 2.0, "event"), ("99", 5.0, "explicit")]
        >>> ann = UserState("ann", 1, s.serial, 0.0, np.ones(2), np.array([0, 1]), "store")
        >>> explain_stars(s, ann, cells)
        ({0: 1.0}, frozenset())
        >>> explain_stars(s, ann, None)
        (None, frozenset())
    """
    none = (None, frozenset())
    if not cells:
        return none
    index = served.item_index
    stars: dict[int, float] = {}
    for item_id, value, kind in cells:
        i = index.get(item_id, -1)
        if i < 0:
            continue
        # A value that is not finite (written by hand) is no star to cite or average.
        if kind == "explicit" and np.isfinite(value):
            stars[i] = float(value)
    rated = set(state.rated.tolist())
    stars = {i: v for i, v in stars.items() if i in rated}
    if not stars:
        return none
    u = served.user_index.get(state.user_id, -1)
    extra = np.empty(0, np.int64) if state.fitted is None else state.fitted
    if u >= 0 and extra.size and served.predicts_ratings and state.source == "store":
        model = served.model
        scores = model.score_vectors([model.user_bias_[u]], model.user_factors_[u][None])
        fit = np.clip(scores[0, extra], *(served.rating_scale or (-np.inf, np.inf)))
        stars.update(zip(extra.tolist(), fit.astype(np.float64).tolist(), strict=True))
        return stars, frozenset(extra.tolist())
    return stars, frozenset()


class CannotExplainError(ValueError):
    """No explanation for this user: a ranking model has no score for a user the service
    cannot personalise (:func:`explain_refusal`, whose reason is the message).
    :func:`explain` raises it; the route asks :func:`explain_refusal` first and answers
    409 with the reason.

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], [10, 20]), q), "v")
        >>> try:
        ...     explain(s, LiveUsers.nobody(s, "zoe", 0), 0)
        ... except CannotExplainError as err:
        ...     print(str(err)[:36])
        unknown user id(s): 'zoe'; FactorMod
    """


def explain_refusal(served: Served, state: UserState, item: int) -> str | None:
    """Why ``served`` explains nothing for ``state``'s user, or None when it can.

    A ranking model (``predicts_ratings`` false: BPR, WARP, ImplicitALS) has no score for
    a user without a vector, nor a baseline prediction: the library's
    ``FactorModel.explain`` refuses such a user, as ``latentrec explain`` does, and the
    reason is the library's own (its refusal of a user it does not know).  A user the
    model knows but the service cannot personalise (erased by ``DELETE /users/{id}``, or
    with nothing stored that a fold-in can take) is refused alike, as the popularity
    list they are given says.  A rating model explains its baseline μ + b_i instead.

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], [10, 20]), q), "v")
        >>> stranger = LiveUsers.nobody(s, "zoe", 0)
        >>> print(explain_refusal(s, stranger, 0)[:72])
        unknown user id(s): 'zoe'; FactorModel ranks items and has no personal s
        >>> rated = UserState("ann", 1, s.serial, 0.0, np.ones(2), np.array([0]), "store")
        >>> explain_refusal(s, rated, 1) is None
        True
    """
    if state.personal or served.predicts_ratings:
        return None
    model = served.model
    row = served.user_index.get(state.user_id, -1)
    known = row >= 0
    # The model's own spelling of a known id (an integer id is text here).
    user_id = model.users_.ids[row] if known else state.user_id
    try:
        model.explain(user_id, served.model_item_id(item))
    except UnknownIdError as err:
        if err.name == "user":
            return str(err)
    except ValueError as err:
        if known:  # a user the model does not personalise (all ratings below min_rating)
            return str(err)
    # Known to the model, but without a vector here: the library would explain their
    # training row, which the service no longer serves them.  The reason is the
    # library's, in its words for an unknown user, said of this one.
    return (
        f"user {state.user_id!r} has no vector in the served model (erased, or nothing "
        f"stored that it can fold in): {model.unexplained_user_reason('such a user')}"
    )


def explain(
    served: Served, state: UserState, item: int, stars: dict | None = None, fitted=frozenset()
) -> dict:
    """The user's score for ``item`` split into μ, b_u, b_i and the factor terms, with the
    user's own rated titles closest to it (``Explanation.to_dict()``'s fields).

    The user (who may be folded in, not stored in the model) becomes a one-user model
    over the same items (``FactorModel.from_factors``), whose ``explain`` does the rest.
    ``stars`` (``{item index: rating}``, :func:`explain_stars`) are the user's own
    ratings: the supporting titles are then those rated at or above their mean, each
    with its ``rating`` (None for those in ``fitted``, valued at the model's fit), and
    ``supporting_from`` is ``"ratings"``; without them the model's fit stands in
    (``"model"``; see ``latentrec.models.factor.supporting_items``).  A user without a
    vector gets the baseline's terms from a rating model; a ranking model has none to
    give them, and :class:`CannotExplainError` says so (:func:`explain_refusal`).

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
        >>> m = FactorModel.from_factors(([1], [10, 20, 30]), q, global_mean=3.0)
        >>> s = Served.build(m, "v")
        >>> rated = np.array([1, 2])
        >>> ann = UserState("ann", 1, s.serial, 0.0, np.array([1.0, 0.0]), rated, "store")
        >>> why = explain(s, ann, 0)
        >>> why["user_id"], why["item_id"], why["prediction"], why["supporting_from"]
        ('ann', '10', 4.0, 'model')
        >>> why = explain(s, ann, 0, stars={1: 5.0, 2: 1.0})  # 30 is closest, but 1 star
        >>> [(r["item_id"], r["rating"]) for r in why["supporting_items"]]
        [('20', 5.0)]
    """
    refusal = explain_refusal(served, state, item)
    if refusal is not None:
        raise CannotExplainError(refusal)
    model = served.model
    k = model.n_factors_
    factors = state.factors if state.personal else np.zeros(k, np.float32)
    seen = np.zeros((1, served.n_items), dtype=np.float32)
    seen[0, state.rated] = 1
    catalog = Catalog.from_ids(
        [state.user_id],
        model.items_,
        seen=seen,
        item_titles=served.titles,
        rating_scale=served.rating_scale,
    )
    one = FactorModel.from_factors(
        catalog,
        model.item_factors_,
        factors[None, :],
        # A stranger's prediction starts from the model's baseline, as /predictions'
        # (a μ-less model's training mean, not its μ of 0).
        global_mean=model.global_mean_ if state.personal else model.baseline_mean(),
        user_bias=[state.bias],
        item_bias=model.item_bias_,
        predicts_ratings=served.predicts_ratings,
    )
    ratings = None
    if stars:
        ratings = {served.model_item_id(i): v for i, v in stars.items()}
    out = one.explain(state.user_id, served.model_item_id(item), ratings=ratings).to_dict()
    out["user_id"] = state.user_id
    out["item_id"] = id_text(out["item_id"])
    out["supporting_from"] = "ratings" if ratings else "model"
    fitted_ids = {served.item_ids[i] for i in fitted}
    for row in out["supporting_items"]:
        row["item_id"] = id_text(row["item_id"])
        if row["item_id"] in fitted_ids:
            # Not a star the user gave: a client must not show it as "you rated".
            row["rating"] = None
    return out


def warm_states(served: Served) -> list[UserState]:
    """Made-up users for a warm-up, each as a request would resolve them: one unknown
    (the popularity list), the first training user with nothing stored (their training
    row) and a new visitor with one stored answer (folded in), the last two when the
    model has them.  For a served pipeline each also carries what the pipeline ranks
    from (:func:`pipeline_state`).  Nothing is stored or cached.

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], [10, 20]), q, global_mean=3.0), "v")
        >>> [(state.user_id, state.source) for state in warm_states(s)]
        [('warm-up nobody', 'none'), ('1', 'model'), ('warm-up new', 'store')]
    """
    model = served.model
    nobody = LiveUsers.nobody(served, "warm-up nobody", 0)
    states = [(nobody, None)]
    if served.user_index:
        # Under their own id: a pipeline looks their training history up by it.
        user_id, u = next(iter(served.user_index.items()))
        seen = model.seen_
        trained = np.asarray(seen.indices[seen.indptr[u] : seen.indptr[u + 1]], np.int64)
        factors = np.asarray(model.user_factors_[u], dtype=np.float32)
        bias = float(model.user_bias_[u])
        known = UserState(user_id, 0, served.serial, bias, factors, trained, "model")
        states.append((known, None))
    # A new visitor's first answer, as onboarding stores it and folds it in.
    high = served.rating_scale[1] if served.rating_scale else 1.0
    kind = "explicit" if served.predicts_ratings else "event"
    cells = [(served.item_ids[0], high, kind)]
    bias, factors, rated = fold_cells(served, -1, cells)
    if factors is not None:
        new = UserState("warm-up new", 1, served.serial, bias, factors, rated, "store")
        states.append((new, cells))
    if served.pipeline is None:
        return [state for state, _ in states]
    return [pipeline_state(served, state, cells) for state, cells in states]


def warm_kernels(served: Served) -> int:
    """Run once, on made-up users (:func:`warm_states`), what a worker's first requests
    run (a known user's list, a new visitor's fold-in and list, an explanation, similar
    titles), so that the numba kernels they call are compiled before ``/health`` says
    ``"warm": true`` rather than during a visitor's request; how many answers it
    computed (nothing is stored or cached).  A served pipeline ranks each user through
    its stages, alone and with an exclusion (as requests come); its per-model routes
    answer through its first candidate, warmed as a plain model's when it is a factor
    model.

    Example:
        >>> from latentrec.models import FactorModel
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> s = Served.build(FactorModel.from_factors(([1], [10, 20]), q, global_mean=3.0), "v")
        >>> warm_kernels(s)  # lists of 3 users, 2 explanations, 1 similar list
        6
    """
    if served.n_items == 0:
        return 0
    model = served.model
    done = 0
    states = warm_states(served)
    for state in states:
        if served.pipeline is not None:
            pipeline_recommend(served, state, 10)
            pipeline_recommend(served, state, 10, exclude=np.array([0], np.int64))
            done += 2
        else:
            recommend(served, state, 10)
            done += 1
    if served.first_candidate_problem() is not None:
        return done
    for state in states:
        if state.personal:
            explain(served, state, 0)
            predictions(served, state, np.array([0], np.int64))
            done += 1
    if model.n_factors_ and np.any(model.item_factors_[0]):
        model.similar_items(served.model_item_id(0), n=6)
        done += 1
    return done
