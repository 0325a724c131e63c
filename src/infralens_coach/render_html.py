"""HTML views of a card, a grade and a transcript for the web app (pure functions; everything escaped).

Every piece of user text (the answer, evidence quotes, pack content) goes through html.escape, so an answer
containing <script> or Markdown links renders as the text it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from .content import DIMENSION_NAMES, GROUPS, Question, Rubric
from .grading.base import Grade
from .render import describe_flag

CSS = """
.il-dims { display: grid; grid-template-columns: 1fr; gap: 10px; }
.il-dim { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px; background: #fff; color: #1f2328; }
.il-dim h4 { margin: 0 0 6px 0; display: flex; justify-content: space-between; font-size: 15px; }
.il-bar { display: inline-flex; gap: 3px; }
.il-bar span { width: 22px; height: 10px; border-radius: 3px; background: #e5e7eb; display: inline-block; }
.il-bar span.on { background: #2da44e; }
.il-dim ul { margin: 4px 0 4px 18px; padding: 0; }
.il-ev { color: #116329; } .il-miss { color: #9a6700; }
.il-fb { font-size: 13px; color: #57606a; margin-top: 4px; }
.il-warn { border: 1px solid #cf222e; background: #ffebe9; color: #82071e; border-radius: 8px; padding: 8px 12px; }
.il-meta { font-size: 13px; color: #57606a; }
.il-overall { font-size: 22px; font-weight: 600; }
.il-ref { border-left: 4px solid #0969da; padding-left: 12px; color: inherit; }
.il-ref table { border-collapse: collapse; font-size: 13px; }
.il-ref td, .il-ref th { border: 1px solid #d0d7de; padding: 4px 6px; vertical-align: top; }
mark.il-hl { background: #dafbe1; padding: 0 2px; border-radius: 3px; }
.il-plot svg { width: 100%; max-width: 720px; height: auto; }
.il-plot .il-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; margin: 4px 0; padding: 0; }
.il-plot .il-legend li { list-style: none; display: inline-flex; align-items: center; gap: 5px; }
.il-plot .il-legend i { width: 12px; height: 12px; border-radius: 50%; display: inline-block; }
.il-stale { border: 1px solid #bf8700; background: #fff8c5; color: #4d2d00; border-radius: 8px; padding: 6px 10px; }
/* Phone width: the question picker and the target each take a full row instead of squeezing side by side. */
@media (max-width: 640px) {
  #il-picker-row { flex-direction: column; align-items: stretch; }
  #il-picker-row > * { width: 100%; min-width: 0; flex: 1 1 auto; }
}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bar(score: int, max_score: int) -> str:
    cells = "".join(f'<span class="{"on" if i < score else ""}"></span>' for i in range(max_score))
    return f'<span class="il-bar" aria-label="{score} of {max_score}">{cells}</span>'


def grade_html(grade: Grade, rubric: Rubric) -> str:
    parts = [f'<div class="il-overall" id="il-overall">Overall {grade.overall}/100</div>']
    decided = "offline keyword grader" if grade.decided_by == "keyword" else grade.decided_by
    meta = f"Graded by <b>{esc(decided)}</b>"
    if grade.fallback_reason:
        meta += f" — the LLM grader was not used: {esc(grade.fallback_reason)}"
    parts.append(f'<div class="il-meta" id="il-decided-by">{meta}</div>')
    for hit in grade.misconceptions:
        parts.append(
            f'<div class="il-warn">Misconception asserted: {esc(hit.text)}<br><i>“{esc(hit.evidence)}”</i></div>'
        )
    for flag in grade.flags:
        parts.append(f'<div class="il-warn">{esc(describe_flag(flag))}</div>')
    cards = []
    for dim in grade.dimensions:
        name = DIMENSION_NAMES.get(dim.dimension, dim.dimension)
        if dim.max_score == 0:
            cards.append(
                f'<div class="il-dim" data-dim="{esc(dim.dimension)}">'
                f"<h4>{esc(name)}<span>not assessed</span></h4></div>"
            )
            continue
        evidence = "".join(f'<li class="il-ev">“{esc(q)}”</li>' for q in dim.evidence)
        missing = "".join(f'<li class="il-miss">Missing: {esc(m)}</li>' for m in dim.missing)
        cards.append(
            f'<div class="il-dim" data-dim="{esc(dim.dimension)}">'
            f"<h4>{esc(name)} <span>{_bar(dim.score, dim.max_score)} {dim.score}/{dim.max_score}</span></h4>"
            f'<ul>{evidence}{missing}</ul><div class="il-fb">{esc(dim.feedback)}</div></div>'
        )
    parts.append(f'<div class="il-dims">{"".join(cards)}</div>')
    if grade.follow_up:
        parts.append(f"<p><b>Follow-up question:</b> {esc(grade.follow_up)}</p>")
    if grade.summary:
        parts.append(f"<p>{esc(grade.summary)}</p>")
    return "\n".join(parts)


def reference_html(q: Question) -> str:
    out = ['<div class="il-ref" id="il-reference">', f"<h3>Reference · card {q.card:02d}</h3>"]
    for title, text in q.reference_sections():
        out.append(f"<p><b>{title}.</b> {esc(text)}</p>")
    for table in q.tables:
        head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
        rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in table.rows)
        out.append(f"<p><b>{esc(table.title)}</b></p><table><tr>{head}</tr>{rows}</table>")
    if q.related_lab:
        lab = q.related_lab
        link = f' — <a href="{esc(lab.url)}" target="_blank" rel="noopener">curriculum</a>' if lab.url else ""
        out.append(f"<p><b>Related lab ({esc(lab.module)}):</b> {esc(lab.title)}{link}<br>{esc(lab.exercise)}</p>")
    if q.sources:
        links = "".join(
            f'<li><a href="{esc(s.url)}" target="_blank" rel="noopener">{esc(s.name)}</a></li>' for s in q.sources
        )
        out.append(f"<p><b>Sources</b></p><ul>{links}</ul>")
    out.append("</div>")
    return "\n".join(out)


def question_html(q: Question, target: str) -> str:
    group = f"{esc(q.group)} — {esc(GROUPS[q.group])}" if q.group else "your pack"
    return (
        f'<div id="il-question"><div class="il-meta">Card {q.card:02d} · {group}</div>'
        f"<h2>{esc(q.question)}</h2>"
        f'<div class="il-meta">Answer out loud, aiming for {esc(target)}. Cover the mechanism, why it matters, '
        "the tradeoffs, a common mistake and a related lab. The reference appears after you are graded.</div></div>"
    )


def highlighted_transcript(text: str, grade: Grade) -> str:
    """The answer with the sentences that earned points marked; everything else escaped as plain text."""
    quotes = sorted({q for d in grade.dimensions for q in d.evidence if q and q in text}, key=len, reverse=True)
    if not quotes:
        return f"<p>{esc(text)}</p>"
    pattern = re.compile("|".join(re.escape(q) for q in quotes))
    out, pos = [], 0
    for match in pattern.finditer(text):
        out.append(esc(text[pos : match.start()]))
        out.append(f'<mark class="il-hl">{esc(match.group())}</mark>')
        pos = match.end()
    out.append(esc(text[pos:]))
    return f'<p id="il-transcript-hl">{"".join(out)}</p>'


# ---------------------------------------------------------------- progress chart

_COLOURS = ("#0969da", "#2da44e", "#bf3989", "#9a6700", "#8250df", "#cf222e")
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 640, 240, 40, 16, 12, 36


def progress_svg(series: Mapping[str, Sequence[int]], max_score: int = 4) -> str:
    """Score per dimension, attempt by attempt, as an inline SVG line chart.

    `series` maps a dimension's name to its scores, oldest attempt first. The x axis ticks are whole attempt
    numbers and every score is drawn as a point, so a single attempt shows (a line needs two)."""
    n = max((len(points) for points in series.values()), default=0)
    if n == 0:
        return '<div class="il-plot" id="il-progress-chart"><p>No graded attempt on this card yet.</p></div>'
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: int) -> float:  # attempt i (1-based); one attempt sits in the middle
        return _LEFT + (plot_w / 2 if n == 1 else (i - 1) * plot_w / (n - 1))

    def y(score: float) -> float:
        return _TOP + plot_h * (1 - score / max_score)

    out = [f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-label="Score per dimension, attempt by attempt">']
    for level in range(max_score + 1):
        out.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(level):.1f}" y2="{y(level):.1f}" stroke="#d0d7de"/>'
            f'<text x="{_LEFT - 8}" y="{y(level) + 4:.1f}" text-anchor="end" font-size="12">{level}</text>'
        )
    step = max(1, -(-n // 12))  # at most ~12 tick labels, always whole attempts
    for i in range(1, n + 1, step):
        out.append(
            f'<text class="il-tick" x="{x(i):.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle" '
            f'font-size="12">{i}</text>'
        )
    out.append(f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_H - 4}" text-anchor="middle" font-size="12">attempt</text>')
    legend = []
    for k, (name, scores) in enumerate(series.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        dx = (k - (len(series) - 1) / 2) * 7  # side by side, so equal scores of different dimensions stay visible
        points = [(x(i) + dx, y(score)) for i, score in enumerate(scores, start=1)]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, ((px, py), score) in enumerate(zip(points, scores, strict=True), start=1):
            out.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}">'
                f"<title>{esc(name)}: attempt {i}, {score}/{max_score}</title></circle>"
            )
        legend.append(f'<li><i style="background:{colour}"></i>{esc(name)}</li>')
    out.append("</svg>")
    return (
        f'<div class="il-plot" id="il-progress-chart">{"".join(out)}<ul class="il-legend">{"".join(legend)}</ul></div>'
    )
