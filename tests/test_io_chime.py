"""CHIME/FRB msgpack chunks: the ch_frb_io layout, round trips (v1, v2, compressed), gaps, the
RFI mask, one-line errors, the chunk stream through ``search``, ``rank`` and ``convert``.

Chunks are written by the package's own writer with ``nupfreq=1`` (1024 channels x 1024
samples, 1 MB each) so that the tests stay small; CHIME's 16384 channels differ only in
``nupfreq`` (the benchmark uses them)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import msgpack
import numpy as np
import pytest

from frbtriage.cli import main
from frbtriage.errors import InputError
from frbtriage.io.chime_msgpack import (
    AssembledChunk,
    chunk_filename,
    encode_chunk,
    pack_chunk,
    read_chunk,
    write_chunk,
)
from frbtriage.io.chime_reader import ChunkReader
from frbtriage.io.filterbank import FilterbankReader
from frbtriage.io.open_data import open_data

NT = 1024
SPAN = NT * 384  # FPGA counts per chunk
FRAME0 = 1_600_000_000 * 10**9  # 2020-09-13, ns


def stream(x: np.ndarray, folder: Path, *, beam: int = 17, skip: tuple[int, ...] = (),
           version: int = 2, compress: bool = False, fpga_first: int = 50 * SPAN) -> Path:
    """Write ``x`` (1024, k * 1024) float as k chunks (those in ``skip`` left out)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(x.shape[1] // NT):
        if k in skip:
            continue
        ch = encode_chunk(x[:, k * NT:(k + 1) * NT], beam_id=beam, fpga0=fpga_first + k * SPAN,
                          nupfreq=1, frame0_nano=FRAME0 if version == 2 else 0,
                          version=version)
        write_chunk(folder / chunk_filename(ch), ch, compress=compress)
    return folder


def noise(k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(100.0, 4.0, (1024, k * NT))


def smooth_chunk(version: int, mask: np.ndarray | None = None) -> AssembledChunk:
    """A chunk whose bytes compress well (a slow ramp), 1024 channels."""
    rng = np.random.default_rng(1)
    data = (120 + (np.arange(NT) // 64)[None, :] + (np.arange(1024) % 3)[:, None]
            ).astype(np.uint8)
    return AssembledChunk(beam_id=3, fpga0=7 * SPAN, data=data,
                          scales=rng.uniform(0.5, 2, (1024, 64)).astype(np.float32),
                          offsets=rng.uniform(-5, 5, (1024, 64)).astype(np.float32),
                          nupfreq=1, frame0_nano=FRAME0 if version == 2 else 0, rfi_mask=mask,
                          version=version)


# --------------------------------------------------------------------------- the format


@pytest.mark.parametrize("version", [1, 2])
def test_layout_is_ch_frb_io_pack_assembled_chunk(version: int) -> None:
    ch = smooth_chunk(version)
    buf = pack_chunk(ch)
    # array16 of 17/21 items, then the header string as str8 (33 bytes) as msgpack-c packs it
    assert buf[:3] == bytes([0xDC, 0, 17 if version == 1 else 21])
    assert buf[3:5] == bytes([0xD9, 33]) and buf[5:38] == b"assembled_chunk in msgpack format"
    items = msgpack.unpackb(buf)
    assert items[1:14] == [version, 0, 1024 * NT, 3, 1, 16, 384, 64, 1024 * 64, 1024 * NT,
                           7 * SPAN, SPAN, 1]
    assert np.array_equal(np.frombuffer(items[14], "<f4").reshape(1024, 64), ch.scales)
    assert items[16] == ch.data.tobytes()
    if version == 2:
        assert items[17:20] == [FRAME0, 0, False] and items[20] == b""


@pytest.mark.parametrize("version,compress", [(1, False), (2, False), (1, True), (2, True)])
def test_round_trip(tmp_path: Path, version: int, compress: bool) -> None:
    ch = smooth_chunk(version)
    write_chunk(tmp_path / "c.msgpack", ch, compress=compress)
    size = (tmp_path / "c.msgpack").stat().st_size
    assert (size < 1024 * NT) == compress  # the ramp does compress
    back = read_chunk(tmp_path / "c.msgpack")
    assert back.version == version and back.fpga0 == ch.fpga0 and back.beam_id == 3
    assert np.array_equal(back.data, ch.data)
    assert np.array_equal(back.scales, ch.scales) and np.array_equal(back.offsets, ch.offsets)
    intensity, good = back.decode()
    f, t = 700, 333  # intensity = offset + scale x data, per coarse channel and 16 samples
    assert intensity[f, t] == np.float32(ch.offsets[f, t // 16] + ch.scales[f, t // 16]
                                         * np.float32(ch.data[f, t]))
    assert good.all()


def test_rfi_mask_round_trip_and_masks_channels(tmp_path: Path) -> None:
    mask = np.ones((256, NT), bool)  # 256 mask rows x 4 channels each
    mask[10, 100:200] = False
    mask[200, :] = False
    ch = smooth_chunk(2, mask)
    ch.data[5, 7] = 255  # saturated: weight 0 in ch_frb_io
    write_chunk(tmp_path / "c.msgpack", ch)
    back = read_chunk(tmp_path / "c.msgpack")
    assert np.array_equal(back.rfi_mask, mask)
    with ChunkReader(tmp_path) as rd:
        bad = rd.mask(0, NT)
        assert bad[40:44, 100:200].all() and bad[800:804].all() and bad[5, 7]
        assert bad.sum() == 4 * 100 + 4 * NT + 1
        block = rd.read(0, NT)
        good = ~bad[800]
        assert np.allclose(block.data[40, 150], block.data[40][~bad[40]].mean(), rtol=1e-5)
        assert not good.any() and np.isfinite(block.data[800]).all()


def test_encode_decode_close(tmp_path: Path) -> None:
    x = noise(1)
    ch = encode_chunk(x, beam_id=1, fpga0=0, nupfreq=1)
    got, good = ch.decode()
    assert good.all()  # noise within 5 sigma of each block's mean: nothing clipped to 0
    step = np.repeat(ch.scales, 16, axis=1)  # one quantisation level, 0.04 of the block rms
    inside = (ch.data > 1) & (ch.data < 254)
    assert inside.mean() > 0.999
    assert (np.abs(got - x)[inside] <= 0.5 * step[inside] + 1e-4).all()


# --------------------------------------------------------------------------- the stream


def test_stream_header_times_and_order(tmp_path: Path) -> None:
    folder = stream(noise(3), tmp_path / "beam")
    with open_data(folder) as rd:
        assert isinstance(rd, ChunkReader)
        h = rd.header
        assert (h.nchans, h.nspectra, h.foff) == (1024, 3 * NT, -400 / 1024)
        assert h.fch1 == 800 - 400 / 2048
        assert h.tsamp == pytest.approx(0.98304e-3)
        unix = (FRAME0 + 2560 * 50 * SPAN) * 1e-9
        assert h.tstart == pytest.approx(40587 + unix / 86400, abs=1e-9)
        assert rd.gaps == [] and rd.read(NT - 5, NT + 5).data.shape == (1024, 10)
    with pytest.raises(InputError, match="file not found"):  # a .fil goes to FilterbankReader
        open_data(tmp_path / "x.fil")


def test_gap_is_masked_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = stream(noise(4), tmp_path / "beam", skip=(2,))
    with caplog.at_level(logging.WARNING, logger="frbtriage.io.chime_reader"):
        rd = ChunkReader(folder)
    assert rd.gaps == [(2 * NT, 3 * NT)] and "1024 missing samples" in caplog.text
    assert rd.header.nspectra == 4 * NT
    assert rd.mask(2 * NT, 3 * NT).all() and not rd.mask(3 * NT, 4 * NT).any()
    block = rd.read(2 * NT - 10, 2 * NT + 10)
    assert np.allclose(block.data[:, 10:], block.data[:, :10].mean(axis=1)[:, None], rtol=1e-5)


def test_list_of_files_and_raw(tmp_path: Path) -> None:
    folder = stream(noise(2), tmp_path / "beam")
    files = sorted(folder.glob("*.msgpack"))[::-1]  # any order: sorted by fpga0
    with ChunkReader(files) as rd, open_data(rd.path) as again:
        assert rd.chunk_files == [str(f) for f in files[::-1]]
        raw = rd.raw(NT - 3, 6)
        assert raw.shape == (6, 1024)
        assert np.array_equal(raw, again.read(NT - 3, NT + 3).data.T)


# --------------------------------------------------------------------------- bad input


def one_line(err: pytest.ExceptionInfo[InputError]) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_corrupt_chunk_is_one_line(tmp_path: Path) -> None:
    buf = pack_chunk(smooth_chunk(2))
    (tmp_path / "cut.msgpack").write_bytes(buf[: len(buf) // 2])
    with pytest.raises(InputError) as err:
        ChunkReader(tmp_path / "cut.msgpack")
    assert "truncated" in one_line(err) and "cut.msgpack" in str(err.value)
    (tmp_path / "junk.msgpack").write_bytes(b"\x93\x01\x02\x03 not a chunk")
    with pytest.raises(InputError, match="not a CHIME msgpack chunk") as err:
        read_chunk(tmp_path / "junk.msgpack")
    one_line(err)


def test_unknown_version_is_one_line(tmp_path: Path) -> None:
    items = msgpack.unpackb(pack_chunk(smooth_chunk(2)))
    items[1] = 3
    (tmp_path / "v3.msgpack").write_bytes(msgpack.packb(items, use_bin_type=True))
    with pytest.raises(InputError, match="unsupported CHIME chunk version 3") as err:
        read_chunk(tmp_path / "v3.msgpack")
    one_line(err)


def test_beams_cannot_mix(tmp_path: Path) -> None:
    folder = stream(noise(1), tmp_path / "mix", beam=1)
    stream(noise(1), folder, beam=2, fpga_first=51 * SPAN)
    with pytest.raises(InputError, match="beam 2 among chunks of beam 1") as err:
        ChunkReader(folder)
    one_line(err)


def test_overlap_and_empty_folder(tmp_path: Path) -> None:
    folder = stream(noise(1), tmp_path / "dup")
    ch = read_chunk(next(folder.glob("*.msgpack")))
    write_chunk(folder / "copy.msgpack", ch)
    with pytest.raises(InputError, match="overlaps"):
        ChunkReader(folder)
    (tmp_path / "empty").mkdir()
    assert main(["convert", str(tmp_path / "empty"), "-o", str(tmp_path / "o.fil")]) == 2


# --------------------------------------------------------------------------- the verbs


def test_convert_to_sigproc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = stream(noise(2), tmp_path / "beam")
    out = tmp_path / "out.fil"
    assert main(["convert", str(folder), "-o", str(out), "--nchan", "256"]) == 0
    assert "256 channels x 2048 samples" in capsys.readouterr().out
    with FilterbankReader(out) as fb, ChunkReader(folder) as rd:
        assert fb.header.nchans == 256 and fb.header.foff == -400 / 256
        assert fb.header.tstart == pytest.approx(rd.header.tstart, abs=1e-9)
        want = rd.read(0, 2 * NT).data.reshape(256, 4, -1).mean(axis=1)
        assert np.allclose(fb.read(0, 2 * NT).data, want, rtol=1e-6)


@pytest.fixture(scope="module")
def burst_chunks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 chunks (5 s, 1024 channels) of noise with a DM 100 burst at 1.5 s, S/N ~ 40."""
    from frbtriage.simulate.bursts import Burst, inject_burst

    x = noise(5, seed=4)
    freqs = 800 - 400 / 2048 - np.arange(1024) * 400 / 1024
    burst = Burst(time_s=1.5, dm=100.0, width_s=0.004, scatter_s=0.0, spectrum="powerlaw",
                  fluence=2.5)
    inject_burst(x, freqs, 0.98304e-3, burst, scale=4.0)
    return stream(x, tmp_path_factory.mktemp("chime") / "beam0017", compress=True)


def test_burst_in_chunks_is_found_and_ranked(burst_chunks: Path, tmp_path: Path) -> None:
    cands = tmp_path / "cands.csv"
    assert main(["search", str(burst_chunks), "-o", str(cands), "--dm-max", "200",
                 "--snr-min", "8", "--no-progress"]) == 0
    with open(cands, newline="") as fh:
        rows = list(csv.DictReader(fh))
    best = max(rows, key=lambda r: float(r["snr"]))
    assert abs(float(best["stime"]) - 1.5) < 0.01 and abs(float(best["dm"]) - 100) < 5
    assert best["file"] == str(burst_chunks)
    ranked = tmp_path / "ranked.csv"
    assert main(["rank", str(cands), "-o", str(ranked), "--workspace", str(tmp_path / "ws")]
                ) == 0
    with open(ranked, newline="") as fh:
        out = list(csv.DictReader(fh))
    top = out[0]
    assert abs(float(top["stime"]) - 1.5) < 0.01 and float(top["p_astro"]) > 0.5
