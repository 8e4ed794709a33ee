"""The nightly job (``frbtriage nightly``): new data files from an inbox into a workspace,
scored, queued for volunteers, the model retrained when the votes justify it, and a report.

Modules: :mod:`~frbtriage.nightly.job` (the stages, :func:`run_nightly`),
:mod:`~frbtriage.nightly.work` (per-file work on a worker), :mod:`~frbtriage.nightly.cluster`
(in this process or on Dask), :mod:`~frbtriage.nightly.ledger` (which files are done, and the
crash protocol), :mod:`~frbtriage.nightly.lock` (one run per workspace),
:mod:`~frbtriage.nightly.report` (HTML + JSON), :mod:`~frbtriage.nightly.config` (the
``[nightly]`` settings). Heavy imports happen inside the functions.
"""

from frbtriage.nightly.config import NightlyConfig
from frbtriage.nightly.job import (
    EXIT_SKIPPED,
    FileOutcome,
    NightlyOptions,
    NightlyProgress,
    NightlyResult,
    run_nightly,
)
from frbtriage.nightly.lock import EXIT_BUSY, NightlyBusy, run_lock

__all__ = ["EXIT_BUSY", "EXIT_SKIPPED", "FileOutcome", "NightlyBusy", "NightlyConfig",
           "NightlyOptions", "NightlyProgress", "NightlyResult", "run_lock", "run_nightly"]
