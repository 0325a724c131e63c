"""What every CLI module shares: printing JSON, the question bank loaded once per command, and the command's Coach."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from .config import Settings
from .content import QuestionBank

if TYPE_CHECKING:
    from .coach import Coach
    from .grading.base import Grader


def emit_json(obj: object) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def settings_from(ctx: click.Context) -> Settings:
    """The Settings read once, when the command line was parsed."""
    settings: Settings = ctx.find_root().obj["settings"]
    return settings


def bank_from(ctx: click.Context) -> QuestionBank:
    """The bank, loaded once per command: built-in cards plus --questions / INFRALENS_QUESTIONS packs."""
    state = ctx.find_root().obj
    if state.get("bank") is None:
        state["bank"] = QuestionBank.load(state["question_dirs"])
    bank: QuestionBank = state["bank"]
    return bank


@contextmanager
def coach_from(ctx: click.Context, grader: Grader | None = None, *, keep: bool = True) -> Iterator[Coach]:
    """The command's one Coach: the bank, `grader` (None: the configured chain) and, unless `keep` is off
    (--no-save), the history, closed when the command ends."""
    from .coach import Coach
    from .history import HistoryStore

    settings = settings_from(ctx)
    store = HistoryStore.open(settings) if keep else None
    try:
        yield Coach(bank_from(ctx), settings, grader=grader, store=store)
    finally:
        if store is not None:
            store.close()
