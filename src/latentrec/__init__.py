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
from .errors import ModelFileError, NotFittedError, PredictsNoRatingsError
from .io.modelfile import read_manifest as _read_manifest
from .models.persistence import load as _load_model


def load(path):
    """Open a model file: a fitted model, or a pipeline written by ``Pipeline.save``.

    The file's manifest says which; every array's digest is checked. The pipeline
    package (and its LightGBM) is imported only when the file holds a pipeline.

    Example:
        >>> import os, tempfile, numpy as np, latentrec
        >>> from latentrec.models import Popularity
        >>> from latentrec.pipeline import Pipeline
        >>> data = latentrec.Interactions.from_dense(np.eye(3) + np.eye(3, k=1))
        >>> folder = tempfile.mkdtemp()
        >>> Popularity().fit(data).save(os.path.join(folder, "model.npz"))
        >>> Pipeline(Popularity(), n_candidates=2).fit(data).save(os.path.join(folder, "p.npz"))
        >>> type(load(os.path.join(folder, "model.npz"))).__name__
        'Popularity'
        >>> type(load(os.path.join(folder, "p.npz"))).__name__
        'Pipeline'
    """
    if _read_manifest(path).get("algorithm") == "Pipeline":
        # Imported here: the pipeline sits above the models, and most files are models.
        from .pipeline import load_pipeline

        return load_pipeline(path)
    return _load_model(path)


__all__ = [
    "DataError",
    "Interactions",
    "LoadReport",
    "ModelFileError",
    "NotFittedError",
    "PredictsNoRatingsError",
    "UnknownIdError",
    "Vocabulary",
    "__version__",
    "datasets",
    "load",
    "models",
]
