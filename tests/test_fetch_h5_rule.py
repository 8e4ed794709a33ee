"""One rule for FETCH ``.h5`` inputs (:func:`frbtriage.io.fetch_h5.conform_images`):
``frbtriage rank`` and ``frbtriage import-h5`` accept and refuse the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frbtriage.cli import main
from frbtriage.errors import InputError
from frbtriage.io.candidates import Candidate
from frbtriage.io.fetch_h5 import conform_images, read_fetch_h5, write_fetch_h5
from frbtriage.model.config import ModelConfig, save_model
from frbtriage.model.network import Architecture, EnsembleCNN
from frbtriage.workspace import IMAGE_SHAPE, Workspace

TINY = Architecture(input_size=16, input_rows=8, channels=(4, 8), hidden=8, members=2,
                    zoom=64)

#: name -> (ft shape (freq, time), dmt shape or None, value to plant, accepted?)
CASES = {
    "fetch_size": ((256, 256), (256, 256), None, True),
    "more_channels": ((1024, 256), (256, 256), None, True),  # resized to 256 channels
    "fewer_channels": ((64, 256), (256, 256), None, True),
    "short_time": ((256, 128), (256, 128), None, False),
    "no_dm_time": ((256, 256), None, None, False),
    "dm_time_rows": ((256, 256), (128, 256), None, False),
    "nan_in_ft": ((256, 256), (256, 256), ("ft", np.nan), False),
    "inf_in_dmt": ((256, 256), (256, 256), ("dmt", np.inf), False),
}


def make_file(folder: Path, i: int, name: str) -> Path:
    ft_shape, dmt_shape, plant, _ = CASES[name]
    rng = np.random.default_rng(i)
    ft = rng.standard_normal(ft_shape, dtype=np.float32)
    dmt = rng.standard_normal(dmt_shape or (256, 256), dtype=np.float32)
    if plant is not None:
        {"ft": ft, "dmt": dmt}[plant[0]][3, 5] = plant[1]
    c = Candidate(file=f"/data/{name}.fil", tcand=1.0 + i, dm=50.0 + i, width=2, snr=9.0)
    path = write_fetch_h5(folder / f"{name}.h5", c, ft, dmt, None)
    if dmt_shape is None:
        import h5py

        with h5py.File(path, "a") as f:
            del f["data_dm_time"]
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("h5")
    return {name: make_file(folder, i, name) for i, name in enumerate(CASES)}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny_model")
    save_model(EnsembleCNN(TINY), ModelConfig(temperature=1.0), out)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_rank_and_import_agree(name: str, files: dict[str, Path], tiny_model: Path,
                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accepted = CASES[name][3]
    path = str(files[name])
    rank_rc = main(["rank", path, "-o", str(tmp_path / "r.csv"), "--model", str(tiny_model)])
    rank_err = capsys.readouterr().err
    import_rc = main(["import-h5", "-w", str(tmp_path / "ws"), path, "--no-progress"])
    import_out = capsys.readouterr().out
    assert (rank_rc, import_rc) == ((0, 0) if accepted else (2, 2)), rank_err
    if accepted:
        assert "1 imported" in import_out
        with Workspace.open(tmp_path / "ws") as ws:
            ft, dmt = ws.candidate_images(ws.candidates()[0].id)
        cand, ft_in, dmt_in, _ = read_fetch_h5(path)
        want_ft, want_dmt = conform_images(path, ft_in, dmt_in, IMAGE_SHAPE)
        np.testing.assert_array_equal(ft, want_ft)
        np.testing.assert_array_equal(dmt, want_dmt)
    else:
        assert not (tmp_path / "r.csv").exists(), "a refused input writes no ranking"
        with pytest.raises(InputError) as err:
            _, ft_in, dmt_in, _ = read_fetch_h5(path)
            conform_images(path, ft_in, dmt_in, IMAGE_SHAPE)
        assert str(err.value) in rank_err, "rank names the file and the rule's problem"
        assert "1 skipped" in import_out


def test_frequency_resize_is_the_area_mean(files: dict[str, Path]) -> None:
    _, ft, dmt, _ = read_fetch_h5(files["more_channels"])
    got, _ = conform_images("x.h5", ft, dmt, IMAGE_SHAPE)
    assert got.shape == IMAGE_SHAPE and got.dtype == np.float32
    np.testing.assert_allclose(got, ft.reshape(256, 4, 256).mean(axis=1), rtol=1e-5, atol=1e-6)
