"""The ratings store: SQLite by default, PostgreSQL by URL, through SQLAlchemy.

The store is the service's source of truth: ratings (explicit stars, latest wins),
implicit events (weights add up), a version per user from one global write sequence (so
workers invalidate their caches cheaply), and the item catalogue (titles, genres, numeric
features).  :meth:`RatingsStore.interactions` hands everything to training as an
:class:`~latentrec.data.Interactions`.

Modules: :mod:`.records` (the value types and row checks), :mod:`.schema` (tables and the
versioned schema), :mod:`.engine` (URLs, SQLite pragmas, transactions) and
:mod:`.ratings` (:class:`RatingsStore`, :func:`open_store`) and :mod:`.watch` (cheap
detection of committed writes for caches).

Example:
    >>> from latentrec.store import open_store, Rating
    >>> with open_store(":memory:") as store:
    ...     store.add_ratings([Rating("ann", "50", 5.0)]).n_written
    1
"""

from ..errors import needs_extra

# SQLAlchemy comes with the 'serve' extra: without it, importing the store says which
# extra to install, where Python's own error named only the module.
with needs_extra("serve", "the ratings store (latentrec.store)"):
    from .engine import StoreUnavailableError
    from .ratings import RatingsStore, open_store
    from .records import ImportResult, Item, Rating, StoreError, WriteResult
    from .watch import ChangeWatch

__all__ = [
    "ChangeWatch",
    "Item",
    "Rating",
    "RatingsStore",
    "StoreError",
    "StoreUnavailableError",
    "WriteResult",
    "ImportResult",
    "open_store",
]
