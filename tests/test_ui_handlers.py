"""The web app's handlers called directly (issue 10): real Whisper on real speech, a real SQLite history in a data
directory outside /tmp, and a progress callable that records what the page would show."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import wave
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from support import clips
from support.app_server import outside_home

from infralens_coach import render_html
from infralens_coach.coach import Coach, SpokenAnswer
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.delivery import delivery_metrics
from infralens_coach.errors import NoSpeechError
from infralens_coach.grading import KeywordGrader
from infralens_coach.history import HistoryStore
from infralens_coach.transcribe import Segment, Transcript, Word
from infralens_coach.transcribe.live import LiveView
from infralens_coach.ui_history import HistoryView, attempt_label
from infralens_coach.ui_live import LATE_S, STALL_S, WARM_CHARS, LiveMic, LiveSessions, live_html, read_chunk
from infralens_coach.ui_practice import Eta, Practice, is_edit_of, request_port

CARD = "k8s-job-vs-deployment"


class ProgressRecorder:
    """Stands in for gr.Progress: records (fraction, description) as the page would show them."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction: float, desc: str | None = None, **_: object) -> None:
        self.calls.append((fraction, desc or ""))


@pytest.fixture(scope="module")
def coach():
    with outside_home("ui-handlers") as home, HistoryStore(home / "history.db") as store:
        yield Coach(QuestionBank.load(), settings=Settings(), store=store)


@pytest.fixture(scope="module")
def spoken_30s(coach):
    """A ~30 s spoken answer transcribed under the full (2 min) target, with what the progress bar showed."""
    clip, _ = clips.long_answer(28.0)
    bar = ProgressRecorder()
    out = Practice(coach).transcribe(CARD, str(clip), "voice", "Full (2 min)", None, False, bar)
    return out, bar


@pytest.mark.slow
def test_transcription_reports_real_progress_and_time_left(spoken_30s):
    """Item 6: audio seconds done of the total, rising to the end, with an estimate of the time left."""
    _, bar = spoken_30s
    fractions = [f for f, _ in bar.calls]
    assert len(bar.calls) >= 3 and fractions == sorted(fractions) and fractions[-1] > 0.9
    seconds = [re.search(r"(\d+) of (\d+) s of audio", d) for _, d in bar.calls[1:]]
    assert all(seconds) and {int(m[2]) for m in seconds} == {round(int(seconds[-1][2]))}
    assert any(re.search(r"about \d+ s left|almost done", d) for _, d in bar.calls[1:])


def test_eta_estimates_from_the_decoding_rate():
    now = [100.0]
    eta = Eta(clock=lambda: now[0])
    assert eta.note(0.0, 60.0) == (0.0, "Transcribing on this machine: 0 of 60 s of audio, estimating the time left…")
    now[0] = 110.0
    fraction, text = eta.note(20.0, 60.0)  # 20 s of audio in 10 s: 40 s of audio left is about 20 s
    assert fraction == pytest.approx(1 / 3) and text.endswith("20 of 60 s of audio, about 20 s left")
    now[0] = 129.9
    assert eta.note(60.0, 60.0) == (1.0, "Transcribing on this machine: 60 of 60 s of audio, almost done")


@pytest.mark.slow
def test_the_target_drives_the_delivery_note_and_a_switch_remeasures_it(coach, spoken_30s):
    """Item 7: ~30 s is short against the full target; switching to Short re-measures the same transcript, and
    the attempt keeps the metrics that were shown."""
    (text, metrics, heard, pending), _ = spoken_30s
    assert re.search(r"Short: \d\d s against 60–120 s", metrics) and not pending
    page, short_metrics, heard_short = Practice(coach).change_target(CARD, "Short (30 s)", text, heard)
    assert "20–45 seconds" in page and "60–120" not in short_metrics and "Short:" not in short_metrics
    assert heard_short.result.metrics.notes != heard.result.metrics.notes
    attempt_id = Practice(coach).grade(CARD, text, heard_short)[4].split("`")[1]
    assert coach.store.get(attempt_id).metrics["notes"] == heard_short.result.metrics.to_dict()["notes"]


