"""Simulated volunteers, for tests and benchmarks of the aggregation.

A :class:`SimulatedCrowd` is a seeded population of three kinds of volunteer:

* **diligent**: on an easy item (difficulty 0) they answer correctly with their own
  sensitivity (P(astro | astro)) or specificity (P(rfi | not astro)), each drawn from a
  Beta; the skill fades linearly to a coin flip at difficulty 1::

      P(correct) = 0.5 + (skill - 0.5) * (1 - difficulty)

  A share of them (``cautious_fraction``) are cautious: they answer ``cant_tell`` with
  probability ``cant_tell_hard * difficulty`` and otherwise as above.
* **careless** (``careless_fraction``, default 20 %): uniformly random answers.
* **rfi-biased** (``rfi_biased_fraction``): diligent volunteers who, ``rfi_bias`` of the
  time, answer ``rfi`` whatever they see.

The true class of an item is :data:`~frbtriage.crowd.answers.ASTRO` (0) or ``NOT_ASTRO``
(1); the correct answer has the same index (``ASTRO`` or ``RFI``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from frbtriage.crowd.answers import ASTRO, CANT_TELL, N_ANSWERS, N_CLASSES, NOT_ASTRO, RFI
from frbtriage.errors import InputError

__all__ = [
    "CARELESS",
    "DILIGENT",
    "RFI_BIASED",
    "CrowdConfig",
    "SimulatedCrowd",
    "SimulatedVotes",
]

#: volunteer kinds
DILIGENT, CARELESS, RFI_BIASED = 0, 1, 2


@dataclass(frozen=True)
class CrowdConfig:
    """A simulated population: ``n_volunteers``; the fractions that are careless,
    rfi-biased and (among the others) cautious; ``sensitivity`` and ``specificity`` Beta
    ``(a, b)`` parameters of the skills on easy items (means 0.82 and 0.89); ``rfi_bias``
    share of a biased volunteer's answers that are ``rfi`` regardless; ``cant_tell_hard``
    P(cant_tell) of a cautious volunteer on the hardest item."""

    n_volunteers: int = 40
    careless_fraction: float = 0.2
    rfi_biased_fraction: float = 0.15
    cautious_fraction: float = 0.3
    sensitivity: tuple[float, float] = (9.0, 2.0)
    specificity: tuple[float, float] = (12.0, 1.5)
    rfi_bias: float = 0.6
    cant_tell_hard: float = 0.6

    def check(self, where: str | None = None) -> None:
        """Raise :class:`InputError` for an impossible parameter."""
        if self.n_volunteers < 1:
            raise InputError(where, f"n_volunteers must be >= 1, got {self.n_volunteers}")
        for name in ("careless_fraction", "rfi_biased_fraction", "cautious_fraction",
                     "rfi_bias", "cant_tell_hard"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InputError(where, f"{name} must be in [0, 1], got {value}")
        if self.careless_fraction + self.rfi_biased_fraction > 1.0:
            raise InputError(where, "careless_fraction + rfi_biased_fraction must be <= 1")
        for name in ("sensitivity", "specificity"):
            a, b = getattr(self, name)
            if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
                raise InputError(where, f"{name} Beta parameters must be > 0, got {(a, b)}")


@dataclass(frozen=True)
class SimulatedVotes:
    """Votes from :meth:`SimulatedCrowd.simulate`: ``item``, ``worker``, ``answer`` ``(n,)``
    int64 (items ``0..n_items-1``, workers ``0..n_volunteers-1``); ``truth (n_items,)`` int8
    true class; ``difficulty (n_items,)`` float64 in [0, 1]."""

    item: NDArray[np.int64]
    worker: NDArray[np.int64]
    answer: NDArray[np.int64]
    truth: NDArray[np.int8]
    difficulty: NDArray[np.float64]


class SimulatedCrowd:
    """A seeded population of simulated volunteers (see the module docstring).

    Attributes, each ``(n_volunteers,)``: ``kind`` (``DILIGENT``, ``CARELESS``,
    ``RFI_BIASED``), ``sensitivity``, ``specificity``, ``cant_tell_rate`` (P(cant_tell) at
    difficulty 1; 0 for the non-cautious). The population and every later answer come from
    one generator seeded with ``seed``: the same seed and calls give the same answers.
    """

    def __init__(self, config: CrowdConfig = CrowdConfig(), seed: int = 0) -> None:
        config.check()
        self.config = config
        self._rng = np.random.default_rng(seed)
        n = config.n_volunteers
        n_careless = round(config.careless_fraction * n)
        n_biased = min(round(config.rfi_biased_fraction * n), n - n_careless)
        kind = np.full(n, DILIGENT, dtype=np.int8)
        kind[:n_careless] = CARELESS
        kind[n_careless:n_careless + n_biased] = RFI_BIASED
        self.kind = self._rng.permutation(kind)
        self.sensitivity = self._rng.beta(*config.sensitivity, n)
        self.specificity = self._rng.beta(*config.specificity, n)
        cautious = (self._rng.random(n) < config.cautious_fraction) & (self.kind != CARELESS)
        self.cant_tell_rate = np.where(cautious, config.cant_tell_hard, 0.0)

    @property
    def n_volunteers(self) -> int:
        return self.config.n_volunteers

    def probabilities(self, volunteer: ArrayLike, true_class: ArrayLike,
                      difficulty: ArrayLike) -> NDArray[np.float64]:
        """``(n, 3)`` P(astro, rfi, cant_tell) for each (volunteer, class, difficulty)
        triple of ``(n,)`` arrays (or scalars, broadcast)."""
        v, c, d = np.broadcast_arrays(np.asarray(volunteer), np.asarray(true_class),
                                      np.asarray(difficulty, dtype=np.float64))
        v, c, d = v.ravel(), c.ravel(), d.ravel()
        if v.size and (v.min() < 0 or v.max() >= self.n_volunteers):
            raise InputError(None, f"volunteer index out of 0..{self.n_volunteers - 1}")
        if np.any((c != ASTRO) & (c != NOT_ASTRO)):
            raise InputError(None, "true class must be 0 (astro) or 1 (not astro)")
        if np.any(~((d >= 0.0) & (d <= 1.0))):
            raise InputError(None, "difficulty must be in [0, 1]")
        skill = np.where(c == ASTRO, self.sensitivity[v], self.specificity[v])
        p_right = 0.5 + (skill - 0.5) * (1.0 - d)
        p_cant = self.cant_tell_rate[v] * d
        rows = np.arange(v.size)
        probs = np.zeros((v.size, N_ANSWERS))
        probs[rows, c] = (1.0 - p_cant) * p_right        # answer index == class index
        probs[rows, 1 - c] = (1.0 - p_cant) * (1.0 - p_right)
        probs[:, CANT_TELL] = p_cant
        biased = self.kind[v] == RFI_BIASED
        probs[biased] *= 1.0 - self.config.rfi_bias
        probs[biased, RFI] += self.config.rfi_bias
        probs[self.kind[v] == CARELESS] = 1.0 / N_ANSWERS
        return probs

    def answers(self, volunteer: ArrayLike, true_class: ArrayLike,
                difficulty: ArrayLike) -> NDArray[np.int64]:
        """``(n,)`` one random answer for each (volunteer, class, difficulty) triple."""
        cum = np.cumsum(self.probabilities(volunteer, true_class, difficulty), axis=1)
        u = self._rng.random(cum.shape[0]) * cum[:, -1]
        return np.minimum((u[:, None] >= cum).sum(axis=1), N_ANSWERS - 1).astype(np.int64)

    def answer(self, volunteer: int, true_class: int, difficulty: float) -> int:
        """One random answer of ``volunteer`` to an item of ``true_class`` and
        ``difficulty``."""
        return int(self.answers([volunteer], [true_class], [difficulty])[0])

    def expected_confusion(self, difficulty: ArrayLike) -> NDArray[np.float64]:
        """``(n_volunteers, 2, 3)`` each volunteer's P(answer | class), averaged over the
        item difficulties ``difficulty (m,)``."""
        d = np.asarray(difficulty, dtype=np.float64).ravel()
        out = np.empty((self.n_volunteers, N_CLASSES, N_ANSWERS))
        for w in range(self.n_volunteers):
            for c in range(N_CLASSES):
                out[w, c] = self.probabilities(w, c, d).mean(axis=0)
        return out

    def simulate(self, n_items: int, votes_per_item: int, astro_fraction: float = 0.3,
                 difficulty: tuple[float, float] = (1.0, 4.0)) -> SimulatedVotes:
        """Votes on ``n_items`` items, each classified by ``votes_per_item`` distinct
        volunteers drawn at random; an item is astro with probability ``astro_fraction`` and
        its difficulty is drawn from Beta(``difficulty``)."""
        if not 1 <= votes_per_item <= self.n_volunteers:
            raise InputError(None, f"votes_per_item must be in 1..{self.n_volunteers}, "
                                   f"got {votes_per_item}")
        if n_items < 0 or not 0.0 <= astro_fraction <= 1.0:
            raise InputError(None, "n_items must be >= 0 and astro_fraction in [0, 1]")
        rng = self._rng
        truth = np.where(rng.random(n_items) < astro_fraction, ASTRO, NOT_ASTRO).astype(np.int8)
        diff = rng.beta(*difficulty, n_items)
        worker = rng.random((n_items, self.n_volunteers)).argsort(axis=1)[:, :votes_per_item]
        item = np.repeat(np.arange(n_items), votes_per_item)
        worker = worker.ravel().astype(np.int64)
        answer = self.answers(worker, truth[item], diff[item])
        return SimulatedVotes(item.astype(np.int64), worker, answer, truth, diff)
