"""latentrec: matrix-factorization recommenders, from a notebook to a running service.

The subpackages a notebook reaches for are attributes of the package, so
``import latentrec`` is enough: ``latentrec.datasets`` (MovieLens, synthetic data) and
``latentrec.models``.

Example:
    >>> import numpy as np, latentrec
    >>> data = latentrec.Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1]]))
    >>> model = latentrec.models.Biases().fit(data)
    >>> model.predict([0], [2]).shape
    (1,)
    >>> latentrec.datasets.synthetic(10, 5, 20, random_state=0).shape
    (10, 5)
"""

from . import datasets, models
from ._version import __version__
from .data import DataError, Interactions, LoadReport, UnknownIdError, Vocabulary
from .errors import ModelFileError, NotFittedError
from .models.persistence import load

__all__ = [
    "DataError",
    "Interactions",
    "LoadReport",
    "ModelFileError",
    "NotFittedError",
    "UnknownIdError",
    "Vocabulary",
    "__version__",
    "datasets",
    "load",
    "models",
]