@pytest.mark.slow
def test_a_voice_answer_stays_voice_when_edited_and_shares_one_copy_of_its_recording(coach, spoken_30s):
    """Item 9 through the handlers: edited transcript → voice, the same copy of the recording each time;
    a new typed answer → text with no recording."""
    (text, _, heard, _), _ = spoken_30s
    practice = Practice(coach)
    first = practice.grade(CARD, text + " A common mistake is running a batch task as a Deployment.", heard)
    heard = first[5]
    second = practice.grade(CARD, text.replace("Job", "job"), heard)
    typed = practice.grade(CARD, "Jobs finish; Deployments keep replicas of an API up with rolling updates.", second[5])
    a, b, c = (coach.store.get(out[4].split("`")[1]) for out in (first, second, typed))
    assert (a.mode, b.mode, c.mode) == ("voice", "voice", "text")
    assert a.audio_path == b.audio_path and heard.kept and heard.kept.endswith(a.audio_path.split("/")[-1])
    assert c.audio_path is None and c.metrics is None


@pytest.mark.parametrize(
    "answer, edited",
    [
        ("A Job runs batch work until it completes.", True),  # as heard
        ("A Job runs batch work until it completes, then stops. Use a CronJob on a schedule.", True),  # added to
        ("A Kubernetes Job runs batch work until it finishes.", True),  # jargon corrected
        ("Deployments keep replicas of an inference API up with rolling updates.", False),  # a new, typed answer
        ("", False),
    ],
)
def test_an_edit_of_the_transcript_is_told_from_a_new_answer(answer, edited):
    assert is_edit_of(answer, "A Job runs batch work until it completes.") is edited


def test_a_new_question_keeps_the_answer_and_says_whose_feedback_it_is(coach):
    """Item 4: the note names the card the feedback belongs to; nothing is cleared."""
    page, note = Practice(coach).show_question("k8s-requests-and-limits", "Full (2 min)", CARD, "my answer")
    assert "requests and limits" in page and "card 07" in note and "previous question" in note
    assert "kept" in note
    assert Practice(coach).show_question(CARD, "Full (2 min)", CARD, "my answer")[1] == ""


def test_advice_names_the_port_the_page_was_opened_on():
    assert request_port(gr.Request(headers={"host": "127.0.0.1:8123"}), 7860) == 8123
    assert request_port(gr.Request(headers={"host": "[::1]:9000"}), 7860) == 9000
    assert request_port(gr.Request(headers={"host": "coach.example"}), 7861) == 7861
    assert request_port(None, 7862) == 7862


def test_one_attempt_draws_a_point_and_attempts_are_whole_numbers():
    """Item 16."""
    one = render_html.progress_svg({"Mechanism": [3], "Tradeoffs": [1]})
    assert one.count("<circle") == 2 and re.findall(r'class="il-tick"[^>]*>([^<]*)<', one) == ["1"]
    three = render_html.progress_svg({"Mechanism": [1, 2, 4]})
    assert re.findall(r'class="il-tick"[^>]*>([^<]*)<', three) == ["1", "2", "3"]
    assert three.count("<circle") == 3 and "<polyline" in three
    assert "No graded attempt" in render_html.progress_svg({})


def test_history_lists_every_card_and_says_why_the_checklist_has_eight(coach):
    """Items 17 and 18: all cards with a status; the picker labels name card, date and score."""
    Practice(coach).grade(CARD, "A Job runs until it completes; a Deployment keeps an API up.", None)
    history = HistoryView(coach)
    cards = history.all_cards()
    assert len(cards) == len(coach.bank.questions) == 20 and list(cards["card"]) == list(range(1, 21))
    assert "Why eight" in history.checklist_md() and "20 in all" in history.checklist_md()
    table, picker = history.table("all cards", "all groups", "all time")
    latest = coach.store.get(table.iloc[0]["id"])
    assert picker["choices"][0] == (attempt_label(latest), latest.id)
    assert re.fullmatch(r"card 07 · \d{4}-\d\d-\d\d \d\d:\d\d UTC · (\d+/100|ungraded) · \w+", attempt_label(latest))
    assert "<circle" in history.progress_chart(CARD)


