"""The ``frbtriage`` command line: one verb per job, discovered from ``frbtriage.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from frbtriage import __version__, commands
from frbtriage.errors import InputError


def _verb_modules() -> dict[str, str]:
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.ispkg)
    return {n.replace("_", "-"): f"frbtriage.commands.{n}" for n in names if not n.startswith("_")}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with a sub-parser per verb."""
    parser = argparse.ArgumentParser(
        prog="frbtriage",
        description="Triage fast radio burst candidates: simulate, search, prepare, rank, vote.",
    )
    parser.add_argument("--version", action="version", version=f"frbtriage {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, modname in _verb_modules().items():
        mod = importlib.import_module(modname)
        p = sub.add_parser(verb, help=mod.HELP, description=mod.HELP)
        p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="more logging (-vv: debug)")
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args._run(args) or 0)
    except InputError as err:
        print(f"frbtriage: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("frbtriage: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
