"""The workspace and its queries on PostgreSQL (a throw-away server, ``conftest.pg_server``).

Tests taking ``db_url`` run on SQLite and on PostgreSQL, so the two backends are held to the
same behaviour; the others need PostgreSQL itself (marked ``postgres`` by ``conftest``).
Known incompatibilities of our SQL are ``xfail(strict=True)`` with the reason, so that a fix
shows up as an unexpected pass.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from throwaway_pg import free_port

from frbtriage import db
from frbtriage.errors import InputError
from frbtriage.workspace import CONFIG_NAME, NewCandidate, Workspace


def _batch(n: int, seed: int = 0, t0: float = 1.0
           ) -> tuple[list[NewCandidate], np.ndarray, np.ndarray]:
    """``n`` candidates of ``/data/a.fil`` with random images."""
    rng = np.random.default_rng(seed)
    cands = [NewCandidate("/data/a.fil", t0 + 0.5 * i, 100.0 + i, 4, 8.0 + i,
                          label=[None, 0, 1][i % 3], padded=i == 1, origin="test")
             for i in range(n)]
    ft = rng.standard_normal((n, 256, 256)).astype(np.float32)
    dmt = rng.standard_normal((n, 256, 256)).astype(np.float32)
    return cands, ft, dmt


def test_workspace_end_to_end(db_url: str, tmp_path: Path) -> None:
    """Create on the URL, append with images, reopen from ``frbtriage.toml``, duplicates
    (exact and within the key's rounding) skipped, a new one appended after them."""
    cands, ft, dmt = _batch(5)
    with Workspace.create(tmp_path / "ws", url=db_url) as ws:
        assert ws.url == db_url and len(ws) == 0
        ids = ws.append(cands[:3], ft[:3], dmt[:3])
        assert len(ids) == 3 and len(ws) == 3
    assert db_url in (tmp_path / "ws" / CONFIG_NAME).read_text()
    with Workspace.open(tmp_path / "ws") as ws:
        recs = ws.candidates()
        assert [r.id for r in recs] == ids and [r.row for r in recs] == [0, 1, 2]
        assert [r.label for r in recs] == [None, 0, 1]
        assert [r.padded for r in recs] == [False, True, False]
        assert recs[2].tcand == 2.0 and recs[2].dm == 102.0 and recs[2].snr == 10.0
        assert ws.candidate(ids[1]).origin == "test"
        got_ft, got_dmt = ws.images([2, 0])
        np.testing.assert_array_equal(got_ft, ft[[2, 0]])
        np.testing.assert_array_equal(got_dmt, dmt[[2, 0]])
        assert ws.known_keys(["/data/a.fil"]) == {c.key() for c in cands[:3]}
        c0 = cands[0]
        near = NewCandidate(c0.file, c0.tcand + 1e-6, c0.dm + 1e-4, c0.width, c0.snr)
        new = ws.append([near, *cands], np.concatenate([ft[:1], ft]),
                        np.concatenate([dmt[:1], dmt]))
        assert len(new) == 2 and len(ws) == 5
        assert ws.ids_of([c.key() for c in cands]) == dict(
            zip([c.key() for c in cands], ids + new, strict=True))
        np.testing.assert_array_equal(ws.candidate_images(new[1])[1], dmt[4])
        assert ws.append(cands, ft, dmt) == []


def test_scores_and_models(db_url: str, tmp_path: Path) -> None:
    """register_model / current_model, add_scores (insert, then replace), read_scores and
    unscored_candidates (with a limit)."""
    with Workspace.create(tmp_path / "ws", url=db_url) as ws:
        ids = ws.append(*_batch(4))
        with ws.session() as s, s.begin():
            db.register_model(s, "cnn-aaa", path="/m/a", sha256="ab" * 32, status="current")
            assert db.add_scores(s, "cnn-aaa", ids[:2], [0.9, 0.1], [0.05, 0.02],
                                 [0.01, 0.0]) == 2
        with ws.session() as s:
            assert db.current_model(s).path == "/m/a"
            rows = db.read_scores(s, "cnn-aaa")
            assert [(r.candidate_id, r.model_version) for r in rows] == [
                (ids[0], "cnn-aaa"), (ids[1], "cnn-aaa")]
            assert (rows[0].p_astro, rows[0].p_std, rows[0].bald) == (0.9, 0.05, 0.01)
            assert [c.id for c in db.unscored_candidates(s, "cnn-aaa")] == ids[2:]
            assert [c.id for c in db.unscored_candidates(s, "cnn-bbb", limit=3)] == ids[:3]
        with ws.session() as s, s.begin():
            db.add_scores(s, "cnn-aaa", ids[1:], [0.5, 0.6, 0.7], [0.1] * 3, [0.2] * 3)
            db.add_scores(s, "cnn-bbb", ids, [0.2] * 4, [0.0] * 4, [0.0] * 4)
            db.register_model(s, "cnn-bbb", status="current", parent="cnn-aaa")
        with ws.session() as s:
            assert [r.p_astro for r in db.read_scores(s, "cnn-aaa", ids[1:3])] == [0.5, 0.6]
            assert db.unscored_candidates(s, "cnn-aaa") == []
            assert db.current_model(s).parent == "cnn-aaa"
            assert s.get(db.ModelRecord, "cnn-aaa").status == "retired"


def test_timestamps_are_utc_aware(pg_url: str, tmp_path: Path) -> None:
    """``DateTime(timezone=True)`` columns come back timezone-aware on PostgreSQL.
    (SQLite returns them naive: code comparing them must not mix the two.)"""
    with Workspace.create(tmp_path / "ws", url=pg_url) as ws:
        before = db.utcnow()
        (cid,) = ws.append(*_batch(1))
        created = ws.candidate(cid).created
        assert created.utcoffset() is not None and 0 <= (created - before).total_seconds() < 60


def test_unreachable_server_is_one_input_error(tmp_path: Path) -> None:
    """No server at the URL: InputError naming the database, no traceback to the user."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(InputError, match="not a usable frbtriage database"):
        Workspace.create(tmp_path / "ws", url=url)


def test_error_does_not_show_the_password(tmp_path: Path) -> None:
    """A database error message must not print the password of the URL."""
    url = f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(InputError) as err:
        Workspace.create(tmp_path / "ws", url=url)
    assert "s3cret" not in str(err.value)


def test_tcand_beyond_59_hours(pg_url: str, tmp_path: Path) -> None:
    """A candidate 3 days into a long recording stores as on SQLite."""
    with Workspace.create(tmp_path / "ws", url=pg_url) as ws:
        assert len(ws.append(*_batch(1, t0=3 * 86400.0))) == 1


def test_concurrent_rescoring_of_one_candidate(pg_url: str, tmp_path: Path) -> None:
    """Two sessions scoring the same candidate at once both succeed; the last commit wins."""
    with Workspace.create(tmp_path / "ws", url=pg_url) as ws:
        (cid,) = ws.append(*_batch(1))
        with ws.session() as s, s.begin():
            db.register_model(s, "cnn-aaa")
        errors: list[BaseException] = []

        def second_writer() -> None:
            try:
                with ws.session() as s, s.begin():
                    db.add_scores(s, "cnn-aaa", [cid], [0.2], [0.0], [0.0])
            except BaseException as err:  # handed to the test's thread
                errors.append(err)

        with ws.session() as first, first.begin():
            db.add_scores(first, "cnn-aaa", [cid], [0.1], [0.0], [0.0])  # row locked
            thread = threading.Thread(target=second_writer)
            thread.start()
            _wait_for_lock_wait(ws)
        thread.join(30)
        if errors:
            raise errors[0]
        with ws.session() as s:
            assert db.read_scores(s, "cnn-aaa")[0].p_astro == 0.2


def _wait_for_lock_wait(ws: Workspace, timeout: float = 10.0) -> None:
    """Return once a connection to ``ws``'s database waits for a lock (the second writer is
    blocked). Asks on a connection of its own, one transaction per look: a transaction sees
    a frozen snapshot of ``pg_stat_activity``."""
    q = text("SELECT count(*) FROM pg_stat_activity "
             "WHERE datname = current_database() AND wait_event_type = 'Lock'")
    end = time.monotonic() + timeout
    with ws.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while conn.execute(q).scalar_one() == 0:
            if time.monotonic() > end:
                raise TimeoutError("the second writer never waited for the first")
            time.sleep(0.05)
