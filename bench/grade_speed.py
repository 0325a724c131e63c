"""Keyword-grader speed: grade 1,000 answers across the bank and print median and p95 ms per answer.

Answers are the hand-written test answers (tests/answers) cycled over, plus their padded variants, so
the mix of lengths is realistic. Run: python bench/grade_speed.py [N]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader
from infralens_coach.grading.text import compile_phrase

ANSWERS_DIR = Path(__file__).resolve().parents[1] / "tests" / "answers"


def main(n: int = 1000) -> None:
    t0 = time.perf_counter()
    bank = QuestionBank.load()
    load_ms = (time.perf_counter() - t0) * 1000
    cases = []
    for path in sorted(ANSWERS_DIR.glob("card_*.yaml")):
        data = yaml.safe_load(path.read_text())
        for text in data["answers"].values():
            cases.append((bank.get(data["card"]), text))
            cases.append((bank.get(data["card"]), text + " I hope that makes sense." * 5))
    grader = KeywordGrader()
    compile_phrase.cache_clear()
    times = []
    for i in range(n):
        question, text = cases[i % len(cases)]
        start = time.perf_counter()
        grader.grade(question, bank.rubric, text)
        times.append((time.perf_counter() - start) * 1000)
    words = statistics.mean(len(t.split()) for _, t in cases)
    times.sort()
    print(f"bank load: {load_ms:.0f} ms ({len(bank.questions)} cards)")
    print(f"answers graded: {n} (mean {words:.0f} words, {len(cases)} distinct)")
    print(f"slowest (cold phrase cache): {max(times):.2f} ms")
    print(f"median: {statistics.median(times):.2f} ms   p95: {times[int(0.95 * len(times)) - 1]:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
