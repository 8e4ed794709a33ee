"""One module per CLI verb.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Modules must stay light to import (heavy imports go inside ``run``) so that
``frbtriage --help`` is instant; ``add_arguments`` is called only for the verb being run
(:mod:`frbtriage.cli`). The verb is the module name with ``_`` -> ``-``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def warn_rejected(verb: str, rejected: Sequence[Exception]) -> None:
    """Tell the user, one stderr line each, which candidate rows ``verb`` left out and why
    (each an :class:`frbtriage.errors.InputError` naming the list and the line)."""
    for err in rejected:
        print(f"frbtriage {verb}: skipped {err}", file=sys.stderr)
