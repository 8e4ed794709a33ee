"""Votes made elsewhere: the CSV importer (frbtriage.crowd.imports) and `frbtriage votes`."""

from __future__ import annotations

import csv
import datetime as dt
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frbtriage import cli, db
from frbtriage.crowd import imports
from frbtriage.crowd.imports import ImportSummary, import_votes
from frbtriage.crowd.volunteers import add_volunteer, authenticate, list_volunteers, set_active
from frbtriage.crowd.votes import votes_of
from frbtriage.errors import InputError
from frbtriage.workspace import NewCandidate, Workspace

HEADER = ["volunteer", "answer", "tags", "seconds", "created", "candidate_id", "file", "stime",
          "dm"]


def small_workspace(path: Path, data: Path) -> Workspace:
    """Five candidates of data files in ``data``: ids 2 and 3 share file, stime and DM (widths
    4 and 8 samples); id 5 has a known label."""
    data.mkdir(parents=True, exist_ok=True)
    obs, other = str(data / "obs.fil"), str(data / "other.fil")
    cands = [NewCandidate(obs, 1.5, 100.0, 4, 9.0), NewCandidate(obs, 2.5, 200.0, 4, 9.0),
             NewCandidate(obs, 2.5, 200.0, 8, 9.5), NewCandidate(other, 3.0, 50.0, 2, 7.0),
             NewCandidate(other, 4.0, 60.0, 2, 12.0, label=1, label_source="expert")]
    z = np.zeros((len(cands), 256, 256), np.float32)
    ws = Workspace.create(path)
    assert ws.append(cands, z, z) == [1, 2, 3, 4, 5]
    return ws


@pytest.fixture()
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = small_workspace(tmp_path / "ws", tmp_path / "data")
    yield w
    w.close()


def write_csv(path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER
              ) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def row(volunteer: str = "ada", answer: str = "astro", *, tags: str = "", seconds: object = "",
        created: str = "", cid: object = "", file: str = "", stime: object = "",
        dm: object = "") -> list[object]:
    return [volunteer, answer, tags, seconds, created, cid, file, stime, dm]


def retire_candidate(ws: Workspace, cid: int) -> None:
    with ws.session() as s, s.begin():
        s.add(db.QueueRecord(candidate_id=cid, priority=1.0, reason="random", retired=True))


def vote_count(ws: Workspace) -> int:
    with ws.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(db.VoteRecord)))


# --------------------------------------------------------------------------- matching


def test_votes_match_by_id_and_by_file_stime_dm(ws: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "votes.csv", [
        row("ada", "Astro", tags="repeater, weird", seconds="4.5",
            created="2024-03-01T12:00:00+01:00", cid=4),
        row("ada", "RFI", file="data/obs.fil", stime="1.50004", dm="100.004"),  # relative file
        row("bob", "can't tell", file=str(tmp_path / "data" / "obs.fil"), stime=1.5, dm=100),
        row("bob", "rfi", cid=2, file="./data/../data/obs.fil", stime=2.5, dm=200.0),
    ])
    summary = import_votes(ws, path)
    assert (summary.rows, summary.added, summary.already, summary.rejected,
            summary.volunteers_created) == (4, 4, 0, [], 2)
    people = {v.name: v.id for v in list_volunteers(ws)}
    got = {(v.volunteer_id, v.candidate_id): v for v in votes_of(ws)}
    assert set(got) == {(people["ada"], 4), (people["ada"], 1), (people["bob"], 1),
                        (people["bob"], 2)}
    first = got[people["ada"], 4]
    assert first.answer == "astro" and first.tags == ("repeating", "something_weird")
    assert first.seconds == 4.5 and first.model_version is None
    assert first.created == dt.datetime(2024, 3, 1, 11, 0, tzinfo=dt.UTC)
    assert first.source == f"import:{path}"
    assert got[people["bob"], 1].answer == "cant_tell"
    assert got[people["ada"], 1].seconds is None
    assert dt.datetime.now(dt.UTC) - got[people["ada"], 1].created < dt.timedelta(minutes=5)


def test_ambiguous_and_unknown_candidates_are_reported_not_guessed(ws: Workspace,
                                                                   tmp_path: Path) -> None:
    path = write_csv(tmp_path / "votes.csv", [
        row(cid=1),
        row(file="data/obs.fil", stime=2.5, dm=200),  # ids 2 and 3: widths 4 and 8
        row(file="data/obs.fil", stime=9.9, dm=200),  # nothing there
        row(file="data/nowhere.fil", stime=2.5, dm=200),
        row(cid=3),  # the id settles it
    ])
    summary = import_votes(ws, path)
    assert summary.added == 2 and [line for line, _ in summary.rejected] == [3, 4, 5]
    reasons = dict(summary.rejected)
    assert "2 stored candidates" in reasons[3] and "widths 4, 8 samples" in reasons[3]
    assert "give candidate_id" in reasons[3]
    assert reasons[4].startswith("no stored candidate at file, stime, dm")
    assert "9.9000 s" in reasons[4] and "nowhere.fil" in reasons[5]
    assert {v.candidate_id for v in votes_of(ws)} == {1, 3}