@pytest.mark.slow
def test_delete_asks_first_and_a_shared_recording_goes_with_its_last_attempt(coach, spoken_30s):
    """Item 19 (and 9): "Delete…" only asks; deleting one of two attempts on one recording keeps the copy."""
    (text, _, heard, _), _ = spoken_30s
    practice, history = Practice(coach), HistoryView(coach)
    first = practice.grade(CARD, text, heard)
    second = practice.grade(CARD, text, first[5])
    ids = [out[4].split("`")[1] for out in (first, second)]
    copy = coach.store.audio_file(coach.store.get(ids[0]))
    with pytest.raises(gr.Error, match="open an attempt first"):
        history.ask_delete(None)
    box, question = history.ask_delete(ids[0])
    assert box["visible"] and "cannot be undone" in question and "and its recording" in question
    assert coach.store.get(ids[0])  # asking deleted nothing
    history.delete(ids[0], "all cards", "all groups", "all time")
    assert copy.exists()
    table, picker, *_, status = history.delete(ids[1], "all cards", "all groups", "all time")
    assert not copy.exists() and ids[1] not in set(table["id"]) and "Deleted" in status
    assert picker["value"] is None


def test_the_page_load_and_settings_handlers_run_without_a_browser(coach):
    """Issue 11: what build_demo once computed in closures are handlers on small objects, called directly."""
    from infralens_coach.ui_settings import SettingsView, settings_md

    practice = Practice(coach)
    cards = practice.questions()
    assert len(cards) == 20 and cards[6] == {
        "id": CARD,
        "card": 7,
        "question": coach.question(7).question,
        "group": coach.question(7).group,
    }
    suggested = practice.suggested_id()
    assert suggested in {c["id"] for c in cards}
    assert coach.question(suggested).question in practice.suggested_question_html()
    shown = SettingsView(coach, None).markdown()
    assert f"**Data directory:** `{coach.settings.data_dir}`\n" in shown and "loads on the first recording" in shown
    without_history = Coach(coach.bank, Settings(data_dir=coach.settings.data_dir), grader=coach.grader)
    assert "(history is off)" in settings_md(without_history, "ready: tiny.en")


# ---------------------------------------------------------------- issue 14: the live microphone (ui_live)


class FakeLiveAnswer:
    """A live answer (the protocol ui_live needs of coach.LiveAnswer): what it was fed, heard as one word per
    0.5 s chunk; finish() counts its calls and can fail like silence does."""

    def __init__(self, question, fail: Exception | None = None) -> None:
        self.question, self.fail = question, fail
        self.chunks: list[np.ndarray] = []
        self.finished = self.cancelled = 0

    def feed(self, samples, sample_rate):
        self.chunks.append(np.asarray(samples, np.float32).reshape(-1) / 32768 if sample_rate else samples)

    def heard_s(self) -> float:
        return sum(len(c) for c in self.chunks) / 48_000

    def view(self) -> LiveView:
        settled = " ".join(f"word{i}" for i in range(len(self.chunks) - 1))
        tail = f"word{len(self.chunks) - 1}" if self.chunks else ""
        return LiveView(settled, tail, self.heard_s(), max(0.0, self.heard_s() - 0.5), 0.5, None)

    def audio(self) -> np.ndarray:
        whole = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        return whole[::3]  # 48 kHz -> 16 kHz

    def finish(self, *, targets=None) -> SpokenAnswer:
        self.finished += 1
        if self.fail is not None:
            raise self.fail
        words = tuple(Word(f"word{i}", i * 0.5, i * 0.5 + 0.4, 0.9) for i in range(len(self.chunks)))
        text = " ".join(w.text for w in words)
        transcript = Transcript(text, (Segment(text, 0.0, self.heard_s(), words),), self.heard_s(), self.heard_s(),
                                "fake-engine", "fake-model")  # fmt: skip
        return SpokenAnswer(transcript, delivery_metrics(transcript, targets), 0.0)

    def cancel(self) -> None:
        self.cancelled += 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def streamed_chunk(folder, n: int, seconds: float = 0.5, rate: int = 48_000):
    """A chunk as Gradio's streaming recorder writes it: a 44-byte WAV header with stale sizes, then 16-bit PCM."""
    pcm = (np.sin(np.arange(int(seconds * rate)) / 7) * 8000).astype("<i2").tobytes()
    header = b"RIFF\xf7\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00" + rate.to_bytes(4, "little")
    header += (rate * 2).to_bytes(4, "little") + b"\x02\x00\x10\x00data\xd3\xff\xff\xff"
    path = folder / f"chunk-{n}.wav"
    path.write_bytes(header + pcm)
    return str(path)


