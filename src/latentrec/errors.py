"""Error types shared across layers (a leaf: it imports nothing from latentrec).

Data errors (``DataError``, ``UnknownIdError``) live with the data layer that raises them;
these are the ones raised by models and model files.
"""

from __future__ import annotations


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


class CannotRankError(ValueError):
    """A ranked list refused because the model's scores cannot order items: every item
    gets the same score for a user (``GlobalMean``: μ everywhere), so the list would be
    the items in index order, looking personal while saying nothing.

    Raised by ``recommend``, ``recommend_batch``, ``recommend_all`` and ``onboard`` when a
    user would get such a list; a user the model gives the popularity fallback
    (``fallback=True``) is not refused.  A ``ValueError``, as the ranking evaluation's
    refusal of the same model is.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import GlobalMean
        >>> model = GlobalMean().fit(Interactions.from_dense(np.array([[5, 3, 0]])))
        >>> try:
        ...     model.recommend(0, n=2)
        ... except CannotRankError as err:
        ...     print(isinstance(err, ValueError), str(err)[:42])
        True GlobalMean gives every item the same score
    """

    @classmethod
    def of(cls, model) -> CannotRankError:
        """The refusal for ``model``, in the words of ``latentrec evaluate``'s refusal of
        ``-a global-mean`` for ranking.

        Example:
            >>> str(CannotRankError.of(object()))[:38]
            'object gives every item the same score'
        """
        return cls(
            f"{type(model).__name__} gives every item the same score for a user (no item "
            "bias or factor tells items apart), so its ranked list would be the items in "
            "index order, not a recommendation; for a list that ranks without "
            "personalising, use Popularity, or Biases to rank by item bias"
        )
