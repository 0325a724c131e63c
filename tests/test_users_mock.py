"""The Mock interview tab with accounts (issue 17): each signed-in user's sessions are their own.

Alice's session is not in bob's list, cannot be resumed, answered or opened (its report) by bob with its id, and
its Markdown report reaches alice as a private copy, never from the shared data directory. Without accounts the
tab keeps the single history as before. First the tab's handlers called with a gr.Request per user, then the real
app with two accounts through gradio_client and by file URL (the page itself: tests/test_browser_users_mock.py).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import httpx
import pytest
from support import clips
from support.app_server import AppServer, outside_home
from support.fakes import JOB_ANSWER

from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader
from infralens_coach.history import HistoryStore
from infralens_coach.ui_mock import MockTab

CARD_LIST = ("Card list", "explain-the-why", "7,12,13", 3, "practice")  # chooser, group, cards, count, style
ANSWERS = (JOB_ANSWER, clips.COVERAGE_ANSWERS[12], clips.COVERAGE_ANSWERS[13])
FOLLOW_UP = "Retries restart from scratch unless the code resumes from a checkpoint, which wastes compute."
# _view's outputs by position (build_mock_tab's order; the API's too, the browser copy included)
SID, QUESTION, FEEDBACK, REPORT, EXPORT, SESSIONS = 0, 2, 5, 6, 7, 10


def as_user(name: str) -> gr.Request:
    return gr.Request(username=name)


@pytest.fixture
def accounts():
    """The tab over a history with accounts (alice and bob), its data directory outside /tmp."""
    bank = QuestionBank.load()
    with outside_home("users-mock") as home, HistoryStore(home / "history.db", data_dir=home) as store:
        settings = Settings(data_dir=home, auth="alice:pw1,bob:pw2")
        tab = MockTab(Coach(bank, settings, grader=KeywordGrader(), store=store))
        yield tab, store, home
        tab.reports.remove()  # the private report copies' scratch folder


def run_session(tab: MockTab, request: gr.Request | None) -> tuple:
    """Start a 3-card practice-style session and answer every step by typing: the last view (with the report)."""
    view = tab.start(*CARD_LIST, request=request)
    for answer in ANSWERS:
        view = tab.answer_text(view[SID], answer, request=request)  # the card's question
        view = tab.answer_text(view[SID], FOLLOW_UP, request=request)  # its follow-up
    return view


def test_alices_session_is_not_bobs_to_list_resume_answer_or_open(accounts):
    tab, store, _home = accounts
    alice, bob = as_user("alice"), as_user("bob")
    view = tab.start(*CARD_LIST, request=alice)
    sid = view[SID]
    view = tab.answer_text(sid, JOB_ANSWER, request=alice)
    assert "/100" in view[FEEDBACK] and sid in view[SESSIONS]
    assert [k.id for k in store.for_user("alice").list_sessions()] == [sid]
    assert store.for_user("").list_sessions() == ()  # nothing in the account-less history

    assert sid not in tab.sessions_md(bob) and "No mock interviews yet" in tab.sessions_md(bob)
    assert sid not in tab.start(*CARD_LIST, request=bob)[SESSIONS]  # bob's own start lists only his session
    assert tab.resume(sid, bob)[SID] == ""  # the id in a shared browser's storage: bob gets the start screen
    for ref in (sid, sid[-8:]):
        with pytest.raises(gr.Error, match="no session"):
            tab.answer_text(ref, FOLLOW_UP, request=bob)
        with pytest.raises(gr.Error, match="no session"):
            tab.open_session(ref, request=bob)
    assert store.for_user("alice").get_session(sid).data["runs"][0]["follow_up_answer"] is None  # bob changed nothing
    assert tab.resume(sid, alice)[SID] == sid and tab.open_session(sid, request=alice)[SID] == sid


def test_a_finished_sessions_report_reaches_its_user_as_a_private_copy(accounts):
    tab, _store, home = accounts
    alice, bob = as_user("alice"), as_user("bob")
    view = run_session(tab, alice)
    sid = view[SID]
    assert "il-mock-done" in view[QUESTION] and "Card by card" in view[REPORT]
    export = Path(view[EXPORT]["value"])
    assert export.read_text(encoding="utf-8") == view[REPORT]
    assert not export.resolve().is_relative_to(home.resolve())  # not under the data dir: a scratch copy
    assert "Card by card" in tab.open_session(sid, request=alice)[REPORT]  # her report, again, by id
    with pytest.raises(gr.Error, match="no session"):
        tab.open_session(sid, request=bob)
    assert "complete" in tab.sessions_md(alice) and sid not in tab.sessions_md(bob)


def test_with_accounts_a_request_without_a_user_is_refused(accounts):
    tab, _store, _home = accounts
    with pytest.raises(gr.Error, match="sign in first"):
        tab.start(*CARD_LIST, request=gr.Request())
    with pytest.raises(gr.Error, match="sign in first"):
        tab.sessions_md(gr.Request())
    sid = tab.start(*CARD_LIST)[SID]  # a direct call (no request): the account-less history of before accounts
    assert sid not in tab.sessions_md()  # the page's first build, for every user: it must not list that history


def test_without_accounts_the_tab_keeps_the_single_history_as_before():
    bank = QuestionBank.load()
    with outside_home("single-mock") as home, HistoryStore(home / "history.db", data_dir=home) as store:
        tab = MockTab(Coach(bank, Settings(data_dir=home), grader=KeywordGrader(), store=store))
        view = run_session(tab, None)  # a direct call: no request
        sid = view[SID]
        kept = home / "sessions" / sid / f"mock-interview-{sid}.md"  # the report is kept beside the session
        assert Path(view[EXPORT]["value"]) == kept and kept.read_text(encoding="utf-8") == view[REPORT]
        assert sid in tab.sessions_md(gr.Request()) and sid in tab.sessions_md()
        assert tab.open_session(sid, request=gr.Request())[SID] == sid
        assert [k.id for k in store.list_sessions()] == [sid]  # the account-less history, user ""


# ---------------------------------------------------------------- the real app with two accounts


@pytest.fixture(scope="module")
def app():
    with outside_home("users-mock-api") as home:
        server = AppServer(home, {"INFRALENS_AUTH": "alice:pw1,bob:pw2"}).start()
        yield server
        server.stop()


def client_as(server: AppServer, user: str, password: str):
    from gradio_client import Client

    return Client(server.url, auth=(user, password), verbose=False)


@pytest.mark.slow
def test_through_the_api_bob_cannot_list_resume_answer_or_get_the_report_of_alices_session(app):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    alice, bob = client_as(app, "alice", "pw1"), client_as(app, "bob", "pw2")
    view = alice.predict(*CARD_LIST, api_name="/mock_start")
    sid = view[SID]
    view = alice.predict(sid, JOB_ANSWER, api_name="/mock_answer")
    assert sid in view[SESSIONS]  # her sessions table

    assert sid not in bob.predict(*CARD_LIST, api_name="/mock_start")[SESSIONS]  # bob's start: his own list only
    assert sid not in bob.predict(api_name="/mock_sessions")
    with pytest.raises(AppError, match="no session"):
        bob.predict(sid, FOLLOW_UP, api_name="/mock_answer")
    for ref in (sid, sid[-8:]):
        with pytest.raises(AppError, match="no session"):
            bob.predict(ref, api_name="/mock_open")

    # Alice answers the follow-up out loud: the recording is kept for her, and no URL serves it to bob.
    spoken = clips.speech(FOLLOW_UP)
    view = alice.predict(sid, handle_file(str(spoken)), api_name="/mock_answer_audio")
    assert "Heard:" in view[FEEDBACK]
    follow_ups = list((app.home / "sessions").glob(f"**/{sid}/card01-follow-up*"))
    assert len(follow_ups) == 1
    for answer in ANSWERS[1:]:
        view = alice.predict(sid, answer, api_name="/mock_answer")
        view = alice.predict(sid, FOLLOW_UP, api_name="/mock_answer")
    report, export = view[REPORT], view[EXPORT]["value"]  # the file, as Gradio served it to her
    assert "Card by card" in report and Path(export).read_text(encoding="utf-8").strip() == report.strip()
    assert "Card by card" in alice.predict(sid, api_name="/mock_open")[REPORT]
    with pytest.raises(AppError, match="no session"):
        bob.predict(sid, api_name="/mock_open")
    assert sid in alice.predict(api_name="/mock_sessions") and sid not in bob.predict(api_name="/mock_sessions")

    with httpx.Client(base_url=app.url, timeout=30) as by_url:
        assert by_url.post("login", data={"username": "bob", "password": "pw2"}).status_code == 200
        for kept in [*follow_ups, *(app.home / "sessions").glob(f"**/{sid}/*.md")]:
            for url in (f"gradio_api/file={kept}", f"gradio_api/file={kept.resolve()}"):
                answer = by_url.get(url)
                assert answer.status_code in (403, 404), url
