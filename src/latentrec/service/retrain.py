"""Retraining: a candidate must match the current model on ratings neither was trained on.

:func:`retrain_on` is the whole procedure over an :class:`~latentrec.Interactions` with
timestamps; :func:`retrain` runs it on everything a ratings store holds.  The steps:

1. **Temporal holdout.** The cutoff is the time from which the most recent ``holdout``
   share of the ratings lie (as in :func:`latentrec.data.splits.temporal_split`).  The
   ratings from the cutoff on are held out and scored, *except* those the current model
   was trained on (its seen-items matrix says which (user, item) pairs): scoring a model
   on ratings it has learned would favour it.  Those ratings, and every rating before the
   cutoff, form the training part.
2. **Candidate.** A fresh estimator (by default the current version's class and
   hyperparameters, ``current.clone()``; or the ``model`` given) is fitted on the
   training part.  So it knows everything the current model knew, plus whatever arrived
   since before the cutoff, and neither model has seen a scored rating.
3. **Comparison.** Both models are scored on the held-out ratings with the same metric
   and the same code (:func:`score_on_holdout`): RMSE (and MAE) for models that predict
   ratings, NDCG@10 (and precision, recall, MAP, hit rate) for ranking models.  Every
   scored rating counts for both; an id a model does not know is scored as that model
   scores unknown ids (its baseline, or its popularity list).
4. **Gate.** If the candidate is not worse than the current model by more than
   ``tolerance`` (an absolute difference of the metric), it is fitted again on *all* the
   ratings and published as a new version, with both sets of figures in its metrics.
   Otherwise nothing is published and the result says why.  With no current version the
   first candidate is published without a comparison (every rating from the cutoff on
   is held out, and its figures are recorded).  A comparison on fewer than
   ``min_holdout`` held-out ratings (:data:`MIN_HOLDOUT`, 100, by default; for a ranking
   metric, users with a held-out rating) is not trusted: nothing is published, the
   current version stays, no candidate is fitted, and the reason gives the count.  A
   candidate (or its refit) that ``latentrec serve`` would refuse, one whose lists
   cannot be ranked (:func:`~latentrec.service.versions.cannot_serve`: a global mean, a
   pipeline of such candidates), is never published; the reason is the service's.

**Which feedback.**  :func:`retrain` reads the store's ratings of the kind the current
version was trained on (:func:`trained_kind`): its events (implicit feedback) or its
explicit ratings, never the other kind, so an implicit model trained on plays is
retrained and compared on plays even when the store holds stars too.  A version that
does not record its kind (a model file written before it was recorded, factors made
elsewhere), and a first version, get the store's default: its explicit ratings when it
holds any, else its events; a first version of a model that predicts ratings (it cannot
learn from events) reads the explicit ratings.  The result says which kind was read and why
(``kind``, ``kind_reason``); a store with no ratings of the version's kind publishes
nothing and says so.

**Rating scale.**  Ratings read from a store carry no scale; data without one gets the
current version's (:func:`with_current_scale`), so every version after one trained on
a scale keeps it (its predictions clipped to it, the service refusing ratings off it),
and both models' held-out predictions are clipped alike.  A stored explicit rating
outside that scale is a ValueError naming its user, item and value, not a candidate
trained on it.

**Leakage, stated plainly.** Excluding the pairs the current model was trained on removes
the direct leak, not every one: the current model may have learned a user's or an item's
drift from *other* ratings made after the cutoff, and the candidate is trained on those
same ratings, so the two are compared on equal information.  What the figures are not is
a clean forecast of the future: a rating before the cutoff and a scored one may both be
recent.  The current model's seen-items matrix is what it was *trained* on (fold-ins in a
running service are not saved), so ratings that only reached it by fold-in are scored,
which can favour it slightly.  When every rating from the cutoff on was in the current
model's training data there is nothing to compare on, and nothing is published: a
retraining with no new ratings changes nothing.  Raise ``holdout`` to compare on more.

**Pipelines.** A current version that is a :class:`~latentrec.pipeline.Pipeline` is
retrained the way it was built (:func:`fit_recipe`): the candidate is
``current.clone()`` (each candidate model unfitted with its hyperparameters, an unfitted
ranker with the same parameters, the same re-rankers and ``n_candidates``); its models
learn from the earlier ratings of the training part and its ranker from the latest
``ranker_share`` of them (20% by default, a temporal split as for the holdout), so the
ranker's labels come after what its models saw and neither sees a scored rating.  What
the current pipeline was trained on is its context's ``seen`` (its models' data and its
ranker's slice).  A pipeline ranks, so it is compared on a ranking metric; its lists are
made by its own index-level API (``recommend_histories``), leaving out the items each
user rated in the training part as for a model.  A single model (``model=...``) and a
pipeline can be compared with each other the same way.  Genres: the data's item side
table (a store's catalogue) gives them; an item it gives none gets those the current
pipeline's context has for it, and an item with none from either is in no genre.  If
the ranker has nothing to learn from, nothing is published and the reason says so.  A
``Rules`` cap on another item column the data lacks (a store keeps no text column but
genres) takes its groups from the current pipeline's stage (:func:`with_capped_columns`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.interactions import Interactions
from ..data.splits import temporal_split, timestamp_text
from ..errors import CannotServeError
from ..evaluation import metrics as M
from ..evaluation.evaluate import RANKING_METRICS
from ..evaluation.tuning import RATING_METRICS, parse_metric
from ..models.foldin import trained_kind as model_kind
from ..pipeline import Pipeline, RankerDataError, Rules, StageDataError
from ..pipeline.context import binary_pattern, genre_label_lists
from ..store import StoreError, StoreUnavailableError
from ..store.bulk import StoredRatingsError
from .versions import (
    RETRAIN_BY,
    ModelDirectory,
    StaleVersionError,
    Version,
    cannot_serve,
    record_retrain,
)

__all__ = [
    "RetrainResult",
    "check_options",
    "current_scale",
    "fit_recipe",
    "retrain",
    "retrain_on",
    "score_on_holdout",
    "trained_kind",
    "with_capped_columns",
    "with_current_scale",
    "with_known_genres",
]

# Ranked-list slots per block of users when scoring a ranking metric: bounds the memory
# of the lengthened top-n lists (a few int64 arrays of this many cells).
LIST_CELLS = 1 << 22

# The fewest held-out ratings (rating metrics) or users (ranking metrics) a comparison
# with the current version is trusted on; with fewer, the current version stays.
MIN_HOLDOUT = 100

# The share of a pipeline's training ratings (the latest) its ranker learns from; its
# candidate models learn from the rest.
RANKER_SHARE = 0.2


@dataclass(frozen=True)
class RetrainResult:
    """What one retraining did.

    ``published`` says whether a new version went live (``version``, else ``None``);
    ``candidate_metrics`` and ``current_metrics`` are the held-out figures of the two
    models (``current_metrics`` is empty when there was no current version); ``reason``
    says in words why it was or was not published; ``cutoff`` is the time (in the units
    of the timestamps) from which ratings were held out.  ``metric`` names the figure
    the gate compared and ``current_version`` the version compared against.  ``kind``
    is the kind of feedback read, by a ratings store's names (``"explicit"``: ratings;
    ``"event"``: implicit feedback) and ``kind_reason`` says why that kind.  ``cutoff``
    is NaN when nothing could be read to hold out.  ``fitted`` is False when no
    candidate was trained (nothing new to compare on, or too few held-out ratings).

    Example:
        >>> r = RetrainResult(False, None, {"rmse": 1.2}, {"rmse": 0.9}, "worse", 50.0)
        >>> r.published, r.metric
        (False, 'rmse')
    """

    published: bool
    version: Version | None
    candidate_metrics: dict
    current_metrics: dict
    reason: str
    cutoff: float
    metric: str = "rmse"
    current_version: str | None = None
    n_train: int = 0
    n_holdout: int = 0
    n_seen_by_current: int = 0
    kind: str | None = None
    kind_reason: str = ""
    fitted: bool = True

    def summary(self) -> str:
        """The result in a few lines, as ``latentrec retrain`` prints it.

        Example:
            >>> r = RetrainResult(False, None, {"rmse": 1.2}, {"rmse": 0.9}, "worse", 50.0,
            ...                   current_version="v000001")
            >>> print(r.summary())
            candidate         rmse 1.2000
            current v000001   rmse 0.9000
            not published: worse
        """
        lines = [f"{'candidate':<17} {self.metric} {_fmt(self.figure('candidate'))}"]
        if self.current_version is not None:
            label = f"current {self.current_version}"
            lines.append(f"{label:<17} {self.metric} {_fmt(self.figure('current'))}")
        if self.published:
            lines.append(f"published {self.version.name}: {self.reason}")
        else:
            lines.append(f"not published: {self.reason}")
        return "\n".join(lines)

    def figure(self, which: str) -> float:
        """The compared metric of ``"candidate"`` or ``"current"`` (NaN when absent).

        Example:
            >>> RetrainResult(True, None, {"rmse": 0.8}, {}, "first", 0.0).figure("current")
            nan
        """
        figures = self.candidate_metrics if which == "candidate" else self.current_metrics
        value = figures.get(self.metric)
        return math.nan if value is None else float(value)


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def retrain(
    store,
    model_dir,
    *,
    model=None,
    holdout: float = 0.1,
    tolerance: float = 0.0,
    metric=None,
    random_state=None,
    ranker_share: float = RANKER_SHARE,
    min_holdout: int = MIN_HOLDOUT,
    record: str | None = "python",
) -> RetrainResult:
    """Retrain on everything ``store`` holds; see :func:`retrain_on` for what it does
    (and for ``record``).

    ``store`` is a ratings store (:func:`latentrec.store.open_store`); its
    ``interactions(kind=...)`` (with timestamps) are read once, so ratings arriving
    during the run wait for the next one.  The kind is the one the current version was
    trained on (:func:`trained_kind`), whatever ``model`` is given; the store's default
    when the current version does not say, and when there is none, unless ``model``
    predicts ratings: then its explicit ratings.  When the store holds no ratings of that
    kind, nothing is published and the reason names the kind; with no current version
    that is an error (naming the kind the candidate trains on), as any other store error
    is.

    Example:
        >>> import tempfile
        >>> from latentrec.models import ImplicitALS
        >>> from latentrec.store import Rating, open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_ratings([Rating(f"u{u}", f"i{i}", 1.0, 10.0 * u + i, kind="event")
        ...                        for u in range(8) for i in range(5) if (u + i) % 3])
        >>> folder = tempfile.mkdtemp()
        >>> first = retrain(store, folder, model=ImplicitALS(n_factors=2, random_state=0))
        >>> first.published, first.kind, first.kind_reason
        (True, 'event', "the store's default")
        >>> _ = store.add_ratings([Rating("u0", "i0", 5.0, 100.0)])  # a star rating
        >>> again = retrain(store, folder)  # still the events v000001 was trained on
        >>> again.kind, again.kind_reason
        ('event', 'the kind v000001 was trained on')
    """
    _check_record(record)
    md = _directory(model_dir)
    return _recorded(
        md,
        record,
        lambda: _retrain_store(
            store, md, model, holdout, tolerance, metric, random_state, ranker_share, min_holdout
        ),
    )


def _retrain_store(
    store, md, model, holdout, tolerance, metric, random_state, ranker_share, min_holdout
) -> RetrainResult:
    """:func:`retrain`'s procedure, unrecorded."""
    current_version, current = _current(md)
    plan = _plan(
        md, current, model, holdout, tolerance, metric, random_state, ranker_share, min_holdout
    )
    kind = trained_kind(current)
    if current is None:
        kind, kind_reason = _first_kind(plan.template)
    elif kind is None:
        kind_reason = f"the store's default; {current_version.name} does not record its kind"
    else:
        kind_reason = f"the kind {current_version.name} was trained on"
    try:
        interactions = store.interactions(kind=kind)
    except (StoreUnavailableError, StoredRatingsError):
        # A store that cannot be reached, or ratings that cannot be trained on (a NaN
        # written by hand), fail the retrain, as a rating outside the scale does: not
        # "nothing to train on", which published nothing and ran on "ok".
        raise
    except StoreError as err:
        if current is None:
            raise StoreError(_nothing_to_train(store, plan.template, err)) from None
        said = f"{current_version.name} was trained on {kind} ratings; " if kind else ""
        return RetrainResult(
            False,
            None,
            {},
            {},
            f"{said}{err}".replace("\n", " "),
            math.nan,
            metric=plan.label,
            current_version=current_version.name,
            kind=kind,
            kind_reason=kind_reason,
        )
    return _retrain(interactions, md, current_version, current, plan, kind_reason)


