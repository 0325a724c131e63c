"""Offline-grader speed and footprint against the issue-13 budgets (printed, never asserted).

- model load: the first use of the sentence-embedding model (time, and the RSS it adds);
- warm grade of a 2-minute answer: the model loaded and the card's point vectors cached, an answer never
  seen before (each card's `full` and `garbled` answer in tests/answers, about 300 words), median and worst;
- the same for the other ways to run the int8 graph (embed.Graph), with and without grouping by token length,
  each in a fresh process so that its RSS is its own: what the default gains over the model as shipped;
- the same answers on wording alone (INFRALENS_GRADER_MEANING=0), for comparison;
- install growth: the model package plus the vocabulary this package ships.
Budgets: warm grade <= 150 ms on 2 cores; load <= 2 s and <= 150 MB RSS; install <= 150 MB.
Wall times grow with the load average (other processes on the 2 cores): each line prints it.
Run: python bench/grade_speed.py   (one variant only: python bench/grade_speed.py GRAPH [one-batch])
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from infralens_coach.content import Question, QuestionBank
from infralens_coach.grading import KeywordGrader, embed

ANSWERS_DIR = Path(__file__).resolve().parents[1] / "tests" / "answers"
# (graph, grouped by token length): as shipped and in one padded batch is how the model ran before the rewrite.
ALTERNATIVES = [("shipped", False), ("int8-rows", False), ("int8-rows", True), ("widened", True)]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def tree_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def load_average() -> str:
    return f"load avg {os.getloadavg()[0]:.1f}"


def cases() -> tuple[QuestionBank, list[tuple[Any, dict[str, str]]]]:
    bank = QuestionBank.load()
    found = []
    for path in sorted(ANSWERS_DIR.glob("card_*.yaml")):
        data = yaml.safe_load(path.read_text())
        found.append((bank.get(data["card"]), data["answers"]))
    return bank, found


def warm_grades(grader: KeywordGrader, bank: QuestionBank, found: list) -> tuple[list[float], list[float], list[int]]:
    for question, answers in found:  # warm: each card's point vectors are cached
        grader.grade(question, bank.rubric, answers["off_topic"])
    walls, cpus, words = [], [], []
    for question, answers in found:
        for kind in ("full", "garbled"):
            wall, cpu = timed(lambda q=question, a=answers[kind]: grader.grade(q, bank.rubric, a))
            walls.append(wall)
            cpus.append(cpu)
            words.append(len(answers[kind].split()))
    return walls, cpus, words


class SentencesOnly:
    """The model without its word vectors: the key-word share counts only the key's words and their synonyms."""

    def __init__(self, model: embed.MiniLM) -> None:
        self.name, self.encode = model.name, model.encode


def reference_only(model: embed.MiniLM, bank: QuestionBank, found: list) -> None:
    """The same answers against each card's reference answer alone (points derived from it, as for `eval` rows and
    reference-only packs), in alternating rounds with and without words near a key word in meaning. Each answer is
    new to the model (its caches emptied, then the question's own vectors warmed by grading another answer)."""
    keys = [
        (Question(card=q.card, id=q.id, question=q.question, reference_answer=q.reference_text), answers)
        for q, answers in found
    ]
    graders = {"with word vectors": KeywordGrader(model), "sentences only": KeywordGrader(SentencesOnly(model))}
    times: dict[str, list[float]] = {name: [] for name in graders}
    for _ in range(3):
        for name, grader in graders.items():
            for question, answers in keys:
                model._cache.clear()
                model._words.clear()
                grader.grade(question, bank.rubric, answers["off_topic"])
                times[name].append(timed(lambda q=question, a=answers["full"], g=grader: g.grade(q, bank.rubric, a))[0])
    line = ", ".join(f"{name} median {statistics.median(t):.0f} ms, worst {max(t):.0f} ms" for name, t in times.items())
    print(f"reference-only warm grade of the same answers, 3 rounds: {line}; {load_average()}")


def model_path() -> Path | None:
    spec = importlib.util.find_spec(embed.MODEL_PACKAGE)
    return Path(next(iter(spec.submodule_search_locations))) / "model.onnx" if spec else None


def variant(graph: embed.Graph, grouped: bool) -> None:
    """One line: this way of running the graph, loaded in this (fresh) process."""
    bank, found = cases()
    path = model_path()
    if path is None:
        print("no model package")
        return
    if not grouped:
        embed.RUN_COST = {g: 10**9 for g in embed.RUN_COST}  # every new text of a grade in one padded batch
    before = rss_mb()
    start = time.perf_counter()
    model = embed.MiniLM(path, embed.vocab_path(), graph=graph)
    load_s = time.perf_counter() - start
    grader = KeywordGrader(model)
    grader.grade(found[0][0], bank.rubric, found[0][1]["term_list"])
    added = rss_mb() - before
    walls, cpus, _ = warm_grades(grader, bank, found)
    batching = "grouped by length" if grouped else "one padded batch"
    print(
        f"  {graph:9s} {batching:17s}: load {load_s:.2f} s, RSS +{added:.0f} MB; warm grade median "
        f"{statistics.median(walls):.0f} ms, worst {max(walls):.0f} ms, CPU median {statistics.median(cpus):.0f} ms; "
        f"{load_average()}"
    )


def main() -> None:
    bank, found = cases()
    before = rss_mb()
    start = time.perf_counter()
    model = embed.default_embedder()
    load_s = time.perf_counter() - start
    if isinstance(model, embed.Unavailable):
        print(f"no model: {model.reason}")
        return
    grader = KeywordGrader()
    grader.grade(found[0][0], bank.rubric, found[0][1]["term_list"])  # first inference allocates its buffers
    added = rss_mb() - before
    print(
        f"model: {model.name}, graph {model.graph!r}; load {load_s:.2f} s (budget 2 s); RSS +{added:.0f} MB after "
        f"load and a first grade, with onnxruntime and tokenizers imported (budget 150 MB); {load_average()}"
    )
    walls, cpus, words = warm_grades(grader, bank, found)
    print(
        f"warm grade of a new {statistics.mean(words):.0f}-word answer (~2 min of speech), {len(walls)} answers: "
        f"median {statistics.median(walls):.0f} ms, worst {max(walls):.0f} ms wall (budget 150 ms); "
        f"CPU median {statistics.median(cpus):.0f} ms; RSS now +{rss_mb() - before:.0f} MB; {load_average()}"
    )

    reference_only(model, bank, found)

    print("ways to run the int8 graph (each in a fresh process):")
    for graph, grouped in ALTERNATIVES:
        args = [sys.executable, __file__, graph] + ([] if grouped else ["one-batch"])
        subprocess.run(args, check=True)

    wording = KeywordGrader(meaning=False)
    times = []
    for _ in range(5):
        for question, answers in found:
            times.append(timed(lambda q=question, a=answers["full"]: wording.grade(q, bank.rubric, a))[0])
    print(f"wording only (meaning off): median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms")

    path = model_path()
    package = tree_mb(path.parent) if path else 0.0
    vocab = embed.vocab_path().stat().st_size / 1e6
    print(
        f"install growth: {embed.MODEL_PACKAGE} {package:.1f} MB + vocabulary {vocab:.2f} MB "
        "(onnxruntime and tokenizers come with faster-whisper) (budget 150 MB)"
    )
    print(f"{load_average()} on {os.cpu_count()} cores (wall times grow with it)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        variant(sys.argv[1], grouped="one-batch" not in sys.argv[2:])  # type: ignore[arg-type]
    else:
        main()
