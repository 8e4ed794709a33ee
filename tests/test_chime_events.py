"""CHIME/FRB L1 event lists as a candidate source for chunk folders (issue 12).

A burst is injected into chunks written by the project's packer; an event list as L1 emits
it (beam, FPGA count or UTC time, DM, S/N, tree index, RFI grade) is read, prepared and
ranked, and the row rules (time from fpga0, width from the tree index, beam kept) checked.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from test_io_chime import FRAME0, SPAN, noise, stream

from frbtriage.cli import main
from frbtriage.errors import InputError
from frbtriage.io.candidates import read_candidates
from frbtriage.io.chime_events import is_l1_header, l1_fields, read_l1_events

TSAMP = 0.98304e-3
FPGA_FIRST = 50 * SPAN
BURST_S, BURST_DM = 2.0, 150.0
HEADER = "beam_no,timestamp_fpga,timestamp_utc,dm,snr,tree_index,rfi_grade_level1,chunks"


@pytest.fixture(scope="module")
def l1_chunks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 chunks (1024 channels, bitshuffle-compressed, version 2) of beam 17 with a DM 150
    burst arriving at the top of the band 2.0 s after the first sample."""
    from frbtriage.simulate.bursts import Burst, inject_burst

    x = noise(6, seed=9)
    freqs = 800 - 400 / 2048 - np.arange(1024) * 400 / 1024
    inject_burst(x, freqs, TSAMP, Burst(time_s=BURST_S, dm=BURST_DM, width_s=0.004,
                                        scatter_s=0.0, spectrum="powerlaw", fluence=2.5),
                 scale=4.0)
    return stream(x, tmp_path_factory.mktemp("l1") / "beam0017", compress=True,
                  fpga_first=FPGA_FIRST)


def fpga_at(t: float) -> int:
    return FPGA_FIRST + round(t / TSAMP) * 384


def utc_at(t: float) -> float:
    return (FRAME0 + 2560 * fpga_at(t)) * 1e-9


