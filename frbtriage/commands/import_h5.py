"""``frbtriage import-h5 --workspace WS FILES...``: FETCH ``.h5`` candidates into a workspace."""

from __future__ import annotations

import argparse

HELP = ("bring FETCH-format candidate .h5 files (256 x 256 images) into a workspace (created "
        "if missing): images into the store, records into the database; duplicates are skipped")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS",
                   help="workspace folder (created when it holds no workspace)")
    p.add_argument("files", nargs="+", metavar="FILE", help="FETCH candidate .h5 files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Import; exit 2 when files were given but none could be imported."""
    import sys

    from frbtriage.workspace import Workspace, import_fetch_h5

    with Workspace.open_or_create(args.workspace) as ws:
        s = import_fetch_h5(ws, args.files,
                            progress=not args.no_progress and sys.stderr.isatty())
    print(f"{args.workspace}: {s.done} imported, {s.already} already stored, "
          f"{len(s.skipped)} skipped")
    if s.done + s.already == 0:
        print(f"frbtriage: error: none of the {len(args.files)} file(s) could be imported",
              file=sys.stderr)
        return 2
    return 0
