"""The recommendation service: an HTTP API over a model and a ratings store.

The ratings store (:mod:`latentrec.store`) is the source of truth; each worker's model is
a cache that fold-in and reloads refresh.
"""