@pytest.fixture()
def live(coach):
    """LiveMic over fake live answers, a fake clock, and a folder outside /tmp; (handlers, answers made, folder)."""
    with outside_home("ui-live") as home:
        made: list[FakeLiveAnswer] = []
        fails: list[Exception] = []

        def start(question):
            made.append(FakeLiveAnswer(question, fails.pop() if fails else None))
            return made[-1]

        clock = Clock()
        mic = LiveMic(Practice(coach), LiveSessions(start, clock=clock), folder=home / "live")
        mic.clock, mic.fails = clock, fails  # type: ignore[attr-defined]
        yield mic, made, home


def tab(name: str) -> gr.Request:
    return gr.Request(session_hash=name)


def last(generator):
    return list(generator)[-1]


def test_two_tabs_stream_to_their_own_live_answers_and_stop_finishes_each_once(live):
    """Issue 14: chunks reach the tab's own live answer; the box shows settled text and the tail marked as such;
    Stop fills the transcript and keeps the whole recording as a WAV; the button afterwards finishes nothing again."""
    mic, made, home = live
    box, timer, model = mic.started(CARD, tab("a"))
    assert 'data-state="recording"' in box and timer.active and "Speech model" in model
    for n in range(3):
        box = mic.chunk(streamed_chunk(home, n), CARD, tab("a"))
        mic.clock.now += 0.5
    mic.chunk(streamed_chunk(home, 9), "k8s-requests-and-limits", tab("b"))  # before tab b's start event
    mic.started("k8s-requests-and-limits", tab("b"))  # ... which keeps the recording the chunk began
    assert len(made) == 2 and [len(a.chunks) for a in made] == [3, 1]
    assert "word0 word1" in box and '<span class="il-tail">word2 …</span>' in box and "2 s heard" in box

    text, metrics, heard, box, timer = last(mic.stopped(CARD, "Full (2 min)", None, tab("a")))
    assert text == "word0 word1 word2" and "Delivery" in metrics and not timer.active
    assert 'data-state="done"' in box and "fake-engine fake-model" in box and "il-tail" not in box
    assert heard.mode == "voice" and heard.question_id == CARD
    with wave.open(heard.path) as w:  # the whole recording, 16 kHz
        assert w.getframerate() == 16_000 and w.getnframes() == 3 * 8000
    again = last(mic.transcribe(CARD, "Full (2 min)", heard, tab("a")))
    assert again[0] == text and made[0].finished == 1

    b_text, *_ = last(mic.stopped("k8s-requests-and-limits", "Full (2 min)", None, tab("b")))
    assert b_text == "word0" and made[1].finished == 1 and made[0].cancelled == made[1].cancelled == 0


def test_the_offline_grade_follows_stop_once_and_grade_pressed_at_once_waits_for_the_transcript(live):
    """Grading starts by itself after Stop (offline grader), and not a second time when Grade was pressed first;
    Grade pressed before the transcript reached the box grades the live transcript, with its recording."""
    mic, made, home = live
    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 0, seconds=2.0), CARD, tab("a"))
    mic.sessions.stop("a")
    feedback, *_, saved, heard, graded_for = mic.grade(CARD, "", None, tab("a"))  # the box is still empty
    attempt = mic.practice.coach.store.get(saved.split("`")[1])
    assert attempt.mode == "voice" and attempt.audio_path and attempt.transcript == "word0"
    assert all(out == gr.skip() for out in mic.auto_grade(CARD, "word0", heard, tab("a")))

    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 1, seconds=2.0), CARD, tab("a"))
    text, _, heard, _, _ = last(mic.stopped(CARD, "Full (2 min)", None, tab("a")))
    feedback, *_, saved, heard, graded_for = mic.auto_grade(CARD, text, heard, tab("a"))
    assert "il-overall" in feedback and graded_for == CARD and made[-1].finished == 1
    assert mic.practice.coach.store.get(saved.split("`")[1]).audio_path


