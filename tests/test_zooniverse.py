"""Zooniverse interop: the candidate figure, the subject-set export and the classification
export coming back as votes (frbtriage.plots, frbtriage.crowd.zooniverse)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frbtriage import cli, db
from frbtriage.crowd.imports import ImportSummary, import_votes
from frbtriage.crowd.volunteers import list_volunteers
from frbtriage.crowd.votes import votes_of
from frbtriage.crowd.zooniverse import (
    MANIFEST_COLUMNS,
    MAX_IMAGE_BYTES,
    classification_seconds,
    export_zooniverse,
    field_name,
    image_name,
    parse_time,
    subject_metadata,
    volunteer_name,
)
from frbtriage.errors import InputError
from frbtriage.plots import candidate_figure, colour_limits, figure_png
from frbtriage.workspace import NewCandidate, Workspace

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def noisy_workspace(path: Path, data: Path, n: int = 6, seed: int = 1) -> Workspace:
    """``n`` candidates with noise images and a burst in the middle; candidates 1 and 2 share
    file, stime and DM (widths 2 and 4), the DMs are not round numbers."""
    rng = np.random.default_rng(seed)
    ft = rng.standard_normal((n, 256, 256), dtype=np.float32)
    dmt = rng.standard_normal((n, 256, 256), dtype=np.float32)
    ft[:, :, 128] += 4.0
    dmt[:, 120:136, 126:130] += 4.0
    fil = str(data / "obs.fil")
    cands = [NewCandidate(fil, 1.25 + i, 123.456789 + i, 2 ** (1 + i), 8.0 + i)
             for i in range(n)]
    cands[1] = NewCandidate(fil, 1.25, 123.456789, 4, 8.5)
    ws = Workspace.create(path)
    assert ws.append(cands, ft, dmt) == list(range(1, n + 1))
    return ws


@pytest.fixture()
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = noisy_workspace(tmp_path / "ws", tmp_path / "data")
    yield w
    w.close()


def read_manifest(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, skipinitialspace=True)  # as panoptes-cli reads it
        header = next(reader)
        assert tuple(header) == MANIFEST_COLUMNS
        return [dict(zip(header, r, strict=True)) for r in reader]


def classification_rows(manifest: list[dict[str, str]], answers: dict[str, list[str]]
                        ) -> list[dict[str, str]]:
    """A fabricated classification export: ``answers[user_name][k]`` is that user's answer
    on the k-th subject of the manifest (empty: no classification). Subject ids are
    invented as Zooniverse would; ``subject_data`` carries the manifest's metadata with its
    ``#`` prefixes."""
    rows = []
    for user, theirs in answers.items():
        for k, (subject, answer) in enumerate(zip(manifest, theirs, strict=False)):
            if not answer:
                continue
            sid = str(70_000_000 + k)
            start = dt.datetime(2024, 5, 1, 10, k, 0, tzinfo=dt.UTC)
            rows.append({
                "classification_id": str(500_000 + len(rows)), "user_name": user,
                "user_id": "" if user.startswith("not-logged-in") else str(1000 + len(user)),
                "user_ip": "abc123", "workflow_id": "12345", "workflow_name": "Bursts",
                "workflow_version": "3.1", "created_at": f"{start:%Y-%m-%d %H:%M:%S} UTC",
                "gold_standard": "", "expert": "",
                "metadata": json.dumps({"started_at": (start - dt.timedelta(seconds=7))
                                        .isoformat().replace("+00:00", "Z"),
                                        "finished_at": start.isoformat()}),
                "annotations": json.dumps([
                    {"task": "T0", "task_label": "What is this?", "value": answer},
                    {"task": "T1", "task_label": "Anything else?",
                     "value": ["Repeating"] if answer == "Astro" else []}]),
                "subject_data": json.dumps({sid: {"retired": None, **subject}}),
                "subject_ids": sid,
            })
    return rows


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


# --------------------------------------------------------------------------- the figure


