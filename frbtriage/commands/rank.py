"""``frbtriage rank INPUT... -o RANKED.csv``: prepare + score in one command (for FETCH users)."""

from __future__ import annotations

import argparse

HELP = ("rank candidates by p(astro): INPUT is a your/FETCH .csv, a Heimdall .cand (with "
        "--data-file) or FETCH .h5 files; writes a CSV sorted by p_astro with p_std and BALD")

#: Output columns: the your/FETCH candidate columns, then the scores.
COLUMNS = ("file", "snr", "stime", "width", "dm", "label", "p_astro", "p_std", "bald",
           "model_version")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="candidate list(s) (.csv your/FETCH, .cand Heimdall) or FETCH .h5 files")
    p.add_argument("-o", "--output", required=True, metavar="RANKED.csv", help="output CSV")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model folder (default: the model shipped with frbtriage)")
    p.add_argument("--workspace", "-w", default=None, metavar="WS",
                   help="keep images and scores in this workspace (default: a temporary one)")
    p.add_argument("--data-file", metavar="FIL",
                   help="the data file a Heimdall .cand list was searched from")
    p.add_argument("--device", default=None,
                   help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--batch-size", type=int, default=256, help="scoring batch size (256)")


def _load_inputs(paths: list[str], data_file: str | None) -> tuple[list, list]:
    """``(list_candidates, h5_entries)``: Candidates from lists, and ``(cand, ft, dmt, path)``
    from FETCH .h5 files, in input order (each entry keeps its position ``i``)."""
    from pathlib import Path

    import numpy as np

    from frbtriage.errors import InputError
    from frbtriage.io.candidates import read_candidates

    listed: list = []
    h5: list = []
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix in (".h5", ".hdf5"):
            from frbtriage.io.fetch_h5 import read_fetch_h5

            cand, ft, dmt, _attrs = read_fetch_h5(path)
            if dmt is None:
                raise InputError(path, "has no data_dm_time image; the model needs both ft "
                                       "and dmt (re-make it with the DM-time image)")
            for name, img in (("data_freq_time", ft), ("data_dm_time", dmt)):
                if img.shape != (256, 256):
                    raise InputError(path, f"{name} is {img.shape[::-1]}, expected 256 x 256 "
                                           "(FETCH candmaker size)")
                if not np.isfinite(img).all():
                    raise InputError(path, f"{name} contains NaN or infinite values")
            h5.append((len(listed) + len(h5), cand, ft, dmt, path))
        else:
            for c in read_candidates(path, data_file=data_file):
                listed.append((len(listed) + len(h5), c))
    return listed, h5


def run(args: argparse.Namespace) -> int:
    """Prepare into a (temporary) workspace, score, write the ranked CSV."""
    import contextlib
    import math
    import os
    import sys
    import tempfile
    from pathlib import Path

    import numpy as np

    from frbtriage import db
    from frbtriage.errors import InputError
    from frbtriage.model.config import load_model
    from frbtriage.model.predict import score_workspace
    from frbtriage.model.train import pick_device
    from frbtriage.prepare import check_data_files, prepare_candidates
    from frbtriage.workspace import NewCandidate, Workspace

    if args.batch_size < 1:
        raise InputError(None, f"--batch-size must be >= 1, got {args.batch_size}")
    out = Path(args.output)
    if out.is_dir():
        raise InputError(out, "is a folder; give the output CSV file name")
    device = pick_device(args.device)
    model = load_model(args.model, device=device)
    listed, h5 = _load_inputs(args.inputs, args.data_file)
    n_in = len(listed) + len(h5)
    if n_in == 0:
        raise InputError(args.inputs[0], "no candidates in the input")
    if listed and not h5:
        check_data_files([c for _, c in listed])

    keys: dict[int, tuple[str, int, int, int]] = {}
    with contextlib.ExitStack() as stack:
        if args.workspace:
            ws = stack.enter_context(Workspace.open_or_create(args.workspace))
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="frbtriage-rank-"))
            ws = stack.enter_context(Workspace.create(Path(tmp) / "ws"))
        if listed:
            summary = prepare_candidates(ws, [c for _, c in listed])
            if not h5 and summary.prepared == 0:
                raise summary.nothing_prepared()
            if summary.skipped:
                print(f"frbtriage rank: {len(summary.skipped)} candidate(s) could not be "
                      "prepared; they are listed last with empty scores", file=sys.stderr)
        for i, c in listed:
            keys[i] = db.candidate_key(c.file, c.tcand, c.dm, c.width)
        if h5:
            news = []
            for i, c, _ft, _dmt, path in h5:
                file = c.file or str(path)
                keys[i] = db.candidate_key(file, c.tcand, c.dm, c.width)
                news.append(NewCandidate(file=keys[i][0], tcand=float(c.tcand), dm=float(c.dm),
                                         width=int(c.width), snr=float(c.snr), label=c.label,
                                         origin=c.origin or f"fetch_h5:{os.path.abspath(path)}"))
            ws.append(news, np.stack([e[2] for e in h5]), np.stack([e[3] for e in h5]))
        id_of = ws.ids_of(keys.values())
        wanted = sorted(set(id_of.values()))
        score_workspace(ws, model, ids=wanted, batch_size=args.batch_size, device=device,
                        progress=sys.stderr.isatty())
        with ws.session() as s:
            scores = {r.candidate_id: r for r in db.read_scores(s, model.version, wanted)}

    entries = [(i, c) for i, c in listed] + [(e[0], e[1]) for e in h5]
    rows = []
    for i, c in sorted(entries, key=lambda e: e[0]):
        sc = scores.get(id_of.get(keys[i], -1))
        rows.append((i, c, sc))
    rows.sort(key=lambda r: (r[2] is None, -(r[2].p_astro if r[2] else 0.0), r[0]))

    def fmt(x: float) -> str:
        return f"{x:.6g}"

    lines = [",".join(COLUMNS)]
    for _, c, sc in rows:
        width = math.log2(c.width)
        cells = [c.file, fmt(c.snr), f"{c.tcand:.7f}", fmt(width), fmt(c.dm),
                 "" if c.label is None else str(int(c.label))]
        cells += ([f"{sc.p_astro:.6f}", f"{sc.p_std:.6f}", f"{sc.bald:.6f}", model.version]
                  if sc is not None else ["", "", "", ""])
        lines.append(",".join(_csv_cell(x) for x in cells))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.tmp")
    tmp_out.write_text("\n".join(lines) + "\n")
    tmp_out.replace(out)
    n_scored = sum(1 for r in rows if r[2] is not None)
    print(f"ranked {n_scored} of {n_in} candidates with model {model.version} -> {out}")
    for _, c, sc in rows[:5]:
        if sc is not None:
            print(f"  p_astro {sc.p_astro:.3f} +- {sc.p_std:.3f}  bald {sc.bald:.3f}  "
                  f"t {c.tcand:.3f} s  DM {c.dm:.1f}  S/N {c.snr:.1f}")
    return 0


def _csv_cell(text: str) -> str:
    """Quote a CSV field when it needs it."""
    if any(ch in text for ch in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