def test_the_automatic_grade_is_for_the_recorded_question_when_the_card_changed_after_stop(live):
    """A person picks the next card right after Stop, before the automatic grade's event reads the picker: the
    answer is graded and kept for the card it was recorded for, and the note says whose feedback it is."""
    mic, made, home = live
    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 0, seconds=2.0), CARD, tab("a"))
    text, _, heard, _, _ = last(mic.stopped(CARD, "Full (2 min)", None, tab("a")))
    feedback, *_, saved, heard, graded_for = mic.auto_grade("k8s-requests-and-limits", text, heard, tab("a"))
    assert graded_for == CARD and mic.practice.coach.store.get(saved.split("`")[1]).question_id == CARD
    note = mic.practice.switch_note_for("k8s-requests-and-limits", graded_for, text)
    assert "previous question" in note


def test_grade_that_reaches_the_server_just_before_the_stop_event_waits_for_it(live):
    """Stop then Grade at once: the page sends Grade right after the Stop, and the two events race to the server.
    Grade, with nothing in the box, waits for the Stop and grades the live transcript; the automatic grade after
    Stop does not grade it a second time."""
    mic, made, home = live
    before = len(mic.practice.coach.store.list())
    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 0, seconds=2.0), CARD, tab("a"))
    stopped: list = []
    stop = threading.Thread(target=lambda: stopped.append(last(mic.stopped(CARD, "Full (2 min)", None, tab("a")))))
    threading.Timer(0.2, stop.start).start()  # Stop's event arrives after Grade's
    feedback, *_, saved, heard, graded_for = mic.grade(CARD, "", None, tab("a"))
    stop.join(timeout=30)
    assert "il-overall" in feedback and graded_for == CARD
    attempt = mic.practice.coach.store.get(saved.split("`")[1])
    assert attempt.mode == "voice" and attempt.audio_path and attempt.transcript == "word0"
    ((text, _, heard, _, _),) = stopped
    assert text == "word0" and made[-1].finished == 1
    assert all(out == gr.skip() for out in mic.auto_grade(CARD, text, heard, tab("a")))
    assert len(mic.practice.coach.store.list()) == before + 1


def test_grade_during_a_recording_with_no_stop_coming_asks_for_an_answer_and_keeps_recording(live):
    mic, made, home = live
    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 0, seconds=2.0), CARD, tab("a"))
    with pytest.raises(gr.Error, match="the answer is empty"):
        mic.grade(CARD, "", None, tab("a"))
    rec = mic.sessions.current("a")
    assert rec.stopped is None and not rec.closed and made[-1].finished == 0  # still recording


class LabelledGrader:
    """The configured grader (an LLM, say): the keyword grade under another name (the Grader protocol)."""

    name = "llm:fake/model"

    def grade(self, question, rubric, answer):
        return dataclasses.replace(KeywordGrader().grade(question, rubric, answer), decided_by=self.name)


def test_grade_after_the_automatic_grade_regrades_that_attempt_instead_of_keeping_the_answer_twice():
    """Before: with an LLM configured, the offline grade after Stop and Grade pressed on the same transcript kept
    two attempts of one answer. Now Grade replaces the offline grade; an edited answer is a new attempt."""
    with outside_home("ui-live-regrade") as home, HistoryStore(home / "history.db") as store:
        coach = Coach(QuestionBank.load(), Settings(llm_model="fake/model"), grader=LabelledGrader(), store=store)
        mic = LiveMic(Practice(coach), LiveSessions(lambda q: FakeLiveAnswer(q), clock=Clock()), folder=home / "l")
        mic.started(CARD, tab("a"))
        mic.chunk(streamed_chunk(home, 0, seconds=2.0), CARD, tab("a"))
        text, _, heard, _, _ = last(mic.stopped(CARD, "Full (2 min)", None, tab("a")))
        *_, heard, _ = mic.auto_grade(CARD, text, heard, tab("a"))
        assert [a.decided_by for a in store.list()] == ["keyword"]

        *_, saved, heard, _ = mic.grade(CARD, text, heard, tab("a"))
        (kept,) = store.list()
        assert kept.decided_by == "llm:fake/model" and kept.id in saved and kept.audio_path

        mic.grade(CARD, text + " And it retries failed pods.", heard, tab("a"))  # an edit: a new answer
        assert [a.decided_by for a in store.list()] == ["llm:fake/model"] * 2


