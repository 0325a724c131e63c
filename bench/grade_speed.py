"""Offline-grader speed and footprint against the issue-13 budgets (printed, never asserted).

- model load: the first use of the sentence-embedding model (time, and the RSS it adds);
- warm grade of a 2-minute answer: the model loaded and the card's point vectors cached, an answer never
  seen before (each card's `full` and `garbled` answer in tests/answers, about 300 words), median and worst;
- the same answers on wording alone (INFRALENS_GRADER_MEANING=0), for comparison;
- install growth: the model package plus the vocabulary this package ships.
Budgets: warm grade <= 150 ms on 2 cores; load <= 2 s and <= 150 MB RSS; install <= 150 MB.
Run: python bench/grade_speed.py
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from pathlib import Path

import yaml

from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader, embed

ANSWERS_DIR = Path(__file__).resolve().parents[1] / "tests" / "answers"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def tree_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def main() -> None:
    bank = QuestionBank.load()
    cases = []
    for path in sorted(ANSWERS_DIR.glob("card_*.yaml")):
        data = yaml.safe_load(path.read_text())
        cases.append((bank.get(data["card"]), data["answers"]))

    before = rss_mb()
    start = time.perf_counter()
    model = embed.default_embedder()
    load_s = time.perf_counter() - start
    if isinstance(model, embed.Unavailable):
        print(f"no model: {model.reason}")
        return
    grader = KeywordGrader()
    grader.grade(cases[0][0], bank.rubric, cases[0][1]["term_list"])  # first inference allocates its buffers
    added = rss_mb() - before
    print(
        f"model: {model.name}; load {load_s:.2f} s (budget 2 s); RSS +{added:.0f} MB after load and a first "
        "grade (budget 150 MB)"
    )

    for question, answers in cases:  # warm: each card's point vectors are cached
        grader.grade(question, bank.rubric, answers["off_topic"])
    walls, cpus, words = [], [], []
    for question, answers in cases:
        for kind in ("full", "garbled"):
            wall, cpu = timed(lambda q=question, a=answers[kind]: grader.grade(q, bank.rubric, a))
            walls.append(wall)
            cpus.append(cpu)
            words.append(len(answers[kind].split()))
    print(
        f"warm grade of a new {statistics.mean(words):.0f}-word answer (~2 min of speech), {len(walls)} answers: "
        f"median {statistics.median(walls):.0f} ms, worst {max(walls):.0f} ms wall (budget 150 ms); "
        f"CPU median {statistics.median(cpus):.0f} ms; RSS now +{rss_mb() - before:.0f} MB"
    )

    wording = KeywordGrader(meaning=False)
    times = []
    for _ in range(5):
        for question, answers in cases:
            times.append(timed(lambda q=question, a=answers["full"]: wording.grade(q, bank.rubric, a))[0])
    print(f"wording only (meaning off): median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms")

    spec = importlib.util.find_spec(embed.MODEL_PACKAGE)
    package = tree_mb(Path(next(iter(spec.submodule_search_locations)))) if spec else 0.0
    vocab = embed.vocab_path().stat().st_size / 1e6
    print(
        f"install growth: {embed.MODEL_PACKAGE} {package:.1f} MB + vocabulary {vocab:.2f} MB "
        "(onnxruntime and tokenizers come with faster-whisper) (budget 150 MB)"
    )
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow with it)")


if __name__ == "__main__":
    main()
