"""The history commands: `history list|show|diff|export|delete|regrade|sessions|session`, `next`, `checklist`.

Registered onto the main group by cli.py; thin like it: open the store to read it, call progress, print.
A regrade goes through the Coach (coach.py), like every grade.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .cli_common import bank_from as _bank
from .cli_common import coach_from, settings_from
from .cli_common import emit_json as _emit_json
from .content import DIMENSION_NAMES as DIM_NAMES
from .content import Question
from .progress import SCHEDULE_RULE

if TYPE_CHECKING:
    from .attempt import Attempt
    from .history import HistoryStore


def _store(ctx: click.Context) -> HistoryStore:
    from .history import HistoryStore

    return HistoryStore.open(settings_from(ctx))


def _card(ctx: click.Context, ref: str | None) -> int | None:
    return None if ref is None else _bank(ctx).get(ref).card


def _when(utc: str) -> str:
    return utc[:16].replace("T", " ")


def _short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _question(ctx: click.Context, attempt: Attempt) -> Question | None:
    """The card as it is now in the bank, or None when it has gone (a removed pack)."""
    from .errors import UnknownQuestionError

    try:
        return _bank(ctx).get(attempt.question_id)
    except UnknownQuestionError:
        return None


@click.group()
def history() -> None:
    """Review, compare, export and re-grade past attempts."""


@history.command("list")
@click.option("--card", help="Only attempts on this card (number or id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of attempts).")
@click.pass_context
def list_(ctx: click.Context, card: str | None, as_json: bool) -> None:
    """List attempts, oldest first."""
    with _store(ctx) as store:
        attempts = store.list(_card(ctx, card))
    if as_json:
        _emit_json([a.to_dict() for a in attempts])
        return
    if not attempts:
        click.echo(
            "No attempts yet: answer a card out loud with `infralens-coach practice N --record`, "
            "or typed with `infralens-coach grade N -` (see `infralens-coach next`)."
        )
        return
    click.echo(f"{'ID':<26}  {'WHEN (UTC)':<16}  CARD  {'MODE':<6}  {'STATE':<8}  SCORE  GRADER")
    for a in attempts:
        score = f"{a.overall:>5}" if a.graded else "    -"
        click.echo(f"{a.id}  {_when(a.created_utc)}  {a.card:>4}  {a.mode:<6}  {a.state:<8}  {score}  "
                   f"{a.decided_by or _short(a.ungraded_reason)}")  # fmt: skip


@history.command()
@click.argument("attempt_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole attempt as JSON.")
@click.pass_context
def show(ctx: click.Context, attempt_id: str, as_json: bool) -> None:
    """Show one attempt: transcript, delivery, grade (ID or a unique prefix of it)."""
    from . import render
    from .grading.base import Grade

    with _store(ctx) as store:
        attempt = store.get(attempt_id)
        audio = store.audio_file(attempt)
    if as_json:
        _emit_json(attempt.to_dict())
        return
    heard = f" · {attempt.engine} {attempt.model}" if attempt.engine else ""
    lines = [
        f"Attempt {attempt.id} · {_when(attempt.created_utc)} UTC · card {attempt.card:02d} · {attempt.mode}{heard}"
    ]
    if audio:
        lines.append(f"Audio: {audio}" + ("" if audio.exists() else " (missing)"))
    if attempt.metrics:
        flat = {k: v for k, v in attempt.metrics.items() if not isinstance(v, (list, dict))}
        lines.append("Delivery: " + ", ".join(f"{k} {v}" for k, v in flat.items()))
    lines += ["", "Transcript:", attempt.transcript.strip()]
    if attempt.transcript_raw.strip() != attempt.transcript.strip():
        lines += ["", "As transcribed (before your edits):", attempt.transcript_raw.strip()]
    lines.append("")
    question = _question(ctx, attempt)
    if not attempt.graded or attempt.grade is None:  # a graded attempt always carries its grade
        lines += [
            f"Ungraded: {attempt.ungraded_reason}",
            f"Grade it with `infralens-coach history regrade {attempt.id}`.",
        ]
    elif question is not None:
        lines.append(render.grade_report(Grade.from_json(attempt.grade), question, _bank(ctx).rubric))
    else:
        lines.append(f"Overall: {attempt.overall}/100 (graded by {attempt.decided_by}; card no longer in the bank)")
    click.echo("\n".join(lines))


@history.command()
@click.argument("ids", nargs=-1)
@click.option("--card", help="Compare the last two graded attempts on this card.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def diff(ctx: click.Context, ids: tuple[str, ...], card: str | None, as_json: bool) -> None:
    """Compare two attempts: ID_OLD ID_NEW, or the last two on --card (default: the card practised last)."""
    from . import progress
    from .errors import HistoryError

    if len(ids) not in (0, 2) or (ids and card):
        raise HistoryError("give two attempt ids (ID_OLD ID_NEW), or --card N, or nothing for the last card")
    with _store(ctx) as store:
        if ids:
            old, new = store.get(ids[0]), store.get(ids[1])
        else:
            old, new = progress.last_two(store.list(graded_only=True), _card(ctx, card))
    result = progress.diff(old, new)
    if as_json:
        _emit_json(result.to_json())
        return
    question = _question(ctx, new)
    lines = [f"Card {new.card:02d}" + (f" · {question.question}" if question else ""),
             f"{old.id} ({_when(old.created_utc)}) {old.overall}/100 → {new.id} ({_when(new.created_utc)}) "
             f"{new.overall}/100: {result.overall_change:+d}"]  # fmt: skip
    if not result.same_version:
        lines.append("Note: the card or rubric changed between these attempts, so scores may not compare.")
    lines.append("")
    for d in result.dimensions:
        if d.max_score == 0:
            continue
        name = DIM_NAMES.get(d.dimension, d.dimension)
        lines.append(f"{name:<16} {d.old_score}/{d.max_score} → {d.new_score}/{d.max_score}  ({d.change:+d})")
        lines += [f"    + newly covered: {p}" for p in d.newly_covered] + [f"    - dropped: {p}" for p in d.dropped]
    lines += [f"! new misconception: {m}" for m in result.misconceptions_new]
    lines += [f"✓ no longer asserted: {m}" for m in result.misconceptions_gone]
    click.echo("\n".join(lines))


@history.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "md"]), default="json", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write to FILE instead of standard output.")
@click.option("--card", help="Only attempts on this card.")
@click.pass_context
def export(ctx: click.Context, fmt: str, out: Path | None, card: str | None) -> None:
    """Export attempts as CSV, JSON (both read back losslessly) or a Markdown report."""
    from .export import export as render_export

    with _store(ctx) as store:
        text = render_export(store.list(_card(ctx, card)), fmt)
    write_or_echo(text, out)


@history.command()
@click.argument("attempt_id")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking (for scripts).")
@click.pass_context
def delete(ctx: click.Context, attempt_id: str, yes: bool) -> None:
    """Delete one attempt and its audio copy (asks first, unless --yes)."""
    from .errors import HistoryError

    with _store(ctx) as store:
        attempt = store.get(attempt_id)
        if not yes:
            if not sys.stdin.isatty():  # a prompt nobody can answer would hang or guess
                raise HistoryError(
                    f"history delete asks before deleting {attempt.id}, but there is no terminal "
                    "to ask on: pass --yes to delete without asking"
                )
            score = f"{attempt.overall}/100" if attempt.graded else "ungraded"
            audio = " and its recording" if attempt.audio_path else ""
            if not click.confirm(
                f"Delete attempt {attempt.id} (card {attempt.card:02d}, "
                f"{_when(attempt.created_utc)} UTC, {score}){audio}?",
                default=False,
            ):
                click.echo(f"{attempt.id} not deleted.")
                ctx.exit(1)
        store.delete(attempt.id)
    click.echo(f"deleted {attempt.id} (card {attempt.card}, {_when(attempt.created_utc)} UTC)")


@history.command()
@click.argument("attempt_id")
@click.option(
    "--grader",
    "grader_mode",
    type=click.Choice(["auto", "llm", "keyword"]),
    default="auto",
    show_default=True,
    help="As for `grade`: the LLM when configured, else keyword.",
)
@click.option("--model", help="LLM as a litellm model string (overrides INFRALENS_LLM_MODEL).")
@click.option("--json", "as_json", is_flag=True, help="Print the new grade as JSON.")
@click.pass_context
def regrade(ctx: click.Context, attempt_id: str, grader_mode: str, model: str | None, as_json: bool) -> None:
    """Grade a saved attempt again (an ungraded one, or after the card or rubric changed)."""
    from . import render
    from .grading.chain import build_grader

    with coach_from(ctx, build_grader(settings_from(ctx), grader_mode, model=model)) as coach:
        regraded = coach.regrade(attempt_id)
    if as_json:
        _emit_json(regraded.attempt.grade)
    else:
        question = coach.question(regraded.attempt.question_id)
        click.echo(render.grade_report(regraded.grade, question, coach.bank.rubric))
        click.echo(f"\nRegraded attempt {regraded.attempt.id}.")


@history.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of sessions).")
@click.pass_context
def sessions(ctx: click.Context, as_json: bool) -> None:
    """List mock-interview sessions, oldest first (an unfinished one is incomplete, never failed)."""
    from .mock import session_of
    from .mock_report import session_report

    with _store(ctx) as store:
        kept = store.list_sessions()
    reports = [session_report(session_of(k), _bank(ctx)) for k in kept]
    if as_json:
        rows = [{"id": k.id, "state": k.state, "style": k.style, "created_utc": k.created_utc,
                 "updated_utc": k.updated_utc, "overall": r.overall, "cards": [c.card for c in r.cards],
                 "answered": sum(c.answered for c in r.cards)} for k, r in zip(kept, reports, strict=True)]  # fmt: skip
        _emit_json(rows)
        return
    if not kept:
        click.echo("No mock interviews yet: start one with `infralens-coach mock --checklist --record`.")
        return
    click.echo(f"{'ID':<26}  {'WHEN (UTC)':<16}  {'STYLE':<9}  {'STATE':<10}  SCORE  CARDS")
    for k, r in zip(kept, reports, strict=True):
        state = "complete" if k.state == "complete" else "incomplete"
        score = f"{r.overall:>5}" if r.overall is not None else "    -"
        answered = sum(c.answered for c in r.cards)
        click.echo(f"{k.id}  {_when(k.created_utc)}  {k.style:<9}  {state:<10}  {score}  "
                   f"{','.join(str(c.card) for c in r.cards)} ({answered} answered)")  # fmt: skip


@history.command("session")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="Print the session and its report as JSON.")
@click.option("--out", type=click.Path(path_type=Path), help="Write the report (Markdown) to FILE.")
@click.pass_context
def session_show(ctx: click.Context, session_id: str, as_json: bool, out: Path | None) -> None:
    """Show a mock interview's report (ID or a unique prefix of it); --out exports it as Markdown."""
    from .mock import session_of
    from .mock_report import report_markdown, session_report

    with _store(ctx) as store:
        kept = store.get_session(session_id)
    report = session_report(session_of(kept), _bank(ctx))
    if as_json:
        _emit_json({"session": kept.data, "attempt_ids": [a for _, a in kept.attempt_ids], "report": report.to_json()})
        return
    text = report_markdown(report)
    write_or_echo(text, out)


