"""`infralens-coach eval FILE.csv`: how closely a grader tracks human grades (registered by cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click

GRADERS = ("keyword", "llm", "auto")
FIGURES = ("pearson", "spearman", "rmse", "qwk", "within_1", "length_r", "per_question_r")


def _fmt(value) -> str:
    return "n/a" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def _line(fig: dict) -> str:
    return "  ".join(f"{k} {_fmt(fig.get(k))}" for k in FIGURES)


def render_report(report: dict) -> str:
    scale = report["scale"]
    decided = ", ".join(f"{name} {count}" for name, count in report["decided_by"].items())
    out = [
        (
            f"eval {report['source']}: {report['n']} of {report['rows']} rows graded with {report['grader']},"
            f" decided by {decided} (human scale {scale['min']:g}-{scale['max']:g}; grader overall mapped linearly"
            " onto it)"
        ),
        "  " + _line(report),
        (
            f"  length: grader r {_fmt(report['length_r'])}, human r {_fmt(report['human_length_r'])}, "
            f"grader r with the human score held fixed {_fmt(report['length_r_given_human'])}"
        ),
    ]
    fallbacks = report.get("fallback_reasons") or {}
    if fallbacks:  # the grader under test did not decide these rows: say why
        out.append(
            f"  fell back to keyword on {report['fell_back']} rows: "
            + "; ".join(f"{reason} ({count})" for reason, count in fallbacks.items())
        )
    if report["ungraded"]:
        out.append(f"  ungraded rows (left out, never scored 0): {report['ungraded']}")
    if report.get("graded_against_bank_cards"):
        out.append(f"  rows graded against full bank cards: {report['graded_against_bank_cards']}")
    if "dimensions" in report:
        out.append("per dimension (grader 0-4 vs human label 0-4):")
        for dim, fig in report["dimensions"].items():
            out.append(
                f"  {dim:<15} n {fig['n']:>3}  r {_fmt(fig['pearson'])}  qwk {_fmt(fig['qwk'])}  "
                f"exact {_fmt(fig['exact'])}  within_1 {_fmt(fig['within_1'])}  "
                f"mean {_fmt(fig['mean_grader'])} vs {_fmt(fig['mean_human'])}"
            )
    if "calibration" in report:
        cal = report["calibration"]
        out.append(f"calibrated (isotonic, {cal['folds']} folds grouped by question, held-out figures):")
        out.append("  " + _line(cal["heldout"]))
    if "consistency" in report:
        c = report["consistency"]
        out.append(
            f"consistency over {c['samples']} gradings: "
            f"answers graded identically {_fmt(c['exact_agreement_answers'])}, "
            f"dimensions identical {_fmt(c['exact_agreement_dimensions'])}, "
            f"mean largest spread {_fmt(c['mean_max_spread_levels'])} levels"
        )
    if "probes" in report:
        p = report["probes"]
        out.append("probes (mean change of the 0-100 overall; padding and injection should be <= 0):")
        for name in ("padded", "term_list", "injected"):
            fig = p[name]
            out.append(
                f"  {name:<10} mean {_fmt(fig['mean_change'])}  max {_fmt(fig.get('max_change'))}  "
                f"raised {_fmt(fig.get('share_raised'))}"
            )
        out.append(f"  term_list vs the reference answer itself: {_fmt(p['term_list']['mean_change_vs_reference'])}")
        for w in p["injected"]["by_wording"]:
            out.append(f"    injected {_fmt(w['mean_change']):>7}  ({w['wording'][:70]})")
    out.append(f"speed: {report['seconds']:.2f} s to grade, {report['seconds_per_1000']:.2f} s per 1,000 answers")
    return "\n".join(out)


@click.command("eval")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--grader",
    "grader_name",
    type=click.Choice(GRADERS),
    default="keyword",
    show_default=True,
    help="Grader to evaluate (llm/auto need the LLM grader configured).",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option(
    "--calibrate",
    "calibrate_k",
    type=click.IntRange(2, None),
    metavar="K",
    help="Fit an isotonic map to the human scale in K folds grouped by question; report held-out figures.",
)
@click.option(
    "--save-calibration",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --calibrate: write the map fitted on all rows (a pack's calibration.json).",
)
@click.option("--probes", is_flag=True, help="Also grade padded, term-list and injected versions of each answer.")
@click.option(
    "--samples",
    type=click.IntRange(1, 10),
    default=1,
    metavar="K",
    help="Grade each answer K times and report exact agreement across runs.",
)
@click.option("--model", help="LLM for --grader llm/auto (any litellm model string); default INFRALENS_LLM_MODEL.")
@click.option(
    "--cards",
    "use_cards",
    is_flag=True,
    help="Grade rows whose question_id names a bank card against the full card, not the reference only.",
)
@click.pass_context
def eval_command(
    ctx: click.Context,
    file: Path,
    grader_name: str,
    as_json: bool,
    calibrate_k: int | None,
    save_calibration: Path | None,
    probes: bool,
    samples: int,
    model: str | None,
    use_cards: bool,
) -> None:
    """Measure a grader against human grades in FILE.csv (question, reference_answer, answer, score)."""
    from .errors import CoachError

    try:
        _eval(ctx, file, grader_name, as_json, calibrate_k, save_calibration, probes, samples, model, use_cards)
    except CoachError as exc:
        if as_json:  # stdout stays one JSON object, also on failure; the one-line message goes to stderr
            click.echo(json.dumps({"error": str(exc), "type": public_type(exc)}, ensure_ascii=False, indent=2))
        raise


def public_type(exc: Exception) -> str:
    """The error's class as errors.py names it: a grader's own subclass (LLMUnreachable) keeps the JSON stable."""
    from . import errors

    return next(c.__name__ for c in type(exc).__mro__ if c.__module__ == errors.__name__ or c is Exception)


def _eval(
    ctx: click.Context,
    file: Path,
    grader_name: str,
    as_json: bool,
    calibrate_k: int | None,
    save_calibration: Path | None,
    probes: bool,
    samples: int,
    model: str | None,
    use_cards: bool,
) -> None:
    from .config import Settings
    from .content import QuestionBank, load_rubric
    from .errors import AnswerError
    from .evaluation.dataset import RowQuestions, load_rows
    from .evaluation.graders import get_grader
    from .evaluation.runner import evaluate

    if save_calibration is not None and not calibrate_k:
        raise AnswerError("--save-calibration needs --calibrate K")
    rows = load_rows(file)
    state = ctx.find_root().obj or {}
    bank = None
    if use_cards:
        bank = state.get("bank") or QuestionBank.load(state.get("question_dirs", ()))
    rubric = bank.rubric if bank is not None else load_rubric()
    settings = state.get("settings") or Settings.from_env()
    grader = get_grader(grader_name, settings, model=model, samples=samples)
    notice = getattr(grader, "notice", None)
    if notice:
        click.echo(f"infralens-coach: {notice}", err=True)
    report, cmap = evaluate(
        rows,
        grader,
        rubric,
        RowQuestions(bank),
        calibrate_k=calibrate_k,
        probes=probes,
        samples=samples,
        source=str(file),
    )
    if save_calibration is not None and cmap is not None:
        cmap.save(save_calibration)
        report["calibration"]["saved_to"] = str(save_calibration)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(render_report(report))
        if save_calibration is not None:
            click.echo(f"calibration map written to {save_calibration}")
