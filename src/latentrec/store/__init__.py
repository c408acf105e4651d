"""Persistence: model files (and, later, the ratings store)."""

from .modelfile import ModelFileError, load, read_manifest, save_model

__all__ = ["ModelFileError", "load", "read_manifest", "save_model"]
