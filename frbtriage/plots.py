"""The candidate picture a person judges: what volunteers see, in the app and on Zooniverse.

:func:`candidate_figure` draws one candidate from its two stored images
(:mod:`frbtriage.workspace`): the dedispersed dynamic spectrum ``ft`` (256 frequency rows,
row 0 = highest frequency, x 256 time samples) in the middle, its pulse profile (``ft``
summed over frequency) above it on the same time axis, and the DM-time bowtie ``dmt``
(256 DM trials from 0 to 2 x the candidate's DM, x the same 256 time samples) beside it on
the same time axis. A real burst is a vertical line in ``ft``, a peak in the profile and a
bowtie centred at half the DM range in ``dmt``; RFI is usually a horizontal band, a
broadband flash with no bowtie, or a bowtie at DM 0.

Colour limits are robust percentiles (:data:`PERCENTILES`) of each image, so one hot pixel
does not wash the picture out; the colormap is perceptually uniform and readable with
colour-vision deficiencies (``viridis`` by default, ``cividis`` also fits). Nothing here
shows the candidate's DM, S/N or width: those could bias the judgement.

The figure is a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global
state, safe in threads such as Streamlit's); :func:`figure_png` renders it with the Agg
backend.

:func:`candidate_raster` draws the same picture as one RGB pixel array, one pixel per image
sample, with the burst's spectrum beside ``ft`` and without axes or text (the app writes
those around it): about a hundred times faster than a Matplotlib figure, which is what lets
the volunteer page show the next candidate at once. :func:`png_bytes` encodes it.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

__all__ = ["COLORMAP", "PERCENTILES", "burst_spectrum", "candidate_figure", "candidate_raster",
           "colour_limits", "figure_png", "png_bytes", "pulse_profile"]

#: Default colormap: perceptually uniform and colour-blind safe.
COLORMAP = "viridis"
#: Lower and upper percentiles (%) of an image that map to the ends of the colormap.
PERCENTILES = (1.0, 99.5)


def colour_limits(image: ArrayLike,
                  percentiles: tuple[float, float] = PERCENTILES) -> tuple[float, float]:
    """``(vmin, vmax)``: the ``percentiles`` of the finite pixels of ``image`` (any shape).

    Widened by 0.5 either side when they coincide (a flat image) and ``(0, 1)`` when no
    pixel is finite, so that a colormap can always be applied.
    """
    a = np.asarray(image, dtype=np.float64)
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, percentiles))
    if hi <= lo:
        return lo - 0.5, lo + 0.5
    return lo, hi


def _image(name: str, a: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"{name} must be a non-empty 2-D image, got shape {arr.shape}")
    return arr


def candidate_figure(ft: ArrayLike, dmt: ArrayLike, *, title: str = "",
                     cmap: str = COLORMAP, size: tuple[float, float] = (6.4, 4.8)) -> Figure:
    """The picture of one candidate (see the module docstring).

    ``ft``: ``(n_freq, n_time)`` dedispersed dynamic spectrum, row 0 = highest frequency;
    ``dmt``: ``(n_dm, n_time)`` DM-time image, row 0 = DM 0, last row = 2 x the candidate's
    DM; both share the time axis (same ``n_time``). ``title`` is written above the figure;
    ``size`` is (width, height) in inches. ``ValueError`` for images of the wrong shape.
    """
    f, d = _image("ft", ft), _image("dmt", dmt)
    if f.shape[1] != d.shape[1]:
        raise ValueError(f"ft and dmt must share the time axis, got {f.shape} and {d.shape}")
    n_time = f.shape[1]
    fig = Figure(figsize=size, layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=(1, 3), width_ratios=(1, 1))
    ax_ft = fig.add_subplot(grid[1, 0])
    ax_prof = fig.add_subplot(grid[0, 0], sharex=ax_ft)
    ax_dmt = fig.add_subplot(grid[1, 1], sharex=ax_ft)

    time_extent = (-0.5, n_time - 0.5)
    vmin, vmax = colour_limits(f)
    ax_ft.imshow(f, aspect="auto", origin="upper", cmap=cmap, vmin=vmin, vmax=vmax,
                 interpolation="nearest", extent=(*time_extent, f.shape[0] - 0.5, -0.5))
    ax_ft.set_xlabel("time (samples)")
    ax_ft.set_ylabel("frequency channel (0 = highest)")

    profile = pulse_profile(f)
    ax_prof.plot(np.arange(n_time), profile, color="black", linewidth=0.8)
    ax_prof.set_ylabel("sum")
    ax_prof.tick_params(labelbottom=False)
    ax_prof.set_title("pulse profile", fontsize="small")

    vmin, vmax = colour_limits(d)
    ax_dmt.imshow(d, aspect="auto", origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                  interpolation="nearest", extent=(*time_extent, 0.0, 2.0))
    ax_dmt.set_xlabel("time (samples)")
    ax_dmt.set_ylabel("DM / candidate DM")
    ax_dmt.set_title("DM-time", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def figure_png(fig: Figure, dpi: float = 100.0) -> bytes:
    """``fig`` rendered as PNG bytes with the Agg backend at ``dpi`` dots per inch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def pulse_profile(ft: ArrayLike) -> NDArray[np.float64]:
    """``(n_time,)`` the dynamic spectrum ``ft`` summed over frequency (NaNs ignored)."""
    return np.nansum(_image("ft", ft), axis=0)


