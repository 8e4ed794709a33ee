"""``frbtriage votes import --workspace WS VOTES.csv [--zooniverse]``: votes made elsewhere."""

from __future__ import annotations

import argparse

HELP = ("import votes made elsewhere: a CSV (volunteer, answer, tags, seconds, created and "
        "candidate_id or file, stime, dm) or, with --zooniverse, a Zooniverse classification "
        "export; re-importing a file adds nothing")

ACTIONS = ("import",)
#: Rejected rows printed (all are counted in the summary).
SHOW_REJECTED = 10


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument("file", metavar="VOTES.csv", help="the votes (CSV)")
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("--zooniverse", action="store_true",
                   help="FILE is a Zooniverse classification export (subjects made by "
                        "`frbtriage export-zooniverse`, or carrying file, stime, dm)")


def run(args: argparse.Namespace) -> int:
    """Import; print the summary and the first rejected rows. Exit 2 when every row was
    rejected."""
    from frbtriage.crowd.imports import import_votes
    from frbtriage.workspace import Workspace

    with Workspace.open(args.workspace) as ws:
        summary = import_votes(ws, args.file, zooniverse=args.zooniverse)
    print(f"{summary.path}: {summary}")
    for line, reason in summary.rejected[:SHOW_REJECTED]:
        print(f"  line {line}: {reason}")
    if len(summary.rejected) > SHOW_REJECTED:
        print(f"  ... and {len(summary.rejected) - SHOW_REJECTED} more rejected rows")
    error = summary.nothing_imported()
    if error is not None:
        raise error
    return 0
