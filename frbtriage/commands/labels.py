"""``frbtriage labels --workspace WS -o LABELS.csv``: aggregate the votes into labels."""

from __future__ import annotations

import argparse

HELP = ("aggregate the volunteers' votes (Dawid-Skene, weighted by each volunteer's "
        "reliability, anchored by gold candidates), retire settled candidates and write one row "
        "per voted candidate")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("-o", "--output", required=True, metavar="LABELS.csv", help="output CSV")


def run(args: argparse.Namespace) -> int:
    """Aggregate, store the consensus labels, write the CSV, print a summary."""
    import numpy as np

    from frbtriage.crowd.consensus import LABEL_COLUMNS, aggregate, label_rows
    from frbtriage.io.paths import check_output_file
    from frbtriage.io.tables import write_table_csv
    from frbtriage.workspace import Workspace

    out = check_output_file(args.output)
    with Workspace.open(args.workspace) as ws:
        res = aggregate(ws)
        path = write_table_csv(out, LABEL_COLUMNS, label_rows(ws, res))
    it, mv = res.result.items, res.majority
    differ = int(np.sum((it.p_astro > 0.5) != (mv.p_astro > 0.5)))
    print(res)
    print(f"Dawid-Skene and majority vote disagree on {differ} of {len(it.items)} candidates; "
          f"wrote {path}")
    return 0
