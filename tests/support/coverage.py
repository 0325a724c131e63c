"""Word coverage of a transcript: the share of spoken words it kept (misheard counts as kept, missing does not)."""

from __future__ import annotations

from .wer import words


def deletions(reference: str, hypothesis: str) -> int:
    """Reference words with no counterpart in a minimum-edit alignment (substitutions preferred)."""
    ref, hyp = words(reference), words(hypothesis)
    # cost[i][j], with the deletions of the best path as a tie-breaker kept alongside
    prev = [(j, 0) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        row = [(i, i)]
        for j in range(1, len(hyp) + 1):
            sub = (prev[j - 1][0] + (ref[i - 1] != hyp[j - 1]), prev[j - 1][1])
            delete = (prev[j][0] + 1, prev[j][1] + 1)
            insert = (row[j - 1][0] + 1, row[j - 1][1])
            row.append(min(sub, delete, insert))
        prev = row
    return prev[len(hyp)][1]


def word_coverage(reference: str, hypothesis: str) -> float:
    n = len(words(reference))
    return 1.0 - deletions(reference, hypothesis) / max(1, n)