def test_reimporting_the_same_file_adds_nothing(ws: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "votes.csv", [
        row("ada", "astro", cid=1), row("ada", "rfi", cid=2), row("bob", "rfi", cid=1),
        row("bob", "astro", cid=1),  # the same volunteer and candidate again: kept as stored
    ])
    first = import_votes(ws, path)
    assert (first.added, first.already, first.volunteers_created) == (3, 1, 2)
    stored = votes_of(ws)
    # later the candidate retires and a volunteer is disabled: the old votes are still
    # "already there", not refused (cumulative exports re-import cleanly)
    retire_candidate(ws, 1)
    set_active(ws, "bob", False)
    again = import_votes(ws, path)
    assert (again.added, again.already, again.rejected, again.volunteers_created) == \
        (0, 4, [], 0)
    assert votes_of(ws) == stored
    assert [v.answer for v in stored if v.candidate_id == 1] == ["astro", "rfi"]


def test_good_rows_are_stored_and_bad_rows_reported_with_line_numbers(
        ws: Workspace, tmp_path: Path) -> None:
    add_volunteer(ws, "bob")
    set_active(ws, "bob", False)
    retire_candidate(ws, 4)
    path = write_csv(tmp_path / "votes.csv", [
        row("ada", "astro", cid=1),                        # 2 good
        row("ada", "maybe", cid=2),                        # 3 unknown answer
        row("ada", "rfi", tags="sparkly", cid=2),          # 4 unknown tag
        row("ada", "rfi", file="data/obs.fil", stime="abc", dm=100),  # 5 bad number
        row("ada", "rfi", seconds="-1", cid=2),            # 6 bad seconds
        row("ada", "rfi", cid=4),                          # 7 retired candidate
        row("bob", "rfi", cid=2),                          # 8 disabled volunteer
        row("ada", "rfi", cid=999),                        # 9 unknown id
        row("ada", "rfi", cid="two"),                      # 10 not an id
        row("ada", "rfi", cid=5, file="data/obs.fil", stime=1.5, dm=100),  # 11 id != key
        row("ada", "rfi", created="yesterday", cid=2),     # 12 bad time
        row("", "rfi", cid=2),                             # 13 no volunteer name
        row("ada", "rfi", cid=2) + ["extra"],              # 14 too many fields
        row("ada", "rfi"),                                 # 15 no candidate at all
        row("ada", "rfi", file="data/obs.fil", stime="inf", dm=100),  # 16 not finite
        row("cy", "rfi", tags="blank", cid=5),             # 17 good
        [],                                                # 18 blank line: skipped
        row("cy", "RFI", cid=2, seconds="1e400"),          # 19 bad seconds
        row("cy", "RFI", file="data/obs.fil", stime="1e305", dm=1),  # 20 overflows the key
        row("ada", "astro", cid=4),                        # 21 retired, again: refused again
    ])
    summary = import_votes(ws, path)
    assert (summary.rows, summary.added, summary.already) == (19, 2, 0)
    reasons = dict(summary.rejected)
    assert list(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21]
    expect = {3: "unknown answer 'maybe'", 4: "unknown tag 'sparkly'",
              5: "stime 'abc' is not a number", 6: "seconds taken must be >= 0",
              7: "vote refused: candidate 4 is retired", 8: "vote refused: volunteer 'bob' is "
              "disabled", 9: "vote refused: no candidate with id 999",
              10: "candidate_id 'two' is not a whole number",
              11: "candidate_id 5 is not the candidate at file, stime, dm",
              12: "'yesterday' is not an ISO 8601 time", 13: "volunteer name must be",
              14: "10 fields where the header has 9", 15: "no candidate_id and no file",
              16: "stime 'inf' is not a finite number",
              19: "seconds '1e400' is not a finite number",
              20: "stime '1e305' is out of range", 21: "vote refused: candidate 4 is retired"}
    for line, text in expect.items():
        assert reasons[line].startswith(text), (line, reasons[line])
    assert sorted((v.candidate_id, v.answer) for v in votes_of(ws)) == [(1, "astro"), (5, "rfi")]
    assert str(summary) == ("19 rows: 2 votes added, 0 already stored, 17 rejected; "
                            "2 volunteers created")


