"""Mock-interview sessions in the web app's History tab, and the web app's next card agreeing with the CLI's
(issue 16): the History tab lists a user's sessions (date, cards, complete or incomplete, overall) and opens one
session's report, the same Markdown as `infralens-coach history session ID`; with accounts, nobody sees another
user's sessions. The suggested card on the Practice tab counts the "things to practise" a finished session left,
as `infralens-coach next` does.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

import gradio as gr
import pytest
import yaml
from click.testing import CliRunner
from support.app_server import AppServer, outside_home

from infralens_coach import mock, ui_history
from infralens_coach.cli import main
from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader
from infralens_coach.history import HistoryStore, new_attempt
from infralens_coach.mock_report import report_markdown, session_report
from infralens_coach.ui_history import HistoryView
from infralens_coach.ui_practice import Practice

ANSWERS = Path(__file__).parent / "answers"


def answer(card: int, kind: str = "mechanism_why") -> str:
    return yaml.safe_load((ANSWERS / f"card_{card:02d}.yaml").read_text(encoding="utf-8"))["answers"][kind]


@pytest.fixture
def home():
    """A data directory outside /tmp and outside the repo (a /tmp fixture once hid a path bug)."""
    path = Path.home() / ".cache" / f"infralens-test-{secrets.token_hex(4)}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def coach_on(bank: QuestionBank, settings: Settings, store: HistoryStore) -> Coach:
    """The real Coach with the offline grader on wording only (fast: no embedding model)."""
    return Coach(bank, settings, grader=KeywordGrader(meaning=False), store=store)


def run_session(coach: Coach, cards: tuple[int, ...], *, stop_after: int | None = None) -> mock.MockSession:
    """Typed answers: each card's mechanism-and-why answer, and a non-answer to each follow-up."""
    session = mock.MockSession.start(coach, list(cards), style="interview", selection="test")
    steps = 0
    while (step := session.next_step()) is not None and steps != stop_after:
        session.answer(answer(step.card) if step.kind == "question" else "I would have to look that up.")
        steps += 1
    return session


def practise_every_card(coach: Coach) -> None:
    """A graded attempt on every card, just now: no card is due by time, so only a session's marks make one due."""
    grader = KeywordGrader(meaning=False)
    assert coach.store is not None
    for q in coach.bank.questions:
        text = answer(q.card, "full")
        grade = grader.grade(q, coach.bank.rubric, text).to_json()
        coach.store.save(new_attempt(q, coach.bank.rubric, text, grade=grade))


def cli_json(home: Path, *args: str, user: str = "") -> object:
    result = CliRunner().invoke(main, [*args, "--json"], env={"INFRALENS_HOME": str(home), "INFRALENS_USER": user})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cli_text(home: Path, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"INFRALENS_HOME": str(home), "INFRALENS_USER": ""})
    assert result.exit_code == 0, result.output
    return result.stdout


# ---------------------------------------------------------------- the History tab's sessions, one user


def test_the_history_tab_lists_sessions_and_opens_the_clis_report(home):
    bank = QuestionBank.load()
    settings = Settings(data_dir=home, grader_meaning=False)
    with HistoryStore.open(settings) as store:
        coach = coach_on(bank, settings, store)
        done = run_session(coach, (7, 2, 12))
        left = run_session(coach, (3, 4, 5), stop_after=2)  # card 3 and its follow-up, then abandoned
        view = HistoryView(coach)

        table, picker = view.sessions()
        assert list(table.columns) == ui_history.SESSION_COLUMNS
        rows = table.to_dict("records")
        assert [r["session"] for r in rows] == [left.data.id, done.data.id]  # newest first, as the attempts
        newest, oldest = rows
        assert oldest["cards"] == "7, 2, 12" and oldest["state"] == "complete"
        assert oldest["overall"] == session_report(done.data, bank).overall and oldest["overall"] is not None
        assert newest["state"] == "incomplete" and newest["cards"] == "3, 4, 5"  # never "failed"
        assert newest["overall"] == session_report(left.data, bank).overall  # the card answered so far
        assert oldest["when (UTC)"] == done.data.created_utc[:16].replace("T", " ")
        assert [value for _label, value in picker["choices"]] == [left.data.id, done.data.id]

        report, exported = view.open_session(done.data.id[-6:])  # a unique end of the id, as in the CLI
        assert report == report_markdown(session_report(done.data, bank))
        assert report == cli_text(home, "history", "session", done.data.id)  # the CLI's report, word for word
        assert Path(exported).read_text(encoding="utf-8") == report and Path(exported).suffix == ".md"
        assert "incomplete: 1 of 3 cards answered" in view.open_session(left.data.id)[0]
        assert view.open_session("") == ("", None)
        with pytest.raises(gr.Error, match="no session"):
            view.open_session("ZZZZZZZZ")


