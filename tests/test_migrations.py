"""Schema migrations: a workspace written by the previous release opens and is upgraded,
in one transaction that a failure or a kill leaves undone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from frbtriage import db, migrations
from frbtriage.errors import InputError
from frbtriage.workspace import Workspace

FIXTURE = Path(__file__).parent / "fixtures" / "workspace_v1"


@pytest.fixture()
def old_ws(tmp_path: Path) -> Path:
    """A copy of the frozen schema-1 workspace (6 candidates, labels 1 0 - 1 0 -, 4 scores)."""
    dst = tmp_path / "ws"
    shutil.copytree(FIXTURE, dst)
    return dst


def _columns(path: Path, table: str) -> set[str]:
    eng = sa.create_engine(f"sqlite:///{path / 'triage.db'}")
    try:
        return {c["name"] for c in sa.inspect(eng).get_columns(table)}
    finally:
        eng.dispose()


def _dump(path: Path) -> str:
    """The database's SQL dump (tables and rows; not the journal mode in its header)."""
    import sqlite3

    conn = sqlite3.connect(path / "triage.db")
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def _version(path: Path) -> int:
    eng = sa.create_engine(f"sqlite:///{path / 'triage.db'}")
    try:
        return db.schema_version(eng)
    finally:
        eng.dispose()


def test_old_workspace_opens_and_upgrades(old_ws: Path) -> None:
    assert _version(old_ws) == 1 and "label" in _columns(old_ws, "candidates")
    with Workspace.open(old_ws) as ws:
        recs = ws.candidates()
        assert [r.label for r in recs] == [1, 0, None, 1, 0, None]
        lab = recs[0].truth
        assert (lab.source, lab.value, lab.weight, lab.ref) == ("list", 1.0, 1.0,
                                                                 "csv:/data/cands.csv")
        assert [r.padded for r in recs] == [False] * 5 + [True]
        assert all(r.dmt_available for r in recs)  # every earlier candidate has its dmt
        assert all(r.f_hi_mhz is None and r.pixel_s is None for r in recs)  # axes unknown
        with ws.session() as s:
            assert db.current_model(s).version == "fixture-model-v1"
            got = db.read_scores(s, "fixture-model-v1")
        assert [round(r.p_astro, 3) for r in got] == [0.9, 0.1, 0.5, 0.8]
        ft, dmt = ws.candidate_images(recs[2].id)
        assert ft[0, 130] == 3.0 and dmt[128, 0] == 4.0
    assert _version(old_ws) == db.SCHEMA_VERSION
    assert "label" not in _columns(old_ws, "candidates")
    assert (old_ws / "triage.db.v1.bak").is_file()
    with Workspace.open(old_ws) as ws:  # opening again changes nothing
        assert len(ws) == 6 and [r.label for r in ws.candidates()][:2] == [1, 0]


def test_upgraded_schema_equals_the_declared_one(old_ws: Path, tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    Workspace.open(old_ws).close()
    eng = sa.create_engine(f"sqlite:///{old_ws / 'triage.db'}")
    try:
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.Base.metadata)
    finally:
        eng.dispose()
    assert diff == []


def test_a_failing_step_leaves_the_database_as_it_was(old_ws: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    before = _dump(old_ws)

    def broken(op, conn) -> None:  # noqa: ANN001
        migrations._v2(op, conn)
        raise ValueError("disk on fire")

    monkeypatch.setitem(migrations.STEPS, 2, broken)
    with pytest.raises(InputError, match="could not upgrade .* left unchanged"):
        Workspace.open(old_ws)
    assert _version(old_ws) == 1 and "label" in _columns(old_ws, "candidates")
    assert _dump(old_ws) == before


def test_a_kill_during_the_upgrade_leaves_the_old_database(old_ws: Path) -> None:
    marker = old_ws.parent / "in-step"
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from frbtriage import migrations
        from frbtriage.workspace import Workspace

        def slow(op, conn):
            migrations._v2(op, conn)       # the DDL and data move have run, not committed
            Path({str(marker)!r}).touch()
            time.sleep(60)

        migrations.STEPS[2] = slow
        Workspace.open({str(old_ws)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "upgrade process ended early"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert _version(old_ws) == 1 and "label" in _columns(old_ws, "candidates")
    with Workspace.open(old_ws) as ws:  # the next open upgrades it whole
        assert [r.label for r in ws.candidates()] == [1, 0, None, 1, 0, None]


def test_newer_schema_is_refused(old_ws: Path) -> None:
    eng = sa.create_engine(f"sqlite:///{old_ws / 'triage.db'}")
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    eng.dispose()
    with pytest.raises(InputError, match="schema version 99 is newer"):
        Workspace.open(old_ws)


def test_labels_have_provenance_and_one_per_source(tmp_path: Path) -> None:
    from frbtriage.workspace import NewCandidate

    z = np.zeros((3, 256, 256), np.float32)
    with Workspace.create(tmp_path / "ws") as ws:
        ids = ws.append([NewCandidate("/d/a.fil", 1.0 + i, 50.0, 2, 9.0, label=lab,
                                      label_source="simulation", origin="sim")
                         for i, lab in enumerate([1, 0, None])], z, z)
        with ws.session() as s, s.begin():
            db.set_labels(s, "expert", ids[:1], [0.0], ref="researcher:ada")
            db.set_labels(s, "votes", ids, [0.9, 0.2, 0.6], [5.0, 3.0, 2.5], ref="ds-em")
            db.set_labels(s, "votes", ids[2:], [0.7], [4.0], ref="ds-em")  # replaces
        recs = ws.candidates()
        assert [r.label for r in recs] == [0, 0, None]  # expert outranks the simulation
        assert recs[0].truth.ref == "researcher:ada"
        assert recs[0].label_from("simulation").value == 1.0
        assert [(r.label_from("votes").value, r.label_from("votes").weight) for r in recs] == [
            (0.9, 5.0), (0.2, 3.0), (0.7, 4.0)]
        with ws.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(db.LabelRecord)) == 6
        with ws.session() as s, pytest.raises(ValueError, match="source"):
            db.set_labels(s, "gossip", ids, [1, 1, 1])
        with ws.session() as s, pytest.raises(ValueError, match=r"\[0, 1\]"):
            db.set_labels(s, "expert", ids[:1], [1.5])
        with pytest.raises(ValueError, match="label_source"):
            ws.append([NewCandidate("/d/b.fil", 1.0, 50.0, 2, 9.0, label=1,
                                    label_source="votes")], z[:1], z[:1])
