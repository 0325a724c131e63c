"""Graded coverage: how much of one expected point an answer sentence makes, by wording and by meaning.

A card point is **made** when one of its phrases matches in a sentence (docs/content-format.md), or when a
sentence means the same thing: its sentence-embedding cosine with the point's text reaches `MEANING_MATCH`
and the point is (nearly) the sentence's closest expected point. Short of that, a card point can be **partly
made** (at most `MAX_PARTIAL`), from graded credit:
- the share of the point's key words (content-word stems, without the question's own words and without words
  about answering) that the sentence uses, full at `FULL_WORD_SHARE`, weighted 1 - `MEANING_WEIGHT`;
- how far the cosine climbs from `MEANING_FLOOR` to `MEANING_TOP`, weighted `MEANING_WEIGHT`;
and a sentence further than `MIN_COSINE` from the point earns none of it (filler that shares a word or two).
A point derived from a reference sentence has no phrases: graded credit is all it has, up to a whole point.

The thresholds were chosen on the tune splits of eval/ (cs-tune.csv, paraphrase-tune.csv and the odd cards of
labelled.csv, with tests/answers as constraints) and are reported on the held-out splits (eval/README.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .derive import GENERIC, fallback_words
from .synonyms import canonical
from .text import FUNCTION_WORDS, Part, Span, stem, tokenize

MEANING_MATCH = 0.60  # a sentence this close (cosine) to a card point makes it by meaning
MEANING_FLOOR = 0.30  # cosine of an unrelated sentence from the same field: no meaning credit
MIN_COSINE = 0.35  # with a model loaded, a sentence further than this from a point earns less of it...
COSINE_RAMP = 0.10  # ...down to none at MIN_COSINE - COSINE_RAMP
MEANING_TOP = 0.70  # cosine that earns full meaning credit
FULL_WORD_SHARE = 0.30  # share of a point's key words that earns full word credit
MEANING_WEIGHT = 0.2  # graded credit: this much meaning, the rest words
MIN_PARTIAL = 0.30  # a card point's graded credit below this counts as nothing
MAX_PARTIAL = 0.5  # a card point that is only partly made earns at most this
MADE_CREDIT = 0.75  # a derived point with this much graded credit counts as made
# A derived point's credit fades when the sentence is about as close to the question as to the point: full when
# it is BEYOND_RAMP - BEYOND_SLACK closer to the point, none when it is BEYOND_SLACK closer to the question.
BEYOND_SLACK = 0.2
BEYOND_RAMP = 0.3
FRAGMENT_WORDS = 6  # a derived point of at most this many words is a fragment of an answer key (fragment_credit)
FRAGMENT_WORD_SHARE = 0.75  # share of a fragment's key words that earns full word credit

# Words in a card point's text that describe the answer rather than the subject ("Warns against ...").
META_WORDS = frozenset(  # and vague words filler shares with references ("it depends on the team")
    stem(w)
    for w in """warn warns warning against names name describes describe uses use mentions says explains
    answer candidate example examples such team teams situation situations depend depends way ways thing things
    lot lots everyone everybody everything overall picture experience question""".split()
) | frozenset(stem(w) for w in GENERIC)


def key_stems(text: str, exclude: frozenset[str] = frozenset()) -> frozenset[str]:
    """Content-word stems of a point's text: no function words, no words about answering, none in `exclude`.
    A point whose content words are all the question's ("Is a stack LIFO or FIFO?" "LIFO") keeps them: the
    answer must still say which. A point with no such word ("O(1)", "HAVING") keys on what it has
    (derive.fallback_words)."""
    tokens = tokenize(text)
    keys = frozenset(
        t.stem
        for t in tokens
        if t.raw not in FUNCTION_WORDS
        and (len(t.raw) > 2 or t.raw.isdigit())
        and t.stem not in META_WORDS
        and t.stem not in exclude
    )
    if keys:
        return keys
    if exclude:
        return key_stems(text)
    stems = {t.raw: t.stem for t in tokens}
    return frozenset(stems[w] for w in fallback_words(list(stems)))


def question_stems(question: str) -> frozenset[str]:
    """The question's own content words: repeating the question earns nothing."""
    return frozenset(t.stem for t in tokenize(question) if t.raw not in FUNCTION_WORDS)


