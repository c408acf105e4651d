"""The ratings store's tests, a package so that its ``conftest`` is ``store.conftest`` and
never shadows the top-level ``conftest`` that other test modules import from."""
