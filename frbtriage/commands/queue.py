"""``frbtriage queue --workspace WS``: fill the volunteer queue from the live model."""

from __future__ import annotations

import argparse

HELP = ("fill the volunteer queue with the candidates the live model is least sure of "
        "(BALD, entropy, margin or random), mixed with gold and random ones")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    from frbtriage.queue import STRATEGIES, QueueConfig

    d = QueueConfig()
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("--size", type=int, default=d.size,
                   help=f"open entries to keep in the queue (default {d.size})")
    p.add_argument("--strategy", choices=STRATEGIES, default=d.strategy,
                   help=f"acquisition (default {d.strategy})")
    p.add_argument("--gold-fraction", type=float, default=d.gold_fraction,
                   help=f"share of new entries that are gold candidates (default "
                        f"{d.gold_fraction})")
    p.add_argument("--random-fraction", type=float, default=d.random_fraction,
                   help=f"share drawn uniformly at random (default {d.random_fraction})")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    """Fill the queue and print what was added."""
    from frbtriage.queue import QueueConfig, fill_queue
    from frbtriage.workspace import Workspace

    config = QueueConfig(size=args.size, strategy=args.strategy,
                         gold_fraction=args.gold_fraction,
                         random_fraction=args.random_fraction, seed=args.seed)
    config.check()
    with Workspace.open(args.workspace) as ws:
        print(fill_queue(ws, config))
    return 0
