"""Error types shared across layers (a leaf: it imports nothing from latentrec).

Data errors (``DataError``, ``UnknownIdError``) live with the data layer that raises them;
these are the ones raised by models and model files, and :class:`MissingExtraError`, with
:func:`needs_extra`, for a module of an optional extra that is not installed.
"""

from __future__ import annotations

import contextlib


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit`` (both a ``ValueError`` and an ``AttributeError``).

    Example:
        >>> from latentrec.models import Biases
        >>> try:
        ...     Biases().predict([1], [2])
        ... except NotFittedError as err:
        ...     print("fit" in str(err))
        True
    """


class PredictsNoRatingsError(TypeError, ValueError):
    """``predict`` on a model that ranks but predicts no ratings (``predicts_ratings``
    false: Popularity, BPR, WARP, ImplicitALS, HybridMF on clicks).

    Both a ``TypeError`` (what ``predict`` has always raised: the model is of the wrong
    kind) and a ``ValueError`` (what the rating evaluation raises for the same model), so
    either ``except`` catches it, as :class:`NotFittedError` is both of its kinds.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> model = Popularity().fit(Interactions.from_dense(np.array([[1, 0], [1, 1]])))
        >>> try:
        ...     model.predict([0], [1])
        ... except ValueError as err:
        ...     print(isinstance(err, TypeError), "does not predict ratings" in str(err))
        True True
    """


class ModelFileError(ValueError):
    """A model file that is missing, truncated, tampered with or of an unknown format.

    Example:
        >>> import latentrec, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "junk.npz")
        >>> _ = open(path, "wb").write(b"not a model")
        >>> try:
        ...     latentrec.load(path)
        ... except ModelFileError as err:
        ...     print("not a latentrec model file" in str(err))
        True
    """


class HyperparameterError(ValueError):
    """Hyperparameter values that are valid in themselves but that ``fit`` refuses for the
    data it was given: arrays that would not fit in memory (``n_factors`` and the other
    sizes), an ImplicitALS ``alpha`` whose confidences the conjugate-gradient solver
    cannot compute, an ``n_epochs`` that only patience could end with no validation data,
    a HybridMF ``min_rating`` above every training value.

    A ``ValueError``, as every refusal of a value is; its own class so that a search over
    hyperparameters (:func:`latentrec.evaluation.tune`) can record such a trial as failed
    and go on, as it does for a fit that diverges, where any other error stops it.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import ImplicitALS
        >>> data = Interactions.from_dense(np.array([[1, 0], [1, 1]]))
        >>> try:
        ...     ImplicitALS(alpha=1e12, solver="cg").fit(data)
        ... except HyperparameterError as err:
        ...     print(isinstance(err, ValueError), str(err)[:21])
        True alpha=1000000000000.0
    """


class MissingExtraError(ModuleNotFoundError):
    """A module of one of latentrec's optional extras is not installed; the message names
    the extra and the ``pip install`` that brings it.

    A ``ModuleNotFoundError`` whose ``name`` is the module that could not be imported
    (``"pyspark"``, or ``"py4j"`` in a half-installed pyspark), so code that catches a
    missing module, and reads which from ``name``, catches this one the same way;
    ``extra`` is the extra's name in ``pyproject.toml``.

    Example:
        >>> err = MissingExtraError("pyspark", "spark", "latentrec.spark.fit_als")
        >>> print(str(err).replace("; ", ";\\n"))
        latentrec.spark.fit_als needs pyspark, which is not installed;
        install the 'spark' extra: pip install 'latentrec[spark]'
        >>> isinstance(err, ImportError), err.name, err.extra
        (True, 'pyspark', 'spark')
    """

    def __init__(self, name: str, extra: str, needed_by: str, hint: str | None = None):
        self.extra = extra
        message = (
            f"{needed_by} needs {name}, which is not installed; install the '{extra}' "
            f"extra: pip install 'latentrec[{extra}]'"
        )
        super().__init__(message + (f" ({hint})" if hint else ""), name=name)

    def __reduce__(self):
        # ModuleNotFoundError pickles as (message,), which this __init__ cannot take back.
        return (_rebuilt, (type(self), str(self), self.name, self.extra))


def _rebuilt(cls, message: str, name: str, extra: str) -> MissingExtraError:
    err = ModuleNotFoundError.__new__(cls)
    ModuleNotFoundError.__init__(err, message, name=name)
    err.extra = extra
    return err


@contextlib.contextmanager
def needs_extra(extra: str, needed_by: str, hint: str | None = None):
    """A block whose imports belong to the optional ``extra``: a module it cannot find
    is raised as :class:`MissingExtraError` naming the extra, in place of Python's bare
    "No module named ...".

    ``needed_by`` says what needs it (a function, a module); ``hint`` an alternative,
    added in parentheses.  A missing module of latentrec's own is a bug, not a missing
    extra, and passes unchanged, as does any other ``ImportError`` (a module that is
    there but fails to import says so itself).

    Example:
        >>> import sys
        >>> sys.modules["latentrec_absent_extra"] = None  # what an uninstalled one does
        >>> try:
        ...     with needs_extra("spark", "spark_session"):
        ...         import latentrec_absent_extra
        ... except ModuleNotFoundError as err:
        ...     print(err.name, str(err).endswith("pip install 'latentrec[spark]'"))
        latentrec_absent_extra True
        >>> del sys.modules["latentrec_absent_extra"]
    """
    try:
        yield
    except MissingExtraError:
        raise  # named already, by an inner block (the store's, inside the service's)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if not missing or missing.split(".")[0] == "latentrec":
            raise
        raise MissingExtraError(missing, extra, needed_by, hint) from None


class CannotRankError(ValueError):
    """A ranked list refused because the model's scores cannot order items: every item
    gets the same score for a user (``GlobalMean``: μ everywhere), so the list would be
    the items in index order, looking personal while saying nothing.

    Raised by ``recommend``, ``recommend_batch``, ``recommend_all`` and ``onboard`` when a
    user would get such a list; a user the model gives the popularity fallback
    (``fallback=True``), or one left a single candidate (nothing to order), is not
    refused.  A ``ValueError``, as the ranking evaluation's
    refusal of the same model is.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import GlobalMean
        >>> model = GlobalMean().fit(Interactions.from_dense(np.array([[5, 3, 0, 0]])))
        >>> try:
        ...     model.recommend(0, n=2)
        ... except CannotRankError as err:
        ...     print(isinstance(err, ValueError), str(err)[:42])
        True GlobalMean gives every item the same score
    """

    @classmethod
    def of(cls, model) -> CannotRankError:
        """The refusal for ``model``, in the words of ``latentrec evaluate``'s refusal of
        ``-a global-mean`` for ranking; the models it points to never include the
        model's own kind (a ``Biases`` whose item biases all came out 0 is not told to
        use ``Biases``).

        Example:
            >>> str(CannotRankError.of(object()))[:38]
            'object gives every item the same score'
            >>> class Biases: ...
            >>> str(CannotRankError.of(Biases())).split("; ")[-1]
            'use Popularity for a list that ranks without personalising'
        """
        name = type(model).__name__
        others = [
            f"{kind} {why}"
            for kind, why in (
                ("Popularity", "for a list that ranks without personalising"),
                ("Biases", "to rank by item bias"),
            )
            if kind != name
        ]
        return cls(
            f"{name} gives every item the same score for a user (no item bias or factor "
            "tells items apart), so its ranked list would be the items in index order, "
            f"not a recommendation; use {', or '.join(others)}"
        )


class CannotServeError(ValueError):
    """A model the service cannot serve for what it is, not for what its file holds: one
    without fold-in (``Popularity``, ``ItemKNN``), which cannot take a live rating into a
    user's list, or a pipeline with no factor model among its candidates.

    Raised by the service when it loads such a model, and given by
    ``latentrec.service.versions.cannot_serve`` so that ``models publish`` and a retrain
    refuse to make current what every worker would refuse.  A ``ValueError``, as
    :class:`CannotRankError` (the other reason a model is not served) is.

    Example:
        >>> err = CannotServeError("the service needs a factor model, got Popularity")
        >>> isinstance(err, ValueError)
        True
    """
