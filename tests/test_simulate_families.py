"""The simulator's families (issue 14): burst morphologies and interference that imitates
bursts, injected where and as bright as the truth says, off by default, and told apart by the
dispersion check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frbtriage import cli
from frbtriage.errors import InputError
from frbtriage.physics import delay_samples
from frbtriage.simulate import SimulationConfig, read_truth_csv, simulate_observation
from frbtriage.simulate.bursts import BURST_FAMILIES, Burst
from frbtriage.simulate.layout import make_layout
from frbtriage.simulate.observation import FAMILIES, FAMILY_RFI
from frbtriage.simulate.profiles import merge_blocks, render_pulse
from frbtriage.simulate.rfi import SweepRFI
from frbtriage.simulate.truth import family_of


def _normalised(res) -> np.ndarray:  # noqa: ANN001
    """The written data, (nchan, ntime), per channel (x - median) / (1.4826 MAD), masked 0."""
    import your

    y = your.Your(str(res.fil_path))
    data = y.get_data(0, y.your_header.nspectra).astype(np.float32).T
    masked = np.zeros(data.shape[0], bool)
    masked[np.loadtxt(res.mask_path, dtype=np.int64, ndmin=1)] = True
    med = np.median(data, axis=1, keepdims=True)
    mad = 1.4826 * np.median(np.abs(data - med), axis=1, keepdims=True)
    bad = masked[:, None] | (mad == 0)
    return np.where(bad, 0.0, (data - med) / np.where(mad == 0, 1.0, mad))


def _best_box(x: np.ndarray, freqs: np.ndarray, tsamp: float, dm: float, width: int,
              lo_s: float, hi_s: float) -> float:
    """Best ``width``-sample boxcar S/N of ``x`` dedispersed at ``dm``, starting between
    ``lo_s`` and ``hi_s`` s; noise from the series' MAD."""
    d = delay_samples(dm, freqs, tsamp)
    n = x.shape[1] - int(d.max())
    series = np.zeros(n)
    for c in range(x.shape[0]):
        series += x[c, d[c]:d[c] + n]
    med = np.median(series)
    sd = 1.4826 * np.median(np.abs(series - med))
    cs = np.concatenate([[0.0], np.cumsum(series - med)])
    sums = cs[width:] - cs[:-width]
    lo, hi = max(int(lo_s / tsamp), 0), min(int(hi_s / tsamp), sums.size)
    return float(sums[lo:hi].max() / (sd * np.sqrt(width)))


