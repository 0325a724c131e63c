"""What one answer sentence may earn: whether it reads as an explanation, and how many points it can carry.

Prose earns; a bare term list has almost no function words and earns nothing, and an enumeration in a prose
shell ("the KV cache and continuous batching and time to first token ... are what make it different") earns at
most half of one point. One sentence can earn only as many points as its length supports. A sentence that only says
some terms matter ("Placement and topology are key", "X and Y all come into play here") is an empty claim: on a card
it earns nothing (grading/keyword.py).
"""

from __future__ import annotations

import re

from .text import FUNCTION_WORDS, Span, tokenize

SHORT_ANSWER_TOKENS = 12  # a whole answer this short may earn points without reading as prose
MIN_PROSE_TOKENS = 3
MIN_FUNCTION_WORDS = 2
MIN_FUNCTION_SHARE = 0.15
TOKENS_PER_POINT = 5  # a sentence of n words can earn at most max(2, n // 5) points
_LIST_SEPARATOR = re.compile(r"[,;:/]|\b(?:and|or|plus)\b", re.I)
LIST_ITEMS = 6  # a sentence with this many one- or two-word items is an enumeration...
TERM_ITEMS = 4  # ...and so is one with a run of this many bare terms of up to TERM_WORDS words...
TERM_WORDS = 4
TERM_SHARE = 0.5  # ...that make up this share of its words: the rest is a shell ("... are what matter here")
ENUMERATION_POINTS = 0.5  # ...and earns at most this much of one point: naming a point in a list is not making it
# The only function words a bare term may hold ("the KV cache", "time to first token", "tokens per second"); a
# verb or a conjunction ("images are huge", "so pull time") makes it a clause.
TERM_GLUE = frozenset("a an the to of in on for per by its their our your my".split())


def _is_term(words: list[str]) -> bool:
    if not 1 <= len(words) <= TERM_WORDS:
        return False
    raws = [t.raw for t in tokenize(" ".join(words))]
    glue = [w for w in raws if w in FUNCTION_WORDS]
    return len(glue) <= 1 and len(glue) < len(raws) and all(w in TERM_GLUE for w in glue)


def _longest_term_run(items: list[list[str]]) -> list[list[str]]:
    best: list[list[str]] = []
    run: list[list[str]] = []
    for words in items:
        run = [*run, words] if _is_term(words) else []
        best = run if len(run) > len(best) else best
    return best


def is_enumeration(span: Span) -> bool:
    """ "X, Y, Z, ... and W": legitimate in speech, but a prose shell around a term list looks the same, whether
    the terms are glued with commas or with "and", and however many words each term has."""
    items = [piece.split() for piece in _LIST_SEPARATOR.split(span.text) if piece.strip()]
    if sum(1 for words in items if 1 <= len(words) <= 2) >= LIST_ITEMS:
        return True
    run = _longest_term_run(items)
    total = sum(len(words) for words in items)
    # A shell is what makes it a stuffed sentence: a bare list ("push, pop, peek and size") is the short-answer case.
    shell = len(run) < len(items)
    return shell and len(run) >= TERM_ITEMS and sum(len(words) for words in run) >= TERM_SHARE * total


# Saying that terms matter says nothing about them: "Requests and limits are very important", "Placement and topology
# are big", "GPU topology and debugging all come into play here", "Key considerations: images and device plugins".
_EMPTY_PREDICATE = re.compile(
    r"\b(?:(?:is|are|'s|'re|was|were|remains?)\s+(?:(?:all|both|also|really|very|super|so|too|just|absolutely|"
    r"definitely|quite|pretty|extremely|hugely|always|equally)\s+)*(?:important|key|crucial|critical|central|"
    r"essential|vital|big|huge|relevant|fundamental|first[- ]class|paramount|significant|there|involved|"
    r"(?:just |equally )?as important|(?:all )?parts? of (?:it|this|that|the (?:story|conversation|picture|puzzle))|"
    r"(?:a|an)\s+(?:(?:big|huge|key|major|real|core|important|critical|crucial|central|massive)\s+)?"
    r"(?:thing|things|one|concern|factor|consideration|priority|focus|theme|part of (?:it|this|the picture))|"
    r"(?:(?:all|also)\s+)?(?:things?|something) to (?:think about|consider|keep in mind|watch|look at|care about)|"
    r"in (?:the )?(?:mix|picture|play))|"
    r"(?:matters?|count|counts)(?=\s*(?:[,.;!]|$|\btoo\b|\ba lot\b|\bhere\b|\bas well\b|\bmost\b))|"
    r"(?:comes?|came) (?:into play|in|up)(?: a lot)?|(?:is|are) what (?:it's|it is) (?:all )?about|"
    r"plays? an? (?:big|huge|key|major|central|critical|crucial|important|vital) role(?: in \w+)?|"
    r"(?:key|main|important) (?:considerations?|factors?|concepts?|things?|pieces?)\s*(?:are|include)?\s*:?|"
    r"(?:don't|do not) forget(?: about)?|(?:you|we)(?:'ve| have)? got|(?:we|you|i) (?:leverage|utili[sz]e)|"
    r"(?:you|we) (?:have|need) to (?:think about|consider)|there (?:is|are|'s)(?: also)?|"
    r"(?:it's|it is|this is) (?:all |really |mostly )?about|"
    r"at the end of the day)\b",
    re.I,
)
_FILLER = re.compile(
    r"\b(?:really|very|also|too|both|all|as well|here|either|overall|so|just|quite|a lot|then|and then|obviously)\b",
    re.I,
)
# What makes it say something after all: a reason, a consequence, a condition, a comparison.
_EXPLAINS = re.compile(
    r"(?<![\w-])(?:because|since|so that|which|when|whenever|if|unless|otherwise|means?|lets?|allows?|by|until|"
    r"while|instead|than|to|without|before|after|causes?|makes?)(?![\w-])",
    re.I,
)


def is_empty_claim(span: Span) -> bool:
    """A sentence that only says some terms matter, are key or come into play: it names them and makes no point."""
    if not _EMPTY_PREDICATE.search(span.text):
        return False
    rest = _FILLER.sub(" ", _EMPTY_PREDICATE.sub(",", span.text))
    if _EXPLAINS.search(rest):
        return False
    items = [piece.split() for piece in _LIST_SEPARATOR.split(rest) if piece.strip(" .!?;:")]
    return bool(items) and all(_is_term(words) for words in items)


def point_budget(span: Span) -> float:
    """How many expected points one sentence may earn: cramming terms into a sentence does not pay, and naming
    a point in a list is not making it (half a point at most: the point counts as partly made)."""
    if is_enumeration(span):
        return ENUMERATION_POINTS
    return max(2, len(span.tokens) // TOKENS_PER_POINT)


def is_prose(span: Span) -> bool:
    n = len(span.tokens)
    if n < MIN_PROSE_TOKENS:
        return False
    fw = span.function_word_count
    return fw >= MIN_FUNCTION_WORDS and fw / n >= MIN_FUNCTION_SHARE
