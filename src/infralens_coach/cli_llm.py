"""`infralens-coach llm check`: can the configured LLM grade? (The logic is grading/check.py, shared with the app.)"""

from __future__ import annotations

import click

from .cli_common import bank_from, emit_json, settings_from


@click.group("llm")
def llm_group() -> None:
    """The LLM grader: check that the configured model can grade."""


@llm_group.command("check")
@click.option("--model", help="litellm model string to check instead of INFRALENS_LLM_MODEL.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def check_command(ctx: click.Context, model: str | None, as_json: bool) -> None:
    """Grade a strong and an off-topic answer with the LLM and report what works.

    Exit code 0 only when the LLM can grade (reachable, a valid grade for both answers, the strong one scored
    higher); 1 otherwise, with what to change.
    """
    from .grading.check import check_llm

    report = check_llm(settings_from(ctx), bank_from(ctx), model=model)
    if as_json:
        emit_json(report.to_json())
    else:
        click.echo(report.text())
    ctx.exit(0 if report.can_grade else 1)
