"""Model-level evaluation: rating error, ranking quality and k-fold cross-validation."""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.interactions import Interactions
from ..data.splits import kfold
from ..errors import PredictsNoRatingsError
from ..models._training import check_bool
from ..models.base import Recommender
from . import metrics as M

RANKING_METRICS = {
    "precision": M.precision_at_k,
    "recall": M.recall_at_k,
    "ndcg": M.ndcg_at_k,
    "map": M.map_at_k,
    "hit_rate": M.hit_rate_at_k,
}


def check_heldout(model, test: Interactions) -> None:
    """Refuse ``test`` data a fitted ``model`` (or pipeline) cannot be judged on: other
    users or items than it was fitted on, or cells it learned from (for a pipeline, also
    its ranker's ``validation`` slice, whose items it never recommends).

    Example:
        >>> from latentrec import datasets
        >>> from latentrec.data.splits import random_split
        >>> from latentrec.models import Popularity
        >>> data = datasets.synthetic(30, 20, 200, random_state=0)
        >>> train, test = random_split(data, 0.2, random_state=0)
        >>> check_heldout(Popularity().fit(train), test)  # held-out cells: fine
        >>> check_heldout(Popularity().fit(train), data)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: test shares ... cells with the data the model was trained on ...
    """
    model.check_fitted()
    if not isinstance(test, Interactions):
        raise TypeError(f"test must be latentrec.Interactions, got {type(test).__name__}")
    if test.users != model.users_ or test.items != model.items_:
        # Which side differs, and how to build a test set that shares them: a Surprise
        # user often holds a separate test file (MovieLens' u1.test, say).
        sides = [
            f"its {side} differ ({len(ours)} in test, {len(theirs)} in the model)"
            if len(ours) != len(theirs)
            else f"its {side} differ (as many, {len(ours)}, but not the same ids in the same order)"
            for side, ours, theirs in (
                ("users", test.users, model.users_),
                ("items", test.items, model.items_),
            )
            if ours != theirs
        ]
        raise ValueError(
            f"test data must share the vocabularies of the data the model was fitted on, "
            f"but {' and '.join(sides)}: split one Interactions with latentrec.data.splits "
            "and fit on the training part, or read a test file against the training data "
            "with Interactions.from_frame(..., users=train.users, items=train.items)"
        )
    shared = shared_cells(test.matrix, _training_cells(model))
    if shared.size:
        # Scored on cells it learned from, a model looks better than it is (RMSE), or is
        # kept from ranking them at all (exclude_seen): either way the figure is wrong.
        ids = (
            model.users_.ids[test.user_idx[shared[0]]],
            model.items_.ids[test.item_idx[shared[0]]],
        )
        # A NumPy id would print as np.int64(7); its Python value prints as 7.
        user, item = (x.item() if isinstance(x, np.generic) else x for x in ids)
        raise ValueError(
            f"test shares {shared.size} of its {test.nnz} cells with the data the model "
            f"was trained on{_whose(model)} (first: user {user!r}, item {item!r}); evaluate "
            "on held-out cells: split one Interactions with latentrec.data.splits and fit on the "
            "training part only"
        )


def _whose(model) -> str:
    context = getattr(model, "context_", None)
    if getattr(context, "later", None) is not None:
        return " (its candidate models' data and its ranker's validation slice)"
    return ""


def _training_cells(model):
    """The model's seen-items CSR, or None: for a pipeline everything it never
    recommends (its candidate models' data and its ranker's validation slice)."""
    context = getattr(model, "context_", None)
    if getattr(context, "seen", None) is not None:
        return context.seen
    seen = getattr(model, "seen_", None)
    if seen is None:
        seen = getattr(getattr(model, "catalog_", None), "seen", None)
    return seen


