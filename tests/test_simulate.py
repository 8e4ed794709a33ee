"""The simulator against its own truth: file format, injected S/N and positions, determinism."""

from __future__ import annotations

import csv
import filecmp
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import fftconvolve

from frbtriage import cli
from frbtriage.errors import InputError
from frbtriage.physics import CHIME_TSAMP_S, delay_samples, delay_seconds, smearing_seconds
from frbtriage.simulate import (
    Burst,
    Pulse,
    inject_block,
    inject_burst,
    read_truth_csv,
    render_pulse,
    simulate_observation,
)
from frbtriage.simulate.bursts import scintillation
from frbtriage.simulate.layout import make_layout
from frbtriage.simulate.profiles import boxcar_snr, dedispersed_series
from frbtriage.simulate.truth import FETCH_COLUMNS

# ---------------------------------------------------------------- helpers (plain numpy)


def _read(fil: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """(nchan, ntime) float32 data, channel freqs (MHz), tsamp (s) via your."""
    import your

    y = your.Your(str(fil))
    h = y.your_header
    data = y.get_data(0, h.nspectra).astype(np.float32).T
    return data, h.fch1 + h.foff * np.arange(h.nchans), h.tsamp


def _normalise(data: np.ndarray, masked: np.ndarray) -> np.ndarray:
    """Per-channel (x - median) / (1.4826 MAD); masked and constant channels -> 0."""
    med = np.median(data, axis=1, keepdims=True)
    mad = 1.4826 * np.median(np.abs(data - med), axis=1, keepdims=True)
    bad = masked[:, None] | (mad == 0)
    return np.where(bad, 0.0, (data - med) / np.where(mad == 0, 1.0, mad)).astype(np.float32)


def _dedisperse(x: np.ndarray, freqs: np.ndarray, tsamp: float, dm: float) -> np.ndarray:
    """Sum over channels of x[c, i + delay[c]], i in [0, ntime - max delay)."""
    d = delay_samples(dm, freqs, tsamp)
    n = x.shape[1] - int(d.max())
    out = np.zeros(n, dtype=np.float64)
    for c in range(x.shape[0]):
        out += x[c, d[c]:d[c] + n]
    return out


def _box_snr(series: np.ndarray, width: int, lo: int, hi: int) -> tuple[float, int]:
    """Best S/N of a ``width`` boxcar starting in [lo, hi), noise from the series' MAD."""
    med = np.median(series)
    sd = 1.4826 * np.median(np.abs(series - med))
    cs = np.concatenate([[0.0], np.cumsum(series - med)])
    sums = cs[width:] - cs[:-width]
    lo, hi = max(lo, 0), min(hi, sums.size)
    j = lo + int(np.argmax(sums[lo:hi]))
    return float(sums[j] / (sd * np.sqrt(width))), j


@pytest.fixture(scope="module")
def sim_data(sim_obs):  # noqa: ANN001, ANN201
    data, freqs, tsamp = _read(sim_obs.fil_path)
    masked = np.zeros(data.shape[0], dtype=bool)
    masked[np.loadtxt(sim_obs.mask_path, dtype=np.int64, ndmin=1)] = True
    return _normalise(data, masked), freqs, tsamp, data


# ---------------------------------------------------------------- the written files


def test_your_reads_chime_layout(sim_obs) -> None:  # noqa: ANN001
    import your

    h = your.Your(str(sim_obs.fil_path)).your_header
    assert h.nchans == 1024
    assert h.nbits == 8
    assert h.tsamp == pytest.approx(0.98304e-3, rel=1e-9)
    assert h.center_freq == pytest.approx(600.0, abs=1e-6)
    assert h.foff == pytest.approx(-400 / 1024)
    assert h.fch1 == pytest.approx(800 - 400 / 2048)
    assert h.nspectra == sim_obs.layout.nsamp == round(15 / CHIME_TSAMP_S)


def test_noise_levels_and_dead_channels(sim_obs, sim_data) -> None:  # noqa: ANN001
    _, _, _, raw = sim_data
    dead = [r for r in sim_obs.truth if r.kind == "dead_channels"]
    assert dead
    is_dead = np.zeros(raw.shape[0], dtype=bool)
    for r in dead:
        is_dead[r.chan_lo:r.chan_hi + 1] = True
    assert not raw[is_dead].any()
    mask = set(np.loadtxt(sim_obs.mask_path, dtype=int).tolist())
    assert set(np.flatnonzero(is_dead).tolist()) <= mask
    live = ~is_dead
    for r in sim_obs.truth:
        if r.kind == "rfi_persistent_channel":
            live[r.chan_lo:r.chan_hi + 1] = False
            assert set(range(r.chan_lo, r.chan_hi + 1)) <= mask
    mean = np.median(raw[live], axis=1)
    std = 1.4826 * np.median(np.abs(raw[live] - mean[:, None]), axis=1)
    assert 55 <= np.median(mean) <= 128 and mean.min() > 40
    assert 6 <= np.median(std) <= 20


def test_candidates_csv_is_fetch_format(sim_obs) -> None:  # noqa: ANN001
    with open(sim_obs.candidates_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == FETCH_COLUMNS
    labels = [int(r["label"]) for r in rows]
    n_bursts = sum(r.kind == "burst" for r in sim_obs.truth)
    assert labels.count(1) == n_bursts == 4
    assert labels.count(0) >= 3
    dur = sim_obs.layout.duration
    for r in rows:
        assert r["file"] == "obs.fil" and (sim_obs.out_dir / r["file"]).exists()
        assert (sim_obs.out_dir / r["chan_mask_path"]).exists()
        assert 0 <= float(r["stime"]) <= dur and float(r["dm"]) >= 0
        assert float(r["snr"]) > 0 and int(r["width"]) == float(r["width"]) >= 0
    stimes = [float(r["stime"]) for r in rows]
    assert stimes == sorted(stimes)
    # every candidate is explained by exactly one truth row
    linked = sorted(i for t in sim_obs.truth for i in t.candidate_rows)
    assert linked == list(range(len(rows)))
    # bursts are reported close to their true DM and time
    for t in sim_obs.truth:
        if t.kind == "burst":
            (i,) = t.candidate_rows
            assert abs(float(rows[i]["dm"]) - t.dm) < 0.05 * t.dm + 2
            assert abs(float(rows[i]["stime"]) - t.time_s) < 0.02 + 2 * t.width_samples * 1e-3


def test_truth_round_trip(sim_obs) -> None:  # noqa: ANN001
    rows = read_truth_csv(sim_obs.truth_path)
    assert [r.kind for r in rows] == [r.kind for r in sim_obs.truth]
    kinds = {r.kind for r in rows}
    assert {"burst", "rfi_impulse", "rfi_narrowband_burst", "rfi_persistent_channel",
            "dead_channels", "bandpass", "noise_candidate"} <= kinds
    for a, b in zip(rows, sim_obs.truth, strict=True):
        if a.snr is not None:
            assert a.snr == pytest.approx(b.snr, rel=1e-5)
            assert a.candidate_rows == b.candidate_rows


# ---------------------------------------------------------------- injected signals vs truth


def test_bursts_have_truth_snr_at_true_dm(sim_obs, sim_data) -> None:  # noqa: ANN001
    x, freqs, tsamp, _ = sim_data
    bursts = [r for r in sim_obs.truth if r.kind == "burst"]
    assert len(bursts) == 4
    for b in bursts:
        series = _dedisperse(x, freqs, tsamp, b.dm)
        centre = int(b.time_s / tsamp)
        w = b.width_samples
        snr, j = _box_snr(series, w, centre - w - 20, centre + 20)
        assert snr == pytest.approx(b.snr, rel=0.3, abs=2.0), (b, snr)
        assert abs(j + w / 2 - b.time_s / tsamp) <= w / 2 + 3
        # off by 2x the DM-smearing tolerance, the burst is much weaker: it really is dispersed
        if b.snr > 15 and b.dm > 100:
            off = _dedisperse(x, freqs, tsamp, b.dm * 0.5)
            snr_off, _ = _box_snr(off, w, centre - w - 20, centre + 20)
            assert snr_off < 0.6 * snr


def test_zero_dm_impulse_where_truth_says(sim_obs, sim_data) -> None:  # noqa: ANN001
    x, freqs, tsamp, _ = sim_data
    impulses = [r for r in sim_obs.truth if r.kind == "rfi_impulse"]
    assert impulses
    series = x.sum(axis=0, dtype=np.float64)
    for r in impulses:
        centre = r.time_s / tsamp
        w = r.width_samples
        snr, j = _box_snr(series, w, int(centre) - 200, int(centre) + 200)
        assert abs(j + w / 2 - centre) <= 1 + w / 2, (r, j)
        assert snr == pytest.approx(r.snr, rel=0.3, abs=2.0)


# ---------------------------------------------------------------- determinism, big files, CLI


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    kw = dict(minutes=0.05, nchan=64, n_bursts=2)
    a = simulate_observation(tmp_path / "a", seed=5, **kw)
    b = simulate_observation(tmp_path / "b", seed=5, **kw)
    c = simulate_observation(tmp_path / "c", seed=6, **kw)
    for name in ("obs.fil", "truth.csv", "candidates.csv", "obs.bad_chans"):
        assert filecmp.cmp(a.out_dir / name, b.out_dir / name, shallow=False), name
    assert a.fil_path.read_bytes() != c.fil_path.read_bytes()
    assert a.truth_path.read_text() != c.truth_path.read_text()


@pytest.mark.slow
def test_16384_channels(tmp_path: Path) -> None:
    import your

    res = simulate_observation(tmp_path, minutes=0.035, nchan=16384, seed=3, n_bursts=1,
                               rfi_rate=0.0, noise_rate=0.0)
    h = your.Your(str(res.fil_path)).your_header
    assert h.nchans == 16384 and h.center_freq == pytest.approx(600.0)
    assert res.fil_path.stat().st_size > 16384 * 2000
    # the burst (pulses span several 256-sample chunks here) is where the truth says
    data, freqs, tsamp = _read(res.fil_path)
    x = _normalise(data, np.zeros(data.shape[0], dtype=bool))
    (b,) = [r for r in res.truth if r.kind == "burst"]
    snr, _ = _box_snr(_dedisperse(x, freqs, tsamp, b.dm), b.width_samples,
                      int(b.time_s / tsamp) - b.width_samples - 20, int(b.time_s / tsamp) + 20)
    assert snr == pytest.approx(b.snr, rel=0.3, abs=2.0)


def test_cli_writes_all_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    assert cli.main(["simulate", str(out), "--minutes", "0.03", "--nchan", "128",
                     "--seed", "1", "--n-bursts", "1"]) == 0
    for name in ("obs.fil", "truth.csv", "candidates.csv", "obs.bad_chans"):
        assert (out / name).stat().st_size > 0
    assert "wrote" in capsys.readouterr().out
    assert not list(out.glob("*.partial")) and not list(out.glob("*.tmp"))


@pytest.mark.parametrize("args", [
    ["--minutes", "-1"],
    ["--minutes", "0"],
    ["--minutes", "0.001"],
    ["--nchan", "1000"],
    ["--nchan", "8"],
    ["--snr", "10", "5"],
    ["--dm", "-5", "100"],
    ["--rfi-rate", "-1"],
    ["--dead-fraction", "0.9"],
    ["--n-bursts", "-2"],
    ["--seed", "-1"],
    ["--threshold", "0"],
])
def test_cli_bad_input_one_line_exit_2(tmp_path: Path, args: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x"
    assert cli.main(["simulate", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("frbtriage: error: ") and str(out) in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_out_dir_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        simulate_observation(f, minutes=0.02, nchan=16)


# ---------------------------------------------------------------- array-level pieces


def test_render_pulse_conserves_fluence_and_matches_brute_force() -> None:
    tsamp = 1e-3
    for sigma, tau, smear in [(0.3e-3, 0.0, 0.0), (0.5e-3, 3e-3, 0.0), (0.2e-3, 2e-3, 6e-3)]:
        tc = 0.1503
        p = Pulse(np.array([tc]), sigma, np.array([tau]), np.array([smear]), np.array([2.0]))
        blk = render_pulse(p, tsamp)
        assert blk.data.sum() == pytest.approx(2.0, rel=1e-4)
        # brute force: fine grid, convolve, bin
        t = np.arange(-0.1, 0.1, 1e-6)
        g = np.exp(-0.5 * (t / sigma) ** 2)
        if tau:
            g = fftconvolve(g, np.where(t >= 0, np.exp(-np.clip(t, 0, None) / tau), 0), "same")
        if smear:
            g = fftconvolve(g, (np.abs(t) <= smear / 2).astype(float), "same")
        g *= 2.0 / g.sum()
        k = np.floor((t + tc) / tsamp).astype(int)  # absolute sample index, all >= 50
        ref = np.bincount(k, weights=g, minlength=400)
        mine = np.zeros_like(ref)
        mine[blk.start:blk.stop] = blk.data[0]
        assert np.abs(mine - ref).max() < 2e-3


def test_chunked_injection_equals_whole() -> None:
    lay = make_layout(0.02, 64)
    b = Burst(time_s=0.2, dm=40.0, width_s=2e-3, scatter_s=1e-3, spectrum="powerlaw",
              spec_index=-2.0, fluence=10.0)
    blk = render_pulse(b.pulse(lay), lay.tsamp)
    whole = np.zeros((lay.nchan, lay.nsamp), dtype=np.float32)
    inject_block(whole, blk)
    pieces = np.zeros((lay.nsamp, lay.nchan), dtype=np.float32)  # file layout, transposed view
    for s in range(0, lay.nsamp, 37):
        inject_block(pieces[s:s + 37].T, blk, start=s)
    np.testing.assert_array_equal(whole, pieces.T)
    # centroids follow frbtriage.physics' delays plus the scattering tail's mean (tau(f))
    idx = np.arange(lay.nsamp) + 0.5
    cen = (whole * idx).sum(axis=1) / whole.sum(axis=1) * lay.tsamp
    tau = 1e-3 * (lay.freqs / 600.0) ** -4
    expected = 0.2 + delay_seconds(40.0, lay.freqs) + tau
    np.testing.assert_allclose(cen, expected, atol=0.02 * lay.tsamp)
    # the bottom channel is smeared over ~2 K DM df / f^3 (a box), wider than the top one
    smear = smearing_seconds(40.0, lay.freqs[-1], lay.chan_bw) / lay.tsamp
    assert (whole[-1] > 0.5 * whole[-1].max()).sum() == pytest.approx(smear, abs=3)


def test_boxcar_snr_of_known_signal() -> None:
    series = np.zeros(100)
    series[40:48] = 2.0  # 8 samples of 2 (sum of 16 unit-variance channels)
    snr, width, start = boxcar_snr(series, 16.0)
    assert (width, start) == (8, 40)
    assert snr == pytest.approx(16.0 / np.sqrt(8 * 16))
    lay = make_layout(0.02, 32)
    b = Burst(time_s=0.1, dm=30.0, width_s=1e-3, scatter_s=0.0, spectrum="powerlaw")
    blk = render_pulse(b.pulse(lay), lay.tsamp)
    ser, first = dedispersed_series(blk, delay_samples(30.0, lay.freqs, lay.tsamp))
    assert ser.sum() == pytest.approx(blk.data.sum(), rel=1e-5)
    assert abs(first + int(np.argmax(ser)) - 0.1 / lay.tsamp) <= 1


def test_scintillation_statistics() -> None:
    f = 800 - 400 / 1024 * (np.arange(1024) + 0.5)
    rng = np.random.default_rng(0)
    g = scintillation(f, 400 / 1024, 5.0, rng)
    assert g.shape == (1024,) and (g >= 0).all()
    assert g.mean() == pytest.approx(1.0, abs=0.25)
    assert 0.5 < g.std() < 1.3  # exponential statistics when scintles >> channels
    narrow = scintillation(f, 400 / 1024, 0.05, rng)  # scintles << channels: washed out
    assert narrow.std() < 0.5 * g.std()


# ---------------------------------------------------------------- the committed sample


def test_committed_sample_is_what_its_readme_command_makes(samples_dir: Path,
                                                           tmp_path: Path) -> None:
    """data_samples/chime_sim is reproducible from the exact command in data_samples/README.md."""
    import shlex

    readme = (samples_dir / "README.md").read_text()
    (line,) = [ln for ln in readme.splitlines() if ln.startswith("frbtriage simulate ")]
    argv = shlex.split(line)[1:]
    assert argv[1] == "data_samples/chime_sim"
    argv[1] = str(tmp_path / "chime_sim")
    assert cli.main(argv) == 0
    for name in ("obs.fil", "truth.csv", "candidates.csv", "obs.bad_chans"):
        assert filecmp.cmp(samples_dir / "chime_sim" / name, tmp_path / "chime_sim" / name,
                           shallow=False), f"{name}: re-run the command in data_samples/README.md"


def test_inject_burst_into_ascending_channels() -> None:
    """Injecting into an arbitrary array (ascending frequencies, like some real files) puts
    the burst at the top-of-band time and dispersion delays the contract prescribes."""
    freqs = np.linspace(1200.0, 1500.0, 64)  # ascending, L-band
    tsamp = 0.5e-3
    data = np.zeros((64, 4000), dtype=np.float32)
    std = np.full(64, 3.0)
    b = Burst(time_s=0.5, dm=100.0, width_s=1e-3, scatter_s=0.0, spectrum="powerlaw",
              fluence=4.0)
    blk = inject_burst(data, freqs, tsamp, b, scale=std)
    assert data.sum() == pytest.approx(4.0 * 3.0 * 64, rel=1e-3)
    d = delay_samples(100.0, freqs, tsamp)
    ded = np.array([data[c, d[c]:d[c] + 2000] for c in range(64)]).sum(axis=0)
    assert abs(int(np.argmax(ded)) - 0.5 / tsamp) <= 1
    series, first = dedispersed_series(blk, d)
    assert series.sum() == pytest.approx(4.0 * 64, rel=1e-3)


# ---------------------------------------------------------------- the emulated search


def _emulator(seed: int = 0):  # noqa: ANN202
    from frbtriage.simulate.search import SearchEmulator

    lay = make_layout(0.5, 256)
    live = np.ones(lay.nchan, dtype=bool)
    return lay, SearchEmulator(lay, live, np.full(lay.nchan, 20.0), dm_max=1500.0,
                               threshold=6.0, rng=np.random.default_rng(seed))


def test_search_reports_rfi_at_the_dms_a_search_would() -> None:
    from frbtriage.physics import K_DM
    from frbtriage.simulate.rfi import TransientRFI

    lay, search = _emulator()
    # broadband zero-DM impulse: strongest candidate at DM 0 - few, at the impulse time
    imp = TransientRFI(kind="rfi_impulse", time_s=10.0, width_s=2e-3, spec_centre_mhz=600.0,
                       spec_fwhm_mhz=400.0, fluence=40.0)
    dets = search.rfi(render_pulse(imp.pulse(lay), lay.tsamp))
    best = max(dets, key=lambda d: d.snr)
    assert best.dm <= 5.0 and abs(best.stime - 10.0) < 0.01 and best.snr > 20
    # an extra candidate at DM > 0 is earlier, by less than the sweep (the impulse's
    # dedispersed signal is spread over [t - sweep, t])
    for d in dets:
        assert 10.0 - lay.sweep(d.dm) - 0.01 <= d.stime <= 10.01
    # a downward drift of r MHz/s around 600 MHz mimics DM = f^3 / (2 K_DM r)
    rate = 150.0
    drift = TransientRFI(kind="rfi_drift", time_s=20.0, width_s=0.0, spec_centre_mhz=650.0,
                         spec_fwhm_mhz=2.0, drift_mhz_s=-rate, duration_s=100.0 / rate,
                         line_mhz=2.0, fluence=30.0)
    dets = search.rfi(render_pulse(drift.pulse(lay), lay.tsamp))
    best = max(dets, key=lambda d: d.snr)
    assert best.dm == pytest.approx(600.0**3 / (2 * K_DM * rate), rel=0.35)
    # a faint narrowband burst below threshold is not reported at all
    nb = TransientRFI(kind="rfi_narrowband_burst", time_s=5.0, width_s=5e-3,
                      spec_centre_mhz=700.0, spec_fwhm_mhz=3.0, fluence=0.5)
    assert search.rfi(render_pulse(nb.pulse(lay), lay.tsamp)) == []


def test_search_reports_bursts_near_truth_and_noise_near_threshold() -> None:
    lay, search = _emulator(1)
    b = Burst(time_s=3.0, dm=500.0, width_s=2e-3, scatter_s=0.0, spectrum="powerlaw",
              fluence=1.0)
    blk = render_pulse(b.pulse(lay), lay.tsamp)
    from frbtriage.simulate.search import expected_snr

    snr1, width, _ = expected_snr(blk, lay, 500.0, np.ones(lay.nchan, dtype=bool))
    blk.data *= np.float32(20.0 / snr1)
    det = search.burst(blk, 500.0, width * lay.tsamp)
    assert abs(det.dm - 500.0) < 5.0 and abs(det.stime - 3.0) < 0.01
    assert det.snr == pytest.approx(20.0, abs=4.0)
    noise = search.noise(200)
    snrs = np.array([d.snr for d in noise])
    assert snrs.min() >= 6.0 and np.median(snrs) < 7.0
    assert all(0 <= d.stime <= lay.duration - lay.sweep(d.dm) for d in noise)


# ---------------------------------------------------------------- clean negatives


def _measured_image_snr(data: np.ndarray, lay, det, width: int) -> float:  # noqa: ANN001
    """Best S/N of the noise-free ``data`` ``(nchan, nsamp)`` (one pulse of ``width``
    samples) inside ``det``'s images, measured the plain way: in ``dmt``, dedisperse at each
    of 64 trial DMs in ``0 .. 2 dm``, cut the 256 decimated samples around ``stime``, sum
    the channels, best boxcar of 1-8 pixels; in ``ft`` (dedispersed at ``dm``), the pulse's
    signal in the window summed along its track over the channels that hold it."""
    decim = max(1, det.width // 2)
    lo = int(round(det.stime / lay.tsamp)) - 128 * decim

    def window(dm: float) -> np.ndarray:
        d = delay_samples(dm, lay.freqs, lay.tsamp)
        out = np.zeros((lay.nchan, 256 * decim))
        for c in range(lay.nchan):
            a, b = lo + d[c], lo + d[c] + 256 * decim
            seg = data[c, max(a, 0):max(min(b, data.shape[1]), 0)]
            out[c, max(0, -a):max(0, -a) + seg.size] = seg
        return out

    best = 0.0
    for dm in np.linspace(0.0, 2 * det.dm, 64):
        pix = window(dm).sum(axis=0).reshape(256, decim).sum(axis=1)
        for w in (1, 2, 4, 8):
            box = np.convolve(pix, np.ones(w), mode="valid")
            best = max(best, box.max() / np.sqrt(lay.nchan * decim * w))
    per_chan = window(det.dm).sum(axis=1)
    held = per_chan > 1e-3 * max(per_chan.max(), 1e-30)
    if held.any():
        track = per_chan[held].sum() / np.sqrt(held.sum() * max(width, decim))
        best = max(best, track)
    return best


def test_snr_in_images_estimates_what_the_dmt_image_holds() -> None:
    """The clean-negatives estimate against a plain measurement on noise-free data: all of
    the S/N for a candidate on the burst, 0 far from it, never far below the measurement
    (and not wildly above it) for candidates around it."""
    from frbtriage.simulate.search import Detection, Trace, expected_snr, snr_in_images

    lay = make_layout(0.5, 64)
    b = Burst(time_s=6.0, dm=300.0, width_s=2e-3, scatter_s=0.0, spectrum="powerlaw",
              fluence=1.0)
    blk = render_pulse(b.pulse(lay), lay.tsamp)
    live = np.ones(lay.nchan, dtype=bool)
    snr1, width, _ = expected_snr(blk, lay, 300.0, live)
    blk.data *= np.float32(40.0 / snr1)
    data = np.zeros((lay.nchan, lay.nsamp))
    inject_block(data, blk)
    trace = [Trace(6.0, 300.0, width * lay.tsamp, 40.0)]
    on = Detection(snr=40.0, stime=6.0, dm=300.0, width=int(width))
    assert snr_in_images(on, trace, lay) == pytest.approx(40.0, rel=0.02)  # all of it
    assert _measured_image_snr(data, lay, on, width) > 30.0
    far = Detection(snr=7.0, stime=20.0, dm=300.0, width=2)
    assert snr_in_images(far, trace, lay) == 0.0
    assert _measured_image_snr(data, lay, far, width) == 0.0
    assert snr_in_images(on, [], lay) == 0.0
    rng = np.random.default_rng(3)
    for _ in range(16):
        det = Detection(snr=7.0, stime=float(rng.uniform(4.0, 9.0)),
                        dm=float(rng.uniform(20.0, 600.0)), width=int(2 ** rng.integers(0, 7)))
        est, measured = snr_in_images(det, trace, lay), _measured_image_snr(data, lay, det, width)
        # conservative: the linear smear overstates the late, low-frequency end of a sweep
        assert 0.5 * measured - 1.0 <= est <= 4.0 * measured + 2.0, (det, est, measured)


def test_clean_negatives_keep_bursts_out_of_negative_images(tmp_path: Path) -> None:
    """With ``clean_negatives`` no RFI/noise candidate's images hold a burst at S/N >= 3
    (by the same estimate); without it, at 40 bursts a minute, many do."""
    from frbtriage.simulate.search import CLEAN_SNR, Detection, Trace, snr_in_images

    def worst(clean: bool) -> np.ndarray:
        res = simulate_observation(tmp_path / str(clean), minutes=0.5, nchan=64, seed=11,
                                   burst_rate=40.0, dm_range=(50.0, 500.0),
                                   clean_negatives=clean)
        traces = [Trace.from_truth(r, res.layout.tsamp) for r in res.truth if r.kind == "burst"]
        negs = [c for c in res.candidates if c.label == 0]
        assert negs and len(traces) == 20
        return np.array([snr_in_images(Detection(c.snr, c.stime, c.dm, 2 ** int(c.width)),
                                       traces, res.layout) for c in negs])

    clean, plain = worst(True), worst(False)
    assert (clean < CLEAN_SNR).all()
    assert (plain >= CLEAN_SNR).sum() > len(plain) // 4
