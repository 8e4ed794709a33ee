"""Numba kernels (installed as ``frbtriage.kernels``); each has a numpy twin in tests/."""
