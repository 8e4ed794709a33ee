"""Votes -> a probability that each candidate is astrophysical, and each volunteer's reliability.

Votes are three integer arrays of shape ``(n,)``: ``item`` (candidate id), ``worker``
(volunteer id) and ``answer`` (:data:`~frbtriage.crowd.answers.ASTRO`, ``RFI`` or
``CANT_TELL``). Ids may be any integers (database keys); results list the distinct ids in
increasing order, ``items (n_items,)`` and ``workers (n_workers,)``, and every per-item or
per-worker array follows that order.

Two aggregations:

* :func:`majority_vote`, the baseline: ``p_astro`` is the fraction of the decisive votes
  (astro or rfi) that say astro; 0.5 for a tie and for an item with only ``cant_tell`` votes.
* :func:`dawid_skene`: Dawid & Skene (1979) EM. Each volunteer ``w`` has a confusion matrix
  ``confusion[w, k, j] = P(answer j | true class k)`` (2 classes x 3 answers), the crowd a
  class prior. E-step: the posterior of each item's class given its votes; M-step: the
  confusion matrices and prior from the posteriors. Gold items (a known class) keep that
  class as their posterior in every step, which anchors the solution: it cannot swap the
  classes, and volunteers who answer backwards are recognised as such. The first confusion
  matrices come from the votes on gold items alone when there are any (from the majority
  vote otherwise: started there, a crowd that mostly answers backwards would pull EM into the
  mirror-image solution however many gold items there are). EM stops when no posterior moves
  by more than ``tol`` (or after ``max_iter`` iterations); there is no randomness, so the
  same votes give the same result.

  Smoothing: each volunteer's confusion row is the posterior mean under a Dirichlet prior
  centred on the *pooled* confusion (all volunteers' soft counts together, itself
  Laplace-smoothed with one pseudo-vote per cell) with ``smoothing`` pseudo-votes::

      confusion[w, k] = (counts[w, k] + smoothing * pooled[k]) / (counts[w, k].sum() + smoothing)

  so a volunteer with a handful of votes is treated like the average volunteer and one with
  hundreds by their own record. The class prior is Laplace-smoothed over the non-gold items
  (gold sets are chosen, not drawn, so they would bias it).

Per item both give vote ``counts``, ``p_astro``, its ``uncertainty`` (binary entropy of
``p_astro`` in bits: 0 when certain, 1 at ``p = 0.5``; it is what an entropy-based queue
ranks on), the ``agreement`` (fraction of decisive votes on the majority side, 0 with no
decisive vote) and the ``label`` (``ASTRO`` when ``p_astro > 0.5``, else ``NOT_ASTRO``: a tie
goes to the far more common class).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import xlogy

from frbtriage.crowd.answers import (
    ASTRO,
    CANT_TELL,
    N_ANSWERS,
    N_CLASSES,
    NOT_ASTRO,
    RFI,
    check_answer_codes,
)
from frbtriage.errors import InputError

__all__ = [
    "DawidSkeneConfig",
    "DawidSkeneResult",
    "ItemSummary",
    "WorkerSummary",
    "dawid_skene",
    "majority_vote",
]


@dataclass(frozen=True)
class DawidSkeneConfig:
    """Parameters of :func:`dawid_skene`: ``smoothing`` pseudo-votes pulling each volunteer's
    confusion towards the pooled one (0: none); ``tol`` largest change of any posterior that
    counts as converged; ``max_iter`` EM iterations at most."""

    smoothing: float = 2.0
    tol: float = 1e-6
    max_iter: int = 200

    def check(self, where: str | None = None) -> None:
        """Raise :class:`InputError` for an impossible parameter."""
        if not (math.isfinite(self.smoothing) and self.smoothing >= 0):
            raise InputError(where, f"smoothing must be a finite number >= 0, "
                                    f"got {self.smoothing}")
        if not (math.isfinite(self.tol) and self.tol > 0):
            raise InputError(where, f"tol must be a finite number > 0, got {self.tol}")
        if self.max_iter < 1:
            raise InputError(where, f"max_iter must be >= 1, got {self.max_iter}")


@dataclass(frozen=True)
class ItemSummary:
    """Per-item results (arrays read-only, ``n_items`` distinct item ids).

    ``items (n_items,)`` int64 ids, increasing; ``counts (n_items, 3)`` int64 votes per answer
    (astro, rfi, cant_tell); ``p_astro (n_items,)`` float64 in [0, 1]; ``uncertainty
    (n_items,)`` binary entropy of ``p_astro`` in bits, in [0, 1]; ``agreement (n_items,)``
    fraction of decisive votes on the majority side, in {0} U [0.5, 1]; ``label (n_items,)``
    int8, ``ASTRO`` (0) or ``NOT_ASTRO`` (1).
    """

    items: NDArray[np.int64]
    counts: NDArray[np.int64]
    p_astro: NDArray[np.float64]
    uncertainty: NDArray[np.float64]
    agreement: NDArray[np.float64]
    label: NDArray[np.int8]

    @property
    def n_votes(self) -> NDArray[np.int64]:
        """``(n_items,)`` votes per item, ``cant_tell`` included."""
        return self.counts.sum(axis=1)

    @property
    def n_decisive(self) -> NDArray[np.int64]:
        """``(n_items,)`` astro + rfi votes per item."""
        return self.counts[:, ASTRO] + self.counts[:, RFI]


@dataclass(frozen=True)
class WorkerSummary:
    """Per-volunteer results (arrays read-only, ``n_workers`` distinct worker ids).

    ``workers (n_workers,)`` int64 ids, increasing; ``confusion (n_workers, 2, 3)`` float64,
    ``confusion[w, k, j] = P(answer j | true class k)``, rows summing to 1; ``reliability
    (n_workers,)`` balanced accuracy ``(confusion[w, 0, ASTRO] + confusion[w, 1, RFI]) / 2``
    (1 perfect, 0.5 guessing between astro and rfi, 1/3 uniformly random answers);
    ``n_votes (n_workers,)``; ``n_gold (n_workers,)`` votes on gold items and
    ``n_gold_correct (n_workers,)`` those answering the gold class (``cant_tell`` is never
    correct), both int64.
    """

    workers: NDArray[np.int64]
    confusion: NDArray[np.float64]
    reliability: NDArray[np.float64]
    n_votes: NDArray[np.int64]
    n_gold: NDArray[np.int64]
    n_gold_correct: NDArray[np.int64]

    @property
    def gold_accuracy(self) -> NDArray[np.float64]:
        """``(n_workers,)`` ``n_gold_correct / n_gold``; NaN for a volunteer without gold votes."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.n_gold_correct / np.where(self.n_gold > 0, self.n_gold, np.nan)


