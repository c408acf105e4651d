"""Data layer: interactions, vocabularies, readers, datasets and splitters."""

from .interactions import DataError, Interactions
from .report import LoadReport, Rejection
from .vocabulary import UnknownIdError, Vocabulary

__all__ = ["DataError", "Interactions", "LoadReport", "Rejection", "UnknownIdError", "Vocabulary"]