def shared_cells(matrix, other) -> np.ndarray:
    """Positions, in ``matrix``'s stored cells (row-major order), of the cells that are
    also stored in ``other`` (same shape; ``None`` shares nothing).

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> a = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 4]]))
        >>> b = sp.csr_matrix(np.array([[0, 0, 9], [0, 0, 9]]))
        >>> shared_cells(a, b).tolist()  # (0, 2) and (1, 2): a's 2nd and 4th cells
        [1, 3]
    """
    if other is None:
        return np.zeros(0, dtype=np.int64)
    a, b = sp.csr_matrix(matrix), sp.csr_matrix(other)
    if a.shape != b.shape:
        raise ValueError(f"matrices of shapes {a.shape} and {b.shape} share no cell grid")
    if a.nnz == 0 or b.nnz == 0:
        return np.zeros(0, dtype=np.int64)
    n_cols = a.shape[1]
    a_keys = np.repeat(np.arange(a.shape[0], dtype=np.int64), np.diff(a.indptr))
    a_keys = a_keys * n_cols + a.indices
    b_keys = np.repeat(np.arange(b.shape[0], dtype=np.int64), np.diff(b.indptr))
    b_keys = b_keys * n_cols + b.indices
    if not b.has_sorted_indices:
        b_keys = np.sort(b_keys)
    pos = np.minimum(np.searchsorted(b_keys, a_keys), b_keys.size - 1)
    return np.flatnonzero(b_keys[pos] == a_keys)


def check_predicts_ratings(model, doing: str, instead: str) -> None:
    """Refuse a model that predicts no ratings (``predicts_ratings`` false: Popularity,
    BPR, ImplicitALS, a pipeline) where RMSE and MAE are asked for, in the words
    ``tune`` uses, naming the model and the ranking evaluation to use ``instead``.

    Example:
        >>> from latentrec.models import BPR, Biases
        >>> check_predicts_ratings(Biases(), "evaluated", "use evaluate_ranking")
        >>> check_predicts_ratings(BPR(), "evaluated", "use evaluate_ranking")
        Traceback (most recent call last):
        ...
        latentrec.errors.PredictsNoRatingsError: BPR does not predict ratings, ...
    """
    # A pipeline has no such attribute: it only ranks.
    if not getattr(model, "predicts_ratings", False):
        raise PredictsNoRatingsError(
            f"{type(model).__name__} does not predict ratings, so it cannot be {doing} on "
            f"rmse and mae; {instead}"
        )


def evaluate_ratings(model, test: Interactions, *, clip: bool = True, per_user: bool = False):
    """RMSE and MAE of ``model`` on the held-out cells of ``test``.

    Every held-out cell counts, also those of users or items without a training cell
    (the model predicts them from what it has: a factor model gives such a user
    ``mu + b_i``).  Predictions are clipped to the rating scale by default, as deployed
    systems do; data read without a ``rating_scale`` has none, and its predictions are
    scored as they are.  Surprise clips to its Reader's scale (1-5 unless given), so to
    compare figures declare the scale (``rating_scale=(1, 5)``, ``--rating-scale 1 5``).
    ``test`` must be held out: a cell the model was trained on is refused with a
    ``ValueError`` (as LightFM refuses overlapping train and test sets), since its error
    would flatter the model.
    A model that predicts no ratings (Popularity, BPR, ImplicitALS) is refused with a
    ``ValueError`` that points to :func:`evaluate_ranking`: its scores are not stars.
    A prediction that is NaN or infinite is refused with a ``ValueError`` naming its user
    and item (:func:`check_finite_predictions`), before clipping would turn an infinity
    into the end of the scale.

    Returns ``{"rmse", "mae", "n"}`` over every held-out cell, or with ``per_user=True``
    a DataFrame with one row per user holding a held-out cell (``user_id``, ``n``,
    ``rmse``, ``mae``, in the order of the user index), cold users included.
    ``per_user`` is True or False; anything else is a ``ValueError`` naming it.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.data.splits import random_split
        >>> from latentrec.models import GlobalMean
        >>> data = Interactions.from_dense(np.arange(1, 13).reshape(3, 4) % 5 + 1)
        >>> train, test = random_split(data, 0.25, random_state=0)
        >>> sorted(evaluate_ratings(GlobalMean().fit(train), test))
        ['mae', 'n', 'rmse']
        >>> evaluate_ratings(GlobalMean().fit(train), test, per_user=True).columns.tolist()
        ['user_id', 'n', 'rmse', 'mae']
    """
    # Read by its truth value, per_user="no" gave the table: refused, as a model's flags are.
    check_bool("per_user", per_user)
    check_bool("clip", clip)
    check_heldout(model, test)
    check_predicts_ratings(model, "evaluated", "rank with evaluate_ranking(model, test, k=10)")
    if test.nnz == 0:
        raise ValueError("test data has no cells to evaluate")
    pred = model.predict_idx(test.user_idx, test.item_idx)
    check_finite_predictions(model, test, pred)
    if clip and model.rating_scale_ is not None:
        np.clip(pred, *model.rating_scale_, out=pred)
    truth = test.ratings.astype(np.float64)
    if per_user:
        return _per_user_errors(model, test.user_idx, truth, pred)
    return {"rmse": M.rmse(truth, pred), "mae": M.mae(truth, pred), "n": int(test.nnz)}


