"""The terminal edge: parse arguments, call the library, print. User errors exit 2 with one line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from .cli_common import bank_from, coach_from, emit_json, settings_from
from .config import Settings
from .content import GROUPS, QuestionBank
from .errors import AnswerError, CoachError

if TYPE_CHECKING:
    import numpy as np

    from .coach import LiveAnswer, SpokenAnswer
    from .delivery import DeliveryTargets

TARGET_CHOICES = ("short", "full")  # delivery.TARGET_PRESETS, named here so --help needs no import


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:  # one line per problem, no "Error:" noise from click
        click.echo(f"infralens-coach: {self.message}", err=True)


class CoachGroup(click.Group):
    """Turns our errors into exit code 2 and a message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CoachError as exc:
            raise UserError(str(exc)) from exc


def read_answer(text: str | None, text_file: Path | None, from_stdin: bool) -> str:
    given = [x for x in (text is not None, text_file is not None, from_stdin) if x]
    if len(given) != 1:
        raise AnswerError("give the answer one way: --text TEXT, --text-file FILE or - (standard input)")
    if text_file is not None:
        try:
            text = text_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise AnswerError(f"cannot read answer file {text_file}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:  # a recording or a word-processor file, not plain text
            raise AnswerError(
                f"cannot read answer file {text_file}: it is not UTF-8 text (byte {exc.start}); "
                "give a plain-text file, or a recording with --audio FILE"
            ) from exc
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
@click.option(
    "--audio",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Transcribe a recording (wav, flac, mp3, ogg, webm, m4a) locally and grade that.",
)
@click.argument("stdin", required=False, type=click.Choice(["-"]))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option("--save/--no-save", default=True, help="Keep the attempt in the history (default: save).")
@click.option(
    "--grader",
    "grader_mode",
    type=click.Choice(["auto", "llm", "keyword"]),
    default="auto",
    show_default=True,
    help="auto: the LLM when configured, else (or on any failure) keyword.",
)
@click.option("--model", help="LLM as a litellm model string (overrides INFRALENS_LLM_MODEL).")
@click.option(
    "--samples",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Grade K times with the LLM; report each dimension's mean and spread.",
)
@click.option(
    "--target",
    type=click.Choice(TARGET_CHOICES),
    help="Answer length the delivery notes judge a recording against: short (20-45 s) or full (60-120 s; "
    "the default, or INFRALENS_TARGET_SECONDS).",
)
@click.pass_context
def grade(
    ctx: click.Context,
    card: str,
    text: str | None,
    text_file: Path | None,
    audio: Path | None,
    stdin: str | None,
    as_json: bool,
    save: bool,
    grader_mode: str,
    model: str | None,
    samples: int,
    target: str | None,
) -> None:
    """Grade an answer to CARD (number or id) against the rubric."""
    from . import render
    from .grading.chain import build_grader

    grader = build_grader(settings_from(ctx), grader_mode, model=model, samples=samples)
    question = bank_from(ctx).get(card)
    if audio is not None and (text is not None or text_file is not None or stdin == "-"):
        raise AnswerError("give the answer one way: --text, --text-file, --audio or - (standard input)")
    typed = read_answer(text, text_file, stdin == "-") if audio is None else ""
    with coach_from(ctx, grader, keep=save) as coach:
        spoken = None if audio is None else coach.transcribe(question, audio, targets=delivery_targets(target))
        if spoken is not None:
            speech_model_notice(ctx)
        graded = coach.submit(
            question, spoken.text if spoken else typed, mode="upload" if spoken else "text", spoken=spoken, audio=audio
        )
    if grader.notice and not as_json:  # with --json, decided_by and fallback_reason say it
        click.echo(f"infralens-coach: {grader.notice}", err=True)
    if as_json:
        emit_json({**graded.grade.to_json(), **spoken_json(spoken)})
    else:
        if spoken is not None:
            echo_spoken(spoken)
        click.echo(render.grade_report(graded.grade, question, coach.bank.rubric))
        if graded.attempt is not None:
            click.echo(saved_note(graded.attempt))


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


# --- speech: transcribe, grade --audio, practice --record ------------------------------------


def delivery_targets(target: str | None) -> DeliveryTargets | None:
    """--target short|full as delivery targets; None keeps the settings' band (INFRALENS_TARGET_*) or the default."""
    from .delivery import TARGET_PRESETS

    return TARGET_PRESETS[target] if target else None


def speech_model_notice(ctx: click.Context, engine: str | None = None, model: str | None = None) -> None:
    from .transcribe import get_transcriber

    transcriber = get_transcriber(engine, model, settings=settings_from(ctx))
    choice = getattr(transcriber, "choice", None)
    note = getattr(choice, "note", None)
    click.echo(
        f"infralens-coach: speech model {transcriber.model_name}, engine {transcriber.name}"
        + (f" — {note}" if note else ""),
        err=True,
    )


def spoken_json(spoken: SpokenAnswer | None) -> dict[str, Any]:
    """What --json adds for a spoken answer: the transcript and the delivery, in their JSON shapes."""
    if spoken is None:
        return {}
    return {"transcript": spoken.transcript.to_dict(), "metrics": spoken.metrics.to_dict()}


def echo_spoken(spoken: SpokenAnswer) -> None:
    click.echo("Transcript:\n  " + spoken.text + "\n")
    click.echo(delivery_text(spoken.metrics.to_dict()) + "\n")


def delivery_text(metrics: dict[str, Any]) -> str:
    wpm = metrics.get("words_per_minute")
    head = (
        f"Delivery: {metrics['duration_s']:.0f} s, {metrics['word_count']} words"
        + (f", {wpm} wpm" if wpm is not None else "")
        + f", {metrics['long_pause_count']} long pauses, {metrics['filler_count']} fillers"
    )
    return "\n".join([head] + [f"  - {note}" for note in metrics["notes"]])


@main.command("transcribe")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--engine", help="faster-whisper (default) or openai-whisper; also INFRALENS_WHISPER_ENGINE.")
@click.option("--model", help="Model name, CTranslate2 directory or .pt checkpoint; also INFRALENS_WHISPER_MODEL.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.pass_context
def transcribe_command(ctx: click.Context, file: Path, engine: str | None, model: str | None, as_json: bool) -> None:
    """Transcribe a recording locally (nothing leaves the machine) and measure the delivery."""
    from .delivery import DeliveryTargets, delivery_metrics
    from .transcribe import prompt_for, transcribe_file

    settings = settings_from(ctx)
    transcript = transcribe_file(file, engine=engine, model=model, prompt=prompt_for(), settings=settings)
    speech_model_notice(ctx, engine, model)
    metrics = delivery_metrics(transcript, DeliveryTargets.from_settings(settings)).to_dict()
    if as_json:
        emit_json({**transcript.to_dict(), "metrics": metrics})
    else:
        click.echo(transcript.text + "\n")
        click.echo(delivery_text(metrics))


@main.command()
@click.argument("card")
@click.option("--record", "use_mic", is_flag=True, help="Answer out loud into the microphone.")
@click.option(
    "--seconds",
    type=click.FloatRange(1, 600),
    default=120.0,
    show_default=True,
    help="Stop recording after this long (or press Enter).",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option("--save/--no-save", default=True, help="Keep the attempt in the history (default: save).")
@click.option(
    "--target",
    type=click.Choice(TARGET_CHOICES),
    help="Answer length the delivery notes judge against: short (20-45 s) or full (60-120 s, default).",
)
@click.pass_context
def practice(
    ctx: click.Context, card: str, use_mic: bool, seconds: float, as_json: bool, save: bool, target: str | None
) -> None:
    """Answer CARD out loud: record, transcribe locally, grade and show feedback."""
    from . import recorder, render

    if not use_mic:
        raise AnswerError("practice needs --record (to grade a recording or text, use: grade CARD --audio FILE)")
    question = bank_from(ctx).get(card)
    device = recorder.default_input_device()  # fails fast, before the question is shown
    with coach_from(ctx, keep=save) as coach:
        click.echo(render.question_card(question, with_answer=False), err=as_json)
        live = coach.start_live(question)  # transcribes while the user talks; the model loads meanwhile
        try:
            samples = record_answer(device, seconds, live)
        except BaseException:  # Ctrl-C or a microphone error: stop the worker, then let it through
            live.cancel()
            raise
        spoken = live.finish(targets=delivery_targets(target))
        speech_model_notice(ctx)
        graded = coach.submit(question, spoken.text, mode="voice", spoken=spoken, audio=samples)
    if as_json:
        emit_json({**graded.grade.to_json(), **spoken_json(spoken)})
        return
    echo_spoken(spoken)
    click.echo(render.grade_report(graded.grade, question, coach.bank.rubric))
    if graded.attempt is not None:
        click.echo(saved_note(graded.attempt))


def record_answer(device: str, seconds: float, live: LiveAnswer | None = None) -> np.ndarray:
    """Record from the microphone until Enter or `seconds`, showing the time and level on stderr, and with
    `live`, the transcript as it settles (each newly settled passage on its own "  » " line)."""
    import threading

    from . import recorder

    click.echo(f"Recording from {device}: up to {seconds:.0f} s — press Enter to stop.", err=True)
    stop = threading.Event()
    recorder.stop_on_enter(stop)
    tty = sys.stderr.isatty()
    shown = [-1]
    printed = [""]  # settled text already on the screen

    def progress(elapsed_s: float, level: float) -> None:
        if live is not None:
            settled = live.view().settled
            if len(settled) > len(printed[0]):
                click.echo(("\r\033[K" if tty else "") + "  » " + settled[len(printed[0]) :].strip(), err=True)
                printed[0] = settled
        if tty:
            click.echo(f"\r  ● {elapsed_s:5.1f} s / {seconds:.0f} s  {recorder.meter(level)}", err=True, nl=False)
        elif int(elapsed_s) > shown[0]:
            shown[0] = int(elapsed_s)
            click.echo(f"  ● {int(elapsed_s):3d} s  {recorder.meter(level)}", err=True)

    feed = None if live is None else live.feed
    samples = recorder.record(seconds, stop=stop, on_progress=progress, on_block=feed)
    click.echo(("\n" if tty else "") + f"Recorded {len(samples) / recorder.SAMPLE_RATE:.1f} s.", err=True)
    return samples


# --- history: history list|show|diff|export|delete|regrade, next, checklist (cli_history.py) ---
from .cli_history import register, saved_note  # noqa: E402

register(main)


# --- eval: grader agreement with human grades (cli_eval.py) ---
from .cli_eval import eval_command  # noqa: E402

main.add_command(eval_command)
from .cli_llm import llm_group  # noqa: E402

main.add_command(llm_group)
from .cli_mock import mock_command  # noqa: E402

main.add_command(mock_command)


if __name__ == "__main__":
    main()
