"""The model registry of a workspace: every model version, which one is live, and the gate a
retrained model must pass to replace it.

Each version is a row of the ``models`` table (:class:`frbtriage.db.ModelRecord`): its
folder (safetensors + ``config.json``), the weights' SHA-256, a status, its metrics, the
version it was retrained from (``parent``) and what it was trained on (``training``).
Statuses: ``current`` (the live model: at most one), ``candidate`` (registered, e.g. by
scoring, never live), ``retired`` (was live, replaced), ``rejected`` (retrained but refused
by the gate). ``score``, ``rank --workspace`` and the queue use the live model; a workspace
with none uses the model shipped with frbtriage, registered as live on first use.

The gate (:func:`gate`): a retrained model is promoted only when, on the same fixed
evaluation set, it is not worse than the live model on ROC AUC and on expected calibration
error, and better on at least one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from frbtriage import db
from frbtriage.errors import InputError

if TYPE_CHECKING:
    import datetime as dt

    import torch

    from frbtriage.model.config import LoadedModel
    from frbtriage.workspace import Workspace


@dataclass(frozen=True)
class ModelInfo:
    """A registered model as plain values; ``metrics`` and ``training`` parsed from JSON."""

    version: str
    path: str
    sha256: str
    status: str
    parent: str | None
    metrics: dict[str, Any]
    training: dict[str, Any]
    created: dt.datetime

    @classmethod
    def of(cls, rec: db.ModelRecord) -> ModelInfo:
        """The plain values of a database record."""
        return cls(rec.version, rec.path, rec.sha256, rec.status, rec.parent,
                   json.loads(rec.metrics or "{}"), json.loads(rec.training or "{}"),
                   db.as_utc(rec.created))


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict: ``promote`` and the ``reason`` in words."""

    promote: bool
    reason: str


def gate(candidate: dict[str, float], live: dict[str, float]) -> GateDecision:
    """Compare two evaluations on the same set (dicts with ``roc_auc`` and ``ece``): promote
    when the candidate is not worse on either and better on at least one."""
    ca, la = float(candidate["roc_auc"]), float(live["roc_auc"])
    ce, le = float(candidate["ece"]), float(live["ece"])
    if not all(math.isfinite(x) for x in (ca, la, ce, le)):
        return GateDecision(False, "an evaluation is undefined (one class missing?)")
    words = f"AUC {ca:.4f} vs {la:.4f}, ECE {ce:.4f} vs {le:.4f}"
    if ca < la or ce > le:
        return GateDecision(False, f"worse than the live model ({words})")
    if ca == la and ce == le:
        return GateDecision(False, f"no better than the live model ({words})")
    return GateDecision(True, f"better than the live model ({words})")


def register(ws: Workspace, model_dir: str | Path, *, status: str = "candidate",
             parent: str | None = None, training: dict[str, Any] | None = None,
             metrics: dict[str, Any] | None = None) -> ModelInfo:
    """Register (or update) the model saved in ``model_dir`` with ``status``; ``metrics``
    default to those in its ``config.json``. ``status="current"`` retires the live one."""
    from frbtriage.model.config import load_config

    folder = Path(model_dir).resolve()
    cfg = load_config(folder)
    with ws.session() as s, s.begin():
        rec = db.register_model(s, cfg.version, path=str(folder), sha256=cfg.weights_sha256,
                                status=status, metrics=json.dumps(metrics or cfg.metrics),
                                parent=parent)
        rec.training = json.dumps(training or {})
    return ModelInfo.of(rec)


def list_models(ws: Workspace) -> list[ModelInfo]:
    """Every registered model, oldest first."""
    with ws.session() as s:
        return [ModelInfo.of(r) for r in s.scalars(
            select(db.ModelRecord).order_by(db.ModelRecord.created, db.ModelRecord.version))]


def _get(ws: Workspace, version: str) -> ModelInfo:
    for m in list_models(ws):
        if m.version == version:
            return m
    raise InputError(ws.path, f"no model version {version!r} in the registry "
                              "(frbtriage models lists them)")


def _check_files(info: ModelInfo) -> None:
    """:class:`InputError` unless ``info``'s folder holds weights with its SHA-256."""
    from frbtriage.model.config import WEIGHTS_NAME, sha256_file

    wpath = Path(info.path) / WEIGHTS_NAME
    if not wpath.is_file():
        raise InputError(wpath, f"weights of model {info.version} are missing")
    if sha256_file(wpath) != info.sha256:
        raise InputError(wpath, f"weights of model {info.version} do not match the SHA-256 "
                                "the registry recorded; refusing to make it live")


def promote(ws: Workspace, version: str) -> ModelInfo:
    """Make ``version`` the live model (its files are checked first); returns it."""
    info = _get(ws, version)
    _check_files(info)
    with ws.session() as s, s.begin():
        rec = s.get(db.ModelRecord, version)
        db.register_model(s, version, path=rec.path, sha256=rec.sha256, status="current",
                          metrics=rec.metrics, parent=rec.parent)
    return _get(ws, version)


def rollback(ws: Workspace, version: str | None = None) -> ModelInfo:
    """Make ``version`` live again, or (None) the live model's parent, else the most
    recently retired one; returns it."""
    if version is None:
        models = list_models(ws)
        live = next((m for m in models if m.status == "current"), None)
        retired = [m for m in models if m.status == "retired"]
        if live is not None and live.parent and any(m.version == live.parent for m in models):
            version = live.parent
        elif retired:
            version = retired[-1].version
        else:
            raise InputError(ws.path, "no earlier model to roll back to")
    return promote(ws, version)


def live_info(ws: Workspace) -> ModelInfo | None:
    """The live model's registry entry, or None."""
    with ws.session() as s:
        rec = db.current_model(s)
    return None if rec is None else ModelInfo.of(rec)


def live_model(ws: Workspace, device: str | torch.device = "cpu") -> LoadedModel:
    """Load the live model (checked against its SHA-256). A workspace with none gets the
    model shipped with frbtriage, registered as live."""
    from frbtriage.model.config import default_model_dir, load_model

    info = live_info(ws)
    if info is None:
        info = register(ws, default_model_dir(), status="current")
    _check_files(info)
    return load_model(info.path, device=device)
