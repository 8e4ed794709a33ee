"""Candidate preparation: geometry, images vs a numpy reference, the workspace run,
duplicates, bad input, interruption (in-process and a SIGKILLed CLI), Heimdall input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from reference import (
    apply_mask_ref,
    decimate_time_ref,
    dedisperse_ref,
    dm_time_ref,
    normalise_ref,
    resize_freq_area_ref,
)

from frbtriage import prepare as P
from frbtriage.cli import main
from frbtriage.io.candidates import Candidate, read_candidates, write_fetch_csv, write_heimdall
from frbtriage.io.filterbank import FilterbankReader, Header
from frbtriage.physics import delay_samples
from frbtriage.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples" / "chime_sim"


def images_ref(data, geo: P.Geometry, descending: bool, mask=None):
    """Plain-numpy twin of ``prepare.make_images`` built from tests/reference.py."""
    data = np.asarray(data, dtype=np.float64)
    if mask is not None:
        data = apply_mask_ref(data, mask, "zero")
    ded = dedisperse_ref(data[:, : geo.kept + int(geo.ft_delays.max())], geo.ft_delays)
    ft = decimate_time_ref(ded, geo.decim)
    if not descending:
        ft = ft[::-1]
    ft = normalise_ref(resize_freq_area_ref(ft, 256))
    dmt = normalise_ref(dm_time_ref(data, geo.dmt_delays, 0, 256, geo.decim))
    return ft, dmt


def _header(nchan=64, nspectra=200_000, foff=-6.25, fch1=800.0 - 3.125, tsamp=0.98304e-3):
    return Header(path="synthetic.fil", fch1=fch1, foff=foff, nchans=nchan, tsamp=tsamp,
                  nspectra=nspectra, tstart=60000.0, nbits=8, source_name="t")


def _burst_block(header: Header, geo: P.Geometry, tcand: float, dm: float, width: int,
                 amp: float = 40.0, seed: int = 0) -> np.ndarray:
    """Noise window starting at ``geo.read_start`` with a dispersed boxcar burst."""
    rng = np.random.default_rng(seed)
    n = geo.read_stop - geo.read_start
    data = rng.normal(100.0, 5.0, (header.nchans, n)).astype(np.float32)
    d = delay_samples(dm, header.freqs, header.tsamp)
    t0 = round(tcand / header.tsamp) - geo.read_start
    for c in range(header.nchans):
        data[c, t0 + d[c] : t0 + d[c] + width] += amp
    return data


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("dm,width", [(300.0, 1), (100.0, 8), (1500.0, 4), (50.0, 64)])
def test_geometry_window(dm, width):
    h = _header()
    tcand = 60.0
    geo = P.geometry(h, tcand, dm, width)
    assert geo.decim == max(1, width // 2)
    assert geo.dmt_delays.shape == (256, h.nchans) and geo.ft_delays.shape == (h.nchans,)
    np.testing.assert_array_equal(geo.dmt_delays[0], 0)
    np.testing.assert_allclose(geo.dms, np.linspace(0, 2 * dm, 256))
    # the window holds the kept samples plus the largest delay of the 2*DM trial
    assert geo.read_stop - geo.read_start == geo.kept + geo.dmt_delays.max()
    # the burst lies in (or within a decimated sample of) output sample 128
    burst = tcand / h.tsamp
    j = (burst - geo.start) / geo.decim
    assert 126 <= j <= 130


def test_images_match_numpy_reference():
    h = _header(nchan=64)
    tcand, dm, width = 30.0, 400.0, 8
    geo = P.geometry(h, tcand, dm, width)
    data = _burst_block(h, geo, tcand, dm, width)
    mask = np.zeros(h.nchans, bool)
    mask[[3, 17, 40]] = True
    ft_r, dmt_r = images_ref(data, geo, True, mask)
    ft, dmt = P.make_images(data.copy(), geo, True, mask)
    assert ft.shape == dmt.shape == (256, 256) and ft.dtype == dmt.dtype == np.float32
    np.testing.assert_allclose(ft, ft_r, atol=2e-4)
    np.testing.assert_allclose(dmt, dmt_r, atol=2e-4)
    # the burst: brightest time column of ft and the peak of dmt at the centre, DM row ~127
    assert abs(int(np.argmax(ft.sum(axis=0))) - 128) <= 1
    r, c = np.unravel_index(np.argmax(dmt), dmt.shape)
    assert abs(int(c) - 128) <= 1 and abs(int(r) - 127.5) <= 2
    # ascending channel order: ft rows flipped so row 0 stays the highest frequency
    ft_up, dmt_up = P.make_images(data[::-1].copy(), replace(
        geo, ft_delays=geo.ft_delays[::-1].copy(), dmt_delays=geo.dmt_delays[:, ::-1].copy(),
        need=geo.need[::-1].copy()), False, mask[::-1].copy())
    np.testing.assert_allclose(ft_up, ft, atol=2e-4)
    np.testing.assert_allclose(dmt_up, dmt, atol=2e-4)


@pytest.mark.parametrize("width", [2, 16, 64, 300])
def test_decimated_bowtie_both_ways(width):
    """The fused decimated route (dm_time_decimated, from a channel-major window and from the
    time-major 8-bit samples) and the direct decimated bowtie give the numpy reference's
    DM-time image."""
    from frbtriage.kernels.bowtie import dm_time
    from frbtriage.kernels.images import candidate_sums

    h = _header(nchan=32)
    geo = P.geometry(h, 40.0, 250.0, width)
    rng = np.random.default_rng(width)
    data = rng.integers(0, 255, (h.nchans, geo.read_stop - geo.read_start)).astype(np.float32)
    ref = dm_time_ref(data, geo.dmt_delays, 0, 256, geo.decim)
    np.testing.assert_allclose(P.dm_time_decimated(data, geo), ref, rtol=1e-5)
    np.testing.assert_allclose(dm_time(data, geo.dmt_delays, 0, 256, geo.decim), ref, rtol=1e-5)
    raw = np.ascontiguousarray(data.T.astype(np.uint8))  # as the file stores it
    dmt, _ = candidate_sums(raw, geo.need, geo.dmt_delays, geo.ft_delays, 256, geo.decim,
                            time_major=True)
    np.testing.assert_allclose(dmt, ref, rtol=1e-5)


def test_channel_mask_flags_dead_and_loud_channels():
    rng = np.random.default_rng(1)
    data = rng.normal(100, 5, (128, 4000)).astype(np.float32)
    data[10] = 0.0  # dead
    data[50] += rng.normal(0, 60, 4000).astype(np.float32)  # loud
    kill = np.zeros(128, bool)
    kill[99] = True
    m = P.channel_mask(data, "auto", kill)
    assert m[10] and m[50] and m[99]
    assert m.sum() <= 8
    assert not P.channel_mask(data, "none").any()
    with pytest.raises(ValueError, match="mask mode"):
        P.channel_mask(data, "bogus")  # type: ignore[arg-type]


def test_fast_window_read_matches_reader():
    """The ragged time-major -> channel-major conversion gives the reader's samples wherever
    a channel needs them, and the same images as the full rectangle (padded path)."""
    with FilterbankReader(SAMPLE / "obs.fil") as rd:
        c = _sample_cands(n=3)[1]
        geo = P.geometry(rd.header, c.tcand, c.dm, c.width)
        fast, padded = P.read_window(rd, geo)
        assert not padded
        full = rd.read(geo.read_start, geo.read_stop).data
        for ch in range(rd.header.nchans):
            np.testing.assert_array_equal(fast[ch, : geo.need[ch]], full[ch, : geo.need[ch]])
        assert geo.need.sum() < 0.8 * geo.need.max() * rd.header.nchans  # ragged: less read
        mask = P.file_mask(rd)
        ft_a, dmt_a = P.make_images(fast, geo, True, mask)
        ft_b, dmt_b = P.make_images(full, geo, True, mask)
        np.testing.assert_array_equal(ft_a, ft_b)
        np.testing.assert_array_equal(dmt_a, dmt_b)
        ft_r, dmt_r = images_ref(rd.read(geo.read_start, geo.read_stop).data, geo, True, mask)
        np.testing.assert_allclose(ft_a, ft_r, atol=2e-4)
        np.testing.assert_allclose(dmt_a, dmt_r, atol=2e-4)


def test_fused_route_gives_the_float_window_route_images(monkeypatch):
    """window_images on 8-bit data inside the file (time-major bytes straight into the sums)
    and the float32-window route (read_window + make_images, taken for wide spectra) give
    bit-identical images: 8-bit sums are exact in float32."""
    with FilterbankReader(SAMPLE / "obs.fil") as rd:
        mask = P.file_mask(rd)
        for c in _sample_cands(n=3):
            geo = P.geometry(rd.header, c.tcand, c.dm, c.width)
            if geo.read_start < 0 or geo.read_stop > rd.header.nspectra:
                continue
            ft_f, dmt_f, padded = P.window_images(rd, geo, True, mask)
            assert not padded
            monkeypatch.setattr(P, "_FUSED_SPECTRUM_BYTES", 0)  # force the float route
            ft_w, dmt_w, _ = P.window_images(rd, geo, True, mask)
            monkeypatch.undo()
            np.testing.assert_array_equal(ft_f, ft_w)
            np.testing.assert_array_equal(dmt_f, dmt_w)


@pytest.mark.parametrize("where", ["start", "end"])
def test_padded_window(where):
    """A window reaching past an end of the file: in-file samples are the file's, the rest
    of what each channel needs is its median over the in-file samples every channel has."""
    with FilterbankReader(SAMPLE / "obs.fil") as rd:
        h = rd.header
        tcand = 0.02 if where == "start" else h.duration - 0.5
        geo = P.geometry(h, tcand, 400.0, 8)
        assert geo.read_start < 0 or geo.read_stop > h.nspectra
        data, padded = P.read_window(rd, geo)
        assert padded
        a, b = max(geo.read_start, 0), min(geo.read_stop, h.nspectra)
        full = rd.read(a, b).data  # in-file part only
        off = a - geo.read_start
        got = np.clip(geo.need - off, 0, b - a)
        common = int(got.min())
        for c in range(0, h.nchans, 17):
            np.testing.assert_array_equal(data[c, off : off + got[c]], full[c, : got[c]])
            med = np.median(full[c, :common])
            assert np.all(data[c, :off] == np.float32(med))
            assert np.all(data[c, off + got[c] : geo.need[c]] == np.float32(med))
        ft, dmt = P.make_images(data, geo, True, P.file_mask(rd))
        assert np.isfinite(ft).all() and np.isfinite(dmt).all() and dmt.std() > 0


def test_file_mask_finds_the_simulated_dead_channels():
    import csv

    with open(SAMPLE / "truth.csv") as fh:
        dead = [r for r in csv.DictReader(fh) if r["kind"] == "dead_channels"]
    assert dead
    with FilterbankReader(SAMPLE / "obs.fil") as rd:
        m = P.file_mask(rd)
    for r in dead:
        assert m[int(r["chan_lo"]) : int(r["chan_hi"]) + 1].all()
    assert m.mean() < 0.2


# --------------------------------------------------------------------------- the run


def _sample_cands(max_width: int = 32, n: int | None = None) -> list[Candidate]:
    cands = [c for c in read_candidates(SAMPLE / "candidates.csv")
             if c.dm > 0 and c.width <= max_width]
    return cands[:n] if n else cands


def test_prepare_sample_into_workspace(tmp_path):
    cands = _sample_cands()
    assert len(cands) >= 8
    ws = Workspace.create(tmp_path / "ws")
    s = P.prepare_candidates(ws, cands, batch_size=4)
    assert s.added == len(cands) and s.already == 0 and not s.skipped and s.files == 1
    assert len(ws) == len(cands) and ws.ft.shape[0] == len(cands)
    recs = ws.candidates()
    assert len({r.row for r in recs}) == len(recs)
    assert all(r.file == str(SAMPLE / "obs.fil") for r in recs)
    # every stored row holds the images of its own candidate
    with FilterbankReader(SAMPLE / "obs.fil") as rd:
        fmask = P.file_mask(rd)
        for r in recs[:: max(1, len(recs) // 4)]:
            ft, dmt, padded = P.candidate_images(rd, r.tcand, r.dm, r.width, fmask)
            got_ft, got_dmt = ws.images([r.row])
            np.testing.assert_array_equal(got_ft[0], ft)
            np.testing.assert_array_equal(got_dmt[0], dmt)
            assert padded == r.padded
    # bright astrophysical bursts peak at the centre of their dmt
    bright = [r for r in recs if r.label == 1 and r.snr > 20]
    assert bright
    for r in bright:
        dmt = ws.images([r.row])[1][0]
        prof = dmt[120:136].mean(axis=0)
        assert abs(int(np.argmax(prof)) - 128) <= 3
    # the same list again adds nothing
    s2 = P.prepare_candidates(ws, cands + cands[:2])
    assert s2.added == 0 and s2.already == len(cands) + 2
    assert len(ws) == len(cands)


def test_bad_candidates_are_skipped_and_counted(tmp_path):
    good = _sample_cands(n=3)
    fil = str(SAMPLE / "obs.fil")
    with FilterbankReader(fil) as rd:
        dur = rd.header.duration
    bad = [
        Candidate(fil, 5.0, 0.0, 4, 9.0),                            # DM 0
        Candidate(fil, 5.0, 100.0, 0, 9.0),                          # width 0
        Candidate(fil, dur + 5.0, 100.0, 4, 9.0),                    # wholly outside
        Candidate(str(tmp_path / "missing.fil"), 1.0, 100.0, 4, 9.0),  # unreadable file
    ]
    edge = [Candidate(fil, 0.05, 300.0, 2, 9.0), Candidate(fil, dur - 0.01, 50.0, 2, 9.0)]
    ws = Workspace.create(tmp_path / "ws")
    s = P.prepare_candidates(ws, good + bad + edge)
    assert s.added == 5 and len(s.skipped) == 4 and s.padded == 2
    reasons = " | ".join(str(x) for x in s.skipped)
    assert "DM 0" in reasons and "width 0" in reasons and "wholly outside" in reasons
    assert "missing.fil" in reasons and "unreadable" in reasons
    assert sum(r.padded for r in ws.candidates()) == 2
    # a padded window gives finite images
    ft, dmt = ws.images([r.row for r in ws.candidates() if r.padded])
    assert np.isfinite(ft).all() and np.isfinite(dmt).all()


def test_interrupted_run_resumes_without_duplicates(tmp_path):
    cands = _sample_cands(n=10)
    ws = Workspace.create(tmp_path / "ws")

    def stop_after_first(n_added: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        P.prepare_candidates(ws, cands, batch_size=3, on_batch=stop_after_first)
    assert len(ws) == 3
    # orphan rows as a kill between the array write and the commit would leave them
    ws.ft.resize((7, 256, 256))
    ws.dmt.resize((7, 256, 256))
    ws.close()
    ws = Workspace.open(tmp_path / "ws")
    s = P.prepare_candidates(ws, cands, batch_size=3)
    assert s.added == 7 and s.already == 3
    assert len(ws) == 10 and ws.ft.shape[0] == 10
    keys = {(r.tcand_key, r.dm_key, r.width) for r in ws.candidates()}
    assert len(keys) == 10


def test_cli_prepare_exit_codes(tmp_path, capsys):
    cands = _sample_cands(n=2)
    csv = tmp_path / "c.csv"
    write_fetch_csv(csv, cands)
    assert main(["prepare", "-w", str(tmp_path / "ws"), "-c", str(csv), "--no-progress"]) == 0
    assert "2 added" in capsys.readouterr().out
    # re-run: nothing new, still success
    assert main(["prepare", "-w", str(tmp_path / "ws"), "-c", str(csv), "--no-progress"]) == 0
    assert "0 added" in capsys.readouterr().out
    # a list whose data file cannot be read: exit 2, the file named
    bad = tmp_path / "bad.csv"
    write_fetch_csv(bad, [replace(c, file=str(tmp_path / "nope.fil")) for c in cands])
    assert main(["prepare", "-w", str(tmp_path / "ws"), "-c", str(bad), "--no-progress"]) == 2
    assert "nope.fil: file not found" in capsys.readouterr().err
    # a corrupt workspace: one clear error, exit 2, nothing overwritten
    (tmp_path / "ws" / "frbtriage.toml").write_text("garbage = [")
    assert main(["prepare", "-w", str(tmp_path / "ws"), "-c", str(csv)]) == 2
    assert "frbtriage.toml: corrupt" in capsys.readouterr().err
    assert (tmp_path / "ws" / "frbtriage.toml").read_text() == "garbage = ["


def test_cli_prepare_heimdall(tmp_path, capsys):
    cands = [c for c in _sample_cands(n=6) if (c.width & (c.width - 1)) == 0][:3]
    with FilterbankReader(SAMPLE / "obs.fil") as rd:
        tsamp = rd.header.tsamp
    cand = tmp_path / "h.cand"
    write_heimdall(cand, cands, tsamp)
    ws = tmp_path / "ws"
    assert main(["prepare", "-w", str(ws), "-c", str(cand), "--data-file",
                 str(SAMPLE / "obs.fil"), "--no-progress"]) == 0
    assert f"{len(cands)} added" in capsys.readouterr().out
    with Workspace.open(ws) as w:
        assert all(r.origin.startswith("heimdall:") for r in w.candidates())


@pytest.mark.slow
def test_sigkill_half_way_then_resume(tmp_path):
    """Kill a running ``frbtriage prepare`` with SIGKILL after some batches are stored,
    re-run it, and check counts, uniqueness and that every row holds its own images.
    All the sample's candidates: the wide ones (decimation up to 1024) keep the run going
    for seconds, so the kill lands half way."""
    cands = _sample_cands(max_width=4096)
    csv = tmp_path / "c.csv"
    write_fetch_csv(csv, cands)
    ws_dir = tmp_path / "ws"
    Workspace.create(ws_dir).close()
    cmd = [sys.executable, "-m", "frbtriage.cli", "prepare", "-w", str(ws_dir), "-c", str(csv),
           "--batch", "2", "--no-progress"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    stored = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with Workspace.open(ws_dir) as ws:
                stored = len(ws)
            if stored >= 4:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "prepare finished before it could be killed"
    assert 0 < stored < len(cands)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Workspace.open(ws_dir) as ws:
        recs = ws.candidates()
        assert len(recs) == len(cands) and ws.ft.shape[0] == len(cands)
        keys = {(r.tcand_key, r.dm_key, r.width) for r in recs}
        assert len(keys) == len(cands)
        assert sorted(r.row for r in recs) == list(range(len(cands)))
        with FilterbankReader(SAMPLE / "obs.fil") as rd:
            fmask = P.file_mask(rd)
            for r in recs:
                ft, dmt, _ = P.candidate_images(rd, r.tcand, r.dm, r.width, fmask)
                got_ft, got_dmt = ws.images([r.row])
                np.testing.assert_array_equal(got_ft[0], ft)
                np.testing.assert_array_equal(got_dmt[0], dmt)


def test_kill_mask_and_mask_modes(tmp_path):
    cands = _sample_cands(n=2)
    kill = tmp_path / "kill.txt"
    kill.write_text("0\n1\n2\n")
    for mode in ("file", "window", "none"):
        with Workspace.create(tmp_path / f"ws_{mode}") as ws:
            s = P.prepare_candidates(ws, cands, mask=mode, kill_mask=kill)
            assert s.added == 2 and not s.skipped
            ft, dmt = ws.images([0, 1])
            assert np.isfinite(ft).all() and np.isfinite(dmt).all()
    with FilterbankReader(SAMPLE / "obs.fil") as rd:
        nchan = rd.header.nchans
    assert P._load_kill(kill, nchan)[:4].tolist() == [True, True, True, False]
    bad = tmp_path / "bad.txt"
    bad.write_text("zero\n")
    with pytest.raises(P.InputError, match="bad.txt: not a list of channel numbers"):
        P._load_kill(bad, nchan)
    bad.write_text(f"{nchan}\n")
    with pytest.raises(P.InputError, match="must lie in"):
        P._load_kill(bad, nchan)


def test_real_crab_pulse_is_centred(real_fil):
    """The faint Crab pulse in the real Parkes file (DM 56.77, t ~ 0.946 s, S/N ~7 at
    4-8 samples) lands at the centre of both images (a padded window: it runs past the
    file's end at 2*DM)."""
    with FilterbankReader(real_fil) as rd:
        ft, dmt, padded = P.candidate_images(rd, 0.946, 56.77, 8, P.file_mask(rd))
    assert padded
    r, c = np.unravel_index(np.argmax(dmt), dmt.shape)
    assert abs(int(r) - 128) <= 6 and abs(int(c) - 128) <= 2
    assert abs(int(np.argmax(ft.sum(axis=0))) - 128) <= 2
