"""``frbtriage demo``: the whole path on the sample observation, next to its truth.

Sample (or freshly simulated) observation -> read back -> search -> prepare into a
workspace -> score with the shipped model -> the top candidates with p_astro, their
uncertainty and what the truth table says they are (:func:`frbtriage.demo.run_demo`); then
the nightly job on the same observation, which fills the volunteer queue and writes a report,
and the command that opens the review app with a volunteer's sign-in token
(:func:`frbtriage.demo.run_demo_nightly`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports (numba, torch), for annotations only
    from frbtriage.demo import DemoConfig, DemoNightly, DemoObservation, DemoSearch
    from frbtriage.prepare import PrepareSummary

HELP = ("run the whole path on data_samples/ (or a fresh simulation): search, prepare, score, "
        "print the ranked candidates next to the truth, run the nightly job (queue, report) "
        "and print how to open the app")
#: Stages the verb numbers as it prints them.
STAGES = 6


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--out", default="demo_out", metavar="DIR",
                   help="folder for the search list, workspace, ranked CSV and the nightly "
                        "job's inbox (default demo_out)")
    p.add_argument("--sample", default=None, metavar="DIR",
                   help="observation folder with obs.fil and truth.csv "
                        "(default: data_samples/chime_sim of this checkout)")
    p.add_argument("--simulate", action="store_true",
                   help="simulate a fresh observation into DIR/sim instead of using the sample")
    p.add_argument("--minutes", type=float, default=0.5, help="with --simulate: length (min)")
    p.add_argument("--seed", type=int, default=7, help="with --simulate: random seed")
    p.add_argument("--top", type=int, default=15, help="how many ranked candidates to print")
    p.add_argument("--device", default=None, help="torch device for scoring (default: auto)")


def run(args: argparse.Namespace) -> int:
    """Run the demo; prints a report, writes DIR/search.csv, DIR/ranked.csv, DIR/workspace
    (with the nightly job's report), DIR/inbox."""
    import time

    from frbtriage.demo import DemoConfig, run_demo, run_demo_nightly

    t0 = time.perf_counter()
    config = DemoConfig(sample=args.sample, simulate=args.simulate, minutes=args.minutes,
                        seed=args.seed, device=args.device)
    result = run_demo(args.out, config, _Printer())
    print(f"      {result.newly_scored} newly scored by model {result.model_version}")
    ranked = result.ranked
    print(f"[5/{STAGES}] top {min(args.top, len(ranked))} of {len(ranked)} by p_astro "
          f"(all in {result.ranked_csv}):")
    print(f"      {'tcand s':>8} {'DM':>7} {'width':>5} {'S/N':>6} {'p_astro':>7} "
          f"{'± std':>6} {'BALD':>6}  truth")
    for row in ranked[: args.top]:
        r, sc = row.record, row.score
        print(f"      {r.tcand:8.3f} {r.dm:7.1f} {r.width:5d} {r.snr:6.1f} {sc.p_astro:7.3f} "
              f"{sc.p_std:6.3f} {sc.bald:6.3f}  {row.truth}")
    print(f"[{STAGES}/{STAGES}] the nightly job on {args.out}/inbox (the observation with this "
          "search's list beside it), as cron would run it ...", flush=True)
    _print_nightly(run_demo_nightly(args.out, device=args.device))
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def _print_nightly(done: DemoNightly) -> None:
    """What the nightly job did, where its report is, and how to open the app."""
    from frbtriage.demo import VOLUNTEER

    r = done.result
    files = ", ".join(f"{f.added} candidates added, {f.already} already stored"
                      + (f", {len(f.skipped)} not imageable" if f.skipped else "")
                      if f.status == "processed" else
                      "already finished by an earlier run" if f.status == "known" else
                      f"failed: {f.error}" for f in r.files) or "unchanged since the last run"
    print(f"      {len(r.files) + r.unchanged} data file(s) ({files}); {r.scored} newly "
          f"scored by the live model {r.model_version}")
    print(f"      {r.queue}")
    print(f"      retrain: {r.retrain_note}")
    print(f"      report: {done.report}")
    print("open the review app on the demo workspace with")
    print(f"      {done.app_command}")
    print(f"      and sign in as {VOLUNTEER} with the token {done.token}")
    print("      (a new token each run of the demo; the app prints the address to open)")


class _Printer:
    """Prints each stage of the demo as it starts and ends (a
    :class:`frbtriage.demo.DemoProgress`)."""

    def simulating(self, config: DemoConfig) -> None:
        print(f"[1/{STAGES}] simulating {config.minutes} min of CHIME-like data "
              f"(seed {config.seed}) ...")

    def observed(self, obs: DemoObservation) -> None:
        from frbtriage.demo import SEARCH

        h = obs.header
        if not obs.simulated:
            print(f"[1/{STAGES}] using the sample observation {obs.folder}")
        kinds: dict[str, int] = {}
        for r in obs.truth:
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        print(f"      {h.nchans} channels {min(h.freqs):.1f}-{max(h.freqs):.1f} MHz, "
              f"tsamp {h.tsamp * 1e3:.5f} ms, {h.nspectra} samples = {h.duration:.1f} s, "
              f"{h.nbits}-bit, source {h.source_name!r}")
        print("      truth: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        print(f"[2/{STAGES}] searching DM {SEARCH.dm_min:.0f}-{SEARCH.dm_max:.0f} (FDMT + boxcar + "
              "friends-of-friends) ...")

    def searched(self, search: DemoSearch) -> None:
        st = search.stats
        from frbtriage.jit import compile_note

        print(f"      {len(search.candidates)} candidates ({st.detections} detections) in "
              f"{st.wall_s:.1f} s = {st.realtime_factor:.1f}x real time, searched to DM "
              f"{st.dm_max_searched:.0f}{compile_note(st.compile_s, st.compiled)}; wrote "
              f"{search.csv_path}")
        for b, hit in search.burst_hits:
            got = (f"found: t={hit.tcand:.3f} s DM {hit.dm:.1f} S/N {hit.snr:.1f}" if hit
                   else "missed")
            print(f"      burst #{b.id}: t={b.time_s:.3f} s DM {b.dm:.1f} S/N {b.snr:.1f} "
                  f"-> {got}")
        print(f"[3/{STAGES}] preparing ft / dmt images into the workspace ...")

    def prepared(self, summary: PrepareSummary) -> None:
        print(f"      {summary}")
        print(f"[4/{STAGES}] scoring with the shipped model ...")
