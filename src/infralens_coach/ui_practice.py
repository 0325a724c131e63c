"""The Practice tab's handlers: pick a card, transcribe a recording, grade the answer.

Plain methods on one small object holding the Coach, so tests call them directly (with a fake progress callable)
as well as through the running app. Transcribing and grading go through the Coach (Coach.transcribe, Coach.submit),
as in the CLI. What the page remembers between events is one `Heard` value: the last recording transcribed.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from . import mock, progress, render_html
from .attempt import Attempt
from .coach import Coach, Graded, Regraded, SpokenAnswer
from .content import DIMENSION_NAMES, Question
from .delivery import TARGET_PRESETS, DeliveryTargets
from .errors import CoachError
from .grading.base import Grader
from .ui_server import log_user_error
from .ui_users import Users

TARGETS = {"Short (30 s)": "short", "Full (2 min)": "full"}  # the radio's labels -> delivery.TARGET_PRESETS
DEFAULT_TARGET = "Full (2 min)"
EDIT_SHARE = 0.5  # an answer is an edit of the transcript when at least half its words come from it, in order
MIC_HELP = (
    "Browsers allow the microphone only on http://127.0.0.1 or http://localhost, or over HTTPS. If you opened "
    "this page by a LAN address over http, open http://127.0.0.1:{port} on this machine instead, or use Upload "
    "or type your answer. If you declined the permission prompt, allow the microphone in the address bar."
)
STILL_UPLOADING = "*Your recording is still uploading: it is transcribed as soon as it arrives.*"

Skip = dict[str, Any]  # gr.skip(): leave that output as it is


def fail(exc: CoachError) -> gr.Error:
    """Our error as the page's error: the message for the user, one line in the server log, no traceback."""
    log_user_error(exc)
    return gr.Error(str(exc), duration=None, print_exception=False)


def user_error(message: str) -> gr.Error:
    return fail(CoachError(message))


def targets_for(label: str | None) -> DeliveryTargets:
    return TARGET_PRESETS[TARGETS.get(label or DEFAULT_TARGET, TARGETS[DEFAULT_TARGET])]


def target_text(label: str | None) -> str:
    t = targets_for(label)
    return f"{t.min_duration_s:.0f}–{t.max_duration_s:.0f} seconds"


def request_port(request: gr.Request | None, default: int) -> int:
    """The port this page was opened on (from the Host header), so advice names the real address."""
    host = (request.headers.get("host") if request is not None else None) or ""
    tail = host.rsplit(":", 1)[-1] if ":" in host.rsplit("]", 1)[-1] else ""
    return int(tail) if tail.isdigit() else default


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", (text or "").lower())


def is_edit_of(answer: str, transcript: str) -> bool:
    """Whether `answer` is the transcript as the user corrected it, rather than a new, typed answer."""
    new, heard = words(answer), words(transcript)
    if not new or not heard:
        return False
    kept = sum(block.size for block in difflib.SequenceMatcher(None, heard, new, autojunk=False).get_matching_blocks())
    return kept / len(new) >= EDIT_SHARE


class Eta:
    """Progress of a transcription as a fraction and a sentence: seconds of audio done, and time left.

    The rate is measured from the start: Whisper reports a 30 s window's segments in one burst, so the rate
    between two reports says little."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.start = clock()

    def note(self, done_s: float, total_s: float) -> tuple[float, str]:
        fraction = min(1.0, max(0.0, done_s / total_s)) if total_s > 0 else 0.0
        text = f"Transcribing on this machine: {done_s:.0f} of {total_s:.0f} s of audio"
        elapsed = self.clock() - self.start
        if done_s <= 0 or elapsed <= 0:
            return fraction, text + ", estimating the time left…"
        left = elapsed / done_s * max(0.0, total_s - done_s)
        return fraction, text + (f", about {_duration(left)} left" if left >= 1 else ", almost done")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


@dataclass(frozen=True)
class Heard:
    """The last recording transcribed on this page, and the history's copy of it once an attempt kept it."""

    path: str  # the recording as the page received it
    mode: str  # voice | upload
    question_id: str  # the card whose prompt steered the transcription
    result: SpokenAnswer
    kept: str | None = None  # the history's copy: later grades of this recording share it
    # (attempt id, card id, text) of the attempt the automatic offline grade after a live Stop saved: Grade pressed
    # on that same text and card grades that attempt again (with the configured grader) instead of saving another.
    auto_graded: tuple[str, str, str] | None = None

    def audio(self) -> str | None:
        return next((p for p in (self.kept, self.path) if p and Path(p).is_file()), None)