class NotFinitePredictionError(ValueError):
    """A rating evaluation refused because the model predicted NaN or infinity for a
    held-out cell (:func:`check_finite_predictions`).  A ``ValueError``; its own type lets
    a search (:func:`latentrec.evaluation.tune`) record such a trial as failed and go on.

    Example:
        >>> issubclass(NotFinitePredictionError, ValueError)
        True
    """


def check_finite_predictions(model, test: Interactions, pred) -> None:
    """Refuse predictions that are NaN or infinite, naming the first held-out cell (user
    and item ids) and the model, before any clipping: clipped, an infinite prediction
    would be scored as the end of the scale.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import GlobalMean
        >>> test = Interactions.from_dense(np.array([[4.0, 5.0]]))
        >>> model = GlobalMean().fit(test)
        >>> check_finite_predictions(model, test, np.array([4.0, 4.5]))
        >>> check_finite_predictions(model, test, np.array([4.0, np.inf]))
        Traceback (most recent call last):
        ...
        latentrec.evaluation.evaluate.NotFinitePredictionError: GlobalMean predicted inf for ...
    """
    bad = ~np.isfinite(pred)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        user, item = (
            x.item() if isinstance(x, np.generic) else x
            for x in (
                model.users_.ids[test.user_idx[first]],
                model.items_.ids[test.item_idx[first]],
            )
        )
        raise NotFinitePredictionError(
            f"{type(model).__name__} predicted {float(pred[first])} for user {user!r}, item "
            f"{item!r} ({np.count_nonzero(bad)} of the {pred.size} held-out cells are not "
            "finite): RMSE and MAE of such predictions are undefined"
        )


def _per_user_errors(model, user_idx, truth, pred) -> pd.DataFrame:
    """One row per user with a held-out cell: its count, RMSE and MAE."""
    M.rmse(truth, pred)  # the same refusals (NaN, infinite) as the overall figures
    users, rows = np.unique(user_idx, return_inverse=True)
    n = np.bincount(rows, minlength=users.size)
    error = truth - pred
    squared = np.bincount(rows, error * error, minlength=users.size)
    absolute = np.bincount(rows, np.abs(error), minlength=users.size)
    return pd.DataFrame(
        {
            "user_id": model.users_.ids[users],
            "n": n.astype(np.int64),
            "rmse": np.sqrt(squared / n),
            "mae": absolute / n,
        }
    )


