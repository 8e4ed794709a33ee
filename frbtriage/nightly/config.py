"""Settings of the nightly job: the ``[nightly]`` table of a workspace's ``frbtriage.toml``.

Every key is optional (the defaults below apply); an unknown key or a value of the wrong kind
is an :class:`frbtriage.errors.InputError` naming the file, so a typo never passes silently::

    [nightly]
    retrain_min_new_labels = 200   # aggregated volunteer labels since the last retrain
    retrain_epochs = 8
    queue_size = 500
    queue_strategy = "bald"
    dm_min = 0.0                   # the search, for data files without a candidate list
    dm_max = 2000.0
    snr_min = 7.0
    max_width_s = 0.1
    batch_size = 64                # candidates per atomic workspace append
    top_candidates = 12            # candidates pictured in the report
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from frbtriage.errors import InputError
from frbtriage.queue import STRATEGIES
from frbtriage.search import SearchConfig


@dataclass(frozen=True)
class NightlyConfig:
    """What the nightly job does on a workspace (see the module for the TOML form).

    ``retrain_min_new_labels``: retrain (``--retrain auto``) once at least this many
    aggregated volunteer labels (``votes`` labels) exist beyond those the last retrained model
    saw; ``retrain_epochs`` fine-tuning epochs; ``queue_size`` / ``queue_strategy`` the
    volunteer queue (:class:`frbtriage.queue.QueueConfig`); ``dm_min`` / ``dm_max``
    pc cm^-3, ``snr_min``, ``max_width_s`` s: the search of data files that come without a
    candidate list; ``batch_size`` candidates per atomic workspace append; ``top_candidates``
    how many of the best new candidates the report pictures.
    """

    retrain_min_new_labels: int = 200
    retrain_epochs: int = 8
    queue_size: int = 500
    queue_strategy: str = "bald"
    dm_min: float = 0.0
    dm_max: float = 2000.0
    snr_min: float = 7.0
    max_width_s: float = 0.1
    batch_size: int = 64
    top_candidates: int = 12

    def check(self, where: str | None = None) -> None:
        """Raise :class:`InputError` (naming ``where``) for an impossible setting."""
        for f in fields(self):
            value = getattr(self, f.name)
            want = type(getattr(NightlyConfig, f.name))
            ok = (isinstance(value, int | float) and math.isfinite(value)) if want is float \
                else isinstance(value, want)
            if isinstance(value, bool) or not ok:
                raise InputError(where, f"[nightly] {f.name} must be a {want.__name__}, "
                                        f"got {value!r}")
        small = [n for n in ("retrain_min_new_labels", "retrain_epochs")
                 if getattr(self, n) < 0]
        small += [n for n in ("queue_size", "batch_size", "top_candidates")
                  if getattr(self, n) < 1]
        if small:
            raise InputError(where, f"[nightly] {', '.join(small)} too small")
        if self.queue_strategy not in STRATEGIES:
            raise InputError(where, f"[nightly] queue_strategy must be one of "
                                    f"{', '.join(STRATEGIES)}, got {self.queue_strategy!r}")
        self.search().check(where)

    def search(self) -> SearchConfig:
        """The search settings for data files without a candidate list."""
        return SearchConfig(dm_min=float(self.dm_min), dm_max=float(self.dm_max),
                            snr_min=float(self.snr_min), max_width_s=float(self.max_width_s))

    @classmethod
    def from_dict(cls, table: Mapping[str, object], where: str | None = None) -> NightlyConfig:
        """The settings from a parsed ``[nightly]`` table; absent keys keep their defaults,
        unknown keys and bad values raise :class:`InputError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise InputError(where, f"unknown [nightly] setting(s) {', '.join(unknown)}; "
                                    f"known: {', '.join(sorted(known))}")
        cfg = cls(**table)  # type: ignore[arg-type]  # check() validates the types
        cfg.check(where)
        return cfg

    @classmethod
    def of_workspace(cls, workspace: str | Path) -> NightlyConfig:
        """The ``[nightly]`` settings of the workspace folder ``workspace``."""
        from frbtriage.workspace import CONFIG_NAME

        path = Path(workspace) / CONFIG_NAME
        try:
            table = tomllib.loads(path.read_text()).get("nightly", {})
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise InputError(path, f"unreadable workspace settings ({err})") from err
        if not isinstance(table, dict):
            raise InputError(path, "[nightly] must be a table")
        return cls.from_dict(table, str(path))
