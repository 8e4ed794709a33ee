"""The one error type the CLI turns into a single line and exit code 2."""

from __future__ import annotations

import os


class InputError(Exception):
    """Bad user input: a missing, truncated or malformed file, or an impossible parameter.

    ``str(err)`` is ``"<path>: <what is wrong>"``; the CLI prints it after
    ``frbtriage: error: `` and exits with code 2.
    """

    def __init__(self, path: str | os.PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")
