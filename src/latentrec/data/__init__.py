"""Data layer: interactions, vocabularies, readers, datasets and splitters."""

from .interactions import DataError, Interactions
from .vocabulary import UnknownIdError, Vocabulary

__all__ = ["DataError", "Interactions", "UnknownIdError", "Vocabulary"]
