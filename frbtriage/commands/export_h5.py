"""``frbtriage export-h5 --workspace WS OUT_DIR``: candidates out as FETCH ``.h5`` files."""

from __future__ import annotations

import argparse

HELP = ("write the workspace's candidates as FETCH-format .h5 files (data_freq_time, "
        "data_dm_time and your's attributes, incl. tcand and dm) into OUT_DIR")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write into (created if missing)")
    p.add_argument("--ids", type=int, nargs="+", metavar="ID",
                   help="only these candidate ids (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Export and print how many files were written."""
    import sys

    from frbtriage.workspace import Workspace, export_fetch_h5

    with Workspace.open(args.workspace) as ws:
        s = export_fetch_h5(ws, args.out_dir, ids=args.ids,
                            progress=not args.no_progress and sys.stderr.isatty())
    print(f"wrote {s.done} FETCH h5 file(s) to {args.out_dir}")
    return 0