def retrain_on(
    interactions: Interactions,
    model_dir,
    *,
    model=None,
    holdout: float = 0.1,
    tolerance: float = 0.0,
    metric=None,
    random_state=None,
    ranker_share: float = RANKER_SHARE,
    min_holdout: int = MIN_HOLDOUT,
    record: str | None = "python",
) -> RetrainResult:
    """Train a candidate, compare it with the current version, publish it if not worse.

    Args:
        interactions: every rating to learn from, with timestamps.
        model_dir: a :class:`~latentrec.service.versions.ModelDirectory` or its path.
        model: the estimator or :class:`~latentrec.pipeline.Pipeline` to train (never
            modified: a clone is fitted); by default the current version's recipe (a
            model's class and hyperparameters, a pipeline's :meth:`Pipeline.clone`).
            Needed when nothing is published yet.
        holdout: share of the most recent ratings held out, strictly between 0 and 1.
        tolerance: how much worse (absolute, in the metric's units) the candidate may be
            and still be published; 0 means "at least as good".
        metric: ``"rmse"``, ``"mae"``, or a ranking metric such as ``"ndcg@10"``
            (``precision``, ``recall``, ``map``, ``hit_rate``); by default RMSE when both
            models predict ratings, else NDCG@10 (a pipeline ranks).  Lower is better for
            rating metrics, higher for ranking metrics.
        random_state: seed given to the candidate where it has ``random_state``; for a
            pipeline, to every part that draws random numbers: its candidate models, its
            ranker (LightGBM's ``seed``) and its ``Explore`` and ``Thompson`` stages (an
            ``Explore`` without a seed keeps filling its slots by score).  Two retrains
            with the same seed on the same data publish the same pipeline, provided
            LightGBM's ``num_threads`` is fixed (its deterministic mode holds for a fixed
            thread count) and each model reproduces at its thread count: always with
            ``num_threads=1``, at any count for the row-parallel ones, never on more than
            one thread for lock-free SGD (BPR, WARP; BiasedMF and SVDpp on larger data):
            the README's reproducibility table.
        ranker_share: for a pipeline with a ranker, the share of the latest training
            ratings its ranker learns from (its models learn from the rest), strictly
            between 0 and 1; see :func:`fit_recipe`.
        min_holdout: the fewest held-out ratings (for a ranking metric: users with a
            held-out rating) a comparison with the current version is trusted on, a
            whole number >= 0; with fewer, nothing is published and the current version
            stays.  A first version (nothing to compare with) is published whatever the
            count.
        record: who ran it, written with how it ended (its result, or the error it
            raised) to the model directory's ``last-retrain.json``, which the service's
            ``/health`` shows as ``last_retrain``: ``"python"`` (the default),
            ``"command"`` (``latentrec retrain``) or ``"scheduled"`` (``serve
            --retrain-every``); ``None`` records nothing (the caller records it).  A
            record that cannot be written is a warning, never the retrain's failure.

    The ratings from the cutoff on that the current model was not trained on are scored;
    the candidate is fitted on all the others (see the module's notes on leakage).  If
    it is published, it is first refitted on all of ``interactions``; its version's
    metrics hold ``metric``, ``candidate``, ``current``, ``current_version``,
    ``cutoff``, ``holdout``, ``tolerance``, ``min_holdout``, ``n_train``, ``n_holdout``,
    ``n_seen_by_current`` (held-out ratings left unscored because the current model
    was trained on them) and ``data_until`` (the latest timestamp it was trained on).
    ``interactions`` without a rating scale get the current version's; a rating outside
    it is a ValueError naming the user, the item and the value (:func:`with_current_scale`).
    A diverged candidate fit, a pipeline's ranker with nothing to learn from, or a
    re-ranker the data cannot fit (:class:`~latentrec.pipeline.StageDataError`: e.g.
    ``Calibrate`` without genres, ``Rules`` pins that alone break a cap) is reported as
    not published, the stage named in the reason; any other error is raised.  If another process
    publishes or rolls back while this runs, nothing is published (the comparison was
    against a version no longer current).

    Example:
        >>> import numpy as np, tempfile
        >>> from latentrec import Interactions
        >>> from latentrec.models import Biases
        >>> from latentrec.data.synthetic import synthetic
        >>> df = synthetic(100, 40, 2000, random_state=0).to_frame()
        >>> df["t"] = np.random.default_rng(0).permutation(len(df))  # arrival times
        >>> old = Interactions.from_frame(df[df.t < 1800], timestamp="t", rating_scale=(1, 5))
        >>> data = Interactions.from_frame(df, timestamp="t", rating_scale=(1, 5))
        >>> folder = tempfile.mkdtemp()
        >>> first = retrain_on(old, folder, model=Biases())
        >>> first.published, first.version.name, first.reason
        (True, 'v000001', 'no current version: the first candidate is published')
        >>> bad = retrain_on(data, folder, model=Biases(regularization=1e6))
        >>> bad.published, bad.n_holdout, bad.figure("candidate") > bad.figure("current")
        (False, 200, True)
        >>> retrain_on(data, folder).published  # the current recipe, 200 ratings later
        True
    """
    if not isinstance(interactions, Interactions):
        raise TypeError(f"expected an Interactions, got {type(interactions).__name__}")
    _check_record(record)
    md = _directory(model_dir)

    def run():
        current_version, current = _current(md)
        plan = _plan(
            md, current, model, holdout, tolerance, metric, random_state, ranker_share, min_holdout
        )
        return _retrain(interactions, md, current_version, current, plan, "the data given")

    return _recorded(md, record, run)


