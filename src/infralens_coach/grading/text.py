"""Text normalisation and phrase matching for the keyword grader (format: docs/content-format.md).

Answer and phrases go through the same steps — lower case, contractions opened, letters split from digits,
number words to digits, growth rates to one word ("O(n^2)", "n squared": quadratic), British -ise to -ize,
Snowball stems — and are then compared with the spaces removed, so "all-reduce", "all reduce" and "allreduce"
are one thing. A match must begin on a word start and end on a word end (a trailing "s" or, after a long word, up
to three letters of suffix, are tolerated).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import snowballstemmer

# One Snowball stemmer per thread: it keeps the word being stemmed in itself, so a shared one gave wrong stems and
# IndexErrors when the web app graded several answers at once (tests/test_concurrency.py).
_STEMMERS = threading.local()


def _stemmer() -> Any:  # snowballstemmer is untyped
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer


_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
# Long unpunctuated speech is cut into overlapping windows so "same sentence" stays meaningful.
MAX_SENTENCE_TOKENS = 50
WINDOW_TOKENS = 35
WINDOW_STRIDE = 18

NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
    "thousand": "1000",
}
_NEGATED = {  # the word before an "n't" (the tokenizer sees "don" + "t")
    "don": "do",
    "doesn": "does",
    "didn": "did",
    "isn": "is",
    "aren": "are",
    "wasn": "was",
    "weren": "were",
    "won": "will",
    "shouldn": "should",
    "wouldn": "would",
    "couldn": "could",
    "haven": "have",
    "hasn": "has",
    "can": "can",
    "mustn": "must",
    "ain": "is",
}
# Function words: a sentence made of content words only is a term list, not an explanation.
FUNCTION_WORDS = frozenset(
    """a an the this that these those it its they them their there here is are was were be been being am
    do does did done have has had having will would should could can may might must shall of to in on at by
    for from with without into onto over under about as than then so because since if when while whereas
    where which who whom whose what why how and or but not no nor also just only even still yet very more
    most less least much many some any each every all both either neither other another such same own
    i you he she we me him her us my your our one ones instead rather whether until unless though although
    up down out off again once before after during between through against per via like get gets got
    make makes made let lets mean means need needs across within behind along among toward towards upon
    around beyond""".split()
)


def _fold(word: str) -> str:
    """British -ise/-isation to -ize/-ization, so both spellings stem alike."""
    for uk, us in (("isation", "ization"), ("ising", "izing"), ("ised", "ized"), ("ises", "izes"), ("ise", "ize")):
        if word.endswith(uk) and len(word) > len(uk) + 2:
            return word[: -len(uk)] + us
    return word


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    word = NUMBER_WORDS.get(word, word)
    if word.isdigit():
        return word
    if len(word) == 4 and word.endswith("pus"):  # gpus, cpus, tpus: Snowball keeps their "s"
        word = word[:-1]
    return cast(str, _stemmer().stemWord(_fold(word)))


@dataclass(frozen=True)
class Token:
    raw: str  # lower-cased surface word (after opening contractions)
    stem: str
    start: int  # character span in the text that was tokenized
    end: int


# Growth rates said in notation or in words are one word each: a key's "O(n)" is a student's "linear",
# "O(n^2)" is "n squared". An expression of another shape keeps its own tokens.
_GROWTH_EXPR = r"(?:[^()]|\([^()]*\))+"
_GROWTH = re.compile(
    rf"(?<![A-Za-z])(?:big[\s-]*)?[OoΘθ]\s*\(\s*(?P<inside>{_GROWTH_EXPR})\)"
    r"|(?<![A-Za-z])big[\s-]*o\s+of\s+(?P<spoken>n\s+log\s+n|log\s+n|n\s+squared|n|one|1)(?![A-Za-z0-9])"
    r"|(?<![A-Za-z0-9])(?P<bare>n\s*\*?\s*(?:log|lg)\s*\(?\s*n\s*\)?|nlogn|n\s*\^\s*[23]|n\s*\*\s*n|n\s+squared"
    r"|n\s+cubed|(?:log|lg)2?\s*\(?\s*n\s*\)?|2\s*\^\s*n)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_GROWTH_WORDS = {
    "1": "constant",
    "one": "constant",
    "n": "linear",
    "logn": "logarithmic",
    "nlogn": "linearithmic",
    "n^2": "quadratic",
    "n2": "quadratic",
    "nn": "quadratic",
    "nsquared": "quadratic",
    "n^3": "cubic",
    "ncubed": "cubic",
    "2^n": "exponential",
}


def growth_word(expression: str) -> str | None:
    """ "n log n" -> "linearithmic", "log(n)" -> "logarithmic", "n^2" -> "quadratic"; None for another shape."""
    squashed = re.sub(r"[\s*()_]", "", expression.lower()).replace("lg", "log").replace("log2", "log")
    return _GROWTH_WORDS.get(squashed)


def _growth_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for match in _GROWTH.finditer(text):
        expression = match.group("inside") or match.group("spoken") or match.group("bare")
        word = growth_word(expression)
        if word is not None:
            spans.append((match.start(), match.end(), word))
    return spans


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    growth = _growth_spans(text)
    for match in _TOKEN.finditer(text):
        inside = next((g for g in growth if g[0] <= match.start() < g[1]), None)
        if inside is not None:
            if not tokens or tokens[-1].start != inside[0]:
                tokens.append(Token(inside[2], stem(inside[2]), inside[0], inside[1]))
            continue
        word = match.group().lower()
        # "GPUs", "SLOs", "APIs": an upper-case acronym with a plural s.
        surface = match.group()
        if len(surface) >= 3 and surface[-1] == "s" and surface[:-1].isupper():
            word = word[:-1]
        if word == "t" and tokens and tokens[-1].raw in _NEGATED and match.start() == tokens[-1].end + 1:
            prev = tokens[-1]
            tokens[-1] = Token(_NEGATED[prev.raw], stem(_NEGATED[prev.raw]), prev.start, prev.end)
            word = "not"
        tokens.append(Token(word, stem(word), match.start(), match.end()))
    return tokens


@dataclass(frozen=True)
class Span:
    """A sentence (or a window of a run-on one): its text and its squashed stems."""

    text: str  # the sentence as the grader reads it (the window's words for a run-on)
    tokens: tuple[Token, ...]
    squashed: str  # stems joined
    starts: frozenset[int]
    ends: frozenset[int]
    raw_squashed: str  # surface words joined: catches compounds whose stems differ ("dataloader")
    raw_starts: frozenset[int]
    raw_ends: frozenset[int]
    written: str = ""  # the sentence as written, when it was read otherwise (grading/spelling.py)

    @property
    def quote(self) -> str:
        """What a grade quotes: the answer's own words."""
        return self.written or self.text

    @property
    def function_word_count(self) -> int:
        return sum(1 for t in self.tokens if t.raw in FUNCTION_WORDS)

    def contains(self, part: Part) -> bool:
        return _find(self.squashed, self.starts, self.ends, part.squashed, part.last_len) or _find(
            self.raw_squashed, self.raw_starts, self.raw_ends, part.raw_squashed, part.last_len
        )


