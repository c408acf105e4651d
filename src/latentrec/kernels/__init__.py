"""Numba kernels: pure functions over NumPy arrays that write into caller-owned arrays.

Each module compiles lazily on first call (``cache=True``), never at import.
"""
