"""``frbtriage import-chime-waterfall FILES... --workspace WS``: CHIME/FRB catalogue waterfalls."""

from __future__ import annotations

import argparse

HELP = ("store CHIME/FRB catalogue waterfall .h5 files (already dedispersed, NaN = masked "
        "channel) in a workspace as candidates with an ft image and no DM-time image")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("files", nargs="+", metavar="FILE", help="CHIME/FRB *_waterfall.h5 files")
    p.add_argument("--workspace", "-w", required=True, metavar="WS",
                   help="workspace folder (created when it holds no workspace)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Import; exit 2 when none of the files could be imported."""
    import sys

    from frbtriage.errors import InputError
    from frbtriage.workspace import Workspace, import_chime_waterfalls

    with Workspace.open_or_create(args.workspace) as ws:
        s = import_chime_waterfalls(ws, args.files,
                                    progress=not args.no_progress and sys.stderr.isatty())
    print(f"{args.workspace}: {s.done} imported, {s.already} already stored, "
          f"{len(s.skipped)} skipped (no DM-time image: origin ends ';dmt=none')")
    if s.done + s.already == 0:
        path, problem = s.skipped[0]
        raise InputError(path, f"none of the {len(args.files)} file(s) could be imported "
                               f"(first: {problem})")
    return 0
