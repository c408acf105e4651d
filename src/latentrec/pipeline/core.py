"""The two-stage pipeline: candidate models -> learned ranker -> re-rankers -> top n.

:class:`Pipeline` answers ``recommend`` / ``recommend_batch`` / ``recommend_batch_idx``
with the same result types as a model, never a seen item, and is saved as one model
file (the archive of :mod:`latentrec.io.modelfile`: the candidate models' own files,
the ranker's LightGBM text and the context as arrays, no pickle).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import numbers
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ..data.interactions import Interactions
from ..errors import CannotRankError, ModelFileError, NotFittedError
from ..io.modelfile import read_archive, read_manifest, write_archive
from ..io.tables import TableWriter
from ..models import FactorModel
from ..models.foldin import fold_in_values
from ..models.persistence import all_finite, jsonable
from ..models.persistence import load as load_model
from ..models.ranking import check_n, index_array, long_table
from .context import Context, binary_pattern, build_context
from .features import candidate_pools, feature_names, scoring_modes
from .history import Histories, UserHistory, user_key
from .params import check_count_at_most
from .ranker import LearnedRanker, RankerDataError
from .rules import Rules
from .stages import MMR, Calibrate, Explore, Freshness, Reranker, StageDataError
from .thompson import Thompson

__all__ = ["Pipeline", "cannot_rank", "load", "load_pipeline"]

STAGES = {cls.__name__: cls for cls in (MMR, Calibrate, Freshness, Explore, Thompson, Rules)}


def cannot_rank(pipeline) -> str | None:
    """Why ``pipeline``'s lists cannot be ranked, or None when they can: when no
    candidate model can order items (each a ``GlobalMean``, or another factor model
    whose :attr:`~latentrec.models.FactorModel.orders_items` is false), every pool it
    draws is the catalogue in index order, and its lists (fused, ranked or re-ranked)
    follow from that order, not from anything learned.  One candidate that orders items
    is enough: its pool comes in its order, and the pipeline's lists draw on it.  A
    candidate that is not a factor model (Popularity, ItemKNN) orders items by its own
    counts or neighbours.

    What :meth:`Pipeline.recommend` and :meth:`Pipeline.recommend_batch` refuse with
    (:class:`~latentrec.errors.CannotRankError`), and the service when it is asked to
    serve such a pipeline.  A learned ranker does not lift it (see :class:`Pipeline`).

    Example:
        >>> from latentrec.models import FactorModel
        >>> flat = FactorModel.from_factors(([1], [7, 8]), np.ones((2, 1)), [[1.0]])
        >>> class Stub:  # the one attribute read here
        ...     models = [flat, flat]
        >>> print(cannot_rank(Stub())[:58])
        none of its candidate models can order items (FactorModel,
        >>> Stub.models = [flat, FactorModel.from_factors(([1], [7, 8]), np.eye(2))]
        >>> cannot_rank(Stub()) is None
        True
    """
    models = list(pipeline.models)
    if any(not isinstance(m, FactorModel) or m.orders_items for m in models):
        return None
    return (
        "none of its candidate models can order items "
        f"({', '.join(type(m).__name__ for m in models)}): {CannotRankError.of(models[0])}"
    )


def _list_width(n: int, ctx: Context) -> int:
    """Columns of the arrays holding lists of ``n``: at most the catalogue's size, since a
    list shows an item once (``n = 2**31 - 1`` would be gibibytes per user).  The stages
    still get ``n`` itself: the exploration stages place their slots by it."""
    return min(n, len(ctx.items))


class Pipeline:
    """Candidates from one or more fitted models, an optional learned ranker, re-rankers.

    For each user with a history, every candidate model offers its top ``n_candidates``
    unseen items; the pool (their union) is ordered by the ``ranker``
    (:class:`LearnedRanker`) or, without one, by the model's score (one model) or
    reciprocal-rank fusion (several); then each of ``rerankers`` in turn decides the first
    ``n`` places, the rest of the pool following in the order it came, and each stage
    after the first takes the previous one's order as its relevance. A user with no cell
    in ``fit``'s data but some in its ``validation`` (new since the candidates' data) is
    folded in from those by each candidate factor model
    (:meth:`validation_users`) and ranked so. A user without a history (or unknown) gets
    the most popular unseen items, re-ranked the same way, with ``fallback=True`` and the
    first model's fallback scores, as a model gives. Items the
    user had (in ``fit``'s data, its ``validation`` and the models' own) are never
    recommended, and neither are items nobody had in ``fit``'s data (no model learned
    anything about them).

    ``fit(train, validation)`` fits the candidate models that are not fitted yet on
    ``train`` and the ranker, if not fitted yet, on ``validation``: a later time slice,
    whose interactions are the labels. A :class:`~latentrec.pipeline.rules.Rules` stage
    must come last, so its guarantees hold in the final list.

    A pipeline none of whose candidate models can order items (each a ``GlobalMean``:
    :func:`cannot_rank`) refuses :meth:`recommend`, :meth:`recommend_batch` and
    :meth:`recommend_all` with :class:`~latentrec.errors.CannotRankError`, as such a
    model refuses its own lists, unless every user asked for who would get a personal
    list has at most one item left to show (nothing to order it against).  A learned
    ranker does not lift the refusal: the pool it orders is each candidate's first
    ``n_candidates`` items, which for such a model are the lowest item indices, and the
    features the candidates give it are a constant score and item bias and a ``rank_j``
    that is the item index order itself.  The features left (popularity, age, the
    user's activity and genre match) do not come from the candidates; a
    :class:`~latentrec.models.Popularity` candidate, the fix the error names, gives the
    ranker a pool chosen by counts to order with them.

    ``n_candidates=200`` is fixed, untuned: ``benchmarks/ranking_stage.py`` uses 200 per
    model on MovieLens-100K (1,682 items) and compares no other size. Each stage's own
    defaults say what they were chosen on.

    Example:
        >>> import numpy as np
        >>> from latentrec import datasets
        >>> from latentrec.models import ImplicitALS, Popularity
        >>> data = datasets.synthetic(60, 30, 600, random_state=0)
        >>> pipe = Pipeline([ImplicitALS(n_factors=4, random_state=0), Popularity()],
        ...                 rerankers=[MMR(0.8)], n_candidates=20).fit(data)
        >>> rec = pipe.recommend(data.users.ids[0], n=5)
        >>> len(rec.ids), rec.fallback
        (5, False)
    """

    def __init__(self, candidates, ranker=None, rerankers=(), n_candidates: int = 200):
        self.candidates = candidates
        self.ranker = ranker
        self.rerankers = rerankers
        self.n_candidates = n_candidates

    def __repr__(self) -> str:
        return (
            f"Pipeline(candidates={self.models!r}, ranker={self.ranker!r}, "
            f"rerankers={list(self.rerankers)!r}, n_candidates={self.n_candidates!r})"
        )

    @property
    def models(self) -> list:
        """The candidate models, as a list."""
        return (
            list(self.candidates)
            if isinstance(self.candidates, (list, tuple))
            else [self.candidates]
        )

    def _check_params(self) -> None:
        models = self.models
        if not models:
            raise ValueError("a pipeline needs at least one candidate model")
        for j, model in enumerate(models):
            if isinstance(model, Pipeline):
                # It answers recommend_batch_idx too, and failed later on a model's
                # attribute (fitted_); its parts are what a pipeline is built from.
                raise TypeError(
                    f"candidates[{j}] is a Pipeline, not a model: give its candidate models "
                    "and its ranker (Pipeline(pipe.models, ranker=pipe.ranker, ...); "
                    "tradeoff(pipe.models, ..., ranker=pipe.ranker))"
                )
            if not hasattr(model, "recommend_batch_idx"):
                raise TypeError(f"candidates[{j}] is a {type(model).__name__}, not a model")
        if self.ranker is not None and not isinstance(self.ranker, LearnedRanker):
            raise TypeError(f"ranker must be a LearnedRanker or None, got {self.ranker!r}")
        stages = list(self.rerankers)
        for s, stage in enumerate(stages):
            if not isinstance(stage, Reranker):
                raise TypeError(f"rerankers[{s}] is {stage!r}, not a re-ranker (MMR, Rules, ...)")
            if isinstance(stage, Rules) and s != len(stages) - 1:
                raise ValueError("Rules must be the last re-ranker, so its rules hold in the list")
        check_count_at_most(self.n_candidates, "n_candidates")

    def clone(self) -> Pipeline:
        """A fresh, unfitted pipeline of the same recipe: each candidate model cloned
        unfitted with its hyperparameters, an unfitted ranker with the same parameters,
        the same re-rankers (unfitted, with their knobs) and ``n_candidates``.

        What retraining refits; ``self`` is left as it is.

        Example:
            >>> from latentrec.models import Popularity
            >>> pipe = Pipeline(Popularity(), rerankers=[MMR(0.5)], n_candidates=7)
            >>> fresh = pipe.clone()
            >>> fresh.n_candidates, fresh.rerankers[0].lambda_, fresh.is_fitted
            (7, 0.5, False)
        """
        ranker = None if self.ranker is None else type(self.ranker)(**self.ranker.get_params())
        stages = [type(stage)(**stage.get_params()) for stage in self.rerankers]
        return Pipeline([model.clone() for model in self.models], ranker, stages, self.n_candidates)

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions, validation: Interactions | None = None) -> Pipeline:
        """Fit what is not fitted yet: candidate models on ``train``, the ranker on
        ``validation`` (later in time than ``train``; needed only by an unfitted ranker).

        Pre-fitted candidates must share ``train``'s vocabularies and, when a ranker is
        trained, must not have seen any ``validation`` cell (its labels would leak into
        its features). Returns ``self``.

        Raises :class:`RankerDataError` when the ranker has nothing to learn from, and
        :class:`StageDataError` (its ``stage`` naming the re-ranker, e.g.
        ``"Calibrate (rerankers[1])"``) when the data lacks what a re-ranker reads (genres,
        timestamps, a side-table column, a pinned item) or breaks one of its rules.

        Example (models fitted here on ``train``, the ranker on the later ``validation``):
            >>> from latentrec import datasets
            >>> from latentrec.data.splits import random_split
            >>> from latentrec.models import Popularity
            >>> data = datasets.synthetic(40, 20, 400, random_state=0)  # no timestamps
            >>> train, validation = random_split(data, 0.3, random_state=0)  # or temporal
            >>> ranker = LearnedRanker(n_estimators=5, min_child_samples=5, num_threads=1)
            >>> pipe = Pipeline(Popularity(), ranker, n_candidates=10).fit(train, validation)
            >>> pipe.is_fitted, pipe.ranker.is_fitted
            (True, True)
            >>> Pipeline(Popularity(), LearnedRanker()).fit(train)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
                ...
            ValueError: the learned ranker learns from a later time slice than ...
        """
        self._check_params()
        if not isinstance(train, Interactions):
            raise TypeError(f"train must be latentrec.Interactions, got {type(train).__name__}")
        if validation is not None:
            _check_validation(train, validation)
        models = self.models
        for model in models:
            if not model.is_fitted:
                model.fit(train)
        for j, model in enumerate(models):
            if model.users_ != train.users or model.items_ != train.items:
                raise ValueError(
                    f"candidates[{j}] ({type(model).__name__}) was fitted on data with other "
                    "vocabularies; fit every model and the pipeline on splits of one Interactions"
                )
        train_ranker = self.ranker is not None and not self.ranker.is_fitted
        if train_ranker:
            if validation is None:
                raise ValueError(
                    "the learned ranker learns from a later time slice than the candidate "
                    "models: pass validation= (e.g. the last part of the training period)"
                )
            labels = binary_pattern(validation.matrix, validation.shape)
            for j, model in enumerate(models):
                leaked = model.catalog_.seen.multiply(labels).nnz
                if leaked:
                    raise ValueError(
                        f"candidates[{j}] ({type(model).__name__}) has seen {leaked} cells of "
                        "validation, the ranker's labels; fit it on train only"
                    )
        context = build_context(train, models, validation)
        if train_ranker:
            self.ranker_summary_ = self._fit_ranker(context, validation)
        stages = []
        for s, stage in enumerate(self.rerankers):
            try:
                stages.append(stage.fit(context).bind(models))
            except StageDataError as err:
                if err.stage is None:
                    err.stage = f"{type(stage).__name__} (rerankers[{s}])"
                raise
        self.rerankers = stages
        self.context_ = context
        self._fitted_states = tuple(model.fitted_ for model in models)
        return self

    def _fit_ranker(self, context: Context, validation: Interactions) -> dict:
        labels = binary_pattern(validation.matrix, validation.shape)
        users = np.flatnonzero(np.diff(labels.indptr) > 0)
        users = users[context.has_history(users)]
        if users.size == 0:
            raise RankerDataError("no validation user has a training history: nothing to rank")
        # Exclude only the training history: the validation items are the answers.
        pools = candidate_pools(self.models, context, users, self.n_candidates, context.history)
        y = np.zeros(pools.items.size, dtype=np.int64)
        keep_rows, sizes = [], []
        for b, user in enumerate(users.tolist()):
            sl = pools.of(b)
            row = labels.indices[labels.indptr[user] : labels.indptr[user + 1]]
            hit = np.isin(pools.items[sl], row)
            y[sl] = hit
            if hit.any() and not hit.all():  # a query with one class teaches nothing
                keep_rows.append(np.arange(sl.start, sl.stop))
                sizes.append(sl.stop - sl.start)
        if not sizes:
            raise RankerDataError(
                "no validation item is among any user's candidates; raise n_candidates"
            )
        rows = np.concatenate(keep_rows)
        self.ranker.fit(pools.features[rows], y[rows], sizes, feature_names(self.models))
        return {
            "queries": len(sizes),
            "rows": int(rows.size),
            "positives": int(y[rows].sum()),
            "validation_users": int(np.count_nonzero(np.diff(labels.indptr) > 0)),
        }

    # ------------------------------------------------------------------ state
    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has run (or the pipeline was loaded)."""
        return getattr(self, "context_", None) is not None

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless the pipeline is fitted."""
        if not self.is_fitted:
            raise NotFittedError("this Pipeline is not fitted yet; call fit(train) first")

    @property
    def users_(self):
        """User vocabulary (that of the candidate models)."""
        self.check_fitted()
        return self.context_.users

    @property
    def items_(self):
        """Item vocabulary (that of the candidate models)."""
        self.check_fitted()
        return self.context_.items

    @property
    def n_users(self) -> int:
        """Number of users the pipeline knows."""
        return len(self.users_)

    @property
    def n_items(self) -> int:
        """Number of items the pipeline knows."""
        return len(self.items_)

    @property
    def catalog_(self):
        """The first candidate model's catalogue (ids, titles)."""
        self.check_fitted()
        return self.models[0].catalog_

    # ------------------------------------------------------------------ answers
    def recommend(self, user_id, n: int = 10):
        """Top-``n`` items for one user, best first, as a model's
        :class:`~latentrec.models.Recommendations` (``fallback`` True for a user with no
        history). An item pinned or explored into the list without a score has NaN.

        Example:
            >>> from latentrec import datasets
            >>> from latentrec.models import Popularity
            >>> data = datasets.synthetic(30, 20, 200, random_state=0)
            >>> pipe = Pipeline(Popularity(), n_candidates=5).fit(data)
            >>> rec = pipe.recommend(data.users.ids[0], n=3)
            >>> len(rec.ids), rec.fallback, pipe.recommend("nobody", n=3).fallback
            (3, False, True)
        """
        self.check_fitted()
        check_n(n)
        u = self.users_.lookup([user_id])
        self._refuse_unordered(u)
        idx, vals, fallback = self._recommend_idx(u, n, np.array([user_id], dtype=object))
        keep = idx[0] >= 0
        return self.catalog_.recommendations(idx[0][keep], vals[0][keep], fallback[0])

    def recommend_batch(self, user_ids, n: int = 10) -> pd.DataFrame:
        """Top-``n`` for many users as a long table: ``user_id``, ``rank``, ``item_id``,
        ``score``, ``fallback``, as a model's ``recommend_batch``.

        Example:
            >>> from latentrec import datasets
            >>> from latentrec.models import Popularity
            >>> data = datasets.synthetic(20, 10, 80, random_state=0)
            >>> pipe = Pipeline(Popularity(), n_candidates=5).fit(data)
            >>> table = pipe.recommend_batch([data.users.ids[1], "nobody"], n=2)
            >>> table.columns.tolist(), table["fallback"].tolist()
            (['user_id', 'rank', 'item_id', 'score', 'fallback'], [False, False, True, True])
        """
        self.check_fitted()
        check_n(n)
        raw = np.atleast_1d(np.asarray(user_ids))
        u = self.users_.lookup(raw)
        self._refuse_unordered(u)
        idx, vals, fallback = self._recommend_idx(u, n, raw)
        return long_table(raw, self.items_.ids, idx, vals, fallback)

    def recommend_all(
        self, path, n: int = 10, users=None, exclude_seen: bool = True, *, chunk_size: int = 4096
    ) -> int:
        """Stream the top-``n`` of every user (or of ``users``, raw ids) to a Parquet or CSV
        file, ``chunk_size`` users at a time, as a model's ``recommend_all``: the columns of
        :meth:`recommend_batch`, written under a temporary name and renamed at the end.
        A pipeline never recommends a seen item, so ``exclude_seen`` must stay True.
        Returns the number of rows written.

        Example:
            >>> import os, tempfile
            >>> import pandas as pd
            >>> from latentrec import datasets
            >>> from latentrec.models import Popularity
            >>> data = datasets.synthetic(20, 10, 80, random_state=0)
            >>> pipe = Pipeline(Popularity(), n_candidates=5).fit(data)
            >>> path = os.path.join(tempfile.mkdtemp(), "top.csv")
            >>> rows = pipe.recommend_all(path, n=2)
            >>> rows == len(pd.read_csv(path)) == len(pipe.recommend_batch(data.users.ids, 2))
            True
        """
        self.check_fitted()
        check_n(n)
        if not exclude_seen:
            raise ValueError(
                "a pipeline never recommends an item the user had; exclude_seen must be True"
            )
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        raw = self.users_.ids if users is None else np.atleast_1d(np.asarray(users))
        self._refuse_unordered(self.users_.lookup(raw))  # before any file is written
        writer = TableWriter(path)
        with writer:
            # At least one chunk, so that an empty selection still writes the header.
            for start in range(0, max(raw.size, 1), chunk_size):
                writer.write(self.recommend_batch(raw[start : start + chunk_size], n))
        return writer.rows

    def recommend_batch_idx(self, user_idx, n: int = 10, *, exclude_seen: bool = True):
        """``(item_idx, scores, fallback)`` in internal indices, as a model's: int32 and
        float32 arrays of shape ``(len(user_idx), min(n, n_items))`` (no list is longer
        than the catalogue, so ``n = 2**31 - 1`` asks for every item the pipeline would
        show), short rows padded with -1 / -inf;
        ``user_idx`` -1 is an unknown user (popularity fallback; with no id to seed the
        random stages, every -1 gets the same slots, where :meth:`recommend` and
        :meth:`recommend_batch` seed a stranger by their id).  A pipeline always
        leaves out what a user has seen: ``exclude_seen=False`` is refused (it is taken
        so that :func:`~latentrec.evaluation.evaluate_ranking` scores a pipeline as a model).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]]))
            >>> pipe = Pipeline(Popularity(), n_candidates=5).fit(data)
            >>> idx, vals, fallback = pipe.recommend_batch_idx(np.array([0, -1]), n=2)
            >>> idx.tolist(), fallback.tolist()
            ([[2, -1], [0, 1]], [False, True])
        """
        self.check_fitted()
        check_n(n)
        if not exclude_seen:
            raise ValueError(
                "a pipeline always leaves out the items a user has seen; "
                "exclude_seen=False is for a single model"
            )
        return self._recommend_idx(user_idx, n, None)

    def check_can_rank(self, user_idx) -> None:
        """Raise :class:`~latentrec.errors.CannotRankError` when no candidate model can
        order items (:func:`cannot_rank`) and some user at ``user_idx`` (internal
        indices, -1: unknown) would get a personal list of more than one item: what
        :meth:`recommend` and :meth:`recommend_batch` check, for a caller of
        :meth:`recommend_batch_idx` (which does not), such as
        :func:`latentrec.evaluation.evaluate_ranking`.

        Example:
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.models import GlobalMean
            >>> df = pd.DataFrame({"user_id": [0, 0, 1], "item_id": [0, 1, 2], "rating": [4, 2, 5]})
            >>> data = Interactions.from_frame(df)
            >>> flat = Pipeline(GlobalMean()).fit(data)
            >>> try:
            ...     flat.check_can_rank([1])
            ... except ValueError as err:
            ...     print(str(err)[:48])
            cannot recommend from this pipeline: none of its
        """
        self._refuse_unordered(np.asarray(user_idx))

    def _refuse_unordered(self, user_idx) -> None:
        """Raise :class:`~latentrec.errors.CannotRankError` when no candidate model can
        order items (:func:`cannot_rank`) and a user at ``user_idx`` (-1: unknown) would
        get a personal list with more than one item left to show.

        The rule is the models' (``FactorModel.recommend``): a user who gets the
        popularity list (``fallback``) is ordered by counts and passes, and so does one
        left at most one item (those they had, the never-shown items and the items
        nobody had in ``fit``'s data are never shown).  ``recommend_batch_idx`` is left
        to its callers, as a model's is.
        """
        problem = cannot_rank(self)
        if problem is None:
            return
        ctx = self.context_
        shown = ctx.item_popularity > 0
        shown[self._banned()] = False
        for _, batch in self.user_batches(user_idx):
            personal = self._personal(batch)
            if not personal.any():
                continue
            exclude = batch.exclude
            owner = np.repeat(np.arange(len(batch)), np.diff(exclude.indptr))
            hidden = np.bincount(owner, shown[exclude.indices], len(batch))
            left = int(shown.sum()) - hidden.astype(np.int64)
            if (personal & (left > 1)).any():
                raise CannotRankError(f"cannot recommend from this pipeline: {problem}")

    def _personal(self, batch: Histories) -> np.ndarray:
        """Which users of ``batch`` get a personal list: a history, and a candidate model
        that scores them (:meth:`recommend_histories`); the others the popularity list."""
        everyone = np.arange(len(batch))
        scorable = np.zeros(len(batch), dtype=bool)
        for j, model in enumerate(self.models):
            scorable |= scoring_modes(model, batch, j, everyone) != "none"
        return (batch.counts > 0) & scorable

    def _recommend_idx(self, user_idx, n: int, raw_ids):
        """:meth:`recommend_batch_idx`; with ``raw_ids`` (the ids asked for, aligned with
        ``user_idx``) a user the pipeline does not know is seeded by their id
        (:func:`~latentrec.pipeline.history.user_key`), as the service seeds them, so that
        two strangers do not get the same random (``Explore``, ``Thompson``) slots."""
        u = index_array(user_idx, self.n_users, "user_idx", allow_unknown=True)
        width = _list_width(n, self.context_)
        idx = np.full((u.size, width), -1, dtype=np.int32)
        vals = np.full((u.size, width), -np.inf, dtype=np.float32)
        fallback = np.ones(u.size, dtype=bool)
        for rows, batch in self.user_batches(u):
            # Strangers by the index asked for: a user known from the validation slice
            # alone is -1 in their batch (no model has a training row for them), but is
            # keyed by their index, as recommend_batch_idx and the service key them.
            strangers = np.flatnonzero(u[rows] < 0)
            if raw_ids is not None and strangers.size:
                keys = batch.keys.copy()
                integer = self.users_.is_integer
                for b in strangers.tolist():
                    spelled = _as_looked_up(raw_ids[rows[b]], integer)
                    keys[b] = user_key(spelled, self.n_users)
                batch = dataclasses.replace(batch, keys=keys)
            idx[rows], vals[rows], fallback[rows] = self.recommend_histories(batch, n)
        return idx, vals, fallback

    def user_batches(self, user_idx) -> list[tuple[np.ndarray, Histories]]:
        """The users at ``user_idx`` (-1: unknown) as the batches that rank them, each
        ``(rows, batch)`` with ``rows`` their positions: those the pipeline knows from its
        validation slice alone folded in from it (:meth:`validation_users`), every other
        user by their stored history (``Histories.stored``).  Each user is in one batch.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]]))
            >>> pipe = Pipeline(Popularity(), n_candidates=5).fit(data)
            >>> [rows.tolist() for rows, _ in pipe.user_batches([0, -1])]
            [[0, 1]]
        """
        u = index_array(user_idx, self.n_users, "user_idx", allow_unknown=True).astype(np.int64)
        rows, later = self.validation_users(u)
        rest = np.setdiff1d(np.arange(u.size), rows)
        out = [(rest, Histories.stored(self.context_, u[rest]))] if rest.size else []
        if rows.size:
            out.append((rows, later))
        return out

    def validation_users(self, user_idx) -> tuple[np.ndarray, Histories | None]:
        """The users the pipeline knows from ``fit``'s ``validation`` alone, ready to rank:
        ``(rows, batch)``, ``rows`` their positions in ``user_idx`` and ``batch`` their
        :class:`~latentrec.pipeline.history.Histories` (None when there is none).

        Such a user (new since the candidate models' data: no cell in ``train``, some in
        ``validation``) has no training row in any model, so each candidate factor model
        folds them in from their validation cells, with the values a live fold-in of the
        same cells gives (the models' rule, :func:`latentrec.models.foldin.fold_in_values`,
        for cells of the validation slice's kind; in a file written before that kind was
        kept, as each model's fit reads a value); their history is those cells, keyed by
        their index (their random stages' seed); no model's training state is read for
        them. :meth:`recommend_batch_idx` ranks them so, not by popularity.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.data.splits import temporal_split
            >>> from latentrec.models import ImplicitALS
            >>> data = Interactions.from_arrays([0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 0], None,
            ...                                 timestamps=[1, 2, 3, 4, 5, 6])
            >>> train, valid = temporal_split(data, test_size=1 / 3)
            >>> pipe = Pipeline(ImplicitALS(n_factors=2, random_state=0)).fit(train, valid)
            >>> rows, batch = pipe.validation_users(np.array([0, 2]))
            >>> rows.tolist(), batch.user(0).items.tolist()
            ([1], [0, 2])
        """
        self.check_fitted()
        ctx = self.context_
        u = index_array(user_idx, self.n_users, "user_idx", allow_unknown=True).astype(np.int64)
        if ctx.later is None or u.size == 0:
            return np.empty(0, dtype=np.int64), None
        known = np.clip(u, 0, None)
        rows = np.flatnonzero(
            (u >= 0)
            & (np.diff(ctx.history.indptr)[known] == 0)
            & (np.diff(ctx.later.indptr)[known] > 0)
        )
        if rows.size == 0:
            return rows, None
        block = ctx.later[u[rows]]
        whos = []
        for b, user in enumerate(u[rows].tolist()):
            cells = slice(block.indptr[b], block.indptr[b + 1])
            # -1: no model holds a training row for them.  The vectors folded here stand
            # in for it, and a model without one is skipped for them, as for any newcomer.
            whos.append(
                (
                    -1,
                    UserHistory(
                        block.indices[cells],
                        block.data[cells].astype(np.float64),
                        ctx.seen_items(user),
                        key=user,
                    ),
                )
            )
        vectors = []
        per_user = np.repeat(np.arange(rows.size), np.diff(block.indptr))
        # None (a file written before the slice's kind was kept): read as each model's
        # own training cells, as such files did.
        explicit = None if ctx.later_implicit is None else not ctx.later_implicit
        for model in self.models:
            if not isinstance(model, FactorModel):
                vectors.append(None)
                continue
            values = fold_in_values(model, block.data, explicit)
            kept = ~np.isnan(values)  # seen only
            counts = np.bincount(per_user[kept], minlength=rows.size)
            # One user per call: a sampling fold-in (BPR's) seeds each row by its place
            # in the batch, so a batched fold-in would give a user another vector with
            # other company, and not the one a live fold-in of the same cells gives.
            parts = []
            for b in range(rows.size):
                cells = np.arange(block.indptr[b], block.indptr[b + 1])
                cells = cells[kept[cells]]
                parts.append(
                    model.fold_in_idx([0, cells.size], block.indices[cells], values[cells])
                )
            bias = np.concatenate([p[0] for p in parts])
            factors = np.concatenate([p[1] for p in parts])
            vectors.append((bias, factors, counts > 0))
        return rows, Histories.of(ctx, whos, vectors)

    def recommend_histories(self, histories: Histories, n: int = 10):
        """``(item_idx, scores, fallback)`` as :meth:`recommend_batch_idx`, for users given
        by their history (a :class:`~latentrec.pipeline.history.Histories` batch): the
        path every list takes, training users' (their stored history) included.

        A user with a history and at least one candidate model that can score them (a
        folded vector, the training state of a training user, or a model that scores
        everyone alike) gets a personal list; any other user the popularity list, with
        ``fallback`` True. Nobody gets an item of their ``exclude`` set or a never-show
        item.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> from latentrec.pipeline.history import Histories, UserHistory
            >>> data = Interactions.from_dense(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]]))
            >>> pipe = Pipeline(Popularity(), n_candidates=5).fit(data)
            >>> newcomer = UserHistory(items=[1], values=[1.0], seen=[1])
            >>> idx, vals, fallback = pipe.recommend_histories(
            ...     Histories.of(pipe.context_, [newcomer]), n=2)
            >>> idx.tolist(), fallback.tolist()
            ([[0, 2]], [False])
        """
        self.check_fitted()
        check_n(n)
        self._check_unchanged()
        ctx = self.context_
        batch = histories
        self._check_vectors(batch)
        width = _list_width(n, ctx)
        idx = np.full((len(batch), width), -1, dtype=np.int32)
        vals = np.full((len(batch), width), -np.inf, dtype=np.float32)
        personal = self._personal(batch)
        banned = self._banned()
        rows = np.flatnonzero(personal)
        if rows.size:
            part = batch.take(rows)
            pools = candidate_pools(self.models, ctx, part, self.n_candidates, None, banned)
            if self.ranker is not None:
                relevance = self.ranker.predict(pools.features)
            else:
                relevance = pools.fused
            for b, row in enumerate(rows.tolist()):
                sl = pools.of(b)
                who = part.user(b)
                self._fill(idx, vals, row, who, pools.items[sl], relevance[sl], n, None)
        rest = np.flatnonzero(~personal)
        if rest.size:
            popularity = ctx.item_popularity
            by_popularity = np.argsort(-popularity, kind="stable")
            by_popularity = by_popularity[~np.isin(by_popularity, banned)]
            by_popularity = by_popularity[popularity[by_popularity] > 0]
            first = self.models[0]
            for row in rest.tolist():
                who = batch.user(row)
                pool = by_popularity[~np.isin(by_popularity, who.exclude)]
                pool = pool[: self.n_candidates]
                self._fill(idx, vals, row, who, pool, popularity[pool], n, first)
        return idx, vals, ~personal

    def _check_vectors(self, batch: Histories) -> None:
        """Each vector given belongs to a candidate that scores vectors and covers the batch."""
        given = batch.vectors
        if len(given) > len(self.models):
            raise ValueError(
                f"vectors has {len(given)} entries for {len(self.models)} candidate models "
                "(one per candidate, None where none is given)"
            )
        for j, vector in enumerate(given):
            if vector is None:
                continue
            model = self.models[j]
            if not hasattr(model, "recommend_vectors"):
                raise ValueError(
                    f"vectors[{j}] is given, but candidates[{j}] is a {type(model).__name__}, "
                    "which scores no user vector: give None for it"
                )
            if len(vector) != 3:
                raise ValueError(
                    f"vectors[{j}] must be (bias, factors, has), got {len(vector)} parts"
                )
            rows = {int(np.shape(part)[0]) if np.ndim(part) else -1 for part in vector}
            if rows != {len(batch)}:
                raise ValueError(
                    f"vectors[{j}] has {', '.join(map(str, sorted(rows)))} users' entries for a "
                    f"batch of {len(batch)}"
                )

    def _check_unchanged(self, *, ids: bool = False) -> None:
        """Raise a ValueError naming the candidate model that knows other users or items
        than the pipeline (grown by ``partial_fit_users`` / ``partial_fit_items``, or refit
        on other data since ``fit``): its indices no longer fit the pipeline's arrays, so
        it would fail deep inside, or be saved to a file that cannot be loaded.  Per
        answer only the sizes are compared (cheap); ``ids=True`` compares the ids too."""
        ctx = self.context_
        for j, model in enumerate(self.models):
            users, items = model.users_, model.items_
            same = len(users) == len(ctx.users) and len(items) == len(ctx.items)
            if same and ids:
                same = users == ctx.users and items == ctx.items
            if not same:
                raise ValueError(
                    f"candidates[{j}] ({type(model).__name__}) changed after the pipeline was "
                    f"fitted: it knows {len(users)} users and {len(items)} items, the "
                    f"pipeline {len(ctx.users)} and {len(ctx.items)}; build a new Pipeline "
                    "from the models as they are now and fit it on their data"
                )
        # A candidate refit in place on data over the same ids keeps its sizes, but the
        # pipeline's own state (what is seen, MMR's vectors, the ranker's features) was
        # built from the old one: its lists would mix two models without a word.
        recorded = getattr(self, "_fitted_states", None) or ()
        # (none recorded: a pipeline made before fit, or copied without its state)
        for j, (model, then) in enumerate(zip(self.models, recorded, strict=False)):
            if not same_learning(model.fitted_, then):
                raise ValueError(
                    f"candidates[{j}] ({type(model).__name__}) was refit after the pipeline "
                    "was fitted; build a new Pipeline from the models as they are now and "
                    "fit it on their data"
                )

    def _banned(self) -> np.ndarray:
        parts = [stage.never_shown() for stage in self.rerankers]
        return np.unique(np.concatenate([np.empty(0, dtype=np.int64), *parts]))

    def _fill(self, idx, vals, row, user, pool, relevance, n, fallback_model) -> None:
        """Order one user's pool, run the stages, write the top ``n`` into row ``row``.

        A pooled item without a relevance (NaN: the one candidate model listed it but
        gave it no score) is not a candidate: ranked as 0 it came before every item the
        model scored below 0, and a stage's min-max relevance cannot place it either.
        """
        relevance = np.asarray(relevance, dtype=np.float64)
        scored = ~np.isnan(relevance)
        pool, relevance = pool[scored], relevance[scored]
        if pool.size == 0 and not self.rerankers:
            return
        order = np.argsort(-relevance, kind="stable")
        cands, scores = pool[order].astype(np.int64), np.asarray(relevance, float)[order]
        known = dict(zip(cands.tolist(), scores.tolist(), strict=True))
        stages = list(self.rerankers)
        for s, stage in enumerate(stages):
            if cands.size == 0 and not isinstance(stage, Rules):
                continue
            picked = np.asarray(stage.rerank(self.context_, user, cands, scores, n), np.int64)
            if s == len(stages) - 1:
                cands = picked
            else:
                # The stage decides the first n places; the rest of the pool follows in the
                # order it came, so later stages have candidates to spare, and they take
                # this order (not the scores) as relevance.
                cands = np.concatenate([picked, cands[~np.isin(cands, picked)]])
                scores = -np.arange(cands.size, dtype=np.float64)
        top = cands[: min(n, idx.shape[1])]
        idx[row, : top.size] = top
        if fallback_model is not None:
            if fallback_model.predicts_ratings:
                shown = fallback_model.predict_idx(np.full(top.size, -1), top)
            else:
                shown = np.full(top.size, np.nan)
        else:
            shown = np.array([known.get(i, np.nan) for i in top.tolist()])
        vals[row, : top.size] = shown

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write the fitted pipeline to ``path``: one archive holding the candidate
        models' files, the ranker's LightGBM text, the context and the stages' arrays.

        Example:
            >>> import os, tempfile
            >>> from latentrec import datasets, load
            >>> from latentrec.models import Popularity
            >>> data = datasets.synthetic(20, 10, 80, random_state=0)
            >>> pipe = Pipeline(Popularity(), rerankers=[Rules(never=[0])]).fit(data)
            >>> path = os.path.join(tempfile.mkdtemp(), "pipe.npz")
            >>> pipe.save(path)
            >>> load(path).rerankers
            [Rules(pin={}, boost={}, bury=[], never=[0], max_per={})]
        """
        self.check_fitted()
        self._check_unchanged(ids=True)  # else the file would not load
        arrays: dict[str, np.ndarray] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for j, model in enumerate(self.models):
                file = os.path.join(tmp, f"candidate{j}.npz")
                model.save(file)
                arrays[f"candidate.{j}"] = np.frombuffer(Path(file).read_bytes(), dtype=np.uint8)
        if self.ranker is not None:
            text = self.ranker.to_text().encode("utf-8")
            arrays["ranker.model"] = np.frombuffer(text, dtype=np.uint8)
        for name, arr in self.context_.arrays().items():
            arrays[f"context.{name}"] = arr
        for s, stage in enumerate(self.rerankers):
            for name, arr in stage.arrays().items():
                arrays[f"stage{s}.{name}"] = np.asarray(arr)
        manifest = {
            "latentrec_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "algorithm": "Pipeline",
            "pipeline": {
                "n_candidates": int(self.n_candidates),
                "candidates": [type(m).__name__ for m in self.models],
                "ranker": None if self.ranker is None else jsonable(self.ranker.get_params()),
                "ranker_summary": jsonable(getattr(self, "ranker_summary_", None)),
                "rerankers": [
                    {"kind": type(s).__name__, "params": jsonable(s.get_params())}
                    for s in self.rerankers
                ],
            },
            "data": {"n_users": self.n_users, "n_items": self.n_items},
        }
        write_archive(path, manifest, arrays)


def _as_looked_up(raw, integer: bool):
    """A user id as the vocabulary's lookup reads it (whole-number text or 9001.0 is the
    integer where the ids are integers; text is stripped), so that a stranger's random
    slots follow the user, not the spelling: ``recommend("09001")`` found the user 9001
    if known, but seeded an unknown one otherwise than ``recommend(9001)`` and the
    service (which reads ``/users/09001`` as 9001).

    Example:
        >>> _as_looked_up("09001", True), _as_looked_up(9001.0, True), _as_looked_up(" ann ", False)
        (9001, 9001, 'ann')
    """
    if not integer:
        return str(raw).strip()
    if isinstance(raw, (bool, np.bool_)):
        return raw
    if isinstance(raw, (int, np.integer)):
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw)  # exact for ids past 2**53, as the lookup reads them
        except ValueError:
            pass
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return raw
    if np.isfinite(number) and number == int(number):
        return int(number)
    return raw


def _check_validation(train: Interactions, validation: Interactions) -> None:
    if not isinstance(validation, Interactions):
        raise TypeError(
            f"validation must be latentrec.Interactions, got {type(validation).__name__}"
        )
    if validation.users != train.users or validation.items != train.items:
        raise ValueError(
            "validation must share train's vocabularies; split one Interactions with "
            "latentrec.data.splits"
        )
    both = binary_pattern(train.matrix, train.shape).multiply(
        binary_pattern(validation.matrix, validation.shape)
    )
    if both.nnz:
        raise ValueError(
            f"{both.nnz} cells are in both train and validation; they must be disjoint"
        )
    if train.timestamps is not None and validation.timestamps is not None and validation.nnz:
        latest = train.timestamps.max()
        early = int(np.count_nonzero(validation.timestamps < latest))
        if early:
            # Exact numbers: with :g two timestamps seconds apart printed alike.
            raise ValueError(
                "validation must come after train in time (the ranker learns what happens "
                f"next): {early:,} of its {validation.nnz:,} cells are before train's latest "
                f"timestamp {_exact(latest)} (its earliest: "
                f"{_exact(validation.timestamps.min())}); use "
                "latentrec.data.splits.temporal_split"
            )


def _exact(value: float) -> str:
    """A timestamp as written: a whole number without a decimal point, else in full.

    Example:
        >>> _exact(889237005.0), _exact(1.25)
        ('889237005', '1.25')
    """
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def same_learning(now, then) -> bool:
    """Whether two fitted states of one model hold the same learned values: the same
    catalogue and the same arrays (views of one buffer), whatever else was recorded
    since (``record_metrics``).  A refit builds new arrays; a reader that only looks
    keeps them.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> model = Popularity().fit(Interactions.from_dense(np.ones((2, 3))))
        >>> then = model.fitted_
        >>> same_learning(model.record_metrics(rmse=1.0).fitted_, then)
        True
        >>> same_learning(model.fit(Interactions.from_dense(np.ones((2, 3)))).fitted_, then)
        False
    """
    if now is then:
        return True
    if now.catalog is not then.catalog:
        return False
    keys = (set(now.state) | set(then.state)) - {"metrics_"}
    for key in keys:
        a, b = now.state.get(key), then.state.get(key)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            if not (
                isinstance(a, np.ndarray)
                and isinstance(b, np.ndarray)
                and a.shape == b.shape
                and _buffer(a) is _buffer(b)
            ):
                return False
        elif a is not b and a != b:
            return False
    return True


def _buffer(array: np.ndarray):
    """The array that owns ``array``'s memory (views chain to it through ``base``)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def load_pipeline(path) -> Pipeline:
    """Load a pipeline written by :meth:`Pipeline.save`; checks every array's digest.

    Example:
        >>> import os, tempfile
        >>> from latentrec import datasets
        >>> from latentrec.models import Popularity
        >>> data = datasets.synthetic(30, 20, 200, random_state=0)
        >>> pipe = Pipeline(Popularity(), n_candidates=10).fit(data)
        >>> path = os.path.join(tempfile.mkdtemp(), "pipe.npz"); pipe.save(path)
        >>> load_pipeline(path).recommend(data.users.ids[0], 3).ids.tolist() == (
        ...     pipe.recommend(data.users.ids[0], 3).ids.tolist())
        True
    """
    manifest, arrays = read_archive(path)
    if manifest.get("algorithm") != "Pipeline":
        raise ModelFileError(
            f"{path} holds a {manifest.get('algorithm')} model, not a pipeline; "
            "load it with latentrec.load"
        )
    try:
        return _build_pipeline(path, manifest, arrays)
    except ModelFileError:
        raise
    # A file whose parts disagree fails in the constructors with one of these (LightGBM's
    # own error for a damaged ranker is handled where the ranker is read); the file is at
    # fault, so the error names it.
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        what = f"entry {err} is missing" if isinstance(err, KeyError) else str(err)
        raise ModelFileError(f"{path} is damaged: {what}") from None


