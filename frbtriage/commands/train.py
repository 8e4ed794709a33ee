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
    p.add_argument("--channels", type=int, nargs="+", default=[8, 16, 32], metavar="C",
                   help="convolution channels of each member, one per block (default 8 16 32)")
    p.add_argument("--hidden", type=int, default=32,
                   help="width of each member's dense layer (default 32)")
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
    p.add_argument("--families", nargs="+", default=(), metavar="FAMILY",
                   help="also simulate these burst morphologies and interference families "
                        "(as `frbtriage simulate --families`; `all` for every one) in the "
                        "training observations: bursts in the burst-rich ones, interference "
                        "in the burst-free ones")
    p.add_argument("--family-rate", type=float, default=10.0,
                   help="events of each of --families per simulated minute (default 10)")
    p.add_argument("--telescopes", nargs="+", default=(), metavar="NAME",
                   help="also simulate every training mix on these telescopes' bands, "
                        "channels and sample times (as `frbtriage simulate --telescope`)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; 1 is much faster on a "
                        "machine whose cores are busy with other work)")


def run(args: argparse.Namespace) -> int:
    """Run :func:`frbtriage.model.pipeline.train_pipeline`; print the headline numbers."""
    import shlex
    import sys

    from frbtriage.model.pipeline import PipelineConfig, train_pipeline
    from frbtriage.simulate.observation import FAMILIES

    families = FAMILIES if list(args.families) == ["all"] else tuple(args.families)

    config = PipelineConfig(
        simulate=args.simulate, sim_minutes=args.sim_minutes, eval_simulate=args.eval_simulate,
        epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
        members=args.members, channels=tuple(args.channels), hidden=args.hidden,
        input_size=args.input_size, input_rows=args.input_rows, zoom=args.zoom,
        device=args.device, threads=args.threads, families=families,
        family_rate=args.family_rate, telescopes=tuple(args.telescopes))
    command = ("frbtriage " + shlex.join(sys.argv[1:]) if "train" in sys.argv[1:]
               else "frbtriage.commands.train (called from Python)")
    tty = sys.stderr.isatty()
    result = train_pipeline(args.workspace, args.output, config, command=command,
                            progress=print if tty else None, bars=tty)
    held = result.held_out
    print(f"model {result.config.version} -> {result.out_dir}: held-out ROC AUC "
          f"{held['roc_auc']:.4f}, recall at 1% FPR {held['recall_at_1pct_fpr']['recall']:.3f}, "
          f"ECE {held['ece']:.3f} (T = {result.config.temperature:.3f}, {held['n']} candidates)")
    unseen = result.unseen
    if unseen is not None:
        print(f"unseen simulations ({unseen['n']} candidates, {unseen['n_positive']} bursts): "
              f"ROC AUC {unseen['roc_auc']:.4f}, recall at 1% FPR "
              f"{unseen['recall_at_1pct_fpr']['recall']:.3f}, ECE {unseen['ece']:.3f}")
    return 0