def test_with_history_off_the_sessions_list_is_empty_and_says_why(home):
    bank = QuestionBank.load()
    view = HistoryView(Coach(bank, Settings(data_dir=home, grader_meaning=False), grader=KeywordGrader(meaning=False)))
    table, picker = view.sessions()
    assert table.empty and picker["choices"] == []
    with pytest.raises(gr.Error, match="history is off"):
        view.open_session("ABCDEFGH")


# ---------------------------------------------------------------- accounts: one user never sees another's


def as_user(name: str) -> gr.Request:
    return gr.Request(username=name)


def test_with_accounts_each_user_lists_and_opens_only_their_own_sessions(home):
    bank = QuestionBank.load()
    settings = Settings(data_dir=home, grader_meaning=False, auth="alice:pw1,bob:pw2")
    with HistoryStore.open(settings) as store:
        view = HistoryView(coach_on(bank, settings, store))
        hers = run_session(view.users.coach(as_user("alice")), (7, 2, 12))
        his = run_session(view.users.coach(as_user("bob")), (3, 4, 5), stop_after=1)

        assert list(view.sessions(as_user("alice"))[0]["session"]) == [hers.data.id]
        assert list(view.sessions(as_user("bob"))[0]["session"]) == [his.data.id]
        assert "# Mock interview" in view.open_session(hers.data.id, as_user("alice"))[0]
        for ref in (hers.data.id, hers.data.id[-6:]):
            with pytest.raises(gr.Error, match="no session"):
                view.open_session(ref, as_user("bob"))
        with pytest.raises(gr.Error, match="sign in first"):
            view.sessions(gr.Request())  # accounts on, no user on the request: never the shared history


# ---------------------------------------------------------------- the web app's next card is the CLI's


def test_the_suggested_card_counts_a_finished_sessions_marks_as_the_cli_next_does(home):
    bank = QuestionBank.load()
    settings = Settings(data_dir=home, grader_meaning=False)
    with HistoryStore.open(settings) as store:
        coach = coach_on(bank, settings, store)
        practise_every_card(coach)
        session = run_session(coach, (7, 2, 12))
        marked = mock.practice_marks(store)
        assert marked and set(marked) <= {7, 2, 12}

        ranked = cli_json(home, "next")
        assert isinstance(ranked, list) and ranked[0]["card"] in marked and ranked[0]["due"]
        practice, view = Practice(coach), HistoryView(coach)
        assert practice.suggested_id() == ranked[0]["question_id"]  # the Practice tab's card is `next`'s
        top = bank.get(ranked[0]["question_id"])
        assert f"**Practise next:** card {top.card:02d} ·" in view.checklist_md()  # and the History tab's
        assert session.data.complete


@pytest.mark.slow
def test_through_the_api_the_sessions_are_per_user_and_next_counts_the_marks():
    """`python app.py` with two accounts: /sessions and /session by api_name, and /next as the CLI's `next`."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    bank = QuestionBank.load()
    with outside_home("sessions-api") as home:
        settings = Settings(data_dir=home, grader_meaning=False)
        with HistoryStore.open(settings) as store:
            alice = coach_on(bank, settings, store.for_user("alice"))
            practise_every_card(alice)
            hers = run_session(alice, (7, 2, 12))
        expected_next = cli_json(home, "next", user="alice")
        server = AppServer(home, {"INFRALENS_AUTH": "alice:pw1,bob:pw2", "INFRALENS_GRADER_MEANING": "0"}).start()
        try:
            as_alice = Client(server.url, auth=("alice", "pw1"), verbose=False)
            as_bob = Client(server.url, auth=("bob", "pw2"), verbose=False)
            table, _picker = as_alice.predict(api_name="/sessions")
            assert [row[0] for row in table["data"]] == [hers.data.id]
            assert table["headers"] == ui_history.SESSION_COLUMNS
            report, exported = as_alice.predict(hers.data.id, api_name="/session")
            expected = report_markdown(session_report(hers.data, bank))
            assert report == expected.rstrip()  # gr.Markdown drops the final newline; the file keeps it
            assert Path(exported).read_text(encoding="utf-8") == expected
            table, _picker = as_bob.predict(api_name="/sessions")
            assert table["data"] in ([], [["", "", "", "", "", ""]], [[None] * 6])  # Gradio's empty table
            with pytest.raises(AppError, match="no session"):
                as_bob.predict(hers.data.id, api_name="/session")
            assert isinstance(expected_next, list)
            assert as_alice.predict(api_name="/next") == expected_next[0]["question_id"]
        finally:
            server.stop()