def word_share(keys: frozenset[str], span: Span, synonyms: bool = False) -> float:
    """Recall: the share of the point's key words the sentence uses. With `synonyms` (a point derived from an
    answer key, whose words are one writer's), a word of the same group counts (synonyms.py: "item" for "element",
    "doesn't pop" for "without removing"). A card point's phrases already list its ways of saying it, and a group
    there lent a mechanism sentence's "keeps running" to a tradeoff's "holds resources"."""
    if not keys:
        return 0.0
    word = canonical if synonyms else _same
    present = {word(t.stem) for t in span.tokens}
    # A compound written apart or hyphenated ("pre-order" for "preorder") is the same word, as in phrase matching.
    said = sum(1 for key in keys if word(key) in present or (len(key) > 3 and span.contains(Part(key, key, len(key)))))
    return said / len(keys)


def _same(word_stem: str) -> str:
    return word_stem


def graded_credit(share: float, cosine: float | None, asked: float | None = None) -> float:
    """How much of a point one sentence makes, 0..1: its key words, and its meaning when a model is loaded.
    ``asked`` is the sentence's cosine with the question."""
    words = min(1.0, share / FULL_WORD_SHARE)
    if cosine is None:
        return words
    beyond = 1.0 if asked is None else min(1.0, max(0.0, (cosine - asked + BEYOND_SLACK) / BEYOND_RAMP))
    return beyond * _graded(words, cosine)


def fragment_credit(share: float, cosine: float | None, asked: float | None) -> float:
    """graded_credit for a point that is a fragment ("by reference.", "a binary heap"; is_fragment). Its vector says
    little on its own: "arrays are passed by reference" sits far from "by reference." and near the question. So a
    sentence is on the subject when it uses every key word of the point, or is near the point or the question;
    and sitting near the question costs nothing: the question's words are not among the point's key words, and a
    fragment is too short to restate. Each of its few words is much of the answer ("Structured Query Language" is
    not made by "simple query language"), so full word credit takes FRAGMENT_WORD_SHARE of them."""
    words = min(1.0, share / FRAGMENT_WORD_SHARE)
    if cosine is None:
        return words
    return _graded(words, cosine, 1.0 if share >= 1.0 else max(cosine, asked or 0.0))


def is_fragment(text: str) -> bool:
    return len(text.split()) <= FRAGMENT_WORDS


def _graded(words: float, cosine: float, subject: float | None = None) -> float:
    """`subject`: how near the sentence is to what is asked (default: its cosine with the point)."""
    meaning = min(1.0, max(0.0, (cosine - MEANING_FLOOR) / (MEANING_TOP - MEANING_FLOOR)))
    # Shared words in a sentence about something else ("it depends on the team") earn nothing: the credit fades
    # out over COSINE_RAMP below MIN_COSINE rather than falling off a cliff.
    subject = cosine if subject is None else subject
    on_topic = min(1.0, max(0.0, (subject - MIN_COSINE + COSINE_RAMP) / COSINE_RAMP))
    return on_topic * ((1 - MEANING_WEIGHT) * words + MEANING_WEIGHT * meaning)


def derived_how(credit: float, share: float, cosine: float | None) -> str:
    """A derived point counts as made at MADE_CREDIT; by meaning when its words alone would not have made it."""
    if credit < MADE_CREDIT:
        return "partly"
    return "meaning" if share < FULL_WORD_SHARE and cosine is not None and cosine >= MEANING_MATCH else "wording"


def partial_credit(share: float, cosine: float | None) -> float:
    """A card point's credit when no phrase matches and the meaning is not close enough to make it. Without a
    model there is none: shared words alone are too weak a sign for a card point (its phrases are the wording)."""
    if cosine is None:
        return 0.0
    credit = graded_credit(share, cosine)
    return 0.0 if credit < MIN_PARTIAL else min(MAX_PARTIAL, credit)


@dataclass(frozen=True)
class PointMatch:
    """How one point was covered: credit 0..1, the sentence that earned it, and whether by wording or meaning."""

    credit: float
    span: Span | None
    how: str  # "wording" | "meaning" | "partly" | ""

    @property
    def made(self) -> bool:
        return self.how in ("wording", "meaning")


NO_MATCH = PointMatch(0.0, None, "")


def best(matches: Iterable[PointMatch]) -> PointMatch:
    return max(matches, key=lambda m: m.credit, default=NO_MATCH)
