"""latentrec: matrix-factorization recommenders, from a notebook to a running service."""

from .data import DataError, Interactions, UnknownIdError, Vocabulary

__version__ = "0.1.0"

__all__ = ["DataError", "Interactions", "UnknownIdError", "Vocabulary", "__version__"]
