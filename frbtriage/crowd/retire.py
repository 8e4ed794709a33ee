"""Retirement: when a candidate has had enough votes and leaves the volunteers' queue.

Zooniverse-style, a candidate retires when either

* the crowd agrees: at least ``min_votes`` decisive (astro or rfi) votes and an
  ``agreement`` (fraction on the majority side) of at least ``min_agreement``; or
* the aggregate is sure: ``max(p_astro, 1 - p_astro) >= posterior``.

``cant_tell`` votes do not count towards ``min_votes``: four "can't tell" and one "astro"
have agreement 1 but only one opinion. The posterior rule is meant for
:func:`~frbtriage.crowd.aggregate.dawid_skene` posteriors; a majority vote's ``p_astro``
is a vote fraction, 1 after a single vote.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from frbtriage.crowd.aggregate import ItemSummary
from frbtriage.errors import InputError

__all__ = ["RetirementRule", "retired"]


@dataclass(frozen=True)
class RetirementRule:
    """``min_votes`` decisive votes (>= 1) and ``min_agreement`` (0.5..1) for retirement by
    consensus; ``posterior`` (0.5..1) for retirement by a confident aggregate. Read from the
    ``[crowd]`` table of ``frbtriage.toml`` with :meth:`from_dict`."""

    min_votes: int = 5
    min_agreement: float = 0.8
    posterior: float = 0.99

    def check(self, where: str | None = None) -> None:
        """Raise :class:`InputError` for an impossible parameter."""
        if isinstance(self.min_votes, bool) or not isinstance(self.min_votes, int) \
                or self.min_votes < 1:
            raise InputError(where, f"min_votes must be an integer >= 1, got {self.min_votes!r}")
        for name in ("min_agreement", "posterior"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not (math.isfinite(value) and 0.5 <= value <= 1.0):
                raise InputError(where, f"{name} must be a number in [0.5, 1], got {value!r}")

    @classmethod
    def from_dict(cls, table: Mapping[str, object], where: str | None = None
                  ) -> RetirementRule:
        """The rule from a mapping such as a parsed TOML table; absent keys keep their
        defaults, unknown keys and bad values raise :class:`InputError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise InputError(where, f"unknown retirement setting(s) {', '.join(unknown)}; "
                                    f"known: {', '.join(sorted(known))}")
        rule = cls(**table)  # type: ignore[arg-type]  # check() validates the types
        rule.check(where)
        return rule


def retired(items: ItemSummary, rule: RetirementRule) -> NDArray[np.bool_]:
    """``(n_items,)`` True for the items of ``items`` that ``rule`` retires."""
    rule.check()
    consensus = (items.n_decisive >= rule.min_votes) & (items.agreement >= rule.min_agreement)
    confident = np.maximum(items.p_astro, 1.0 - items.p_astro) >= rule.posterior
    return consensus | confident