def _check_record(by) -> None:
    if by is not None and by not in RETRAIN_BY:
        raise ValueError(f"record must be one of {', '.join(RETRAIN_BY)} or None, got {by!r}")


def _recorded(md, by, run) -> RetrainResult:
    """``run()`` (a retrain in ``md``), its end recorded in ``md``'s ``last-retrain.json``
    as run ``by`` (its result, or the error it raised, which is raised on), unless ``by``
    is None.  A record that cannot be written is a warning: the retrain's outcome stands.
    """
    if by is None:
        return run()
    try:
        result = run()
    except Exception as err:
        problem = record_retrain(md.path, by, error=err)
        if problem is not None:
            warnings.warn(f"the retrain's end was not recorded: {problem}", stacklevel=3)
        raise
    problem = record_retrain(md.path, by, result=result)
    if problem is not None:
        warnings.warn(f"the retrain's end was not recorded: {problem}", stacklevel=3)
    return result


@dataclass(frozen=True)
class _Plan:
    """The checked arguments of one retraining and the template it fits."""

    template: object
    label: str
    direction: str
    holdout: float
    tolerance: float
    ranker_share: float
    min_holdout: int
    # Whether the metric scores ratings (the sample is the held-out ratings) or ranked
    # lists (the sample is the users with a held-out rating).
    per_rating: bool


def _plan(
    md, current, model, holdout, tolerance, metric, random_state, ranker_share, min_holdout
) -> _Plan:
    holdout = _check_share(holdout)
    ranker_share = _check_share(ranker_share, "ranker_share")
    tolerance = _check_tolerance(tolerance)
    template = _template(model, current, md)
    if random_state is not None:
        _seed(template, random_state)
    min_holdout = _check_min_holdout(min_holdout)
    label, name, _, direction = _choose_metric(metric, template, current)
    per_rating = name in RATING_METRICS
    return _Plan(
        template, label, direction, holdout, tolerance, ranker_share, min_holdout, per_rating
    )