def evaluate_ranking(
    model,
    test: Interactions,
    k: int = 10,
    *,
    relevance_threshold: float | None = None,
    exclude_seen: bool = True,
    per_user: bool = False,
):
    """Precision, recall, NDCG, MAP and hit rate at ``k`` (and catalogue coverage).

    Every user with at least one relevant held-out cell is evaluated; the others are left
    out of every mean (see :mod:`latentrec.evaluation.metrics` for the definitions and
    how they compare with trec_eval's).  A held-out cell is relevant when its stored
    value is at least ``relevance_threshold`` (a rating of 0 too, when the threshold
    allows it), or every held-out cell when ``None``.

    What is ranked is what ``model.recommend_batch_idx(users, k, exclude_seen=...)``
    returns: for a single model every item of the catalogue, less the user's training
    items when ``exclude_seen`` (held-out items are never excluded), ties in score
    broken by the lower item index; for a :class:`~latentrec.pipeline.Pipeline` only
    its candidates.  A single model that gives every candidate of every user it ranks
    the same score (GlobalMean) is refused, at any ``k``, with a
    :class:`RankedByIndexError` (a ``ValueError``): its top ``k`` would be the items in
    index order
    (:func:`check_not_ranked_by_index`); so is a pipeline none of whose candidate models
    can order items (:meth:`~latentrec.pipeline.Pipeline.check_can_rank`).  A single
    model that scores a user's candidate items NaN or infinite (NaN and ``-inf`` leave
    them out of its list, ``+inf`` ties them in index order) is refused with an
    :class:`UnrankableScoresError` (a ``ValueError``: :func:`check_scores_rankable`).
    A user with no training cell (a cold user: all of their cells were held out) is counted like any
    other, with the list the model gives such a user, usually its popularity fallback.
    ``coverage`` is the share of the catalogue in the evaluated users' top ``k``.  A
    ``k`` past the catalogue (``2**31 - 1``: the whole list) ranks every candidate, and
    each metric keeps ``k`` in its formula (precision divides by it), with nothing
    built wider than the catalogue.  A
    held-out cell the model was trained on is refused with a ``ValueError``: with
    ``exclude_seen`` it could never be ranked, without it it would be a free hit.

    Returns a dict of means, or with ``per_user=True`` a DataFrame with one row per
    evaluated user (``per_user`` is True or False; anything else is a ``ValueError``).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.data.splits import random_split
        >>> from latentrec.models import Popularity
        >>> data = Interactions.from_dense(np.ones((4, 5)))
        >>> train, test = random_split(data, 0.3, random_state=0)
        >>> sorted(evaluate_ranking(Popularity().fit(train), test, k=2))[:3]
        ['coverage', 'hit_rate', 'map']
    """
    # Named as the caller wrote it: recommend_batch_idx would call it n.
    k = M.check_count(k, "k")
    check_bool("per_user", per_user)
    check_bool("exclude_seen", exclude_seen)
    check_heldout(model, test)
    relevant, users = relevant_users(test, relevance_threshold)
    # One slot more than k for a single model, to see whether its top k was cut from a
    # longer tie (a pipeline's lists may change with their length: it gets k).
    single = isinstance(model, Recommender)
    recommended, scores, fallback = model.recommend_batch_idx(
        users, k + 1 if single else k, exclude_seen=exclude_seen
    )
    if single:
        # First, so that scores of +inf (a tie the tie check reads as padding) are named.
        check_scores_rankable(model, users, recommended[:, :k], scores, fallback, exclude_seen)
        check_not_ranked_by_index(model, scores, fallback, k)
        recommended = recommended[:, :k]
    elif hasattr(model, "check_can_rank"):
        # A pipeline's scores may be fused ranks, never tied: its candidates are asked.
        try:
            model.check_can_rank(users)
        except ValueError as err:
            raise RankedByIndexError(
                f"{err}; its figures would measure how the items were numbered"
            ) from None
    rel = relevant[users]
    if per_user:
        table = {"user_id": model.users_.ids[users]}
        for name, fn in RANKING_METRICS.items():
            table[f"{name}@{k}"] = fn(recommended, rel, k, per_user=True)
        return pd.DataFrame(table)
    out = {name: float(fn(recommended, rel, k)) for name, fn in RANKING_METRICS.items()}
    out["coverage"] = float(M.catalog_coverage(recommended, model.n_items, k))
    out["n_users"] = int(users.size)
    return out