def _find(hay: str, starts: frozenset[int], ends: frozenset[int], needle: str, last_len: int) -> bool:
    at = hay.find(needle)
    while at != -1:
        if at in starts and _ends_ok(hay, ends, at + len(needle), last_len):
            return True
        at = hay.find(needle, at + 1)
    return False


def _ends_ok(hay: str, ends: frozenset[int], end: int, last_len: int) -> bool:
    if end in ends:
        return True
    nxt = min((e for e in ends if e > end), default=None)
    if nxt is None:
        return False
    rest = hay[end:nxt]
    return rest == "s" or (last_len >= 5 and len(rest) <= 3)


def _squash(words: list[str]) -> tuple[str, frozenset[int], frozenset[int]]:
    starts, ends, pos = set(), set(), 0
    for word in words:
        starts.add(pos)
        pos += len(word)
        ends.add(pos)
    return "".join(words), frozenset(starts), frozenset(ends)


def _span(text: str, tokens: list[Token], written: str = "") -> Span:
    stems = _squash([t.stem for t in tokens])
    raws = _squash([t.raw for t in tokens])
    return Span(text.strip(), tuple(tokens), *stems, *raws, written.strip() if written != text else "")


def split_spans(text: str, read: Callable[[str], str] | None = None) -> list[Span]:
    """Sentences of the answer; sentences longer than WINDOW_TOKENS become overlapping windows. `read`: how the
    grader reads a sentence (grading/spelling.py); each span keeps what was written for its quote."""
    spans: list[Span] = []
    for piece in _SENTENCE_END.split(text):
        seen = read(piece) if read is not None else piece
        tokens = tokenize(seen)
        if not tokens:
            continue
        if len(tokens) <= MAX_SENTENCE_TOKENS:
            spans.append(_span(seen, tokens, piece))
            continue
        written = tokenize(piece) if seen != piece else tokens
        for begin in range(0, len(tokens) - WINDOW_STRIDE, WINDOW_STRIDE):
            window = tokens[begin : begin + WINDOW_TOKENS]
            mine = seen[window[0].start : window[-1].end]
            if len(written) == len(tokens):  # the same words, some spelt otherwise: quote the window as written
                mine_written = piece[written[begin].start : written[begin + len(window) - 1].end]
            else:
                mine_written = mine
            spans.append(_span(mine, window, mine_written))
    return spans


@dataclass(frozen=True)
class Part:
    squashed: str
    raw_squashed: str
    last_len: int


@dataclass(frozen=True)
class Phrase:
    source: str
    parts: tuple[Part, ...]

    def matches(self, span: Span) -> bool:
        return all(span.contains(part) for part in self.parts)


@lru_cache(maxsize=20_000)
def compile_phrase(source: str) -> Phrase:
    parts = []
    for raw in source.split("&"):
        tokens = tokenize(raw)
        if tokens:
            parts.append(Part("".join(t.stem for t in tokens), "".join(t.raw for t in tokens), len(tokens[-1].stem)))
    return Phrase(source, tuple(parts))
