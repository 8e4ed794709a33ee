"""Conventions every floor shares that are not physics: the one home of the image size.

Candidate images follow FETCH: ``ft`` is ``(256 frequency, 256 time)`` (row 0 = highest
frequency) and ``dmt`` is ``(256 DM trials, 256 time)``. Prepare makes them at this size, the
workspace stores and checks them at it, and the network reads them at it; each takes the size
from here. (Physical constants live in :mod:`frbtriage.physics`.)
"""

from __future__ import annotations

#: Side of a candidate image in pixels: frequency channels or DM trials, and time samples.
IMAGE_SIZE = 256
#: ``(rows, time)`` of a stored ``ft`` or ``dmt`` image: ``(256, 256)``.
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE)


def decimation(width: int) -> int:
    """FETCH's time decimation for a pulse of ``width`` samples: ``max(1, width // 2)`` (so a
    pulse spans about two columns of its images)."""
    return max(1, int(width) // 2)
