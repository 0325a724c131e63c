"""Turn an LLM's reply into a checked grade: tolerant about the wrapping, strict about the content.

Tolerant: ```json fences and prose around the object are stripped. Strict: every assessed dimension
exactly once, integer scores 0-4, the required fields with the right types. Anything else raises
GradeParseError, which the chain turns into a labelled fallback, never a zero.

Evidence is checked against the answer: a quote counts when its words occur, in order and contiguous, in
the answer (case, punctuation, curly quotes, dashes and spacing may differ; "..." may join two pieces).
The answer's own text is kept as the evidence; quotes that do not occur are dropped and counted. A quote
carrying text aimed at the grader (grading/injection.py) is never evidence: injected text earns nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ..errors import GradeParseError
from .injection import is_instruction

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_WORD = re.compile(r"[^\W_]+")
_ELLIPSIS = re.compile(r"\.\.\.+|…|\[\.\.\.\]")
MAX_SCORE = 4


@dataclass(frozen=True)
class ParsedDimension:
    dimension: str
    score: int
    evidence: tuple[str, ...]
    missing: tuple[str, ...]
    feedback: str


@dataclass(frozen=True)
class ParsedGrade:
    dimensions: tuple[ParsedDimension, ...]
    misconceptions: tuple[tuple[str, str], ...]  # (misconception id, quote from the answer)
    follow_up: str
    summary: str
    dropped_quotes: int
    unsupported: tuple[str, ...]  # dimensions scored above 0 whose every quote was dropped


# ---------------------------------------------------------------- extraction


def extract_json(reply: str | None) -> dict[str, Any]:
    """The grade object inside a reply: bare JSON, fenced JSON, or JSON with prose around it."""
    if reply is None or not reply.strip():
        raise GradeParseError("the LLM returned an empty reply")
    candidates = [reply.strip()] + [m.group(1).strip() for m in _FENCE.finditer(reply)]
    for text in candidates:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return data
    # Prose around the object: decode from each "{" and keep the first object that looks like a grade.
    decoder = json.JSONDecoder()
    first = None
    for match in re.finditer(r"\{", reply):
        try:
            data, _ = decoder.raw_decode(reply, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            if "dimensions" in data:
                return data
            first = first if first is not None else data
    if first is not None:
        return first
    raise GradeParseError("the LLM reply holds no JSON object")


def _field(obj: dict[str, Any], name: str, where: str) -> object:
    if name not in obj:
        raise GradeParseError(f"the LLM grade has no {where}{name!r}")
    return obj[name]


def _text(obj: dict[str, Any], name: str, where: str) -> str:
    value = _field(obj, name, where)
    if not isinstance(value, str):
        raise GradeParseError(f"the LLM grade's {where}{name!r} is not text")
    return value


def _texts(obj: dict[str, Any], name: str, where: str) -> list[str]:
    value = _field(obj, name, where)
    if not isinstance(value, list):
        raise GradeParseError(f"the LLM grade's {where}{name!r} is not a list")
    if not all(isinstance(v, str) for v in value):
        raise GradeParseError(f"the LLM grade's {where}{name!r} holds something other than text")
    return value


def _score(value: object, dim: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GradeParseError(f"the LLM grade's score for {dim} is not a number: {str(value)[:20]!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise GradeParseError(f"the LLM grade's score for {dim} is not a whole number: {value}")
        value = int(value)
    if not 0 <= value <= MAX_SCORE:
        raise GradeParseError(f"the LLM grade's score for {dim} is out of range 0-{MAX_SCORE}: {value}")
    return value


# ---------------------------------------------------------------- a copied template

TEMPLATE_COPY = "the LLM copied the reply template instead of grading"
_PLACEHOLDER = re.compile(r"[\s.…_\-?*]+|<[^<>]*>|\[[^\[\]]*\]|\{[^{}]*\}")
_PLACEHOLDER_WORDS = {"string", "text", "quote", "quotes", "evidence", "feedback", "placeholder", "todo", "tbd", "xxx"}


def _is_placeholder(value: object) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(_PLACEHOLDER.fullmatch(text)) or text.casefold().strip(".:") in _PLACEHOLDER_WORDS


def dimension_items(data: dict[str, Any]) -> list[Any]:
    """The "dimensions" entries as a list of objects with an "id": the schema's object keyed by dimension id,
    or the older list of objects (some providers ignore the schema)."""
    if "dimensions" not in data:
        raise GradeParseError("the LLM grade has no 'dimensions'")
    value = data["dimensions"]
    if isinstance(value, dict):
        return [{"id": key} | item if isinstance(item, dict) else item for key, item in value.items()]
    if not isinstance(value, list):
        raise GradeParseError("the LLM grade's 'dimensions' is neither an object nor a list")
    return value


def reject_template(data: dict[str, Any], dimensions: tuple[str, ...]) -> None:
    """GradeParseError when the reply is the prompt's template rather than a grade: placeholder values ("...",
    "<quote>", "string") where quotes and sentences belong, or one boilerplate feedback repeated on every dimension
    it scores."""
    items = [i for i in dimension_items(data) if isinstance(i, dict)]
    for item in items:
        where = f"{str(item.get('id'))[:40]} "
        for key in ("evidence", "missing"):
            values = item.get(key)
            for value in values if isinstance(values, list) else []:
                if _is_placeholder(value):
                    raise GradeParseError(f"{TEMPLATE_COPY}: placeholder {value.strip()[:20]!r} in {where}{key}")
        if _is_placeholder(item.get("feedback")) and str(item.get("feedback")).strip():
            raise GradeParseError(f"{TEMPLATE_COPY}: placeholder feedback {item['feedback'].strip()[:20]!r}")
    for key in ("follow_up", "summary"):
        if _is_placeholder(data.get(key)) and str(data.get(key)).strip():
            raise GradeParseError(f"{TEMPLATE_COPY}: placeholder {key} {data[key].strip()[:20]!r}")
    # One sentence pasted on every dimension, while scoring some of them: the model did not read the answer. (The
    # same "does not address this" on every dimension of an off-topic answer scored 0 is a fair grade.)
    assessed = [i for i in items if i.get("id") in dimensions]
    feedback = {" ".join(str(i.get("feedback", "")).split()).casefold() for i in assessed}
    scored = any(i.get("score") not in (0, None) for i in assessed)
    if len(dimensions) > 1 and len(assessed) >= len(dimensions) and len(feedback) == 1 and feedback != {""} and scored:
        raise GradeParseError(f"{TEMPLATE_COPY}: the same feedback on every dimension ({feedback.pop()[:60]!r})")


# ---------------------------------------------------------------- validation


def validate(
    data: dict[str, Any], dimensions: tuple[str, ...], misconception_ids: tuple[str, ...], answer: str
) -> ParsedGrade:
    """Check the object against the expected shape and the answer; raise GradeParseError if it is not a grade."""
    reject_template(data, dimensions)
    items = dimension_items(data)
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise GradeParseError("the LLM grade has a dimension entry without an id")
        dim = item["id"].strip()
        if dim not in dimensions:
            raise GradeParseError(f"the LLM grade has an unknown dimension {dim[:40]!r}")
        if dim in seen:
            raise GradeParseError(f"the LLM grade scores {dim} twice")
        seen[dim] = item
    absent = [d for d in dimensions if d not in seen]
    if absent:
        raise GradeParseError(f"the LLM grade is missing dimension(s): {', '.join(absent)}")

    index = AnswerIndex(answer)
    dropped = 0
    parsed, unsupported = [], []
    for dim in dimensions:
        item = seen[dim]
        where = f"{dim} "
        if "score" not in item:
            raise GradeParseError(f"the LLM grade has no score for {dim}")
        score = _score(item["score"], dim)
        quotes = _texts(item, "evidence", where)
        missing = _texts(item, "missing", where)
        feedback = _text(item, "feedback", where)
        kept = []
        for quote in quotes:
            found = index.find(quote)
            if found is None:
                dropped += 1
            elif not is_instruction(found) and found not in kept:
                kept.append(found)
        if score > 0 and quotes and not kept:
            unsupported.append(dim)
        parsed.append(
            ParsedDimension(dim, score, tuple(kept), tuple(m.strip() for m in missing if m.strip()), feedback.strip())
        )

    hits: list[tuple[str, str]] = []
    for item in _field_list(data, "misconceptions"):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise GradeParseError("the LLM grade has a misconception entry without an id")
        evidence = item.get("evidence")
        if item["id"] not in misconception_ids:
            continue  # not one of the card's misconceptions: nothing to report against
        found = index.find(evidence) if isinstance(evidence, str) else None
        if found is None:
            dropped += 1
            continue
        if item["id"] not in (h[0] for h in hits):
            hits.append((item["id"], found))

    return ParsedGrade(
        dimensions=tuple(parsed),
        misconceptions=tuple(hits),
        follow_up=_text(data, "follow_up", "").strip(),
        summary=_text(data, "summary", "").strip(),
        dropped_quotes=dropped,
        unsupported=tuple(unsupported),
    )


def _field_list(data: dict[str, Any], name: str) -> list[Any]:
    if name not in data:
        raise GradeParseError(f"the LLM grade has no {name!r}")
    value = data[name]
    if not isinstance(value, list):
        raise GradeParseError(f"the LLM grade's {name!r} is not a list")
    return value


# ---------------------------------------------------------------- quotes


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(str.maketrans("‹›", "<>"))
    return text.casefold()


class AnswerIndex:
    """The answer's words with their character positions, for finding quotes loosely but exactly."""

    def __init__(self, answer: str):
        self.answer = answer
        # Invisible characters (zero-width spaces...) are skipped, so "ig\u200bnore" reads as one word.
        kept = [(i, c) for i, c in enumerate(answer) if unicodedata.category(c) not in ("Cf", "Co", "Cs")]
        visible = "".join(c for _, c in kept)
        self.words: list[str] = []
        self.spans: list[tuple[int, int]] = []  # character span of each word in the original answer
        for match in _WORD.finditer(visible):
            span = (kept[match.start()][0], kept[match.end() - 1][0] + 1)
            for word in _WORD.findall(_fold(match.group())):  # NFKC may split one match ("x²" -> "x", "2")
                self.words.append(word)
                self.spans.append(span)

    def _locate(self, words: list[str], start: int) -> int | None:
        n = len(words)
        for i in range(start, len(self.words) - n + 1):
            if self.words[i : i + n] == words:
                return i
        return None

    def find(self, quote: str) -> str | None:
        """The answer's own text for this quote, or None when the quote does not occur in the answer.

        A quote elided with "..." is found piece by piece, in order, and returned as the answer's pieces
        joined by " … ".
        """
        pieces = [_WORD.findall(_fold(piece)) for piece in _ELLIPSIS.split(quote)]
        pieces = [p for p in pieces if p]
        if not pieces:
            return None
        found, at = [], 0
        for piece in pieces:
            begin = self._locate(piece, at)
            if begin is None:
                return None
            at = begin + len(piece)
            found.append(self.answer[self.spans[begin][0] : self.spans[at - 1][1]])
        return " … ".join(found)
