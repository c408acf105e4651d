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
