"""From ensemble logits to calibrated p(astro), its spread, and BALD; temperature scaling.

For ``K`` ensemble members with logits ``z_k`` and temperature ``T``:

* ``p_k = sigmoid(z_k / T)``
* ``p_astro = mean_k p_k`` (the ensemble's predictive probability)
* ``p_std = std_k p_k`` (population std over members: their disagreement)
* ``bald = H(p_astro) - mean_k H(p_k)`` in nats, with ``H(p) = -p ln p - (1-p) ln(1-p)``:
  the mutual information between the label and the ensemble member (epistemic uncertainty;
  between 0 and ln 2).

The temperature is one scalar shared by all members, fit by minimising the (weighted)
negative log-likelihood of ``p_astro`` on a held-out split (Guo et al. 2017).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-7


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy of a Bernoulli(p) in nats, elementwise; 0 at p = 0 or 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def ensemble_stats(logits: np.ndarray, temperature: float = 1.0) -> dict[str, np.ndarray]:
    """``p_astro``, ``p_std`` and ``bald``, each ``(n,)`` float64, from logits ``(n, members)``."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must be (n, members), got shape {z.shape}")
    p = _sigmoid(z / float(temperature))
    mean = p.mean(axis=1)
    std = p.std(axis=1)
    bald = binary_entropy(mean) - binary_entropy(p).mean(axis=1)
    return {"p_astro": mean, "p_std": std, "bald": np.maximum(bald, 0.0)}


def nll(logits: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None,
        temperature: float = 1.0) -> float:
    """Weighted mean binary cross-entropy (nats) of the ensemble mean against soft targets."""
    p = np.clip(ensemble_stats(logits, temperature)["p_astro"], _EPS, 1 - _EPS)
    y = np.asarray(targets, dtype=np.float64)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    loss = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float((w * loss).sum() / w.sum())


def fit_temperature(logits: np.ndarray, targets: np.ndarray,
                    weights: np.ndarray | None = None) -> float:
    """Temperature in [0.05, 20] minimising :func:`nll` on held-out ``logits (n, members)``.

    ``targets`` (n,) are probabilities in [0, 1] (hard 0/1 or soft vote fractions).
    """
    # scipy.optimize (~0.3 s) only here: scoring imports this module for ensemble_stats
    from scipy.optimize import minimize_scalar

    if len(targets) == 0:
        return 1.0
    res = minimize_scalar(
        lambda log_t: nll(logits, targets, weights, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))
