"""``frbtriage nightly --workspace WS --inbox DIR``: the cron job (:mod:`frbtriage.nightly`).

Exit status: 0 every data file processed; 3 the run finished but skipped files (named on
stderr and in the report); 2 bad usage or input; 75 another run holds the workspace.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frbtriage.nightly.job import FileOutcome

HELP = ("process the new data files of an inbox into a workspace (search or candidate list, "
        "images, scores), refresh the volunteer queue, aggregate votes, retrain behind the "
        "gate when enough new labels arrived, and write a report; safe to run from cron")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS",
                   help="workspace folder (created if missing)")
    p.add_argument("--inbox", required=True, metavar="DIR",
                   help="folder of data files (.fil, .fits, .sf; subfolders too); a list "
                        "X.csv or X.cand beside X.fil is used instead of searching it")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=1, metavar="N",
                       help="Dask LocalCluster worker processes on this machine (default 1; "
                            "0 = no Dask, everything in this process)")
    where.add_argument("--dask", default=None, metavar="ADDRESS",
                       help="a running Dask scheduler instead, e.g. tcp://head:8786 (the "
                            "workers must see the inbox at the same path)")
    p.add_argument("--retrain", choices=("auto", "never", "always"), default="auto",
                   help="auto (default): when [nightly] retrain_min_new_labels new "
                        "aggregated labels arrived since the last retrained model")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")


def run(args: argparse.Namespace) -> int:
    """Run the job; prints a summary and the report's path. Returns the exit status."""
    from frbtriage.nightly import EXIT_BUSY, NightlyBusy, NightlyOptions, run_nightly

    options = NightlyOptions(workers=args.workers, dask_address=args.dask,
                             retrain=args.retrain, device=args.device)
    try:
        result = run_nightly(args.workspace, args.inbox, options, _Printer())
    except NightlyBusy as err:
        print(f"frbtriage: {err}", file=sys.stderr)
        return EXIT_BUSY
    done = result.with_status("processed")
    print(f"{len(done)} file(s) processed ({len(result.added_ids)} candidates added), "
          f"{len(result.with_status('known'))} already known, {result.unchanged} unchanged, "
          f"{len(result.with_status('failed'))} failed; {result.scored} newly scored by "
          f"{result.model_version}")
    print(result.queue)
    print(f"retrain: {result.retrain_note}")
    print(f"report: {result.report_dir / 'index.html'}")
    for f in result.with_status("failed"):
        print(f"frbtriage: skipped {f.path}: {f.error}", file=sys.stderr)
    return result.exit_code


class _Printer:
    """Progress on stderr: a bar on a terminal, else one line per file (for cron's mail)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.total = 0
        self.done = 0

    def files_listed(self, total: int, todo: int, executor: str) -> None:
        from tqdm import tqdm

        self.total = todo
        print(f"inbox: {total} data file(s), {todo} to read ({total - todo} unchanged); "
              f"{executor}", file=sys.stderr)
        if self.tty:
            self.bar = tqdm(total=todo, unit="file", desc="ingest", dynamic_ncols=True)

    def file_done(self, outcome: FileOutcome) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            return
        what = (f"failed: {outcome.error}" if outcome.status == "failed" else
                f"{outcome.status}, {outcome.found} candidates, {outcome.added} added")
        print(f"[{self.done}/{self.total}] {outcome.path}: {what}", file=sys.stderr)

    def stage(self, name: str) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if name != "ingest":
            print(f"{name} ...", file=sys.stderr)
