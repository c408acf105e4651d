"""The recommender contract: estimator rules, the fit template, fitted state, top-k.

:class:`Recommender` is what every model shares.  Hyperparameters are set in
``__init__`` and checked in ``fit`` (the scikit-learn contract).  ``fit`` runs the
algorithm's ``_fit`` and then freezes what it learned, together with the training data's
:class:`~latentrec.models.catalog.Catalog`, into one
:class:`~latentrec.models.catalog.Fitted` that the model references.  Every read
(``predict``, ``recommend``, ...) works on one snapshot of that reference, and every
update builds a new ``Fitted`` and swaps the reference, so a reader in another thread
sees the old model or the new one, never a mix.

Algorithms add ``_fit`` and a scoring primitive (``_score_block``, ``_predict_idx``);
ranking with seen-item exclusion and popularity fallback, batch forms and the index-level
API are written once here.  Factor models build on :class:`~latentrec.models.factor.FactorModel`.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from ..data.interactions import Interactions
from ..data.vocabulary import UnknownIdError
from ..errors import HyperparameterError, NotFittedError, PredictsNoRatingsError
from ..registry import register
from . import persistence
from ._training import MAX_COUNT, check_bool, check_fit_memory, check_verbose
from .catalog import Catalog, Fitted
from .inputs import as_interactions, check_has_ratings, count_shared_cells
from .ranking import Ranking, check_n, id_array, index_array, reads_fitted

__all__ = [
    "NotFittedError",
    "PredictsNoRatingsError",
    "Recommender",
    "check_has_ratings",
    "check_n",
    "index_array",
    "reads_fitted",
]

# What predict's UnknownIdError adds: the way to a prediction for an id the model lacks.
BASELINE_HINT = "pass unknown='baseline' to predict from the known parts"

# Attributes that read the catalogue, under the names models have always had.
CATALOG_ATTRIBUTES = {
    "users_": "users",
    "items_": "items",
    "seen_": "seen",
    "item_popularity_": "item_popularity",
    "item_titles_": "item_titles",
    "rating_scale_": "rating_scale",
    "rating_mean_": "rating_mean",
    "rating_range_": "rating_range",
    "data_fingerprint_": "fingerprint",
}


class Recommender(Ranking):
    """Base estimator: hyperparameters in ``__init__``, learned state after ``fit``.

    Subclasses implement ``_fit(data, validation)``, which sets learned attributes (names
    ending in ``_``), and ``_score_block(user_idx)``; they list the learned arrays a
    model cannot do without in ``_array_state`` and scalars in ``_scalar_state``.
    Subclasses register themselves by name (:mod:`latentrec.registry`).

    Example:
        >>> from latentrec.models import BiasedMF, Recommender
        >>> issubclass(BiasedMF, Recommender)
        True
        >>> BiasedMF.param_names()[:3]
        ['n_factors', 'n_epochs', 'learning_rate']
    """

    _array_state: tuple[str, ...] = ()
    _scalar_state: tuple[str, ...] = ()
    #: The hyperparameters that size a fit's arrays, named when they would not fit in
    #: memory (see :meth:`_fit_bytes`).
    _size_params: tuple[str, ...] = ()
    predicts_ratings = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)

    # ----------------------------------------------------------- estimator contract
    @classmethod
    def param_names(cls) -> list[str]:
        """The hyperparameter names ``__init__`` takes, in order.

        Example:
            >>> from latentrec.models import Biases
            >>> Biases.param_names()
            ['regularization', 'user_regularization', 'n_epochs']
        """
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict:
        """Hyperparameters as given to ``__init__``.

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF(n_factors=8).get_params()["n_factors"]
            8
        """
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params) -> Recommender:
        """Change hyperparameters; unknown names are an error.

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF().set_params(n_epochs=3).n_epochs
            3
        """
        valid = set(self.param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no hyperparameter {name!r}; valid: {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def clone(self) -> Recommender:
        """An unfitted copy with the same hyperparameters.

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF(n_factors=4).clone().n_factors
            4
        """
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        shown = [
            f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k, object()) != v
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    # ----------------------------------------------------------- fitted state
    def __getattr__(self, name: str):
        # Called only when normal lookup fails: learned attributes and the catalogue live
        # in the one Fitted object (during _fit, in the one being built).
        if name.startswith("__") or not name.endswith("_"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        d = self.__dict__
        fitted = d.get("_fitting") or d.get("_fitted")
        if fitted is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(interactions) first "
                f"(no attribute {name!r})"
            )
        field = CATALOG_ATTRIBUTES.get(name)
        if field is not None:
            return getattr(fitted.catalog, field)
        try:
            return fitted.state[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}"
            ) from None

    def __setattr__(self, name: str, value) -> None:
        # Learned attributes (public names ending in "_") exist only inside the one
        # Fitted: set outside fit, they would be neither seen consistently nor saved.
        d = self.__dict__
        learned = name.endswith("_") and not name.startswith("_")
        if learned and d.get("_fitted") is not None and "_fitting" not in d:
            raise AttributeError(
                f"{name} of a fitted model cannot be set: fitted state is swapped whole "
                "(fit, partial_fit_users, partial_fit_items, from_factors, record_metrics)"
            )
        object.__setattr__(self, name, value)

    def record_metrics(self, **metrics) -> Recommender:
        """Attach evaluation figures to the fitted model (saved in its file's manifest).

        The figures are merged into ``metrics_`` in a new fitted state.  Returns ``self``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> model = Biases().fit(Interactions.from_dense(np.array([[5, 3], [4, 1]])))
            >>> model.record_metrics(rmse=0.91).metrics_
            {'rmse': 0.91}
        """
        fitted = self.fitted_
        merged = {**fitted.state.get("metrics_", {}), **metrics}
        self._swap(fitted.evolve(metrics_=merged))
        return self

    @property
    def catalog_(self) -> Catalog:
        """The frozen catalogue: id maps, seen items, popularity, titles."""
        return self.fitted_.catalog

    @property
    def fitted_(self) -> Fitted:
        """The whole fitted state (catalogue and learned values), one frozen object."""
        fitted = self.__dict__.get("_fitted")
        if fitted is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(interactions) first"
            )
        return fitted

    @property
    def is_fitted(self) -> bool:
        """Whether the model has fitted state.

        Example:
            >>> from latentrec.models import Biases
            >>> Biases().is_fitted
            False
        """
        return self.__dict__.get("_fitted") is not None

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless the model is fitted.

        Example:
            >>> from latentrec.models import Biases
            >>> try:
            ...     Biases().check_fitted()
            ... except NotFittedError:
            ...     print("not fitted")
            not fitted
        """
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(interactions) first"
            )

    def pinned(self) -> Recommender:
        """A read-only view of this model fixed to its current fitted state.

        The view shares everything (hyperparameters, arrays) but its ``Fitted``
        reference never changes: use it for several reads that must agree while
        another thread may update the model.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> model = Biases().fit(Interactions.from_dense(np.array([[5, 3]])))
            >>> model.pinned().fitted_ is model.fitted_
            True
        """
        view = object.__new__(type(self))
        fitted = self.__dict__.get("_fitted")
        # Hyperparameters and helpers only: learned values come from the one Fitted.
        view.__dict__.update(
            (k, v)
            for k, v in list(self.__dict__.items())
            if not k.endswith("_") and k not in ("_fitting", "_fitted")
        )
        view.__dict__["_fitted"] = fitted
        view.__dict__["_pinned"] = True
        return view

    @classmethod
    def from_fitted(cls, fitted: Fitted, **params) -> Recommender:
        """A fitted model from hyperparameters and a fitted state built elsewhere.

        Used by model files, :meth:`FactorModel.from_factors` and the Spark engine; the
        state must hold every array the class needs (``_array_state``).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import GlobalMean
            >>> m = GlobalMean().fit(Interactions.from_dense(np.eye(2) + 1))
            >>> GlobalMean.from_fitted(m.fitted_).predict([0], [0]).tolist()
            [1.5]
        """
        if not isinstance(fitted, Fitted):
            raise TypeError(f"from_fitted needs a Fitted, got {type(fitted).__name__}")
        missing = [n for n in (*cls._array_state, *cls._scalar_state) if n not in fitted.state]
        if missing:
            raise ValueError(f"{cls.__name__} needs learned values {missing} in the state")
        model = cls(**params)
        model._fitted = fitted
        return model

    def _swap(self, fitted: Fitted) -> None:
        """Publish a new fitted state: one reference replaced, readers see old or new."""
        object.__setattr__(self, "_fitted", fitted)

    # ----------------------------------------------------------- fitting
    def fit(self, data: Interactions, validation: Interactions | None = None) -> Recommender:
        """Learn from ``data``; ``validation`` (same vocabularies) is used where supported.

        ``validation`` must be held out: a cell also in ``data`` is refused with a
        ``ValueError`` (its error would be the training error, and early stopping would
        follow the fit).

        ``data`` is an :class:`~latentrec.Interactions`, or a matrix that becomes one
        (:func:`as_interactions`: a scipy.sparse matrix, or a dense array where 0 marks
        a blank).  Returns ``self``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Biases
            >>> Biases().fit(Interactions.from_dense(np.array([[5, 1], [4, 0]]))).is_fitted
            True
        """
        data = as_interactions(data, "fit")
        if data.nnz == 0:
            raise ValueError("cannot fit on empty interactions")
        if self.predicts_ratings:
            check_has_ratings(type(self).__name__, data)
        if validation is not None:
            validation = as_interactions(validation, "validation")
            if validation.users != data.users or validation.items != data.items:
                raise ValueError(
                    "validation data must share the training vocabularies; build both from "
                    "one Interactions with a splitter (latentrec.data.splits)"
                )
            shared = count_shared_cells(validation.matrix, data.matrix)
            if shared:
                # Its error would be (partly) the training error: the validation curve,
                # early stopping and the best epoch would all follow the fit itself.
                raise ValueError(
                    f"validation shares {shared} of its {validation.nnz} cells with the "
                    "training data; pass held-out cells: split one Interactions with "
                    "latentrec.data.splits and fit on the other part"
                )
        self._check_params()
        _check_shared_params(self)
        _check_epochs_end(self, validation)
        need = self._fit_bytes(data.n_users, data.n_items, data.nnz)
        if need:
            check_fit_memory(self, self._size_params, need, data.n_users, data.n_items)
        self.__dict__["_fitting"] = Fitted.build(Catalog.from_interactions(data), {})
        try:
            self._fit(data, validation)
            learned = self._take_learned()
            self._swap(Fitted.build(self.__dict__["_fitting"].catalog, learned))
        except BaseException as err:
            # A fit stopped part-way (divergence, a pruned tuning trial, Ctrl-C) leaves a
            # model that is not fitted, never one with part of its learned state.
            self._take_learned()
            self.__dict__.pop("_fitted", None)
            hint = _divergence_hint(self) if isinstance(err, FloatingPointError) else ""
            if hint:
                raise FloatingPointError(f"{err}; {hint}") from None
            raise
        finally:
            self.__dict__.pop("_fitting", None)
        return self

    def _take_learned(self) -> dict[str, Any]:
        """Remove the learned attributes ``_fit`` set on the instance and return them."""
        params = set(self.param_names())
        names = [k for k in self.__dict__ if k.endswith("_") and not k.startswith("_")]
        return {k: self.__dict__.pop(k) for k in names if k not in params}

    def check_params(self):
        """Check the hyperparameters now and return the model: ``fit`` checks them too,
        but a caller about to load data or print a plan can refuse a bad value first.

        Example:
            >>> from latentrec.models import BiasedMF
            >>> BiasedMF(n_factors=0).check_params()
            Traceback (most recent call last):
            ValueError: n_factors must be an integer >= 1, got 0
        """
        self._check_params()
        _check_shared_params(self)
        return self

    def _check_params(self) -> None:
        """Validate hyperparameters (called by ``fit``, never by ``__init__``)."""

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Bytes ``_fit`` allocates at least on a table of this shape (and ``nnz`` stored
        cells) with these
        hyperparameters (the learned arrays and the algorithm's work space: a lower
        bound of its peak), or 0 where no hyperparameter sizes them.  ``fit`` refuses,
        naming :attr:`_size_params`, a fit that needs more than the memory available.

        Example:
            >>> from latentrec.models import Biases
            >>> Biases()._fit_bytes(1000, 500, 2000)
            0
        """
        return 0

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------- scoring primitives
    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores of every item for each user index (float32, shape (len, n_items))."""
        raise NotImplementedError

    def _predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _can_personalise(self, user_idx: np.ndarray) -> np.ndarray:
        """Which of these (known) users get personal scores rather than popularity.

        By default those with training history; models that can place a user without
        history (content features) override it.
        """
        return np.diff(self.seen_.indptr)[user_idx] > 0

    def _popularity_scores(self) -> np.ndarray:
        return self.item_popularity_

    def _fallback_scores(self, item_idx: np.ndarray) -> np.ndarray:
        """Scores shown for popularity-fallback items (see :meth:`recommend`).

        A rating model gives what it predicts for a user it does not know, μ + b_i (the
        ``unknown="baseline"`` prediction: the training mean for a model without μ), so
        the column stays in rating units; a model
        that predicts no ratings has no score for such a user and gives NaN.
        """
        if not self.predicts_ratings:
            return np.full(item_idx.shape, np.nan, dtype=np.float32)
        unknown_user = np.full(item_idx.shape, -1, dtype=np.int64)
        return np.asarray(self._predict_idx(unknown_user, item_idx), dtype=np.float32)

    # ----------------------------------------------------------- index-level API
    @reads_fitted
    def predict_idx(self, user_idx, item_idx) -> np.ndarray:
        """Predictions for aligned arrays of internal indices (-1: unknown, baseline part).

        The index-level form of :meth:`predict` for evaluation, serving and Spark: no
        id lookups, no clipping.  An index of -1 contributes nothing of its side (the
        prediction falls back to μ and the known bias).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import GlobalMean
            >>> model = GlobalMean().fit(Interactions.from_dense(np.array([[5, 3]])))
            >>> model.predict_idx([0, -1], [1, 0]).tolist()
            [4.0, 4.0]
        """
        self.check_fitted()
        u = index_array(user_idx, self.n_users, "user_idx", allow_unknown=True)
        i = index_array(item_idx, self.n_items, "item_idx", allow_unknown=True)
        if u.shape != i.shape:
            raise ValueError(f"user_idx and item_idx differ in length: {u.size} and {i.size}")
        return np.asarray(self._predict_idx(u, i), dtype=np.float64)

    @reads_fitted
    def score_users(self, user_idx) -> np.ndarray:
        """The model's score of every item for each user index: float32 (len, n_items).

        Dense, so use it for small batches (a re-ranker's input, a service request);
        :meth:`recommend_batch_idx` ranks any number of users in bounded memory.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> model = Popularity().fit(Interactions.from_dense(np.array([[1, 0], [1, 1]])))
            >>> model.score_users([0]).tolist()
            [[2.0, 1.0]]
        """
        self.check_fitted()
        u = index_array(user_idx, self.n_users, "user_idx")
        return np.asarray(self._score_block(u), dtype=np.float32)

    # ----------------------------------------------------------- public operations
    @property
    def n_users(self) -> int:
        """Number of users the model knows."""
        return self.fitted_.catalog.n_users

    @property
    def n_items(self) -> int:
        """Number of items the model knows."""
        return self.fitted_.catalog.n_items

    @reads_fitted
    def predict(self, user_ids, item_ids, *, clip: bool = False, unknown: str = "error"):
        """Predicted ratings for aligned arrays of raw user and item ids.

        A model that predicts no ratings (``predicts_ratings`` false) raises
        :class:`PredictsNoRatingsError`, both a ``TypeError`` and a ``ValueError``.

        Args:
            clip: clip to the training data's rating scale.
            unknown: ``"error"`` raises :class:`UnknownIdError` naming unknown ids (and
                this option); ``"baseline"`` predicts from the parts that are known (μ and
                the known bias), as Surprise does when a prediction is impossible.  A
                model without μ in its formula (unbiased MF, NMF) predicts the mean of
                its training ratings, as Surprise does; never 0.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import GlobalMean
            >>> model = GlobalMean().fit(Interactions.from_dense(np.array([[5, 3]])))
            >>> model.predict([0, 0], [0, 1]).tolist()
            [4.0, 4.0]
            >>> model.predict([0], [99], unknown="baseline").tolist()
            [4.0]
        """
        self.check_fitted()
        if not self.predicts_ratings:
            raise PredictsNoRatingsError(
                f"{type(self).__name__} ranks items but does not predict ratings; use "
                "recommend or score_users for its scores (evaluate_ranking to evaluate it), "
                "or Biases or a factor model for rating predictions"
            )
        if unknown not in ("error", "baseline"):
            raise ValueError(f"unknown must be 'error' or 'baseline', got {unknown!r}")
        u_ids = id_array(user_ids)
        i_ids = id_array(item_ids)
        if u_ids.shape != i_ids.shape or u_ids.ndim != 1:
            raise ValueError(
                f"user_ids and item_ids must be 1-D and of equal length, got shapes "
                f"{u_ids.shape} and {i_ids.shape}"
            )
        u = self.users_.lookup(u_ids)
        i = self.items_.lookup(i_ids)
        if unknown == "error":
            if (u < 0).any():
                raise UnknownIdError("user", pd.unique(u_ids[u < 0]).tolist(), BASELINE_HINT)
            if (i < 0).any():
                raise UnknownIdError("item", pd.unique(i_ids[i < 0]).tolist(), BASELINE_HINT)
        out = self._predict_idx(u, i).astype(np.float64)
        if clip:
            if self.rating_scale_ is None:
                raise ValueError("clip=True needs a rating scale; the training data declared none")
            np.clip(out, *self.rating_scale_, out=out)
        return out

    # ----------------------------------------------------------- persistence
    @reads_fitted
    def save(self, path) -> None:
        """Write the fitted model to ``path`` (.npz arrays + JSON manifest, no pickle).

        Example:
            >>> import numpy as np, tempfile, os, latentrec
            >>> from latentrec.models import Biases
            >>> model = Biases().fit(latentrec.Interactions.from_dense(np.eye(3) + 1))
            >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
            >>> model.save(path)
            >>> type(latentrec.load(path)).__name__
            'Biases'
        """
        persistence.save_model(self, path)


