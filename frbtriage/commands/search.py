"""``frbtriage search FILE... -o CANDS.csv``: single-pulse search (FDMT + boxcar + clustering)."""

from __future__ import annotations

import argparse

HELP = ("search filterbank files for dispersed single pulses (FDMT per DM-plan stage, boxcar S/N, "
        "friends-of-friends clustering); writes a your/FETCH candidate CSV")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="filterbank (.fil) files or folders of CHIME msgpack chunks to search")
    p.add_argument("--dm-min", type=float, default=0.0, help="lowest DM, pc cm^-3 (default 0)")
    p.add_argument("--dm-max", type=float, default=2000.0,
                   help="highest DM, pc cm^-3 (default 2000)")
    p.add_argument("--snr-min", type=float, default=7.0, help="boxcar S/N threshold (default 7)")
    p.add_argument("--max-width", type=float, default=0.1,
                   help="widest boxcar searched, seconds (default 0.1)")
    p.add_argument("--plan", choices=("ddplan", "tree"), default="ddplan",
                   help="DM/time plan: ddplan (default) decimates in time where the smearing "
                        "budget allows; tree is the earlier plan (every level from DM 0)")
    p.add_argument("--smear-tol", type=float, default=1.5,
                   help="ddplan's smearing budget: effective width of an unresolved burst at "
                        "most this x native resolution's (S/N >= tol**-0.5 of it; default 1.5)")
    p.add_argument("-o", "--output", required=True, metavar="CANDS.csv",
                   help="your/FETCH candidate CSV to write (replaced atomically)")
    p.add_argument("--heimdall", metavar="CANDS.cand", default=None,
                   help="also write a Heimdall .cand list (single file searches only)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Search every file, write the lists, print a summary line per file."""
    import sys

    from frbtriage.errors import InputError
    from frbtriage.io.candidates import write_fetch_csv
    from frbtriage.io.paths import check_output_file
    from frbtriage.jit import compile_note
    from frbtriage.search import SearchConfig, search_files, write_heimdall_cands

    cfg = SearchConfig(dm_min=args.dm_min, dm_max=args.dm_max, snr_min=args.snr_min,
                       max_width_s=args.max_width, plan=args.plan, smear_tol=args.smear_tol)
    cfg.check(args.files[0])
    if args.heimdall and len(args.files) > 1:
        raise InputError(args.heimdall, "a Heimdall .cand list holds one file's candidates; "
                                        "search one FILE at a time with --heimdall")
    check_output_file(args.output)  # before the search, not after it
    if args.heimdall:
        check_output_file(args.heimdall)
    cands, stats = search_files(args.files, cfg, progress=not args.no_progress
                                and sys.stderr.isatty())
    write_fetch_csv(args.output, [c.to_candidate() for c in cands])
    if args.heimdall:
        write_heimdall_cands(args.heimdall, cands, stats[0].tsamp)
    for st in stats:
        print(f"{st.file}: {st.duration_s:.1f} s searched to DM {st.dm_max_searched:.1f} in "
              f"{st.wall_s:.1f} s ({st.realtime_factor:.1f}x real time): {st.candidates} "
              f"candidates from {st.detections} detections"
              + compile_note(st.compile_s, st.compiled))
    print(f"wrote {args.output} ({len(cands)} candidates)"
          + (f" and {args.heimdall}" if args.heimdall else ""))
    return 0
