"""The dashboard: model versions and which is live, the queue, votes per day, volunteers'
agreement and reliability, candidates retired, and what volunteers found weird."""

from __future__ import annotations

import streamlit as st

from frbtriage import review
from frbtriage.crowd.volunteers import Volunteer
from frbtriage.workspace import Workspace


def render(ws: Workspace, pictures: review.PictureCache, person: Volunteer) -> None:
    """Draw the dashboard (role checked by the caller)."""
    d = review.dashboard(ws)
    st.title("Dashboard")
    live = next((m.version for m in d.models if m.status == "current"), "none")
    c = st.columns(4)
    c[0].metric("Open in the queue", d.queue_open)
    c[1].metric("Retired", d.retired)
    c[2].metric("Votes", sum(n for _, n in d.votes_per_day))
    c[3].metric("Mean agreement", "n/a" if d.agreement is None else f"{d.agreement:.0%}")
    st.subheader(f"Models (live: {live})")
    st.dataframe([{"version": m.version, "status": m.status, "created": m.created,
                   "parent": m.parent, **{k: v for k, v in m.metrics.items()
                                          if isinstance(v, int | float)}}
                  for m in d.models], hide_index=True)
    st.subheader("Votes per day")
    if d.votes_per_day:
        st.bar_chart({"votes": {str(day): n for day, n in d.votes_per_day}})
    st.subheader("Volunteers")
    st.dataframe(d.volunteers, hide_index=True)
    st.subheader("Something weird")
    st.dataframe([{"candidate": cid, "tagged by": n} for cid, n in d.weird], hide_index=True)
    if d.weird:
        top = d.weird[0][0]
        st.image(pictures.get(top), width=480, caption=f"candidate {top}, most tagged")