@pytest.fixture(scope="module")
def fam_obs(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """30 s, 256 channels, two events of every family, few standard events."""
    out = tmp_path_factory.mktemp("families")
    return simulate_observation(out, minutes=0.5, nchan=256, seed=3, n_bursts=2,
                                dm_range=(50.0, 500.0), families=FAMILIES, family_rate=4.0,
                                rfi_rate=0.5)


def test_families_are_off_by_default_and_named_when_on(fam_obs) -> None:  # noqa: ANN001
    assert SimulationConfig().families == ()
    rows = read_truth_csv(fam_obs.truth_path)
    got = {family_of(r) for r in rows}
    assert set(FAMILIES) <= got
    for r in rows:
        fam = family_of(r)
        if fam in BURST_FAMILIES:
            assert r.kind == "burst" and r.candidate_rows  # a burst is always reported
            assert all(fam_obs.candidates[i].label == 1 for i in r.candidate_rows)
        elif fam in FAMILY_RFI:
            assert r.kind in ("rfi_sweep", "rfi_intermittent")
            assert all(fam_obs.candidates[i].label == 0 for i in r.candidate_rows)
    drifting = [r for r in rows if family_of(r) == "drifting"]
    assert all(r.params["n_sub"] >= 2 and r.params["sub_drift_mhz"] < 0 for r in drifting)
    assert all(10 <= r.dm <= 40 for r in rows if family_of(r) == "low_dm")
    assert all(6.0 <= r.snr <= 9.5 for r in rows if family_of(r) == "faint")
    assert all(r.width_s >= 10e-3 for r in rows if family_of(r) == "wide")
    assert all(r.scatter_ms >= 3 for r in rows if family_of(r) == "scattered")
    laws = {r.params["law"]: r.params["index"] for r in rows if r.kind == "rfi_sweep"}
    assert laws["power"] == 1.0 and laws["linear"] == -1.0 and laws["reversed"] == 2.0
    assert all(r.params["sweep_s"] < 0 for r in rows if family_of(r) == "chirp_reversed")


def test_unknown_family_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match="unknown family sad_trombone"):
        simulate_observation(tmp_path, minutes=0.05, nchan=16, families=("sad_trombone",))
    out = tmp_path / "cli"
    assert cli.main(["simulate", str(out), "--families", "peryton", "bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown family bogus" in err[0]
    assert cli.main(["simulate", str(out), "--minutes", "0.05", "--nchan", "64",
                     "--families", "peryton", "faint", "--family-rate", "20"]) == 0
    assert {family_of(r) for r in read_truth_csv(out / "truth.csv")} >= {"peryton", "faint"}


def test_family_events_are_where_and_as_bright_as_truth_says(fam_obs) -> None:  # noqa: ANN001
    """Bursts at their DM and time, sweeps at the DM trial the search reported them at
    (``params["search_dm"]``), intermittent carriers at DM 0: the S/N measured in the
    written file is the truth's within the noise."""
    x = _normalised(fam_obs)
    lay = fam_obs.layout
    checked = set()
    for r in fam_obs.truth:
        fam = family_of(r)
        if fam not in FAMILIES or r.snr < 8:
            continue
        w = int(r.width_samples)
        if r.kind == "burst":
            dm, lo, hi = r.dm, r.time_s - 0.05 - w * lay.tsamp, r.time_s + 0.05
        else:
            dm, centre = r.params["search_dm"], r.params["search_time_s"]
            lo, hi = centre - (w + 20) * lay.tsamp, centre + 20 * lay.tsamp
        snr = _best_box(x, lay.freqs, lay.tsamp, dm, w, lo, hi)
        assert snr == pytest.approx(r.snr, rel=0.3, abs=2.5), (fam, r.snr, snr)
        checked.add(fam)
    assert set(FAMILIES) - {"faint"} <= checked


def test_sweep_laws_arrive_as_their_law_says() -> None:
    lay = make_layout(0.5, 256)
    f = lay.freqs
    for law, index in (("peryton", 2.2), ("power", 1.0), ("linear", -1.0)):
        sw = SweepRFI(law=law, time_s=2.0, sweep_s=1.5, index=index, width_s=2e-3,
                      f_lo_mhz=400.0, f_hi_mhz=800.0, spec_ripple=0.0)
        t = sw.arrival(f, f.max(), f.min())
        assert t[0] == pytest.approx(2.0) and t[-1] == pytest.approx(3.5)
        mid = np.argmin(np.abs(f - 600.0))
        g = (f[mid] ** -index - f.max() ** -index) / (f.min() ** -index - f.max() ** -index)
        assert t[mid] == pytest.approx(2.0 + 1.5 * g)
    kinked = SweepRFI(law="peryton", time_s=2.0, sweep_s=1.5, index=2.0, width_s=2e-3,
                      f_lo_mhz=400.0, f_hi_mhz=800.0, break_mhz=500.0)
    t = kinked.arrival(f, f.max(), f.min())
    assert np.ptp(t[f < 500.0]) == 0.0 and t[-1] < 3.5  # below the break: all at once


def test_a_drifting_burst_is_the_sum_of_its_sub_bursts() -> None:
    lay = make_layout(0.5, 256)
    b = Burst(time_s=5.0, dm=300.0, width_s=1e-3, scatter_s=0.0, spectrum="gaussian",
              spec_centre_mhz=700.0, spec_fwhm_mhz=80.0, fluence=30.0, n_sub=3,
              sub_gap_s=4e-3, sub_drift_mhz=-80.0, sub_amps=(1.0, 0.5, 0.5))
    block = b.render(lay)
    parts = [render_pulse(c.pulse(lay), lay.tsamp) for c in b.components()]
    assert block.data.sum() == pytest.approx(sum(p.data.sum() for p in parts), rel=1e-5)
    assert block.data.sum() / lay.nchan == pytest.approx(30.0, rel=1e-3)
    assert [c.spec_centre_mhz for c in b.components()] == [700.0, 620.0, 540.0]
    assert merge_blocks([]).chans.size == 0
    with pytest.raises(ValueError, match="render_on"):
        b.pulse(lay)


def _primary_check(tmp_path: Path, family: str, seed: int, **kw: object):  # noqa: ANN202
    """Simulate one event of ``family`` alone in 8 s of 256 channels (no other RFI, noise
    candidates or dead channels), prepare its candidates and return (truth row, dispersion
    check of its brightest candidate)."""
    from frbtriage.dispersion import check_candidate
    from frbtriage.io.candidates import read_candidates
    from frbtriage.prepare import prepare_candidates
    from frbtriage.workspace import Workspace

    opts: dict[str, object] = {"n_bursts": 0, "rfi_rate": 0.0, "noise_rate": 0.0,
                               "dead_fraction": 0.0, "dm_range": (100.0, 250.0),
                               "families": (family,), "family_rate": 7.5, **kw}
    res = simulate_observation(tmp_path / f"{family}-{seed}", minutes=8 / 60, nchan=256,
                               seed=seed, **opts)  # type: ignore[arg-type]
    (row,) = [r for r in res.truth if family_of(r) == family]
    with Workspace.create(tmp_path / f"ws-{family}-{seed}") as ws:
        prepare_candidates(ws, read_candidates(res.candidates_path), progress=False)
        recs = ws.candidates()
        if not recs:  # reported at DM 0 only: no DM-time image, nothing stored
            return row, None
        rec = max(recs, key=lambda c: c.snr)
        ft, _ = ws.candidate_images(rec.id)
        return row, check_candidate(rec, ft)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_dispersion_check_measures_two_for_bursts(tmp_path: Path, seed: int) -> None:
    row, chk = _primary_check(tmp_path, "low_dm", seed, snr_range=(30.0, 60.0))
    assert chk is not None and chk.measured and chk.consistent, (row, chk)
    assert abs(chk.index - 2.0) < 0.1


def test_the_dispersion_check_flags_chirps_and_perytons(tmp_path: Path) -> None:
    """A bright ``f^-1`` chirp and a peryton whose index is not 2: measured far from 2."""
    found = {}
    for family in ("chirp_power", "peryton"):
        for seed in range(1, 12):
            row, chk = _primary_check(tmp_path, family, seed)
            if row.snr < 20 or (family == "peryton" and row.params["break_mhz"] > 0):
                continue
            if chk is not None and chk.measured:
                found[family] = (row, chk)
                break
    assert set(found) == {"chirp_power", "peryton"}, found
    for row, chk in found.values():
        assert chk.consistent is False, (row, chk)
        assert abs(chk.index - row.params["index"]) < max(5 * chk.err, 0.1), (row, chk)
        assert abs(chk.sigma_from_cold_plasma) > 3
