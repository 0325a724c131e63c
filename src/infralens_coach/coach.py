"""The one practice pipeline the web app and the CLI share: audio → transcript → grade.

Heavy pieces (the Whisper engine, the LLM client) are imported only when the step that needs them runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .config import Settings
from .content import Question, QuestionBank
from .grading.base import Grade, Grader


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
    grader: Grader | None = None  # None: the keyword grader

    def question(self, ref: str | int) -> Question:
        return self.bank.get(ref)

    def warm_up(self) -> str:
        """Load the speech model now; returns the model in use."""
        from . import transcribe

        return transcribe.warm_up(settings=self.settings).model_name

    def transcribe(self, question: Question, source) -> TranscribeResult:
        from . import transcribe
        from .delivery import delivery_metrics

        start = time.perf_counter()
        transcript = transcribe.transcribe_file(
            source, prompt=transcribe.prompt_for(question.question, question.vocabulary), settings=self.settings
        )
        metrics = delivery_metrics(transcript).to_dict()
        return TranscribeResult(transcript.text, transcript, metrics, time.perf_counter() - start)

    def grade(self, question: Question, text: str) -> Grade:
        from .grading import KeywordGrader

        grader = self.grader or KeywordGrader()
        return grader.grade(question, self.bank.rubric, text)
