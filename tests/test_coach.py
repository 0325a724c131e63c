"""The Coach is the pipeline every front end calls: transcribe (typed), grade, keep, with one failure policy.

Real components: the bundled Whisper tiny.en on espeak-ng speech, the keyword grader, a real SQLite history in a
data directory outside /tmp; a grader that cannot be reached is a fake implementing the Grader protocol.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from support import clips
from support.app_server import outside_home
from support.fakes import JOB_ANSWER, FailingGrader

from infralens_coach.coach import Coach, Graded, SpokenAnswer
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.delivery import TARGET_PRESETS, DeliveryMetrics
from infralens_coach.errors import GraderUnavailable, HistoryError
from infralens_coach.grading import KeywordGrader
from infralens_coach.grading.base import Grade
from infralens_coach.history import HistoryStore
from infralens_coach.transcribe import Transcript

SRC = Path(__file__).resolve().parents[1] / "src" / "infralens_coach"


@pytest.fixture(scope="module")
def bank() -> QuestionBank:
    return QuestionBank.load(())


@pytest.fixture
def store():
    with outside_home("coach") as home, HistoryStore(home / "history.db") as opened:
        yield opened


@pytest.fixture(scope="module")
def spoken(bank) -> SpokenAnswer:
    """Card 7 answered out loud (~15 s), transcribed once for the module, delivery against a 1–2 s band."""
    coach = Coach(bank, Settings(target_seconds=(1.0, 2.0)), grader=KeywordGrader())
    return coach.transcribe(bank.get(7), clips.speech(clips.ANSWER))


@pytest.mark.slow
def test_transcribe_gives_a_typed_transcript_and_typed_delivery_metrics(spoken):
    assert isinstance(spoken.transcript, Transcript) and isinstance(spoken.metrics, DeliveryMetrics)
    assert spoken.text == spoken.transcript.text and "deployment" in spoken.text.lower()
    assert spoken.transcribe_s > 0 and spoken.metrics.word_count > 20
    # No target given: the settings' band (INFRALENS_TARGET_SECONDS) judges the length.
    assert any(n.startswith("Long:") and "against 1–2 s" in n for n in spoken.metrics.notes), spoken.metrics.notes


@pytest.mark.slow
def test_measure_judges_the_same_transcript_against_another_target(bank, spoken):
    coach = Coach(bank, Settings(), grader=KeywordGrader())
    short = coach.measure(spoken, TARGET_PRESETS["short"])
    assert short.transcript is spoken.transcript and short.transcribe_s == spoken.transcribe_s
    assert any("against 20–45 s" in n for n in short.metrics.notes), short.metrics.notes


@pytest.mark.slow
def test_submit_grades_and_keeps_what_was_heard(bank, spoken, store):
    coach = Coach(bank, Settings(), grader=KeywordGrader(), store=store)
    graded = coach.submit(bank.get(7), spoken.text, mode="upload", spoken=spoken, audio=clips.speech(clips.ANSWER))
    assert isinstance(graded, Graded) and isinstance(graded.grade, Grade) and graded.grade.overall > 0
    kept = store.get(graded.attempt.id)
    assert kept == graded.attempt and kept.grade == graded.grade.to_json() and kept.mode == "upload"
    # The JSON shapes the history has always stored: converted at the edge, from the typed values.
    assert kept.metrics == spoken.metrics.to_dict() and kept.segments == spoken.transcript.to_dict()["segments"]
    assert (kept.engine, kept.transcribe_s, kept.transcript_raw) == ("faster-whisper", spoken.transcribe_s, spoken.text)
    assert kept.audio_path and store.audio_file(kept).is_file()


def test_a_grader_failure_keeps_the_attempt_ungraded_and_regrade_grades_it_later(bank, store):
    question = bank.get(7)
    failing = Coach(bank, Settings(), grader=FailingGrader(), store=store)
    with pytest.raises(GraderUnavailable, match="saved as ungraded attempt") as caught:
        failing.submit(question, JOB_ANSWER)
    (attempt,) = store.list()
    assert attempt.id in str(caught.value) and f"history regrade {attempt.id}" in str(caught.value)
    assert attempt.state == "ungraded" and "refused the connection" in attempt.ungraded_reason

    with pytest.raises(GraderUnavailable) as again:  # still failing: the reason is kept, the error raised as it is
        failing.regrade(attempt.id[-6:])
    assert str(again.value) == FailingGrader().reason and store.get(attempt.id).state == "ungraded"

    regraded = Coach(bank, Settings(), grader=KeywordGrader(), store=store).regrade(attempt.id)
    assert regraded.attempt.state == "graded" and regraded.attempt.grade == regraded.grade.to_json()
    assert regraded.attempt == store.get(attempt.id) and regraded.attempt.question_version == question.version(
        bank.rubric
    )
    with pytest.raises(GraderUnavailable):  # a failing regrade never erases a grade
        failing.regrade(attempt.id)
    assert store.get(attempt.id).grade == regraded.attempt.grade


def test_without_a_store_nothing_is_kept_and_a_failure_is_raised_as_it_is(bank):
    graded = Coach(bank, Settings(), grader=KeywordGrader()).submit(bank.get(7), JOB_ANSWER)
    assert graded.attempt is None and graded.grade.overall > 0
    with pytest.raises(GraderUnavailable) as caught:
        Coach(bank, Settings(), grader=FailingGrader()).submit(bank.get(7), JOB_ANSWER)
    assert str(caught.value) == FailingGrader().reason
    with pytest.raises(HistoryError, match="history is off"):
        Coach(bank, Settings(), grader=KeywordGrader()).regrade("01ABCDEF")


def test_regrading_an_attempt_whose_card_is_gone_says_so(bank, store):
    kept = Coach(bank, Settings(), grader=KeywordGrader(), store=store).submit(bank.get(7), JOB_ANSWER).attempt
    smaller = dataclasses.replace(bank, questions=tuple(q for q in bank.questions if q.card != 7))
    with pytest.raises(HistoryError, match=f"card 'k8s-job-vs-deployment' of attempt {kept.id} is not in the"):
        Coach(smaller, Settings(), grader=KeywordGrader(), store=store).regrade(kept.id)


def test_the_coach_opens_what_the_settings_name(tmp_path):
    with outside_home("coach-settings") as home:
        coach = Coach.from_settings(Settings(data_dir=home, question_dirs=()))
        try:
            assert coach.store is not None and coach.store.path == home / "history.db"
            assert len(coach.bank.questions) == 20 and coach.grader.name == "keyword"
        finally:
            coach.store.close()
        assert Coach.from_settings(Settings(data_dir=home), keep=False).store is None


def _calls(function: ast.FunctionDef) -> list[str]:
    return [ast.unparse(n.func) for n in ast.walk(function) if isinstance(n, ast.Call)]


def _function(module: str, name: str) -> ast.FunctionDef:
    tree = ast.parse((SRC / module).read_text(encoding="utf-8"))
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


@pytest.mark.parametrize("module, function", [
    ("cli.py", "grade"), ("cli.py", "practice"), ("ui_practice.py", "transcribe"), ("ui_practice.py", "grade"),
])  # fmt: skip
def test_the_cli_and_the_web_app_go_through_the_same_coach_methods(module, function):
    """`grade --audio`, `practice --record` and the web app: Coach.transcribe (or Coach.start_live, which
    transcribes while the user speaks) then Coach.submit, one Coach each."""
    calls = _calls(_function(module, function))
    transcribes = ("coach.transcribe", "coach.start_live")
    steps = transcribes if function == "transcribe" else ("coach.submit",)
    assert any(c.endswith(steps) for c in calls), sorted(calls)
    if module == "cli.py":
        assert any(c.endswith(transcribes) for c in calls) and any(c.endswith("coach.submit") for c in calls)
        assert sum(c in ("Coach", "coach_from") for c in calls) == 1, sorted(calls)  # no throw-away Coach
