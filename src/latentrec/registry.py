"""The one registry of model classes, with the command line's short names as aliases.

A leaf module: model classes register themselves when their module is imported (the
base class calls :func:`register` from ``__init_subclass__``), and importing
``latentrec.models`` (which the first use of any of ``latentrec``'s names does) imports
every algorithm.  A lookup before that (``from latentrec.registry import model_class``
alone) calls :data:`load_models`, which the package sets: this module may not import
the models itself.  Model files store the class name; the CLI takes either the class
name or its alias.
"""

from __future__ import annotations

from collections.abc import Callable

_CLASSES: dict[str, type] = {}

#: Imports every algorithm; set by ``latentrec/__init__.py``, which sits above the models
#: (the package loads them on first use, so importing this module registers none).
load_models: Callable[[], object] | None = None

# Short names for the command line (``latentrec train -a biased-mf``).
ALIASES: dict[str, str] = {
    "biased-mf": "BiasedMF",
    "svdpp": "SVDpp",
    "als": "ALS",
    "bpmf": "BayesianMF",
    "svd": "TruncatedSVD",
    "nmf": "NMF",
    "itemknn": "ItemKNN",
    "implicit-als": "ImplicitALS",
    "bpr": "BPR",
    "warp": "WARP",
    "hybrid": "HybridMF",
    "gd-mf": "GradientDescentMF",
    "biases": "Biases",
    "global-mean": "GlobalMean",
    "popularity": "Popularity",
}


def register(cls: type) -> type:
    """Record ``cls`` under its class name (abstract bases whose name starts with ``_`` and
    the ``Recommender`` base are skipped).  Returns ``cls``.

    Example:
        >>> class Toy: pass
        >>> register(Toy) is Toy
        True
        >>> _ = _CLASSES.pop("Toy")
    """
    name = cls.__name__
    if not name.startswith("_") and name != "Recommender":
        _CLASSES[name] = cls
    return cls


def model_class(name: str) -> type:
    """The model class registered under ``name`` (a class name or a CLI alias).

    Example:
        >>> model_class("BiasedMF").__name__, model_class("biased-mf").__name__
        ('BiasedMF', 'BiasedMF')
    """
    key = ALIASES.get(name, name)
    if key not in _CLASSES:
        _load_models()
    try:
        return _CLASSES[key]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; known: {sorted(_CLASSES)} or aliases {sorted(ALIASES)}"
        ) from None


def model_names() -> list[str]:
    """The class names of every registered model, sorted.

    Example:
        >>> "ImplicitALS" in model_names()
        True
    """
    _load_models()
    return sorted(_CLASSES)


def _load_models() -> None:
    """Register every algorithm now, if the package has said how (:data:`load_models`)."""
    if load_models is not None:
        load_models()
