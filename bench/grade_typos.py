"""How much typing slips cost the offline grader on the cs evaluation sets (eval/README.md, follow-up 12).

Typed answers have typos; the sets in eval/ were written with few. This grades every row as written and with one
slip in a share of its words of four or more letters (a letter left out, doubled, swapped with its neighbour, or
struck on a neighbouring key; never the first letter), the same slips on every run, and prints the Pearson with the
human scores for both: for the grader, which reads a slip of a word of the question or its reference as that word
(grading/spelling.py); for the same grader reading every word as written; and for the share of the reference's
words the answer uses, the simple grader issue 13 measured.

    python bench/grade_typos.py [--share 0.08] [SET ...]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from grade_generalization import word_share  # noqa: E402  (bench/, the script's own folder)

from infralens_coach.content import load_rubric  # noqa: E402
from infralens_coach.evaluation.dataset import RowQuestions, load_rows  # noqa: E402
from infralens_coach.grading import KeywordGrader  # noqa: E402

SETS = ("cs-tune", "cs-long-tune", "cs-mohler-tune", "cs-shortkey-tune", "cs-twograder-tune")
KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbour(letter: str, rng: random.Random) -> str:
    for row in KEYBOARD:
        at = row.find(letter)
        if at >= 0:
            return rng.choice([row[i] for i in (at - 1, at + 1) if 0 <= i < len(row)])
    return letter


def slip(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word))
    kind = rng.randrange(4)
    if kind == 0:
        return word[:at] + word[at + 1 :]
    if kind == 1 and at < len(word) - 1:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind == 2:
        return word[:at] + _neighbour(word[at], rng) + word[at + 1 :]
    return word[:at] + word[at] + word[at:]


def with_typos(answer: str, share: float, rng: random.Random) -> str:
    return re.sub(r"[A-Za-z]{4,}", lambda m: slip(m.group(), rng) if rng.random() < share else m.group(), answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=SETS)
    parser.add_argument("--share", type=float, default=0.08, help="share of words of 4+ letters given a slip")
    args = parser.parse_args()
    grader, as_written, rubric = KeywordGrader(), KeywordGrader(typos=False), load_rubric()
    totals = []
    for name in args.sets:
        rows = load_rows(ROOT / "eval" / f"{name}.csv")
        questions = RowQuestions()
        rng = random.Random(7)
        typed = [with_typos(r.answer, args.share, rng) for r in rows]
        human = np.array([r.score / (r.max_score or 5) for r in rows])

        def pearson(values: list[float], human: np.ndarray = human) -> float:
            return float(np.corrcoef(values, human)[0, 1])

        figures = (
            pearson([grader.grade(questions(r), rubric, r.answer).overall for r in rows]),
            pearson([grader.grade(questions(r), rubric, a).overall for r, a in zip(rows, typed, strict=True)]),
            pearson([as_written.grade(questions(r), rubric, a).overall for r, a in zip(rows, typed, strict=True)]),
            pearson([word_share(r.question, r.reference_answer, r.answer) for r in rows]),
            pearson([word_share(r.question, r.reference_answer, a) for r, a in zip(rows, typed, strict=True)]),
        )
        totals.append(figures)
        print("{:20s} grader {:.3f} -> {:.3f} (as written {:.3f})  word share {:.3f} -> {:.3f}".format(name, *figures))
    mean = np.mean(totals, axis=0)
    print("{:20s} grader {:.3f} -> {:.3f} (as written {:.3f})  word share {:.3f} -> {:.3f}".format("mean", *mean))


if __name__ == "__main__":
    main()
