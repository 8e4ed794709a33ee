"""prepare_candidates' parts alone: the de-duplication before any work and the recorder that
writes prepared candidates to the workspace in batches and counts the skipped ones."""

from __future__ import annotations

import logging

import numpy as np

from frbtriage.conventions import IMAGE_SHAPE
from frbtriage.io.candidates import Candidate
from frbtriage.prepare import PrepareSummary, _fresh_by_file, _Recorder
from frbtriage.workspace import NewCandidate, Workspace


class _Bar:
    """Counts the updates a tqdm bar would show."""

    def __init__(self) -> None:
        self.n = 0

    def update(self, n: int) -> None:
        self.n += n


def _new(i: int, padded: bool = False) -> NewCandidate:
    return NewCandidate(file="/d/a.fil", tcand=float(i), dm=100.0 + i, width=2, snr=8.0,
                        padded=padded)


def _images(i: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(IMAGE_SHAPE, i, np.float32), np.full(IMAGE_SHAPE, -i, np.float32)


def test_recorder_writes_full_batches_then_the_rest(tmp_path):
    with Workspace.create(tmp_path / "ws") as ws:
        summary, bar, calls = PrepareSummary(total=5), _Bar(), []
        rec = _Recorder(ws, summary, bar, batch_size=2, on_batch=calls.append)
        for i in range(5):
            rec.prepared(_new(i, padded=i == 3), *_images(i))
        assert calls == [2, 4] and len(ws) == 4  # the fifth waits for a full batch or a flush
        rec.flush()
        rec.flush()  # nothing pending: no write, no call
        assert calls == [2, 4, 5] and bar.n == 5
        assert (summary.added, summary.already, summary.padded) == (5, 0, 1)
        ft, dmt = ws.images(list(range(5)))
        assert [float(a[0, 0]) for a in ft] == [0, 1, 2, 3, 4]
        np.testing.assert_array_equal(dmt, -ft)
        assert summary.ids == sorted(summary.ids) and len(summary.ids) == 5


def test_recorder_counts_what_another_writer_stored_meanwhile(tmp_path):
    with Workspace.create(tmp_path / "ws") as ws:
        ws.append([_new(1, padded=True)], *(a[None] for a in _images(1)))
        summary = PrepareSummary(total=3)
        rec = _Recorder(ws, summary, _Bar(), batch_size=8)
        for i in range(3):
            rec.prepared(_new(i, padded=True), *_images(i))
        rec.flush()
        assert (summary.added, summary.already, summary.padded) == (2, 1, 2)
        assert len(ws) == 3


def test_recorder_skipped_is_counted_and_logged(tmp_path, caplog):
    with Workspace.create(tmp_path / "ws") as ws:
        summary, bar = PrepareSummary(total=1), _Bar()
        rec = _Recorder(ws, summary, bar, batch_size=2)
        c = Candidate(file="a.fil", tcand=1.5, dm=0.0, width=4, snr=9.0, label=None, origin="")
        with caplog.at_level(logging.WARNING, logger="frbtriage.prepare"):
            rec.skipped("/d/a.fil", c, "DM 0 <= 0")
        assert bar.n == 1 and len(ws) == 0
        assert str(summary.skipped[0]) in caplog.text
        assert summary.skipped[0].reason == "DM 0 <= 0"


def test_fresh_by_file_drops_stored_and_repeated_candidates(tmp_path):
    def cand(file: str, t: float) -> Candidate:
        return Candidate(file=file, tcand=t, dm=100.0 + t, width=2, snr=8.0, label=None,
                         origin="test")

    a, b = str(tmp_path / "a.fil"), str(tmp_path / "b.fil")
    with Workspace.create(tmp_path / "ws") as ws:
        ws.append([NewCandidate(a, 1.0, 101.0, 2, 8.0)], *(x[None] for x in _images(0)))
        todo, dropped = _fresh_by_file(ws, [cand(a, 3.0), cand(a, 1.0), cand(b, 2.0),
                                            cand(a, 2.0), cand(a, 3.0)])
    assert dropped == 2  # a@1 stored before, a@3 repeated
    assert list(todo) == [a, b]
    assert [c.tcand for c in todo[a]] == [2.0, 3.0] and [c.tcand for c in todo[b]] == [2.0]


def test_labels_keep_the_source_they_were_prepared_with(tmp_path, sim_obs):
    from frbtriage.io.candidates import read_candidates
    from frbtriage.prepare import prepare_candidates

    cands = read_candidates(sim_obs.candidates_path)[:6]
    with Workspace.create(tmp_path / "ws") as ws:
        prepare_candidates(ws, cands[:3], progress=False, label_source="simulation")
        prepare_candidates(ws, cands[3:], progress=False)
        recs = ws.candidates()
        assert [r.truth.source for r in recs] == ["simulation"] * 3 + ["list"] * 3
        assert sorted(r.label for r in recs) == sorted(c.label for c in cands)
        assert all(r.truth.ref == r.origin for r in recs)
