"""The web app's handlers called directly (issue 10): real Whisper on real speech, a real SQLite history in a data
directory outside /tmp, and a progress callable that records what the page would show."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from support import clips
from support.app_server import outside_home

from infralens_coach import render_html
from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.history import HistoryStore
from infralens_coach.ui_history import HistoryView, attempt_label
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