# What a transcription puts on the page: answer text (or Skip), delivery note, heard, pending.
Transcribed = tuple[str | Skip, str, Heard | None, bool]
# What grading puts on the page: feedback, reference, highlighted answer, change, saved note, heard, graded card.
Feedback = tuple[str, str, str, str, str, Heard | None, str]


class SharedDecodes:
    """One decode at a time per (browser session, recording, card). The upload's own event and the button pressed
    while it runs ask for the same recording at once: the second waits for the first's result and is told so,
    because a second decode landing later would write the transcript over what the person typed in the meantime.
    A request after the decode has finished decodes again. The session is part of the key because the same bytes
    uploaded by two people share one cached path, and each of them must get the transcript in their own answer box."""

    @dataclass
    class _Run:
        done: threading.Event = field(default_factory=threading.Event)
        result: SpokenAnswer | None = None
        error: BaseException | None = None

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._running: dict[tuple[str, str, str], SharedDecodes._Run] = {}

    def run(self, key: tuple[str, str, str], decode: Callable[[], SpokenAnswer]) -> tuple[SpokenAnswer, bool]:
        """-> (the answer, whether this call decoded it rather than joining one in flight)."""
        with self._guard:
            run = self._running.get(key)
            joined = run is not None
            if run is None:
                run = self._running[key] = SharedDecodes._Run()
        if joined:
            run.done.wait()
        else:
            try:
                run.result = decode()
            except BaseException as exc:
                run.error = exc
                raise
            finally:
                with self._guard:
                    del self._running[key]
                run.done.set()
        if run.error is not None:
            raise run.error
        assert run.result is not None
        return run.result, not joined


def session_of(request: gr.Request | None) -> str:
    """The browser session (tab) or API client a handler runs for; calls without a session share one."""
    return (request.session_hash if request is not None else None) or "no-session"