def _retrain(
    interactions: Interactions, md, current_version, current, plan: _Plan, kind_reason: str
) -> RetrainResult:
    """:func:`retrain_on`'s procedure once the current version is loaded."""
    template, label, direction = plan.template, plan.label, plan.direction
    holdout, tolerance, ranker_share = plan.holdout, plan.tolerance, plan.ranker_share
    if interactions.timestamps is None:
        raise ValueError(
            "retraining holds out the most recent ratings, so it needs timestamps; the "
            "data has none"
        )
    if current is not None:
        interactions = with_current_scale(interactions, current, current_version)
    unserved = None if current is None else cannot_serve(current)
    if isinstance(unserved, CannotServeError):
        # A version without fold-in, published before the service refused its kind: no
        # worker serves it, so it is no bar to pass (nor its cells kept out of the
        # comparison).  Gated by it, a retrain with -a implicit-als published nothing
        # while it stayed current.  (A global mean still scores the ratings it predicts,
        # and the comparison with it stands.)
        current = None
    else:
        unserved = None
    if isinstance(template, Pipeline):
        interactions = with_capped_columns(with_known_genres(interactions, current), current)
    recent = interactions.timestamps >= temporal_cutoff(interactions, holdout)
    cutoff = float(interactions.timestamps[recent].min())
    seen = np.zeros_like(recent) if current is None else trained_cells(current, interactions)
    scored = recent & ~seen
    train, test = interactions.subset(~scored), interactions.subset(scored)
    common = {
        "cutoff": cutoff,
        "metric": label,
        "current_version": None if current_version is None else current_version.name,
        "n_train": int(train.nnz),
        "n_holdout": int(test.nnz),
        "n_seen_by_current": int(np.count_nonzero(recent & seen)),
        "kind": "event" if interactions.implicit else "explicit",
        "kind_reason": kind_reason,
    }
    if test.nnz == 0:
        reason = (
            f"all {common['n_seen_by_current']} ratings from the cutoff on were in the "
            f"training data of {current_version.name}: no new rating to compare on"
        )
        return RetrainResult(False, None, {}, {}, reason, fitted=False, **common)
    if current is not None:
        # A figure on a handful of ratings is noise: 0.72 against 0.84 on two ratings says
        # nothing about which model is better, so such a comparison publishes nothing.
        n, unit = (
            (int(test.nnz), "ratings")
            if plan.per_rating
            else (int(np.count_nonzero(test.user_counts() > 0)), "users")
        )
        if n < plan.min_holdout:
            reason = (
                f"only {n} held-out {unit} to compare on, fewer than the minimum of "
                f"{plan.min_holdout}: too few to trust the comparison, so "
                f"{current_version.name} stays current (hold out a larger share, wait for "
                "more ratings, or lower the minimum: --min-holdout)"
            )
            return RetrainResult(False, None, {}, {}, reason, fitted=False, **common)
    try:
        candidate = fit_recipe(template, train, ranker_share)
    except FloatingPointError as err:
        return RetrainResult(False, None, {}, {}, f"the candidate's fit diverged ({err})", **common)
    except RankerDataError as err:
        reason = _ranker_reason("the candidate", ranker_share, err)
        return RetrainResult(False, None, {}, {}, reason, **common)
    except StageDataError as err:
        reason = _stage_reason("the candidate's", err)
        return RetrainResult(False, None, {}, {}, reason, **common)
    refused = _unservable("the candidate", candidate)
    if refused is not None:
        return RetrainResult(False, None, {}, {}, refused, **common)
    figures = score_on_holdout(candidate, train, test, metric=label)
    if unserved is not None:
        reason = (
            f"{current_version.name} is not served (latentrec serve refuses it: "
            f"{unserved}): the candidate is published without a comparison"
        )
        current_figures = {}
    elif current is None:
        reason = "no current version: the first candidate is published"
        current_figures = {}
    else:
        current_figures = score_on_holdout(current, train, test, metric=label)
        ok, reason = _gate(figures[label], current_figures[label], label, direction, tolerance)
        if not ok:
            return RetrainResult(False, None, figures, current_figures, reason, **common)
    metrics = {
        "metric": label,
        "candidate": figures,
        "current": current_figures,
        "current_version": common["current_version"],
        "cutoff": cutoff,
        "holdout": holdout,
        "tolerance": tolerance,
        "min_holdout": plan.min_holdout,
        "n_train": common["n_train"],
        "n_holdout": common["n_holdout"],
        "n_seen_by_current": common["n_seen_by_current"],
        "data_until": float(interactions.timestamps.max()),
    }
    if isinstance(template, Pipeline) and template.ranker is not None:
        metrics["ranker_share"] = ranker_share
    try:
        final = fit_recipe(template, interactions, ranker_share)
    except FloatingPointError as err:
        reason = f"the refit on all ratings diverged ({err})"
        return RetrainResult(False, None, figures, current_figures, reason, **common)
    except RankerDataError as err:
        reason = _ranker_reason("the refit on all ratings", ranker_share, err)
        return RetrainResult(False, None, figures, current_figures, reason, **common)
    except StageDataError as err:
        reason = _stage_reason("in the refit on all ratings, the", err)
        return RetrainResult(False, None, figures, current_figures, reason, **common)
    refused = _unservable("the refit on all ratings", final)
    if refused is not None:
        return RetrainResult(False, None, figures, current_figures, refused, **common)
    if not isinstance(final, Pipeline):  # a pipeline's figures live in its version's metrics
        final.record_metrics(**{f"holdout_{key}": value for key, value in figures.items()})
    try:
        version = md.publish(
            final, metrics=metrics, note=reason, if_current=common["current_version"]
        )
    except StaleVersionError as err:
        return RetrainResult(False, None, figures, current_figures, str(err), **common)
    return RetrainResult(True, version, figures, current_figures, reason, **common)


def fit_recipe(template, data: Interactions, ranker_share: float = RANKER_SHARE):
    """A fresh copy of ``template`` (a model or a pipeline, left as it is) fitted on ``data``.

    A model is fitted on all of ``data``.  A pipeline with a learned ranker is fitted as
    it is built: its candidate models on the earlier ratings, its ranker on the latest
    ``ranker_share`` of them (:func:`latentrec.data.splits.temporal_split`, ties in the
    later part), whose ratings are its labels; without a ranker its models learn from all
    of ``data``.  Raises :class:`~latentrec.pipeline.RankerDataError` when the ranker has
    nothing to learn from (``data`` cannot be split in time, no user of the later part
    has an earlier rating, or none of their items is among their candidates).

    Example:
        >>> import numpy as np
        >>> from latentrec.data.synthetic import synthetic
        >>> from latentrec.models import BiasedMF
        >>> from latentrec.pipeline import LearnedRanker, Pipeline
        >>> df = synthetic(60, 30, 900, random_state=0).to_frame()
        >>> df["t"] = np.arange(len(df))
        >>> data = Interactions.from_frame(df, timestamp="t", rating_scale=(1, 5))
        >>> recipe = Pipeline(BiasedMF(n_factors=2, random_state=0),
        ...                   LearnedRanker(n_estimators=5, min_child_samples=5), n_candidates=10)
        >>> pipe = fit_recipe(recipe, data, 0.2)
        >>> pipe.context_.history.nnz, pipe.context_.seen.nnz, recipe.is_fitted
        (720, 900, False)
    """
    fresh = template.clone()
    if not isinstance(fresh, Pipeline) or fresh.ranker is None:
        return fresh.fit(data)
    try:
        early, late = temporal_split(data, test_size=ranker_share)
    except ValueError as err:
        raise RankerDataError(f"the training ratings cannot be split in time ({err})") from None
    return fresh.fit(early, late)