def test_candidate_figure_layout_and_png() -> None:
    rng = np.random.default_rng(0)
    ft, dmt = rng.standard_normal((2, 64, 32), dtype=np.float32)
    ft[0, 0] = 1e6  # one hot pixel must not set the colour scale
    fig = candidate_figure(ft, dmt, title="candidate 7", cmap="cividis")
    axes = fig.get_axes()
    assert len(axes) == 3 and fig.get_suptitle() == "candidate 7"
    img = axes[0].get_images()[0]
    assert img.get_cmap().name == "cividis" and img.get_clim()[1] < 10
    assert axes[0].get_shared_x_axes().joined(axes[0], axes[2])  # dmt shares the time axis
    np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), ft.sum(axis=0), rtol=1e-5)
    png = figure_png(fig, dpi=50)
    assert png.startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="share the time axis"):
        candidate_figure(ft, dmt[:, :16])
    with pytest.raises(ValueError, match="2-D"):
        candidate_figure(ft[0], dmt)


def test_colour_limits_are_robust() -> None:
    assert colour_limits(np.full((4, 4), 3.0)) == (2.5, 3.5)
    assert colour_limits(np.full((4, 4), np.nan)) == (0.0, 1.0)
    a = np.arange(1000.0)
    a[5] = np.inf
    lo, hi = colour_limits(a)
    assert 5 < lo < 15 and 990 < hi < 999


# --------------------------------------------------------------------------- the export


def test_export_writes_a_subject_set(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "zoo"
    result = export_zooniverse(ws, out)
    manifest = read_manifest(result.manifest)
    recs = {r.id: r for r in ws.candidates()}
    assert [int(m["#candidate_id"]) for m in manifest] == sorted(recs)
    assert [p.name for p in result.images] == [m["image"] for m in manifest]
    for m in manifest:
        rec = recs[int(m["#candidate_id"])]
        png = (out / m["image"]).read_bytes()
        assert png.startswith(PNG_MAGIC) and len(png) < MAX_IMAGE_BYTES
        assert m["image"] == image_name(rec.id) and m["#file"] == rec.file
        assert float(m["#stime"]) == rec.tcand and float(m["#dm"]) == rec.dm  # exact
        assert 2 ** float(m["#width"]) == rec.width and float(m["#snr"]) == rec.snr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [m["image"] for m in manifest] + ["manifest.csv"])  # no temporary files left
    assert str(result) == f"6 subject image(s) and their manifest manifest.csv in {out}"
    again = export_zooniverse(ws, out)  # re-running rewrites the same files
    assert read_manifest(again.manifest) == manifest


