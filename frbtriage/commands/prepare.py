"""``frbtriage prepare``: candidate list in, FETCH-style images and records into a workspace."""

from __future__ import annotations

import argparse

HELP = ("make each candidate's ft (256 freq x 256 time) and dmt (256 DM x 256 time) images "
        "and store them with their records in a workspace (created if missing); re-running "
        "the same list adds nothing, an interrupted run resumes")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS",
                   help="workspace folder (created when it holds no workspace)")
    p.add_argument("--candidates", "-c", required=True, metavar="FILE",
                   help="candidate list: your/FETCH .csv, CHIME L1 event .csv or Heimdall .cand")
    p.add_argument("--data-file", metavar="FIL",
                   help="the data file a Heimdall .cand list was searched from, or the CHIME "
                        "chunk folder of an L1 event list (else its chunks column)")
    p.add_argument("--mask", choices=("file", "window", "none"), default="file",
                   help="spectral-kurtosis + IQRM bad-channel flags computed once per data "
                        "file (default), from each candidate's window, or not at all")
    p.add_argument("--kill-mask", metavar="FILE",
                   help="text file of bad channel numbers (your's chan_mask_path format), "
                        "zeroed in every window")
    p.add_argument("--batch", type=int, default=16, metavar="N",
                   help="candidates committed together (default 16)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Prepare; exit 2 when no candidate could be prepared."""
    import shutil
    from pathlib import Path

    from frbtriage.commands import warn_rejected
    from frbtriage.errors import InputError
    from frbtriage.io.candidates import read_candidates
    from frbtriage.prepare import check_data_files, prepare_candidates
    from frbtriage.workspace import Workspace

    if args.batch < 1:
        raise InputError(None, f"--batch must be >= 1, got {args.batch}")
    rejected: list[InputError] = []
    cands = read_candidates(args.candidates, data_file=args.data_file, rejected=rejected)
    warn_rejected("prepare", rejected)
    check_data_files(cands)  # no readable data at all: one line, no workspace made
    new_ws = not Path(args.workspace).exists()
    with Workspace.open_or_create(args.workspace) as ws:
        summary = prepare_candidates(
            ws, cands, mask=args.mask, kill_mask=args.kill_mask, batch_size=args.batch,
            progress=False if args.no_progress else None)
    if summary.total and summary.prepared == 0:
        if new_ws:  # made by this run and empty: leave nothing behind
            shutil.rmtree(args.workspace, ignore_errors=True)
        raise summary.nothing_prepared(args.candidates)
    print(f"{ws.path}: {summary}")
    return 0