def relevant_users(test: Interactions, relevance_threshold: float | None = None):
    """``(relevant, users)``: the relevant held-out cells (:func:`relevant_cells`) and the
    users holding one, whom :func:`evaluate_ranking` evaluates; a ``ValueError`` when there
    is none, saying by how much a threshold missed.  Cheap: callers check a split with it
    before fitting anything on it.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> test = Interactions.from_dense(np.array([[5, 0], [0, 2]]))
        >>> relevant_users(test, 4)[1].tolist()
        [0]
        >>> relevant_users(test, 6)
        Traceback (most recent call last):
        ...
        ValueError: no held-out cell is at least the relevance threshold 6 (the highest is 5), ...
    """
    relevant = relevant_cells(test.matrix, relevance_threshold)
    users = np.flatnonzero(np.diff(relevant.indptr) > 0).astype(np.int32)
    if users.size == 0:
        if relevance_threshold is not None and test.nnz:
            # The threshold emptied it: say by how much, so the fix is plain.
            raise ValueError(
                f"no held-out cell is at least the relevance threshold {relevance_threshold:g} "
                f"(the highest is {test.matrix.data.max():g}), so no user has a relevant "
                "held-out item to rank"
            )
        raise ValueError("no user has a relevant held-out item to rank")
    return relevant, users


class RankedByIndexError(ValueError):
    """A ranking evaluation refused because the model gives every candidate item the same
    score, so its top ``k`` would be the items in index order
    (:func:`check_not_ranked_by_index`).  A ``ValueError``; its own type lets a search
    (:func:`latentrec.evaluation.tune`) record such a trial as failed and go on.

    Example:
        >>> issubclass(RankedByIndexError, ValueError)
        True
    """


def check_not_ranked_by_index(model, scores, fallback, k: int) -> None:
    """Refuse rankings in which every user's list is ordered by item index alone.

    ``scores`` are the best ``k + 1`` scores per user (``recommend_batch_idx``; ``-inf``
    past a user's last candidate), and ``fallback`` says which users got the popularity
    list (ordered by counts, not by index: those are not looked at).  Ties go to the
    lower item index, so when every personal user's ``k + 1`` best candidates share one
    score (GlobalMean, a model whose factors and item biases are all zero) the top ``k``
    is the catalogue in index order: its figures would describe how the items were
    numbered, and look like any other.  That holds for a user with ``k`` candidates or
    fewer too, whose list is all of them: precision, recall and hit rate do not see the
    order, but NDCG and MAP do.  A user left one candidate or none has nothing to order
    and is not looked at; a tie for some users only passes.

    Example:
        >>> import numpy as np
        >>> from latentrec.models import Popularity
        >>> check_not_ranked_by_index(Popularity(), np.array([[3.0, 2.0, 2.0]]), [False], 2)
        >>> check_not_ranked_by_index(Popularity(), np.array([[2.0, 2.0, 2.0]]), [False], 2)
        Traceback (most recent call last):
        ...
        latentrec.evaluation.evaluate.RankedByIndexError: Popularity gives every candidate ...
        >>> tied = np.array([[2.0, 2.0, -np.inf]])  # both candidates, k = 5: still by index
        >>> check_not_ranked_by_index(Popularity(), tied, [False], 5)
        Traceback (most recent call last):
        ...
        latentrec.evaluation.evaluate.RankedByIndexError: Popularity gives every candidate ...
    """
    personal = np.asarray(scores)[~np.asarray(fallback, dtype=bool)]
    top = personal[:, : k + 1]
    # Slots past a user's candidates hold -inf: they are not candidates tied or not.
    listed = np.isfinite(top)
    can_order = listed.sum(axis=1) >= 2
    tied = np.where(listed, top == top[:, :1], True).all(axis=1)
    if can_order.any() and tied[can_order].all():
        # The users not looked at are counted, so the figure adds up to those evaluated.
        others = [
            f"{n} {what}"
            for n, what in (
                (int((~can_order).sum()), "with one candidate or none"),
                (int(np.count_nonzero(fallback)), "given the popularity fallback"),
            )
            if n
        ]
        aside = f" ({' and '.join(others)} not looked at)" if others else ""
        raise RankedByIndexError(
            f"{type(model).__name__} gives every candidate item the same score for each of "
            f"the {int(can_order.sum())} users it ranks that have two candidates or "
            f"more{aside}, so their top {k} would be ranked by item index (ties go to the "
            "lower index): the figures would measure how the items were numbered, not the "
            "model; for a ranking baseline that is not personal, use Popularity"
        )


