"""Train the misconception judge (grading/judge.py) on the tune splits of eval/ and write data/judge.json.

The model is a logistic regression over the judge's features, scored per sentence; an answer's score is its best
sentence's (multiple-instance learning: which sentence holds the mistake is not labelled, only the answer). It is
fitted by plain gradient descent from zero, so a run gives the same numbers every time.

Both thresholds are chosen on scores from leave-cards-out cross-validation (4 folds of 5 cards), never on the
held-out or blind splits. `confirm` (a match by meaning alone stands above it): the highest that keeps at least
CONFIRM_RECALL of the tune set's meaning-only matches on misconception answers. `report` (the judge alone reports
the mistake above it): the one of REPORT_GRID that, with the rules, reports the most misconception answers net of
correct answers flagged (ties: the higher). grade also keeps the judge from quoting a sentence the rules clear, or
from reporting on a one-sentence answer (KeywordGrader.grade); the figures printed here leave those guards out.

Run: python -m infralens_coach.evaluation.train_judge [--write]
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..content import QuestionBank
from ..grading import KeywordGrader
from ..grading.judge import FEATURES, Judge

EVAL = Path(__file__).resolve().parents[3] / "eval"
JUDGE_JSON = Path(__file__).resolve().parents[1] / "data" / "judge.json"
# misconception-tune5.csv chose rules only: in training it lifted `report` to 3.75, and the judge stopped reporting
# what the rules miss (eval/README.md, follow-up 13).
TUNE = ("misconception-tune.csv", "misconception-tune2.csv", "misconception-tune3.csv", "misconception-tune4.csv",
        "paraphrase-tune.csv", "adversarial-tune.csv")  # fmt: skip
POSITIVE = frozenset({"misconception"})
NEGATIVE = frozenset({"correct", "full", "partial"})
L2 = 0.01
EPOCHS = 400
STEP = 0.5
FOLDS = 4
CONFIRM_RECALL = 0.9
REPORT_GRID = tuple(x / 4 for x in range(4, 17))  # 1.0 .. 4.0


@dataclass(frozen=True)
class Example:
    id: str
    card: int
    holds: bool  # the answer holds the card's mistake
    table: np.ndarray  # the judge's features, a row per sentence
    how: frozenset[str]  # how the rules find the mistake in it (misconceptions.How), empty when they do not

    @property
    def meaning_only(self) -> bool:
        return self.how == {"meaning"}


def examples(paths: list[Path], grader: KeywordGrader, bank: QuestionBank) -> list[Example]:
    found = []
    for path in paths:
        for row in csv.DictReader(path.open(encoding="utf-8")):
            if row["kind"] not in POSITIVE | NEGATIVE or not row.get("card", "").isdigit():
                continue
            question = bank.get(int(row["card"]))
            table, how = grader.judge_features(question, bank.rubric, row["answer"])
            if table is not None:
                found.append(Example(row["id"], question.card, row["kind"] in POSITIVE, table, frozenset(how)))
    return found


def fit(train: list[Example]) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Weights, bias, and the features' mean and scale, by gradient descent on the log-loss of each answer's best
    sentence."""
    stacked = np.vstack([e.table for e in train])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    tables = [(e.table - mean) / scale for e in train]
    labels = np.array([float(e.holds) for e in train])
    weights, bias = np.zeros(len(FEATURES)), 0.0
    for _ in range(EPOCHS):
        best = [t[int(np.argmax(t @ weights + bias))] for t in tables]
        rows = np.array(best)
        p = 1.0 / (1.0 + np.exp(-(rows @ weights + bias)))
        weights -= STEP * (rows.T @ (p - labels) / len(train) + L2 * weights)
        bias -= STEP * float(np.mean(p - labels))
    return weights, bias, mean, scale


def cross_validated(all_examples: list[Example]) -> dict[str, float]:
    """Each answer's score from a model that never saw its card."""
    scores = {}
    for fold in range(FOLDS):
        held = {c for c in range(1, 21) if c % FOLDS == fold}
        model = Judge(*fit([e for e in all_examples if e.card not in held]), confirm=0.0, report=0.0)
        for e in all_examples:
            if e.card in held:
                scores[e.id] = float(model.scores(e.table).max())
    return scores


def choose_confirm(all_examples: list[Example], scores: dict[str, float]) -> float:
    kept = sorted(scores[e.id] for e in all_examples if e.meaning_only and e.holds)
    if not kept:
        return float("-inf")
    return kept[int((1 - CONFIRM_RECALL) * len(kept))] - 1e-6


def reported(e: Example, score: float, confirm: float, report: float) -> bool:
    """Whether grade reports the mistake in this answer: a rule finds it (by meaning alone only if the judge
    confirms), or the judge is sure of it."""
    return bool(e.how - {"meaning"}) or ("meaning" in e.how and score > confirm) or score > report


def choose_report(all_examples: list[Example], scores: dict[str, float], confirm: float) -> float:
    def net(report: float) -> int:
        flagged = [e for e in all_examples if reported(e, scores[e.id], confirm, report)]
        return sum(1 if e.holds else -1 for e in flagged)

    return max(reversed(REPORT_GRID), key=net)


def main(argv: list[str]) -> None:
    bank = QuestionBank.load()
    grader = KeywordGrader()
    found = examples([EVAL / name for name in TUNE if (EVAL / name).exists()], grader, bank)
    scores = cross_validated(found)
    confirm = choose_confirm(found, scores)
    meaning = [e for e in found if e.meaning_only]
    kept = [e for e in meaning if scores[e.id] > confirm]
    print(f"{len(found)} tune answers, {sum(e.holds for e in found)} holding the mistake")
    print(
        f"matched by meaning alone: {len(meaning)} ({sum(e.holds for e in meaning)} holding it); confirmed at "
        f"{confirm:.3f} (leave-cards-out): {sum(e.holds for e in kept)} holding it, {sum(not e.holds for e in kept)}"
        " not"
    )
    report = choose_report(found, scores, confirm)
    for label, threshold in (("rules, judge confirming", float("inf")), (f"and reporting above {report}", report)):
        flagged = [e for e in found if reported(e, scores[e.id], confirm, threshold)]
        holding = sum(e.holds for e in flagged)
        print(f"{label} (leave-cards-out): {holding} holding it, {len(flagged) - holding} not")
    judge = Judge(*fit(found), confirm=confirm, report=report)
    for name, weight in sorted(zip(FEATURES, judge.weights, strict=True), key=lambda x: -abs(x[1])):
        print(f"  {weight:+.2f}  {name}")
    if "--write" in argv:
        JUDGE_JSON.write_text(json.dumps(judge.to_json(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {JUDGE_JSON}")


if __name__ == "__main__":
    main(sys.argv[1:])
