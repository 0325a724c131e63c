"""The one practice pipeline the web app and the CLI share: audio → transcript → grade → history.

Heavy pieces (the Whisper engine, litellm) are imported only when the step that needs them runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import Settings
from .content import Question, QuestionBank
from .grading.base import Grade, Grader

if TYPE_CHECKING:
    from .delivery import DeliveryTargets


@dataclass(frozen=True)
class TranscribeResult:
    text: str
    transcript: object  # transcribe.Transcript
    metrics: dict
    seconds: float


@dataclass
class Coach:
    bank: QuestionBank
    settings: Settings = field(default_factory=Settings.from_env)
    grader: Grader | None = None  # None: the configured chain (LLM when set up, keyword always behind it)
    store: object | None = None  # history.HistoryStore, or None to keep nothing

    def __post_init__(self) -> None:
        if self.grader is None:
            from .grading.chain import build_grader

            self.grader = build_grader(self.settings)

    def question(self, ref: str | int) -> Question:
        return self.bank.get(ref)

    def warm_up(self) -> str:
        """Load the speech model now; returns the model in use."""
        from . import transcribe

        return transcribe.warm_up(settings=self.settings).model_name

    def transcribe(self, question: Question, source, *, targets: DeliveryTargets | None = None,
                   on_progress: Callable[[float, float], None] | None = None) -> TranscribeResult:
        """Transcribe with the card's question and vocabulary as the prompt; delivery notes against `targets`
        (None: INFRALENS_TARGET_* or the full-answer band). on_progress(audio_s_done, audio_s_total)."""
        from . import transcribe
        from .delivery import DeliveryTargets, delivery_metrics

        start = time.perf_counter()
        transcript = transcribe.transcribe_file(
            source, prompt=transcribe.prompt_for(question.question, question.vocabulary), settings=self.settings,
            on_progress=on_progress,
        )
        metrics = delivery_metrics(transcript, targets or DeliveryTargets.from_env()).to_dict()
        return TranscribeResult(transcript.text, transcript, metrics, time.perf_counter() - start)

    def grade(self, question: Question, text: str) -> Grade:
        return self.grader.grade(question, self.bank.rubric, text)

    def submit(self, question: Question, text: str, *, mode: str = "text", spoken: TranscribeResult | None = None,
               audio=None):
        """Grade an answer and keep the attempt; a grader failure keeps it as ungraded and re-raises.

        Returns (grade, attempt); attempt is None when there is no store."""
        from .history import grade_and_save

        details = {}
        if spoken is not None:
            details = {"transcript": spoken.transcript, "raw_text": spoken.text, "metrics": spoken.metrics,
                       "transcribe_s": spoken.seconds}
        return grade_and_save(self.store, question, self.bank.rubric, self.grader, text, mode=mode, audio=audio,
                              **details)