class UnrankableScoresError(ValueError):
    """A ranking evaluation refused because a single model scored some of a user's
    candidate items NaN or infinite (:func:`check_scores_rankable`).  A ``ValueError``;
    its own type lets a search (:func:`latentrec.evaluation.tune`) record such a trial
    as failed and go on, as it does a fit that diverged.

    Example:
        >>> issubclass(UnrankableScoresError, ValueError)
        True
    """


def check_scores_rankable(model, users, recommended, scores, fallback, exclude_seen) -> None:
    """Refuse a single model's lists when it scored candidates NaN or infinite: a
    candidate scored NaN or ``-inf`` is left out of a top ``k`` (no order holds it), so a
    list runs short and its figures count the missing places as misses; candidates
    scored ``+inf`` tie, and go by item index.  Either way the figures would not describe
    the model.  ``recommended`` and ``scores`` are what ``recommend_batch_idx(users,
    ...)`` returned (``scores`` with the ``k + 1``-th slot, ``recommended`` cut to
    ``k``); popularity-fallback rows (``fallback``) are not looked at.  A factor model
    scores so when its factors are too large for float32, after a fit that diverged.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> model = Popularity().fit(Interactions.from_dense(np.array([[1, 0, 0], [1, 1, 0]])))
        >>> check_scores_rankable(model, [0], np.array([[1, 2]]), np.ones((1, 2)), [False], True)
        >>> check_scores_rankable(model, [0], np.array([[1, 2]]), np.array([[np.inf, 1.0]]),
        ...                       [False], True)
        Traceback (most recent call last):
        ...
        latentrec.evaluation.evaluate.UnrankableScoresError: Popularity scored 1 of the 2 items ...
        >>> check_scores_rankable(model, [0], np.array([[1, -1]]), np.ones((1, 2)), [False],
        ...                       True)
        Traceback (most recent call last):
        ...
        latentrec.evaluation.evaluate.UnrankableScoresError: Popularity listed 1 of the 2 ...
    """
    personal = ~np.asarray(fallback, dtype=bool)
    seen = getattr(model, "seen_", None)
    if not personal.any() or seen is None:
        return
    users = np.asarray(users, dtype=np.int64)[personal]
    candidates = np.full(users.size, model.n_items, dtype=np.int64)
    if exclude_seen:
        candidates -= np.diff(seen.indptr)[users]
    rows = np.asarray(recommended)[personal]
    short = (rows >= 0).sum(axis=1) < np.minimum(candidates, rows.shape[1])
    tops = np.isposinf(np.asarray(scores)[personal][:, : rows.shape[1]])
    bad = short | tops.any(axis=1)
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    user = model.users_.ids[users[first]]
    user = user.item() if isinstance(user, np.generic) else user
    # The first such user's scores say which values they were: what a reader can act on.
    row = np.asarray(model.score_users([users[first]])[0], dtype=np.float64)
    eligible = np.ones(model.n_items, dtype=bool)
    if exclude_seen:
        eligible[seen.indices[seen.indptr[users[first]] : seen.indptr[users[first] + 1]]] = False
    counts = {
        "NaN": int(np.isnan(row[eligible]).sum()),
        "+inf": int(np.isposinf(row[eligible]).sum()),
        "-inf": int(np.isneginf(row[eligible]).sum()),
    }
    named = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    if named:
        said = (
            f"{type(model).__name__} scored {sum(counts.values())} of the "
            f"{int(candidates[first])} candidate items of user {user!r} not finite ({named})"
        )
    elif tops[first].any():
        # Seen in the list only (its kernel's arithmetic, not score_users', overflowed).
        said = (
            f"{type(model).__name__} scored "
            f"{int(tops[first].sum())} of the "
            f"{int((rows[first] >= 0).sum())} items it listed for user {user!r} +inf"
        )
    else:
        said = (
            f"{type(model).__name__} listed {int((rows[first] >= 0).sum())} of the "
            f"{min(int(candidates[first]), rows.shape[1])} candidate items of user {user!r}"
        )
    raise UnrankableScoresError(
        f"{said}; {int(bad.sum())} of the {users.size} users it ranks have such scores, "
        "which no ranking orders (NaN and -inf drop out of a list, +inf ones tie in item "
        "order): a factor model scores so when its factors overflow float32, so training "
        "diverged; lower learning_rate or raise regularization"
    )