def write_events(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path


def test_header_sniffing() -> None:
    assert is_l1_header(HEADER.split(","))
    assert is_l1_header(["beam", "fpga", "dm", "snr", "tree_index"])
    assert not is_l1_header("file,snr,stime,width,dm".split(","))
    assert not is_l1_header("beam,dm,snr,tree_index".split(","))  # no timestamp


def test_fpga_and_utc_map_to_the_same_time(l1_chunks: Path, tmp_path: Path) -> None:
    """fpga -> (fpga - fpga0) / 384 x 0.98304 ms exactly; UTC (s, us, ISO) -> the same."""
    utc = utc_at(BURST_S)
    iso = datetime.fromtimestamp(utc, tz=UTC).isoformat()
    lst = write_events(tmp_path / "events.csv", [
        f"17,{fpga_at(BURST_S)},,150.0,30.5,2,9,{l1_chunks}",
        f"17,,{utc!r},150.0,30.5,2,9,{l1_chunks}",
        f"17,,{utc * 1e6!r},150.0,30.5,0,,{l1_chunks}",
        f"17,,{iso},150.0,30.5,4,3.5,{l1_chunks}",
    ])
    cands = read_candidates(lst)
    k = round(BURST_S / TSAMP)
    assert cands[0].tcand == pytest.approx(k * TSAMP, abs=1e-12)
    for c in cands[1:]:
        assert c.tcand == pytest.approx(cands[0].tcand, abs=2e-6)
    assert [c.width for c in cands] == [4, 4, 1, 16]  # 2**tree_index
    assert all(c.file == str(l1_chunks) for c in cands)
    assert l1_fields(cands[0].origin) == {"beam": "17", "rfi_grade": "9"}
    assert l1_fields(cands[2].origin)["rfi_grade"] == ""
    assert cands[0].origin.startswith(f"chime_l1:{lst.resolve()}:2;")


def test_time_reference_frequency(l1_chunks: Path, tmp_path: Path) -> None:
    """A list timed at 400 MHz is moved to the top channel by the dispersion delay."""
    from frbtriage.physics import K_DM

    lst = write_events(tmp_path / "e.csv", [f"17,{fpga_at(BURST_S)},,50.0,30,2,9,"])
    top = read_l1_events(lst, data_file=l1_chunks)[0]
    low = read_l1_events(lst, data_file=l1_chunks, time_ref_mhz=400.0)[0]
    ftop = 800 - 400 / 2048
    assert top.tcand - low.tcand == pytest.approx(K_DM * 50.0 * (400.0**-2 - ftop**-2))


def test_bad_rows_are_reported_by_line(l1_chunks: Path, tmp_path: Path) -> None:
    v1 = stream(noise(1), tmp_path / "v1", version=1, fpga_first=FPGA_FIRST)
    good = f"17,{fpga_at(1.0)},,150.0,20,1,9,{l1_chunks}"
    lst = write_events(tmp_path / "events.csv", [
        good,
        f"18,{fpga_at(1.0)},,150.0,20,1,9,{l1_chunks}",        # line 3: other beam
        f"17,{FPGA_FIRST - 384},,150.0,20,1,9,{l1_chunks}",   # line 4: before the chunks
        f"17,{fpga_at(1.0)},,150.0,20,40,9,{l1_chunks}",       # line 5: tree 40
        f"17,{fpga_at(1.0)},,150.0,20,1,11,{l1_chunks}",       # line 6: grade 11
        f"17,{fpga_at(1.0)},,150.0,20,1,9,{tmp_path}/none",    # line 7: no such data
        f"17,,{utc_at(0.5)},150.0,20,1,9,{v1}",                # line 8: UTC, version 1
        f"17,,,150.0,20,1,9,{l1_chunks}",                      # line 9: no time
        f"17,{fpga_at(1.0)},,-3,20,1,9,{l1_chunks}",           # line 10: DM < 0
    ])
    rejected: list[InputError] = []
    out = read_l1_events(lst, rejected=rejected)
    assert len(out) == 1
    said = {int(e.problem.split()[1].rstrip(":,")): e.problem for e in rejected}
    assert sorted(said) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "beam 18" in said[3] and "holds beam 17" in said[3]
    assert "negative candidate time" in said[4]
    assert "tree 40" in said[5]
    assert "0..10" in said[6]
    assert "file not found" in said[7] or "not" in said[7]
    assert "frame0_nano" in said[8]
    assert "neither" in said[9]
    assert "negative DM" in said[10]
    with pytest.raises(InputError, match="line 3"):
        read_l1_events(lst)


def test_whole_file_problems(tmp_path: Path) -> None:
    lst = write_events(tmp_path / "e.csv", ["17,1,,150,20,1,9,x"],
                       header="beam,timestamp_fpga,timestamp_utc,dm,snr,tree_index,rfi_grade,"
                              "chunks_dir")
    with pytest.raises(InputError, match="--data-file"):
        read_l1_events(lst)
    lst.write_text("beam,fpga,snr,tree_index\n17,1,20,1\n")
    with pytest.raises(InputError, match="lacks column.*dm"):
        read_l1_events(lst, data_file=tmp_path)


def test_filterbank_takes_utc_not_fpga(l1_chunks: Path, tmp_path: Path) -> None:
    """A list beside a converted filterbank (nightly's layout): UTC maps through its tstart;
    an FPGA count alone cannot."""
    fil = tmp_path / "beam17.fil"
    assert main(["convert", str(l1_chunks), "-o", str(fil)]) == 0
    lst = write_events(tmp_path / "beam17.csv", [f"17,,{utc_at(BURST_S)!r},150,30,2,9,",
                                                f"17,{fpga_at(BURST_S)},,150,30,2,9,"])
    rejected: list[InputError] = []
    out = read_candidates(lst, data_file=fil, rejected=rejected)
    assert len(out) == 1
    assert out[0].tcand == pytest.approx(round(BURST_S / TSAMP) * TSAMP, abs=2e-6)
    assert "filterbank" in rejected[0].problem


@pytest.mark.slow
def test_event_list_prepared_and_ranked(l1_chunks: Path, tmp_path: Path) -> None:
    """The injected burst, listed as L1 would list it, is prepared into a workspace with
    its beam and grade kept, and ranked astrophysical; a noise event ranks below it."""
    from frbtriage.workspace import Workspace

    lst = write_events(tmp_path / "events.csv", [
        f"17,{fpga_at(BURST_S)},,{BURST_DM},30.5,2,9,{l1_chunks.name}",
        f"17,{fpga_at(4.2)},,600.0,8.1,3,2,{l1_chunks.name}",
    ])
    (tmp_path / l1_chunks.name).symlink_to(l1_chunks)
    ws = tmp_path / "ws"
    assert main(["prepare", "-w", str(ws), "-c", str(lst), "--no-progress"]) == 0
    with Workspace.open(ws) as w:
        recs = sorted(w.candidates(), key=lambda r: r.tcand)
        assert [r.width for r in recs] == [4, 8]
        assert l1_fields(recs[0].origin) == {"beam": "17", "rfi_grade": "9"}
        assert recs[0].tcand == pytest.approx(BURST_S, abs=TSAMP)
    ranked = tmp_path / "ranked.csv"
    assert main(["rank", str(lst), "-o", str(ranked), "--device", "cpu"]) == 0
    with open(ranked, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert abs(float(rows[0]["stime"]) - BURST_S) < 0.01 and float(rows[0]["p_astro"]) > 0.5
    assert float(rows[1]["p_astro"]) < float(rows[0]["p_astro"])


@pytest.mark.slow
def test_nightly_takes_a_chunk_folder_with_its_event_list(l1_chunks: Path,
                                                          tmp_path: Path) -> None:
    """An inbox holding a beam's chunk folder and its L1 list beside it (``beam0017.csv``,
    no ``chunks`` column): the job prepares the events; a second run finds it unchanged,
    a new chunk makes the folder new again."""
    import shutil

    from frbtriage.nightly import NightlyOptions, run_nightly
    from frbtriage.nightly.work import data_files

    inbox = tmp_path / "inbox"
    folder = inbox / "beam0017"
    shutil.copytree(l1_chunks, folder)
    write_events(inbox / "beam0017.csv", [f"17,{fpga_at(BURST_S)},,{BURST_DM},30.5,2,9",
                                          f"17,,{utc_at(4.2)!r},600.0,8.1,3,2"],
                 header="beam_no,timestamp_fpga,timestamp_utc,dm,snr,tree_index,"
                        "rfi_grade_level1")
    assert data_files(inbox) == [folder]
    opts = NightlyOptions(workers=0, retrain="never")
    first = run_nightly(tmp_path / "ws", inbox, opts)
    (f,) = first.files
    assert f.status == "processed" and f.added == 2, f
    assert run_nightly(tmp_path / "ws", inbox, opts).unchanged == 1
    last = sorted(folder.glob("*.msgpack"))[-1]
    shutil.copy(last, folder / ("z" + last.name))  # an overlapping duplicate: refused
    (g,) = run_nightly(tmp_path / "ws", inbox, opts).files
    assert g.status == "failed" and "overlaps" in g.error
