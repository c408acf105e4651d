"""latentrec: matrix-factorization recommenders, from a notebook to a running service.

The subpackages a notebook reaches for are attributes of the package, so
``import latentrec`` is enough: ``latentrec.datasets`` (MovieLens, synthetic data) and
``latentrec.models``.

They load on first use, not at ``import latentrec``: the ``latentrec`` command imports
this package before it can catch a Ctrl-C, so what loads here (numpy, pandas, scipy and
numba: most of a second) would print a traceback when interrupted; the command loads them
where a Ctrl-C prints ``Aborted!`` (``latentrec/cli/launcher.py``).  The first use of any of
them loads them all, as an eager import did.

Example:
    >>> import numpy as np, latentrec
    >>> data = latentrec.Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1]]))
    >>> model = latentrec.models.Biases().fit(data)
    >>> model.predict([0], [2]).shape
    (1,)
    >>> latentrec.datasets.synthetic(10, 5, 20, random_state=0).shape
    (10, 5)
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

from . import registry as _registry
from ._version import __version__
from .errors import ModelFileError, NotFittedError, PredictsNoRatingsError

if TYPE_CHECKING:
    from . import datasets, models
    from .data import DataError, Interactions, LoadReport, UnknownIdError, Vocabulary

# The names the data layer gives the package.
_DATA_NAMES = frozenset({"DataError", "Interactions", "LoadReport", "UnknownIdError", "Vocabulary"})

# What `import latentrec` made attributes when it imported everything at once: the names
# it re-exports and the subpackages the models import.  Any of them loads them all.
_LOADED_WITH_THE_MODELS = frozenset(
    _DATA_NAMES | {"data", "datasets", "io", "kernels", "models", "registry", "retrieval"}
)
_loading = False


def __getattr__(name: str):
    """The package's attributes that need numpy and the rest, loaded on first use (PEP 562).

    Example:
        >>> import latentrec
        >>> latentrec.Vocabulary.__name__, latentrec.models.__name__
        ('Vocabulary', 'latentrec.models')
    """
    global _loading
    if name not in _LOADED_WITH_THE_MODELS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _loading:
        # All at once, as the eager import did: a model class registers itself when its
        # module loads, and `registry.model_class` counts on every one being there.  A
        # module loading meanwhile that asks for a sibling (`from .. import retrieval`)
        # gets just that one.
        _loading = True
        try:
            _import_module(".datasets", __name__)
            _import_module(".models", __name__)
        finally:
            _loading = False
    if name in _DATA_NAMES:
        value = getattr(_import_module(".data", __name__), name)
    else:
        value = _import_module(f".{name}", __name__)
    globals()[name] = value
    return value


def _load_models():
    """Load the models (and so register every algorithm) as the first use of a name does.

    Example:
        >>> import latentrec
        >>> latentrec._load_models().__name__
        'latentrec.models'
    """
    return __getattr__("models")


# The registry sits below the models and may not import them: a lookup there before
# anything loaded them (``from latentrec.registry import model_class``) asks this.
_registry.load_models = _load_models


def __dir__():
    """Every public name, the ones not loaded yet included (for ``dir`` and completion).

    Example:
        >>> import latentrec
        >>> {"Interactions", "models", "load"} <= set(dir(latentrec))
        True
    """
    return sorted(set(globals()) | _LOADED_WITH_THE_MODELS)


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
    from .io.modelfile import read_manifest
    from .models.persistence import load as load_model

    if read_manifest(path).get("algorithm") == "Pipeline":
        # Imported here: the pipeline sits above the models, and most files are models.
        from .pipeline import load_pipeline

        return load_pipeline(path)
    return load_model(path)


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
