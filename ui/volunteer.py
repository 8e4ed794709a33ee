"""The volunteer page: one candidate at a time, three answers (buttons or keys 1, 2, 3),
optional tags, progress and level, feedback after a gold candidate, a first-visit tutorial
and a field guide of real examples."""

from __future__ import annotations

import time

import streamlit as st

from frbtriage import review
from frbtriage.crowd.answers import TAGS
from frbtriage.crowd.volunteers import Volunteer
from frbtriage.errors import InputError
from frbtriage.workspace import Workspace

#: Answer, keyboard shortcut, button type.
ANSWER_KEYS = (("astro", "1", "primary"), ("rfi", "2", "primary"), ("cant_tell", "3",
                                                                      "secondary"))
TAG_WORDS = {"repeating": "repeating", "overlapping": "overlapping",
             "something_weird": "something weird"}
#: Width (px) of the candidate picture: with the page's header it fits a 1366 x 768 laptop.
PICTURE_WIDTH = 720

TUTORIAL = """
**Welcome!** You will see candidate signals found by a radio telescope. For each, decide:

1. **Astrophysical burst**: a bright, narrow *vertical* line in the big left picture
   (all frequencies arrive together once the dispersion is removed), a sharp spike in the
   curve above it, and a bowtie (an X shape) centred in the right picture.
2. **RFI / noise**: anything else: horizontal stripes, a flash with no bowtie, or nothing.
3. **Can't tell**: when you really cannot decide; that is useful too.

Use the buttons or the keys **1**, **2**, **3**. Your first candidates are training ones:
after some of them you will see what the science team says. Open the field guide for real
examples.
"""


def _answer(ws: Workspace, volunteer_id: int, candidate_id: int, answer: str) -> None:
    """Button callback: store the vote (once), remember what to tell the volunteer."""
    state = st.session_state
    shown = state.get(f"shown-{candidate_id}")
    try:
        receipt = review.cast_vote(ws, volunteer_id, candidate_id, answer,
                                   tags=state.get(f"tags-{candidate_id}") or (),
                                   seconds=None if shown is None else time.time() - shown)
    except (InputError, PermissionError) as err:
        state["notice"] = ("error", str(err))
        return
    if receipt.stored:
        state["notice"] = ("success", review.feedback(receipt)
                           or f"Saved: {review.ANSWER_WORDS[answer]}. Thank you!")


def _field_guide(ws: Workspace, pictures: review.PictureCache) -> None:
    examples = review.field_guide(ws)
    if not examples:
        st.write("No examples with a known answer in this workspace yet.")
    for ex in examples:
        st.image(pictures.get(ex.candidate_id), width=PICTURE_WIDTH // 2, caption=ex.caption)


def _progress(prog: review.Progress) -> None:
    cols = st.columns(4)
    cols[0].metric("Today", prog.today)
    cols[1].metric("Total", prog.total)
    cols[2].metric("Streak (days)", prog.streak)
    cols[3].metric("Level", prog.level)
    if prog.level < 2:
        st.caption(f"Level 2 after {prog.to_next_level()}.")
    elif prog.accuracy is not None:
        st.caption(f"Training accuracy {prog.accuracy:.0%}: you now see the candidates our "
                   "model finds hardest.")


def render(ws: Workspace, pictures: review.PictureCache, person: Volunteer) -> None:
    """Draw the page for ``person`` (their role was checked by the caller)."""
    state = st.session_state
    rule = review.level_rule(ws)
    prog = review.progress(ws, person.id, rule)
    if prog.total == 0 and not state.get("tutorial_seen"):
        st.info(TUTORIAL)
        if st.button("Got it, show me a candidate", type="primary"):
            state["tutorial_seen"] = True
            st.rerun()
        return
    kind, text = state.pop("notice", ("", ""))
    if kind == "error":
        st.error(text)
    elif text:
        st.success(text)
    cid = review.next_for(ws, person.id, rule)
    if cid is None:
        st.info("Nothing left to classify right now: thank you! Come back later.")
        _progress(prog)
        return
    pictures.prefetch(review.next_for(ws, person.id, rule, exclude=[cid]))
    state.setdefault(f"shown-{cid}", time.time())
    rec = ws.candidate(cid)
    left, right = st.columns([5, 2])
    with left:
        st.image(pictures.get(cid), width=PICTURE_WIDTH)
        st.caption("Left: the signal with dispersion removed (frequency down, time across), "
                   "its summed pulse above and its spectrum beside it. Right: the DM-time "
                   "picture (DM 0 at the bottom, twice the candidate's DM at the top).")
    with right:
        st.markdown(f"**Candidate {cid}**: is it an astrophysical burst?")
        for answer, key, kind in ANSWER_KEYS:
            st.button(f"{review.ANSWER_WORDS[answer]}", key=f"answer-{answer}", shortcut=key,
                      type=kind, width="stretch", on_click=_answer,
                      args=(ws, person.id, cid, answer))
        st.pills("Tags (optional)", TAGS, selection_mode="multi", key=f"tags-{cid}",
                 format_func=TAG_WORDS.get)
        with st.expander("What do the numbers mean?"):
            for line in review.describe(rec):
                st.write(line)
    _progress(prog)
    if st.toggle("Field guide: real examples"):
        _field_guide(ws, pictures)