def _build_pipeline(path, manifest: dict, arrays: dict) -> Pipeline:
    """The pipeline a checked archive describes (see :func:`load_pipeline`)."""
    spec = manifest["pipeline"]
    models = []
    with tempfile.TemporaryDirectory() as tmp:
        for j, kind in enumerate(spec["candidates"]):
            file = os.path.join(tmp, f"candidate{j}.npz")
            Path(file).write_bytes(arrays[f"candidate.{j}"].tobytes())
            try:
                models.append(load_model(file))
            except ModelFileError as err:
                # The candidate's file was a temporary copy: name the pipeline's instead.
                text = str(err).replace(file, f"{path} (candidate {j}, {kind})")
                raise ModelFileError(text) from None
    first = models[0]
    for j, model in enumerate(models[1:], 1):
        if model.users_ != first.users_ or model.items_ != first.items_:
            raise ModelFileError(
                f"{path} is damaged: candidate {j} knows other users or items than candidate 0"
            )
    _check_saved_arrays(arrays, first.n_users, first.n_items)
    ranker = None
    if spec["ranker"] is not None:
        text = arrays["ranker.model"].tobytes().decode("utf-8")
        try:
            ranker = LearnedRanker.from_text(text, **spec["ranker"])
        except ImportError:
            raise
        except Exception as err:  # LightGBM's own error type for text it cannot parse
            raise ModelFileError(
                f"{path} is damaged: its ranker cannot be read ({_first_line(err)})"
            ) from None
    stages = []
    for s, entry in enumerate(spec["rerankers"]):
        cls = STAGES.get(entry["kind"])
        if cls is None:
            raise ModelFileError(f"{path}: unknown re-ranker {entry['kind']!r}")
        prefix = f"stage{s}."
        mine = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        stage = cls.from_saved(entry["params"], mine).bind(models)
        if isinstance(stage, Calibrate) and stage.alpha == 0:
            # Fit took it until it was refused there; such a file loaded, and then every
            # list failed with calibrate()'s own refusal.
            raise ModelFileError(
                f"{path}: its Calibrate stage (re-ranker {s}) has alpha 0, with which every "
                "list fails (the divergence can be infinite); it was written before fit "
                "refused it: fit the pipeline again with an alpha above 0"
            )
        stages.append(stage)
    context_arrays = {
        k[len("context.") :]: v for k, v in arrays.items() if k.startswith("context.")
    }
    pipe = Pipeline(models, ranker, stages, spec["n_candidates"])
    pipe._check_params()
    pipe.context_ = Context.from_arrays(context_arrays, first.users_, first.items_)
    pipe._fitted_states = tuple(model.fitted_ for model in models)
    if spec.get("ranker_summary") is not None:
        pipe.ranker_summary_ = spec["ranker_summary"]
    return pipe