def _divergence_hint(model) -> str:
    """What in ``model``'s hyperparameters, beyond the learning rate, can make a fit
    diverge, said where it applies (else ""): the generic advice to lower
    ``learning_rate`` or raise ``regularization`` would mislead for these.

    Example:
        >>> from latentrec.models import BiasedMF
        >>> _divergence_hint(BiasedMF())
        ''
        >>> _divergence_hint(BiasedMF(init_std=1000.0))
        'init_std=1000.0 starts the factors far from 0 (the defaults are 0.1 or less): lower it'
    """
    params = model.get_params()
    hints = []
    std = params.get("init_std")
    if _is_number(std) and std > 1:
        hints.append(
            f"init_std={std!r} starts the factors far from 0 (the defaults are 0.1 or less): "
            "lower it"
        )
    rate, penalty = params.get("learning_rate"), params.get("regularization")
    if _is_number(rate) and _is_number(penalty) and rate * penalty > 2:
        # An SGD step scales each factor by (1 - rate * penalty): past 2 in size, it grows.
        hints.append(
            f"learning_rate x regularization = {rate * penalty:g} makes every step overshoot "
            "(above 2 the factors grow each step): keep the product below 1"
        )
    return "; ".join(hints)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _check_shared_params(model) -> None:
    """The checks of the hyperparameters many models share: ``random_state``, ``verbose``
    and every flag (a hyperparameter whose default is True or False, which must stay a
    bool: ``"false"`` or 2**70 read as a truth value would mean True), so that a model
    that adds one is checked without writing it again.

    Example:
        >>> from latentrec.models import BiasedMF
        >>> try:
        ...     _check_shared_params(BiasedMF(verbose="yes"))
        ... except ValueError as err:
        ...     print(str(err).split(" (")[0])
        verbose must be None
    """
    _check_random_state(model)
    if "verbose" in model.param_names():
        check_verbose(model.verbose)
    for p in inspect.signature(type(model).__init__).parameters.values():
        if isinstance(p.default, bool):
            check_bool(p.name, getattr(model, p.name))


