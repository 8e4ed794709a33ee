"""Small CSV tables written for people and spreadsheets (labels, volunteers, exports)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from frbtriage.safe_write import write_text


def write_table_csv(path: str | os.PathLike[str], columns: Sequence[str],
                    rows: Iterable[Mapping[str, object]]) -> Path:
    """Write ``rows`` (mappings with the keys ``columns``) as a CSV with a header row,
    replacing ``path`` safely (the old file stays whole until the new one is complete).
    Returns the path."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n",
                       extrasaction="raise")
    w.writeheader()
    w.writerows(rows)
    return write_text(path, buf.getvalue())
