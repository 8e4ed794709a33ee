"""frbtriage.review without Streamlit: serving by level, progress, feedback, permissions,
researcher queries and downloads, the dashboard, and the fast candidate picture."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from app_workspace import AppWorkspace, make_app_workspace

from frbtriage import db, review
from frbtriage.crowd.volunteers import authenticate, set_active
from frbtriage.crowd.votes import votes_of
from frbtriage.errors import InputError
from frbtriage.plots import burst_spectrum, candidate_raster, png_bytes, pulse_profile
from frbtriage.queue import retire


@pytest.fixture()
def aw(tmp_path: Path) -> Iterator[AppWorkspace]:
    w = make_app_workspace(tmp_path / "ws", levels="min_gold = 3\npromote_accuracy = 0.6")
    yield w
    w.ws.close()


def person(aw: AppWorkspace, role: str) -> int:
    return authenticate(aw.ws, aw.tokens[role]).id


def right_answer(aw: AppWorkspace, cid: int) -> str:
    return "astro" if aw.ws.candidate(cid).label == 1 else "rfi"


def test_level_rule_from_the_workspace_settings(aw: AppWorkspace, tmp_path: Path) -> None:
    assert review.level_rule(aw.ws) == review.LevelRule(promote_accuracy=0.6, min_gold=3)
    with pytest.raises(InputError, match="unknown level setting"):
        review.LevelRule.from_dict({"min_golds": 3})
    with pytest.raises(InputError, match="promote_accuracy"):
        review.LevelRule.from_dict({"promote_accuracy": 1.5})
    with pytest.raises(InputError, match="min_gold"):
        review.LevelRule.from_dict({"min_gold": 0})


def test_beginners_see_gold_then_confident_and_are_promoted(aw: AppWorkspace) -> None:
    ws, vid = aw.ws, person(aw, "volunteer")
    rule = review.level_rule(ws)
    assert review.progress(ws, vid, rule).level == 1
    seen = []
    for _ in range(3):  # three gold candidates come first, answered right
        cid = review.next_for(ws, vid, rule)
        assert ws.candidate(cid).label is not None
        receipt = review.cast_vote(ws, vid, cid, right_answer(aw, cid))
        assert receipt.known is not None and "You agree" in review.feedback(receipt)
        seen.append(cid)
    prog = review.progress(ws, vid, rule)
    assert (prog.gold, prog.gold_correct, prog.level) == (3, 3, 2)
    # level 2: the open queue's head (highest priority = most uncertain), not yet seen
    cid = review.next_for(ws, vid, rule)
    assert cid not in seen
    with ws.session() as s:
        top = max((q for q in s.query(db.QueueRecord).filter_by(retired=False)
                   if q.candidate_id not in seen), key=lambda q: (q.priority, -q.candidate_id))
    assert cid == top.candidate_id


def test_wrong_answers_keep_a_volunteer_at_level_one(aw: AppWorkspace) -> None:
    ws, vid = aw.ws, person(aw, "volunteer")
    for _ in range(4):
        cid = review.next_for(ws, vid)
        wrong = "rfi" if right_answer(aw, cid) == "astro" else "astro"
        receipt = review.cast_vote(ws, vid, cid, wrong)
        assert "Not what you said" in review.feedback(receipt)
    prog = review.progress(ws, vid)
    assert prog.level == 1 and prog.accuracy == 0.0
    assert "raise your accuracy" in prog.to_next_level()
    # level 1 also serves candidates the live model is sure of once gold runs out
    served = {review.next_for(ws, vid)}
    with ws.session() as s:
        sure = {r.candidate_id for r in db.read_scores(s, "app-test-model")
                if max(r.p_astro, 1 - r.p_astro) >= 0.9}
    gold = {c.id for c in ws.candidates() if c.label is not None}
    assert served <= sure | gold


def test_serving_keeps_the_unanswered_and_prefetches_the_next(aw: AppWorkspace) -> None:
    ws, vid = aw.ws, person(aw, "volunteer")
    cid = review.next_for(ws, vid)
    assert review.next_for(ws, vid) == cid  # a reload: same candidate
    upcoming = review.next_for(ws, vid, exclude=[cid])
    assert upcoming not in (None, cid)
    assert review.next_for(ws, vid) == cid  # the one on screen still comes first
    review.cast_vote(ws, vid, cid, "cant_tell")
    assert review.next_for(ws, vid) == upcoming
    retire(ws, [upcoming])  # a retired candidate is no longer served
    assert review.next_for(ws, vid) not in (cid, upcoming)


def test_everything_runs_out(tmp_path: Path) -> None:
    w = make_app_workspace(tmp_path / "small", n=6)
    vid = person(w, "volunteer")
    for _ in range(6):
        review.cast_vote(w.ws, vid, review.next_for(w.ws, vid), "rfi")
    assert review.next_for(w.ws, vid) is None
    w.ws.close()


def test_progress_counts_today_and_the_streak(aw: AppWorkspace) -> None:
    ws, vid = aw.ws, person(aw, "volunteer")
    for _ in range(3):
        review.cast_vote(ws, vid, review.next_for(ws, vid), "rfi")
    now = db.utcnow()
    with ws.session() as s, s.begin():  # spread them over yesterday and the day before
        for k, v in enumerate(s.query(db.VoteRecord).order_by(db.VoteRecord.id)):
            v.created = now - dt.timedelta(days=k)
    p = review.progress(ws, vid, now=now)
    assert (p.total, p.today, p.streak) == (3, 1, 3)
    assert review.progress(ws, vid, now=now + dt.timedelta(days=2)).streak == 0
    assert review.progress(ws, vid, now=now + dt.timedelta(days=1)).streak == 3


def test_permissions_are_checked_on_the_server(aw: AppWorkspace) -> None:
    ws = aw.ws
    vid, rid = person(aw, "volunteer"), person(aw, "researcher")
    with pytest.raises(PermissionError, match="researcher role"):
        review.set_expert_label(ws, vid, aw.ids[0], True)
    with pytest.raises(PermissionError, match="researcher role"):
        review.selection_h5_zip(ws, vid, aw.ids[:1])
    with pytest.raises(PermissionError, match="sign in"):
        review.require(ws, None)
    set_active(ws, "volunteer-1", False)
    with pytest.raises(PermissionError, match="disabled"):
        review.cast_vote(ws, vid, aw.ids[0], "astro")
    assert votes_of(ws) == []
    assert review.require(ws, rid, "researcher").role == "researcher"


def test_researcher_rows_filter_sort_and_export(aw: AppWorkspace) -> None:
    ws, vid, rid = aw.ws, person(aw, "volunteer"), person(aw, "researcher")
    cid = review.next_for(ws, vid)
    review.cast_vote(ws, vid, cid, "astro", tags=["repeating"])
    rows = review.candidate_rows(ws, review.CandidateFilter(tags=("repeating",)))
    assert [r["id"] for r in rows] == [cid] and rows[0]["agreement"] == 1.0
    flt = review.CandidateFilter(dm=(200, 300), snr=(10, None), sort_by="dm", descending=False)
    rows = review.candidate_rows(ws, flt)
    assert rows and all(200 <= r["dm"] <= 300 and r["snr"] >= 10 for r in rows)
    assert [r["dm"] for r in rows] == sorted(r["dm"] for r in rows)
    assert len(review.candidate_rows(ws, review.CandidateFilter(p_astro=(0.9, None)))) \
        == sum(1 for r in review.candidate_rows(ws) if r["p_astro"] >= 0.9)
    assert review.candidate_rows(ws, review.CandidateFilter(votes=(1, None)))[0]["id"] == cid
    assert review.candidate_rows(ws, review.CandidateFilter(file_contains="obs1"))[0]["file"] \
        == "/data/obs1.fil"
    with pytest.raises(InputError):
        review.candidate_rows(ws, review.CandidateFilter(sort_by="name"))
    text = review.selection_csv(rows).decode()
    assert text.splitlines()[0].split(",") == list(review.ROW_COLUMNS)
    assert len(text.splitlines()) == len(rows) + 1
    data = review.selection_h5_zip(ws, rid, [r["id"] for r in rows[:2]])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
    assert len(names) == 2 and all(n.endswith(".h5") for n in names)
    with pytest.raises(InputError, match="at most"):
        review.selection_h5_zip(ws, rid, range(1, review.MAX_H5_ZIP + 2))


def test_researcher_rows_filter_and_sort_by_dispersion_index(aw: AppWorkspace) -> None:
    """The measured sweep exponent is a column: a range keeps the measured ones inside it,
    and sorting by it puts the unmeasured last."""
    ws = aw.ws
    a, b = aw.ids[0], aw.ids[1]
    with ws.session() as s, s.begin():
        s.get(db.CandidateRecord, a).dispersion_index = 2.001
        s.get(db.CandidateRecord, b).dispersion_index = 1.42
    rows = review.candidate_rows(ws, review.CandidateFilter(dispersion_index=(1.95, 2.05)))
    assert [r["id"] for r in rows] == [a]
    rows = review.candidate_rows(ws, review.CandidateFilter(sort_by="dispersion_index"))
    assert [r["id"] for r in rows[:2]] == [a, b] and rows[2]["dispersion_index"] is None


def test_detail_neighbours_and_expert_label(aw: AppWorkspace) -> None:
    ws, rid = aw.ws, person(aw, "researcher")
    cid = aw.ids[4]
    d = review.candidate_detail(ws, cid)
    assert set(d.scores) == {"app-test-model"} and d.votes == {"astro": 0, "rfi": 0,
                                                               "cant_tell": 0}
    rec = ws.candidate(cid)
    assert d.dispersion.describe().startswith("dispersion index")  # measured or why not
    for n in d.neighbours:
        assert n.file == rec.file and abs(n.tcand - rec.tcand) <= 1.0 and n.id != cid
    review.set_expert_label(ws, rid, cid, True)
    truth = ws.candidate(cid).truth
    assert (truth.source, truth.value, truth.ref) == ("expert", 1.0, "researcher:researcher-1")
    assert cid in {e.candidate_id for e in review.field_guide(ws, per_class=100)}


def test_dashboard_numbers(aw: AppWorkspace) -> None:
    ws, vid = aw.ws, person(aw, "volunteer")
    empty = review.dashboard(ws)
    assert empty.volunteers == [] and empty.votes_per_day == [] and empty.agreement is None
    for _ in range(3):
        review.cast_vote(ws, vid, review.next_for(ws, vid), "astro", tags=["something_weird"])
    d = review.dashboard(ws)
    assert [m.status for m in d.models] == ["current"]
    assert d.votes_per_day[0][1] == 3 and d.volunteers[0]["votes"] == 3
    assert len(d.weird) == 3 and d.queue_open > 0 and d.retired == 0


def test_describe_speaks_plainly(aw: AppWorkspace) -> None:
    words = " ".join(review.describe(aw.ws.candidate(aw.ids[0])))
    assert "Dispersion measure" in words and "Signal-to-noise" in words and "ms" in words


def test_picture_cache_renders_once(aw: AppWorkspace) -> None:
    cache = review.PictureCache(aw.ws, size=2)
    cache.prefetch(aw.ids[0])
    png = cache.get(aw.ids[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and cache.get(aw.ids[0]) is png
    for cid in aw.ids[1:4]:
        cache.get(cid)
    assert cache.get(aw.ids[0]) is not png  # evicted, rendered again
    cache.close()


def test_candidate_raster_layout() -> None:
    rng = np.random.default_rng(0)
    ft = rng.standard_normal((64, 32)).astype(np.float32)
    ft[:, 16] += 10
    ft[:10, 16] += 10  # the top channels are brighter during the burst
    dmt = rng.standard_normal((64, 32)).astype(np.float32)
    img = candidate_raster(ft, dmt, strip=20, gap=4)
    assert img.shape == (20 + 4 + 64, 32 + 4 + 20 + 16 + 32, 3) and img.dtype == np.uint8
    assert int(np.argmax(pulse_profile(ft))) == 16
    spec = burst_spectrum(ft)
    assert spec.shape == (64,) and spec[:10].mean() > spec[10:].mean()
    assert (img[0, 16] != 255).any()  # the profile's peak reaches the top of its strip
    assert png_bytes(img)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="same shape"):
        candidate_raster(ft, dmt[:32])
