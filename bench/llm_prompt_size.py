"""LLM grader prompt size per card, in tokens: the target is <= 2,500 for the largest card.

For each card it counts the messages the LLM grader sends (rules + rubric + card, and the answer fenced
between the delimiters) with litellm's tokenizer for the model, plus the JSON schema sent as
`response_format` to providers that take one. The answer is the card's hand-written `full` answer from
tests/answers (a strong spoken answer of about two minutes).
Run: python bench/llm_prompt_size.py [MODEL]   (default openai/gpt-4o-mini; nothing is sent anywhere)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from infralens_coach.content import QuestionBank
from infralens_coach.grading.llm import count_tokens
from infralens_coach.grading.prompt import build_messages, response_schema

ANSWERS_DIR = Path(__file__).resolve().parents[1] / "tests" / "answers"
TARGET = 2500


def full_answer(card: int) -> str:
    path = ANSWERS_DIR / f"card_{card:02d}.yaml"
    return yaml.safe_load(path.read_text())["answers"]["full"] if path.exists() else ""


def prompt_tokens(messages: list[dict[str, str]], model: str, *, schema: dict | None = None) -> int:
    """Prompt size with the model's tokenizer as litellm knows it (loads litellm; sends nothing)."""
    return count_tokens(model, messages, json.dumps(schema) if schema else "")


def main(model: str = "openai/gpt-4o-mini") -> None:
    bank = QuestionBank.load()
    print(f"model {model} (litellm's tokenizer)")
    print(f"{'card':>4}  {'id':<34} {'no answer':>9} {'answer':>7} {'with answer':>11} {'+schema':>8}")
    rows = []
    for q in bank.questions:
        answer = full_answer(q.card)
        messages = build_messages(q, bank.rubric, answer)
        bare = prompt_tokens(build_messages(q, bank.rubric, ""), model)
        full = prompt_tokens(messages, model)
        schema = prompt_tokens(messages, model, schema=response_schema(q))
        rows.append((q, bare, full, schema))
        print(f"{q.card:>4}  {q.id:<34} {bare:>9} {full - bare:>7} {full:>11} {schema:>8}")
    q, bare, full, schema = max(rows, key=lambda r: r[3])
    print(
        f"\nlargest: card {q.card} ({q.id}): {bare} tokens without the answer, {full} with it, "
        f"{schema} with the schema; target <= {TARGET}: {'ok' if schema <= TARGET else 'OVER'}"
    )
    print(f"mean with answer and schema: {sum(r[3] for r in rows) / len(rows):.0f}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
