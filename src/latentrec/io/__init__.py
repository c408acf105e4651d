"""Files: atomic writes, the model-file archive format, streamed table files.

This layer knows no model class: it moves plain arrays, JSON and tables to and from disk,
so the models layer can save itself through it (see ``docs/architecture.md``).
"""

from .atomic import atomic_path
from .modelfile import FORMAT, FORMAT_VERSION, read_archive, read_manifest, write_archive
from .tables import TableWriter

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TableWriter",
    "atomic_path",
    "read_archive",
    "read_manifest",
    "write_archive",
]
