"""``frbtriage demo``: the whole path on the sample observation, next to its truth.

Sample (or freshly simulated) observation -> read back -> search -> prepare into a
workspace -> score with the shipped model -> the top candidates with p_astro, their
uncertainty and what the truth table says they are.
"""

from __future__ import annotations

import argparse

HELP = ("run the whole path on data_samples/ (or a fresh simulation): search, prepare, score, "
        "and print the ranked candidates next to the truth")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--out", default="demo_out", metavar="DIR",
                   help="folder for the search list, workspace and ranked CSV (default demo_out)")
    p.add_argument("--sample", default=None, metavar="DIR",
                   help="observation folder with obs.fil and truth.csv "
                        "(default: data_samples/chime_sim of this checkout)")
    p.add_argument("--simulate", action="store_true",
                   help="simulate a fresh observation into DIR/sim instead of using the sample")
    p.add_argument("--minutes", type=float, default=0.5, help="with --simulate: length (min)")
    p.add_argument("--seed", type=int, default=7, help="with --simulate: random seed")
    p.add_argument("--top", type=int, default=15, help="how many ranked candidates to print")
    p.add_argument("--device", default=None, help="torch device for scoring (default: auto)")


def _sample_dir(given: str | None):  # noqa: ANN202 - returns Path
    from pathlib import Path

    from frbtriage.errors import InputError

    if given is not None:
        candidates = [Path(given)]
    else:
        here = Path(__file__).resolve().parents[2]  # the checkout, for an editable install
        candidates = [Path.cwd() / "data_samples" / "chime_sim",
                      here / "data_samples" / "chime_sim"]
    for d in candidates:
        if (d / "obs.fil").is_file():
            return d
    raise InputError(candidates[0], "no obs.fil here; pass --sample DIR or --simulate")


def _label(row, held: list[tuple[int, float]]) -> str:  # noqa: ANN001 - TruthRow | None
    """What the truth says a candidate is; ``held``: (id, S/N) of the bursts its images also
    hold, brightest first."""
    if row is not None and row.kind == "burst":
        return f"BURST #{row.id} (DM {row.dm:.0f}, S/N {row.snr:.0f})"
    what = "noise / unmatched" if row is None else row.kind.replace("rfi_", "RFI ")
    if held:
        (bid, snr), more = held[0], len(held) - 1
        what += (f" (images hold BURST #{bid} at S/N ~{snr:.0f}"
                 + (f" and {more} fainter" if more else "") + ")")
    return what


def _held_bursts(bursts: list, traces: list, rec, freqs, tsamp: float  # noqa: ANN001
                 ) -> list[tuple[int, float]]:
    """(id, S/N) of the injected ``bursts`` (truth rows, with their ``traces``) that show in
    candidate ``rec``'s ft/dmt images at S/N >= 3
    (:func:`frbtriage.simulate.search.trace_snrs_in_images`), brightest first."""
    from frbtriage.simulate.search import CLEAN_SNR, Detection, trace_snrs_in_images

    det = Detection(snr=rec.snr, stime=rec.tcand, dm=rec.dm, width=int(rec.width))
    snrs = trace_snrs_in_images(det, traces, freqs, tsamp)
    held = [(b.id, float(s)) for b, s in zip(bursts, snrs, strict=True) if s >= CLEAN_SNR]
    return sorted(held, key=lambda h: -h[1])


