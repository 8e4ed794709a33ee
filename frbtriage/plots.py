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
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

__all__ = ["COLORMAP", "PERCENTILES", "candidate_figure", "colour_limits", "figure_png"]

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

    profile = np.nansum(f, axis=0)
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
