"""Volunteers: who may vote, with which role, and how they sign in.

A volunteer signs in with a token printed once when they are added
(:func:`add_volunteer`) or when it is reset (:func:`reset_token`). The token is
``<id>.<secret>``; the database keeps only ``scrypt(secret, salt)`` and the salt, and a
sign-in compares hashes in constant time. A volunteer made by a vote import has no token
and cannot sign in until one is reset. Disabled volunteers can neither sign in nor vote;
their past votes stay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from frbtriage import db
from frbtriage.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from frbtriage.workspace import Workspace

#: scrypt cost: 2^14 iterations of 8 x 128-byte blocks = 16 MiB and ~50 ms per check.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_SECRET_BYTES = 24
_NAME_MAX = 128


@dataclass(frozen=True)
class Volunteer:
    """A volunteer as plain values (never the token or its hash)."""

    id: int
    name: str
    display_name: str
    role: str
    active: bool
    created: dt.datetime

    def has_role(self, role: str) -> bool:
        """True when this volunteer's role is ``role`` or more privileged (:data:`db.ROLES`)."""
        return db.ROLES.index(self.role) >= db.ROLES.index(role)

    @classmethod
    def of(cls, rec: db.VolunteerRecord) -> Volunteer:
        """The plain values of a database record."""
        return cls(rec.id, rec.name, rec.display_name, rec.role, bool(rec.active),
                   db.as_utc(rec.created))


def _hash(secret: str, salt_hex: str) -> str:
    return hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT).hex()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > _NAME_MAX or not name.isprintable():
        raise InputError(None, f"volunteer name must be 1-{_NAME_MAX} printable characters, "
                               f"got {name!r}")
    return name


def _check_role(role: str) -> str:
    if role not in db.ROLES:
        raise InputError(None, f"role must be one of {', '.join(db.ROLES)}, got {role!r}")
    return role


def _new_token(rec: db.VolunteerRecord) -> str:
    """Give ``rec`` (which has an id) a fresh token; returns it (shown once)."""
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    rec.token_salt = secrets.token_hex(16)
    rec.token_hash = _hash(secret, rec.token_salt)
    return f"{rec.id}.{secret}"


def _by_name(s: Session, name: str) -> db.VolunteerRecord:
    rec = s.scalars(select(db.VolunteerRecord).where(db.VolunteerRecord.name == name)).first()
    if rec is None:
        raise InputError(None, f"no volunteer named {name!r}")
    return rec


def add_volunteer(ws: Workspace, name: str, role: str = "volunteer",
                  display_name: str | None = None) -> tuple[Volunteer, str]:
    """Add a volunteer; returns it and its sign-in token (shown once, never stored).

    :class:`InputError` if the name is taken or invalid or the role unknown.
    """
    name, role = _check_name(name), _check_role(role)
    try:
        with ws.session() as s, s.begin():
            rec = db.VolunteerRecord(name=name, display_name=display_name or name, role=role,
                                     active=True, created=db.utcnow())
            s.add(rec)
            s.flush()
            token = _new_token(rec)
    except IntegrityError as err:
        raise InputError(None, f"a volunteer named {name!r} already exists") from err
    return Volunteer.of(rec), token


def reset_token(ws: Workspace, name: str) -> str:
    """A new sign-in token for volunteer ``name`` (the old one stops working)."""
    with ws.session() as s, s.begin():
        return _new_token(_by_name(s, name))


def ensure_volunteer(s: Session, name: str) -> tuple[db.VolunteerRecord, bool]:
    """The record of volunteer ``name`` in session ``s``, created without a token (role
    ``volunteer``) if missing; returns ``(record, created)``. The caller commits."""
    name = _check_name(name)
    rec = s.scalars(select(db.VolunteerRecord).where(db.VolunteerRecord.name == name)).first()
    if rec is not None:
        return rec, False
    rec = db.VolunteerRecord(name=name, display_name=name, role="volunteer", token_hash="",
                             token_salt="", active=True, created=db.utcnow())
    s.add(rec)
    s.flush()
    return rec, True


def authenticate(ws: Workspace, token: str) -> Volunteer:
    """The active volunteer whose token this is.

    Any failure (malformed, unknown, wrong secret, disabled, no token set) raises the same
    :class:`InputError`, so a guesser learns nothing about which part was wrong.
    """
    refused = InputError(None, "sign-in refused: unknown token or disabled volunteer")
    vid, _, secret = (token or "").strip().partition(".")
    if not vid.isdigit() or not secret:
        raise refused
    with ws.session() as s:
        rec = s.get(db.VolunteerRecord, int(vid))
    if rec is None or not rec.token_hash:
        _hash(secret, "00" * 16)  # same work as a real check: no timing oracle on ids
        raise refused
    ok = hmac.compare_digest(_hash(secret, rec.token_salt), rec.token_hash)
    if not ok or not rec.active:
        raise refused
    return Volunteer.of(rec)


def get_volunteer(ws: Workspace, volunteer_id: int) -> Volunteer:
    """Volunteer ``volunteer_id``; :class:`InputError` if there is none."""
    with ws.session() as s:
        rec = s.get(db.VolunteerRecord, int(volunteer_id))
    if rec is None:
        raise InputError(None, f"no volunteer with id {volunteer_id}")
    return Volunteer.of(rec)


def list_volunteers(ws: Workspace) -> list[Volunteer]:
    """Every volunteer, by id."""
    with ws.session() as s:
        return [Volunteer.of(r) for r in
                s.scalars(select(db.VolunteerRecord).order_by(db.VolunteerRecord.id))]


def set_active(ws: Workspace, name: str, active: bool) -> Volunteer:
    """Enable or disable volunteer ``name``; returns it."""
    with ws.session() as s, s.begin():
        rec = _by_name(s, name)
        rec.active = bool(active)
    return Volunteer.of(rec)
