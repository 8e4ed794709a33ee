"""``frbtriage score --workspace WS``: score every candidate the model has not scored yet."""

from __future__ import annotations

import argparse

HELP = ("score the workspace's candidates not yet scored by the model (default: the shipped "
        "model); stores p_astro, p_std and BALD per model version")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model folder (weights.safetensors + config.json; default: the "
                        "workspace's live model, or the shipped one if it has none)")
    p.add_argument("--device", default=None,
                   help="torch device, e.g. cpu or cuda (default: cuda when available)")
    p.add_argument("--batch-size", type=int, default=256, help="candidates per batch (256)")


def run(args: argparse.Namespace) -> int:
    """Load the model, score the unscored candidates, print a one-line summary."""
    import sys

    from frbtriage.errors import InputError
    from frbtriage.model.config import load_model, pick_device
    from frbtriage.model.predict import score_workspace
    from frbtriage.model.registry import live_model
    from frbtriage.workspace import Workspace

    if args.batch_size < 1:
        raise InputError(None, f"--batch-size must be >= 1, got {args.batch_size}")
    device = pick_device(args.device)
    with Workspace.open(args.workspace) as ws:
        model = (load_model(args.model, device=device) if args.model
                 else live_model(ws, device=device))
        n = score_workspace(ws, model, batch_size=args.batch_size, device=device,
                            progress=sys.stderr.isatty())
        total = len(ws)
    print(f"scored {n} candidates with model {model.version} on {device} "
          f"({total - n} of {total} were already scored)")
    return 0
