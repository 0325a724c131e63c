"""`infralens-coach mock`: a mock interview in the terminal (mock.py does the work; this parses and prints).

Answers come from the microphone (--record: a countdown per question, auto-stop at the limit, a warning
10 s before), from recordings (--audio-dir) or from text files (--text-dir), one file per step:

    DIR/01.wav   DIR/01-follow-up.wav   DIR/02.wav ...      the session's 1st question, its follow-up, the 2nd ...
    DIR/card07.wav   DIR/card07-follow-up.wav               or named by card number (used when NN.* is absent)

Any audio extension works for --audio-dir (wav, flac, mp3, ogg, webm, m4a); --text-dir reads NN.txt. A missing
file stops the session there (exit code 1): it is saved, and `mock --resume ID` continues it.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_common import bank_from, coach_from, emit_json, settings_from
from .content import DIMENSION_NAMES, GROUPS
from .errors import AnswerError

if TYPE_CHECKING:
    import numpy as np

    from .coach import Coach, SpokenAnswer
    from .mock import MockSession, Outcome, Step

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".webm", ".m4a")


def _cards_option(value: str | None) -> list[str] | None:
    return None if value is None else [c.strip() for c in value.split(",") if c.strip()]


@click.command("mock")
@click.option("--group", type=click.Choice(sorted(GROUPS)), help="The cards of one question-map group.")
@click.option("--checklist", is_flag=True, help="The final review checklist (cards 1-8).")
@click.option("--due", is_flag=True, help="The cards due by the spaced repetition (`next`), topped up to --count.")
@click.option("--random", "random_count", type=click.IntRange(3, 8), help="N random cards (see --seed).")
@click.option("--cards", help="Card numbers or ids, comma-separated: --cards 3,7,9.")
@click.option("--count", type=click.IntRange(3, 8), default=5, show_default=True, help="Cards for --due.")
@click.option("--seed", type=int, help="Seed for --random (the same seed, the same cards).")
@click.option(
    "--style",
    type=click.Choice(["practice", "interview"]),
    default="interview",
    show_default=True,
    help="practice: feedback after each answer; interview: none until the report.",
)
@click.option("--record", "use_mic", is_flag=True, help="Answer into the microphone, with a countdown per question.")
@click.option("--audio-dir", type=click.Path(path_type=Path, file_okay=False), help="Recorded answers, one per step.")
@click.option(
    "--text-dir", type=click.Path(path_type=Path, file_okay=False), help="Typed answers (NN.txt), one per step."
)
@click.option(
    "--target",
    type=click.Choice(["short", "full"]),
    help="Answer length and countdown: short (45 s) or full (120 s, the default; or INFRALENS_TARGET_SECONDS).",
)
@click.option("--resume", "resume_id", help="Continue an unfinished session (see `history sessions`).")
@click.option(
    "--report", "report_path", type=click.Path(path_type=Path, dir_okay=False), help="Write the report (Markdown)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end: the session and its report.")
@click.pass_context
def mock_command(
    ctx: click.Context,
    group: str | None,
    checklist: bool,
    due: bool,
    random_count: int | None,
    cards: str | None,
    count: int,
    seed: int | None,
    style: str,
    use_mic: bool,
    audio_dir: Path | None,
    text_dir: Path | None,
    target: str | None,
    resume_id: str | None,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """A mock interview: 3-8 cards asked in turn, a follow-up probe on each answer's weakest dimension, and a
    report of the whole session (kept in the history; `history session ID` shows it again).

    \b
    Answer files for --audio-dir / --text-dir, one per step (NN is the question's place in the session):
      NN.<ext>            the answer to question NN (01, 02, ...)
      NN-follow-up.<ext>  the answer to its follow-up probe
      cardCC.<ext>, cardCC-follow-up.<ext>   the same, named by card number instead
    """
    from . import mock
    from .mock_report import report_markdown, session_report

    sources = [use_mic, audio_dir is not None, text_dir is not None]
    if sum(sources) != 1:
        raise AnswerError("answer one way: --record (microphone), --audio-dir DIR or --text-dir DIR")
    out = sys.stderr if as_json else sys.stdout
    device = None
    if use_mic:
        from . import recorder

        device = recorder.default_input_device()  # fails fast, before the first question
    with coach_from(ctx) as coach:
        if resume_id:
            if any([group, checklist, due, random_count, cards]):
                raise AnswerError("--resume continues a session with its own cards: give no card options with it")
            session = mock.MockSession.resume(coach, resume_id)
        else:
            session = _start(ctx, coach, group, checklist, due, random_count, cards, count, seed, style, target)
        click.echo(f"Mock interview {session.data.id} · {session.data.style} style · {len(session.data.runs)} cards "
                   f"({session.data.selection})", file=out)  # fmt: skip
        while (step := session.next_step()) is not None:
            click.echo(f"\n{step.label}\n  {step.text}", file=out)
            answer = _answer(ctx, coach, session, step, device, audio_dir, text_dir, out)
            if answer is None:  # no file for this step: the session stays resumable
                click.echo(f"\nStopped: session {session.data.id} is saved; continue it with "
                           f"`infralens-coach mock --resume {session.data.id} ...`", err=True)  # fmt: skip
                break
            text, spoken, audio, mode = answer
            outcome = session.answer(text, spoken=spoken, audio=audio, mode=mode)
            _show(outcome, session, out)
        report = session_report(session.data, coach.bank)
    markdown = report_markdown(report)
    if report_path is not None:
        _write(report_path, markdown)
    if as_json:
        emit_json({"session": session.data.to_json(), "report": report.to_json()})
    elif session.data.complete:
        click.echo("\n" + markdown)
    if not session.data.complete:
        ctx.exit(1)  # stopped before the end (for scripts): saved, and `--resume ID` continues it


def _start(
    ctx: click.Context, coach: Coach, group: str | None, checklist: bool, due: bool, random_count: int | None,
    cards: str | None, count: int, seed: int | None, style: str, target: str | None,
) -> MockSession:  # fmt: skip
    from . import mock, progress
    from .delivery import TARGET_PRESETS

    due_list = None
    if due:
        store = coach.store
        attempts = store.list(graded_only=True) if store is not None else []
        marks = mock.practice_marks(store) if store is not None else {}
        due_list = mock.due_cards(progress.suggestions(coach.bank.questions, attempts, marked=marks), count)
    chosen, how = mock.choose_cards(
        bank_from(ctx), group=group, checklist=checklist, due=due_list, random_count=random_count, seed=seed,
        cards=_cards_option(cards),
    )  # fmt: skip
    seconds = mock.answer_seconds(settings_from(ctx), TARGET_PRESETS[target] if target else None)
    return mock.MockSession.start(coach, chosen, style=style, selection=how, seconds=seconds)


def step_names(step: Step) -> list[str]:
    """The file stems an answer to `step` may have, in the order they are looked for."""
    suffix = "-follow-up" if step.kind == "follow_up" else ""
    return [f"{step.index + 1:02d}{suffix}", f"card{step.card:02d}{suffix}"]


def find_answer_file(folder: Path, step: Step, extensions: tuple[str, ...]) -> Path | None:
    for stem in step_names(step):
        for ext in extensions:
            if (folder / (stem + ext)).is_file():
                return folder / (stem + ext)
    return None


def _answer(
    ctx: click.Context, coach: Coach, session: MockSession, step: Step, device: str | None,
    audio_dir: Path | None, text_dir: Path | None, out: Any,
) -> tuple[str, SpokenAnswer | None, Any, str] | None:  # fmt: skip
    """(text, spoken, audio to keep, mode) for this step, or None when its answer file is missing."""
    question = coach.bank.get(session.data.runs[step.index].question_id)
    targets = _targets(step)
    if text_dir is not None:
        path = find_answer_file(text_dir, step, (".txt",))
        if path is None:
            click.echo(f"No answer file {text_dir / step_names(step)[0]}.txt", err=True)
            return None
        return path.read_text(encoding="utf-8"), None, None, "text"
    if audio_dir is not None:
        path = find_answer_file(audio_dir, step, AUDIO_EXTENSIONS)
        if path is None:
            click.echo(f"No answer file {audio_dir / step_names(step)[0]}.* ({', '.join(AUDIO_EXTENSIONS)})", err=True)
            return None
        spoken = coach.transcribe(question, path, targets=targets)
        click.echo(f"  [{path.name}] {spoken.text}", file=out)
        return spoken.text, spoken, path, "upload"
    # Transcribed while the person speaks (like `practice --record`): at the auto-stop only the last pause's worth
    # is left, so the next question follows at once. The countdown is the view; the transcript is shown after.
    live = coach.start_live(question)
    try:
        samples = record_with_countdown(device or "", step.seconds, live.feed, out)
    except BaseException:  # Ctrl-C or a microphone error: stop the worker, then let it through
        live.cancel()
        raise
    spoken = live.finish(targets=targets)
    audio = samples.astype("float32") / 32768.0  # the recorder's int16 as the [-1, 1] floats decode and History take
    click.echo(f"  Heard: {spoken.text}", file=out)
    return spoken.text, spoken, audio, "voice"


def _targets(step: Step) -> Any:
    from .delivery import DeliveryTargets

    return DeliveryTargets(min_duration_s=min(20.0, step.seconds / 2), max_duration_s=step.seconds)


def countdown_text(elapsed_s: float, limit_s: float, warning_s: float) -> str:
    """What the countdown shows: the time left, and a warning in the last `warning_s` seconds."""
    left = max(0.0, limit_s - elapsed_s)
    text = f"{int(left // 60)}:{int(left % 60):02d} left"
    return text + ("  — wrap up: the recording stops at 0:00" if left <= warning_s else "")


def record_with_countdown(device: str, seconds: float, feed: Any, out: Any) -> np.ndarray:
    """Record until Enter or the limit, with the time left on stderr and a warning 10 s before the auto-stop."""
    from . import recorder
    from .mock import WARNING_S

    click.echo(f"Recording from {device}: {seconds:.0f} s — press Enter to stop early.", err=True)
    stop = threading.Event()
    recorder.stop_on_enter(stop)
    shown = [-1]
    warned = [False]

    def progress(elapsed_s: float, level: float) -> None:
        if not warned[0] and seconds - elapsed_s <= WARNING_S:
            warned[0] = True
            click.echo(f"\n  ! {WARNING_S:.0f} seconds left", err=True)
        if int(elapsed_s) > shown[0]:
            shown[0] = int(elapsed_s)
            click.echo(f"\r  ● {countdown_text(elapsed_s, seconds, WARNING_S)}  {recorder.meter(level)}", err=True,
                       nl=not sys.stderr.isatty())  # fmt: skip

    samples = recorder.record(seconds, stop=stop, on_progress=progress, on_block=feed)
    took = len(samples) / recorder.SAMPLE_RATE
    stopped = " (time is up: stopped at the limit)" if took >= seconds - 0.05 else ""
    click.echo(f"\nRecorded {took:.1f} s{stopped}.", err=True)
    return samples


def _show(outcome: Outcome, session: MockSession, out: Any) -> None:
    """Practice style: the scores after each answer. Interview style: nothing but the next question."""
    if session.data.style != "practice":
        return
    if outcome.score is not None:
        name = DIMENSION_NAMES[outcome.score.dimension]
        click.echo(f"  → follow-up: {name} {outcome.score.score}/4. {outcome.score.feedback}", file=out)
        return
    dims = ", ".join(f"{DIMENSION_NAMES[d.dimension]} {d.score}/4" for d in outcome.grade.dimensions if d.max_score)
    click.echo(f"  → {outcome.grade.overall}/100 · {dims}", file=out)


def _write(path: Path, text: str) -> None:
    from .errors import HistoryError

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"cannot write {path}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {path}", err=True)
