"""Retirement of candidates from the volunteers' queue."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from frbtriage.crowd import ItemSummary, RetirementRule, majority_vote, retired
from frbtriage.errors import InputError


def _items(counts, p_astro) -> ItemSummary:
    """An ItemSummary with the agreement of ``counts`` and the given posteriors."""
    mv = majority_vote(*_votes(counts))
    return ItemSummary(mv.items, mv.counts, np.asarray(p_astro, dtype=float), mv.uncertainty,
                       mv.agreement, mv.label)


def _votes(counts):
    item, answer = [], []
    for i, row in enumerate(counts):
        for code, n in enumerate(row):
            item += [i] * n
            answer += [code] * n
    return np.array(item), np.array(answer)


def test_defaults():
    rule = RetirementRule()
    assert (rule.min_votes, rule.min_agreement, rule.posterior) == (5, 0.8, 0.99)
    rule.check()


def test_consensus_and_confidence():
    items = _items(
        [[5, 0, 0],   # 5 decisive, agreement 1          -> consensus
         [4, 1, 0],   # agreement 0.8                     -> consensus
         [3, 2, 0],   # agreement 0.6                     -> no
         [1, 0, 4],   # one decisive vote, agreement 1    -> no
         [0, 4, 0],   # too few votes                     -> no, but confident
         [6, 6, 0]],  # split                             -> no
        [0.9, 0.9, 0.5, 0.9, 0.001, 0.5])
    assert retired(items, RetirementRule()).tolist() == [True, True, False, False, True, False]
    strict = RetirementRule(min_votes=6, min_agreement=0.9, posterior=1.0)
    assert retired(items, strict).tolist() == [False] * 6


def test_from_toml_table():
    table = tomllib.loads("[crowd]\nmin_votes = 7\nposterior = 0.95\n")["crowd"]
    assert RetirementRule.from_dict(table) == RetirementRule(7, 0.8, 0.95)
    assert RetirementRule.from_dict({}) == RetirementRule()


@pytest.mark.parametrize("table, problem", [
    ({"min_vote": 5}, "unknown retirement setting"),
    ({"min_votes": 0}, "min_votes must be an integer >= 1"),
    ({"min_votes": "5"}, "min_votes must be an integer >= 1"),
    ({"min_votes": 2.5}, "min_votes must be an integer >= 1"),
    ({"min_agreement": 1.5}, "min_agreement must be a number in"),
    ({"min_agreement": True}, "min_agreement must be a number in"),
    ({"posterior": 0.3}, "posterior must be a number in"),
    ({"posterior": float("nan")}, "posterior must be a number in"),
])
def test_bad_settings_raise_input_error(table, problem):
    with pytest.raises(InputError, match=problem) as err:
        RetirementRule.from_dict(table, where="ws/frbtriage.toml [crowd]")
    assert str(err.value).startswith("ws/frbtriage.toml [crowd]: ")
