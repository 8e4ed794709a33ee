"""Checks on output paths, made before any long work starts (so a typo in ``-o`` fails at once
with one clear line instead of a traceback after an hour of searching)."""

from __future__ import annotations

import os
from pathlib import Path

from frbtriage.errors import InputError


def check_output_file(path: str | os.PathLike[str], *, create_parent: bool = False) -> Path:
    """``path`` as a :class:`Path` if a file can be written there, else :class:`InputError`.

    The path must not be a folder; its folder must exist (or, with ``create_parent``, be
    creatable) and be writable. Nothing is written except, with ``create_parent``, the
    missing parent folders.
    """
    out = Path(path)
    if out.is_dir():
        raise InputError(out, "is a folder; give an output file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        if not create_parent:
            raise InputError(out, f"folder {parent} does not exist")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(out, f"cannot create folder {parent}: {err.strerror}") from err
    if not parent.is_dir():
        raise InputError(out, f"{parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(out, f"folder {parent} is not writable")
    if out.exists() and not os.access(out, os.W_OK):
        raise InputError(out, "exists and is not writable")
    return out
