"""CHIME/FRB catalogue waterfalls into a workspace: ft from wfall with NaN channels masked (0,
not noise), no dmt (zeros, origin ';dmt=none'), one-line errors for other files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from frbtriage.cli import main
from frbtriage.errors import InputError
from frbtriage.io.chime_waterfall import read_chime_waterfall
from frbtriage.workspace import Workspace


def write_waterfall(path: Path, *, ascending: bool = True, dm_attr: bool = True,
                    ntime: int = 300) -> Path:
    """A catalogue-like file: 1024 channels (the real ones have 16384), a burst at column 180
    in the upper half of the band, channels 0..63 (lowest frequencies) NaN."""
    rng = np.random.default_rng(0)
    freq = np.linspace(400.2, 799.8, 1024)  # ascending, as wfall rows
    wfall = rng.standard_normal((1024, ntime))
    wfall[512:, 178:183] += 3.0
    wfall[:64] = np.nan
    if not ascending:
        freq, wfall = freq[::-1], wfall[::-1]
    with h5py.File(path, "w") as fh:
        g = fh.create_group("frb")
        g.attrs["tns_name"] = b"FRB20180725A"
        g["wfall"] = wfall
        g["model_wfall"] = np.zeros_like(wfall)
        g["calibrated_wfall"] = wfall
        g["plot_freq"] = freq
        g["plot_time"] = np.arange(ntime) * 0.98304e-3
        g["extent"] = [0.0, ntime * 0.98304e-3, 400.0, 800.0]
        if dm_attr:
            g.attrs["dm"] = 716.6
        else:
            g["dm"] = 716.6
    return path


@pytest.mark.parametrize("ascending,dm_attr", [(True, True), (False, False)])
def test_waterfall_image(tmp_path: Path, ascending: bool, dm_attr: bool) -> None:
    w = read_chime_waterfall(write_waterfall(tmp_path / "w.h5", ascending=ascending,
                                             dm_attr=dm_attr))
    c = w.candidate
    assert c.dm == pytest.approx(716.6) and 178 <= round(c.tcand / 0.98304e-3) <= 182
    assert c.origin.endswith(";tns=FRB20180725A;dmt=none") and c.snr > 5
    assert w.ft.shape == (256, 256)
    assert (w.f_hi_mhz, w.f_lo_mhz) == pytest.approx((800.0, 400.0), abs=0.01)
    assert w.pixel_s == pytest.approx(0.98304e-3)
    # NaN channels 0..63 are the lowest 16 of 256 output rows: bottom rows, masked, exactly 0
    assert w.masked[240:].all() and not w.masked[:240, :200].any()
    assert w.masked[:, -4:].all()  # the window runs 4+ samples past the waterfall's end
    assert (w.ft[240:] == 0).all()
    # burst in the upper half (rows 0..127) around column 128 (centred on the peak column)
    lo = 128 - (round(c.tcand / 0.98304e-3) - 178)
    assert w.ft[:128, lo:lo + 5].mean() > 2 and abs(w.ft[128:240, lo:lo + 5].mean()) < 0.5


def test_import_verb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(write_waterfall(tmp_path / f"w{i}.h5", ntime=200 + i)) for i in range(2)]
    ws_dir = tmp_path / "ws"
    assert main(["import-chime-waterfall", *files, "--workspace", str(ws_dir),
                 "--no-progress"]) == 0
    assert "2 imported" in capsys.readouterr().out
    with Workspace.open(ws_dir) as ws:
        assert len(ws) == 2
        assert not np.asarray(ws.dmt[:2]).any()  # no DM-time image, not a faked one
        recs = ws.candidates([1, 2])
        assert all(r.origin.endswith("dmt=none") and not r.dmt_available for r in recs)
    assert main(["import-chime-waterfall", files[0], "--workspace", str(ws_dir),
                 "--no-progress"]) == 0
    assert "1 already stored" in capsys.readouterr().out


def test_not_a_waterfall(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with h5py.File(tmp_path / "x.h5", "w") as fh:
        fh["data_freq_time"] = np.zeros((4, 4))
    with pytest.raises(InputError, match="not a CHIME/FRB catalogue waterfall"):
        read_chime_waterfall(tmp_path / "x.h5")
    assert main(["import-chime-waterfall", str(tmp_path / "x.h5"), "--workspace",
                 str(tmp_path / "ws"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could be imported" in err
