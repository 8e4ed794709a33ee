"""The simulator on other telescopes' grids: bands, channels, sample times, headers, bursts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frbtriage import cli
from frbtriage.errors import InputError
from frbtriage.io.filterbank import FilterbankReader
from frbtriage.physics import delay_samples
from frbtriage.search import search_file
from frbtriage.simulate import simulate_observation
from frbtriage.simulate.bursts import Burst
from frbtriage.simulate.layout import make_layout
from frbtriage.simulate.telescopes import TELESCOPES


@pytest.mark.parametrize("name", sorted(TELESCOPES))
def test_presets_tile_their_band(name: str) -> None:
    tel = TELESCOPES[name]
    lay = make_layout(0.05, None, telescope=name)
    assert (lay.nchan, lay.tsamp) == (tel.nchan, tel.tsamp_s)
    assert lay.freqs.max() + lay.chan_bw / 2 == pytest.approx(tel.f_top_mhz)
    assert lay.freqs.min() - lay.chan_bw / 2 == pytest.approx(tel.f_bottom_mhz)
    assert np.all(np.diff(lay.freqs) < 0), "channel 0 is the highest frequency"
    assert lay.nsamp == round(3.0 / tel.tsamp_s)


def test_bad_telescope_or_channels_refused() -> None:
    with pytest.raises(InputError, match="unknown telescope 'arecibo'; known: chime"):
        make_layout(0.1, None, telescope="arecibo")
    with pytest.raises(InputError, match="power of two"):
        make_layout(0.1, 832)  # CHIME: a power of two
    assert make_layout(0.1, 832, telescope="askap").nchan == 832  # any count elsewhere
    with pytest.raises(InputError, match="from 16 to 16384"):
        make_layout(0.1, 8, telescope="askap")


def test_cli_unknown_telescope_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "x"
    assert cli.main(["simulate", str(out), "--telescope", "arecibo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown telescope" in err[0]
    assert not out.exists()


def test_power_laws_refer_to_the_band_centre() -> None:
    """A running power law peaks where it does relative to the band's centre, so on a
    1.2-1.5 GHz band it is not a burst seen only in its bottom channels, as it would be
    referenced to CHIME's 600 MHz."""
    lay = make_layout(0.05, None, telescope="parkes_mb")
    b = Burst(time_s=1.0, dm=100.0, width_s=1e-3, scatter_s=0.0, spectrum="running_powerlaw",
              spec_index=0.0, spec_running=-20.0, spec_ref_mhz=1382.0)
    s = b.spectrum_shape(lay.freqs, lay.chan_bw)
    assert abs(lay.freqs[int(np.argmax(s))] - 1382.0) < 2 * lay.chan_bw


def test_parkes_uwl_file_is_shaped_like_the_real_one(tmp_path: Path, real_fil: Path) -> None:
    """The `parkes_uwl` preset writes the real Parkes file's header (832 x 4 MHz from
    4030 MHz down, 0.512 ms), and its injected burst is where the truth says: found by the
    search at its DM, arriving at each channel as cold plasma delays it. (Seed 19 draws a
    broadband burst, 2 sigma per channel-sample at its peak. Seed 11 draws a 99-MHz-wide one
    at 1.9 GHz, 24 sigma per channel-sample: the search's per-chunk channel masks and its
    6-sigma clip of single channel-samples cut it from S/N 38 to 6, a limit of the search's
    cleaning on bright narrow-band bursts, not of the layout.)"""
    res = simulate_observation(tmp_path / "uwl", minutes=0.1, seed=19, telescope="parkes_uwl",
                               n_bursts=1, snr_range=(40.0, 40.0), dm_range=(150.0, 150.0),
                               rfi_rate=0.0, noise_rate=0.0)
    with FilterbankReader(res.fil_path) as sim, FilterbankReader(real_fil) as real:
        for key in ("nchans", "fch1", "foff", "tsamp", "nbits"):
            assert getattr(sim.header, key) == pytest.approx(getattr(real.header, key)), key
        data = sim.read(0, sim.header.nspectra).data.astype(np.float64)
        freqs = np.asarray(sim.header.freqs)
    (burst,) = [r for r in res.truth if r.kind == "burst"]
    cands = search_file(res.fil_path, dm_max=400.0)
    best = max(cands, key=lambda c: c.snr)
    assert best.dm == pytest.approx(burst.dm, rel=0.05)
    assert abs(best.tcand - burst.time_s) < 0.02
    # plain numpy: the burst's energy in each quarter of the band sits at its own delay
    x = (data - np.median(data, axis=1, keepdims=True)) / (data.std(axis=1, keepdims=True) + 1e-9)
    d = delay_samples(burst.dm, freqs, res.layout.tsamp)
    t0 = int(round(burst.time_s / res.layout.tsamp))
    quarters = np.array_split(np.arange(freqs.size), 4)
    lit = [q for q in quarters if x[q, :].sum() != 0]
    for q in lit:
        mid = q[q.size // 2]
        profile = np.zeros(x.shape[1])
        for c in q:
            profile[: x.shape[1] - d[c]] += x[c, d[c]:]
        assert abs(int(np.argmax(profile)) - t0) <= 3 + int(burst.width_samples), (mid, freqs[mid])