def current_scale(current) -> tuple[float, float] | None:
    """The rating scale a fitted model or pipeline was trained on: a model's
    ``rating_scale_``; a pipeline's candidates' common one (None when they have none,
    or differ).

    Example:
        >>> from latentrec import Interactions
        >>> from latentrec.models import GlobalMean
        >>> data = Interactions.from_arrays([1, 2], ["a", "b"], [4.0, 2.0], rating_scale=(1, 5))
        >>> current_scale(GlobalMean().fit(data)), current_scale(None)
        ((1.0, 5.0), None)
    """
    if current is None:
        return None
    models = current.models if isinstance(current, Pipeline) else [current]
    scales = {getattr(m, "rating_scale_", None) for m in models}
    return scales.pop() if len(scales) == 1 else None


def with_current_scale(data: Interactions, current, version=None) -> Interactions:
    """``data`` with the rating scale of the ``current`` version (:func:`current_scale`)
    when it has none of its own; ``data`` itself when it has one, holds implicit
    feedback, or ``current`` has no scale.

    A store's ratings carry no scale, and a candidate fitted on them without one would
    clip nothing and let the service accept any rating; so the candidate keeps the scale
    of the version it replaces.  A stored explicit rating outside that scale (one written
    while a version without a scale was served, say) is a ValueError naming the user,
    the item and the value, rather than a candidate trained on it (a rating of -1e6
    made a biased-MF candidate diverge).  ``version`` (the current
    :class:`~latentrec.service.versions.Version`, or its name) is named in the message.

    Example:
        >>> from latentrec import Interactions
        >>> from latentrec.models import GlobalMean
        >>> scaled = Interactions.from_arrays([1], ["a"], [4.0], rating_scale=(1, 5))
        >>> current = GlobalMean().fit(scaled)
        >>> stored = Interactions.from_arrays([1, 2], ["a", "b"], [4.0, 2.0])
        >>> with_current_scale(stored, current).rating_scale
        (1.0, 5.0)
        >>> off = Interactions.from_arrays([1, 2], ["a", "b"], [4.0, -7.0])
        >>> try:
        ...     with_current_scale(off, current, "v000002")
        ... except ValueError as err:
        ...     print(str(err).split(", e.g. ")[1].split(";")[0])
        user '2', item 'b', rating -7
    """
    scale = current_scale(current)
    if scale is None or data.rating_scale is not None or data.implicit:
        return data
    lo, hi = scale
    values = data.ratings
    # Ratings are stored as float32, as Interactions checks its own scale.
    off = np.flatnonzero((values < np.float32(lo)) | (values > np.float32(hi)))
    if off.size:
        first = off[0]
        user = _id_text(data.users.ids[data.user_idx[first]])
        item = _id_text(data.items.ids[data.item_idx[first]])
        name = getattr(version, "name", version) or "the current version"
        raise ValueError(
            f"{off.size} stored rating(s) lie outside the rating scale [{lo:g}, {hi:g}] "
            f"of {name}, e.g. user {user!r}, item {item!r}, rating {float(values[first]):g}; "
            "a candidate trained on them could diverge, so none is trained: delete or "
            f"correct them (this one: DELETE /users/{quote(user, safe='')}/ratings/"
            f"{quote(item, safe='')}) and retrain"
        )
    return data.replace(rating_scale=scale)


def _id_text(raw) -> str:
    """An id as the API and the store spell it (``np.int64(42)`` -> ``"42"``)."""
    return str(raw.item() if isinstance(raw, np.generic) else raw)


def with_known_genres(data: Interactions, current) -> Interactions:
    """``data`` with genres from the ``current`` pipeline's context for every item its
    side table gives none (by raw id); ``data`` itself when neither it nor ``current`` (a
    pipeline) has genres.  An item neither gives genres to is in no genre.  The data's
    genres are read as a pipeline's fit reads them
    (:func:`~latentrec.pipeline.context.genre_labels`): ``|``-joined text or lists of
    names, joined with ``|``; a missing, empty or blank cell, or one of separators
    only, gives none.

    The catalogue a store keeps is the newest word on an item's genres; the pipeline's
    context is where the current version got them, which a plain ratings table lacks.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec.models import Popularity
        >>> df = pd.DataFrame({"user_id": [1, 2], "item_id": [5, 6], "rating": 1.0})
        >>> table = pd.DataFrame({"genres": ["A", "B|C"]}, index=[5, 6])
        >>> pipe = Pipeline(Popularity(), n_candidates=2).fit(
        ...     Interactions.from_frame(df, item_features=table))
        >>> more = Interactions.from_frame(pd.concat([df, df.assign(item_id=7)]))
        >>> with_known_genres(more, pipe).item_features["genres"].fillna("-").tolist()
        ['A', 'B|C', '-']
    """
    ctx = getattr(current, "context_", None) if isinstance(current, Pipeline) else None
    table = data.item_features
    has_own = table is not None and "genres" in table.columns
    if (ctx is None or ctx.item_genres is None) and not has_own:
        return data
    own = np.full(data.n_items, None, dtype=object)
    if has_own:
        lists = genre_label_lists(table["genres"].rename("genres"))
        own = np.array(["|".join(labels) or None for labels in lists], dtype=object)
    if ctx is not None and ctx.item_genres is not None:
        names = np.asarray(ctx.genre_names).astype(str)
        genres = ctx.item_genres
        labels = np.array(
            [
                "|".join(names[genres.indices[genres.indptr[i] : genres.indptr[i + 1]]]) or None
                for i in range(genres.shape[0])
            ]
            + [None],
            dtype=object,
        )
        # -1 (an item the pipeline does not know) picks the trailing None.
        theirs = labels[current.items_.lookup(data.items.ids)]
        own = np.where(np.equal(own, None), theirs, own)
    if table is None:
        table = pd.DataFrame(index=pd.Index(data.items.ids, name="item_id"))
    return _with_items(data, table.assign(genres=own))


