"""The texts a sentence is weighed against when it may assert a card's mistake: the misconception's own wordings
(its text, the ways candidates claim it, the card's naming of the mistake) and the card's expected points.
"""

from __future__ import annotations

import re

from ..content import Misconception, Question
from .derive import points_of
from .stance import WARNING_STEMS, sentence_stems
from .text import tokenize


def expected_texts(question: Question) -> list[str]:
    """The card's expected points, less the common-mistake ones (they say what the misconception says, as a
    warning): what a sentence asserting the mistake is weighed against."""
    return [p.text for dim, pts in points_of(question).items() if dim != "common_mistake" for p in pts]


# A sentence of the card's answer that corrects the mistake ("containerization is not enough by itself", "more than
# only request latency", "but workloads still need...") sits as near the mistake as the mistake's own words do.
CORRECTING = re.compile(r"\b(?:not|no|never|only|just|but|still|enough|more than|rather|instead)\b", re.I)


def reference_sentences(question: Question) -> list[str]:
    """The sentences of the card's own answer that state, not correct. A sentence that restates one of them
    ("Kubernetes pays off when many teams want shared scheduling and autoscaling") says what the card recommends,
    however near the mistake's words it also sits ("Kubernetes automatically makes ML scalable")."""
    return [s for s in _sentences(question.reference_text) if s.strip() and not CORRECTING.search(s) and not _warns(s)]


def _warns(sentence: str) -> bool:
    return bool(sentence_stems(tokenize(sentence)) & WARNING_STEMS)


def mistake_wording(question: Question) -> str | None:
    """The card's own naming of the mistake: the first sentence of its common-mistake text ("Only monitoring GPU
    utilization and HTTP status."), which the next sentences explain."""
    if not question.common_mistake:
        return None
    return _sentences(question.common_mistake.strip())[0]


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


def wordings(question: Question, misconception: Misconception, *, claims: bool = True) -> list[str]:
    """The texts a sentence asserting this misconception sits near: its own, the other ways the card says it
    is claimed, and the card's naming of the mistake when this is the card's first misconception (the one the
    common-mistake text is about)."""
    mistake = mistake_wording(question)
    said = [misconception.text, *(misconception.claims if claims else ())]
    if mistake is None or misconception is not question.misconceptions[0]:
        return said
    return [*said, mistake]
