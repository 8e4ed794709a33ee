"""Which data files the nightly job has finished: ``WS/nightly/ledger.json``.

A data file is *new* when the SHA-256 of its content is not in the ledger, so a file that is
renamed, moved or copied into the inbox again is not processed twice, and a file whose
content changed is. The ledger is a JSON file (not a database table: the schema and its
migrations belong to :mod:`frbtriage.db`; the table it stands in for is described in
``docs/CONTRACTS.md``) replaced whole with :mod:`frbtriage.safe_write` on each change.

``files``: ``{sha256: {path, size, source, found, added, processed}}`` for each finished
file; ``seen``: ``{path: {size, mtime_ns, sha256}}``, a stat cache so that an unchanged
file is not read again to be hashed (as git's index does); ``runs``: start time, end time
and exit status of the last runs.

Crash protocol (with :meth:`frbtriage.workspace.Workspace.append`'s own):

1. a file's candidates are appended to the workspace in atomic batches;
2. only after the last batch has committed is the file's entry added here (one atomic
   replace of the whole JSON file).

A kill before step 2 leaves the file out of the ledger: the next run processes it again and
``Workspace.append`` skips the candidates already stored (same file, tcand, DM, width), so
nothing is duplicated and zarr rows = database rows. A kill during step 2 leaves the old
ledger or the new one, never a mix.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from frbtriage.errors import InputError
from frbtriage.safe_write import write_text

LEDGER_NAME = "nightly/ledger.json"
FORMAT = 1
#: How many past runs the ledger remembers.
KEEP_RUNS = 100


@dataclass(frozen=True)
class LedgerEntry:
    """A finished data file: content ``sha256``, ``path`` when processed, ``size`` bytes,
    ``source`` of its candidates (``"search"`` or the candidate list's path), candidates
    ``found`` (listed or found by the search), ``added`` to the workspace by that run, and
    when it was ``processed`` (ISO 8601, UTC)."""

    sha256: str
    path: str
    size: int
    source: str
    found: int
    added: int
    processed: str


class Ledger:
    """The ledger of one workspace (see the module); load with :meth:`load`."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self._data = data

    @classmethod
    def load(cls, workspace: str | os.PathLike[str]) -> Ledger:
        """The ledger of the workspace folder ``workspace`` (empty when there is none yet);
        :class:`InputError` when the file is not a ledger."""
        path = Path(workspace) / LEDGER_NAME
        if not path.exists():
            return cls(path, {"format": FORMAT, "files": {}, "seen": {}, "runs": []})
        try:
            data = json.loads(path.read_text())
            ok = isinstance(data, dict) and all(isinstance(data.get(k), dict)
                                                for k in ("files", "seen"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(path, f"unreadable nightly ledger ({err})") from err
        if not ok or data.get("format") != FORMAT:
            raise InputError(path, "not a nightly ledger of this frbtriage (format "
                                   f"{data.get('format') if isinstance(data, dict) else '?'})")
        data.setdefault("runs", [])
        return cls(path, data)

    # ------------------------------------------------------------------ reading
    def known(self) -> frozenset[str]:
        """Content hashes of the finished files."""
        return frozenset(self._data["files"])

    def entries(self) -> list[LedgerEntry]:
        """The finished files, in the order they were recorded."""
        return [LedgerEntry(sha256=h, **e) for h, e in self._data["files"].items()]

    def cached_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The content hash recorded for ``path`` when it had this ``size`` (bytes) and
        ``mtime_ns``, else None (the file must be read and hashed)."""
        seen = self._data["seen"].get(path)
        if seen and seen["size"] == size and seen["mtime_ns"] == mtime_ns:
            return str(seen["sha256"])
        return None

    def last_run_started(self) -> dt.datetime | None:
        """When the last run that finished began (UTC), or None."""
        runs = self._data["runs"]
        return dt.datetime.fromisoformat(runs[-1]["started"]) if runs else None

    # ------------------------------------------------------------------ writing
    def record(self, entry: LedgerEntry | None, path: str, size: int, mtime_ns: int,
               sha256: str) -> None:
        """Remember that ``path`` (``size`` bytes, ``mtime_ns``) has content ``sha256``
        and, with ``entry``, that this content is finished; saved at once (atomically)."""
        if entry is not None:
            fields = asdict(entry)
            del fields["sha256"]
            self._data["files"][entry.sha256] = fields
        self._data["seen"][path] = {"size": size, "mtime_ns": mtime_ns, "sha256": sha256}
        self._save()

    def finish_run(self, started: dt.datetime, finished: dt.datetime, status: int) -> None:
        """Append a finished run (times UTC, exit ``status``); saved at once."""
        runs = self._data["runs"]
        runs.append({"started": started.isoformat(), "finished": finished.isoformat(),
                     "status": int(status)})
        del runs[:-KEEP_RUNS]
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.path, json.dumps(self._data, indent=1, sort_keys=True) + "\n")

