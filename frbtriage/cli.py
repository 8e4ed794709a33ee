"""The ``frbtriage`` command line: one verb per job, discovered from ``frbtriage.commands``.

Start-up is kept short (a real-time trigger or a script may call the CLI once per candidate):
the verb modules are found by name without importing them, and only the verb being run is
imported and given its options. ``frbtriage --help`` imports each (light) verb module for its
``HELP`` line, never its ``add_arguments`` (some read defaults from heavy modules). What each
verb then imports is its own business (``frbtriage.commands``: heavy imports inside ``run``);
``tests/test_startup.py`` checks that e.g. ``prepare`` never loads torch, ``your`` or astropy.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from frbtriage import __version__, commands
from frbtriage.allocator import keep_freed_memory
from frbtriage.errors import InputError


def _verb_modules() -> dict[str, str]:
    """Verb name -> module name, from the file names in ``frbtriage/commands`` (no import)."""
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.ispkg)
    return {n.replace("_", "-"): f"frbtriage.commands.{n}" for n in names if not n.startswith("_")}


def chosen_verb(argv: Sequence[str]) -> str | None:
    """The verb of a command line: its first word that is not an option (the top-level
    options, ``-v`` and ``--version``, take no value); None when there is none."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. With ``verb`` (a known verb name) only that verb's module is
    imported and its sub-parser given its options; the other verbs are listed by name, so
    that argparse still names them all in its "invalid choice" message. Without ``verb``
    every verb module is imported for its ``HELP`` line (``frbtriage --help``)."""
    parser = argparse.ArgumentParser(
        prog="frbtriage",
        description="Triage fast radio burst candidates: simulate, search, prepare, rank, vote.",
    )
    parser.add_argument("--version", action="version", version=f"frbtriage {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    modules = _verb_modules()
    for name, modname in modules.items():
        if verb in modules and name != verb:
            sub.add_parser(name)
            continue
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        if name == verb:
            p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                           help="more logging (-vv: debug)")
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad input)."""
    argv = sys.argv[1:] if argv is None else argv
    keep_freed_memory()
    parser = build_parser(chosen_verb(argv))
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