def test_imported_volunteers_have_no_token_and_existing_ones_are_reused(
        ws: Workspace, tmp_path: Path) -> None:
    ada, _ = add_volunteer(ws, "ada")
    path = write_csv(tmp_path / "votes.csv", [row(" ada ", cid=1), row("newbie", cid=1)])
    summary = import_votes(ws, path)
    assert summary.added == 2 and summary.volunteers_created == 1
    newbie = next(v for v in list_volunteers(ws) if v.name == "newbie")
    assert {v.volunteer_id for v in votes_of(ws)} == {ada.id, newbie.id}
    with pytest.raises(InputError, match="sign-in refused"):
        authenticate(ws, f"{newbie.id}.anything")


@pytest.mark.parametrize(("content", "problem"), [
    (None, "cannot read the file"),
    (b"", "empty file"),
    (b"\xff\xfe\x00garbage\n", "not a UTF-8 text file"),
    (b"volunteer,candidate_id\nada,1\n", "needs column(s) answer;"),
    (b"volunteer,answer,stime\nada,astro,1\n", "needs column(s) file, dm (or candidate_id)"),
    (b"volunteer,answer,candidate_id\nada,astro,\"" + b"x" * 200_000 + b"\"\n",
     "not a readable CSV file (line 2"),
])
def test_unreadable_files_and_missing_columns_raise(ws: Workspace, tmp_path: Path,
                                                    content: bytes | None,
                                                    problem: str) -> None:
    path = tmp_path / "votes.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match="^" + re.escape(str(path))) as err:
        import_votes(ws, path)
    assert problem in err.value.problem
    assert vote_count(ws) == 0 and not list_volunteers(ws)


def test_zooniverse_export_needs_its_columns(ws: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [["ada", "[]"]], header=["user_name", "annotations"])
    with pytest.raises(InputError, match=r"Zooniverse classification export needs column\(s\) "
                                         r"subject_data;"):
        import_votes(ws, path, zooniverse=True)


