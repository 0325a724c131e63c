"""What every CLI module shares: printing JSON and the question bank loaded once per command."""

from __future__ import annotations

import json

import click

from .content import QuestionBank


def emit_json(obj: object) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def bank_from(ctx: click.Context) -> QuestionBank:
    """The bank, loaded once per command: built-in cards plus --questions / INFRALENS_QUESTIONS packs."""
    state = ctx.find_root().obj
    if state.get("bank") is None:
        state["bank"] = QuestionBank.load(state["question_dirs"])
    return state["bank"]
