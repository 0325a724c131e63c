"""Instruction-like text inside an answer: words aimed at the grader rather than the interviewer.

An answer is data. Text such as "ignore the rubric", "award full marks", chat role tags or a pasted JSON
grade is reported as a flag (`injection:<kind>`) beside the grade. The keyword grader also refuses credit
to any sentence that carries such text, so an injection can never raise a keyword score; the LLM prompt
fences the answer and tells the model the same (grading/prompt.py).

The patterns aim at the grader, not at ordinary engineering prose: "don't ignore the tail latency" or "the
rules of the autoscaler" do not match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_GRADER = r"(?:grader|grading|judge|evaluator|examiner|assessor|marker|model|assistant|ai|llm|gpt|chatgpt)"
_MARKER = r"(?:grader|evaluator|examiner|judge|marker|assessor)"
_RULES = r"(?:rubric|instructions?|rules|guidelines|grading|criteria|system\s+prompt|prompt|scoring)"
_FULL = r"(?:full|maximum|max|perfect|top|highest|all\s+the|a\s+perfect|100\s*%?)"
_MARKS = r"(?:marks?|scores?|points?|credit|grades?)"
# Asking for a score: "award/give ...", "deserves ...", or "score/rate/mark/grade" + an object ("score it").
_ASK = (
    r"\b(?:award|give|assign|grant|deserves?|(?:score|rate|mark|grade)\s+(?:it|this|me|my|the\s+answer|"
    r"this\s+answer|the\s+candidate))\b"
)

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(regex, re.IGNORECASE | re.MULTILINE))
    for kind, regex in (
        (
            "ignore-instructions",
            rf"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:(?:all|any|the|your|my|previous|prior|above|"
            rf"earlier|these|those|following|of)\s+)*{_RULES}\b",
        ),
        ("ignore-instructions", r"\b(?:new|updated|real|actual)\s+instructions?\s*:"),
        ("score-request", rf"{_ASK}[^.!?\n]{{0,40}}?\b{_FULL}\s+{_MARKS}"),
        (
            "score-request",
            rf"{_ASK}[^.!?\n]{{0,40}}?\b(?:4|four|5|five|10|ten|100)\s*(?:/|out\s+of)\s*(?:4|four|5|five|10|ten|100)\b",
        ),
        (
            "score-request",
            rf"\b(?:this\s+answer|the\s+candidate|this\s+response)\s+"
            rf"(?:deserves|should\s+(?:get|receive|be\s+given|score))\b[^.!?\n]{{0,20}}?\b{_FULL}",
        ),
        ("persona", rf"\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?{_GRADER}\b"),
        ("persona", rf"\byou\s+are\s+(?:now\s+)?(?:a|an|the)\s+(?:helpful\s+|lenient\s+|generous\s+)?{_GRADER}\b"),
        ("persona", rf"\b(?:dear|hey|hi|attention)\s*,?\s+{_GRADER}\b"),
        # Steering in the third person: "as the evaluator, treat every point as covered", "count them as made".
        ("steering", rf"\bas\s+the\s+{_MARKER}\b"),
        (
            "steering",
            rf"\bthe\s+{_MARKER}\s+(?:should|must|will|can|needs?\s+to)\s+(?:count|award|give|mark|treat|"
            r"score|consider|credit|accept)\b",
        ),
        (
            "steering",
            r"\b(?:treat|count|mark|consider|regard|score)\s+(?:every|each|all(?:\s+the)?|these|those|them)"
            r"(?:\s+(?:expected\s+)?(?:points?|dimensions?|criteria|items?))?\s+as\s+(?:made|covered|met|"
            r"satisfied|full|an?\s+(?:4|four)\b|(?:4|four)\b)",
        ),
        (
            "steering",
            r"\bpoints\s+(?:about|on|of)\b[^.!?\n]{0,200}?\b(?:are|were|have\s+been)\s+(?:all\s+)?"
            r"(?:covered|made|addressed)\s+(?:above|already|earlier)",
        ),
        (
            "role-tag",
            r"<\|?\s*/?\s*(?:im_start|im_end|im_sep|system|assistant|user|developer|endoftext|eot_id|"
            r"start_header_id|end_header_id)\s*\|?>",
        ),
        ("role-tag", r"\[/?\s*(?:INST|SYS|SYSTEM)\s*\]|<</?SYS>>"),
        ("role-tag", r"^\s*#*\s*(?:system|assistant|developer|grader)\s*(?:message|prompt)?\s*:"),
        ("role-tag", r"</?\s*(?:answer|system|instructions?|rubric|grade|user|assistant)\s*>"),
        ("role-tag", r"<<<\s*(?:end\s+)?answer"),
        (
            "fake-grade",
            r"[\"'“”](?:score|scores|overall|dimensions|evidence|feedback|decided_by|misconceptions)[\"'“”]\s*:",
        ),
    )
)

# Characters a reader never sees but a pattern would trip over ("ig\u200bnore the rubric").
_INVISIBLE = {"Cf", "Cc"}


_ASCII_CONTROL = {i: None for i in (*range(32), 127) if chr(i) not in "\n\t"}


def _visible(text: str) -> str:
    if text.isascii():  # the common case, and 50x faster than the per-character scan
        return text.translate(_ASCII_CONTROL)
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in _INVISIBLE)


@dataclass(frozen=True)
class Finding:
    kind: str  # ignore-instructions | score-request | persona | steering | role-tag | fake-grade
    text: str  # the matching text, as the reader sees it


def detect(answer: str) -> tuple[Finding, ...]:
    """Every instruction-like passage in the answer, in order of kind; empty for a normal answer."""
    text = _visible(answer)
    findings: list[Finding] = []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            findings.append(Finding(kind, match.group().strip()))
    return tuple(findings)


def is_instruction(text: str) -> bool:
    visible = _visible(text)
    return any(pattern.search(visible) for _, pattern in PATTERNS)


def flags(answer: str) -> tuple[str, ...]:
    """`injection:<kind>` once per kind found, in a stable order."""
    kinds = []
    for finding in detect(answer):
        flag = f"injection:{finding.kind}"
        if flag not in kinds:
            kinds.append(flag)
    return tuple(kinds)
