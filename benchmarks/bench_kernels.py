"""Numba kernels against their plain-numpy references (tests/reference.py), same input, one run.

Input: 1024 channels x 16384 samples float32 (CHIME-like: 400-800 MHz, 0.98304 ms), 256 DM
trials from 0 to 200 pc cm^-3 for the many-DM kernel (max delay 3983 samples), DM 200 for
the one-DM kernels, and a FETCH-style DM-time image (256 DMs from 0 to 2 x 100, 256 output
samples decimated by 4). Each kernel is run once to load/compile it, then timed best of
``--repeats``; each reference is timed best of 1-3 runs. The result of every kernel is
checked against its reference (max abs difference relative to the reference's scale).
Prints a Markdown table and writes ``benchmarks/results/kernels.json`` and ``kernels.md``.
Ratios are measurements on whatever machine runs this, not assertions.

    python benchmarks/bench_kernels.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "tests"))

import reference as ref  # noqa: E402
from frbtriage.kernels import bowtie, dedisperse, rfi, spectra  # noqa: E402

from frbtriage.physics import delay_samples  # noqa: E402


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls (s) and the last result."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def rel_err(got, want) -> float:
    """Max |got - want| over max |want| (0 for exact matches, NaN-safe for masks)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    scale = max(float(np.nanmax(np.abs(want))), 1e-30)
    return float(np.nanmax(np.abs(got - want)) / scale)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per kernel (best kept)")
    ap.add_argument("--quick", action="store_true", help="256 ch x 4096 samples x 64 DMs")
    args = ap.parse_args()

    nchan, ntime, ndm = (256, 4096, 64) if args.quick else (1024, 16384, 256)
    tsamp = 0.98304e-3
    freqs = np.linspace(800.0, 400.0, nchan, endpoint=False)
    rng = np.random.default_rng(0)
    data_u8 = rng.integers(0, 256, (nchan, ntime), dtype=np.uint8)
    data = data_u8.astype(np.float32)
    dm_max = 20.0 if args.quick else 200.0
    dms = np.linspace(0.0, dm_max, ndm)
    delays_many = delay_samples(dms[:, None], freqs, tsamp)
    delays_one = delays_many[-1]
    nout_many = ntime - int(delays_many.max())
    # FETCH dmt: 256 DMs 0..2*DM at DM 100, width 8 -> decimate by 4, 256 output samples
    dm_cand, decim, nkeep = dm_max / 2, 4, 256
    delays_dmt = delay_samples(np.linspace(0, 2 * dm_cand, ndm)[:, None], freqs, tsamp)
    start = ntime // 8
    assert start + nkeep * decim + delays_dmt.max() <= ntime
    mask_data = data.copy()
    mask_data[[10, 11, 500 % nchan]] *= rng.uniform(3, 10, (3, ntime)).astype(np.float32)
    img = rng.standard_normal((256, 256)).astype(np.float32)

    rows: list[dict] = []
    ref_cache: dict[str, tuple[float, object]] = {}

    def bench(
        name: str,
        kernel: Callable[[], object],
        reference: Callable[[], object] | None,
        work: float,
        unit: str,
        note: str = "",
        ref_repeats: int = 1,
        compare: bool = True,
        ref_key: str | None = None,
    ) -> None:
        kernel()  # load from cache / compile
        tk, out_k = best_time(kernel, args.repeats)
        if reference is None:
            tr, out_r, compare = float("nan"), None, False
        elif ref_key is not None and ref_key in ref_cache:
            tr, out_r = ref_cache[ref_key]
        else:
            tr, out_r = best_time(reference, ref_repeats)
            if ref_key is not None:
                ref_cache[ref_key] = (tr, out_r)
        err = rel_err(out_k, out_r) if compare else float("nan")
        row = {
            "kernel": name,
            "kernel_s": tk,
            "reference_s": tr,
            "speedup": tr / tk,
            "work": work,
            "unit": unit,
            "kernel_G_per_s": work / tk / 1e9,
            "reference_G_per_s": work / tr / 1e9,
            "max_rel_diff": err,
            "note": note,
        }
        rows.append(row)
        print(
            f"{name:<34} {tk * 1e3:10.2f} ms  ref {tr * 1e3:10.1f} ms  x{tr / tk:8.1f}  "
            f"{row['kernel_G_per_s']:7.2f} G {unit}/s  diff {err:.1e}",
            flush=True,
        )

    n1 = nchan * (ntime - int(delays_one.max()))
    bench("dedisperse (1 DM)", lambda: dedisperse.dedisperse(data, delays_one),
          lambda: ref.dedisperse_ref(data, delays_one), n1, "samples", ref_repeats=3)
    bench("dedisperse_timeseries (1 DM)",
          lambda: dedisperse.dedisperse_timeseries(data, delays_one),
          lambda: ref.dedisperse_timeseries_ref(data, delays_one), n1, "adds", ref_repeats=3)
    nadds = ndm * nchan * nout_many
    bench("dedisperse_many (tiled)", lambda: dedisperse.dedisperse_many(data, delays_many),
          lambda: ref.dedisperse_many_ref_f32(data, delays_many), nadds, "adds",
          note=f"{ndm} DMs 0-{dm_max:g}; reference: float32 numpy loop over DMs and channels",
          ref_key="many")
    bench("dedisperse_many (uint8 input)", lambda: dedisperse.dedisperse_many(data_u8, delays_many),
          lambda: ref.dedisperse_many_ref_f32(data, delays_many), nadds, "adds",
          note="includes the uint8 -> float32 conversion", ref_key="many")
    bench("dedisperse_many untiled 1 thread",
          lambda: dedisperse.dedisperse_many(data, delays_many, time_block=nout_many,
                                             chan_block=nchan),
          lambda: ref.dedisperse_many_ref_f32(data, delays_many), nadds, "adds",
          note="one tile = frequency-major contiguous loop, no tiling, no parallelism",
          ref_key="many")
    nbow = ndm * nchan * nkeep * decim
    bench("dm_time (FETCH dmt, kept window)",
          lambda: bowtie.dm_time(data, delays_dmt, start, nkeep, decim),
          lambda: ref.dm_time_ref(data, delays_dmt, start, nkeep, decim), nbow, "adds",
          note=f"{ndm} DMs 0-2x{dm_cand:g}, {nkeep} samples x decim {decim}")

    def whole_chunk():  # what your does: dedisperse everything, then decimate and crop
        full = dedisperse.dedisperse_many(data, delays_dmt)
        dec = spectra.decimate_time(full[:, start : start + nkeep * decim], decim)
        return dec

    bench("dm_time vs whole-chunk numba", lambda: bowtie.dm_time(data, delays_dmt, start, nkeep,
                                                                   decim),
          whole_chunk, nbow, "adds", ref_repeats=2,
          note="reference column: dedisperse_many over the whole chunk + decimate + crop")
    nel = nchan * ntime
    bench("decimate_time x8", lambda: spectra.decimate_time(data, 8),
          lambda: ref.decimate_time_ref(data, 8), nel, "samples", ref_repeats=3)
    bench("decimate_freq x4", lambda: spectra.decimate_freq(data, 4),
          lambda: ref.decimate_freq_ref(data, 4), nel, "samples", ref_repeats=3)
    bench(f"resize_freq area {nchan}->256", lambda: spectra.resize_freq(data, 256),
          lambda: ref.resize_freq_area_ref(data, 256), nel, "samples", ref_repeats=2,
          ref_key="area")
    bench(f"resize_freq linear {nchan - 24}->256",
          lambda: spectra.resize_freq(data[: nchan - 24], 256, "linear"),
          lambda: ref.resize_freq_linear_ref(data[: nchan - 24], 256), (nchan - 24) * ntime,
          "samples",
          ref_repeats=2)
    try:
        from skimage.transform import resize as sk_resize

        bench(f"resize_freq area vs skimage {nchan}->256", lambda: spectra.resize_freq(data, 256),
              lambda: sk_resize(data, (256, ntime), anti_aliasing=True, mode="constant"),
              nel, "samples", compare=False,
              note="reference column: skimage resize as FETCH/your call it (not the same output)")
    except ImportError:  # pragma: no cover
        pass
    bench("normalise 256x256", lambda: spectra.normalise(img), lambda: ref.normalise_ref(img),
          img.size, "samples", ref_repeats=5)
    bench("zero_dm", lambda: spectra.zero_dm(data), lambda: ref.zero_dm_ref(data), nel, "samples",
          ref_repeats=3)
    bench("iqrm_mask (std statistic)", lambda: rfi.iqrm_mask(mask_data),
          lambda: ref.iqrm_ref(ref.channel_std_ref(mask_data), max(1, nchan // 10), 3.0), nel,
          "samples", ref_repeats=2)
    bench("sk_mask", lambda: rfi.sk_mask(mask_data), lambda: ref.sk_mask_ref(mask_data, 5.0), nel,
          "samples", ref_repeats=2)

    if not args.quick:
        # 16384 channels (CHIME native), one FETCH candidate at DM 100, width 8: the kernels
        # prepare needs; numba only (the numpy references would take minutes here)
        wchan = 16384
        wfreqs = np.linspace(800.0, 400.0, wchan, endpoint=False)
        wdelays = delay_samples(np.linspace(0, 2 * dm_cand, 256)[:, None], wfreqs, tsamp)
        wlen = nkeep * decim
        wide = rng.integers(0, 256, (wchan, wlen + int(wdelays.max()) + 1), dtype=np.uint8)
        widef = wide.astype(np.float32)
        bench(f"dm_time {wchan} ch (FETCH dmt)",
              lambda: bowtie.dm_time(widef, wdelays, 0, nkeep, decim), None,
              256 * wchan * wlen, "adds", note=f"{wchan} ch, 256 DMs 0-2x{dm_cand:g}, "
              f"{nkeep} samples x decim {decim}; no reference run")
        bench(f"ft at {wchan} ch: dedisperse+decimate+resize+normalise",
              lambda: spectra.normalise(spectra.resize_freq(spectra.decimate_time(
                  dedisperse.dedisperse(widef, wdelays[128], 0, wlen), decim), 256)),
              None, wchan * wlen, "samples",
              note="dedispersing only the kept window; uint8 -> float32 conversion not included")
        del wide, widef

    meta = {
        "shape": [nchan, ntime],
        "ndm": ndm,
        "repeats": args.repeats,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "threads": numba.config.NUMBA_NUM_THREADS,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "load_average_at_end": list(os.getloadavg()),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    table = [
        f"Kernels vs numpy references: {nchan} ch x {ntime} samples float32, {ndm} DMs; "
        f"numba {numba.__version__}, {meta['threads']} threads, {meta['cpu_count']} CPUs, "
        f"load average at end {meta['load_average_at_end'][0]:.2f}.",
        "",
        "| kernel | numba ms | numpy ref ms | speed-up | numba G/s | ref G/s | unit "
        "| max rel diff |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        diff = "-" if np.isnan(r["max_rel_diff"]) else f"{r['max_rel_diff']:.1e}"
        if np.isnan(r["reference_s"]):
            ref_ms = speed = ref_g = "-"
        else:
            ref_ms = f"{r['reference_s'] * 1e3:.1f}"
            speed = f"{r['speedup']:.1f}x"
            ref_g = f"{r['reference_G_per_s']:.3f}"
        table.append(
            f"| {r['kernel']} | {r['kernel_s'] * 1e3:.2f} | {ref_ms} | {speed} | "
            f"{r['kernel_G_per_s']:.2f} | {ref_g} | {r['unit']} | {diff} |"
        )
    notes = [f"- {r['kernel']}: {r['note']}" for r in rows if r["note"]]
    md = "\n".join(table + [""] + notes) + "\n"
    print()
    print(md)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "kernels.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
        (RESULTS / "kernels.md").write_text(md)
        print(f"wrote {RESULTS / 'kernels.json'} and {RESULTS / 'kernels.md'}")


if __name__ == "__main__":
    main()