def with_capped_columns(data: Interactions, current) -> Interactions:
    """``data`` with each item column a ``Rules`` cap of the ``current`` pipeline reads
    (other than ``genres``) that ``data``'s item table lacks, from that stage's groups.

    A store's catalogue keeps titles, genres and numeric features, not a text column such
    as a provider, so a refit of a pipeline capped on one would otherwise fail.  The
    current stage saved which items share a value (not the values): each item it knew
    gets its group's name (``group 0``, ``group 1``, ...; text, as the column was), so
    the same items share a cap; an item it did not know (new since) has none and counts
    against no cap.  ``data`` itself when nothing is missing.

    Example:
        >>> import pandas as pd
        >>> from latentrec.models import Popularity
        >>> from latentrec.pipeline import Rules
        >>> df = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [5, 6, 7], "rating": 1.0})
        >>> table = pd.DataFrame({"studio": ["X", "Y", "X"]}, index=[5, 6, 7])
        >>> pipe = Pipeline(Popularity(), None, [Rules(max_per={"studio": 1})], 3).fit(
        ...     Interactions.from_frame(df, item_features=table))
        >>> more = Interactions.from_frame(pd.concat([df, df.assign(item_id=8)]))
        >>> with_capped_columns(more, pipe).item_features["studio"].fillna("-").tolist()
        ['group 0', 'group 1', 'group 0', '-']
    """
    if not isinstance(current, Pipeline) or not current.is_fitted:
        return data
    table = data.item_features
    have = set() if table is None else set(table.columns)
    known = current.items_.lookup(data.items.ids)
    filled = {}
    for stage in current.rerankers:
        if not isinstance(stage, Rules):
            continue
        for column, (groups, _) in zip(stage.max_per, stage.caps_, strict=True):
            if column == "genres" or column in have or column in filled:
                continue
            groups = sp.csr_matrix(groups)
            # A column other than genres puts an item in at most one group.
            first = np.full(groups.shape[0] + 1, None, dtype=object)  # the last: unknown
            has = np.flatnonzero(np.diff(groups.indptr) > 0)
            first[has] = [f"group {g}" for g in groups.indices[groups.indptr[has]].tolist()]
            filled[column] = first[known]
    if not filled:
        return data
    if table is None:
        table = pd.DataFrame(index=pd.Index(data.items.ids, name="item_id"))
    table = table.assign(**filled)
    return _with_items(data, table)


def _with_items(data: Interactions, table: pd.DataFrame) -> Interactions:
    """``data`` with ``table`` as its item side table (its load report dropped: the
    table is no longer what was loaded)."""
    return data.replace(item_features=table, load_report=None)


def _unservable(what: str, model) -> str | None:
    """Why ``model`` is not published, when ``latentrec serve`` would refuse it
    (:func:`~latentrec.service.versions.cannot_serve`): made current, every worker would
    keep its old model, and a new one would have none.

    Example:
        >>> import numpy as np
        >>> from latentrec.models import GlobalMean
        >>> flat = GlobalMean().fit(Interactions.from_dense(np.array([[5, 3], [4, 1]])))
        >>> _unservable("the candidate", flat)[:58]
        'latentrec serve refuses the candidate: cannot serve this m'
    """
    refused = cannot_serve(model)
    return None if refused is None else f"latentrec serve refuses {what}: {refused}"


def _ranker_reason(what: str, share: float, err: Exception) -> str:
    return (
        f"{what}'s ranker cannot be trained on the latest {share:.0%} of its training "
        f"ratings: {err}"
    )


def _stage_reason(whose: str, err: StageDataError) -> str:
    """One line: which re-ranker of the pipeline could not be fitted, and why."""
    stage = err.stage or "a re-ranker"
    return f"{whose} re-ranker {stage} cannot be fitted: {err}".replace("\n", " ")


def temporal_cutoff(interactions: Interactions, share: float) -> float:
    """The time from which the most recent ``share`` of the ratings lie (ties included).

    The same cutoff as :func:`latentrec.data.splits.temporal_split` with ``test_size``.

    Example:
        >>> import pandas as pd
        >>> from latentrec import Interactions
        >>> df = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 2],
        ...                    "rating": 1.0, "t": [10, 20, 30, 40]})
        >>> temporal_cutoff(Interactions.from_frame(df, timestamp="t"), 0.5)
        30.0
    """
    ts = interactions.timestamps
    if ts is not None and ts.size and ts.min() == ts.max():
        # temporal_split would say the cutoff "leaves the train set empty", in seconds:
        # true, but not why, which is almost always an import without the file's times.
        raise ValueError(
            f"all {ts.size} ratings have the same time ({timestamp_text(ts.min())}), so no "
            f"cutoff holds out the most recent {share:.0%}: ratings imported without their "
            "times (`latentrec store import` without --timestamp-col) carry the time of the "
            "import; import them again with --timestamp-col"
        )
    _, test = temporal_split(interactions, test_size=share)
    return float(test.timestamps.min())


def trained_cells(model, interactions: Interactions) -> np.ndarray:
    """Which cells of ``interactions`` (by raw user and item id) ``model`` was trained on.

    Read from the model's seen-items matrix (``model.seen_``; a pipeline's
    ``context_.seen``: its models' data and its ranker's slice), so a pair rated again
    since counts as seen.  A bool array aligned with ``interactions.matrix.data``.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import GlobalMean
        >>> model = GlobalMean().fit(Interactions.from_arrays([1, 2], ["a", "b"], [4, 5]))
        >>> data = Interactions.from_arrays([1, 1, 3], ["a", "b", "a"], [4, 2, 1])
        >>> trained_cells(model, data).tolist()
        [True, False, False]
    """
    seen = _trained_matrix(model)
    u, i = index_maps(model, interactions)
    u, i = u[interactions.user_idx], i[interactions.item_idx]
    known = (u >= 0) & (i >= 0)
    out = np.zeros(interactions.nnz, dtype=bool)
    if seen.nnz and known.any():
        n_cols = np.int64(seen.shape[1])
        rows = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
        seen_keys = rows * n_cols + seen.indices  # increasing: the CSR is canonical
        keys = u[known].astype(np.int64) * n_cols + i[known]
        pos = np.minimum(np.searchsorted(seen_keys, keys), seen_keys.size - 1)
        out[known] = seen_keys[pos] == keys
    return out


