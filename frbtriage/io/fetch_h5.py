"""FETCH candidate ``.h5`` files, read and write, in the layout ``your.candidate.Candidate.save_h5``
writes, so FETCH users can bring their archives in and take ours out.

Layout (as your writes it):

* dataset ``data_freq_time``: ``(ntime, nfreq)`` float32, dims labelled ``time``, ``frequency``;
  the frequency axis is in the **data file's channel order** (column 0 = ``fch1``);
* dataset ``data_dm_time``: ``(ndm, ntime)`` float32, dims labelled ``dm``, ``time``; row 0 is
  the lowest DM trial (your's trials run from 0 to 2 x DM);
* attributes: ``cand_id, tcand, dm, dm_opt, snr, snr_opt, width, label, rfi_mask, kill_mask,
  filelist, filename, basename, source_name, nbits, native_nbits, tstart, fch1, foff, nchans,
  tsamp, nspectra, native_*`` and the decimation factors.

Our ``ft`` is ``(nfreq, ntime)`` with **row 0 the highest frequency** (docs/CONTRACTS.md). So
``data_freq_time = ft.T``, with the frequency axis flipped when the file's ``foff > 0``
(ascending channels, where your's column 0 is the lowest frequency); reading undoes the same.
A file without ``foff`` is taken as highest-frequency-first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from frbtriage.conventions import decimation
from frbtriage.errors import InputError
from frbtriage.io.candidates import Candidate
from frbtriage.io.filterbank import Header
from frbtriage.safe_write import replacing

_REQUIRED_ATTRS = ("tcand", "dm", "snr", "width")


def cand_id(cand: Candidate, tstart: float = 0.0) -> str:
    """The candidate id your gives a candidate (also its default h5 file name without ``.h5``)."""
    return f"cand_tstart_{tstart:.12f}_tcand_{cand.tcand:.7f}_dm_{cand.dm:.5f}_snr_{cand.snr:.5f}"


def _core_attrs(cand: Candidate, header: Header | None) -> dict[str, Any]:
    """The attributes your's ``save_h5`` writes, from our records."""
    tstart = header.tstart if header is not None else 0.0
    attrs: dict[str, Any] = {
        "cand_id": cand_id(cand, tstart),
        "tcand": float(cand.tcand),
        "dm": float(cand.dm),
        "dm_opt": -1.0,
        "snr": float(cand.snr),
        "snr_opt": -1.0,
        "width": int(cand.width),
        "label": -1 if cand.label is None else int(cand.label),
        "rfi_mask": np.array([False]),
        "kill_mask": np.array([False]),
        "filelist": [cand.file],
        "filename": cand.file,
        "basename": os.path.splitext(os.path.basename(cand.file))[0],
        "time_decimation_factor": 1,
        "frequency_decimation_factor": 1,
    }
    if header is not None:
        suffix = Path(header.path).suffix.lower()
        attrs.update(
            {
                "source_name": header.source_name,
                "nbits": 8 if header.nbits < 8 else header.nbits,
                "native_nbits": header.nbits,
                "tstart": float(header.tstart),
                "fch1": float(header.fch1),
                "foff": float(header.foff),
                "nchans": int(header.nchans),
                "tsamp": float(header.tsamp),
                "nspectra": int(header.nspectra),
                "native_tsamp": float(header.tsamp),
                "native_foff": float(header.foff),
                "native_nchans": int(header.nchans),
                "native_nspectra": int(header.nspectra),
                "bw": float(header.nchans * header.foff),
                "center_freq": float(header.fch1 + (header.nchans - 1) * header.foff / 2),
                "format": "fits" if suffix in (".fits", ".sf") else "fil",
                "npol": 1,
                "poln_order": "I",
            }
        )
    return attrs


