"""Hyperparameter search with optuna on an inner validation split, with per-epoch pruning.

optuna is an optional dependency (the ``tune`` extra) and is imported only when
:func:`tune` runs.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.interactions import Interactions
from ..data.splits import random_split, temporal_split, user_split
from ..errors import HyperparameterError
from ..models._training import epoch_listener
from ..models.base import Recommender
from .evaluate import (
    RANKING_METRICS,
    NotFinitePredictionError,
    RankedByIndexError,
    UnrankableScoresError,
    check_threshold,
    evaluate_ranking,
    evaluate_ratings,
    relevant_users,
)

RATING_METRICS = ("rmse", "mae")
_SPEC_KINDS = ("int", "float", "categorical")
_SPEC_OPTIONS = {"int": ("log", "step"), "float": ("log", "step"), "categorical": ()}


def _import_optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "latentrec.evaluation.tune needs optuna, which is not installed; install the "
            "'tune' extra: pip install 'latentrec[tune]'"
        ) from None
    return optuna


@dataclass
class TuningResult:
    """What :func:`tune` found: the best hyperparameters, every trial, the optuna study.

    Attributes:
        best_params: the winning values of the tuned hyperparameters only.
        best_value: their validation score (``metric``).
        metric: what was optimised, e.g. ``"rmse"`` or ``"ndcg@10"``.
        direction: ``"minimize"`` (rating errors) or ``"maximize"`` (ranking metrics).
        trials: one row per trial: ``trial``, ``state`` (``complete``, ``pruned`` or
            ``fail``), the metric (NaN unless complete), each tuned hyperparameter,
            ``epochs`` (epochs reported before the end; 0 for models that do not train
            in epochs), ``best_epoch`` (only when some trial's model stopped early, i.e.
            had ``patience``: the epoch whose state early stopping kept; ``<NA>`` for a
            trial that did not end its fit, and for a completed one without early stopping,
            e.g. ``patience=None`` where ``patience`` is searched), ``seconds`` and
            ``error`` (why a trial failed).
            Only trials that ended are rows: one cut short by Ctrl-C is not.
        study: the ``optuna.Study`` itself, for optuna's plots and analyses.
        default_value: the validation score of ``model`` as given (its own settings, before
            any search) on the same split; NaN when that fit failed.
        improved: whether ``best_value`` beats ``default_value``.  When it does not (few
            trials, a space that misses the defaults), :func:`tune` warns, and the
            template as given is the better model.
        exhaustive: whether every point of the space was tried (a grid search that ran to
            its end), so that more trials could find nothing more.
        refit_params: what :meth:`best_model` sets on top of ``best_params``: empty for a
            model without early stopping; for one with ``patience`` (whose best trial
            kept the state of its best validation epoch, not of its last),
            ``{"n_epochs": <that epoch>, "patience": None}``, since the refit has no
            validation data to stop on.
        default_refit_params: the same for the model as given (:meth:`model_as_given`).
        interrupted: whether Ctrl-C (``KeyboardInterrupt``) ended the search early; the
            result then holds the trials that ended before it.
        planned_trials: the trials the search was to run (``n_trials``, or the grid's size).
        timed_out: whether ``timeout`` ended the search before ``planned_trials`` ran (more
            trials would be cut short the same way; a longer timeout is what helps).
        split: how the validation cells were held out (``"random"``, ``"user"`` or
            ``"temporal"``), and ``validation`` the share asked for: every score above
            is of that split (:func:`validation_split` gives it again).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Biases
        >>> data = Interactions.from_dense(np.arange(1, 41).reshape(8, 5) % 5 + 1)
        >>> result = tune(Biases(), data, {"regularization": ("float", 0.1, 20.0)}, n_trials=2)
        >>> sorted(result.best_params), result.best_model().is_fitted
        (['regularization'], True)
    """

    best_params: dict
    best_value: float
    metric: str
    direction: str
    trials: pd.DataFrame
    study: object = field(repr=False)
    template: Recommender = field(repr=False)
    data: Interactions = field(repr=False)
    default_value: float = math.nan
    improved: bool = True
    exhaustive: bool = False
    refit_params: dict = field(default_factory=dict)
    default_refit_params: dict = field(default_factory=dict)
    interrupted: bool = False
    planned_trials: int = 0
    timed_out: bool = False
    split: str = "random"
    validation: float = 0.1

    def best_model(self) -> Recommender:
        """The template with ``best_params`` and ``refit_params``, refitted on all of the
        data given to ``tune``.

        A model without early stopping runs its ``n_epochs``.  The refit has no
        validation data to stop on, so a model with ``patience`` runs the epochs its best
        trial's early stopping chose (that trial's ``best_epoch``), with ``patience`` off:
        ``n_epochs`` as searched would be the upper bound, not what was scored.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> data = Interactions.from_dense(np.arange(1, 41).reshape(8, 5) % 5 + 1)
            >>> space = {"n_epochs": ("int", 1, 5)}
            >>> result = tune(Biases(), data, space, n_trials=2)
            >>> result.best_model().n_epochs == result.best_params["n_epochs"]
            True
        """
        params = {**self.best_params, **self.refit_params}
        return self.template.clone().set_params(**params).fit(self.data)

    def model_as_given(self) -> Recommender:
        """The template with its own values, refitted on all of the data given to ``tune``
        (the model ``default_value`` scored), with ``default_refit_params``: a model with
        ``patience`` runs the epochs its early stopping chose on the validation split.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> data = Interactions.from_dense(np.arange(1, 41).reshape(8, 5) % 5 + 1)
            >>> model = BiasedMF(n_factors=2, n_epochs=50, patience=2, random_state=0)
            >>> with warnings.catch_warnings():  # one trial: nothing better than as given
            ...     warnings.simplefilter("ignore", TuningWarning)
            ...     result = tune(model, data, {"n_factors": ("int", 1, 3)}, n_trials=1)
            >>> refit = result.model_as_given()
            >>> sorted(result.default_refit_params), refit.patience
            (['n_epochs', 'patience'], None)
            >>> refit.n_epochs == result.default_refit_params["n_epochs"]
            True
        """
        return self.template.clone().set_params(**self.default_refit_params).fit(self.data)

    def __str__(self) -> str:
        counts = self.trials["state"].value_counts()
        summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("complete", "pruned", "fail"))
        params = ", ".join(f"{k}={_short(v)}" for k, v in self.best_params.items())
        refit = ""
        if self.refit_params:
            refit = f"; refitted with n_epochs={self.refit_params['n_epochs']}, {STOPPING_EPOCH}"
        if self.interrupted:
            summary += f"; interrupted after {len(self.trials)} of {self.planned_trials} trials"
        return (
            f"{type(self.template).__name__}: best {self.metric} {self.best_value:.4f} "
            f"with {params}{refit} ({summary})"
        )


# How a refit's epochs are said: by the result and by the command line.
STOPPING_EPOCH = "the best trial's stopping epoch"


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def tune(
    model: Recommender,
    data: Interactions,
    space: dict,
    *,
    n_trials: int = 30,
    validation: float = 0.1,
    split: str = "random",
    metric: str = "rmse",
    random_state=0,
    timeout: float | None = None,
    prune=True,
    relevance_threshold: float | None = None,
    verbose: bool = False,
) -> TuningResult:
    """Search hyperparameters of ``model`` with optuna's TPE sampler on a validation split.

    ``data`` is split once (``split``: by default ``random_split(data, validation,
    random_state)``); each trial fits ``model.clone().set_params(**params)`` on the larger
    part (passing the smaller as validation data) and scores ``metric`` on the smaller
    part.  Nothing outside ``data`` is used: keep your test set out of ``data`` and
    evaluate ``result.best_model()`` on it.

    Pruning stops a trial whose per-epoch validation RMSE is worse than the median of earlier
    trials at the same epoch (optuna's ``MedianPruner`` after 5 trials, from epoch 5 on).  It
    watches models that train through the shared epoch loop (``BiasedMF`` and friends; see
    :func:`latentrec.models._training.epoch_listener`); other models simply are not pruned.
    Because the pruner compares validation RMSE, it is used only for rating metrics.  The
    per-epoch validation RMSE is stored as each optuna trial's intermediate values, and a
    ``patience`` setting of the model stops trials early on the validation part too.

    Args:
        model: an unfitted latentrec model, the template of every trial.
        data: the interactions to tune on (training data only).
        space: hyperparameter name -> distribution, either an ``optuna.distributions``
            object or a tuple: ``("int", low, high)``, ``("float", low, high)``, each with an
            optional dict ``{"log": True}`` or ``{"step": s}`` as fourth item, or
            ``("categorical", [choice, ...])``.  Names must be hyperparameters of ``model``.
            Bounds are finite (whole numbers for ``int``), ``log`` is true or false, a
            choice is listed once, and each end of a range and each choice must be a
            value ``model`` accepts (checked before any trial, unless its refusal names
            another searched hyperparameter): otherwise ``ValueError`` names the entry.
        n_trials: number of trials (fewer when ``timeout`` ends the search).  When every
            dimension of ``space`` has finitely many values (categorical, ``int``, or a
            ``float`` range whose low is its high) and the grid has at most ``n_trials``
            points, the search is a grid search instead: each point is tried exactly once
            (enqueued in optuna's study), and ``n_trials`` is the grid's size; a space of
            one point is one trial.
        validation: share of the cells of ``data`` held out to score trials.
        split: how they are held out: ``"random"`` (cells drawn at random,
            :func:`~latentrec.data.splits.random_split`), ``"user"`` (that share of each
            user's cells, :func:`~latentrec.data.splits.user_split`, so every user with
            more than one cell is scored) or ``"temporal"`` (the latest cells in time,
            :func:`~latentrec.data.splits.temporal_split`; needs timestamps).  Choose
            the one the model will be judged by: settings tuned to fill random gaps in
            a user's past are not the ones that best predict what comes next.
        metric: ``"rmse"`` or ``"mae"`` (minimised), or a ranking metric at a cut-off,
            ``"ndcg@10"``, ``"precision@k"``, ``"recall@k"``, ``"map@k"``, ``"hit_rate@k"``
            (maximised; a validation cell is relevant when its value is at least
            ``relevance_threshold``, every one when ``None``, as in
            :func:`~latentrec.evaluation.evaluate_ranking`).
        random_state: seeds the split and the sampler (None, an integer from 0 to
            2**32 - 1, or a numpy Generator); the model's own ``random_state`` is left as
            set, so fix it too for a repeatable search.
        timeout: stop starting new trials after this many seconds (at least one runs).
        prune: ``True`` for the median pruner, ``False`` for none, or an optuna pruner.
        relevance_threshold: with a ranking metric, the least rating that counts as a hit
            (4: only 4 and 5 stars); refused with a rating metric, and when no validation
            cell reaches it (before any trial).
        verbose: print one line per trial.

    A model with ``patience`` stops each trial early on the validation part and keeps its
    best epoch's state; the trials table records that epoch (``best_epoch``), and
    ``result.best_model()`` refits with ``n_epochs`` set to the best trial's and
    ``patience`` off (``result.refit_params``), so that the model refitted is the one
    scored, not one that runs ``n_epochs`` to the end.

    Ctrl-C (``KeyboardInterrupt``) ends the search: the trial it cuts short is told to
    optuna as failed (as optuna's own ``optimize`` does) and left out of the result.  When
    a trial had completed, the result so far is returned, with ``result.interrupted``
    set and a :class:`TuningWarning` saying after how many trials; otherwise the
    interrupt is raised again.  The model as given is then not fitted once more for
    ``default_value`` (NaN unless it was a trial).

    Trials whose training diverges (``FloatingPointError``), trials whose values ``fit``
    refuses for this data (a :class:`~latentrec.errors.HyperparameterError`: arrays that
    would not fit in memory, an ImplicitALS ``alpha`` past what its solver computes, a
    HybridMF ``min_rating`` above every rating), and
    with a ranking metric trials whose model gives every candidate the same score (a
    :class:`~latentrec.evaluation.evaluate.RankedByIndexError`: its figures would rank by
    item index) or scores candidates NaN or infinite (an
    :class:`~latentrec.evaluation.evaluate.UnrankableScoresError`), and with a rating
    metric trials whose model predicts NaN or infinity (a
    :class:`~latentrec.evaluation.evaluate.NotFinitePredictionError`), are recorded as
    failed, with the message in the ``error`` column, and the search goes on; any other
    error propagates.

    The template as given is scored on the same split too (``result.default_value``).
    When its values of the searched hyperparameters all lie in ``space``, it is the first
    trial (enqueued in optuna's study), so the search starts from it and its best is never
    worse; otherwise it is fitted once more for that score.  If the best trial is not
    better, a :class:`TuningWarning` says so and ``result.improved`` is False: a short
    search can miss values the defaults already have, and ``result.best_model()`` would
    then be no better a model.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import BiasedMF
        >>> rng = np.random.default_rng(0)
        >>> data = Interactions.from_dense(rng.integers(1, 6, (20, 10)))
        >>> space = {"learning_rate": ("float", 1e-3, 5e-2, {"log": True}),
        ...          "n_epochs": ("int", 5, 20)}
        >>> result = tune(BiasedMF(n_factors=2, random_state=0), data, space, n_trials=3)
        >>> sorted(result.best_params), len(result.trials)
        (['learning_rate', 'n_epochs'], 3)
    """
    optuna = _import_optuna()
    if not isinstance(model, Recommender):
        raise TypeError(f"model must be a latentrec model, got {type(model).__name__}")
    if not isinstance(data, Interactions):
        raise TypeError(f"data must be latentrec.Interactions, got {type(data).__name__}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1, got {n_trials!r}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0
    ):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    if (
        isinstance(validation, bool)
        or not isinstance(validation, numbers.Real)
        or not 0 < validation < 1
    ):
        raise ValueError(f"validation must be a share strictly between 0 and 1, got {validation!r}")
    if not (
        random_state is None
        or isinstance(random_state, np.random.Generator)
        or (
            isinstance(random_state, numbers.Integral)
            and not isinstance(random_state, bool)
            and 0 <= random_state < 2**32
        )
    ):
        raise ValueError(
            "random_state must be None, an integer from 0 to 2**32 - 1 or a "
            f"numpy Generator, got {random_state!r}"
        )
    metric, name, k, direction = check_metric(metric, model)
    if name in RATING_METRICS and relevance_threshold is not None:  # refused, not ignored
        raise ValueError(
            f"relevance_threshold applies to a ranking metric (which validation cells "
            f"count as hits), not to {metric!r}, which scores every validation rating"
        )
    check_threshold(relevance_threshold)
    distributions = _distributions(space, model, optuna)
    pruner = _pruner(prune, name in RATING_METRICS, optuna)

    if isinstance(random_state, np.random.Generator):
        random_state = int(random_state.integers(2**31 - 1))
    grid = _grid(distributions, n_trials)
    if grid is not None:
        # A grid search, as Surprise's GridSearchCV: every point once, none twice (TPE
        # would repeat some and miss others, and fit a one-point space n_trials times).
        n_trials = len(grid)
    else:
        grid = []
    train, valid = validation_split(data, split, validation, random_state)
    if name not in RATING_METRICS:
        relevant_users(valid, relevance_threshold)  # said now, not after the first fit
    score = functools.partial(_score, name=name, k=k, relevance_threshold=relevance_threshold)
    started = time.perf_counter()
    with _quiet(optuna):
        study = optuna.create_study(
            direction=direction,
            sampler=optuna.samplers.TPESampler(seed=random_state),
            pruner=pruner if pruner is not None else optuna.pruners.NopPruner(),
            study_name=f"latentrec-{type(model).__name__}",
        )
        as_given = _point_as_given(model, distributions)
        if not grid and as_given is not None:
            # The first trial is the model as given: the search starts from settings known
            # to work, and what it returns is never worse than what it was handed.
            study.enqueue_trial(as_given)
        for point in grid:
            study.enqueue_trial(point)  # optuna runs enqueued points as given, in order
        interrupt, cut_short, timed_out = None, set(), False
        try:
            for number in range(n_trials):
                told = _run_trial(study, optuna, model, distributions, train, valid, score, pruner)
                if verbose:
                    # Not study.trials[-1]: a grid's points wait in the study, enqueued, after it.
                    _print_trial(study.trials[told], number, n_trials, metric)
                if timeout is not None and time.perf_counter() - started >= timeout:
                    timed_out = number + 1 < n_trials
                    break
        except KeyboardInterrupt as stop:
            # The user asked to stop, not to lose what ran: optuna's optimize tells the trial
            # it cuts short as failed and raises; here the finished ones are returned.
            interrupt = stop
            running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            for t in running:
                cut_short.add(t.number)
                study.tell(t.number, state=optuna.trial.TrialState.FAIL)

    trials = _trials_frame(study, optuna, metric, list(distributions), cut_short)
    complete = trials[trials["state"] == "complete"]
    if interrupt is not None and complete.empty:
        raise interrupt  # nothing to return: the interrupt is the outcome
    if complete.empty:
        errors = trials["error"].dropna()
        why = f"; first error: {errors.iloc[0]}" if len(errors) else ""
        raise RuntimeError(
            f"no trial completed ({len(trials)} run: "
            f"{(trials['state'] == 'pruned').sum()} pruned, "
            f"{(trials['state'] == 'fail').sum()} failed){why}; narrow the space or add trials"
        )
    best_value = float(study.best_value)
    default_cut = False
    try:
        default_value, default_stop = _default_score(
            model, train, valid, score, study, as_given, optuna, fit=interrupt is None
        )
    except KeyboardInterrupt as stop:
        # Ctrl-C while the model as given is fitted after the loop (its values lie outside
        # the space, or its trial was pruned): the finished trials are still the result;
        # only the model as given goes unscored.
        interrupt, default_cut = stop, True
        default_value, default_stop = math.nan, None
    # Counted in the table, not in study.trials: points a timeout left enqueued are there too.
    exhaustive = bool(grid) and interrupt is None and len(trials) == len(grid)
    if direction == "minimize":
        improved = not best_value >= default_value
    else:
        improved = not best_value <= default_value
    if not improved:
        # More trials cannot help once every point of the space has been tried.
        if exhaustive:
            advice = "search a wider space (it tried every point of this one)"
        elif timed_out:  # more trials would be cut by the same timeout
            advice = f"raise timeout (it ended the search after {len(trials)} of {n_trials} trials)"
        else:
            advice = "run more trials"
        warnings.warn(
            f"tuning found nothing better than the settings {type(model).__name__} was "
            f"given: best {metric} {best_value:.4f} vs {default_value:.4f} for the model as "
            f"given, on the same validation split; keep the model as given, or {advice}",
            TuningWarning,
            stacklevel=2,
        )
    if interrupt is not None:
        running = (
            "the model as given, fitted after them, is not scored"
            if default_cut
            else "the trial running then is not counted"
        )
        warnings.warn(
            f"tuning was interrupted after {len(trials)} of {n_trials} trials ({running}); "
            "the result holds those that finished",
            TuningWarning,
            stacklevel=2,
        )
    return TuningResult(
        best_params=dict(study.best_trial.params),
        best_value=best_value,
        metric=metric,
        direction=direction,
        trials=trials,
        study=study,
        template=model,
        data=data,
        default_value=default_value,
        improved=improved,
        exhaustive=exhaustive,
        refit_params=_refit_params(study.best_trial.user_attrs.get("best_epoch")),
        default_refit_params=_refit_params(default_stop),
        interrupted=interrupt is not None,
        planned_trials=n_trials,
        timed_out=timed_out,
        split=split,
        validation=float(validation),
    )


SPLITS = ("random", "user", "temporal")


def validation_split(data: Interactions, split: str, validation: float, random_state=0):
    """``(train, valid)``: the split :func:`tune` scores its trials on, for the same
    ``split``, ``validation`` and ``random_state`` (an integer or None; a Generator is
    drawn from, so a second call gives another split).

    Refused (``ValueError``) when it holds out no cell (a user split whose share rounds
    to 0 for every user, or where no user has a second cell to hold out), or, for a
    temporal split, when ties at the cutoff time leave nothing to train on.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> data = Interactions.from_dense(np.ones((4, 5)))
        >>> [part.nnz for part in validation_split(data, "user", 0.2)]
        [16, 4]
        >>> validation_split(Interactions.from_dense(np.eye(3)), "user", 0.5)
        Traceback (most recent call last):
        ...
        ValueError: the user split holds out no cell: no user has more than one cell ...
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {split!r}")
    share = float(validation)
    if split == "temporal":
        train, valid = temporal_split(data, test_size=share)
    elif split == "user":
        train, valid = user_split(data, share, random_state=random_state)
    else:
        train, valid = random_split(data, share, random_state)
    if valid.nnz == 0:
        # Said now, before any trial, not as a NaN score after each.  A larger share
        # cannot help users who keep their only cell to train on.
        most = int(data.user_counts().max(initial=0))
        if most <= 1:
            raise ValueError(
                f"the {split} split holds out no cell: no user has more than one cell "
                "(each keeps one to train on); use split='random'"
            )
        raise ValueError(
            f"the {split} split holds out no cell at validation={share:g}: a share of each "
            f"user's cells, it rounds to 0 for every user (the most a user has is {most}); "
            "give a larger validation share"
        )
    return train, valid


def _refit_params(best_epoch) -> dict:
    """What a refit without validation data sets to be the model early stopping kept.

    Example:
        >>> _refit_params(22), _refit_params(None)
        ({'n_epochs': 22, 'patience': None}, {})
    """
    return {} if best_epoch is None else {"n_epochs": int(best_epoch), "patience": None}


def _stopping_epoch(model: Recommender) -> int | None:
    """The epoch whose state a fitted model's early stopping kept, or None for a model
    without early stopping (no ``patience`` hyperparameter, or it is None): that model is
    its last epoch's, which ``n_epochs`` already says.

    Every model with ``patience`` trains through ``run_epochs``, which restores the best
    epoch's state and records it as ``history_["best_epoch"]``.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import BiasedMF
        >>> data = Interactions.from_dense(np.arange(1, 41).reshape(8, 5) % 5 + 1)
        >>> print(_stopping_epoch(BiasedMF(n_factors=2, n_epochs=3).fit(data)))
        None
    """
    if model.get_params().get("patience") is None:
        return None
    history = getattr(model, "history_", None)
    if not isinstance(history, dict) or "best_epoch" not in history:
        return None
    return int(history["best_epoch"])


class TuningWarning(UserWarning):
    """:func:`tune` found no setting better than the model as given.

    Example:
        >>> issubclass(TuningWarning, UserWarning)
        True
    """


def _default_score(
    model, train, valid, score, study, as_given, optuna, *, fit: bool = True
) -> tuple[float, int | None]:
    """The template's own validation score on the tuning split (NaN if its fit fails) and
    the epoch its early stopping kept (None without early stopping): those of the trial
    that tried its values, when one ran to its end, else of a fit of it (none when ``fit``
    is False: the search was interrupted)."""
    for t in study.trials if as_given is not None else ():
        if _same_point(t.params, as_given):
            if t.state == optuna.trial.TrialState.COMPLETE:
                return float(t.value), t.user_attrs.get("best_epoch")
            if t.state == optuna.trial.TrialState.FAIL:
                return math.nan, None
    if not fit:
        return math.nan, None
    try:
        fitted = model.clone().fit(train, valid)
        value = score(fitted, valid)
    except (
        FloatingPointError,
        HyperparameterError,
        RankedByIndexError,
        UnrankableScoresError,
        NotFinitePredictionError,
    ):
        return math.nan, None
    return (value, _stopping_epoch(fitted)) if math.isfinite(value) else (math.nan, None)


def _point_as_given(model: Recommender, distributions: dict) -> dict | None:
    """The template's values of the searched hyperparameters, when every one of them lies
    in its distribution, else None.

    Example:
        >>> import optuna.distributions as D
        >>> from latentrec.models import BiasedMF
        >>> _point_as_given(BiasedMF(), {"n_factors": D.IntDistribution(8, 128, log=True)})
        {'n_factors': 64}
        >>> print(_point_as_given(BiasedMF(), {"n_factors": D.IntDistribution(8, 32)}))
        None
    """
    params = model.get_params()
    point = {name: params[name] for name in distributions}
    if all(_holds(dist, point[name]) for name, dist in distributions.items()):
        return point
    return None


def _holds(dist, value) -> bool:
    """Whether optuna would draw ``value`` from ``dist`` (``"auto"`` and the like: no)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(dist, CategoricalDistribution):
        return any(type(c) is type(value) and c == value for c in dist.choices)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if not (math.isfinite(value) and dist.low <= value <= dist.high):
        return False
    if isinstance(dist, IntDistribution):
        return isinstance(value, numbers.Integral) and (value - dist.low) % dist.step == 0
    if isinstance(dist, FloatDistribution):
        if dist.step is None:
            return True
        steps = (value - dist.low) / dist.step
        return math.isclose(steps, round(steps), abs_tol=1e-9)
    return False


def _same_point(params: dict, point: dict) -> bool:
    return params.keys() == point.keys() and all(
        type(params[n]) is type(point[n]) and params[n] == point[n] for n in point
    )


def _grid(distributions: dict, limit: int) -> list[dict] | None:
    """Every point of the space when each dimension has finitely many values and there
    are at most ``limit`` points, else None.

    Example:
        >>> import optuna.distributions as D
        >>> _grid({"n": D.IntDistribution(2, 6, step=2), "b": D.CategoricalDistribution([0])}, 3)
        [{'n': 2, 'b': 0}, {'n': 4, 'b': 0}, {'n': 6, 'b': 0}]
        >>> _grid({"lr": D.FloatDistribution(0.1, 0.1)}, 5)  # one value: one point
        [{'lr': 0.1}]
        >>> print(_grid({"n": D.IntDistribution(1, 9)}, 5))  # 9 points, 5 trials: sampled
        None
    """
    from optuna.distributions import CategoricalDistribution, IntDistribution

    axes = []
    for dist in distributions.values():
        if isinstance(dist, CategoricalDistribution):
            axes.append(list(dist.choices))
        elif isinstance(dist, IntDistribution):
            axes.append(range(dist.low, dist.high + 1, dist.step))
        elif getattr(dist, "low", None) is not None and dist.low == dist.high:
            axes.append([dist.low])  # a float range of one value
        else:
            return None
    if math.prod(len(axis) for axis in axes) > limit:  # sized before any point is built
        return None
    return [dict(zip(distributions, p, strict=True)) for p in itertools.product(*axes)]


def _run_trial(study, optuna, model, distributions, train, valid, score, pruner) -> int:
    """Run one trial and tell the study how it ended; return its number.  ``score`` is
    :func:`_score` with the metric bound (``score.keywords['name']`` names it)."""
    trial = study.ask(distributions)
    candidate = model.clone().set_params(**trial.params)
    epochs = []

    def report(epoch, train_rmse, valid_rmse):
        epochs.append(epoch)
        if math.isfinite(valid_rmse):
            trial.report(valid_rmse, epoch)  # kept for optuna's intermediate-value plots
            if pruner is not None and trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

    start = time.perf_counter()
    value, state = None, optuna.trial.TrialState.COMPLETE
    try:
        with epoch_listener(report):
            candidate.fit(train, valid)
        stop = _stopping_epoch(candidate)
        if stop is not None:
            trial.set_user_attr("best_epoch", stop)  # what best_model's refit runs to
        value = score(candidate, valid)
    except optuna.TrialPruned:
        state = optuna.trial.TrialState.PRUNED
    except (
        FloatingPointError,
        HyperparameterError,
        UnrankableScoresError,
        NotFinitePredictionError,
    ) as err:
        # The values, not the search, are at fault: other points of the space may fit
        # (scores or predictions NaN or infinite: a fit gone wrong past its checks).
        state = optuna.trial.TrialState.FAIL
        trial.set_user_attr("error", str(err))
    except RankedByIndexError:
        # The evaluation's own advice (a baseline that ranks) is not what a search needs.
        state = optuna.trial.TrialState.FAIL
        trial.set_user_attr(
            "error",
            "the model gave every candidate the same score, so its ranking would be the "
            "items in index order; these values leave it nothing to rank by",
        )
    trial.set_user_attr("epochs", len(epochs))
    trial.set_user_attr("seconds", time.perf_counter() - start)
    if state == optuna.trial.TrialState.COMPLETE and not math.isfinite(value):
        state = optuna.trial.TrialState.FAIL
        trial.set_user_attr("error", f"the validation {score.keywords['name']} is {value}")
    if state == optuna.trial.TrialState.COMPLETE:
        study.tell(trial, value)
    else:
        study.tell(trial, state=state)
    return trial.number


def _score(model, valid: Interactions, *, name: str, k: int | None, relevance_threshold) -> float:
    if name in RATING_METRICS:
        return float(evaluate_ratings(model, valid)[name])
    scores = evaluate_ranking(model, valid, k, relevance_threshold=relevance_threshold)
    return float(scores[name])


def parse_metric(metric) -> tuple[str, str, int | None, str]:
    """``(label, name, k, direction)`` for a metric string such as ``"ndcg@10"``.

    Rating metrics (``rmse``, ``mae``) are minimised, ranking metrics maximised; a
    ranking metric without a cut-off is taken at 10.

    Example:
        >>> parse_metric("NDCG"), parse_metric("rmse")
        (('ndcg@10', 'ndcg', 10, 'maximize'), ('rmse', 'rmse', None, 'minimize'))
    """
    if not isinstance(metric, str):
        raise ValueError(f"metric must be a string such as 'rmse' or 'ndcg@10', got {metric!r}")
    text = metric.strip().lower()
    if text in RATING_METRICS:
        return text, text, None, "minimize"
    name, _, cut = text.partition("@")
    known = [*RATING_METRICS, *(f"{m}@k" for m in RANKING_METRICS)]
    if name not in RANKING_METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {known}")
    if not cut:
        cut = "10"
    if not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"metric {metric!r} needs a positive cut-off, e.g. '{name}@10'")
    return f"{name}@{int(cut)}", name, int(cut), "maximize"


def check_metric(metric, model: Recommender) -> tuple[str, str, int | None, str]:
    """:func:`parse_metric`, refusing a rating metric (RMSE, MAE) for a model that predicts
    no ratings, as :func:`tune` does, before any data is read or anything printed.

    Example:
        >>> from latentrec.models import BPR
        >>> check_metric("ndcg@5", BPR())
        ('ndcg@5', 'ndcg', 5, 'maximize')
        >>> check_metric("rmse", BPR())
        Traceback (most recent call last):
        ...
        ValueError: BPR does not predict ratings, so it cannot be tuned on rmse; ...
    """
    parsed = parse_metric(metric)
    if parsed[1] in RATING_METRICS and not model.predicts_ratings:
        raise ValueError(
            f"{type(model).__name__} does not predict ratings, so it cannot be tuned on "
            f"{parsed[0]}; use a ranking metric such as metric='ndcg@10'"
        )
    return parsed


def check_space(space, model: Recommender) -> None:
    """Refuse a search space :func:`tune` would refuse, naming the entry at fault, before
    any data is read or anything printed.

    Example:
        >>> from latentrec.models import BiasedMF
        >>> check_space({"n_factors": ("int", 8, 64, {"log": True})}, BiasedMF())
        >>> check_space({"n_factors": ("int", "a", 64)}, BiasedMF())
        Traceback (most recent call last):
        ...
        latentrec.evaluation.tuning.SpaceError: space['n_factors'] = ('int', 'a', 64): int takes ...
    """
    _distributions(space, model, _import_optuna())


class SpaceError(ValueError):
    """A search space :func:`tune` cannot honour.  ``name`` is the entry at fault (``None``
    for the space as a whole), ``reason`` what is wrong with it, and ``shows_forms``
    whether the entry is not a distribution at all (the message then lists the forms),
    so that a caller speaking another notation (the command line's JSON) can say it in
    its own.

    Example:
        >>> err = SpaceError("n_factors", ("int", 9, 2), "low 9 is above high 2")
        >>> str(err)
        "space['n_factors'] = ('int', 9, 2): low 9 is above high 2"
        >>> err.name, err.reason, err.shows_forms
        ('n_factors', 'low 9 is above high 2', False)
    """

    FORMS = (
        "('int', low, high), ('float', low, high), either with an optional dict of 'log'/"
        "'step' as fourth item, ('categorical', [choices]) or an optuna distribution"
    )

    def __init__(self, name, spec, reason: str, shows_forms: bool = False):
        self.name, self.spec, self.reason, self.shows_forms = name, spec, reason, shows_forms
        where = "space" if name is None else f"space[{name!r}] = {spec!r}"
        forms = f"; use {self.FORMS}" if shows_forms else ""
        super().__init__(f"{where}: {reason}{forms}")


def _distributions(space, model: Recommender, optuna) -> dict:
    if not isinstance(space, dict) or not space:
        raise SpaceError(
            None,
            space,
            "it must be a non-empty dict of hyperparameter name -> distribution, e.g. "
            "{'n_factors': ('int', 16, 256, {'log': True})}",
        )
    valid = model.param_names()
    unknown = [name for name in space if name not in valid]
    if unknown:
        raise SpaceError(
            unknown[0],
            space[unknown[0]],
            f"{type(model).__name__} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(valid))}",
        )
    distributions = {name: _distribution(name, spec, optuna) for name, spec in space.items()}
    for name, dist in distributions.items():
        _check_reach(model, name, space[name], dist, [n for n in space if n != name])
    return distributions


def _check_reach(model: Recommender, name: str, spec, dist, others: list[str]) -> None:
    """Refuse a range whose end (or a choice) the model refuses, before any trial runs:
    otherwise the search stops with the model's error whenever a trial draws it, maybe
    after hours.  A refusal that names another searched hyperparameter (a rule between
    two of them) is left to the trials, which draw both."""
    values = getattr(dist, "choices", None)
    if values is None:
        values = (dist.low, dist.high)
    for value in values:
        try:
            model.clone().set_params(**{name: value}).check_params()
        except ValueError as err:
            if any(other in str(err) for other in others):
                continue
            raise SpaceError(
                name,
                spec,
                f"it reaches {name}={value!r}, which {type(model).__name__} refuses: {err}",
            ) from None


def _distribution(name: str, spec, optuna):
    dists = optuna.distributions
    if isinstance(spec, dists.BaseDistribution):
        return spec
    if not isinstance(spec, (tuple, list)) or not spec or spec[0] not in _SPEC_KINDS:
        raise SpaceError(name, spec, "it is not a distribution", shows_forms=True)
    kind, args = spec[0], list(spec[1:])
    try:
        if kind == "categorical":
            if len(args) != 1 or not isinstance(args[0], (list, tuple)) or not args[0]:
                raise ValueError("categorical needs one non-empty list of choices")
            seen = []
            for choice in args[0]:
                # A repeated choice is drawn twice as often and tried twice in a grid.
                if any(type(c) is type(choice) and c == choice for c in seen):
                    raise ValueError(f"choice {choice!r} is listed more than once")
                seen.append(choice)
            return dists.CategoricalDistribution(list(args[0]))
        options = args.pop() if len(args) == 3 and isinstance(args[2], dict) else {}
        bounds = [a for a in args if isinstance(a, numbers.Real) and not isinstance(a, bool)]
        if len(args) != 2 or len(bounds) != 2:
            raise ValueError(f"{kind} takes two numbers, low and high")
        if not all(math.isfinite(a) for a in bounds):
            raise ValueError("low and high must be finite numbers")
        if kind == "int" and any(a != int(a) for a in bounds):
            # Truncating 1.5 to 1 would search a range nobody wrote.
            raise ValueError("int takes whole-number bounds")
        bad = sorted(set(options) - set(_SPEC_OPTIONS[kind]))
        if bad:
            names = ", ".join(map(repr, bad))
            raise ValueError(f"unknown option(s) {names}; {kind} takes 'log' and 'step'")
        if "log" in options and not isinstance(options["log"], bool):
            raise ValueError(f"'log' must be true or false, got {options['log']!r}")
        low, high = args
        if low > high:
            # Searched as written it is empty; swapped it may not be what was meant.
            raise ValueError(f"low {low!r} is above high {high!r}")
        if kind == "int":
            return dists.IntDistribution(int(low), int(high), **options)
        return dists.FloatDistribution(float(low), float(high), **options)
    except (TypeError, ValueError) as err:
        # The form is right and a value wrong: the forms would not say which.
        raise SpaceError(name, spec, str(err)) from None


def _pruner(prune, rating_metric: bool, optuna):
    if isinstance(prune, optuna.pruners.BasePruner):
        if not rating_metric:
            raise ValueError(
                "pruning compares per-epoch validation RMSE, so it needs metric='rmse' or "
                "'mae'; pass prune=False with a ranking metric"
            )
        return prune
    if prune is True:
        # The first epochs say more about how fast a learning rate moves than about where
        # it ends up (a fast one first overfits the biases), so they never prune.
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
        return pruner if rating_metric else None
    if prune is False or prune is None:
        return None
    raise ValueError(f"prune must be True, False or an optuna pruner, got {prune!r}")


@contextmanager
def _quiet(optuna):
    # optuna logs every trial at INFO; tune prints its own lines when verbose.
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def _trials_frame(study, optuna, metric: str, names: list[str], cut_short=()) -> pd.DataFrame:
    ended = {optuna.trial.TrialState[s] for s in ("COMPLETE", "PRUNED", "FAIL")}
    rows, stopped_early = [], False
    for t in study.trials:
        if t.state not in ended or t.number in cut_short:
            continue  # a grid's points a timeout left waiting; the trial Ctrl-C cut short
        state = t.state.name.lower()
        row = {
            "trial": t.number,
            "state": state,
            metric: float(t.value) if state == "complete" else np.nan,
        }
        row.update({name: t.params.get(name) for name in names})
        row["epochs"] = int(t.user_attrs.get("epochs", 0))
        row["best_epoch"] = t.user_attrs.get("best_epoch")
        stopped_early = stopped_early or row["best_epoch"] is not None
        row["seconds"] = float(t.user_attrs.get("seconds", np.nan))
        row["error"] = t.user_attrs.get("error")
        rows.append(row)
    columns = ["trial", "state", metric, *names, "epochs", "best_epoch", "seconds", "error"]
    frame = pd.DataFrame(rows, columns=columns)
    if stopped_early:
        frame["best_epoch"] = frame["best_epoch"].astype("Int64")
    else:
        frame = frame.drop(columns="best_epoch")  # no early stopping: nothing to say
    return frame


def _print_trial(t, number: int, n_trials: int, metric: str) -> None:
    params = ", ".join(f"{k}={_short(v)}" for k, v in t.params.items())
    state = t.state.name.lower()
    if state == "complete":
        outcome = f"{metric}={t.value:.4f}"
    elif state == "pruned":
        outcome = f"pruned at epoch {t.user_attrs.get('epochs')}"
    else:
        outcome = f"failed: {t.user_attrs.get('error')}"
    print(f"  trial {number + 1}/{n_trials}: {outcome} ({params})", flush=True)
