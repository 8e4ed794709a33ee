"""Entry script of the review app: sign-in with a volunteer token, then one of the pages
(``?page=classify|researcher|dashboard``). Every run reads the signed-in person again
(:func:`frbtriage.review.require`) and each page checks its role before drawing anything."""

from __future__ import annotations

import os

import streamlit as st
from frbtriage.ui import WORKSPACE_ENV, dashboard, researcher, volunteer

from frbtriage import review
from frbtriage.crowd.volunteers import authenticate
from frbtriage.errors import InputError
from frbtriage.workspace import Workspace

#: Pages by query-parameter name: (title, role needed, drawing function).
PAGES = {
    "classify": ("Classify", "volunteer", volunteer.render),
    "researcher": ("Researcher", "researcher", researcher.render),
    "dashboard": ("Dashboard", "researcher", dashboard.render),
}


@st.cache_resource
def open_workspace(path: str) -> Workspace:
    """One open :class:`Workspace` per folder for every session of this server."""
    return Workspace.open(path)


@st.cache_resource
def picture_cache(path: str) -> review.PictureCache:
    """One :class:`frbtriage.review.PictureCache` per workspace, shared by all sessions."""
    return review.PictureCache(open_workspace(path))


def sign_in(ws: Workspace) -> None:
    """The sign-in form; stores only the volunteer's id in the session (never the token)."""
    st.title("FRB triage: sign in")
    st.write("Paste the sign-in token you were given (`frbtriage volunteer add`).")
    with st.form("sign-in", clear_on_submit=True):
        token = st.text_input("Sign-in token", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            person = authenticate(ws, token)
        except InputError as err:
            st.error(err.problem)
            return
        st.session_state["volunteer_id"] = person.id
        st.rerun()


def _go() -> None:
    st.query_params["page"] = st.session_state["nav"]


def main() -> None:
    """Draw the app for this session."""
    st.set_page_config(page_title="FRB triage", page_icon="📡", layout="wide")
    st.markdown("<style>.block-container{padding-top:2.6rem;padding-bottom:0}"
                "img{image-rendering:pixelated}</style>", unsafe_allow_html=True)
    path = os.environ.get(WORKSPACE_ENV)
    if not path:
        st.error(f"No workspace: start the app with `frbtriage app --workspace WS` "
                 f"(or set {WORKSPACE_ENV}).")
        return
    ws = open_workspace(path)
    try:
        person = review.require(ws, st.session_state.get("volunteer_id"))
    except PermissionError:
        st.session_state.pop("volunteer_id", None)
        sign_in(ws)
        return
    page = st.query_params.get("page", "classify")
    if page not in PAGES:
        page = "classify"
    allowed = [name for name, (_, role, _) in PAGES.items() if person.has_role(role)]
    with st.sidebar:
        st.write(f"Signed in as **{person.display_name}** ({person.role})")
        if len(allowed) > 1:
            st.radio("Page", allowed, index=allowed.index(page) if page in allowed else 0,
                     format_func=lambda n: PAGES[n][0], key="nav", on_change=_go)
        if st.button("Sign out"):
            st.session_state.clear()
            st.rerun()
    title, role, draw = PAGES[page]
    try:
        person = review.require(ws, person.id, role)
    except PermissionError as err:
        st.error(f"{title}: {err}")
        return
    draw(ws, picture_cache(path), person)


main()