class Practice:
    def __init__(
        self, coach: Coach, default_port: int = 7860, users: Users | None = None, offline: Grader | None = None
    ) -> None:
        self.coach = coach
        self.default_port = default_port
        self.users = users or Users(coach)  # the requesting user's Coach: their history, suggestions, progress
        self._offline = offline  # the offline grader (grade_offline), made on first use when not given
        self._decodes = SharedDecodes()

    def question(self, qid: str | None) -> Question:
        try:
            return self.coach.question(qid or self.coach.bank.questions[0].id)
        except CoachError as exc:
            raise fail(exc) from exc

    def mic_help(self, request: gr.Request | None) -> str:
        return MIC_HELP.format(port=request_port(request, self.default_port))

    # ------------------------------------------------------------ the card and the target

    def questions(self) -> list[dict[str, Any]]:
        """The cards, for the API (/questions)."""
        bank = self.coach.bank
        return [{"id": q.id, "card": q.card, "question": q.question, "group": q.group} for q in bank.questions]

    def suggested_id(self, request: gr.Request | None = None) -> str:
        """The card to practise next over the user's history: `infralens-coach next`'s ranking (mock.next_cards,
        a finished mock interview's marks included); asked at every page load."""
        try:
            store = self.users.store(request)
        except CoachError as exc:
            raise fail(exc) from exc
        return mock.next_cards(self.coach.bank.questions, store)[0].question_id

    def suggested_question_html(self, request: gr.Request | None = None) -> str:
        return render_html.question_html(self.question(self.suggested_id(request)), target_text(DEFAULT_TARGET))

    def show_question(self, qid: str, target: str, graded_for: str | None, text: str) -> tuple[str, str]:
        """The new card; the answer and the feedback stay, with a note saying whose feedback it is."""
        question = self.question(qid)
        return render_html.question_html(question, target_text(target)), self.switch_note(question, graded_for, text)

    def switch_note_for(self, qid: str, graded_for: str | None, text: str) -> str:
        """The note for the card on screen once feedback arrives (it may be for the card the answer was for)."""
        return self.switch_note(self.question(qid), graded_for, text)

    def switch_note(self, question: Question, graded_for: str | None, text: str) -> str:
        notes = []
        if graded_for and graded_for != question.id:
            old = self.question(graded_for)
            notes.append(
                f"The feedback below is for card {old.card:02d} ({render_html.esc(old.question)}), your "
                "previous question: grade your answer to get feedback on this one."
            )
        if (text or "").strip() and graded_for != question.id:
            notes.append("Your answer is kept in the box: edit it, record a new one, or clear it to start afresh.")
        return f'<div class="il-stale" id="il-switch-note">{" ".join(notes)}</div>' if notes else ""

    def change_target(
        self, qid: str, target: str, text: str, heard: Heard | None
    ) -> tuple[str, str | Skip, Heard | None]:
        """A new target length: the card says it, and the delivery note of the recording is measured against it."""
        page = render_html.question_html(self.question(qid), target_text(target))
        if heard is None or not is_edit_of(text, heard.result.text):
            return page, gr.skip(), heard
        heard = dataclasses.replace(heard, result=self.coach.measure(heard.result, targets_for(target)))
        return page, metrics_md(heard.result.metrics.to_dict()), heard

    # ------------------------------------------------------------ transcription

    def recording_started(self) -> bool:
        return True

    def transcribe(
        self,
        qid: str,
        audio: str | None,
        mode: str,
        target: str,
        heard: Heard | None,
        pending: bool,
        progress_bar: Callable[..., object] = gr.Progress(),
        request: gr.Request | None = None,
    ) -> Transcribed:
        """-> (answer text, delivery note, heard, pending). Runs when a recording arrives and on the button."""
        if not audio:
            if pending:  # Stop was pressed, the upload is on its way: the recorder's own event transcribes it
                return gr.skip(), STILL_UPLOADING, heard, pending
            raise user_error(
                "No recording yet: record with the microphone or upload a file first. " + self.mic_help(request)
            )
        question = self.question(qid)
        if heard is not None and heard.path == audio and heard.question_id == question.id:
            # The same recording again (the recorder's event and the button both asked): no second decode, and
            # its attempts keep sharing one copy in the history.
            result = self.coach.measure(heard.result, targets_for(target))
            return result.text, metrics_md(result.metrics.to_dict()), dataclasses.replace(heard, result=result), False
        eta = Eta()
        progress_bar(0.0, desc="Transcribing on this machine: reading the audio…")

        def on_progress(done_s: float, total_s: float) -> None:
            fraction, text = eta.note(done_s, total_s)
            progress_bar(fraction, desc=text)

        try:
            result, decoded = self._decodes.run(
                (session_of(request), audio, question.id),
                lambda: self.coach.transcribe(question, audio, targets=targets_for(target), on_progress=on_progress),
            )
        except CoachError as exc:
            raise fail(exc) from exc
        if not decoded:  # the event that decoded it fills the answer box; this one must not overwrite an edit
            result = self.coach.measure(result, targets_for(target))
        text: str | Skip = result.text if decoded else gr.skip()
        return text, metrics_md(result.metrics.to_dict()), Heard(audio, mode, question.id, result), False

    def transcribe_recording(
        self,
        qid: str,
        audio: str | None,
        target: str,
        heard: Heard | None,
        pending: bool,
        progress_bar: gr.Progress = gr.Progress(),
        request: gr.Request | None = None,
    ) -> Transcribed:
        return self.transcribe(qid, audio, "voice", target, heard, pending, progress_bar, request)

    def transcribe_upload(
        self,
        qid: str,
        audio: str | None,
        target: str,
        heard: Heard | None,
        progress_bar: gr.Progress = gr.Progress(),
        request: gr.Request | None = None,
    ) -> tuple[str | Skip, str, Heard | None]:
        text, note, heard, _pending = self.transcribe(qid, audio, "upload", target, heard, False, progress_bar, request)
        return text, note, heard

    def mic_check(self, audio: tuple[int, np.ndarray] | None, request: gr.Request | None = None) -> str:
        if audio is None:
            raise user_error(
                "Nothing recorded: allow the microphone and record about two seconds. " + self.mic_help(request)
            )
        rate, samples = audio
        data = np.asarray(samples, dtype=np.float32)
        if np.issubdtype(np.asarray(samples).dtype, np.integer):
            data = data / 32768.0
        rms = float(np.sqrt(np.mean(np.square(data)))) if data.size else 0.0
        db = 20 * np.log10(max(rms, 1e-9))
        seconds = data.shape[0] / rate if rate else 0
        if rms < 0.003:
            return f"**Silent** ({db:.0f} dBFS over {seconds:.1f} s). Check the input device and that it is not muted."
        return f"**Level {db:.0f} dBFS** over {seconds:.1f} s — the microphone works."

    # ------------------------------------------------------------ grading

    def grade_offline(self, qid: str, text: str, heard: Heard | None, request: gr.Request | None = None) -> Feedback:
        """Right after a live recording: grade at once with the offline grader (Grade asks the configured one)."""
        mine = self._users_coach(request)
        offline = Coach(mine.bank, mine.settings, grader=self.offline_grader(), store=mine.store)  # the same history
        return self.grade(qid, text, heard, coach=offline, automatic=True)

    def offline_grader(self) -> Grader:
        """The offline grader: the configured one when no LLM is configured, else a keyword grader of its own."""
        if self._offline is None:
            from .grading.chain import build_grader

            settings = self.coach.settings
            self._offline = build_grader(settings, "keyword") if settings.llm_model else self.coach.grader
        return self._offline

    def warm_offline(self, qid: str, text: str) -> None:
        """Grade part of an answer with the offline grader and throw the grade away (nothing is kept, nothing
        leaves the machine): the sentence vectors it computes stay cached, so the grade of the whole answer
        after Stop only has the sentences that came after ``text`` left to embed."""
        scratch = Coach(self.coach.bank, self.coach.settings, grader=self.offline_grader(), store=None)  # keeps nothing
        scratch.submit(scratch.question(qid), text)

    def _users_coach(self, request: gr.Request | None) -> Coach:
        try:
            return self.users.coach(request)
        except CoachError as exc:
            raise fail(exc) from exc

    def grade(
        self, qid: str, text: str, heard: Heard | None, *, coach: Coach | None = None,
        request: gr.Request | None = None, automatic: bool = False,
    ) -> Feedback:  # fmt: skip
        """-> (feedback, reference, highlighted answer, change, saved note, heard, graded card id).

        The attempt is a voice/upload answer, with its recording and delivery metrics, only while the answer is
        still (an edit of) the transcript; a new typed answer is saved as text. It is kept in the requesting
        user's history (`coach` already is one user's). Grade pressed on the very answer the automatic grade
        after Stop saved grades that attempt again rather than keeping the same answer twice."""
        question = self.question(qid)
        coach = coach or self._users_coach(request)
        spoken = heard if heard is not None and is_edit_of(text, heard.result.text) else None
        try:
            if spoken is not None and spoken.auto_graded is not None and spoken.auto_graded[1:] == (question.id, text):
                graded: Graded | Regraded = coach.regrade(spoken.auto_graded[0])
                spoken = dataclasses.replace(spoken, auto_graded=None)
            else:
                graded = coach.submit(
                    question, text or "", mode=spoken.mode if spoken else "text",
                    spoken=spoken.result if spoken else None, audio=spoken.audio() if spoken else None,
                )  # fmt: skip
            attempt = graded.attempt
            if spoken is not None and attempt is not None and attempt.audio_path and coach.store is not None:
                heard = dataclasses.replace(spoken, kept=str(coach.store.audio_file(attempt)))
                if automatic:
                    heard = dataclasses.replace(heard, auto_graded=(attempt.id, question.id, text))
        except CoachError as exc:
            raise fail(exc) from exc
        return (
            render_html.grade_html(graded.grade, self.coach.bank.rubric),
            render_html.reference_html(question),
            render_html.highlighted_transcript(text, graded.grade),
            self.change_md(question.card, attempt, coach),
            saved_md(attempt),
            heard,
            question.id,
        )

    def change_md(self, card: int, attempt: Attempt | None, coach: Coach | None = None) -> str:
        store = (coach or self.coach).store
        if attempt is None or not attempt.graded or store is None:
            return ""
        previous = [a for a in store.list(card) if a.graded and a.id != attempt.id]
        if not previous:
            return "First graded attempt on this card: answer again later to see your progress."
        change = progress.diff(previous[-1], attempt)
        lines = [
            f"**Since your last attempt:** overall {change.old.overall} → {change.new.overall} "
            f"({change.overall_change:+d})"
        ]
        for dim in change.dimensions:
            if dim.change or dim.newly_covered or dim.dropped:
                name = DIMENSION_NAMES.get(dim.dimension, dim.dimension)
                lines.append(
                    f"- {name}: {dim.old_score} → {dim.new_score}"
                    + "".join(f"\n  - newly covered: {p}" for p in dim.newly_covered)
                    + "".join(f"\n  - dropped: {p}" for p in dim.dropped)
                )
        return "\n".join(lines)


def metrics_md(metrics: dict[str, Any]) -> str:
    """A delivery note from metrics in their JSON shape (DeliveryMetrics.to_dict(), as the history keeps them)."""
    if not metrics:
        return ""
    facts = [
        f"{label} {metrics[key]}{unit}"
        for key, label, unit in (
            ("duration_s", "length", " s"),
            ("speaking_s", "speaking", " s"),
            ("words_per_minute", "pace", " wpm"),
            ("filler_count", "fillers", ""),
            ("long_pause_count", "long pauses", ""),
        )
        if metrics.get(key) is not None
    ]
    notes = metrics.get("notes") or []
    return "**Delivery:** " + ", ".join(facts) + "".join(f"\n- {n}" for n in notes)


def saved_md(attempt: Attempt | None) -> str:
    if attempt is None:
        return ""
    return f"Saved as attempt `{attempt.id}` — see the History tab."