@dataclass(frozen=True)
class DawidSkeneResult:
    """:func:`dawid_skene`'s result: ``items`` and ``workers`` summaries, the class ``prior
    (2,)`` (P(astro), P(not astro)), ``n_iter`` EM iterations run and whether it
    ``converged`` within ``tol``."""

    items: ItemSummary
    workers: WorkerSummary
    prior: NDArray[np.float64]
    n_iter: int
    converged: bool


# --------------------------------------------------------------------------- helpers
class _Votes:
    """Checked votes with dense indices: ``item``/``worker``/``answer`` ``(n,)`` intp,
    ``item_ids``/``worker_ids`` the distinct ids they index."""

    def __init__(self, item: ArrayLike, answer: ArrayLike, where: str | None,
                 worker: ArrayLike | None = None) -> None:
        self.answer = check_answer_codes(answer, where)
        if worker is None:  # the majority vote does not need to know who voted
            worker = np.zeros(self.answer.shape, dtype=np.int64)
        ids = [np.asarray(a) for a in (item, worker)]
        for name, a in zip(("item", "worker"), ids, strict=True):
            if a.shape != self.answer.shape:
                raise InputError(where, f"{name} ids have shape {a.shape}, answers "
                                        f"{self.answer.shape}; one of each per vote needed")
            if a.size and not np.issubdtype(a.dtype, np.integer):
                raise InputError(where, f"{name} ids must be integers, got dtype {a.dtype}")
        self.item_ids, self.item = _dense(ids[0])
        self.worker_ids, self.worker = _dense(ids[1])

    @property
    def n_items(self) -> int:
        return self.item_ids.size

    def counts(self) -> NDArray[np.int64]:
        """``(n_items, 3)`` votes per item and answer."""
        flat = np.bincount(self.item * N_ANSWERS + self.answer,
                           minlength=self.n_items * N_ANSWERS)
        return flat.reshape(self.n_items, N_ANSWERS).astype(np.int64)


