"""A history per user (issue 17): logins from INFRALENS_AUTH / INFRALENS_AUTH_FILE, the History tab's handlers
scoped by the request's user, and the real app with two accounts: bob can neither list nor open nor download
alice's attempts and recordings, through the API or by a file URL."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gradio as gr
import httpx
import pytest
from support.app_server import AppServer, outside_home
from support.browser import launch
from support.fakes import JOB_ANSWER

from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.errors import CoachError
from infralens_coach.grading import KeywordGrader
from infralens_coach.history import HistoryStore, new_attempt
from infralens_coach.ui_history import HistoryView
from infralens_coach.ui_server import allowed_paths, parse_users, server_options

ALL = ("all cards", "all groups", "all time")


# ---------------------------------------------------------------- logins


def test_several_users_in_infralens_auth():
    assert parse_users("alice:pw1,bob:pw2") == [("alice", "pw1"), ("bob", "pw2")]
    assert parse_users("alice:a,b,c:d") == [("alice", "a,b"), ("c", "d")]  # a comma then no colon: the password's
    assert parse_users(None) == []
    several = server_options(Settings(auth="alice:pw1,bob:pw2"))
    assert several.auth == [("alice", "pw1"), ("bob", "pw2")]
    assert server_options(Settings(auth="alice:pw")).auth == ("alice", "pw")  # one login: the shape Gradio took


def test_a_users_file(tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("# the course's learners\nalice:pw1\n\n  bob:pw,with:colon  \n", encoding="utf-8")
    assert parse_users(None, users) == [("alice", "pw1"), ("bob", "pw,with:colon")]
    assert parse_users("carol:pw3", users)[0] == ("carol", "pw3")
    assert server_options(Settings(auth_file=users)).auth == [("alice", "pw1"), ("bob", "pw,with:colon")]
    with pytest.raises(CoachError, match="cannot read INFRALENS_AUTH_FILE"):
        parse_users(None, tmp_path / "missing.txt")


@pytest.mark.parametrize(
    "raw, message",
    [("alice:pw1,alice:pw2", "alice more than once"), ("../etc:pw", "not a usable user name"), ("a b:pw", "usable")],
)
def test_logins_that_cannot_each_have_a_history_are_refused(raw, message):
    with pytest.raises(CoachError, match=message):
        parse_users(raw)


def test_settings_read_the_user_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("INFRALENS_AUTH_FILE", str(tmp_path / "users.txt"))
    monkeypatch.setenv("INFRALENS_USER", "alice")
    settings = Settings.from_env()
    assert (settings.auth_file, settings.user) == (tmp_path / "users.txt", "alice")
    monkeypatch.setenv("INFRALENS_USER", "../bob")
    with pytest.raises(CoachError, match="not a usable user name"):
        Settings.from_env()


def test_with_accounts_no_recordings_folder_is_served(tmp_path):
    assert allowed_paths(Settings(data_dir=tmp_path)) == [str(tmp_path / "audio"), str(tmp_path / "sessions")]
    assert allowed_paths(Settings(data_dir=tmp_path, auth="alice:pw1,bob:pw2")) == []
    assert allowed_paths(Settings(data_dir=tmp_path, auth_file=tmp_path / "users.txt")) == []


# ---------------------------------------------------------------- the History tab's handlers, per request


def graded(bank, card=7, text=JOB_ANSWER, **kw):
    question = bank.get(card)
    return new_attempt(question, bank.rubric, text, grade=KeywordGrader().grade(question, bank.rubric, text).to_json(),
                       **kw)  # fmt: skip


@pytest.fixture
def two_users(tmp_path):
    """A history with accounts: alice has a card-7 attempt with a recording, bob a card-3 attempt."""
    bank = QuestionBank.load()
    recording = tmp_path / "alice.wav"
    recording.write_bytes(b"RIFF alice's answer")
    with outside_home("users") as home, HistoryStore(home / "history.db") as store:
        hers = store.for_user("alice").save(graded(bank, mode="upload"), audio=recording)
        his = store.for_user("bob").save(graded(bank, card=3, text="MLOps is the practice; infra the platform."))
        settings = Settings(data_dir=home, auth="alice:pw1,bob:pw2")
        yield HistoryView(Coach(bank, settings, grader=KeywordGrader(), store=store)), hers, his, home


def card_line(checklist: str, card: int) -> str:
    (line,) = [line for line in checklist.splitlines() if f"— {card:02d} ·" in line]
    return line


def as_user(name: str) -> gr.Request:
    return gr.Request(username=name)


def test_each_request_sees_only_its_users_history(two_users):
    view, hers, his, _home = two_users
    alice, bob = as_user("alice"), as_user("bob")
    assert list(view.table(*ALL, alice)[0]["id"]) == [hers.id]
    assert list(view.table(*ALL, bob)[0]["id"]) == [his.id]
    with pytest.raises(gr.Error, match="no attempt"):
        view.open_attempt(hers.id, bob)
    with pytest.raises(gr.Error, match="no attempt"):
        view.delete(hers.id, *ALL, bob)
    with pytest.raises(gr.Error, match="no attempt"):
        view.ask_delete(hers.id[-8:], bob)
    exported = json.loads(Path(view.export_file(*ALL, "JSON", bob)).read_text(encoding="utf-8"))
    assert [a["id"] for a in exported] == [his.id] and exported[0]["user"] == "bob"
    assert "(last" in card_line(view.checklist_md(alice), 7) and "(last" not in card_line(view.checklist_md(bob), 7)
    assert view.latest_card(bob) == his.question_id and view.latest_card(alice) == hers.question_id
    statuses = view.all_cards(bob).set_index("card")["status"]
    assert statuses[3] != "not yet" and statuses[7] == "not yet"
    assert "<circle" in view.progress_chart(hers.question_id, alice)
    assert "<circle" not in view.progress_chart(hers.question_id, bob)


def test_a_recording_reaches_its_user_as_a_private_copy_outside_the_served_folders(two_users):
    view, hers, _his, home = two_users
    _text, audio, *_ = view.open_attempt(hers.id, as_user("alice"))
    assert audio is not None and Path(audio).read_bytes() == b"RIFF alice's answer"
    assert not Path(audio).resolve().is_relative_to(home.resolve())  # not under the data dir: a scratch copy
    forged = dataclasses.replace(hers, user="bob", audio_path=hers.audio_path)
    with pytest.raises(CoachError, match="not bob's"):
        view.users.store(as_user("bob")).audio_file(forged)


def test_without_accounts_a_request_reads_the_single_users_history(two_users):
    view, *_ = two_users
    single = HistoryView(Coach(view.bank, Settings(data_dir=view.coach.settings.data_dir), store=view.coach.store))
    assert single.attempts(request=as_user("")) == [] and single.attempts() == []
    with pytest.raises(gr.Error, match="sign in first"):
        view.attempts(request=gr.Request())  # accounts on, but no user on the request: never the shared history


# ---------------------------------------------------------------- the real app with two accounts


@pytest.fixture(scope="module")
def app():
    """`python app.py` with two accounts, and a history already holding one attempt each (alice's with audio)."""
    bank = QuestionBank.load()
    with outside_home("users-api") as home:
        recording = home / "upload.wav"
        recording.write_bytes(b"RIFF alice's private answer")
        with HistoryStore(home / "history.db") as store:
            hers = store.for_user("alice").save(graded(bank, mode="upload"), audio=recording)
            his = store.for_user("bob").save(graded(bank, card=3, text="MLOps is the practice; infra the platform."))
        server = AppServer(home, {"INFRALENS_AUTH": "alice:pw1,bob:pw2"}).start()
        yield server, hers, his
        server.stop()


def client_as(app, user: str, password: str):
    from gradio_client import Client

    return Client(app[0].url, auth=(user, password), verbose=False)


@pytest.mark.slow
def test_through_the_api_bob_cannot_list_open_export_or_delete_alices_attempts(app):
    from gradio_client.exceptions import AppError

    _server, hers, his = app
    alice, bob = client_as(app, "alice", "pw1"), client_as(app, "bob", "pw2")
    table, _picker = bob.predict(*ALL, api_name="/history")
    assert [row[0] for row in table["data"]] == [his.id]
    table, _picker = alice.predict(*ALL, api_name="/history")
    assert [row[0] for row in table["data"]] == [hers.id]
    for ref in (hers.id, hers.id[-8:]):
        with pytest.raises(AppError, match="no attempt"):
            bob.predict(ref, api_name="/attempt")
    with pytest.raises(AppError, match="no attempt"):
        bob.predict(hers.id, *ALL, api_name="/delete_attempt")
    exported = json.loads(Path(bob.predict(*ALL, "JSON", api_name="/export")).read_text(encoding="utf-8"))
    assert [a["id"] for a in exported] == [his.id]
    text, audio, *_ = alice.predict(hers.id, api_name="/attempt")  # alice still has hers, with its recording
    assert JOB_ANSWER[:40] in text and Path(audio).read_bytes() == b"RIFF alice's private answer"


@pytest.mark.slow
def test_bob_cannot_download_alices_recording_by_its_file_url(app):
    server, hers, _his = app
    kept = server.home / hers.audio_path
    assert kept.is_file() and kept.parent.name == "alice"
    with httpx.Client(base_url=server.url, timeout=30) as bob:
        assert bob.post("login", data={"username": "bob", "password": "pw2"}).status_code == 200
        for url in (f"gradio_api/file={kept}", f"gradio_api/file={kept.resolve()}"):
            answer = bob.get(url)
            assert answer.status_code in (403, 404) and b"private answer" not in answer.content


@pytest.mark.slow
def test_a_graded_answer_is_kept_in_the_graders_own_history(app):
    """Grading through the page's API saves under the signed-in user: bob's list grows, alice's does not."""
    _server, hers, his = app
    alice, bob = client_as(app, "alice", "pw1"), client_as(app, "bob", "pw2")
    bob.predict("k8s-job-vs-deployment", JOB_ANSWER, api_name="/grade")
    bob_ids = [row[0] for row in bob.predict(*ALL, api_name="/history")[0]["data"]]
    alice_ids = [row[0] for row in alice.predict(*ALL, api_name="/history")[0]["data"]]
    assert len(bob_ids) == 2 and his.id in bob_ids and alice_ids == [hers.id]


@pytest.mark.slow
def test_progress_is_per_user_through_the_api(app):
    alice, bob = client_as(app, "alice", "pw1"), client_as(app, "bob", "pw2")
    mine, his = alice.predict(api_name="/checklist"), bob.predict(api_name="/checklist")
    assert "(last" in card_line(mine, 7) and "(last" not in card_line(mine, 3)  # alice answered card 7 only
    assert "(last" in card_line(his, 3)


@pytest.mark.slow
def test_in_the_page_bob_signs_in_and_sees_only_his_attempts(app):
    """Headless Chromium: Gradio's login form, then the History tab lists bob's attempt and never alice's."""
    sync_api = pytest.importorskip("playwright.sync_api")
    server, hers, his = app
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(server.url, wait_until="domcontentloaded")
            page.locator("input[type=password]").wait_for(timeout=60_000)
            page.locator("input:not([type=password])").first.fill("bob")
            page.locator("input[type=password]").fill("pw2")
            page.get_by_role("button", name="Login").click()
            page.get_by_role("tab", name="History").click()
            page.wait_for_function(
                f"() => (document.querySelector('#il-history-table')?.innerText || '').includes('{his.id}')",
                timeout=60_000,
            )
            table = page.locator("#il-history-table").inner_text()
            assert his.id in table and hers.id not in table
            assert hers.id not in page.content()  # nor anywhere else on bob's page
        finally:
            browser.close()