def burst_spectrum(ft: ArrayLike, half_width: int | None = None) -> NDArray[np.float64]:
    """``(n_freq,)`` the mean of ``ft`` over the time samples of the burst: the peak of
    :func:`pulse_profile` +- ``half_width`` samples (default ``max(1, n_time // 128)``)."""
    f = _image("ft", ft)
    half = max(1, f.shape[1] // 128) if half_width is None else int(half_width)
    peak = int(np.argmax(pulse_profile(f)))
    window = f[:, max(0, peak - half): peak + half + 1]
    return np.nan_to_num(np.nanmean(window, axis=1)) if np.isfinite(window).any() \
        else np.zeros(f.shape[0])


def _colourise(image: NDArray[np.float64], cmap: str) -> NDArray[np.uint8]:
    """``image`` (h, w) as RGB (h, w, 3) uint8 through ``cmap`` with :func:`colour_limits`."""
    from matplotlib import colormaps

    vmin, vmax = colour_limits(image)
    scaled = np.clip((np.nan_to_num(image, nan=vmin) - vmin) / (vmax - vmin), 0.0, 1.0)
    lut = (colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)
    return lut[(scaled * 255).astype(np.intp)]


def _trace(values: NDArray[np.float64], depth: int) -> NDArray[np.bool_]:
    """A line plot of ``values`` (n,) as a (depth, n) mask: row 0 = the largest value, each
    column filled between its value and the next so that the line has no gaps."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64))
    lo, hi = float(v.min()), float(v.max())
    y = np.zeros(v.size, np.intp) if hi <= lo else \
        np.round((hi - v) / (hi - lo) * (depth - 1)).astype(np.intp)
    nxt = np.append(y[1:], y[-1])
    top, bottom = np.minimum(y, nxt), np.maximum(y, nxt)
    rows = np.arange(depth)[:, None]
    return (rows >= top[None, :]) & (rows <= bottom[None, :])


#: Colours of :func:`candidate_raster`'s background and traces (RGB).
_PAPER = np.array([255, 255, 255], np.uint8)
_INK = np.array([40, 40, 40], np.uint8)


def candidate_raster(ft: ArrayLike, dmt: ArrayLike, *, cmap: str = COLORMAP, strip: int = 48,
                     gap: int = 6) -> NDArray[np.uint8]:
    """The candidate picture as an RGB array ``(strip + gap + n_freq, n_time + gap + strip +
    4 * gap + n_time, 3)`` uint8 (white background, one pixel per sample).

    Left: ``ft`` (row 0 = highest frequency at the top) with its :func:`pulse_profile` in a
    ``strip``-pixel band above and its :func:`burst_spectrum` in a band to its right
    (frequency down, brighter to the right). Right: ``dmt`` with DM 0 at the bottom and 2 x
    the candidate's DM at the top, on the same rows as ``ft`` (``n_dm`` must equal
    ``n_freq`` and both share ``n_time``). Each image gets its own robust colour limits.
    """
    f, d = _image("ft", ft), _image("dmt", dmt)
    if f.shape != d.shape:
        raise ValueError(f"ft and dmt must have the same shape here, got {f.shape} and {d.shape}")
    n_freq, n_time = f.shape
    height = strip + gap + n_freq
    left = n_time + gap + strip
    out = np.empty((height, left + 4 * gap + n_time, 3), np.uint8)
    out[:] = _PAPER
    out[strip + gap:, :n_time] = _colourise(f, cmap)
    out[:strip, :n_time][_trace(pulse_profile(f), strip)] = _INK
    out[strip + gap:, n_time + gap:left][_trace(burst_spectrum(f), strip).T[:, ::-1]] = _INK
    out[strip + gap:, left + 4 * gap:] = _colourise(d[::-1], cmap)
    return out


def png_bytes(rgb: ArrayLike) -> bytes:
    """An RGB ``(h, w, 3)`` uint8 array as a palette PNG (at most 256 colours, as many as
    a colormap has; a quarter of the bytes of an RGB PNG of a noisy image), fast compression."""
    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    img.quantize(256, method=Image.Quantize.FASTOCTREE).save(buf, format="PNG",
                                                             compress_level=1)
    return buf.getvalue()
