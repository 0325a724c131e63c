"""The practice pipeline every front end calls: recording → transcript → grade → history.

    coach = Coach.from_settings(Settings.from_env())     # the bank, the configured grader chain, the history
    spoken = coach.transcribe(question, "answer.webm")    # SpokenAnswer: a Transcript and its DeliveryMetrics
    graded = coach.submit(question, spoken.text, mode="upload", spoken=spoken, audio="answer.webm")
    graded.grade, graded.attempt                         # the attempt is None when nothing is kept
    coach.regrade(attempt_id)                            # an ungraded attempt, or after the card changed

The failure policy lives here and nowhere else: a grader failure never becomes a score. The attempt is kept
ungraded with the reason, and the error is re-raised saying how to grade it later. The typed values become the
JSON the history stores (and the CLI prints) only at that edge. The Whisper engine and litellm load only when
the step that needs them runs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .attempt import Attempt, new_attempt
from .config import Settings
from .content import Question, QuestionBank
from .errors import GraderError, HistoryError, UnknownQuestionError
from .grading.base import Grade, Grader

if TYPE_CHECKING:
    import numpy as np

    from .audio import AudioSource
    from .delivery import DeliveryMetrics, DeliveryTargets
    from .history import HistoryStore, KeptAudio
    from .transcribe import Progress, Transcript
    from .transcribe.live import LiveTranscriber, LiveView


@dataclass(frozen=True)
class SpokenAnswer:
    """What the engine heard, and how it was delivered."""

    transcript: Transcript
    metrics: DeliveryMetrics
    transcribe_s: float  # seconds spent transcribing

    @property
    def text(self) -> str:
        return self.transcript.text


class LiveAnswer:
    """A spoken answer transcribed while it is recorded (Coach.start_live): feed the microphone's chunks, show
    view() as it grows, then finish() after Stop. audio() is the whole recording, to keep with the attempt."""

    def __init__(self, coach: Coach, question: Question, live: LiveTranscriber) -> None:
        self.coach, self.question, self.live = coach, question, live

    def feed(self, samples: np.ndarray, sample_rate: int) -> None:
        self.live.feed(samples, sample_rate)

    def view(self) -> LiveView:
        return self.live.view()

    def audio(self) -> np.ndarray:
        return self.live.audio()

    def finish(self, *, targets: DeliveryTargets | None = None, on_progress: Progress | None = None) -> SpokenAnswer:
        """The full transcript and its delivery; transcribe_s is the time spent after Stop."""
        start = time.perf_counter()
        transcript = self.live.finish(on_progress)
        return SpokenAnswer(transcript, self.coach._delivery(transcript, targets), time.perf_counter() - start)

    def cancel(self) -> None:
        self.live.cancel()


@dataclass(frozen=True)
class Graded:
    grade: Grade
    attempt: Attempt | None  # None when nothing is kept (no history, or --no-save)


@dataclass(frozen=True)
class Regraded:
    grade: Grade
    attempt: Attempt  # as the history now holds it


class Coach:
    """One question bank, one grader and (optionally) one history, configured by one Settings."""

    def __init__(
        self, bank: QuestionBank, settings: Settings, *, grader: Grader | None = None, store: HistoryStore | None = None
    ) -> None:
        self.bank = bank
        self.settings = settings
        self.grader: Grader = grader if grader is not None else _configured_grader(settings)
        self.store = store  # None: nothing is kept

    @classmethod
    def from_settings(cls, settings: Settings, *, keep: bool = True) -> Coach:
        """The built-in cards plus settings.question_dirs, the configured grader, the history in settings.data_dir."""
        from .history import HistoryStore

        bank = QuestionBank.load(settings.question_dirs)
        return cls(bank, settings, store=HistoryStore.open(settings) if keep else None)

    def question(self, ref: str | int) -> Question:
        return self.bank.get(ref)

    # ------------------------------------------------------------ speech

    def warm_up(self) -> str:
        """Load the speech model now; returns the model in use."""
        from . import transcribe

        return transcribe.warm_up(settings=self.settings).model_name

    def transcribe(
        self,
        question: Question,
        source: AudioSource,
        *,
        targets: DeliveryTargets | None = None,
        on_progress: Progress | None = None,
    ) -> SpokenAnswer:
        """Transcribe with the card's question and vocabulary as the prompt; delivery notes against `targets`
        (None: the settings' target band, INFRALENS_TARGET_*, else the full-answer band).
        on_progress(audio_s_done, audio_s_total) as the engine decodes."""
        from . import transcribe

        start = time.perf_counter()
        prompt = transcribe.prompt_for(question.question, question.vocabulary)
        transcript = transcribe.transcribe_file(source, prompt=prompt, settings=self.settings, on_progress=on_progress)
        return SpokenAnswer(transcript, self._delivery(transcript, targets), time.perf_counter() - start)

    def start_live(self, question: Question) -> LiveAnswer:
        """Start transcribing an answer while it is recorded, with the card's prompt (see transcribe.live)."""
        from . import transcribe
        from .transcribe.live import LiveTranscriber

        transcriber = transcribe.get_transcriber(settings=self.settings)
        prompt = transcribe.prompt_for(question.question, question.vocabulary)
        return LiveAnswer(self, question, LiveTranscriber(transcriber, prompt=prompt))

    def measure(self, spoken: SpokenAnswer, targets: DeliveryTargets | None = None) -> SpokenAnswer:
        """The same transcript's delivery against other targets (a target length chosen after recording)."""
        return dataclasses.replace(spoken, metrics=self._delivery(spoken.transcript, targets))

    def _delivery(self, transcript: Transcript, targets: DeliveryTargets | None) -> DeliveryMetrics:
        from .delivery import DeliveryTargets, delivery_metrics

        return delivery_metrics(transcript, targets or DeliveryTargets.from_settings(self.settings))

    # ------------------------------------------------------------ grading and keeping

    def submit(
        self,
        question: Question,
        text: str,
        *,
        mode: str = "text",
        spoken: SpokenAnswer | None = None,
        audio: KeptAudio | None = None,
    ) -> Graded:
        """Grade an answer and keep the attempt (with `spoken` and a copy of `audio`, for voice and upload answers).

        A grader failure keeps the attempt ungraded and re-raises, naming the attempt to regrade."""
        store = self.store

        def keep_ungraded(reason: str) -> str | None:
            if store is None:
                return None
            kept = store.save(self._attempt(question, text, mode, spoken, ungraded_reason=reason), audio=audio)
            return (
                f"the answer is saved as ungraded attempt {kept.id}; "
                f"grade it later with `infralens-coach history regrade {kept.id}`"
            )

        grade, grade_s = self._grade(question, text, keep_ungraded)
        if store is None:
            return Graded(grade, None)
        return Graded(
            grade, store.save(self._attempt(question, text, mode, spoken, grade=grade, grade_s=grade_s), audio=audio)
        )

    def regrade(self, attempt_ref: str) -> Regraded:
        """Grade a kept attempt's transcript again: an ungraded one, or after the card or rubric changed.

        A grader failure records the reason (an earlier grade stays) and re-raises."""
        if self.store is None:
            raise HistoryError("history is off: nothing is kept to regrade")
        store = self.store
        attempt = store.get(attempt_ref)
        try:
            question = self.question(attempt.question_id)
        except UnknownQuestionError:
            raise HistoryError(
                f"card {attempt.question_id!r} of attempt {attempt.id} is not in the question bank"
            ) from None

        def keep_ungraded(reason: str) -> None:
            store.update_grade(attempt.id, ungraded_reason=reason)

        grade, grade_s = self._grade(question, attempt.transcript, keep_ungraded)
        kept = store.update_grade(
            attempt.id, grade.to_json(), question_version=question.version(self.bank.rubric), grade_s=grade_s
        )
        return Regraded(grade, kept)

    def _grade(self, question: Question, text: str, keep_ungraded: Callable[[str], str | None]) -> tuple[Grade, float]:
        """The failure policy: on a grader failure, keep the attempt ungraded with the reason, then re-raise (with
        what `keep_ungraded` says about where it was kept). Returns the grade and the seconds it took."""
        start = time.perf_counter()
        try:
            grade = self.grader.grade(question, self.bank.rubric, text)
        except GraderError as exc:
            note = keep_ungraded(str(exc))
            if note is None:
                raise
            raise type(exc)(f"{exc} — {note}") from exc
        return grade, time.perf_counter() - start

    def _attempt(
        self,
        question: Question,
        text: str,
        mode: str,
        spoken: SpokenAnswer | None,
        *,
        grade: Grade | None = None,
        grade_s: float | None = None,
        ungraded_reason: str | None = None,
    ) -> Attempt:
        """The attempt as the history stores it: the typed values become their JSON shapes here."""
        return new_attempt(
            question, self.bank.rubric, text, mode=mode, grade=None if grade is None else grade.to_json(),
            ungraded_reason=ungraded_reason, grade_s=grade_s,
            transcript=None if spoken is None else spoken.transcript.to_dict(),
            metrics=None if spoken is None else spoken.metrics.to_dict(),
            transcribe_s=None if spoken is None else spoken.transcribe_s,
        )  # fmt: skip


def _configured_grader(settings: Settings) -> Grader:
    from .grading.chain import build_grader

    return build_grader(settings)