@dataclass
class CrossValidation:
    """Per-fold results of :func:`cross_validate`; ``mean()`` averages the metrics.

    Example:
        >>> import pandas as pd
        >>> cv = CrossValidation("GlobalMean", pd.DataFrame({"fold": [1, 2], "rmse": [1.0, 3.0]}))
        >>> float(cv.mean()["rmse"])
        2.0
    """

    model: str
    folds: pd.DataFrame

    def mean(self) -> pd.Series:
        """Mean of every numeric column over the folds."""
        return self.folds.drop(columns=["fold"]).mean()

    def std(self) -> pd.Series:
        """Standard deviation of every numeric column over the folds (population, ddof=0,
        as Surprise's ``cross_validate`` reports it)."""
        return self.folds.drop(columns=["fold"]).std(ddof=0)

    def __str__(self) -> str:
        # A new frame for the mean row: writing "mean" into the integer fold column in
        # place is a dtype change pandas deprecates (and will refuse).
        mean = pd.DataFrame([{"fold": "mean", **self.mean().to_dict()}])
        table = pd.concat([self.folds.astype({"fold": object}), mean], ignore_index=True)
        return f"{self.model}\n{table.to_string(index=False, float_format=lambda x: f'{x:.4f}')}"


def relevant_cells(matrix, relevance_threshold: float | None = None):
    """The held-out cells that count as relevant: those whose stored value is at least
    ``relevance_threshold``, or all of them for ``None``.  Only stored cells are
    compared, so a stored 0 passes a threshold of 0 or below, and nothing is built for
    the absent cells (``matrix >= t`` would be n_users x n_items for ``t <= 0``).

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> cells = ([5.0, 0.0, -1.0, 4.0], ([0, 0, 1, 1], [0, 1, 0, 1]))
        >>> m = sp.csr_matrix(cells, shape=(2, 3))  # a stored rating of 0 at (0, 1)
        >>> relevant_cells(m, 4).toarray().tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
        >>> relevant_cells(m, 0).toarray().tolist()
        [[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    """
    relevant = sp.csr_matrix(matrix, copy=True)
    if check_threshold(relevance_threshold) is None:
        return relevant
    relevant.data = (relevant.data >= relevance_threshold).astype(np.float64)
    relevant.eliminate_zeros()
    return relevant