def test_export_queue_only_and_refusals(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no open candidates in the volunteer queue"):
        export_zooniverse(ws, tmp_path / "zoo", queue_only=True)
    assert not (tmp_path / "zoo").exists()
    with ws.session() as s, s.begin():
        s.add_all([db.QueueRecord(candidate_id=3, priority=1.0, reason="bald"),
                   db.QueueRecord(candidate_id=5, priority=2.0, reason="gold"),
                   db.QueueRecord(candidate_id=6, priority=3.0, reason="bald", retired=True)])
    result = export_zooniverse(ws, tmp_path / "zoo", queue_only=True)
    assert [m["#candidate_id"] for m in read_manifest(result.manifest)] == ["3", "5"]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        export_zooniverse(ws, tmp_path / "afile")
    with Workspace.create(tmp_path / "empty") as empty:
        with pytest.raises(InputError, match="holds no candidates"):
            export_zooniverse(empty, tmp_path / "zoo2")


# --------------------------------------------------------------------------- the round trip


def test_round_trip_export_classify_import(ws: Workspace, tmp_path: Path) -> None:
    result = export_zooniverse(ws, tmp_path / "zoo")
    manifest = read_manifest(result.manifest)
    answers = {"ada_astro": ["Astro", "RFI", "", "Can't answer", "RFI", "Astro"],
               "not-logged-in-9f8e7d": ["RFI", "RFI", "RFI"],
               "not-logged-in-0a1b2c": ["", "", "", "", "", "Astro"]}
    rows = classification_rows(manifest, answers)
    rows.append(dict(rows[0], classification_id="1"))  # the same classification twice
    path = write_rows(tmp_path / "bursts-from-space-classifications.csv", rows)
    summary = import_votes(ws, path, zooniverse=True)
    assert (summary.added, summary.already, summary.rejected, summary.volunteers_created) == \
        (9, 1, [], 3)
    names = {v.id: v.name for v in list_volunteers(ws)}
    assert sorted(names.values()) == ["zooniverse:ada_astro", "zooniverse:not-logged-in-0a1b2c",
                                      "zooniverse:not-logged-in-9f8e7d"]
    got = {(names[v.volunteer_id], v.candidate_id): v for v in votes_of(ws)}
    for user, theirs in answers.items():
        for k, answer in enumerate(theirs):
            cid = int(manifest[k]["#candidate_id"])
            if answer:
                vote = got[volunteer_name(user), cid]
                assert vote.answer == {"Astro": "astro", "RFI": "rfi",
                                       "Can't answer": "cant_tell"}[answer]
                assert vote.tags == (("repeating",) if answer == "Astro" else ())
                assert vote.created == dt.datetime(2024, 5, 1, 10, k, tzinfo=dt.UTC)
                assert vote.seconds == 7.0 and vote.source == f"zooniverse:{path}"
            else:
                assert (volunteer_name(user), cid) not in got
    again = import_votes(ws, path, zooniverse=True)  # a later export holds these again
    assert (again.added, again.already) == (0, 10)


def test_subjects_from_elsewhere_and_from_another_workspace(ws: Workspace,
                                                            tmp_path: Path) -> None:
    """Subjects uploaded with visible file/stime/dm columns (no candidate_id) are matched by
    the duplicate key; a subject whose id and key disagree (an export of another workspace)
    is rejected; an ambiguous key is reported."""
    rec = ws.candidates()[3]
    subjects = [{"file": rec.file, "stime": str(rec.tcand), "!dm": str(rec.dm)},
                {"%candidate_id": "2", "#file": rec.file, "#stime": "1.25", "#dm": "123.456789"},
                {"file": "data/obs.fil", "stime": "1.25", "dm": "123.456789"},
                {"image": "x.png"}]
    manifest = [{**s, "image": "x.png"} for s in subjects]
    rows = classification_rows(manifest, {"bea": ["Astro"] * 4})
    rows[1]["subject_data"] = json.dumps({"1": {}, rows[1]["subject_ids"]: manifest[1]})
    summary = import_votes(ws, write_rows(tmp_path / "c.csv", rows), zooniverse=True)
    assert summary.added == 2 and [v.candidate_id for v in votes_of(ws)] == [rec.id, 2]
    reasons = dict(summary.rejected)
    assert "2 stored candidates" in reasons[4] and "no candidate_id and no file" in reasons[5]


@pytest.mark.parametrize(("change", "problem"), [
    ({"annotations": "[]"}, "annotations have no task 'T0'"),
    ({"annotations": '[{"task": "T0", "value": "Galaxy"}]'}, "unknown answer 'Galaxy'"),
    ({"subject_data": "{"}, "subject_data is not JSON"),
    ({"subject_data": "[1]"}, "must be a JSON object"),
    ({"subject_data": '{"1": {}, "2": {}}', "subject_ids": "3"}, "holds 2 subjects"),
    ({"subject_data": '{"1": "x"}'}, "metadata in subject_data must be a JSON object"),
    ({"user_name": " "}, "empty user_name"),
    ({"created_at": "last Tuesday"}, "not an ISO 8601 time"),
])
def test_bad_classifications_are_rejected(ws: Workspace, tmp_path: Path, change: dict,
                                          problem: str) -> None:
    good = classification_rows([{"#candidate_id": "3"}], {"bea": ["RFI"]})[0]
    path = write_rows(tmp_path / "c.csv", [good, {**good, **change}])
    summary = import_votes(ws, path, zooniverse=True)
    assert summary.added == 1 and len(summary.rejected) == 1
    line, reason = summary.rejected[0]
    assert line == 3 and problem in reason


def test_zooniverse_field_helpers() -> None:
    assert [field_name(h) for h in ("#a", "//b", "!c", "%d", "e", "##f")] == \
        ["a", "b", "c", "d", "e", "#f"]
    assert subject_metadata('{"5": {"#candidate_id": 3, "x": null}}') == \
        {"candidate_id": "3", "x": ""}
    assert parse_time("2019-07-02 15:05:31 UTC") == dt.datetime(2019, 7, 2, 15, 5, 31,
                                                                tzinfo=dt.UTC)
    assert parse_time("2019-07-02T17:05:31+02:00") == parse_time("2019-07-02T15:05:31Z")
    assert classification_seconds('{"started_at": "2019-07-02T15:05:31Z", '
                                  '"finished_at": "2019-07-02T15:05:40.5Z"}') == 9.5
    for bad in ("", "{}", "[]", '{"started_at": 1, "finished_at": 2}',
                '{"started_at": "2019-07-02T15:05:31Z", "finished_at": "2019-07-02T15:05:30Z"}'):
        assert classification_seconds(bad) is None  # a detail, never a reason to refuse


# --------------------------------------------------------------------------- the verbs


def test_export_and_import_verbs(ws: Workspace, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "zoo"
    assert cli.main(["export-zooniverse", "-w", str(ws.path), str(out), "--no-progress"]) == 0
    assert "wrote 6 subject image(s)" in capsys.readouterr().out
    rows = classification_rows(read_manifest(out / "manifest.csv"), {"cy": ["RFI", "Astro"]})
    path = write_rows(tmp_path / "c.csv", rows)
    assert cli.main(["votes", "import", "--zooniverse", "-w", str(ws.path), str(path)]) == 0
    assert "2 rows: 2 votes added" in capsys.readouterr().out
    (tmp_path / "afile").write_text("x")
    assert cli.main(["export-zooniverse", "-w", str(ws.path), str(tmp_path / "afile")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == [f"frbtriage: error: {tmp_path / 'afile'}: exists and is not a folder"]
    plain = write_rows(tmp_path / "plain.csv", [{"volunteer": "a", "answer": "astro",
                                                 "candidate_id": "1"}])
    assert cli.main(["votes", "import", "--zooniverse", "-w", str(ws.path), str(plain)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"frbtriage: error: {plain}: a Zooniverse classification export "
                          "needs column(s) user_name, annotations, subject_data")


# --------------------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def fuzz_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    base = tmp_path_factory.mktemp("zoofuzz")
    w = noisy_workspace(base / "ws", base / "data", n=3)
    yield w
    w.close()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
    st.sampled_from(["Astro", "RFI", "T0", "T1", "1", "3", "1.25", "123.456789", "obs.fil",
                     "#candidate_id", "file", "stime", "dm"]) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["task", "value", "candidate_id", "#candidate_id", "file", "stime",
                         "dm", "1", "70000000", "started_at", "finished_at"]) |
        st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries({
    "user_name": st.sampled_from(["", "ada", "not-logged-in-1", "x" * 200]),
    "annotations": _JSON.map(json.dumps) | st.text(max_size=10),
    "subject_data": _JSON.map(json.dumps) | st.text(max_size=10),
    "subject_ids": st.sampled_from(["", "1", "70000000"]),
    "created_at": st.sampled_from(["", "2024-01-01 00:00:00 UTC", "bad", "9999-99-99"]),
    "metadata": _JSON.map(json.dumps),
}), min_size=1, max_size=6))
def test_fuzz_classification_rows(fuzz_ws: Workspace, rows: list[dict[str, str]]) -> None:
    path = write_rows(fuzz_ws.path.parent / "c.csv", rows)
    summary = import_votes(fuzz_ws, path, zooniverse=True)
    assert isinstance(summary, ImportSummary)
    assert summary.rows == summary.added + summary.already + len(summary.rejected)
    assert not math.isnan(float(summary.added))
