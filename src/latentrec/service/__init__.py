"""The recommendation service: an HTTP API over a model and a ratings store.

The ratings store (:mod:`latentrec.store`) is the source of truth; each worker's model is
a cache that fold-in and reloads refresh.  :func:`create_app` (in :mod:`.app`) builds the
FastAPI app from :class:`Settings` (in :mod:`.settings`); both are attributes of this
package, imported on first use, so ``latentrec.service.versions`` (model versions) needs
no web framework.

Example:
    >>> from latentrec.service import Settings
    >>> Settings(model_path="model.npz").max_n
    100
"""

__all__ = ["Settings", "create_app"]


def __getattr__(name):
    if name == "create_app":
        from ..errors import needs_extra

        # The web framework, the server's protocol classes, the metrics and the store
        # are the 'serve' extra's: a missing one names it.
        with needs_extra("serve", "latentrec.service.create_app"):
            from .app import create_app

        return create_app
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module 'latentrec.service' has no attribute {name!r}")