def score_on_holdout(model, before: Interactions, holdout: Interactions, *, metric="rmse") -> dict:
    """Held-out figures of any fitted ``model`` on ``holdout``, matched by raw ids.

    ``before`` and ``holdout`` share vocabularies (a split of one ``Interactions``);
    ``model`` may have been trained on other data with other vocabularies.

    * Rating metrics: ``rmse``, ``mae`` and ``n`` over every held-out rating, each
      predicted with ``predict_idx`` (an id the model does not know is scored from the
      parts it knows: μ and the other side's bias), clipped to the model's rating scale.
    * Ranking metrics at ``k`` (``metric="ndcg@10"``): every user with a held-out rating
      is ranked by the model over all items except those the user rated in ``before``;
      all their held-out items are relevant (items the model does not know count as
      relevant and can never be found).  Returns ``precision@k``, ``recall@k``,
      ``ndcg@k``, ``map@k``, ``hit_rate@k`` and ``n_users``.  A
      :class:`~latentrec.pipeline.Pipeline` (ranking metrics only) makes each list with
      ``recommend_histories``: the user's stored history (or, for a user it knows from
      its validation slice alone, that slice folded in), leaving out what it saw and
      what the user rated in ``before``.

    For a model fitted on ``before`` itself this equals
    :func:`~latentrec.evaluation.evaluate_ratings` and
    :func:`~latentrec.evaluation.evaluate_ranking`.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.data.splits import temporal_split
        >>> from latentrec.models import GlobalMean
        >>> df = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 2],
        ...                    "rating": [5.0, 3.0, 4.0, 2.0], "t": [1, 2, 3, 4]})
        >>> before, after = temporal_split(Interactions.from_frame(df, timestamp="t"), 3)
        >>> score_on_holdout(GlobalMean().fit(before), before, after)  # mean 4 vs 4 and 2
        {'rmse': 1.4142135623730951, 'mae': 1.0, 'n': 2}
    """
    label, name, k, _ = parse_metric(metric)
    model.check_fitted()
    if before.users != holdout.users or before.items != holdout.items:
        raise ValueError(
            "before and holdout must share vocabularies: split one Interactions "
            "(latentrec.data.splits.temporal_split)"
        )
    if holdout.nnz == 0:
        raise ValueError("the holdout has no ratings to score")
    if name in RATING_METRICS:
        return _rating_figures(model, holdout)
    return _ranking_figures(model, before, holdout, k)


def _trained_matrix(model) -> sp.csr_matrix:
    """The (users x items) cells ``model`` was trained on, in its own indices."""
    return model.context_.seen if isinstance(model, Pipeline) else model.seen_


def _rates(model) -> bool:
    """Whether ``model`` predicts ratings (a pipeline only ranks)."""
    return not isinstance(model, Pipeline) and bool(model.predicts_ratings)


def _rating_figures(model, holdout: Interactions) -> dict:
    if not _rates(model):
        raise ValueError(
            f"{type(model).__name__} does not predict ratings; compare with a ranking "
            "metric such as ndcg@10"
        )
    u, i = index_maps(model, holdout)
    u, i = u[holdout.user_idx], i[holdout.item_idx]
    pred = model.predict_idx(u, i)
    if model.rating_scale_ is not None:
        np.clip(pred, *model.rating_scale_, out=pred)
    truth = holdout.ratings.astype(np.float64)
    return {"rmse": M.rmse(truth, pred), "mae": M.mae(truth, pred), "n": int(holdout.nnz)}