def _dense(ids: NDArray) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    uniq, index = np.unique(ids.astype(np.int64), return_inverse=True)
    return uniq, index.reshape(-1).astype(np.intp)


def _readonly(*arrays: NDArray) -> None:
    for a in arrays:
        a.setflags(write=False)


def _binary_entropy(p: NDArray[np.float64]) -> NDArray[np.float64]:
    h = -(xlogy(p, p) + xlogy(1.0 - p, 1.0 - p)) / math.log(2.0)
    return np.clip(h, 0.0, 1.0) + 0.0  # + 0.0 turns -0.0 into 0.0


def _vote_fraction(counts: NDArray[np.int64]) -> NDArray[np.float64]:
    decisive = counts[:, ASTRO] + counts[:, RFI]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(decisive > 0, counts[:, ASTRO] / decisive, 0.5)


def _summarise(item_ids: NDArray[np.int64], counts: NDArray[np.int64],
               p_astro: NDArray[np.float64]) -> ItemSummary:
    decisive = counts[:, ASTRO] + counts[:, RFI]
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(decisive > 0, counts[:, :CANT_TELL].max(axis=1) / decisive, 0.0)
    label = np.where(p_astro > 0.5, ASTRO, NOT_ASTRO).astype(np.int8)
    summary = ItemSummary(item_ids, counts, p_astro, _binary_entropy(p_astro), agreement, label)
    _readonly(item_ids, counts, p_astro, summary.uncertainty, agreement, label)
    return summary


def _gold_labels(gold: Mapping[int, int] | None, item_ids: NDArray[np.int64],
                 where: str | None) -> NDArray[np.int8]:
    """``(n_items,)`` gold class per item, -1 where none; gold ids without votes are ignored."""
    labels = np.full(item_ids.size, -1, dtype=np.int8)
    if not gold:
        return labels
    for key, value in gold.items():
        if not (isinstance(key, int | np.integer) and value in (ASTRO, NOT_ASTRO)
                and not isinstance(value, bool)):
            raise InputError(where, f"gold class {value!r} of item {key!r}: an integer item id "
                                    "and class 0 (astro) or 1 (not astro) needed")
    if not item_ids.size:
        return labels
    keys = np.fromiter(gold.keys(), dtype=np.int64, count=len(gold))
    values = np.fromiter(gold.values(), dtype=np.int64, count=len(gold))
    pos = np.searchsorted(item_ids, keys)
    found = (pos < item_ids.size) & (item_ids[np.minimum(pos, item_ids.size - 1)] == keys)
    labels[pos[found]] = values[found]
    return labels


# --------------------------------------------------------------------------- aggregations
def majority_vote(item: ArrayLike, answer: ArrayLike, where: str | None = None) -> ItemSummary:
    """The majority-vote baseline (see the module docstring). ``item``, ``answer``: ``(n,)``
    integer arrays. Raises :class:`InputError` for mismatched shapes or unknown answer codes."""
    votes = _Votes(item, answer, where)
    counts = votes.counts()
    return _summarise(votes.item_ids, counts, _vote_fraction(counts))


def dawid_skene(
    item: ArrayLike, worker: ArrayLike, answer: ArrayLike,
    gold: Mapping[int, int] | None = None, config: DawidSkeneConfig = DawidSkeneConfig(),
    where: str | None = None,
) -> DawidSkeneResult:
    """Dawid-Skene EM over the votes (see the module docstring for the model and smoothing).

    ``item``, ``worker``, ``answer``: ``(n,)`` integer arrays; ``gold``: ``{item id: true
    class}``, class 0 astro or 1 not astro (gold ids that have no votes are ignored).
    Raises :class:`InputError` (``where`` names the source) for mismatched shapes, unknown
    answer codes, a gold class other than 0 or 1, or an impossible ``config``.
    """
    config.check(where)
    votes = _Votes(item, answer, where, worker)
    gold_label = _gold_labels(gold, votes.item_ids, where)
    em = _EM(votes, gold_label, config.smoothing)
    counts = votes.counts()
    if em.is_gold.any():  # start from what the gold votes alone say of each volunteer
        post = em.anchor(np.zeros((votes.n_items, N_CLASSES)))
    else:
        p0 = _vote_fraction(counts)
        post = np.stack([p0, 1.0 - p0], axis=1)
    confusion, prior = em.m_step(post)
    n_iter, converged = 0, votes.n_items == 0
    while not converged and n_iter < config.max_iter:
        new = em.e_step(confusion, prior)
        converged = bool(np.abs(new - post).max() <= config.tol)
        post = new
        confusion, prior = em.m_step(post)
        n_iter += 1

    items = _summarise(votes.item_ids, counts, post[:, ASTRO].copy())
    _readonly(prior)
    return DawidSkeneResult(items, _workers(votes, gold_label, confusion), prior, n_iter,
                            converged)


