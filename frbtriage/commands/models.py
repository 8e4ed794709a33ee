"""``frbtriage models --workspace WS [list | promote VERSION | rollback [VERSION]]``."""

from __future__ import annotations

import argparse

HELP = ("the workspace's model registry: list the versions with their metrics and which one is "
        "live; promote VERSION; rollback (to the live model's parent, or VERSION)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("action", nargs="?", default="list", choices=("list", "promote", "rollback"),
                   help="what to do (default list)")
    p.add_argument("version", nargs="?", metavar="VERSION", help="model version")
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")


def _metric(info, key: str) -> str:  # noqa: ANN001 - ModelInfo
    m = info.metrics.get("workspace_evaluation") or info.metrics.get("held_out") or {}
    value = m.get(key)
    return "-" if value is None else f"{value:.4f}"


def run(args: argparse.Namespace) -> int:
    """List, promote or roll back; prints the registry after a change."""
    from frbtriage.errors import InputError
    from frbtriage.model import registry
    from frbtriage.workspace import Workspace

    with Workspace.open(args.workspace) as ws:
        if args.action == "promote":
            if not args.version:
                raise InputError(None, "models promote needs a VERSION")
            print(f"{registry.promote(ws, args.version).version} is now live")
        elif args.action == "rollback":
            print(f"rolled back: {registry.rollback(ws, args.version).version} is now live")
        models = registry.list_models(ws)
    print(f"{'status':9} {'version':44} {'AUC':>7} {'ECE':>7}  parent")
    for m in models:
        print(f"{m.status:9} {m.version:44} {_metric(m, 'roc_auc'):>7} {_metric(m, 'ece'):>7}  "
              f"{m.parent or '-'}")
    print(f"{len(models)} model version(s); AUC/ECE on the workspace's evaluation set where "
          "retrained, else held-out simulations")
    return 0
