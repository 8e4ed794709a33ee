"""Volunteers, votes, the queue and consensus labels, through the workspace database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from frbtriage import db
from frbtriage.crowd.consensus import aggregate, label_rows, volunteer_rows
from frbtriage.crowd.retire import RetirementRule
from frbtriage.crowd.simulated import CrowdConfig, SimulatedCrowd
from frbtriage.crowd.volunteers import (
    add_volunteer,
    authenticate,
    ensure_volunteer,
    list_volunteers,
    reset_token,
    set_active,
)
from frbtriage.crowd.votes import submit_vote, votes_of
from frbtriage.errors import InputError
from frbtriage.queue import QueueConfig, fill_queue, next_candidate, open_count, retire
from frbtriage.workspace import NewCandidate, Workspace

MODEL = "test-model"


def make_workspace(path: Path | str, n: int = 120, url: str | None = None,
                   gold_every: int = 10, seed: int = 0) -> Workspace:
    """``n`` candidates with blank images; every ``gold_every``-th has a known (simulation)
    label; all scored by a current model ``MODEL`` with random p_astro / BALD."""
    rng = np.random.default_rng(seed)
    z = np.zeros((n, 256, 256), np.float32)
    ws = Workspace.create(path, url=url)
    ids = ws.append([NewCandidate(f"/d/obs{i % 3}.fil", 1.0 + 0.5 * i, 100.0 + i, 4, 8.0,
                                  label=(i // gold_every) % 2 if i % gold_every == 0 else None,
                                  label_source="simulation", origin="sim")
                     for i in range(n)], z, z)
    p = rng.random(n)
    with ws.session() as s, s.begin():
        db.register_model(s, MODEL, status="current")
        db.add_scores(s, MODEL, ids, p, 0.1 * rng.random(n), rng.random(n) * 0.3)
    return ws


@pytest.fixture()
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = make_workspace(tmp_path / "ws")
    yield w
    w.close()


def count_votes(ws: Workspace) -> int:
    with ws.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(db.VoteRecord)))


# --------------------------------------------------------------------------- volunteers


def test_volunteer_tokens(ws: Workspace) -> None:
    ada, token = add_volunteer(ws, "ada", role="researcher")
    assert ada.has_role("volunteer") and ada.has_role("researcher") and not ada.has_role("admin")
    assert authenticate(ws, token) == ada
    secret = token.split(".", 1)[1]
    with ws.session() as s:
        rec = s.get(db.VolunteerRecord, ada.id)
    assert secret not in (rec.token_hash, rec.token_salt) and len(rec.token_hash) == 64
    for bad in ("", "nonsense", f"{ada.id}.wrong", f"999.{secret}", token + "x"):
        with pytest.raises(InputError, match="sign-in refused"):
            authenticate(ws, bad)
    with pytest.raises(InputError, match="already exists"):
        add_volunteer(ws, "ada")
    with pytest.raises(InputError, match="role"):
        add_volunteer(ws, "bob", role="king")
    set_active(ws, "ada", False)
    with pytest.raises(InputError, match="sign-in refused"):
        authenticate(ws, token)
    set_active(ws, "ada", True)
    new = reset_token(ws, "ada")
    assert authenticate(ws, new).name == "ada"
    with pytest.raises(InputError, match="sign-in refused"):
        authenticate(ws, token)  # the old token stopped working
    with ws.session() as s, s.begin():
        imported, created = ensure_volunteer(s, "zoo_user")
    assert created and [v.name for v in list_volunteers(ws)] == ["ada", "zoo_user"]
    with pytest.raises(InputError, match="sign-in refused"):
        authenticate(ws, f"{imported.id}.anything")  # made by an import: no token yet


# --------------------------------------------------------------------------- votes


def test_one_vote_per_volunteer_and_candidate(ws: Workspace) -> None:
    v, _ = add_volunteer(ws, "ada")
    cid = ws.candidates()[1].id
    first = submit_vote(ws, v.id, cid, "RFI", tags="something weird", seconds=3.5,
                        model_version=MODEL)
    again = submit_vote(ws, v.id, cid, "astro")  # a double click or a retry
    assert first.stored and not again.stored and again.vote == first.vote
    assert first.vote.answer == "rfi" and first.vote.tags == ("something_weird",)
    assert first.known is None and count_votes(ws) == 1
    gold = ws.candidates()[0]  # a gold candidate: feedback after the answer
    assert submit_vote(ws, v.id, gold.id, "astro").known == gold.label


@pytest.mark.parametrize(("change", "match"), [
    ({"answer": "maybe"}, "unknown answer"),
    ({"tags": "sparkly"}, "unknown tag"),
    ({"seconds": -1.0}, "seconds"),
    ({"candidate_id": 10_000}, "no candidate with id 10000"),
    ({"volunteer_id": 77}, "no volunteer with id 77"),
])
def test_bad_votes_are_refused_and_nothing_is_stored(ws: Workspace, change: dict,
                                                     match: str) -> None:
    v, _ = add_volunteer(ws, "ada")
    args = {"volunteer_id": v.id, "candidate_id": ws.candidates()[3].id, "answer": "astro"}
    with pytest.raises(InputError, match=match):
        submit_vote(ws, **{**args, **change})
    assert count_votes(ws) == 0


def test_disabled_volunteer_and_retired_candidate_are_refused(ws: Workspace) -> None:
    from frbtriage.queue import retire

    v, _ = add_volunteer(ws, "ada")
    fill_queue(ws, QueueConfig(size=20))
    cid = next_candidate(ws, v.id)
    set_active(ws, "ada", False)
    with pytest.raises(InputError, match="disabled"):
        submit_vote(ws, v.id, cid, "astro")
    set_active(ws, "ada", True)
    retire(ws, [cid])
    with pytest.raises(InputError, match="retired"):
        submit_vote(ws, v.id, cid, "astro")
    assert count_votes(ws) == 0


# --------------------------------------------------------------------------- queue


def test_queue_mixes_gold_and_random_and_ranks_by_bald(ws: Workspace) -> None:
    summary = fill_queue(ws, QueueConfig(size=50, strategy="bald", gold_fraction=0.1,
                                         random_fraction=0.2, seed=1))
    assert summary.added == {"bald": 35, "dispersion": 0, "gold": 5, "random": 10}
    assert summary.open == 50
    with ws.session() as s:
        q = {r.candidate_id: r for r in s.scalars(sa.select(db.QueueRecord))}
        bald = {r.candidate_id: r.bald for r in db.read_scores(s, MODEL)}
    gold = {r.id for r in ws.candidates() if r.label is not None}
    assert {c for c, r in q.items() if r.reason == "gold"} <= gold
    acquired = [c for c, r in q.items() if r.reason == "bald"]
    rest = set(bald) - set(q) - gold
    assert min(bald[c] for c in acquired) >= max(bald[c] for c in rest)
    again = fill_queue(ws, QueueConfig(size=50))  # full already: nothing added
    assert sum(again.added.values()) == 0 and open_count(ws) == 50
    with pytest.raises(InputError, match="strategy"):
        fill_queue(ws, QueueConfig(strategy="psychic"))


def _set_checks(ws: Workspace, checks: dict[int, tuple[float, float, float]]) -> None:
    with ws.session() as s, s.begin():
        for cid, (index, err, delay) in checks.items():
            rec = s.get(db.CandidateRecord, cid)
            rec.dispersion_index, rec.dispersion_err, rec.dispersion_delay_s = index, err, delay


def test_a_burst_the_dispersion_check_rejects_is_queued_first(ws: Workspace,
                                                              tmp_path: Path) -> None:
    """The model says burst (p > 0.5) and the sweep is measured and not cold plasma's (a
    peryton at index 1.9, a reversed chirp): queued first as `dispersion`, above every BALD
    pick, whatever its BALD; the same check on a candidate the model already calls RFI, or
    a consistent or unmeasured sweep, changes nothing; `random` acquisition stays random."""
    with ws.session() as s:
        sc = {r.candidate_id: r for r in db.read_scores(s, MODEL)}
    gold = {r.id for r in ws.candidates() if r.label is not None}
    pool = sorted((c for c in sc if c not in gold), key=lambda c: sc[c].bald)
    low_bald_burst = [c for c in pool if sc[c].p_astro > 0.6][:2]  # the least uncertain
    rfi_like = next(c for c in pool if sc[c].p_astro < 0.4)
    fine = next(c for c in pool if sc[c].p_astro > 0.6 and c not in low_bald_burst)
    checks = {low_bald_burst[0]: (1.90, 0.01, 0.4), low_bald_burst[1]: (2.0, 0.01, -0.3),
              rfi_like: (1.5, 0.01, 0.4), fine: (2.001, 0.002, 0.4)}
    _set_checks(ws, checks)
    cfg = QueueConfig(size=10, strategy="bald", gold_fraction=0.0, random_fraction=0.0)
    assert fill_queue(ws, cfg).added == {"bald": 8, "dispersion": 2, "gold": 0, "random": 0}
    q = sorted(open_entries(ws), key=lambda r: -r.priority)
    assert {r.candidate_id for r in q[:2]} == set(low_bald_burst)
    assert {r.reason for r in q[:2]} == {"dispersion"} and {r.reason for r in q[2:]} == {"bald"}
    assert rfi_like not in {r.candidate_id for r in q}
    assert sum(fill_queue(ws, cfg).added.values()) == 0  # priorities refreshed: still first
    q = sorted(open_entries(ws), key=lambda r: -r.priority)
    assert {r.candidate_id for r in q[:2]} == set(low_bald_burst)

    other = make_workspace(tmp_path / "ws2")  # same candidates and scores, random acquisition
    try:
        _set_checks(other, checks)
        rnd = fill_queue(other, QueueConfig(size=100, strategy="random", gold_fraction=0.0,
                                            random_fraction=0.0))
        assert rnd.added["dispersion"] == 0 and rnd.added["random"] == 100
        assert {r.reason for r in open_entries(other)} == {"random"}
    finally:
        other.close()


def open_entries(ws: Workspace) -> list[db.QueueRecord]:
    with ws.session() as s:
        return list(s.scalars(sa.select(db.QueueRecord).where(db.QueueRecord.retired.is_(False))))


def test_gold_and_random_entries_are_interleaved_with_the_acquired(ws: Workspace) -> None:
    """Their priorities are drawn from the acquired entries' (not from the whole pool's, with
    BALD mostly below all of those, so they were never served) and drawn again when a later
    fill refreshes the scores (left as they were, they ranked above everything once the
    scores fell, and were served first)."""
    fill_queue(ws, QueueConfig(size=50, strategy="bald", gold_fraction=0.1,
                               random_fraction=0.2, seed=1))
    q = open_entries(ws)
    drawn = [r.priority for r in q if r.reason != "bald"]
    assert len(drawn) == 15 and set(drawn) <= {r.priority for r in q if r.reason == "bald"}
    with ws.session() as s, s.begin():  # a retrained model, far surer of everything
        old = db.read_scores(s, MODEL)
        db.register_model(s, "model-2", status="current")
        db.add_scores(s, "model-2", [r.candidate_id for r in old], [r.p_astro for r in old],
                      [r.p_std for r in old], [r.bald / 100 for r in old])
    assert sum(fill_queue(ws, QueueConfig(size=50, strategy="bald", seed=2)).added.values()) == 0
    q = open_entries(ws)
    acquired = {r.priority for r in q if r.reason == "bald"}
    assert max(acquired) < 0.003 and {r.priority for r in q if r.reason != "bald"} <= acquired


def test_gold_does_not_pile_up_in_the_queue(ws: Workspace) -> None:
    """Gold entries never retire, so a fill adds only the gold that the open queue lacks."""
    for seed in range(4):
        fill_queue(ws, QueueConfig(size=30, gold_fraction=0.2, random_fraction=0.0, seed=seed))
        q = open_entries(ws)
        assert len(q) == 30 and sum(r.reason == "gold" for r in q) == 6
        retire(ws, [r.candidate_id for r in q if r.reason != "gold"])  # as aggregate does


def test_next_candidate_never_repeats_and_keeps_unanswered(ws: Workspace) -> None:
    fill_queue(ws, QueueConfig(size=30, seed=2))
    a, _ = add_volunteer(ws, "ada")
    b, _ = add_volunteer(ws, "bob")
    first = next_candidate(ws, a.id)
    assert next_candidate(ws, a.id) == first  # reload: the unanswered one again
    assert next_candidate(ws, b.id) == first  # others may get it too
    seen = []
    cid = first
    while cid is not None:
        seen.append(cid)
        submit_vote(ws, a.id, cid, "rfi")
        cid = next_candidate(ws, a.id)
    assert len(seen) == len(set(seen)) == 30


def test_consensus_labels_and_retirement(ws: Workspace) -> None:
    fill_queue(ws, QueueConfig(size=100, gold_fraction=0.1, random_fraction=0.0))
    crowd = SimulatedCrowd(CrowdConfig(n_volunteers=12), seed=4)
    vols = [add_volunteer(ws, f"v{i}")[0] for i in range(12)]
    truth = {r.id: (r.id * 7919) % 5 == 0 for r in ws.candidates()}
    for k, v in enumerate(vols):
        for _ in range(40):
            cid = next_candidate(ws, v.id)
            if cid is None:
                break
            code = crowd.answer(k, 0 if truth[cid] else 1, 0.1)
            submit_vote(ws, v.id, cid, ("astro", "rfi", "cant_tell")[code])
    res = aggregate(ws, RetirementRule(min_votes=3, min_agreement=0.6, posterior=0.999))
    assert res.labelled > 0 and res.retired
    recs = {r.id: r for r in ws.candidates()}
    lab = recs[res.retired[0]].label_from("votes")
    assert lab.ref == "dawid-skene" and 0 <= lab.value <= 1 and lab.weight >= 1
    assert all(recs[c].label is None for c in res.retired)  # gold entries never retire
    assert open_count(ws) == 100 - len(res.retired)
    rows = label_rows(ws, res)
    assert len(rows) == len(res.result.items.items)
    agree = np.mean([int(r["label_votes"]) == int(truth[r["candidate_id"]]) for r in rows
                     if r["gold"] == ""])
    assert agree > 0.8
    people = volunteer_rows(ws, res)
    assert {p["name"] for p in people} == {v.name for v in vols}
    assert sum(p["votes"] for p in people) == count_votes(ws)
    again = aggregate(ws, RetirementRule(min_votes=3, min_agreement=0.6, posterior=0.999))
    assert again.labelled == res.labelled and not again.retired
    with ws.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(db.LabelRecord).where(
            db.LabelRecord.source == "votes")) == res.labelled


# --------------------------------------------------------------------------- concurrency


def concurrent_voting(ws: Workspace, voters: int = 50, votes_each: int = 100
                      ) -> tuple[float, list[BaseException]]:
    """``voters`` threads, each a volunteer taking ``votes_each`` candidates from the queue
    and voting on each, every 7th vote submitted twice (a double click). Returns the
    seconds taken and the errors raised in threads."""
    vols = [add_volunteer(ws, f"voter{i}")[0] for i in range(voters)]
    errors: list[BaseException] = []
    start = threading.Barrier(voters)

    def vote(k: int) -> None:
        try:
            start.wait()
            for j in range(votes_each):
                cid = next_candidate(ws, vols[k].id)
                assert cid is not None, "queue ran dry"
                answer = ("astro", "rfi", "cant_tell")[(k + j) % 3]
                submit_vote(ws, vols[k].id, cid, answer, seconds=1.0)
                if j % 7 == 0:
                    assert not submit_vote(ws, vols[k].id, cid, answer).stored
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    threads = [threading.Thread(target=vote, args=(k,)) for k in range(voters)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, errors


def check_concurrent_votes(ws: Workspace, label: str) -> None:
    fill_queue(ws, QueueConfig(size=150, gold_fraction=0.0, random_fraction=0.0))
    seconds, errors = concurrent_voting(ws)
    assert not errors, errors[:3]
    with ws.session() as s:
        n = s.scalar(sa.select(sa.func.count()).select_from(db.VoteRecord))
        pairs = s.scalar(sa.select(sa.func.count()).select_from(
            sa.select(db.VoteRecord.volunteer_id, db.VoteRecord.candidate_id).distinct()
            .subquery()))
    assert n == pairs == 5000
    print(f"\n{label}: 50 voters x 100 votes: 5000 stored, 0 lost, 0 duplicated, "
          f"{5000 / seconds:.0f} votes/s (next_candidate + submit_vote, double submits "
          f"included)")


@pytest.mark.slow
def test_fifty_concurrent_voters_sqlite(tmp_path: Path) -> None:
    with make_workspace(tmp_path / "ws", n=200) as w:
        check_concurrent_votes(w, "SQLite (WAL)")
        assert len(votes_of(w, volunteer_id=1)) == 100


@pytest.mark.slow
def test_fifty_concurrent_voters_postgres(pg_url: str, tmp_path: Path) -> None:
    with make_workspace(tmp_path / "ws", n=200, url=pg_url) as w:
        check_concurrent_votes(w, "PostgreSQL")
