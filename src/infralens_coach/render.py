"""Plain-text views of cards and grades for the terminal (pure functions, no I/O)."""

from __future__ import annotations

import textwrap

from .content import DIMENSION_NAMES, GROUPS, Question, Rubric
from .grading.base import Grade

_BAR = "█"
_EMPTY = "░"


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(" ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=indent)


def question_line(q: Question) -> str:
    return f"{q.card:>2}  {q.id:<34} {q.group or '-':<20} {q.question}"


def question_card(q: Question, *, with_answer: bool) -> str:
    lines = [f"Card {q.card:02d} · {q.id}", _wrap(q.question, "")]
    if q.group:
        lines.append(f"Group: {q.group} — {GROUPS[q.group]}")
    if not with_answer:
        lines.append("\nAnswer out loud first; then run with --answer to see the reference.")
        return "\n".join(lines)
    for title, text in q.reference_sections():
        lines += ["", f"{title}:", _wrap(text)]
    for table in q.tables:
        lines += ["", f"{table.title}:"]
        lines += ["  " + " | ".join(table.columns)] + ["  " + " | ".join(row) for row in table.rows]
    if q.related_lab:
        lab = q.related_lab
        lines += ["", f"Related lab ({lab.module}): {lab.title}", _wrap(lab.exercise)]
    if q.sources:
        lines += ["", "Sources:"] + [f"  - {s.name}: {s.url}" for s in q.sources]
    return "\n".join(lines)


def grade_report(grade: Grade, question: Question, rubric: Rubric) -> str:
    lines = [f"Card {question.card:02d} · {question.question}", f"Overall: {grade.overall}/100"]
    decided = f"Graded by: {grade.decided_by}"
    if grade.decided_by == "keyword":
        decided += " (offline keyword coverage)"
    if grade.fallback_reason:
        decided += f" — fell back because {grade.fallback_reason}"
    lines.append(decided)
    for dim in grade.dimensions:
        name = rubric.dimension(dim.dimension).name
        if dim.max_score == 0:
            lines += ["", f"{name}: not assessed"]
            continue
        bar = _BAR * dim.score + _EMPTY * (dim.max_score - dim.score)
        lines += ["", f"{name:<24} {bar} {dim.score}/{dim.max_score}"]
        lines += [_wrap(f'✓ "{quote}"', "    ") for quote in dim.evidence]
        lines += [_wrap(f"✗ {point}", "    ") for point in dim.missing]
        lines.append(_wrap(dim.feedback, "    "))
    if grade.misconceptions:
        lines += ["", "Misconceptions asserted:"]
        for hit in grade.misconceptions:
            lines += [_wrap(f"! {hit.text}", "  "), _wrap(f'in: "{hit.evidence}"', "    ")]
    if grade.follow_up:
        lines += ["", f"Follow-up: {grade.follow_up}"]
    if grade.summary:
        lines += ["", _wrap(grade.summary, "")]
    lines += trust_lines(grade, rubric)
    return "\n".join(lines)


# What the injection detector (grading/injection.py) found, by kind, in a reader's words.
_INJECTION_WORDS = {
    "ignore-instructions": "an instruction to ignore the grading rules",
    "score-request": "a request for a particular score",
    "persona": "a message addressed to the grader",
    "steering": "text telling the grader how to count your points",
    "role-tag": "chat role tags or prompt markers (such as <|system|>)",
    "fake-grade": "text dressed up as a grade (score fields in JSON)",
}


def describe_flag(code: str) -> str:
    """A grade flag (`injection:role-tag`, `disagree:tradeoffs`, ...) in plain words, for every renderer.

    The one place flags are worded: the terminal report and the web app (render_html) both call it."""
    kind, _, what = code.partition(":")
    name = DIMENSION_NAMES.get(what, what)
    if kind == "injection":
        found = _INJECTION_WORDS.get(what, "text aimed at the grader")
        return (
            f"Your answer contains {found}, aimed at the grader rather than the interviewer: it was read as "
            "part of your answer, never obeyed, and earned nothing."
        )
    if kind == "disagree":
        return (
            f"{name}: the LLM and the keyword grader differ by two levels or more; "
            "check this dimension against the reference."
        )
    if kind == "unsupported":
        return f"{name}: the LLM gave a score without quoting a sentence of your answer that supports it."
    if kind == "samples-failed":
        return f"{what} of the samples failed and were left out."
    return code


def trust_lines(grade: Grade, rubric: Rubric) -> list[str]:
    """Why to trust (or check) this grade: flags, dropped quotes, sample spread, prompt size."""
    lines = [f"  ! {describe_flag(flag)}" for flag in grade.flags]
    if grade.dropped_quotes:
        lines.append(f"  ! {grade.dropped_quotes} quote(s) from the LLM did not occur in your answer and were dropped")
    if grade.samples:
        spread = ", ".join(
            f"{rubric.dimension(s.dimension).name} {s.mean:g} ({min(s.scores)}-{max(s.scores)})" for s in grade.samples
        )
        lines.append(f"  {len(grade.samples[0].scores)} samples, mean (range): {spread}")
    if grade.prompt_tokens:
        lines.append(f"  Prompt: {grade.prompt_tokens} tokens" + (" (cached grade)" if grade.cached else ""))
    return ["", "Checks:"] + lines if lines else []
