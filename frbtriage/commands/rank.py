"""``frbtriage rank INPUT... -o RANKED.csv``: prepare + score in one command (for FETCH users)."""

from __future__ import annotations

import argparse

HELP = ("rank candidates by p(astro): INPUT is a your/FETCH .csv, a CHIME L1 event .csv, a "
        "Heimdall .cand (with --data-file) or FETCH .h5 files; writes a CSV sorted by p_astro "
        "(capped at 0.5 where the sweep is measured and is not cold plasma's) with p_std, "
        "BALD and the dispersion-law check")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="candidate list(s) (.csv your/FETCH or CHIME L1 events, .cand Heimdall) "
                        "or FETCH .h5 files")
    p.add_argument("-o", "--output", required=True, metavar="RANKED.csv", help="output CSV")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model folder (default: the model shipped with frbtriage)")
    p.add_argument("--workspace", "-w", default=None, metavar="WS",
                   help="keep images and scores in this workspace (default: a temporary one)")
    p.add_argument("--data-file", metavar="FIL",
                   help="the data file a Heimdall .cand list was searched from, or the CHIME "
                        "chunk folder of an L1 event list (else its chunks column)")
    p.add_argument("--device", default=None,
                   help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--batch-size", type=int, default=256, help="scoring batch size (256)")


def run(args: argparse.Namespace) -> int:
    """Rank (:func:`frbtriage.ranking.rank_candidates`), write the CSV, print the top five."""
    import sys

    from frbtriage.commands import warn_rejected
    from frbtriage.model.config import load_model, pick_device
    from frbtriage.ranking import (
        RankOptions,
        check_csv_path,
        rank_candidates,
        write_ranked_csv,
    )

    opts = RankOptions(workspace=args.workspace, data_file=args.data_file,
                       batch_size=args.batch_size, device=args.device,
                       progress=sys.stderr.isatty())
    opts.check()
    out = check_csv_path(args.output)
    model = load_model(args.model, device=pick_device(args.device))
    result = rank_candidates(args.inputs, model, opts)
    warn_rejected("rank", result.rejected)
    if result.unprepared:
        print(f"frbtriage rank: {result.unprepared} candidate(s) could not be prepared; they "
              "are listed last with empty scores", file=sys.stderr)
    write_ranked_csv(out, result)
    print(f"ranked {result.n_scored} of {len(result.rows)} candidates with model "
          f"{result.model_version} -> {out}")
    for row in result.rows[:5]:
        c, sc = row.candidate, row.score
        if sc is not None:
            veto = (f"  (ranked at {row.p_checked:.3f}: sweep not cold plasma's)"
                    if row.vetoed else "")
            print(f"  p_astro {sc.p_astro:.3f} +- {sc.p_std:.3f}  bald {sc.bald:.3f}  "
                  f"t {c.tcand:.3f} s  DM {c.dm:.1f}  S/N {c.snr:.1f}{veto}")
    return 0