def run(args: argparse.Namespace) -> int:
    """Run the demo; prints a report, writes DIR/search.csv, DIR/ranked.csv, DIR/workspace."""
    import csv
    import time
    from pathlib import Path

    from frbtriage import db
    from frbtriage.io.candidates import write_fetch_csv
    from frbtriage.io.filterbank import read_header
    from frbtriage.model.config import load_model
    from frbtriage.model.predict import score_workspace
    from frbtriage.model.train import pick_device
    from frbtriage.prepare import prepare_candidates
    from frbtriage.search import SearchConfig, SearchStats, search_file
    from frbtriage.simulate import read_truth_csv, simulate_observation
    from frbtriage.simulate.search import Trace
    from frbtriage.simulate.truth import burst_matches, match_truth
    from frbtriage.workspace import Workspace

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.simulate:
        print(f"[1/5] simulating {args.minutes} min of CHIME-like data (seed {args.seed}) ...")
        obs_dir = simulate_observation(out / "sim", minutes=args.minutes, seed=args.seed).out_dir
    else:
        obs_dir = _sample_dir(args.sample)
        print(f"[1/5] using the sample observation {obs_dir}")
    fil = Path(obs_dir) / "obs.fil"
    h = read_header(fil)
    truth = read_truth_csv(Path(obs_dir) / "truth.csv")
    bursts = [r for r in truth if r.kind == "burst"]
    kinds: dict[str, int] = {}
    for r in truth:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    print(f"      {h.nchans} channels {min(h.freqs):.1f}-{max(h.freqs):.1f} MHz, "
          f"tsamp {h.tsamp * 1e3:.5f} ms, {h.nspectra} samples = {h.duration:.1f} s, "
          f"{h.nbits}-bit, source {h.source_name!r}")
    print("      truth: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))

    print("[2/5] searching DM 0-2000 (FDMT + boxcar + friends-of-friends) ...")
    stats = SearchStats()
    found = search_file(fil, config=SearchConfig(dm_min=0.0, dm_max=2000.0, snr_min=7.0),
                        stats=stats)
    cands = [c.to_candidate() for c in found]
    write_fetch_csv(out / "search.csv", cands)
    print(f"      {len(cands)} candidates ({stats.detections} detections) in {stats.wall_s:.1f} s "
          f"= {stats.realtime_factor:.0f}x real time, searched to DM {stats.dm_max_searched:.0f}; "
          f"wrote {out / 'search.csv'}")
    for b in bursts:
        hit = [c for c in cands if burst_matches(b, c.tcand, c.dm, c.width, h.tsamp)]
        got = (f"found: t={hit[0].tcand:.3f} s DM {hit[0].dm:.1f} S/N {hit[0].snr:.1f}" if hit
               else "missed")
        print(f"      burst #{b.id}: t={b.time_s:.3f} s DM {b.dm:.1f} S/N {b.snr:.1f} -> {got}")

    print("[3/5] preparing ft / dmt images into the workspace ...")
    with Workspace.open_or_create(out / "workspace") as ws:
        summary = prepare_candidates(ws, cands)
        print(f"      {summary}")
        print("[4/5] scoring with the shipped model ...")
        model = load_model(None, device=pick_device(args.device))
        # this search's candidates, whether added now or by an earlier run into DIR
        ids = sorted(ws.ids_of(db.candidate_key(c.file, c.tcand, c.dm, c.width)
                               for c in cands).values())
        n = score_workspace(ws, model, ids=ids)
        with ws.session() as s:
            scores = {r.candidate_id: r for r in db.read_scores(s, model.version, ids)}
        recs = ws.candidates(ids)
        print(f"      {n} newly scored by model {model.version}")

    ranked = sorted(recs, key=lambda r: -scores[r.id].p_astro)
    traces = [Trace.from_truth(b, h.tsamp) for b in bursts]
    labels = {r.id: _label(match_truth(truth, r.tcand, r.dm, r.width, h.tsamp),
                           _held_bursts(bursts, traces, r, h.freqs, h.tsamp)) for r in ranked}
    with open(out / "ranked.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["tcand", "dm", "width", "snr", "p_astro", "p_std", "bald", "truth"])
        for r in ranked:
            sc = scores[r.id]
            w.writerow([f"{r.tcand:.6f}", f"{r.dm:.2f}", r.width, f"{r.snr:.2f}",
                        f"{sc.p_astro:.4f}", f"{sc.p_std:.4f}", f"{sc.bald:.4f}", labels[r.id]])
    print(f"[5/5] top {min(args.top, len(ranked))} of {len(ranked)} by p_astro "
          f"(all in {out / 'ranked.csv'}):")
    print(f"      {'tcand s':>8} {'DM':>7} {'width':>5} {'S/N':>6} {'p_astro':>7} "
          f"{'± std':>6} {'BALD':>6}  truth")
    for r in ranked[: args.top]:
        sc = scores[r.id]
        print(f"      {r.tcand:8.3f} {r.dm:7.1f} {r.width:5d} {r.snr:6.1f} {sc.p_astro:7.3f} "
              f"{sc.p_std:6.3f} {sc.bald:6.3f}  {labels[r.id]}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
