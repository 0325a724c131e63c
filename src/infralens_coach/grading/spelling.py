"""Typed answers have typos ("recusion", "poiner", "doesnt"), and a misspelt key word would earn nothing. The grader
reads an answer word as a word of the question or its reference when it is one slip away from it (a letter left
out, added, changed, or two neighbours swapped) and is not a word itself. A contraction typed without its
apostrophe ("doesnt", "thats") is read with it, so its negation counts. Each sentence keeps what was written, and
that is what a grade quotes (text.Span.quote).

"Not a word itself": not among the question's and reference's words, and neither it nor a word it inflects is in
the embedding model's vocabulary (data/embeddings/minilm-vocab.txt, 23,000 whole English words, few inflections).
Reading typos toward any word of that vocabulary was measured and dropped: technical words outside it turned into
ordinary ones ("sharding" as "sharing", "cuda" as "cuba", "throughput" as "throughout"). Toward the question's own
words the guards are: the first two letters agree ("iostream" is not "ifstream"), both words have MIN_LETTERS
letters or more, and exactly one word of the question fits. A word touching code punctuation ("<iostream>") or with
a capital after its first letter ("SLOs", "PyTorch") is left as written."""

from __future__ import annotations

import re
from functools import lru_cache

from .embed import vocab_path
from .text import stem, tokenize

MIN_LETTERS = 5
_WORD = re.compile(r"[A-Za-z]+")
# Contractions typed without the apostrophe. "its", "id", "ill", "were", "wed", "well", "lets" and "hell" are
# words as they stand.
_APOSTROPHE = {
    w.replace("'", ""): w
    for w in """don't doesn't didn't isn't aren't wasn't weren't can't couldn't won't wouldn't shouldn't hasn't
    haven't hadn't mustn't that's what's there's it'll they're you're they've you've we've you'd they'd i'm""".split()
}
_CODE = set("<>()[]{}_:#.=*&/\\") | set("0123456789")  # a word touching these is code: "<iostream>", "strncpy("


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    return frozenset(w for w in vocab_path().read_text(encoding="utf-8").split() if w.isalpha())


_SUFFIXES = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "ies", "ied")


def is_word(word: str) -> bool:
    """In the model's vocabulary, or an inflection of a word in it ("pointers", "deleted", "stopping",
    "copies"): the vocabulary keeps few inflections."""
    vocabulary = _vocabulary()
    if word in vocabulary:
        return True
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                bases: tuple[str, ...] = (base + "y",)
            elif suffix in ("ing", "ed", "er", "ers") and base[-1] == base[-2]:  # "stopping"
                bases = (base, base[:-1])
            else:
                bases = (base, base + "e")
            if any(b in vocabulary for b in bases):
                return True
    return False


def one_slip(a: str, b: str) -> bool:
    """True when b is a with one letter left out, added or changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


@lru_cache(maxsize=256)
def lexicon(*texts: str) -> frozenset[str]:
    """The words a typo may be read as: those of the question and its reference. (Not the function words: "abort"
    is one slip from "about".)"""
    return frozenset(t.raw for text in texts for t in tokenize(text) if t.raw.isalpha() and len(t.raw) >= MIN_LETTERS)


def meant(word: str, words: frozenset[str]) -> str | None:
    """The word of `words` this one is a slip of; None when it is a word itself, or fits none or several."""
    if len(word) < MIN_LETTERS or word in words or is_word(word):
        return None
    fits = [w for w in words if w[:2] == word[:2] and one_slip(word, w)]
    if len(fits) != 1 or stem(fits[0]) == stem(word):  # an inflection ("lookups"), which stems already match
        return None
    return fits[0]


class Reader:
    """Reads sentences of an answer to one question (text.split_spans(answer, read=...)), keeping what it read as
    what for the grade's summary."""

    def __init__(self, words: frozenset[str]) -> None:
        self._words = words
        self.fixed: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        return _WORD.sub(self._word, text)

    def _word(self, match: re.Match[str]) -> str:
        written, text = match.group(), match.string
        after = text[match.end() : match.end() + 1]
        if text[match.start() - 1 : match.start()] in _CODE or after in _CODE - {"."} or after in ("'", "’"):
            return written  # code, or the first part of a contraction ("needn't" is not a slip of "needs")
        if any(c.isupper() for c in written[1:]):  # an acronym or a name: "SLOs" is not "slow", nor "vLLM" a typo
            return written
        lower = written.lower()
        read = _APOSTROPHE.get(lower) or meant(lower, self._words)
        if read is None:
            return written
        self.fixed[lower] = read
        return read.capitalize() if written[0].isupper() else read

    def describe(self) -> str:
        """The summary's line, as: Read "recusion" as "recursion". Empty when nothing was misspelt."""
        typos = sorted((typo, word) for typo, word in self.fixed.items() if "'" not in word)
        return "Read " + ", ".join(f'"{typo}" as "{word}"' for typo, word in typos) + "." if typos else ""