@click.command("next", help="Suggest the card to practise next.\n\n\b\n" + SCHEDULE_RULE)
@click.option("--json", "as_json", is_flag=True, help="Print the ranked list as JSON.")
@click.pass_context
def next_card(ctx: click.Context, as_json: bool) -> None:
    from .mock import next_cards

    with _store(ctx) as store:
        ranked = next_cards(_bank(ctx).questions, store)  # the web app's suggestion too (ui_practice.suggested_id)
    if as_json:
        _emit_json([s.to_json() for s in ranked])
        return
    top = ranked[0]
    click.echo(f"Next: card {top.card:02d} · {top.question}")
    # A practised card's suggestion always has these; a fresh card's has none.
    dim, days, interval = top.weakest_dimension, top.days_since, top.interval_days
    if not top.practised or dim is None or days is None or interval is None:
        click.echo("  never practised")
    else:
        when = "due now" if top.due else f"not due yet (due in {interval - days:.1f} days)"
        click.echo(f"  weakest: {DIM_NAMES.get(dim, dim)} "
                   f"{top.weakest_score}/4 · last practised {days:.1f} days ago · "
                   f"interval {interval} days · {when}")  # fmt: skip
    # Commands that run as printed (tests/test_cli_next.py runs each): out loud, or typed on standard input.
    click.echo(f"Practise it out loud: infralens-coach practice {top.card} --record")
    click.echo(f"Or type the answer:   infralens-coach grade {top.card} -   (type or paste it, then Ctrl-D)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def checklist(ctx: click.Context, as_json: bool) -> None:
    """The final review checklist (cards 1-8) with each card's status: not yet / weak / solid."""
    from . import progress

    with _store(ctx) as store:
        items = progress.checklist(_bank(ctx).questions, store.list(graded_only=True))
    if as_json:
        _emit_json([i.to_json() for i in items])
        return
    click.echo(f"Final review checklist. {progress.CHECKLIST_INTRO}\n")
    for i in items:
        last = f"  (last {i.last_overall}/100, {i.attempts} graded)" if i.attempts else ""
        click.echo(f"  [{i.status:^7}] {i.card:>2}  {i.question}{last}")
    solid = sum(i.status == "solid" for i in items)
    click.echo(f"\n{solid} of {len(items)} solid.")


def saved_note(attempt: Attempt) -> str:
    return f"\nSaved as attempt {attempt.id} (review: infralens-coach history show {attempt.id[-8:]})."


def register(group: click.Group) -> None:
    for command in (history, next_card, checklist):
        group.add_command(command)


def write_or_echo(text: str, out: Path | None) -> None:
    """To the file (saying so on stderr), or to stdout without one."""
    from .errors import HistoryError

    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"cannot write {out}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {out}", err=True)
