"""Tests of the HTTP service (a package, so its conftest does not hide tests/conftest.py)."""