def test_interrupted_import_resumes(ws: Workspace, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure in the second batch leaves the first one stored whole; running the same
    import again stores exactly the rest."""
    path = write_csv(tmp_path / "votes.csv",
                     [row(f"v{k}", "rfi", cid=c) for k in range(3) for c in (1, 2, 3)])
    real, calls = imports._insert_new, []

    def dies_second_time(s, rows):  # noqa: ANN001, ANN202 - the patched function's signature
        calls.append(len(rows))
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a kill would, mid-transaction
        return real(s, rows)

    monkeypatch.setattr(imports, "_insert_new", dies_second_time)
    with pytest.raises(KeyboardInterrupt):
        import_votes(ws, path, batch_size=4)
    assert vote_count(ws) == 4
    monkeypatch.setattr(imports, "_insert_new", real)
    again = import_votes(ws, path, batch_size=4)
    assert (again.added, again.already, again.rejected) == (5, 4, [])
    assert vote_count(ws) == 9


@pytest.mark.slow
def test_sigkill_half_way_then_resume(tmp_path: Path) -> None:
    """SIGKILL an import of 40,000 votes after some batches are stored; running it again
    stores exactly the rest: every vote once, none lost."""
    small_workspace(tmp_path / "ws", tmp_path / "data").close()
    path = write_csv(tmp_path / "votes.csv", [row(f"v{k}", "rfi", cid=c)
                                              for k in range(8000) for c in range(1, 6)])
    code = ("import sys; from frbtriage.workspace import Workspace; "
            "from frbtriage.crowd.imports import import_votes; "
            "import_votes(Workspace.open(sys.argv[1]), sys.argv[2], batch_size=200)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "ws"), str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stored, deadline = 0, time.monotonic() + 120
    try:
        with Workspace.open(tmp_path / "ws") as w:
            while time.monotonic() < deadline and proc.poll() is None:
                stored = vote_count(w)
                if stored >= 1000:
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.02)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    with Workspace.open(tmp_path / "ws") as w:
        before = vote_count(w)
        assert 1000 <= before < 40_000 and before % 200 == 0  # whole batches only
        again = import_votes(w, path)
        assert (again.added, again.already, again.rejected) == (40_000 - before, before, [])
        assert vote_count(w) == 40_000


# --------------------------------------------------------------------------- the verb


def _one_error_line(err: str, path: Path | str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"frbtriage: error: {path}: "), lines[0]
    return lines[0]


def test_verb_prints_summary_and_rejected_lines(ws: Workspace, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "votes.csv", [row(cid=1), row(answer="maybe", cid=2)] +
                     [row(f"x{k}", cid=999) for k in range(12)])
    assert cli.main(["votes", "import", "-w", str(ws.path), str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 14 rows: 1 votes added, 0 already stored, 13 rejected" in out
    assert "  line 3: unknown answer 'maybe'" in out and "... and 3 more rejected rows" in out
    assert cli.main(["votes", "import", "-w", str(ws.path), str(path)]) == 0  # all already
    assert "0 votes added, 1 already stored" in capsys.readouterr().out


def test_verb_exit_codes(ws: Workspace, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_csv(tmp_path / "bad.csv", [["ada", "1"]], header=["volunteer", "candidate_id"])
    assert cli.main(["votes", "import", "-w", str(ws.path), str(bad)]) == 2
    assert "needs column(s) answer" in _one_error_line(capsys.readouterr().err, bad)
    missing = tmp_path / "missing.csv"
    assert cli.main(["votes", "import", "-w", str(ws.path), str(missing)]) == 2
    _one_error_line(capsys.readouterr().err, missing)
    rejected = write_csv(tmp_path / "rej.csv", [row(cid=999), row(answer="maybe", cid=1)])
    assert cli.main(["votes", "import", "-w", str(ws.path), str(rejected)]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err, rejected)
    assert "none of the 2 rows could be imported (first: line 2: vote refused: no candidate" \
        in line
    assert "line 3: unknown answer" in captured.out
    empty = write_csv(tmp_path / "empty.csv", [])
    assert cli.main(["votes", "import", "-w", str(ws.path), str(empty)]) == 0
    assert "0 rows: 0 votes added" in capsys.readouterr().out


# --------------------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def fuzz_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    base = tmp_path_factory.mktemp("fuzz")
    w = small_workspace(base / "ws", base / "data")
    yield w
    w.close()


def _check_outcome(ws: Workspace, path: Path, zooniverse: bool) -> None:
    try:
        summary = import_votes(ws, path, zooniverse=zooniverse)
    except InputError as err:
        assert err.path == str(path) and "\n" not in err.problem
        return
    assert isinstance(summary, ImportSummary)
    assert summary.rows == summary.added + summary.already + len(summary.rejected)
    assert all(isinstance(line, int) and line >= 2 for line, _ in summary.rejected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), zooniverse=st.booleans())
def test_fuzz_random_bytes(fuzz_ws: Workspace, data: bytes, zooniverse: bool) -> None:
    path = fuzz_ws.path.parent / "bytes.csv"
    path.write_bytes(data)
    _check_outcome(fuzz_ws, path, zooniverse)


_FIELD = st.one_of(
    st.sampled_from(["", "astro", "RFI", "cant tell", "maybe", "1", "2", "5", "0", "-1",
                     "999999999999999999999999", "1e400", "1e305", "nan", "-0", "2.5", "200",
                     "data/obs.fil", "/", "repeating,weird", "blank", "2024-01-01", "ada",
                     " bob ", "\x00", "\ud800", "zzz" * 50, '"', ",", "\n"]),
    st.text(max_size=12),
)
_PLAIN_HEADERS = st.lists(st.sampled_from(HEADER + ["other", "", "Volunteer"]), min_size=1,
                          max_size=10).map(lambda h: h + ["volunteer", "answer",
                                                          "candidate_id"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=_PLAIN_HEADERS,
       rows=st.lists(st.lists(_FIELD, max_size=14), max_size=8))
def test_fuzz_random_rows(fuzz_ws: Workspace, header: list[str], rows: list[list[str]]
                          ) -> None:
    path = fuzz_ws.path.parent / "rows.csv"
    with open(path, "w", newline="", encoding="utf-8", errors="surrogatepass") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    _check_outcome(fuzz_ws, path, zooniverse=False)


# --------------------------------------------------------------------------- speed


@pytest.mark.slow
def test_import_rate_20k_rows(tmp_path: Path) -> None:
    """20,000 votes by 400 volunteers on 500 candidates, half named by id and half by file,
    stime, dm: imported in one run; the re-import finds them all."""
    from test_crowd_store import make_workspace

    with make_workspace(tmp_path / "ws", n=500) as w:
        recs = w.candidates()
        rows = []
        for i in range(20_000):
            r = recs[i % 500]
            ref = dict(cid=r.id) if i % 2 else dict(file=r.file, stime=r.tcand, dm=r.dm)
            rows.append(row(f"v{i // 500}_{i % 10}", ("astro", "rfi", "cant_tell")[i % 3],
                            seconds="2.5", **ref))
        path = write_csv(tmp_path / "votes.csv", rows)
        t0 = time.perf_counter()
        summary = import_votes(w, path)
        seconds = time.perf_counter() - t0
        assert (summary.added, summary.rejected, summary.volunteers_created) == (20_000, [], 400)
        again = import_votes(w, path)
        assert (again.added, again.already) == (0, 20_000)
    print(f"\nimport_votes: 20000 rows in {seconds:.2f} s = {20_000 / seconds:.0f} rows/s")
    assert seconds < 30