class AskedGrader:
    """A grader (the Grader protocol) that keeps what it was asked to grade: the keyword grade, under its name."""

    def __init__(self, name: str) -> None:
        self.name, self.answers = name, []

    def grade(self, question, rubric, answer):
        self.answers.append(answer)
        return dataclasses.replace(KeywordGrader().grade(question, rubric, answer), decided_by=self.name)


def test_the_offline_grader_warms_up_on_what_is_settled_while_the_person_speaks():
    """While the answer streams, the offline grader grades the settled text in the background and keeps nothing
    (its sentence vectors stay cached for the grade after Stop); the configured LLM never sees a partial answer."""
    with outside_home("ui-live-warm") as home, HistoryStore(home / "history.db") as store:
        llm, offline = AskedGrader("llm:fake/model"), AskedGrader("keyword")
        coach = Coach(QuestionBank.load(), Settings(llm_model="fake/model"), grader=llm, store=store)
        sessions = LiveSessions(lambda q: FakeLiveAnswer(q), clock=Clock())
        mic = LiveMic(Practice(coach, offline=offline), sessions, folder=home / "l")
        mic.started(CARD, tab("a"))
        for n in range(60):  # "word0 word1 ...": past WARM_CHARS of settled text
            mic.chunk(streamed_chunk(home, n, seconds=0.1), CARD, tab("a"))
        deadline = time.monotonic() + 30
        while not offline.answers or sessions.current("a").warming:
            assert time.monotonic() < deadline, "the grader was never warmed"
            time.sleep(0.05)
        warmed = offline.answers[0]
        assert len(warmed) >= WARM_CHARS and warmed.startswith("word0 word1") and len(offline.answers) <= 3
        assert llm.answers == [] and store.list() == []  # a partial answer is never kept nor sent anywhere

        text, _, heard, _, _ = last(mic.stopped(CARD, "Full (2 min)", None, tab("a")))
        mic.chunk(streamed_chunk(home, 99, seconds=0.1), CARD, tab("a"))  # after Stop: no more warming
        mic.auto_grade(CARD, text, heard, tab("a"))
        assert text.startswith(warmed) and offline.answers[-1] == text and llm.answers == []
        assert [a.transcript for a in store.list()] == [text]


def test_a_stream_that_stops_says_so_and_what_was_heard_can_be_finished(live):
    """Tab hidden, permission revoked, network gone: no chunk for STALL_S → a clear message; the button
    finishes what arrived (nothing lost)."""
    mic, made, home = live
    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 0), CARD, tab("a"))
    mic.clock.now += 1.0
    assert mic.tick(tab("a")) == (gr.skip(), gr.skip())
    mic.clock.now += STALL_S
    box, _ = mic.tick(tab("a"))
    assert 'data-state="stalled"' in box and "No audio has arrived for 4 s" in box and "kept" in box
    text, *_ = last(mic.transcribe(CARD, "Full (2 min)", None, tab("a")))
    assert text == "word0"
    assert mic.tick(tab("a"))[1].active is False  # the timer stops once the recording has ended


