"""frbtriage: fast radio burst candidate triage for CHIME-like telescopes.

Arrays live in zarr, records in SQL; see DESIGN.md and the README for the data flow.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("frbtriage")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
