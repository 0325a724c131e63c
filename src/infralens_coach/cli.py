"""The terminal edge: parse arguments, call the library, print. User errors exit 2 with one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .config import Settings
from .content import GROUPS, QuestionBank
from .errors import AnswerError, CoachError


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:  # one line per problem, no "Error:" noise from click
        click.echo(f"infralens-coach: {self.message}", err=True)


class CoachGroup(click.Group):
    """Turns our errors into exit code 2 and a message, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CoachError as exc:
            raise UserError(str(exc)) from exc


def emit_json(obj: object) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def bank_from(ctx: click.Context) -> QuestionBank:
    """The bank, loaded once per command: built-in cards plus --questions / INFRALENS_QUESTIONS packs."""
    state = ctx.find_root().obj
    if state.get("bank") is None:
        state["bank"] = QuestionBank.load(state["question_dirs"])
    return state["bank"]


def read_answer(text: str | None, text_file: Path | None, from_stdin: bool) -> str:
    given = [x for x in (text is not None, text_file is not None, from_stdin) if x]
    if len(given) != 1:
        raise AnswerError("give the answer one way: --text TEXT, --text-file FILE or - (standard input)")
    if text_file is not None:
        try:
            text = text_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AnswerError(f"cannot read answer file {text_file}: {exc.strerror or exc}") from exc
    elif from_stdin:
        text = sys.stdin.read()
    if not text or not text.strip():
        raise AnswerError("the answer is empty: type, paste or record an answer first")
    return text


@click.group(cls=CoachGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--questions",
    "question_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra question pack directory (repeatable; also INFRALENS_QUESTIONS, separated by ':').",
)
@click.version_option(package_name="infralens-coach")
@click.pass_context
def main(ctx: click.Context, question_dirs: tuple[Path, ...]) -> None:
    """Rehearse AI-infrastructure interview answers out loud and get rubric feedback."""
    settings = Settings.from_env()
    ctx.obj = {"settings": settings, "question_dirs": settings.question_dirs + question_dirs, "bank": None}


@main.command()
@click.option("--group", type=click.Choice(sorted(GROUPS)), help="Only cards of this question-map group.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def questions(ctx: click.Context, group: str | None, as_json: bool) -> None:
    """List the cards (question map)."""
    from . import render

    bank = bank_from(ctx)
    cards = bank.in_group(group) if group else bank.questions
    if as_json:
        emit_json([q.model_dump(mode="json", exclude={"path"}) for q in cards])
        return
    for grp in GROUPS if not group else [group]:
        members = [q for q in cards if q.group == grp]
        if members:
            click.echo(f"\n{grp} — {GROUPS[grp]}")
            for q in members:
                click.echo("  " + render.question_line(q))
    ungrouped = [q for q in cards if q.group is None]
    if ungrouped:
        click.echo("\n(your packs)")
        for q in ungrouped:
            click.echo("  " + render.question_line(q))


@main.command()
@click.argument("card")
@click.option("--answer", is_flag=True, help="Also show the reference answer (after you have answered).")
@click.pass_context
def show(ctx: click.Context, card: str, answer: bool) -> None:
    """Show one card: the question, and with --answer the reference."""
    from . import render

    click.echo(render.question_card(bank_from(ctx).get(card), with_answer=answer))


@main.command()
@click.argument("card")
@click.option("--text", help="The answer as text.")
@click.option("--text-file", type=click.Path(path_type=Path), help="Read the answer from a file.")
@click.argument("stdin", required=False, type=click.Choice(["-"]))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.pass_context
def grade(ctx: click.Context, card: str, text: str | None, text_file: Path | None, stdin: str | None,
          as_json: bool) -> None:
    """Grade an answer to CARD (number or id) against the rubric."""
    from . import render
    from .grading import KeywordGrader

    bank = bank_from(ctx)
    question = bank.get(card)
    answer = read_answer(text, text_file, stdin == "-")
    result = KeywordGrader().grade(question, bank.rubric, answer)
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(render.grade_report(result, question, bank.rubric))


@main.command()
@click.argument("dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--no-builtin", is_flag=True, help="Check only the given packs, not the built-in bank with them.")
@click.pass_context
def validate(ctx: click.Context, dirs: tuple[Path, ...], no_builtin: bool) -> None:
    """Check the built-in bank and any pack DIRs; name file, field and problem for each error."""
    extra = ctx.find_root().obj["question_dirs"] + dirs
    bank = QuestionBank.load(extra, include_builtin=not no_builtin)
    derived = sum(q.derived for q in bank.questions)
    note = f" ({derived} with points derived from the reference answer)" if derived else ""
    click.echo(f"ok: {len(bank.questions)} questions{note}, rubric {bank.rubric.name!r}")


if __name__ == "__main__":
    main()