def _check_epochs_end(model, validation) -> None:
    """Refuse an ``n_epochs`` over :data:`MAX_COUNT` (allowed with ``patience``: "until
    validation stops improving") when the fit has no validation data: patience is then
    never consulted, and the fit would run that many epochs, practically forever
    (a :class:`~latentrec.errors.HyperparameterError`, so a ValueError).

    Example:
        >>> import sys
        >>> from latentrec.models import BiasedMF
        >>> try:
        ...     _check_epochs_end(BiasedMF(n_epochs=sys.maxsize, patience=3), None)
        ... except ValueError as err:
        ...     print(str(err)[:62])
        n_epochs=9223372036854775807 ends only by patience, and patien
    """
    names = model.param_names()
    if "n_epochs" not in names or "patience" not in names:
        return
    n_epochs = model.n_epochs
    if n_epochs > MAX_COUNT and (validation is None or validation.nnz == 0):
        raise HyperparameterError(
            f"n_epochs={n_epochs!r} ends only by patience, and patience needs validation "
            "data, which this fit was not given: pass validation to fit (held-out cells) "
            f"or an n_epochs of at most {MAX_COUNT}"
        )


def _check_random_state(model) -> None:
    """Refuse a ``random_state`` that ``numpy.random.default_rng`` cannot seed, naming
    the hyperparameter (NumPy speaks of "SeedSequence" and "entropy").

    Example:
        >>> from latentrec.models import BiasedMF
        >>> _check_random_state(BiasedMF(random_state=7))
        >>> try:
        ...     _check_random_state(BiasedMF(random_state="seven"))
        ... except ValueError as err:
        ...     print(str(err).split(",")[-1])
         got 'seven'
    """
    if "random_state" not in model.param_names():
        return
    value = model.random_state
    if isinstance(value, (bool, np.bool_)):
        ok = False
    else:
        try:
            np.random.default_rng(value)
            ok = True
        except (TypeError, ValueError):
            ok = False
    if not ok:
        raise ValueError(
            "random_state must be None, a non-negative integer or a numpy.random.Generator, "
            f"got {value!r}"
        )