def check_threshold(relevance_threshold):
    """``relevance_threshold`` itself once it is a number or None, else a ValueError.

    Example:
        >>> check_threshold(4), check_threshold(None)
        (4, None)
    """
    if relevance_threshold is not None and (
        isinstance(relevance_threshold, bool)
        or not isinstance(relevance_threshold, numbers.Real)
        or math.isnan(relevance_threshold)
    ):
        raise ValueError(
            f"relevance_threshold must be a number or None, got {relevance_threshold!r}"
        )
    return relevance_threshold


def cross_validate(
    model,
    data: Interactions,
    n_splits: int = 5,
    *,
    random_state=0,
    task: str = "rating",
    k: int = 10,
    relevance_threshold: float | None = None,
    verbose: bool = False,
) -> CrossValidation:
    """k-fold cross-validation of an unfitted model (a clone is fitted per fold).

    ``task="rating"`` reports RMSE and MAE; ``task="ranking"`` reports the ranking metrics
    at ``k``, a held-out cell being relevant when its value is at least
    ``relevance_threshold`` (every held-out cell when ``None``), as in
    :func:`evaluate_ranking` (also for a ``k`` past the catalogue).  Fit and test seconds
    per fold are recorded.  A model that predicts no ratings (Popularity, BPR,
    ImplicitALS) is refused for ``task="rating"`` before any fold is fitted, with a
    ``ValueError`` that names ``task="ranking"``.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Biases
        >>> data = Interactions.from_dense(np.arange(1, 21).reshape(4, 5) % 5 + 1)
        >>> cv = cross_validate(Biases(), data, n_splits=2)
        >>> cv.folds.columns.tolist()
        ['fold', 'rmse', 'mae', 'fit_seconds', 'test_seconds']
    """
    # Said first: otherwise a stray object read as a model that "does not predict
    # ratings", or failed on a missing clone, and a matrix was "expected an Interactions"
    # by kfold, in words that named neither argument.
    if isinstance(model, type):
        raise TypeError(
            f"model must be a model instance, got the class {model.__name__}; "
            f"pass {model.__name__}()"
        )
    if not (callable(getattr(model, "clone", None)) and callable(getattr(model, "fit", None))):
        raise TypeError(
            f"model must be a latentrec model or pipeline (with clone and fit), "
            f"got {type(model).__name__}"
        )
    if not isinstance(data, Interactions):
        raise TypeError(f"data must be latentrec.Interactions, got {type(data).__name__}")
    if task not in ("rating", "ranking"):
        raise ValueError(f"task must be 'rating' or 'ranking', got {task!r}")
    if task == "rating":
        check_predicts_ratings(model, "cross-validated", "pass task='ranking'")
        if relevance_threshold is not None:  # refused, not ignored
            raise ValueError("relevance_threshold applies to task='ranking', not to 'rating'")
    else:
        k = M.check_count(k, "k")  # before any fold is fitted
        check_threshold(relevance_threshold)
    rows = []
    for fold, (train, test) in enumerate(kfold(data, n_splits, random_state=random_state), 1):
        fitted = model.clone()
        start = time.perf_counter()
        fitted.fit(train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        if task == "rating":
            scores = evaluate_ratings(fitted, test)
            scores.pop("n")
        else:
            scores = evaluate_ranking(fitted, test, k, relevance_threshold=relevance_threshold)
            scores.pop("n_users")
        test_seconds = time.perf_counter() - start
        rows.append(
            {"fold": fold, **scores, "fit_seconds": fit_seconds, "test_seconds": test_seconds}
        )
        if verbose:
            shown = ", ".join(f"{k_}={v:.4f}" for k_, v in scores.items())
            print(f"  fold {fold}/{n_splits}: {shown}, fit {fit_seconds:.2f}s", flush=True)
    return CrossValidation(type(model).__name__, pd.DataFrame(rows))
