"""``frbtriage volunteers --workspace WS -o V.csv``: each volunteer's record and reliability."""

from __future__ import annotations

import argparse

HELP = ("write each volunteer's votes, accuracy on gold candidates and the reliability the "
        "vote aggregation estimates (confusion matrix entries)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("-o", "--output", required=True, metavar="VOLUNTEERS.csv",
                   help="output CSV")


def run(args: argparse.Namespace) -> int:
    """Aggregate the votes, write one row per volunteer who voted."""
    from frbtriage.crowd.consensus import VOLUNTEER_COLUMNS, aggregate, volunteer_rows
    from frbtriage.io.paths import check_output_file
    from frbtriage.io.tables import write_table_csv
    from frbtriage.workspace import Workspace

    out = check_output_file(args.output)
    with Workspace.open(args.workspace) as ws:
        res = aggregate(ws)
        rows = volunteer_rows(ws, res)
        path = write_table_csv(out, VOLUNTEER_COLUMNS, rows)
    print(f"{len(rows)} volunteers who voted -> {path}")
    for r in sorted(rows, key=lambda r: -int(r["votes"]))[:10]:
        print(f"  {r['name']:24} {r['votes']:>6} votes  gold {r['gold_correct']}/"
              f"{r['gold_votes']}  reliability {r['reliability']}")
    return 0
