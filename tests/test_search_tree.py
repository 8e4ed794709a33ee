"""The search's parts alone: a tree level's stream, the per-level detector, the tail's pieces,
the DM reach of a short file, and the tree's independence of how the data are chunked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from frbtriage.kernels.fdmt import delay_to_dm

from frbtriage.errors import InputError
from frbtriage.physics import delay_samples
from frbtriage.search import (
    MIN_OUT,
    SearchConfig,
    _Level,
    _LevelDetector,
    _searchable_sweep,
    _tail_pieces,
    _Tree,
)

FREQS = np.linspace(800.0, 400.0, 64)  # MHz, descending as CHIME files are
TSAMP = 1e-3  # s


def _level(k: int = 0, delay: int = 40, widths=(1, 2, 4), cfg: SearchConfig | None = None):
    cfg = cfg or SearchConfig(level_block=256, chunk=512)
    return _Level.create(k, delay, np.array(widths, np.int64), FREQS, cfg)


def _add_pulse(x: np.ndarray, t0: int, dm: float, amp: float, width: int = 1) -> None:
    """Add to ``x`` ``(nchan, ntime)`` a pulse of ``width`` samples starting at ``t0`` at the
    top of the band, dispersed at ``dm`` pc cm^-3."""
    start = t0 + delay_samples(dm, FREQS, TSAMP)[:, None] + np.arange(width)
    x[np.arange(FREQS.size)[:, None], start] += amp


def _noise(ntime: int, seed: int = 0) -> np.ndarray:
    """Unit white noise ``(64, ntime)`` float32."""
    return np.random.default_rng(seed).standard_normal((FREQS.size, ntime)).astype(np.float32)


def test_level_halve_carries_the_odd_sample_across_chunks():
    lv = _level()
    x = np.arange(2 * 11, dtype=np.float32).reshape(2, 11)
    assert lv.halve(x[:, :1]) is None  # no pair yet: the sample waits
    got = np.concatenate([lv.halve(x[:, 1:4]), lv.halve(x[:, 4:11])], axis=1)
    np.testing.assert_array_equal(got, x[:, 0:10:2] + x[:, 1:10:2])
    np.testing.assert_array_equal(lv.carry, x[:, 10:])


def test_level_append_consume_pad():
    lv = _level(delay=8, widths=(1, 3))
    assert lv.need == 8 + 3 - 1
    x = np.arange(64 * 20, dtype=np.float32).reshape(64, 20)
    lv.append(x)
    lv.consume(5)
    assert (lv.pos, lv.fill) == (5, 15)
    np.testing.assert_array_equal(lv.buf[:, :15], x[:, 5:])
    small = _level(delay=8, widths=(1, 3))
    small.buf = small.buf[:, :20]  # no room for the padding: it must grow
    small.append(x)
    small.pad()
    assert small.fill == 20 + small.need
    np.testing.assert_array_equal(small.buf[:, :20], x)
    assert not small.buf[:, 20:small.fill].any()


@pytest.mark.parametrize("nreal", [1, 127, 256, 300, 383, 384, 600, 1000])
def test_tail_pieces(nreal):
    pieces = _tail_pieces(nreal, 256)
    assert sum(pieces) == nreal
    assert all(p <= 256 + MIN_OUT - 1 for p in pieces)
    assert all(p >= MIN_OUT for p in pieces) or pieces == [nreal]


def test_detector_finds_a_dispersed_pulse_at_its_sweep_and_time():
    cfg = SearchConfig(level_block=256, chunk=512, snr_min=8.0)
    lv = _level(delay=40, cfg=cfg)
    dm_per_native = float(delay_to_dm(1, FREQS.min(), FREQS.max(), TSAMP))
    dm = 30 * dm_per_native  # a sweep of 30 samples across the band
    x = _noise(256 + lv.need)
    _add_pulse(x, 100, dm, 3.0)
    lv.append(x)
    det = _LevelDetector(cfg, 1000.0, dm_per_native, [lv]).detect(lv, 256)
    assert set(det) == {"t", "s", "w", "step", "snr", "dm", "row", "level"}
    best = int(np.argmax(det["snr"]))
    assert det["snr"][best] > 15
    assert abs(det["s"][best] - 30) <= 2 and abs(det["t"][best] - 100) <= 2
    assert det["dm"][best] == pytest.approx(det["row"][best] * dm_per_native)
    assert (lv.pos, lv.fill) == (0, 256 + lv.need)  # the detector leaves the level alone
    # the same block at the file's end with the data stopping before the pulse: nothing
    tail = _LevelDetector(cfg, 1000.0, dm_per_native, [lv]).detect(lv, 256, nreal=90)
    assert not np.any(np.abs(tail["t"] - 100) <= 2)


def test_searchable_sweep_of_a_short_file():
    cfg = SearchConfig(dm_max=2000.0)
    full, dm_max, warning = _searchable_sweep(cfg, Path("x.fil"), FREQS, TSAMP, 10**6)
    assert (dm_max, warning) == (2000.0, None)
    short, dm_short, warning = _searchable_sweep(cfg, Path("x.fil"), FREQS, TSAMP, 5000)
    assert short == 5000 - max(cfg.widths) < full
    assert dm_short < 2000.0 and "shorter than the 2000 pc cm^-3 sweep" in warning
    with pytest.raises(InputError, match="too short"):
        _searchable_sweep(SearchConfig(dm_min=1900.0), Path("x.fil"), FREQS, TSAMP, 5000)


def _clusters(chunk: int, x: np.ndarray, plan: str = "ddplan") -> list[tuple]:
    cfg = SearchConfig(dm_max=50.0, tree_delay=64, level_block=256, chunk=chunk, snr_min=5.0,
                       plan=plan)
    maxdelay, dm_max, _ = _searchable_sweep(cfg, Path("x.fil"), FREQS, TSAMP, x.shape[1])
    tree = _Tree.create(cfg, FREQS, TSAMP, maxdelay, dm_max)
    out = []
    for a in range(0, x.shape[1], chunk):
        out += tree.feed(x[:, a:a + chunk])
    out += tree.finish()
    return sorted((float(c["t"]), float(c["dm"]), float(c["snr"]), c["members"]) for c in out)


@pytest.mark.parametrize("plan", ["ddplan", "tree"])
def test_tree_does_not_depend_on_the_chunking(plan):
    x = _noise(6000, seed=3)
    _add_pulse(x, 1500, 20.0, 2.0, width=8)  # a wide pulse
    _add_pulse(x, 4000, 40.0, 4.0, width=3)  # and a narrow one
    a = _clusters(1000, x, plan)
    assert _clusters(777, x, plan) == a and _clusters(64, x, plan) == a
    for t0, width, dm in ((1500, 8, 20.0), (4000, 3, 40.0)):
        assert any(abs(t - (t0 + (width - 1) / 2)) <= 8 and abs(d - dm) < 0.1 * dm
                   for t, d, _, _ in a), a
