"""How much of an answer key's words an answer says: KEY_WORDS_WEIGHT of a reference-only question's overall.

The best sentence per point misses a key whose words an answer spreads over two sentences, so the words are also
counted over the whole answer's earning sentences; a list of terms does not say them (sentences.is_enumeration).
A key word is said by the word itself, by a word of its synonym group (synonyms.py), or, with the
sentence-embedding model, partly by a word near it in meaning: each word's vector in its own sentence against the
key word's vector in the key, from WORD_NEAR_FROM (nothing) to WORD_NEAR_FULL (all of it) cosine. Students say
a key in their own words ("released" for "freed", "what is left" for "remaining"); the question's own words say
nothing this way (eval/README.md, follow-ups 10 and 11).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..content import Question
from . import coverage
from .embed import Words
from .sentences import SHORT_ANSWER_TOKENS, is_enumeration
from .synonyms import canonical, opposites
from .text import FUNCTION_WORDS, Span, tokenize

KEY_WORDS_WEIGHT = 0.35
WORD_NEAR_FROM = 0.30  # cosine of two words in context below which one says nothing of the other...
WORD_NEAR_FULL = 0.70  # ...and from which it says all of it
SUBJECT_FLOOR = 0.20  # a sentence at least this near the key (its nearest point) lends its words; filler is further
SHOWN_PAIRS = 3  # words said in other words named in the grade's summary, at most
SHOWN_FROM = 0.5  # a pair is named when it earns at least half a word


@runtime_checkable
class WordEmbedder(Protocol):
    def word_vectors(self, texts: Sequence[str]) -> list[Words]: ...


@dataclass(frozen=True)
class KeyWords:
    share: float  # 0..1
    other_words: tuple[tuple[str, str], ...] = ()  # (the answer's word, the key's word), said in other words

    def describe(self) -> str:
        said = f"{KEY_WORDS_WEIGHT:.0%} of the overall is the share of the reference's key words the answer uses"
        if not self.other_words:
            return f"{said} ({self.share:.0%})."
        pairs = ", ".join(f'"{mine}" for "{theirs}"' for mine, theirs in self.other_words)
        return f"{said}, in its words or in others near them ({self.share:.0%}; {pairs})."


@dataclass(frozen=True)
class _Word:
    text: str
    stems: frozenset[str]
    vector: np.ndarray


def key_word_share(
    question: Question,
    spans: Sequence[Span],
    model: WordEmbedder | None = None,
    near_the_key: Mapping[int, float] | None = None,
) -> KeyWords:
    """The share of the reference's key words that the answer's earning sentences say, wherever they are. A short
    answer cannot say much of a long key ("insert each item into the sorted prefix"): for one, how much of what it
    says is the key's counts as much, which halves the lead longer answers had. `model` (the sentence-embedding
    model, when loaded) lets a word near a key word in meaning say part of it. `near_the_key` (when the model is
    loaded: how near each sentence, by id, is to the key's subject; keyword.py works it out): a sentence below
    SUBJECT_FLOOR lends no word and does not make the answer long, so filler that happens to share a word ("in my
    work") moves nothing."""
    asked = coverage.question_stems(question.question)
    reference = question.reference_text
    keys = coverage.key_stems(reference, asked)
    said = [s for s in spans if not is_enumeration(s)]
    if not said or not keys:
        return KeyWords(0.0)
    # only a sentence on the key's subject lends its words: filler that shares one ("in my work") lends nothing
    on_subject = [s for s in said if near_the_key is None or near_the_key.get(id(s), 0.0) >= SUBJECT_FLOOR]
    in_words = {key for key in keys if any(coverage.word_share(frozenset([key]), s, synonyms=True) for s in on_subject)}
    key_words = _words(model, [reference], asked, keys) if model is not None else []
    # as the grade's sentence vectors were made (similarity.py), so their run made these too
    answer_words = _words(model, [s.text.rstrip(".!?;: ") for s in on_subject], asked) if model is not None else []
    # cosines[i, j]: the answer's word i against the key's word j; an opposite is no nearer than an unrelated word
    cosines = _vectors(answer_words) @ _vectors(key_words).T
    for j, key_word in enumerate(key_words):
        if against := frozenset().union(*(opposites(b) for b in key_word.stems)):
            for i, mine in enumerate(answer_words):
                if any(canonical(a) in against for a in mine.stems):
                    cosines[i, j] = 0.0
    credit = dict.fromkeys(in_words, 1.0)
    pairs: list[tuple[float, str, str]] = []
    for key in keys - in_words:
        theirs = next((j for j, w in enumerate(key_words) if key in w.stems), None)
        if theirs is None or not answer_words:
            continue
        best = int(np.argmax(cosines[:, theirs]))
        credit[key] = _near(float(cosines[best, theirs]))
        if credit[key] >= SHOWN_FROM:
            pairs.append((float(cosines[best, theirs]), answer_words[best].text, key_words[theirs].text))
    recall = sum(credit.values()) / len(keys)
    shown = tuple((mine, theirs) for _, mine, theirs in sorted(pairs, reverse=True)[:SHOWN_PAIRS])
    # how long an answer is, and what it says, is told by the sentences that lend their words: filler after a short
    # answer does not make it a long one, held to the whole key
    if not on_subject or sum(len(s.tokens) for s in on_subject) > SHORT_ANSWER_TOKENS:
        return KeyWords(recall, shown)
    return KeyWords((recall + _precision(on_subject, asked, keys, answer_words, cosines)) / 2, shown)


def _precision(
    said: list[Span], asked: frozenset[str], keys: frozenset[str], answer_words: list[_Word], cosines: np.ndarray
) -> float:
    """How much of what a short answer says is the key's: each of its content words counts in full when it is a
    key word (or of its group), in part when it is near one in meaning."""
    words = {canonical(w) for w in coverage.key_stems(" ".join(s.text for s in said), asked)}
    if not words:
        return 0.0
    wanted = {canonical(k) for k in keys}
    total = 0.0
    for word in words:
        if word in wanted:
            total += 1.0
            continue
        mine = next((i for i, w in enumerate(answer_words) if word in {canonical(s) for s in w.stems}), None)
        if mine is not None and cosines.shape[1]:
            total += _near(float(cosines[mine].max()))
    return total / len(words)


def _vectors(words: list[_Word]) -> np.ndarray:
    return np.stack([w.vector for w in words]) if words else np.zeros((0, 384), np.float32)


def _near(cosine: float) -> float:
    return min(1.0, max(0.0, (cosine - WORD_NEAR_FROM) / (WORD_NEAR_FULL - WORD_NEAR_FROM)))


def _words(
    model: WordEmbedder, texts: list[str], asked: frozenset[str], keep: frozenset[str] | None = None
) -> list[_Word]:
    """The content words of `texts` with their vectors in context: not function words, not the question's words
    (restating the question says nothing of the key); only those whose stems are in `keep`, when given."""
    words = []
    for text, found in zip(texts, model.word_vectors(texts), strict=True):
        for (start, end), vector in zip(found.spans, found.vectors, strict=True):
            surface = text[start:end]
            stems = frozenset(
                t.stem
                for t in tokenize(surface)
                if t.raw not in FUNCTION_WORDS
                and (len(t.raw) > 2 or t.raw.isdigit())
                and t.stem not in coverage.META_WORDS
                and t.stem not in asked
            )
            if stems and (keep is None or stems & keep):
                words.append(_Word(surface, stems, vector.astype(np.float32)))
    return words
