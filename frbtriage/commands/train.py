"""``frbtriage train --workspace WS -o MODEL_DIR``: train the CNN ensemble on simulated and
labelled candidates, calibrate it, evaluate it, save it."""

from __future__ import annotations

import argparse

HELP = ("train the CNN ensemble on simulated candidates (simulate -> prepare into WS) plus the "
        "workspace's labelled candidates; writes weights, config and a held-out evaluation")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS",
                   help="workspace folder (created if missing); simulations are prepared into it")
    p.add_argument("-o", "--output", required=True, metavar="MODEL_DIR",
                   help="folder for weights.safetensors, config.json, evaluation.json, PNGs")
    p.add_argument("--simulate", type=int, default=30, metavar="N",
                   help="simulated observations to add before training (default 30; 0 = none; "
                        "already prepared ones are reused)")
    p.add_argument("--sim-minutes", type=float, default=1.0,
                   help="length of each simulated observation in minutes (default 1)")
    p.add_argument("--eval-simulate", type=int, default=8, metavar="M",
                   help="also evaluate on M unseen simulations (other seeds, another RFI mix) "
                        "in a temporary workspace (default 8; 0 = skip)")
    p.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    p.add_argument("--members", type=int, default=5, help="ensemble members (default 5)")
    p.add_argument("--input-size", type=int, default=32, metavar="T",
                   help="time columns each 256 x 256 image is mean-pooled to inside the model "
                        "(a divisor of 256; default 32)")
    p.add_argument("--input-rows", type=int, default=32, metavar="R",
                   help="frequency / DM rows after pooling (a divisor of 256; default 32)")
    p.add_argument("--zoom", type=int, default=None, metavar="Z",
                   help="central time columns of each image given to the model as a second, "
                        "finer view (a divisor of 256, >= --input-size; 0 = none; default 32 "
                        "or --input-size if larger)")
    p.add_argument("--device", default=None,
                   help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; 1 is much faster on a "
                        "machine whose cores are busy with other work)")


def _check(args: argparse.Namespace) -> None:
    from frbtriage.errors import InputError

    for name in ("simulate", "eval_simulate"):
        if getattr(args, name) < 0:
            raise InputError(None, f"--{name.replace('_', '-')} must be >= 0")
    for name in ("epochs", "batch_size", "members"):
        if getattr(args, name) < 1:
            raise InputError(None, f"--{name.replace('_', '-')} must be >= 1")
    if not args.sim_minutes > 0 or not args.lr > 0:
        raise InputError(None, "--sim-minutes and --lr must be positive")


def run(args: argparse.Namespace) -> int:
    """Simulate + prepare, train, calibrate, evaluate, save; print the headline numbers."""
    import shlex
    import sys
    import tempfile
    from pathlib import Path

    from frbtriage.errors import InputError
    from frbtriage.model.config import update_metrics
    from frbtriage.model.data import (
        EVAL_MIXES,
        EVAL_SEED_OFFSET,
        TRAIN_MIXES,
        load_labelled,
        simulate_and_prepare,
    )
    from frbtriage.model.metrics import plot_evaluation
    from frbtriage.model.network import Architecture
    from frbtriage.model.train import (
        TrainConfig,
        evaluate_logits,
        fit_calibrate_evaluate,
        pick_device,
        predict_logits,
    )
    from frbtriage.workspace import Workspace

    _check(args)
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(None, "--threads must be >= 1")
        import torch

        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    arch = Architecture(members=args.members, input_size=args.input_size,
                        input_rows=args.input_rows,
                        zoom=max(32, args.input_size) if args.zoom is None else args.zoom)
    try:
        arch.validate()
    except ValueError as err:
        raise InputError(None, f"--input-size/--input-rows/--zoom: {err}") from err
    say = print if sys.stderr.isatty() else (lambda _m: None)
    with Workspace.open_or_create(args.workspace) as ws:
        if args.simulate:
            simulate_and_prepare(ws, args.simulate, args.seed, minutes=args.sim_minutes,
                                 progress=say)
        data = load_labelled(ws, arch)
        ws_path = str(ws.path)
    n_pos = int((data.targets >= 0.5).sum())
    if len(data) < 20 or n_pos < 5 or len(data) - n_pos < 5:
        raise InputError(args.workspace, f"too few labelled candidates to train on ({len(data)}, "
                                         f"{n_pos} astrophysical); use --simulate N")
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      device=str(device))
    description = {
        "command": "frbtriage " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if "train" in sys.argv[1:] else "frbtriage.commands.train (called from Python)",
        "seed": args.seed,
        "threads": args.threads,
        "workspace": ws_path,
        "simulated_observations": args.simulate,
        "simulation": {"minutes": args.sim_minutes,
                       "seeds": f"seed*1000 + i for i in 0..{args.simulate - 1}",
                       "mixes": list(TRAIN_MIXES)},
        "labels": "workspace label column (1 astrophysical, 0 RFI/noise), weight 1 each",
    }
    out = Path(args.output)
    network, config = fit_calibrate_evaluate(data.x, data.targets, data.weights, cfg, out,
                                             arch=arch, training_description=description,
                                             progress=sys.stderr.isatty())
    held = config.metrics["held_out"]
    print(f"model {config.version} -> {out}: held-out ROC AUC {held['roc_auc']:.4f}, recall at "
          f"1% FPR {held['recall_at_1pct_fpr']['recall']:.3f}, ECE {held['ece']:.3f} "
          f"(T = {config.temperature:.3f}, {held['n']} candidates)")
    if args.eval_simulate:
        with tempfile.TemporaryDirectory(prefix="frbtriage-eval-") as tmp, \
                Workspace.create(Path(tmp) / "ws") as ews:
            simulate_and_prepare(ews, args.eval_simulate, args.seed + EVAL_SEED_OFFSET,
                                 minutes=args.sim_minutes, mixes=EVAL_MIXES, tag="eval",
                                 progress=say)
            ev = load_labelled(ews, arch)
        logits = predict_logits(network, ev.x, device=device)
        unseen = evaluate_logits(logits, ev.targets, config.temperature)
        unseen["simulation"] = {"observations": args.eval_simulate, "minutes": args.sim_minutes,
                                "seeds": f"(seed + {EVAL_SEED_OFFSET})*1000 + i",
                                "mixes": list(EVAL_MIXES)}
        update_metrics(out, {"unseen_simulation": unseen})
        from frbtriage.model.calibration import ensemble_stats

        p = ensemble_stats(logits, config.temperature)["p_astro"]
        if 0 < int((ev.targets >= 0.5).sum()) < len(ev):
            plot_evaluation(p, ev.targets, out, title="(unseen simulations)", prefix="unseen_")
        import json

        doc = json.loads((out / "evaluation.json").read_text())
        doc["metrics"]["unseen_simulation"] = unseen
        (out / "evaluation.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(f"unseen simulations ({unseen['n']} candidates, {unseen['n_positive']} bursts): "
              f"ROC AUC {unseen['roc_auc']:.4f}, recall at 1% FPR "
              f"{unseen['recall_at_1pct_fpr']['recall']:.3f}, ECE {unseen['ece']:.3f}")
    return 0
