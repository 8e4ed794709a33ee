"""The crowd loop's database-free core: answers, aggregation of votes, retirement, and
simulated volunteers. The database side (volunteers, votes, the vote API) calls these."""

from frbtriage.crowd.aggregate import (
    DawidSkeneConfig,
    DawidSkeneResult,
    ItemSummary,
    WorkerSummary,
    dawid_skene,
    majority_vote,
)
from frbtriage.crowd.answers import (
    ANSWERS,
    ASTRO,
    CANT_TELL,
    NOT_ASTRO,
    RFI,
    TAGS,
    parse_answer,
    parse_answers,
    parse_tags,
    parse_zooniverse_annotations,
)
from frbtriage.crowd.retire import RetirementRule, retired

__all__ = [
    "ANSWERS",
    "ASTRO",
    "CANT_TELL",
    "NOT_ASTRO",
    "RFI",
    "TAGS",
    "DawidSkeneConfig",
    "DawidSkeneResult",
    "ItemSummary",
    "RetirementRule",
    "WorkerSummary",
    "dawid_skene",
    "majority_vote",
    "parse_answer",
    "parse_answers",
    "parse_tags",
    "parse_zooniverse_annotations",
    "retired",
]
