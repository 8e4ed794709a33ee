"""``frbtriage warmup``: compile the Numba kernels into their cache (``make install`` runs it)."""

from __future__ import annotations

import argparse

HELP = ("compile the search and prepare kernels into Numba's on-disk cache (a search and "
        "prepare of the sample observation), so that no later run pays for compilation; "
        "`make install` runs it")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--sample", default=None, metavar="DIR",
                   help="observation folder with obs.fil (default: data_samples/chime_sim)")


def run(args: argparse.Namespace) -> int:
    """Warm the cache (:func:`frbtriage.warmup.warm_kernels`) and say what it did."""
    from frbtriage.warmup import warm_kernels

    print(warm_kernels(args.sample))
    return 0