def _check_saved_arrays(arrays: dict, n_users: int, n_items: int) -> None:
    """Raise a ValueError naming the array unless a pipeline file's context and stage
    arrays fit its candidates' users and items: CSRs (history, seen, later: users x
    items; genres: items x genres) rise from 0 and index within range, per-item arrays
    have a value per item, learned numbers are finite (an item's age may be unknown:
    NaN), and the stages' item lists (never, bury, pins, boosts) hold items that exist.
    A damaged index would otherwise read outside an array, or silently drop items.

    Example:
        >>> _check_saved_arrays({"stage0.never": np.array([5])}, 2, 3)
        Traceback (most recent call last):
        ValueError: array 'stage0.never' holds item 5, outside [0, 3)
    """
    genres = arrays.get("context.genre_names")
    shapes = {
        "history": (n_users, n_items),
        "seen": (n_users, n_items),
        "later": (n_users, n_items),
        "genres": (n_items, 0 if genres is None else genres.size),
    }
    for prefix, (rows, cols) in shapes.items():
        indptr = arrays.get(f"context.{prefix}_indptr")
        if indptr is None:
            continue
        indices = arrays.get(f"context.{prefix}_indices")
        if indices is None or indptr.ndim != 1 or indptr.size != rows + 1:
            raise ValueError(f"array 'context.{prefix}_indptr' does not have {rows + 1} entries")
        if indptr[0] != 0 or indptr[-1] != indices.size or (np.diff(indptr) < 0).any():
            raise ValueError(f"array 'context.{prefix}_indptr' does not rise from 0")
        _check_items(f"context.{prefix}_indices", indices, cols)
    for name in ("item_popularity", "item_age", "item_vectors"):
        arr = arrays.get(f"context.{name}")
        if arr is not None and (arr.ndim < 1 or len(arr) != n_items):
            raise ValueError(f"array 'context.{name}' does not have a row per item ({n_items})")
    for name, arr in arrays.items():
        if name == "context.item_age" or arr.dtype.kind != "f":
            continue
        if not all_finite(arr):
            raise ValueError(f"array {name!r} holds NaN or infinite values")
    for name, arr in arrays.items():
        leaf = name.split(".", 1)[-1]
        if name.startswith("stage") and leaf in ("never", "bury", "pin_items", "boost_items"):
            _check_items(name, arr, n_items)


def _check_items(name: str, arr: np.ndarray, n: int) -> None:
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise ValueError(f"array {name!r} is not a list of integers")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = arr.min() if arr.min() < 0 else arr.max()
        raise ValueError(f"array {name!r} holds item {bad}, outside [0, {n})")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def load(path):
    """A pipeline or a model from a model file, whichever it holds.

    Example:
        >>> import os, tempfile, numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
        >>> Popularity().fit(Interactions.from_dense(np.eye(2))).save(path)
        >>> type(load(path)).__name__
        'Popularity'
    """
    if read_manifest(path).get("algorithm") == "Pipeline":
        return load_pipeline(path)
    return load_model(path)