def test_a_new_recording_or_a_closed_tab_stops_the_worker_and_silence_keeps_the_recording(live):
    mic, made, home = live
    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 0), CARD, tab("a"))
    mic.started(CARD, tab("a"))  # Record again without Stop (its stop event never came)
    assert made[0].cancelled == 1 and len(made) == 2
    mic.closed(tab("a"))
    assert made[1].cancelled == 1 and mic.sessions.current("a") is None

    mic.fails.append(NoSpeechError("no speech detected — check the microphone"))
    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 1), CARD, tab("a"))
    outputs = mic.stopped(CARD, "Full (2 min)", None, tab("a"))
    *_, box, _ = next(outputs)
    assert 'data-state="failed"' in box and "no speech detected" in box and "recording is kept" in box
    with pytest.raises(gr.Error, match="no speech detected"):
        next(outputs)
    assert Path(mic.sessions.current("a").path).is_file()


def test_a_chunk_after_the_transcript_was_finished_is_counted_not_lost_silently(live):
    mic, made, home = live
    mic.started(CARD, tab("a"))
    mic.chunk(streamed_chunk(home, 0), CARD, tab("a"))
    last(mic.stopped(CARD, "Full (2 min)", None, tab("a")))
    assert mic.chunk(streamed_chunk(home, 1), CARD, tab("a")) == gr.skip()
    assert mic.sessions.current("a").late_chunks == 1 and len(made[0].chunks) == 1
    mic.clock.now += LATE_S + 1  # later than that, a chunk starts the next recording
    mic.chunk(streamed_chunk(home, 2), CARD, tab("a"))
    assert len(made) == 2


def test_a_streamed_chunk_is_read_whole_despite_its_stale_header(tmp_path):
    samples, rate = read_chunk(streamed_chunk(tmp_path, 0, seconds=0.5))
    assert rate == 48_000 and samples.shape == (24_000, 1) and samples.dtype == np.dtype("<i2")


def test_the_live_box_escapes_text_and_marks_the_tail():
    view = LiveView("A <b>Job</b> runs.", "it complete", 12.4, 10.0, 2.4, "the transcript is 32 s behind")
    box = live_html(view, "recording")
    assert "A &lt;b&gt;Job&lt;/b&gt; runs." in box and '<span class="il-tail">it complete …</span>' in box
    assert "32 s behind" in box and "12 s heard" in box
    assert "il-tail" not in live_html(view, "done") and "behind" not in live_html(view, "done")


class CountingEngine:
    """A Transcriber that takes `delay_s` per decode and counts them (the page's events overlap meanwhile)."""

    name = "counting"
    model_name = "counting"

    def __init__(self, delay_s: float = 0.5) -> None:
        self.delay_s, self.decodes = delay_s, 0

    def warm_up(self) -> None:
        pass

    def transcribe(self, audio, *, prompt=None, on_progress=None) -> Transcript:
        import time

        self.decodes += 1
        time.sleep(self.delay_s)
        words = tuple(Word(w, i * 0.4, i * 0.4 + 0.3, 0.9) for i, w in enumerate("A Job runs to completion".split()))
        text = " ".join(w.text for w in words)
        return Transcript(text, (Segment(text, 0.0, 2.0, words),), len(audio) / 16_000, 2.0, self.name, self.model_name)


@pytest.mark.slow  # espeak-ng makes the clip
def test_the_upload_event_and_the_button_share_one_decode_and_only_one_fills_the_answer():
    """Upload fires its own event and a person presses "Transcribe upload" while it runs: one decode, and the late
    event must not write the transcript over what the person has typed since it appeared (a lost edit)."""
    import threading

    from infralens_coach import transcribe

    engine = CountingEngine()
    transcribe.register("counting", lambda model, **_: engine)
    clip, _ = clips.long_answer(3.0)
    with outside_home("ui-shared-decode") as home, HistoryStore(home / "history.db") as store:
        practice = Practice(Coach(QuestionBank.load(), Settings(whisper_engine="counting"), store=store))
        outs: list[tuple] = []

        def event() -> None:
            outs.append(practice.transcribe_upload(CARD, str(clip), "Full (2 min)", None, ProgressRecorder()))

        threads = [threading.Thread(target=event) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert engine.decodes == 1
    filled = [o for o in outs if isinstance(o[0], str)]
    assert len(filled) == 1 and filled[0][0] == "A Job runs to completion"
    assert all(o[2] is not None and o[2].result.text == "A Job runs to completion" for o in outs)  # both hear it
