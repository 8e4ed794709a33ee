"""``frbtriage check --workspace WS [--repair]``: do the arrays, the database and the model
files agree? (:func:`frbtriage.check.check_workspace`)

Exit status: 0 all consistent (or everything found was repaired), 1 problems remain,
2 bad usage or a workspace that cannot be opened.
"""

from __future__ import annotations

import argparse

HELP = ("verify that a workspace's zarr arrays and database agree (no orphan rows or records, "
        "no duplicates, scores only for existing candidates, model files match their SHA-256); "
        "--repair fixes what is safe to fix")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("--repair", action="store_true",
                   help="cut orphan array rows, delete records of missing candidates")


def run(args: argparse.Namespace) -> int:
    """Check (and repair); print each finding. Returns the exit status."""
    from frbtriage.check import check_workspace
    from frbtriage.workspace import Workspace

    with Workspace.open(args.workspace) as ws:
        res = check_workspace(ws, repair=args.repair)
    print(f"{ws.path}: {res.candidates} candidates, {res.rows} array rows, "
          f"{res.models} registered model(s)")
    for p in res.problems:
        print(f"  {p}")
    print("ok" if res.ok else "problems remain" + ("" if args.repair else
                                                    "; some can be fixed with --repair"))
    return 0 if res.ok else 1
