"""The answer vocabulary of the volunteer workflow, and its parsing.

One question, three answers, in a fixed index order that the vote arrays use everywhere::

    ASTRO = 0      "astro"       an astrophysical burst
    RFI = 1        "rfi"         radio-frequency interference (or noise)
    CANT_TELL = 2  "cant_tell"   the volunteer cannot decide

and up to three optional tags: ``repeating``, ``overlapping``, ``something_weird``.

The *true* class of a candidate has two values only, ``ASTRO`` (0) and ``NOT_ASTRO`` (1):
``cant_tell`` is a response, never a class, so each volunteer's confusion matrix is 2 x 3.

This is the workflow of CHIME/FRB's Zooniverse project *Bursts from Space* (project 12887,
``mikewalmsley/bursts-from-space``). Its reductions, as kept by CHIME's Zooniverse database
(github.com/gord02/Zooniverse-DB, ``zoondb/backend/schema.py``), are keyed ``t0_astro``,
``t0_rfi``, ``t0_cant-answer`` (task T0, one answer) and ``t1_repeating``,
``t1_overlapping``, ``t1_something-weird``, ``t1_blank`` (task T1, any number of tags).
Those keys are the answer labels slugified by ``panoptes_aggregation``'s question extractor,
so the spellings accepted here are the slugs plus obvious variants. A Zooniverse
classification export stores each classification's ``annotations`` as a JSON list of
``{"task": "T0", "task_label": ..., "value": <label>}``, ``value`` a list of labels for a
multiple-answer task (help.zooniverse.org/next-steps/data-exports;
zooniverse/Data-digging ``docs/classification_export_field_descriptors.txt``);
:func:`parse_zooniverse_annotations` reads one such blob.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from frbtriage.errors import InputError

__all__ = [
    "ANSWERS",
    "ASTRO",
    "CANT_TELL",
    "CLASSES",
    "NOT_ASTRO",
    "N_ANSWERS",
    "N_CLASSES",
    "RFI",
    "TAGS",
    "check_answer_codes",
    "parse_answer",
    "parse_answers",
    "parse_tags",
    "parse_zooniverse_annotations",
]

ASTRO, RFI, CANT_TELL = 0, 1, 2
#: answer names by index
ANSWERS: tuple[str, ...] = ("astro", "rfi", "cant_tell")
N_ANSWERS = len(ANSWERS)
#: true classes by index (class 0 shares index and meaning with the answer ``astro``)
NOT_ASTRO = 1
CLASSES: tuple[str, ...] = ("astro", "not_astro")
N_CLASSES = len(CLASSES)
#: tag names, in the order the workflow shows them
TAGS: tuple[str, ...] = ("repeating", "overlapping", "something_weird")

# Spellings after _normalise (lower case, apostrophes dropped, other runs of non-alphanumerics
# turned into one "_"). "cant_answer" and the tag slugs are Bursts from Space's.
_ANSWER_SPELLINGS: dict[str, int] = {
    **{s: ASTRO for s in ("astro", "astrophysical", "frb", "burst", "fast_radio_burst")},
    **{s: RFI for s in ("rfi", "interference", "radio_frequency_interference",
                        "terrestrial")},
    **{s: CANT_TELL for s in ("cant_tell", "cant_answer", "cannot_tell", "not_sure",
                              "unsure", "dont_know", "unknown")},
}
_TAG_SPELLINGS: dict[str, str] = {
    "repeating": "repeating",
    "repeater": "repeating",
    "overlapping": "overlapping",
    "something_weird": "something_weird",
    "weird": "something_weird",
}
#: "no tag" answers: Bursts from Space's T1 offered "blank" for none of the tags
_NO_TAG = frozenset({"blank", "none", ""})


def _normalise(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower().replace("'", "")).strip("_")


def parse_answer(text: str, where: str | None = None) -> int:
    """The answer index (``ASTRO``, ``RFI`` or ``CANT_TELL``) of one spelling of an answer.

    Case, surrounding space, apostrophes and separators do not matter (``"Can't tell"``,
    ``"cant-answer"``, ``" RFI "``). Raises :class:`InputError` (``where``: what the answer
    came from, e.g. a file or a request) for anything else.
    """
    if not isinstance(text, str):
        raise InputError(where, f"an answer must be text, got {text!r}")
    code = _ANSWER_SPELLINGS.get(_normalise(text))
    if code is None:
        raise InputError(where, f"unknown answer {text!r}; expected one of {', '.join(ANSWERS)}")
    return code


def parse_answers(texts: Iterable[str], where: str | None = None) -> NDArray[np.int8]:
    """:func:`parse_answer` of each text, as an ``int8`` array of shape ``(n,)``."""
    return np.array([parse_answer(t, where) for t in texts], dtype=np.int8)


def parse_tags(texts: str | Iterable[str], where: str | None = None) -> tuple[str, ...]:
    """Canonical tag names, without repeats, in :data:`TAGS` order.

    ``texts`` is an iterable of spellings or one comma-separated string; ``"blank"``,
    ``"none"`` and empty entries mean no tag. Raises :class:`InputError` for an unknown tag.
    """
    items = texts.split(",") if isinstance(texts, str) else texts
    found: set[str] = set()
    for text in items:
        if not isinstance(text, str):
            raise InputError(where, f"a tag must be text, got {text!r}")
        key = _normalise(text)
        if key in _NO_TAG:
            continue
        tag = _TAG_SPELLINGS.get(key)
        if tag is None:
            raise InputError(where, f"unknown tag {text!r}; expected any of {', '.join(TAGS)}")
        found.add(tag)
    return tuple(t for t in TAGS if t in found)


def parse_zooniverse_annotations(
    annotations: str, where: str | None = None, *, answer_task: str = "T0",
    tags_task: str = "T1",
) -> tuple[int, tuple[str, ...]]:
    """The answer index and tags of one classification's ``annotations`` JSON blob.

    ``answer_task``'s ``value`` is one answer label, ``tags_task``'s a list of tag labels (or
    absent: no tags). Labels are read as by :func:`parse_answer` and :func:`parse_tags`.
    Raises :class:`InputError` for malformed JSON, a missing answer task or unknown labels.
    """
    try:
        tasks = json.loads(annotations)
    except (json.JSONDecodeError, TypeError, RecursionError) as e:
        raise InputError(where, f"annotations are not JSON: {e}") from None
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise InputError(where, "annotations must be a JSON list of task objects")
    values = {t.get("task"): t.get("value") for t in tasks if isinstance(t.get("task"), str)}
    if answer_task not in values:
        raise InputError(where, f"annotations have no task {answer_task!r}")
    tags = values.get(tags_task) or []
    if not isinstance(tags, str | list):
        raise InputError(where, f"task {tags_task!r} must hold a list of tags, got {tags!r}")
    return parse_answer(values[answer_task], where), parse_tags(tags, where)


def check_answer_codes(answer: ArrayLike, where: str | None = None) -> NDArray[np.intp]:
    """``answer`` as a 1-D ``intp`` array, after checking every code is 0, 1 or 2.

    Raises :class:`InputError` naming the first bad vote.
    """
    codes = np.asarray(answer)
    if codes.ndim != 1:
        raise InputError(where, f"answers must be a 1-D array, got shape {codes.shape}")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise InputError(where, f"answer codes must be integers, got dtype {codes.dtype}")
    bad = np.flatnonzero((codes < 0) | (codes >= N_ANSWERS))
    if bad.size:
        raise InputError(where, f"answer code {codes[bad[0]]} at vote {bad[0]} is not one of "
                                "0 (astro), 1 (rfi), 2 (cant_tell)")
    return codes.astype(np.intp)
