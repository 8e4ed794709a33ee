"""The review app's pages driven by Streamlit's AppTest (no browser): sign-in, voting,
double submits, reloads, researcher filters and actions, the dashboard, and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_workspace import AppWorkspace, make_app_workspace
from frbtriage.ui import APP_SCRIPT, WORKSPACE_ENV
from streamlit.testing.v1 import AppTest

from frbtriage import review
from frbtriage.crowd.volunteers import authenticate
from frbtriage.crowd.votes import votes_of

TIMEOUT = 60


@pytest.fixture()
def app_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppWorkspace]:
    aw = make_app_workspace(tmp_path / "ws")
    monkeypatch.setenv(WORKSPACE_ENV, str(aw.ws.path))
    yield aw
    aw.ws.close()


def signed_in(aw: AppWorkspace, role: str, page: str = "classify") -> AppTest:
    """An AppTest session after signing in as ``role`` through the form."""
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    at.query_params["page"] = page
    at.run()
    at.text_input[0].input(aw.tokens[role])
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def shown_candidate(at: AppTest) -> int:
    text = next(m.value for m in at.markdown if m.value.startswith("**Candidate "))
    return int(text.split()[1].rstrip("*:"))


def skip_tutorial(at: AppTest) -> None:
    got_it = [b for b in at.button if b.label.startswith("Got it")]
    assert got_it, "first visit shows the tutorial"
    got_it[0].click().run()


def answer(at: AppTest, which: str) -> None:
    at.button(key=f"answer-{which}").click().run()
    assert not at.exception, at.exception


def test_bad_token_is_refused(app_ws: AppWorkspace) -> None:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT).run()
    at.text_input[0].input("1.not-the-secret")
    at.button[0].click().run()
    assert any("sign-in refused" in e.value for e in at.error)
    assert "volunteer_id" not in at.session_state
    assert not at.image


def test_volunteer_votes_and_gets_the_next_candidate(app_ws: AppWorkspace) -> None:
    at = signed_in(app_ws, "volunteer")
    skip_tutorial(at)
    first = shown_candidate(at)
    assert at.image, "the candidate picture is drawn"
    at.pills[0].set_value(["something_weird"]).run()
    answer(at, "astro")
    vid = authenticate(app_ws.ws, app_ws.tokens["volunteer"]).id
    votes = votes_of(app_ws.ws, volunteer_id=vid)
    assert [(v.candidate_id, v.answer, v.tags) for v in votes] == [
        (first, "astro", ("something_weird",))]
    assert votes[0].source == "app" and votes[0].seconds is not None
    second = shown_candidate(at)
    assert second != first
    assert any("science team says" in s.value or "Saved" in s.value for s in at.success)
    assert [m.value for m in at.metric][:2] == ["1", "1"]  # today, total


def test_double_submit_is_stored_once_and_reload_keeps_the_candidate(
        app_ws: AppWorkspace) -> None:
    at = signed_in(app_ws, "volunteer")
    skip_tutorial(at)
    first = shown_candidate(at)
    # two clicks on the same rendered page: the second callback carries the same candidate
    button = at.button(key="answer-rfi")
    button.click()
    button.click().run()
    assert not at.exception, at.exception
    vid = authenticate(app_ws.ws, app_ws.tokens["volunteer"]).id
    again = review.cast_vote(app_ws.ws, vid, first, "rfi")  # what a late second click does
    assert not again.stored
    assert len(votes_of(app_ws.ws, volunteer_id=vid)) == 1
    shown = shown_candidate(at)
    # a reload (a new session of the same person) serves the unanswered candidate again
    at2 = signed_in(app_ws, "volunteer")
    assert shown_candidate(at2) == shown
    assert not at2.exception


def test_volunteer_is_refused_the_researcher_and_dashboard_pages(app_ws: AppWorkspace) -> None:
    for page in ("researcher", "dashboard"):
        at = signed_in(app_ws, "volunteer", page=page)
        assert any("needs the researcher role" in e.value for e in at.error)
        assert not at.dataframe and not at.download_button


def test_researcher_filters_labels_and_downloads(app_ws: AppWorkspace) -> None:
    at = signed_in(app_ws, "researcher", page="researcher")
    assert not at.exception, at.exception
    n_all = len(at.dataframe[0].value)
    assert n_all == len(app_ws.ids)
    at.number_input(key="dm-lo").set_value(300.0).run()
    at.number_input(key="dm-hi").set_value(400.0).run()
    table = at.dataframe[0].value
    assert 0 < len(table) < n_all and table["dm"].between(300, 400).all()
    at.selectbox(key="sort").set_value("snr").run()
    snr = list(at.dataframe[0].value["snr"])
    assert snr == sorted(snr, reverse=True)
    cid = int(at.selectbox(key="detail").value)
    at.radio(key=f"expert-{cid}").set_value("not astrophysical").run()
    at.button(key="save-expert").click().run()
    assert any("labelled not astrophysical" in s.value for s in at.success)
    assert app_ws.ws.candidate(cid).truth.source == "expert"
    assert at.download_button, "CSV download offered"


def test_dashboard_shows_models_queue_and_weird(app_ws: AppWorkspace) -> None:
    vid = authenticate(app_ws.ws, app_ws.tokens["volunteer"]).id
    cid = review.next_for(app_ws.ws, vid)
    review.cast_vote(app_ws.ws, vid, cid, "cant_tell", tags=["something_weird"])
    at = signed_in(app_ws, "admin", page="dashboard")
    assert not at.exception, at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["Votes"] == "1" and int(labels["Open in the queue"]) > 0
    assert "app-test-model" in at.subheader[0].value
    weird = at.dataframe[-1].value
    assert list(weird["candidate"]) == [cid]
