"""``frbtriage retrain --workspace WS``: fine-tune the live model on simulations and votes,
promote it only if it beats the live one."""

from __future__ import annotations

import argparse

HELP = ("fine-tune the live model on the workspace's known labels and aggregated votes; "
        "promote it only if it is not worse on AUC and ECE and better on one (fixed "
        "evaluation set: held-out labels, gold, held-back votes)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    from frbtriage.model.retrain import RetrainConfig

    d = RetrainConfig()
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"default {d.epochs}")
    p.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate ({d.lr})")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default 0)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")


def run(args: argparse.Namespace) -> int:
    """Retrain, gate, register; print the verdict. Exit 0 whether promoted or not."""
    import sys

    from frbtriage.model.retrain import RetrainConfig, retrain
    from frbtriage.workspace import Workspace

    config = RetrainConfig(epochs=args.epochs, lr=args.lr, seed=args.seed, device=args.device)
    config.check()
    with Workspace.open(args.workspace) as ws:
        res = retrain(ws, config, progress=sys.stderr.isatty())
    print(res)
    print(f"  split: {res.counts}")
    return 0
