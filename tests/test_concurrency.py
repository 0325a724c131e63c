"""Several learners at once: the shared parts are safe to call from the web app's worker threads, and the
queue's concurrency comes from the settings (INFRALENS_CONCURRENCY).

No wall-clock assertions: overlap is shown by what ran at the same time (bench/concurrency.py measures latency).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import pytest
import snowballstemmer
from gradio_client import Client, handle_file
from support import clips
from support.app_server import AppServer, free_port, outside_home
from support.fake_stt import FakeSTT

from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.errors import CoachError
from infralens_coach.grading import KeywordGrader
from infralens_coach.grading import text as grading_text
from infralens_coach.ui_server import concurrency_limit

SUFFIXES = ("", "s", "ly", "ness", "ing", "ed", "ational", "fulness", "ization", "ement")
CARD = "k8s-job-vs-deployment"
ROOTS = ("running", "containerize", "scheduler", "replicate", "throttle", "preempt", "checkpoint", "generalize")


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Threads switch as often as CPython allows, so a race shows up in a short test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def run_threads(n: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            work(k)
        except Exception as exc:  # collected: the assertion below names them
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    return errors


def test_stemming_from_many_threads_gives_each_word_its_own_stem(busy_switching):
    """The keyword grader stems every word; Snowball's stemmer object keeps the word being stemmed in itself."""
    wrong: list[tuple[str, str, str]] = []

    def work(k: int) -> None:
        reference = snowballstemmer.stemmer("english")  # its own: the reference must not race either
        for rep in range(60):  # fresh words each time: the stem cache must not hide the race
            for root in ROOTS:
                for suffix in SUFFIXES:
                    word = f"{root}{suffix}{'x' * (rep % 7)}{k}q{rep}"
                    got, want = grading_text.stem(word), reference.stemWord(word)
                    if got != want:
                        wrong.append((word, got, want))

    errors = run_threads(8, work)
    assert not errors, f"{len(errors)} threads failed, e.g. {errors[0]!r}"
    assert not wrong, f"{len(wrong)} wrong stems, e.g. {wrong[:3]}"


def test_keyword_grades_from_many_threads_equal_the_single_threaded_grade(busy_switching):
    bank = QuestionBank.load()
    card = bank.get(7)
    answer = (
        "A Kubernetes Job runs finite batch work until it completes and retries failed pods up to the backoff "
        "limit. A Deployment keeps a long running service alive and replaces pods that exit."
    )
    grader = KeywordGrader(meaning=False)
    expected = grader.grade(card, bank.rubric, answer).to_json()
    grading_text.stem.cache_clear()
    results: list[dict] = []
    errors = run_threads(
        6, lambda k: results.extend(grader.grade(card, bank.rubric, answer).to_json() for _ in range(3))
    )
    assert not errors, f"{len(errors)} threads failed, e.g. {errors[0]!r}"
    assert all(r == expected for r in results) and len(results) == 18


def test_the_concurrency_setting_is_checked():
    assert concurrency_limit(Settings()) == 4
    assert concurrency_limit(Settings(concurrency=16)) == 16
    with pytest.raises(CoachError, match="INFRALENS_CONCURRENCY=0"):
        concurrency_limit(Settings(concurrency=0))


def test_the_concurrency_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("INFRALENS_CONCURRENCY", "12")
    assert Settings.from_env().concurrency == 12


# ---------------------------------------------------------------- the running app


@pytest.fixture(scope="module")
def slow_stt() -> Iterator[FakeSTT]:
    with FakeSTT(delay_s=2.0) as server:
        yield server


@pytest.fixture(scope="module")
def concurrent_app(slow_stt: FakeSTT) -> Iterator[AppServer]:
    env = {"INFRALENS_STT_API_BASE": slow_stt.url, "INFRALENS_CONCURRENCY": "4"}
    with outside_home("concurrency") as home:
        server = AppServer(home, env).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.mark.slow
def test_four_learners_transcribe_at_the_same_time(concurrent_app: AppServer, slow_stt: FakeSTT):
    """Before: Gradio ran one /transcribe at a time, so the speech server never saw two requests at once."""
    clip = handle_file(str(clips.speech(clips.ANSWER)))
    texts: list[str] = []
    errors = run_threads(
        4,
        lambda k: texts.append(
            Client(concurrent_app.url, verbose=False).predict(CARD, clip, api_name="/transcribe")[0]
        ),
    )
    assert not errors, f"{errors[0]!r}"
    assert len(texts) == 4 and all(t.startswith("A Kubernetes Job runs") for t in texts)
    assert slow_stt.max_in_flight == 4


@pytest.mark.slow
def test_the_page_says_when_the_speech_server_is_down_and_whisper_transcribed_here():
    env = {"INFRALENS_STT_API_BASE": f"http://127.0.0.1:{free_port()}/v1"}
    with outside_home("stt-down") as home:
        server = AppServer(home, env).start()
        try:
            client = Client(server.url, verbose=False)
            text, metrics = client.predict(CARD, handle_file(str(clips.speech(clips.ANSWER))), api_name="/transcribe")
        finally:
            server.stop()
    assert "job" in text.lower()
    assert "Transcribed on this machine (faster-whisper" in metrics and "cannot reach the speech server" in metrics
