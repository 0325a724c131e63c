"""The report of a mock interview (mock.py): per card, per dimension across the session, delivery across the
session, and the three things to practise next. Pure functions of the session's data and the bank; Markdown for
the terminal, the web app and the export.

How the numbers are made, so the report can be explained:
- a card's score is its main answer's overall (0-100), as graded;
- a follow-up counts toward its dimension: the card's score there is the better of the answer and the follow-up;
- a dimension's session level is the mean of those per-card levels (0-4) over the cards answered; the sentences
  that earned it are the graders' quotes, and what missed it is the expected points made in neither answer;
- delivery adds up the recorded answers (main and follow-up): words over speaking time for the pace, fillers,
  long pauses, and time used against each answer's countdown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .content import DIMENSION_NAMES, DIMENSIONS, QuestionBank
from .errors import UnknownQuestionError
from .grading.base import Grade
from .mock import CardRun, SessionData, practise_next

LIMIT_SLACK_S = 0.5  # a recording this close to its countdown ran into the auto-stop


@dataclass(frozen=True)
class DimensionLine:
    id: str
    score: int
    max_score: int
    follow_up: int | None  # the follow-up's score, when the probe was on this dimension
    counts: int  # what the card scores on it: the better of the two


@dataclass(frozen=True)
class CardReport:
    index: int
    card: int
    question: str
    answered: bool
    attempt_id: str | None
    overall: int | None
    decided_by: str | None
    dimensions: tuple[DimensionLine, ...]
    probe: dict[str, Any] | None
    follow_up_answer: str | None
    follow_up_evidence: tuple[str, ...]
    follow_up_missing: tuple[str, ...]
    went: str | None  # how the follow-up went, in words
    reference: str | None  # the card's short answer (interview style shows it only here, at the end)


@dataclass(frozen=True)
class DimensionSummary:
    id: str
    level: float  # mean 0-4 over the cards answered, follow-ups counted
    cards: int
    earned: tuple[tuple[int, str], ...]  # (card, sentence that earned points)
    missed: tuple[tuple[int, str], ...]  # (card, expected point made in neither answer)


@dataclass(frozen=True)
class DeliverySummary:
    answers: int  # recorded answers with delivery metrics
    words: int
    duration_s: float  # first word to last word, summed
    words_per_minute: int | None
    fillers: int
    long_pauses: int
    used_s: float  # recording time used
    allowed_s: float  # the countdowns of those answers
    at_limit: int  # answers stopped by the countdown


@dataclass(frozen=True)
class SessionReport:
    id: str
    style: str
    selection: str
    created_utc: str
    complete: bool
    overall: int | None  # mean of the answered cards' scores
    cards: tuple[CardReport, ...]
    dimensions: tuple[DimensionSummary, ...]
    strongest: str | None
    weakest: str | None
    delivery: DeliverySummary
    practise_next: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- building


def _follow_up(run: CardRun) -> tuple[str | None, Any]:
    score = run.follow_up_score()
    return (run.probe or {}).get("dimension"), score


def _card(run: CardRun, index: int, bank: QuestionBank) -> CardReport:
    try:
        question = bank.get(run.question_id)
        text, reference = question.question, question.short_answer or question.reference_text or None
    except UnknownQuestionError:
        text, reference = run.question_id, None
    if run.grade is None:
        return CardReport(index, run.card, text, False, None, None, None, (), None, None, (), (), None, reference)
    grade = Grade.from_json(run.grade)
    probed, score = _follow_up(run)
    lines = []
    for d in grade.dimensions:
        fu = score.score if score is not None and d.dimension == probed else None
        lines.append(DimensionLine(d.dimension, d.score, d.max_score, fu, max(d.score, fu or 0)))
    went = None
    if score is not None and probed:
        before = grade.dimension(probed).score
        name = DIMENSION_NAMES[probed]
        if score.score > before:
            went = f"recovered: {name} {before}/4 in the answer → {score.score}/4 in the follow-up"
        elif score.score == 0:
            went = f"missed: the follow-up made none of the {name.lower()} points"
        else:
            went = f"no better: {name} {score.score}/4 in the follow-up (answer {before}/4)"
    return CardReport(
        index, run.card, text, True, run.attempt_id, grade.overall, grade.decided_by, tuple(lines), run.probe,
        run.follow_up_answer, score.evidence if score else (), score.missing if score else (), went, reference,
    )  # fmt: skip


def _dimensions(data: SessionData) -> list[DimensionSummary]:
    out = []
    for dim in DIMENSIONS:
        levels: list[float] = []
        earned: list[tuple[int, str]] = []
        missed: list[tuple[int, str]] = []
        for run in data.runs:
            if run.grade is None:
                continue
            d = Grade.from_json(run.grade).dimension(dim)
            if d.max_score == 0:
                continue
            probed, score = _follow_up(run)
            best = d.score
            still_missing = list(d.missing)
            earned += [(run.card, s) for s in d.evidence]
            if score is not None and probed == dim:
                best = max(best, score.score)
                earned += [(run.card, s) for s in score.evidence if s not in d.evidence]
                still_missing = [p for p in still_missing if p not in score.covered]
            levels.append(4 * best / d.max_score)
            missed += [(run.card, p) for p in still_missing]
        if levels:
            out.append(DimensionSummary(dim, sum(levels) / len(levels), len(levels), tuple(earned), tuple(missed)))
    return out


def _delivery(data: SessionData) -> DeliverySummary:
    answers = words = fillers = pauses = at_limit = 0
    duration = used = allowed = 0.0
    for run in data.runs:
        for metrics, seconds in ((run.metrics, run.seconds), (run.follow_up_metrics, run.follow_up_seconds)):
            if not metrics:
                continue
            answers += 1
            words += int(metrics.get("word_count", 0))
            duration += float(metrics.get("duration_s", 0.0))
            fillers += int(metrics.get("filler_count", 0))
            pauses += int(metrics.get("long_pause_count", 0))
            recording = float(metrics.get("recording_s") or metrics.get("duration_s") or 0.0)
            used += recording
            if seconds:
                allowed += seconds
                at_limit += recording >= seconds - LIMIT_SLACK_S
    wpm = round(60 * words / duration) if duration > 0 else None
    return DeliverySummary(answers, words, round(duration, 1), wpm, fillers, pauses, round(used, 1), allowed, at_limit)


def session_report(data: SessionData, bank: QuestionBank) -> SessionReport:
    cards = tuple(_card(run, i, bank) for i, run in enumerate(data.runs))
    dims = _dimensions(data)
    ranked = sorted(dims, key=lambda d: (d.level, DIMENSIONS.index(d.id)))
    scores = [c.overall for c in cards if c.overall is not None]
    return SessionReport(
        data.id, data.style, data.selection, data.created_utc, data.complete,
        round(sum(scores) / len(scores)) if scores else None, cards, tuple(dims),
        ranked[-1].id if ranked else None, ranked[0].id if ranked else None, _delivery(data),
        tuple(data.practise_next or practise_next(data, bank)),
    )  # fmt: skip


# ---------------------------------------------------------------- Markdown


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def report_markdown(report: SessionReport) -> str:
    answered = sum(c.answered for c in report.cards)
    state = "complete" if report.complete else f"incomplete: {answered} of {len(report.cards)} cards answered"
    lines = [
        f"# Mock interview · {report.created_utc[:16].replace('T', ' ')} UTC",
        "",
        f"Session `{report.id}` · {report.style} style · {len(report.cards)} cards ({report.selection}) · {state}",
    ]
    if report.overall is not None:
        lines += ["", f"**Overall: {report.overall}/100** (mean of the cards' scores; a follow-up counts toward "
                      "its dimension)"]  # fmt: skip
    lines += ["", "## Card by card"]
    for c in report.cards:
        lines += ["", f"### {c.index + 1}. Card {c.card:02d} · {c.question}", ""]
        if not c.answered:
            lines.append("Not answered yet.")
            continue
        lines += [f"Score **{c.overall}/100** (graded by {c.decided_by}; attempt `{c.attempt_id or 'not kept'}`)", "",
                  "| dimension | answer | follow-up | counts |", "| --- | --- | --- | --- |"]  # fmt: skip
        for d in c.dimensions:
            if d.max_score == 0:
                lines.append(f"| {DIMENSION_NAMES[d.id]} | not assessed | | |")
                continue
            fu = f"{d.follow_up}/4" if d.follow_up is not None else ""
            lines.append(f"| {DIMENSION_NAMES[d.id]} | {d.score}/{d.max_score} | {fu} | {d.counts}/{d.max_score} |")
        if c.probe:
            src = {"llm": "written by the LLM", "authored": "from the card", "generic": "generic"}[c.probe["source"]]
            lines += ["", f"**Probe** ({DIMENSION_NAMES[c.probe['dimension']]}, {src} — {c.probe['reason']}):",
                      f"> {c.probe['question']}"]  # fmt: skip
        if c.follow_up_answer is not None:
            lines += ["", f"**How it went:** {c.went}", "", "Follow-up answer:", f"> {_cell(c.follow_up_answer)}"]
            lines += [f'- ✓ "{s}"' for s in c.follow_up_evidence] + [f"- ✗ {p}" for p in c.follow_up_missing]
        if c.reference:
            lines += ["", f"Reference (short answer): {_cell(c.reference)}"]
    if report.dimensions:
        lines += ["", "## By dimension", ""]
        if report.strongest and report.weakest:
            best = next(d for d in report.dimensions if d.id == report.strongest)
            worst = next(d for d in report.dimensions if d.id == report.weakest)
            lines.append(f"Strongest: **{DIMENSION_NAMES[best.id]}** ({best.level:.1f}/4). "
                         f"Weakest: **{DIMENSION_NAMES[worst.id]}** ({worst.level:.1f}/4).")  # fmt: skip
        for summary in report.dimensions:
            lines += ["", f"### {DIMENSION_NAMES[summary.id]} — {summary.level:.1f}/4 over {summary.cards} card(s)"]
            lines += [f'- ✓ card {card:02d}: "{_cell(s)}"' for card, s in summary.earned]
            lines += [f"- ✗ card {card:02d}: {_cell(p)}" for card, p in summary.missed]
    lines += ["", "## Delivery", ""] + delivery_lines(report.delivery)
    lines += ["", "## Practise next", ""]
    if not report.practise_next:
        lines.append("Nothing below full marks: pick harder cards next time.")
    for i, item in enumerate(report.practise_next, 1):
        name = DIMENSION_NAMES[item["dimension"]]
        lines.append(f"{i}. Card {item['card']:02d} · {name} ({item['score']}/{item['max_score']}): "
                     f"{_cell(item['what'])}")  # fmt: skip
    if report.practise_next and report.complete:
        lines += ["", "These cards are due now in `infralens-coach next` until you practise them again."]
    return "\n".join(lines) + "\n"


def delivery_lines(d: DeliverySummary) -> list[str]:
    if not d.answers:
        return ["No recorded answers (typed answers have no delivery to measure)."]
    lines = [f"- {d.answers} recorded answer(s), {d.words} words"]
    if d.words_per_minute is not None:
        band = "in" if 130 <= d.words_per_minute <= 170 else "outside"
        lines.append(f"- pace: {d.words_per_minute} words per minute ({band} the 130-170 band)")
    lines.append(f"- fillers: {d.fillers} (a lower bound: speech engines drop many); long pauses: {d.long_pauses}")
    lines.append(f"- time used: {_clock(d.used_s)} of {_clock(d.allowed_s)} allowed; "
                 f"{d.at_limit} answer(s) ran into the countdown")  # fmt: skip
    return lines
