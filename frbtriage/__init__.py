"""frbtriage: fast radio burst candidate triage for CHIME-like telescopes.

Arrays live in zarr, records in SQL; see README.md for the data flow and docs/CONTRACTS.md for
the interfaces the modules agree on.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("frbtriage")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