class _EM:
    """The E and M steps over fixed votes. Posteriors are ``(n_items, 2)``, confusion
    matrices ``(n_workers, 2, 3)``, the prior ``(2,)``."""

    def __init__(self, votes: _Votes, gold_label: NDArray[np.int8], smoothing: float) -> None:
        self.votes = votes
        self.smoothing = smoothing
        self.is_gold = gold_label >= 0
        self.gold_post = np.eye(N_CLASSES)[gold_label[self.is_gold]]
        self.n_workers = votes.worker_ids.size
        self.cell = votes.worker * N_ANSWERS + votes.answer  # (n,) flat (worker, answer)

    def anchor(self, post: NDArray[np.float64]) -> NDArray[np.float64]:
        """``post`` with the gold items' rows set to their known class (in place)."""
        post[self.is_gold] = self.gold_post
        return post

    def m_step(self, post: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                                                          NDArray[np.float64]]:
        """Smoothed confusion matrices and class prior given the posteriors."""
        v, size = self.votes, self.n_workers * N_ANSWERS
        soft = np.stack([np.bincount(self.cell, weights=post[v.item, k], minlength=size)
                         for k in range(N_CLASSES)], axis=1)            # (W*3, 2)
        soft = soft.reshape(self.n_workers, N_ANSWERS, N_CLASSES).transpose(0, 2, 1)
        pooled = soft.sum(axis=0) + 1.0                                 # (2, 3)
        pooled /= pooled.sum(axis=1, keepdims=True)
        confusion = soft + self.smoothing * pooled
        confusion /= confusion.sum(axis=2, keepdims=True)
        prior = post[~self.is_gold].sum(axis=0) + 1.0
        return confusion, prior / prior.sum()

    def e_step(self, confusion: NDArray[np.float64], prior: NDArray[np.float64]
               ) -> NDArray[np.float64]:
        """Posterior class probabilities of every item (gold rows anchored)."""
        v = self.votes
        log_like = np.log(confusion[v.worker, :, v.answer])            # (n, 2)
        log_post = np.log(prior) + np.stack(
            [np.bincount(v.item, weights=log_like[:, k], minlength=v.n_items)
             for k in range(N_CLASSES)], axis=1)                        # (n_items, 2)
        log_post -= log_post.max(axis=1, keepdims=True)
        post = np.exp(log_post)
        return self.anchor(post / post.sum(axis=1, keepdims=True))


def _workers(votes: _Votes, gold_label: NDArray[np.int8],
             confusion: NDArray[np.float64]) -> WorkerSummary:
    n_workers = votes.worker_ids.size
    vote_gold = gold_label[votes.item]                    # (n,) -1 where not gold
    on_gold = vote_gold >= 0
    correct = on_gold & (votes.answer == vote_gold)       # ASTRO==0 and RFI==NOT_ASTRO==1
    n_votes = np.bincount(votes.worker, minlength=n_workers).astype(np.int64)
    n_gold = np.bincount(votes.worker[on_gold], minlength=n_workers).astype(np.int64)
    n_correct = np.bincount(votes.worker[correct], minlength=n_workers).astype(np.int64)
    reliability = 0.5 * (confusion[:, ASTRO, ASTRO] + confusion[:, NOT_ASTRO, RFI])
    _readonly(votes.worker_ids, confusion, reliability, n_votes, n_gold, n_correct)
    return WorkerSummary(votes.worker_ids, confusion, reliability, n_votes, n_gold, n_correct)