def _ranking_figures(model, before: Interactions, holdout: Interactions, k: int) -> dict:
    users = np.flatnonzero(holdout.user_counts() > 0)
    user_map, item_map = index_maps(model, holdout)
    model_users = user_map[users]
    # Every item of the data in the model's item space; items the model lacks get
    # columns of their own past its items, so they count as relevant but are never hit.
    lacking = item_map < 0
    item_map[lacking] = model.n_items + np.arange(np.count_nonzero(lacking))
    n_cols = model.n_items + int(np.count_nonzero(lacking))
    relevant = _remap(holdout.matrix[users], item_map, n_cols)
    rated_before = _remap(before.matrix[users], item_map, n_cols)
    recommended = np.full((users.size, k), -1, dtype=np.int64)
    longest = int(np.diff(rated_before.indptr).max()) if users.size else 0
    # A pipeline scores each block's users against every item (its candidate features).
    width = model.n_items if isinstance(model, Pipeline) else min(k + longest, model.n_items)
    step = max(1, LIST_CELLS // max(width, 1))
    for start in range(0, users.size, step):
        block = slice(start, start + step)
        recommended[block] = _top_k_unrated(model, model_users[block], rated_before[block], k)
    out = {
        f"{name}@{k}": float(fn(recommended, relevant, k)) for name, fn in RANKING_METRICS.items()
    }
    out["n_users"] = int(users.size)
    return out


def index_maps(model, data: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """The model's index of each user and each item of ``data`` (-1: unknown to it).

    Raw ids are matched by value, so a model trained on integer ids finds the same ids
    given as text by a store.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import GlobalMean
        >>> model = GlobalMean().fit(Interactions.from_arrays([7, 8], [1, 2], [4, 5]))
        >>> data = Interactions.from_arrays(["8", "9"], ["2", "2"], [3, 3])
        >>> [m.tolist() for m in index_maps(model, data)]
        [[1, -1], [1]]
    """
    return model.users_.lookup(data.users.ids), model.items_.lookup(data.items.ids)


def _remap(matrix: sp.csr_matrix, item_map: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """The rows of ``matrix`` with their columns renumbered through ``item_map``."""
    out = sp.csr_matrix(
        (np.ones(matrix.nnz, dtype=np.float32), item_map[matrix.indices], matrix.indptr),
        shape=(matrix.shape[0], n_cols),
    )
    out.sort_indices()
    return out


def _top_k_unrated(model, model_users: np.ndarray, rated: sp.csr_matrix, k: int) -> np.ndarray:
    """Each user's top ``k`` among the model's items, leaving out the items in ``rated``.

    The model's own "seen" items are not excluded (they may include held-out answers);
    instead the list is made ``max(rated per user)`` longer and the rated items dropped,
    which keeps the model's order (and its fallback for users it cannot personalise).
    A pipeline never offers its own "seen" items (none of them is scored: they are
    what it was trained on) and takes the rated items as exclusions before it ranks.
    """
    if isinstance(model, Pipeline):
        return _pipeline_top_k(model, model_users, rated, k)
    extra = int(np.diff(rated.indptr).max()) if rated.shape[0] else 0
    n_fetch = min(k + extra, model.n_items)
    idx, _, _ = model.recommend_batch_idx(model_users, n_fetch, exclude_seen=False)
    idx = idx.astype(np.int64)
    n_cols = rated.shape[1]
    rows = np.arange(idx.shape[0], dtype=np.int64)[:, None]
    keys = np.where(idx >= 0, rows * n_cols + idx, -1)
    rated_rows = np.repeat(np.arange(rated.shape[0], dtype=np.int64), np.diff(rated.indptr))
    rated_keys = rated_rows * n_cols + rated.indices
    drop = np.isin(keys, rated_keys) | (idx < 0)
    # Keep the remaining items in rank order: a stable sort moves dropped slots to the end.
    order = np.argsort(drop, axis=1, kind="stable")
    kept = np.take_along_axis(np.where(drop, -1, idx), order, axis=1)[:, :k]
    if kept.shape[1] < k:
        kept = np.pad(kept, ((0, 0), (0, k - kept.shape[1])), constant_values=-1)
    return kept


def _pipeline_top_k(pipe: Pipeline, users: np.ndarray, rated: sp.csr_matrix, k: int) -> np.ndarray:
    """Each user's top ``k`` from a pipeline, leaving out its seen items and ``rated``;
    users it knows from its validation slice alone folded in from it, as
    ``recommend_batch_idx`` does."""

    def ranked(batch, rated_rows) -> np.ndarray:
        # Columns past the pipeline's items are items it lacks: it never offers them anyway.
        blocked = batch.exclude + rated_rows[:, : pipe.n_items]
        batch = dataclasses.replace(batch, exclude=binary_pattern(blocked, batch.exclude.shape))
        return pipe.recommend_histories(batch, k)[0].astype(np.int64)

    idx = np.full((len(users), k), -1, dtype=np.int64)
    for rows, batch in pipe.user_batches(users):
        idx[rows] = ranked(batch, rated[rows])
    return idx


def trained_kind(model) -> str | None:
    """The kind of feedback a fitted ``model`` or pipeline was trained on, by the names a
    ratings store uses: ``"event"`` (implicit feedback: plays, clicks), ``"explicit"``
    (ratings), or ``None`` when it cannot be told (no model; a model file written before
    the kind was recorded; factors made elsewhere; a pipeline whose candidates disagree).

    Each model's kind is :func:`latentrec.models.foldin.trained_kind` (what it recorded
    of its training data, not what sort of model it is: an implicit model may have been
    trained on stars); a pipeline's is its candidates' common one.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import ImplicitALS, Popularity
        >>> plays = Interactions.from_arrays([1, 2], ["a", "b"], None)
        >>> stars = Interactions.from_arrays([1, 2], ["a", "b"], [4.0, 2.0])
        >>> trained_kind(Popularity().fit(plays)), trained_kind(Popularity().fit(stars))
        ('event', 'explicit')
        >>> trained_kind(None) is None
        True
    """
    if model is None:
        return None
    models = model.models if isinstance(model, Pipeline) else [model]
    kinds = {model_kind(m) for m in models}
    return kinds.pop() if len(kinds) == 1 else None


def _first_kind(template) -> tuple[str | None, str]:
    """``(kind, why)`` to read for a first version: explicit ratings for a single model
    that predicts ratings (it cannot learn from events), else the store's default."""
    if _rates(template):
        return "explicit", f"the kind {type(template).__name__} trains on"
    return None, "the store's default"


def _nothing_to_train(store, template, err: StoreError) -> str:
    """The one line for a first retrain whose read failed: for a store with nothing of
    the kind the candidate trains on, that kind and the candidate named."""
    text = str(err).replace("\n", " ")
    if "nothing to train on" not in text:
        return text
    name = type(template).__name__
    trains_on = "explicit ratings" if _rates(template) else "events or explicit ratings"
    try:
        empty = store.counts()["ratings"] == 0
    except StoreError:
        empty = False
    if empty:
        text = "the store holds no ratings of any kind: nothing to train on"
    return f"{text} ({name} trains on {trains_on}; `latentrec store import` adds some)"


def _directory(model_dir) -> ModelDirectory:
    return model_dir if isinstance(model_dir, ModelDirectory) else ModelDirectory(model_dir)


def _current(md: ModelDirectory):
    if md.current() is None:
        return None, None
    return md.load_current()


def _template(model, current, md: ModelDirectory):
    if model is None:
        if current is None:
            raise ValueError(
                f"nothing is published in {md.path} yet, so there is no model to copy; "
                "give the estimator to train (model=..., or --algorithm)"
            )
        return current.clone()
    if isinstance(model, Pipeline):
        return model.clone()
    if not hasattr(model, "clone") or not hasattr(model, "param_names"):
        raise TypeError(f"model must be a latentrec estimator, got {type(model).__name__}")
    return model.clone()


def _seed(template, random_state) -> None:
    """Give ``random_state`` to every part of the template that takes one: a model; a
    pipeline's candidate models, its ranker and its random re-rankers (``Explore``,
    ``Thompson``).

    An ``Explore`` stage whose ``random_state`` is None keeps it: None is its mode of
    filling the slots by score, not a missing seed.
    """
    pipeline = isinstance(template, Pipeline)
    for model in template.models if pipeline else [template]:
        if "random_state" in model.param_names():
            model.set_params(random_state=random_state)
    if not pipeline:
        return
    if template.ranker is not None:
        template.ranker.random_state = random_state
    for stage in template.rerankers:
        if "random_state" in stage.param_names() and stage.random_state is not None:
            stage.random_state = random_state


def _choose_metric(metric, candidate, current):
    both_rate = _rates(candidate) and (current is None or _rates(current))
    if metric is None:
        metric = "rmse" if both_rate else "ndcg@10"
    label, name, k, direction = parse_metric(metric)
    if name in RATING_METRICS and not both_rate:
        who = candidate if not _rates(candidate) else current
        raise ValueError(
            f"{type(who).__name__} does not predict ratings, so the models cannot be "
            f"compared on {label}; use a ranking metric such as ndcg@10"
        )
    return label, name, k, direction


def _gate(cand: float, cur: float, label: str, direction: str, tolerance: float):
    """``(publish?, reason)`` for the candidate's and the current model's figure."""
    if not math.isfinite(cand):
        return False, f"the candidate's {label} is {cand}"
    if not math.isfinite(cur):
        return True, f"the current model's {label} is {cur}; the candidate's is {cand:.4f}"
    sign = 1.0 if direction == "minimize" else -1.0
    gain = sign * (cur - cand)  # > 0: the candidate is better
    shown = f"candidate {label} {cand:.4f}"
    if gain > 0:
        return True, f"{shown} is better than current {cur:.4f}"
    if gain == 0:
        return True, f"{shown} equals current {cur:.4f}"
    if -gain <= tolerance:
        return True, f"{shown} is worse than current {cur:.4f} but within tolerance {tolerance:g}"
    within = f" by more than tolerance {tolerance:g}" if tolerance else ""
    return False, f"{shown} is worse than current {cur:.4f}{within}"


def check_options(*, holdout=0.1, tolerance=0.0, min_holdout=100, metric=None) -> None:
    """Raise ValueError naming the first of :func:`retrain`'s comparison options that is
    invalid (what it would raise), so a command can refuse them before it builds a
    candidate or opens a store.

    Example:
        >>> check_options(holdout=0.2, metric="ndcg@10")
        >>> check_options(holdout=1.5)
        Traceback (most recent call last):
        ...
        ValueError: holdout must be a share strictly between 0 and 1, got 1.5
    """
    _check_share(holdout)
    _check_tolerance(tolerance)
    _check_min_holdout(min_holdout)
    if metric is not None:
        parse_metric(metric)


def _check_share(value, name: str = "holdout") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a share strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_min_holdout(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"min_holdout must be a whole number >= 0, got {value!r}")
    return int(value)


def _check_tolerance(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"tolerance must be a number >= 0, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {value!r}")
    return float(value)