def write_fetch_h5(
    path: str | os.PathLike[str],
    cand: Candidate,
    ft: ArrayLike,
    dmt: ArrayLike,
    header: Header | None,
    extra_attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write one candidate as a FETCH ``.h5`` file (through a temporary name and a rename).

    Args:
        path: output file (``.h5``).
        cand: the candidate (its ``file``, ``tcand`` s, ``dm``, ``width`` samples, ``snr``, label).
        ft: ``(nfreq, ntime)``, row 0 the highest frequency; stored transposed as
            ``data_freq_time`` ``(ntime, nfreq)`` in the data file's channel order.
        dmt: ``(ndm, ntime)``, row 0 the lowest DM trial; stored as ``data_dm_time``.
        header: the data file's header (fch1, foff, nchans, tsamp, ... become attributes), or
            None when unknown (then the frequency axis is written highest first).
        extra_attrs: further attributes; they may not replace the ones your defines.

    Returns:
        The path written.
    """
    ft_a = np.asarray(ft, dtype=np.float32)
    dmt_a = np.asarray(dmt, dtype=np.float32)
    if ft_a.ndim != 2 or dmt_a.ndim != 2:
        raise ValueError(f"ft and dmt must be 2-D, got shapes {ft_a.shape} and {dmt_a.shape}")
    attrs = _core_attrs(cand, header)
    for key, value in (extra_attrs or {}).items():
        if key in attrs:
            raise ValueError(f"extra attribute {key!r} would replace a FETCH attribute")
        attrs[key] = value
    data_ft = ft_a.T  # (ntime, nfreq), column 0 = highest frequency
    if header is not None and header.foff > 0:
        data_ft = data_ft[:, ::-1]  # your's column 0 is fch1, the lowest frequency here

    import h5py

    out = Path(path)
    with replacing(out) as tmp, h5py.File(tmp, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        d = f.create_dataset(
            "data_freq_time",
            data=np.ascontiguousarray(data_ft),
            compression="gzip",
            compression_opts=4,
        )
        d.dims[0].label = "time"
        d.dims[1].label = "frequency"
        d = f.create_dataset("data_dm_time", data=dmt_a, compression="gzip", compression_opts=4)
        d.dims[0].label = "dm"
        d.dims[1].label = "time"
    return out


def _plain(value: Any) -> Any:
    """h5py attribute value as plain Python (bytes -> str, numpy scalars -> numbers)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return [_plain(v) for v in value.tolist()]
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_fetch_h5(
    path: str | os.PathLike[str],
) -> tuple[Candidate, NDArray[np.float32], NDArray[np.float32] | None, dict[str, Any]]:
    """Read a FETCH candidate ``.h5`` (ours or one your/FETCH wrote).

    Returns:
        ``(candidate, ft, dmt, attrs)``: ``ft`` float32 ``(nfreq, ntime)`` with row 0 the
        highest frequency; ``dmt`` float32 ``(ndm, ntime)`` as stored, or None when the file has
        no ``data_dm_time`` (your omits it when none was made); ``attrs`` every attribute as
        plain Python values. ``candidate.origin`` is ``"fetch_h5:<path>"``; a label of -1 reads
        as None.
    """
    import h5py

    p = Path(path)
    ps = os.fspath(p)
    if not p.exists():
        raise InputError(ps, "file not found")
    if not p.is_file():
        raise InputError(ps, "not a regular file")
    if not h5py.is_hdf5(ps):
        raise InputError(ps, "not an HDF5 file")
    try:
        with h5py.File(ps, "r") as f:
            if "data_freq_time" not in f:
                raise InputError(ps, "no 'data_freq_time' dataset (not a FETCH candidate file)")
            data_ft = np.asarray(f["data_freq_time"][()], dtype=np.float32)
            dmt = (
                np.asarray(f["data_dm_time"][()], dtype=np.float32) if "data_dm_time" in f else None
            )
            attrs = {k: _plain(v) for k, v in f.attrs.items()}
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise InputError(ps, f"cannot read FETCH h5: {err}") from err
    if data_ft.ndim != 2:
        raise InputError(ps, f"'data_freq_time' has shape {data_ft.shape}, expected 2-D")
    if dmt is not None and dmt.ndim != 2:
        raise InputError(ps, f"'data_dm_time' has shape {dmt.shape}, expected 2-D")
    missing = [k for k in _REQUIRED_ATTRS if k not in attrs]
    if missing:
        raise InputError(ps, f"missing attribute(s) {', '.join(missing)}")
    ft = data_ft.T
    foff = attrs.get("foff")
    if foff is not None and float(foff) > 0:
        ft = ft[::-1]
    ft = np.ascontiguousarray(ft)
    try:
        tcand, dm, snr = float(attrs["tcand"]), float(attrs["dm"]), float(attrs["snr"])
        width_f = float(attrs["width"])
    except (TypeError, ValueError) as err:
        raise InputError(ps, f"non-numeric candidate attribute: {err}") from None
    if not all(np.isfinite([tcand, dm, snr, width_f])):
        raise InputError(ps, "candidate attribute tcand, dm, snr or width is not finite")
    if dm < 0:
        raise InputError(ps, f"negative DM {dm!r}")
    if width_f < 1 or width_f != int(width_f):
        raise InputError(ps, f"width {width_f!r} is not a whole number of samples >= 1")
    label_raw = attrs.get("label")
    label: int | None = None
    if label_raw is not None:
        try:
            lab = float(label_raw)
        except (TypeError, ValueError):
            lab = -1.0
        if np.isfinite(lab) and int(lab) in (0, 1) and lab == int(lab):
            label = int(lab)
    filename = attrs.get("filename")
    if not filename:
        fl = attrs.get("filelist")
        filename = fl[0] if isinstance(fl, list) and fl else ""
    cand = Candidate(
        file=str(filename),
        tcand=tcand,
        dm=dm,
        width=int(width_f),
        snr=snr,
        label=label,
        origin=f"fetch_h5:{p.resolve()}",
    )
    return cand, ft, dmt, attrs


def conform_images(
    path: str | os.PathLike[str],
    ft: NDArray[np.float32],
    dmt: NDArray[np.float32] | None,
    shape: tuple[int, int],
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The images of a read FETCH candidate (:func:`read_fetch_h5`) as a store of ``shape``
    images keeps them, or :class:`InputError` naming ``path`` and the problem.

    The one rule for every reader of FETCH files (``rank`` and ``import-h5`` alike), with
    ``shape = (rows, ntime)`` (the workspace's ``(256, 256)``):

    * ``dmt`` must be there and exactly ``shape``: its rows are DM trials 0..2 x DM, which
      no resampling turns into another trial grid;
    * ``ft`` must have ``ntime`` time samples: a column is a fixed decimation of the data
      (width / 2 samples) centred on the burst, so a different count is a different time
      scale, not a different size;
    * ``ft``'s frequency axis may have any length and is resized to ``rows`` channels by
      the area mean (:func:`frbtriage.kernels.spectra.resize_freq`, flux-conserving):
      your's candmaker makes that same resize (to 256) before saving, and a file saved
      without it holds the data file's channel count, which loses nothing by averaging;
    * every value must be finite: a NaN would poison scores and statistics downstream.

    Returns ``(ft, dmt)``, each ``shape`` float32 C-contiguous.
    """
    if dmt is None:
        raise InputError(path, "has no data_dm_time image; the model needs both ft and dmt "
                               "(re-make it with the DM-time image)")
    if dmt.shape != shape:
        raise InputError(path, f"data_dm_time is {dmt.shape} (DM x time), expected {shape}")
    if ft.shape[1] != shape[1]:
        raise InputError(path, f"data_freq_time has {ft.shape[1]} time samples, "
                               f"expected {shape[1]}")
    for name, img in (("data_freq_time", ft), ("data_dm_time", dmt)):
        if not np.isfinite(img).all():
            raise InputError(path, f"{name} contains NaN or infinite values")
    if ft.shape[0] != shape[0]:
        from frbtriage.kernels.spectra import resize_freq

        ft = resize_freq(ft, shape[0], "area")
    return (np.ascontiguousarray(ft, dtype=np.float32),
            np.ascontiguousarray(dmt, dtype=np.float32))


def image_axes(attrs: Mapping[str, Any], width: int
               ) -> tuple[float | None, float | None, float | None]:
    """``(f_hi_mhz, f_lo_mhz, pixel_s)`` of a FETCH candidate's ``ft`` image from its h5
    attributes (``fch1``, ``foff``, ``nchans`` and ``native_tsamp`` or ``tsamp``, the data
    file's): the band's outer channel edges and ``tsamp * decimation(width)``, as
    :func:`frbtriage.prepare.image_axes` gives for a prepared one; ``(None, None, None)``
    when an attribute is missing or cannot describe a band."""
    try:
        fch1, foff, nchans = float(attrs["fch1"]), float(attrs["foff"]), int(attrs["nchans"])
        tsamp = float(attrs.get("native_tsamp", attrs["tsamp"]))
    except (KeyError, TypeError, ValueError):
        return None, None, None
    top, bottom = fch1, fch1 + (nchans - 1) * foff
    half = 0.5 * abs(foff)
    f_hi, f_lo = max(top, bottom) + half, min(top, bottom) - half
    if not (np.isfinite([f_hi, f_lo, tsamp]).all() and f_hi > f_lo > 0 and tsamp > 0):
        return None, None, None
    return f_hi, f_lo, tsamp * decimation(width)
