"""The answer vocabulary: indices, spellings, tags, Zooniverse annotations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from frbtriage.crowd.answers import (
    ANSWERS,
    ASTRO,
    CANT_TELL,
    CLASSES,
    NOT_ASTRO,
    RFI,
    TAGS,
    check_answer_codes,
    parse_answer,
    parse_answers,
    parse_tags,
    parse_zooniverse_annotations,
)
from frbtriage.errors import InputError


def test_index_order_is_fixed():
    assert (ASTRO, RFI, CANT_TELL) == (0, 1, 2)
    assert ANSWERS == ("astro", "rfi", "cant_tell")
    assert CLASSES[ASTRO] == "astro" and CLASSES[NOT_ASTRO] == "not_astro"
    assert TAGS == ("repeating", "overlapping", "something_weird")


@pytest.mark.parametrize("text, code", [
    ("astro", ASTRO), (" Astro ", ASTRO), ("FRB", ASTRO), ("burst", ASTRO),
    ("Astrophysical", ASTRO), ("rfi", RFI), ("RFI", RFI), ("Interference", RFI),
    ("cant_tell", CANT_TELL), ("Can't tell", CANT_TELL), ("cant-answer", CANT_TELL),
    ("Not sure", CANT_TELL), ("CANT   TELL", CANT_TELL),
])
def test_parse_answer_spellings(text, code):
    assert parse_answer(text) == code


@pytest.mark.parametrize("text", ["maybe", "", "astro rfi", "0"])
def test_unknown_answer_is_an_input_error(text):
    with pytest.raises(InputError, match="unknown answer") as err:
        parse_answer(text, where="vote 12")
    assert str(err.value).startswith("vote 12: ")


def test_non_text_answer_is_an_input_error():
    with pytest.raises(InputError, match="must be text"):
        parse_answer(1)  # type: ignore[arg-type]


def test_parse_answers_is_an_array():
    got = parse_answers(["astro", "RFI", "not sure"])
    assert got.dtype == np.int8 and got.tolist() == [ASTRO, RFI, CANT_TELL]


def test_parse_tags():
    assert parse_tags(["Something weird", "repeating", "REPEATING"]) == (
        "repeating", "something_weird")
    assert parse_tags("overlapping, something-weird") == ("overlapping", "something_weird")
    assert parse_tags(["blank"]) == () and parse_tags("") == () and parse_tags([]) == ()
    with pytest.raises(InputError, match="unknown tag 'pulsar'"):
        parse_tags(["repeating", "pulsar"], where="vote 3")


def test_parse_zooniverse_annotations():
    blob = json.dumps([
        {"task": "T0", "task_label": "What is this signal?", "value": "Astro"},
        {"task": "T1", "task_label": "Anything else?", "value": ["Repeating", "Something weird"]},
    ])
    assert parse_zooniverse_annotations(blob) == (ASTRO, ("repeating", "something_weird"))
    only_answer = json.dumps([{"task": "T0", "value": "cant-answer"}])
    assert parse_zooniverse_annotations(only_answer) == (CANT_TELL, ())
    blank = json.dumps([{"task": "T0", "value": "RFI"}, {"task": "T1", "value": ["blank"]}])
    assert parse_zooniverse_annotations(blank) == (RFI, ())


@pytest.mark.parametrize("blob, problem", [
    ("not json", "not JSON"),
    ('{"task": "T0"}', "JSON list of task objects"),
    ('[{"task": "T1", "value": []}]', "no task 'T0'"),
    ('[{"task": "T0", "value": "galaxy"}]', "unknown answer 'galaxy'"),
    ('[{"task": "T0", "value": 0}]', "must be text"),
    ('[{"task": ["T0"], "value": "astro"}]', "no task 'T0'"),
    ('[{"task": "T0", "value": "astro"}, {"task": "T1", "value": 5}]', "list of tags"),
    ("[" * 100_000, "not JSON"),
])
def test_bad_zooniverse_annotations(blob, problem):
    with pytest.raises(InputError, match=problem):
        parse_zooniverse_annotations(blob, where="classifications.csv row 7")


def test_check_answer_codes():
    assert check_answer_codes(np.array([0, 1, 2], dtype=np.uint8)).dtype == np.intp
    assert check_answer_codes([]).size == 0
    with pytest.raises(InputError, match="answer code 7 at vote 2"):
        check_answer_codes([0, 1, 7])
