"""`infralens-coach llm check` and the web app's "Test the LLM": can the configured LLM actually grade?

With the configured model it grades two built-in answers to one card, a strong one and an off-topic one, and
reports: whether the server is reachable, the first-token and total latency, which structured-output form the
server accepted, whether each reply is a valid grade, whether the strong answer scores above the off-topic one,
and the prompt's size against the server's context; then what to change for whatever failed. The two front ends
print the same report; `can_grade` decides the CLI's exit code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..content import Question, QuestionBank, Rubric
from ..errors import GradeParseError, GraderError
from . import forms
from .base import Grade
from .chain import HOW_TO_CONFIGURE, build_llm
from .llm import LLMGrader, LLMUnreachable
from .provider_errors import CONTEXT_ADVICE, safe_url

CARD = "k8s-job-vs-deployment"
STRONG = (
    "A Job is for finite batch work such as preprocessing, an evaluation or a training run: it runs pods until "
    "the work completes successfully and retries failed pods up to the backoff limit, so a pipeline can wait on "
    "its succeeded or failed status. A Deployment keeps a desired number of replicas running all the time through "
    "a ReplicaSet and replaces any pod that exits, which is what a long-running inference API needs behind a "
    "Service. The common mistake is to run a one-off batch task as a Deployment because it uses the same image: "
    "it gets restarted after it finishes, re-runs the work and wastes GPUs. The tradeoff is that Job retries start "
    "from scratch unless the work checkpoints, and finished Jobs leave pods around until ttlSecondsAfterFinished "
    "cleans them up. In the Kubernetes lab I ran the same script as a Job and as a Deployment, killed the "
    "containers with kubectl and watched the Job complete while the Deployment kept recreating its pod."
)
OFF_TOPIC = (
    "My favourite weekend project is baking sourdough bread. I feed the starter the night before, mix the dough "
    "in the morning, fold it every half hour and let it rise until it has doubled. Then I shape the loaf, proof "
    "it in the fridge overnight and bake it in a hot cast-iron pot, lid on for twenty minutes, then lid off."
)


@dataclass
class Step:
    name: str
    ok: bool | None  # None: not run (an earlier step failed)
    detail: str


@dataclass
class CheckReport:
    model: str | None
    api_base: str | None
    steps: list[Step] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    @property
    def can_grade(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def add(self, name: str, ok: bool | None, detail: str) -> None:
        self.steps.append(Step(name, ok, detail))

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "api_base": safe_url(self.api_base) or None,
            "can_grade": self.can_grade,
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
            "advice": list(self.advice),
        }

    def text(self) -> str:
        mark = {True: "yes", False: "NO", None: "--"}
        where = f" at {(safe_url(self.api_base) or None)}" if self.api_base else ""
        lines = [f"LLM check: {self.model or '(no model configured)'}{where}"]
        lines += [f"  {s.name + ':':<32} {mark[s.ok]:<3} {s.detail}" for s in self.steps]
        verdict = "the LLM can grade" if self.can_grade else "the LLM cannot grade yet (the keyword grader decides)"
        lines.append(f"Result: {verdict}")
        lines += [f"  - {a}" for a in self.advice]
        return "\n".join(lines)

    def markdown(self) -> str:
        mark = {True: "✅", False: "❌", None: "–"}
        lines = [f"**LLM check:** `{self.model or 'no model configured'}`", ""]
        lines += [f"- {mark[s.ok]} **{s.name}:** {s.detail}" for s in self.steps]
        lines += ["", "**Result:** " + ("the LLM can grade." if self.can_grade else "the LLM cannot grade yet.")]
        lines += [f"- {a}" for a in self.advice]
        return "\n".join(lines)


def check_llm(settings: Settings, bank: QuestionBank, *, model: str | None = None) -> CheckReport:
    """Grade the strong and the off-topic answer with the configured LLM; report what works and what to change."""
    model = model or settings.llm_model
    report = CheckReport(model, settings.llm_api_base)
    if not model:
        report.add("configured", False, "no LLM is configured")
        report.advice.append(HOW_TO_CONFIGURE)
        return report
    llm = build_llm(settings, model)
    question, rubric = bank.get(CARD), bank.rubric

    try:  # a 1-token reply to the grading prompt: reachability and the time to a first token
        probe = llm.ask(llm.plan(question, rubric, STRONG).messages, None, 1)
        report.add("reachable", True, f"first token after {probe.duration_s:.1f} s (the grading prompt, processed)")
    except LLMUnreachable as exc:
        report.add("reachable", False, str(exc))
        report.advice.append(str(exc))
        return report
    except GraderError as exc:  # it answered, refusing the prompt (e.g. too long for its context)
        report.add("reachable", True, f"the server answered, refusing the prompt: {exc}")

    graded: dict[str, Grade | None] = {}
    for label, answer in (("strong answer", STRONG), ("off-topic answer", OFF_TOPIC)):
        started = time.monotonic()
        try:
            grade = llm.grade(question, rubric, answer)
        except GraderError as exc:
            graded[label] = None
            report.add(f"valid grade ({label})", False, str(exc))
            report.advice.append(_advice_for(str(exc), parse=isinstance(exc, GradeParseError)))
            continue
        graded[label] = grade
        report.add(f"valid grade ({label})", True, f"overall {grade.overall}/100 in {time.monotonic() - started:.1f} s")

    form = forms.remembered(model, settings.llm_api_base)
    rejected = f"; rejected: {', '.join(llm.rejected_forms)}" if llm.rejected_forms else ""
    report.add("structured output", form is not None, f"{form or 'no form accepted'}{rejected}")

    strong, off_topic = graded.get("strong answer"), graded.get("off-topic answer")
    if strong and off_topic:
        better = strong.overall > off_topic.overall
        report.add("strong > off-topic", better, f"{strong.overall} vs {off_topic.overall}")
        if not better:
            report.advice.append(
                "the model cannot tell a strong answer from an off-topic one: use a larger instruction-tuned "
                "model (7-8B or more, e.g. ollama/qwen2.5:7b or ollama/llama3.1:8b)"
            )
    else:
        report.add("strong > off-topic", None, "needs two valid grades")

    name, fits, detail = _prompt_vs_context(llm, question, rubric)
    report.add(name, fits, detail)
    if not fits:
        report.advice.append(CONTEXT_ADVICE)
    report.advice = list(dict.fromkeys(report.advice))  # one line per distinct piece of advice
    return report


def _prompt_vs_context(llm: LLMGrader, question: Question, rubric: Rubric) -> tuple[str, bool, str]:
    """The strong answer's prompt against the server's context as now known: fits whole, fits compact, or only
    with the answer shortened (then a typical answer is not graded whole: a failure)."""
    name = "prompt vs context"
    context = llm.context_size()
    server = f"{context} tokens" if context else "unknown (INFRALENS_LLM_CONTEXT tells the grader)"
    try:
        plan = llm.plan(question, rubric, STRONG)
    except GraderError as exc:
        return name, False, str(exc)
    detail = f"prompt ~{plan.prompt_tokens} tokens{' (compact)' if plan.compact else ''}; server context {server}"
    if plan.words_left_out:
        return name, False, f"{detail}; a {len(STRONG.split())}-word answer must be shortened: {CONTEXT_ADVICE}"
    return name, True, detail


def _advice_for(reason: str, *, parse: bool = False) -> str:
    if "copied the reply template" in reason or (parse and "cut off" not in reason):
        return (
            "the model does not follow the grading format: use a larger instruction-tuned model, and a server "
            "that enforces the JSON schema (Ollama 0.5+, llama.cpp's llama-server, vLLM, llama-cpp-python)"
        )
    return reason
