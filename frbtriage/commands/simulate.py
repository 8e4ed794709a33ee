"""``frbtriage simulate OUT_DIR``: a CHIME-like observation with bursts, RFI, truth, candidates."""

from __future__ import annotations

import argparse

HELP = ("simulate a CHIME-like 8-bit filterbank (400-800 MHz, 0.98304 ms; or another telescope's "
        "band with --telescope) with injected bursts and RFI; writes OUT_DIR/obs.fil, truth.csv, "
        "candidates.csv (your/FETCH) and obs.bad_chans")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write into (created if missing; "
                   "files of the same names are replaced)")
    p.add_argument("--minutes", type=float, default=0.5, help="length of the file (default 0.5)")
    p.add_argument("--nchan", type=int, default=None,
                   help="channels: for CHIME a power of two from 16 to 16384, else any count "
                        "from 16 to 16384 (default: the telescope's, 1024 for CHIME)")
    p.add_argument("--telescope", default="chime", metavar="NAME",
                   help="band, channels and sample time of: chime (default), parkes_uwl, "
                        "parkes_mb, askap, meerkat_l, gbt_l, fast")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed; same seed, same bytes (default 0)")
    p.add_argument("--n-bursts", type=int, default=None,
                   help="number of bursts (default: --burst-rate per minute, at least 1)")
    p.add_argument("--burst-rate", type=float, default=10.0, help="bursts per minute (default 10)")
    p.add_argument("--snr", type=float, nargs=2, default=(6.0, 100.0), metavar=("MIN", "MAX"),
                   help="burst S/N range, drawn log-uniformly (default 6 100)")
    p.add_argument("--dm", type=float, nargs=2, default=(50.0, 3000.0), metavar=("MIN", "MAX"),
                   help="burst DM range in pc cm^-3, log-uniform, capped so the sweep fits in the "
                        "file (default 50 3000)")
    p.add_argument("--rfi-rate", type=float, default=1.0,
                   help="multiplies every RFI rate; 0 = no RFI (default 1: per minute 6 impulses, "
                        "6 narrowband bursts, 2 drifts; 4 persistent carriers per file)")
    p.add_argument("--noise-rate", type=float, default=20.0,
                   help="near-threshold noise candidates per minute (default 20)")
    p.add_argument("--dead-fraction", type=float, default=0.03,
                   help="fraction of channels that are dead (zeros) (default 0.03)")
    p.add_argument("--threshold", type=float, default=6.0,
                   help="S/N threshold of the emulated search (default 6)")
    p.add_argument("--clean-negatives", action="store_true",
                   help="keep injected bursts out of the images of RFI and noise candidates "
                        "(redraw or drop those), so every label 0 image is burst-free; what "
                        "training sets use when bursts are boosted far above the sky rate")
    p.add_argument("--families", nargs="+", default=(), metavar="FAMILY",
                   help="also inject these families (burst morphologies: band_limited "
                        "scattered drifting wide low_dm faint; interference that imitates "
                        "bursts: peryton chirp_power chirp_linear chirp_reversed intermittent)")
    p.add_argument("--family-rate", type=float, default=10.0,
                   help="events of each of --families per minute (default 10)")


def run(args: argparse.Namespace) -> int:
    """Simulate and print a one-paragraph summary."""
    import logging
    import sys
    from collections import Counter

    from frbtriage.simulate import simulate_observation

    res = simulate_observation(
        args.out_dir, minutes=args.minutes, nchan=args.nchan, seed=args.seed,
        progress=sys.stderr.isatty(), n_bursts=args.n_bursts, burst_rate=args.burst_rate,
        snr_range=tuple(args.snr), dm_range=tuple(args.dm), rfi_rate=args.rfi_rate,
        noise_rate=args.noise_rate, dead_fraction=args.dead_fraction, threshold=args.threshold,
        clean_negatives=args.clean_negatives, families=tuple(args.families),
        family_rate=args.family_rate, telescope=args.telescope)
    kinds = Counter(r.kind for r in res.truth)
    labels = Counter(c.label for c in res.candidates)
    logging.getLogger(__name__).info("truth rows by kind: %s", dict(kinds))
    lay = res.layout
    print(f"wrote {res.fil_path} ({lay.nchan} channels x {lay.nsamp} samples, "
          f"{lay.duration:.1f} s), {res.truth_path.name} ({kinds['burst']} bursts, "
          f"{sum(v for k, v in kinds.items() if k.startswith('rfi'))} RFI), "
          f"{res.candidates_path.name} ({labels[1]} label 1, {labels[0]} label 0)")
    return 0
