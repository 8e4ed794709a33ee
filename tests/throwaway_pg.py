"""A throw-away PostgreSQL server for the tests (fixtures ``pg_server``, ``pg_url`` and
``db_url`` in ``conftest.py``).

:func:`start_server` runs ``initdb`` (trust authentication, superuser ``postgres``) into a
fresh temporary folder, starts the server with ``pg_ctl -w`` listening only on 127.0.0.1 on
a free port (its unix socket also in that folder), and creates one database.
:meth:`PgServer.stop` stops it and deletes the folder. Durability is switched off
(``fsync``, ``synchronous_commit``, ``full_page_writes``): nothing here outlives the run.

The stopping is done by a guard: a small process (this file run as a script, in a session
of its own so that Ctrl-C does not reach it) that blocks reading a pipe whose write end
only the test process holds (and children it forks, while they live). The pipe ends when
:meth:`PgServer.stop` closes it *or* when the test process dies in any way (SIGTERM from a
CI timeout, SIGKILL); either way the guard stops the server and deletes the folder, so no
server outlives the tests.

The server binaries come from Debian's ``/usr/lib/postgresql/VERSION/bin`` (the newest
version) or else from ``PATH``. PostgreSQL refuses to run as root, so as root every server
command runs as the ``postgres`` system user the Debian package creates, and the folder is
made theirs. Nothing touches a system cluster or systemd.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Superuser that ``initdb`` creates; with trust authentication it needs no password.
SUPERUSER = "postgres"
#: System user that runs the server when the tests run as root.
SYSTEM_USER = "postgres"
#: Database created at start.
DEFAULT_DB = "frbtriage"
_START_TRIES = 3
_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: the newest Debian one, else ``PATH``'s;
    None when PostgreSQL's server is not installed."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                    key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)])
    if debian:
        return debian[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (another process may take it before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running throw-away server: ``root`` (temporary folder: ``data/``, ``sock/``,
    ``server.log``), ``port`` on 127.0.0.1, ``guard`` (the process that stops it)."""

    root: Path
    port: int
    guard: subprocess.Popen[bytes]

    def url(self, database: str = DEFAULT_DB) -> str:
        """SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement in autocommit mode (``CREATE``/``DROP DATABASE`` need it)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str) -> str:
        """Create the empty database ``name`` (a plain identifier); returns its URL."""
        _check_identifier(name)
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, ending any connection a test left open."""
        _check_identifier(name)
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and delete its folder (its guard does, once the pipe closes)."""
        _release(self.guard)


def start_server(bindir: Path) -> PgServer:
    """initdb + start a server from ``bindir`` (see the module doc) with database
    :data:`DEFAULT_DB`. Raises ``RuntimeError`` with the server's log when it fails."""
    root = Path(tempfile.mkdtemp(prefix="frbtriage-pg-"))
    guard = subprocess.Popen([sys.executable, __file__, str(root), str(bindir)],
                             stdin=subprocess.PIPE, start_new_session=True)
    try:
        (root / "sock").mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam(SYSTEM_USER)
            for p in (root, root / "sock"):
                os.chown(p, user.pw_uid, user.pw_gid)
        _run(bindir / "initdb", "-D", root / "data", "-U", SUPERUSER, "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync")
        for _ in range(_START_TRIES):
            server = PgServer(root, free_port(), guard)
            options = " ".join([f"-p {server.port}", f"-k {root / 'sock'}"]
                               + [f"-c {k}={v}" for k, v in _SERVER_SETTINGS.items()])
            try:
                _run(bindir / "pg_ctl", "-D", root / "data", "-l", root / "server.log",
                     "-o", options, "-w", "-t", "60", "start")
                break
            except RuntimeError:  # most likely the port was taken meanwhile: try another
                if (root / "data" / "postmaster.pid").exists():
                    raise
        else:
            log = (root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start in {_START_TRIES} tries:\n{log}")
        server.create_database(DEFAULT_DB)
        return server
    except BaseException:
        _release(guard)
        raise


def _release(guard: subprocess.Popen[bytes]) -> None:
    """Close the guard's pipe and wait for it to have stopped the server."""
    if guard.stdin is not None:
        guard.stdin.close()
    guard.wait(120)


def _guard(root: Path, bindir: Path) -> None:
    """Wait for the test process to close the pipe on stdin (or die), then stop the server
    in ``root`` if it runs and delete ``root``."""
    sys.stdin.buffer.read()
    try:
        if (root / "data" / "postmaster.pid").exists():
            _run(bindir / "pg_ctl", "-D", root / "data", "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check_identifier(name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")


def _run(*cmd: str | os.PathLike[str]) -> None:
    """Run a server command (as :data:`SYSTEM_USER` when root); ``RuntimeError`` with its
    output when it fails."""
    args = [str(c) for c in cmd]
    if os.geteuid() == 0:
        args = ["runuser", "-u", SYSTEM_USER, "--", *args]
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False, cwd="/")
    except FileNotFoundError as err:
        raise RuntimeError(f"{args[0]} not found") from err
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")


if __name__ == "__main__":
    _guard(Path(sys.argv[1]), Path(sys.argv[2]))
