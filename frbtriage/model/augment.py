"""Training-time augmentation of pooled candidate images.

Works on a batch ``x`` of shape ``(n, views, rows, cols)``: even channels are ``ft`` (row 0 =
highest frequency, columns = time), odd ones ``dmt`` (rows = DM trials, columns = time), the
full images first, then their zoom crops (:mod:`frbtriage.model.network`), all mean-pooled
to the network's input size and in FETCH normalisation (median 0, std 1 at full
resolution). Every draw comes from the ``torch.Generator`` passed in, so a
seeded generator gives identical augmentations on every run.

Augmentations, each applied to a random subset of the batch:

* **time shift**: every view rolled by the same whole number of its own pooled time pixels
  (candidates are not always perfectly centred; a zoom pixel is finer, so its shift is
  smaller);
* **extra noise**: Gaussian noise with a random fraction of each image's own std
  (weaker bursts, different system temperature);
* **masked channels**: random ``ft`` rows set to 0 (the normalised median), as RFI
  flagging does, sometimes as one contiguous band (the same rows in every ``ft`` view);
* **bandpass**: ``ft`` rows multiplied by a smooth random gain and given a smooth random
  offset (imperfect bandpass calibration; the same in every ``ft`` view).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and strengths of each augmentation (see module docstring)."""

    p_shift: float = 0.5
    max_shift: int = 2  # pooled pixels (x8 stored samples at the default pooling)
    p_noise: float = 0.5
    max_noise: float = 0.5  # fraction of the image's std
    p_mask: float = 0.5
    max_mask_fraction: float = 0.25
    p_bandpass: float = 0.5
    max_gain: float = 0.3
    max_offset: float = 0.3  # in units of the ft image's std

    def to_dict(self) -> dict[str, float]:
        """JSON-serialisable form (stored in the model's training description)."""
        return dict(self.__dict__)


def _pick(n: int, p: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=gen) < p).to(device)


def augment(x: torch.Tensor, gen: torch.Generator,
            cfg: AugmentConfig | None = None) -> torch.Tensor:
    """Augmented copy of ``x`` ``(n, views, s, t)``; random numbers drawn on the CPU from
    ``gen``."""
    cfg = cfg or AugmentConfig()
    n, v, s, t = x.shape
    dev = x.device
    out = x.clone()
    if n == 0:
        return out

    # time shift: per-sample roll along the last axis, via gather
    if cfg.max_shift > 0:
        shift = torch.randint(-cfg.max_shift, cfg.max_shift + 1, (n,), generator=gen)
        shift = torch.where(_pick(n, cfg.p_shift, gen, torch.device("cpu")), shift, 0).to(dev)
        idx = (torch.arange(t, device=dev)[None, :] - shift[:, None]) % t  # (n, t)
        out = torch.gather(out, 3, idx[:, None, None, :].expand(n, v, s, t))

    # bandpass: smooth gain and offset across frequency (ft only)
    sel = _pick(n, cfg.p_bandpass, gen, dev)
    f = torch.linspace(-1, 1, s, device=dev)[None, :]
    a = (torch.rand(n, 3, generator=gen).to(dev) * 2 - 1)
    b = (torch.rand(n, 3, generator=gen).to(dev) * 2 - 1)
    gain = 1 + cfg.max_gain * (a[:, :1] * f + a[:, 1:2] * (f**2 - 1 / 3) + 0.5 * a[:, 2:3]
                               * torch.sin(3.1 * f))
    ft_std = out[:, 0].std(dim=(1, 2)).clamp_min(1e-6)[:, None]
    offset = cfg.max_offset * ft_std * (b[:, :1] * f + b[:, 1:2] * (f**2 - 1 / 3) + 0.5
                                        * b[:, 2:3] * torch.cos(2.3 * f))
    gain = torch.where(sel[:, None], gain.clamp_min(0.2), 1.0)
    offset = torch.where(sel[:, None], offset, 0.0)
    out[:, 0::2] = out[:, 0::2] * gain[:, None, :, None] + offset[:, None, :, None]

    # extra noise, scaled to each image's std
    sel = _pick(n, cfg.p_noise, gen, dev)
    level = torch.rand(n, generator=gen).to(dev) * cfg.max_noise * sel
    std = out.std(dim=(2, 3)).clamp_min(1e-6)  # (n, views)
    noise = torch.randn(out.shape, generator=gen).to(dev)
    out = out + noise * (level[:, None] * std)[:, :, None, None]

    # masked channels (ft rows): scattered rows or one contiguous band
    sel = _pick(n, cfg.p_mask, gen, dev)
    frac = torch.rand(n, generator=gen) * cfg.max_mask_fraction
    band = torch.rand(n, generator=gen) < 0.5
    start = torch.rand(n, generator=gen)
    rows = torch.rand(n, s, generator=gen)
    r = torch.arange(s)[None, :].float()
    width = (frac * s)[:, None]
    lo = (start * (s - width.squeeze(1)))[:, None]
    band_mask = (r >= lo) & (r < lo + width)
    scatter_mask = rows < frac[:, None]
    mask = torch.where(band[:, None], band_mask, scatter_mask).to(dev) & sel[:, None]
    out[:, 0::2] = out[:, 0::2].masked_fill(mask[:, None, :, None], 0.0)
    return out
