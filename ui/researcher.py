"""The researcher page: filter and sort every candidate, look at one in detail (plots, votes,
scores by model version, neighbours), give it an expert label, download a selection as CSV
or as FETCH ``.h5`` files in a zip."""

from __future__ import annotations

import streamlit as st

from frbtriage import review
from frbtriage.crowd.answers import TAGS
from frbtriage.crowd.volunteers import Volunteer
from frbtriage.errors import InputError
from frbtriage.workspace import Workspace


def _range(label: str, key: str, step: float = 1.0) -> tuple[float | None, float | None]:
    """Two optional number boxes (empty = open end)."""
    lo, hi = st.columns(2)
    return (lo.number_input(f"{label} min", value=None, step=step, key=f"{key}-lo"),
            hi.number_input(f"{label} max", value=None, step=step, key=f"{key}-hi"))


def _filters() -> review.CandidateFilter:
    with st.expander("Filter and sort", expanded=True):
        c1, c2, c3 = st.columns(3)
        with c1:
            p_lo, p_hi = st.slider("p(astro), live model", 0.0, 1.0, (0.0, 1.0), 0.01,
                                   key="p_astro")
            p_std = _range("p_std", "p_std", 0.01)
            bald = _range("BALD", "bald", 0.01)
        with c2:
            dm = _range("DM", "dm", 10.0)
            snr = _range("S/N", "snr")
            width = _range("width (samples)", "width")
        with c3:
            tcand = _range("time (s)", "tcand")
            votes = _range("votes", "votes")
            d_index = _range("dispersion index (2 = cold plasma)", "dispersion_index", 0.01)
            agree = st.slider("min. agreement", 0.0, 1.0, 0.0, 0.05, key="agreement")
        c4, c5, c6, c7 = st.columns([3, 2, 2, 1])
        file_contains = c4.text_input("file name contains", key="file")
        tags = c5.multiselect("tags", TAGS, key="tags")
        sort_by = c6.selectbox("sort by", review.SORT_COLUMNS,
                               index=review.SORT_COLUMNS.index("p_astro"), key="sort")
        descending = c7.checkbox("descending", value=True, key="desc")
    return review.CandidateFilter(
        p_astro=(None if p_lo <= 0 else p_lo, None if p_hi >= 1 else p_hi), p_std=p_std,
        bald=bald, dm=dm, snr=snr, width=width, tcand=tcand, votes=votes,
        dispersion_index=d_index, min_agreement=agree or None, file_contains=file_contains,
        tags=tuple(tags), sort_by=sort_by, descending=descending)


def _downloads(ws: Workspace, person: Volunteer, rows: list[dict[str, object]]) -> None:
    c1, c2 = st.columns(2)
    c1.download_button(f"Download {len(rows)} rows as CSV", review.selection_csv(rows),
                       file_name="candidates.csv", mime="text/csv")
    ids = [int(r["id"]) for r in rows][:review.MAX_H5_ZIP]
    if c2.button(f"Prepare FETCH .h5 zip of the first {len(ids)}"):
        try:
            st.session_state["h5zip"] = review.selection_h5_zip(ws, person.id, ids)
        except (InputError, PermissionError) as err:
            st.error(str(err))
    if "h5zip" in st.session_state:
        c2.download_button("Download the .h5 zip", st.session_state["h5zip"],
                           file_name="candidates_fetch_h5.zip", mime="application/zip")


def _detail(ws: Workspace, pictures: review.PictureCache, person: Volunteer,
            ids: list[int]) -> None:
    cid = st.selectbox("Candidate", ids, key="detail")
    if cid is None:
        return
    d = review.candidate_detail(ws, cid)
    r = d.record
    left, right = st.columns([3, 2])
    left.image(pictures.get(cid), width=640)
    with right:
        st.markdown(f"**{cid}**: `{r.file}` t = {r.tcand:.4f} s, DM {r.dm:.2f}, "
                    f"S/N {r.snr:.1f}, width {r.width} samples")
        st.markdown("**Votes**: " + ", ".join(f"{review.ANSWER_WORDS[a]} {n}"
                                               for a, n in d.votes.items())
                    + " · **tags**: " + (", ".join(f"{t} {n}" for t, n in d.tags.items())
                                         or "none"))
        st.markdown("**Labels**: " + (", ".join(f"{k} = {v:g} ({ref})"
                                               for k, (v, ref) in d.labels.items()) or "none"))
        st.markdown(f"**Sweep**: {d.dispersion.describe()}")
        st.dataframe([{"model": v, "p_astro": p, "p_std": s, "bald": b}
                      for v, (p, s, b) in d.scores.items()], hide_index=True)
        choice = st.radio("Expert label", ("astrophysical", "not astrophysical"),
                          horizontal=True, key=f"expert-{cid}")
        if st.button("Save expert label (makes it gold)", key="save-expert"):
            try:
                review.set_expert_label(ws, person.id, cid, choice == "astrophysical")
                st.success(f"Candidate {cid} labelled {choice} by {person.name}.")
            except (InputError, PermissionError, KeyError) as err:
                st.error(str(err))
    st.markdown("**Neighbours** (same file, within 1 s and 20 % in DM)")
    st.dataframe([{"id": n.id, "tcand": n.tcand, "dm": n.dm, "snr": n.snr, "width": n.width}
                  for n in d.neighbours], hide_index=True)


def render(ws: Workspace, pictures: review.PictureCache, person: Volunteer) -> None:
    """Draw the page for ``person`` (role researcher or admin, checked by the caller and
    again by every action)."""
    st.title("Candidates")
    rows = review.candidate_rows(ws, _filters())
    st.caption(f"{len(rows)} candidates shown (at most 500).")
    st.dataframe(rows, hide_index=True, height=300)
    if rows:
        _downloads(ws, person, rows)
        _detail(ws, pictures, person, [int(r["id"]) for r in rows])
