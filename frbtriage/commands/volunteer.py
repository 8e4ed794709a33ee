"""``frbtriage volunteer add|list|disable|enable|reset-token``: who may vote."""

from __future__ import annotations

import argparse

HELP = ("manage volunteers: add NAME (prints a one-time sign-in token), list, disable NAME, "
        "enable NAME, reset-token NAME")

ACTIONS = ("add", "list", "disable", "enable", "reset-token")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument("name", nargs="?", metavar="NAME", help="the volunteer's unique name")
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("--role", default="volunteer", choices=("volunteer", "researcher", "admin"),
                   help="with add: the role (default volunteer)")
    p.add_argument("--display-name", default=None, help="with add: name shown in the app")


def run(args: argparse.Namespace) -> int:
    """Do the action; a new token is printed once and never again."""
    from frbtriage.crowd import volunteers as vol
    from frbtriage.errors import InputError
    from frbtriage.workspace import Workspace

    if args.action != "list" and not args.name:
        raise InputError(None, f"volunteer {args.action} needs a NAME")
    with Workspace.open(args.workspace) as ws:
        if args.action == "list":
            people = vol.list_volunteers(ws)
            print(f"{'id':>4}  {'name':24} {'role':10} {'active':6} created")
            for v in people:
                print(f"{v.id:>4}  {v.name:24} {v.role:10} {'yes' if v.active else 'no':6} "
                      f"{v.created:%Y-%m-%d %H:%M}")
            print(f"{len(people)} volunteer(s)")
        elif args.action == "add":
            v, token = vol.add_volunteer(ws, args.name, args.role, args.display_name)
            print(f"added {v.role} {v.name!r} (id {v.id}). Sign-in token, shown only now:")
            print(token)
        elif args.action == "reset-token":
            token = vol.reset_token(ws, args.name)
            print(f"new sign-in token for {args.name!r} (the old one no longer works), "
                  "shown only now:")
            print(token)
        else:
            v = vol.set_active(ws, args.name, args.action == "enable")
            print(f"{v.name!r} is now {'enabled' if v.active else 'disabled'}")
    return 0
