"""``frbtriage export-zooniverse --workspace WS OUT_DIR``: a Zooniverse subject set."""

from __future__ import annotations

import argparse

HELP = ("write one PNG per candidate (dynamic spectrum, pulse profile, DM-time) and a "
        "Zooniverse subject manifest into OUT_DIR, for teams that host volunteers on "
        "Zooniverse; upload with `panoptes subject-set upload-subjects -f 1 SET "
        "OUT_DIR/manifest.csv` or the Project Builder")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write into (created if missing)")
    p.add_argument("--queue-only", action="store_true",
                   help="only the open entries of the volunteer queue (default: every candidate)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Export and say what was written."""
    import sys

    from frbtriage.crowd.zooniverse import export_zooniverse
    from frbtriage.workspace import Workspace

    with Workspace.open(args.workspace) as ws:
        result = export_zooniverse(ws, args.out_dir, queue_only=args.queue_only,
                                   progress=not args.no_progress and sys.stderr.isatty())
    print(f"wrote {result}")
    return 0
