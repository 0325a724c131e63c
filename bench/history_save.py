"""History save speed: time per save, and throughput with many writers (threads and processes).

Each save is one graded attempt (transcript + grade JSON + 5 per-dimension rows) in one transaction
(WAL, synchronous=FULL). Run: python bench/history_save.py [SAVES] [WRITERS]   (defaults 300, 20)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader
from infralens_coach.history import HistoryStore, new_attempt

ANSWER = (
    "A Job is for finite batch work like preprocessing or a training run: it runs until it completes "
    "and retries failed pods. A Deployment keeps a desired number of replicas running for an inference API."
) * 6  # about a 2-minute spoken answer


def fixtures():
    bank = QuestionBank.load()
    question = bank.get(7)
    return question, bank.rubric, KeywordGrader().grade(question, bank.rubric, ANSWER).to_json()


def ms(values: list[float]) -> str:
    values = sorted(values)
    return f"median {statistics.median(values) * 1000:.2f} ms, p95 {values[int(0.95 * len(values)) - 1] * 1000:.2f} ms"


def sequential(tmp: Path, n: int) -> None:
    question, rubric, grade = fixtures()
    start = time.perf_counter()
    store = HistoryStore(tmp / "seq" / "history.db")
    print(f"open a new history (create + migrate): {(time.perf_counter() - start) * 1000:.1f} ms")
    times = []
    for _ in range(n):
        attempt = new_attempt(question, rubric, ANSWER, grade=grade)
        t0 = time.perf_counter()
        store.save(attempt)
        times.append(time.perf_counter() - t0)
    print(f"save, one writer ({n} saves): {ms(times)}")
    audio = tmp / "answer.wav"
    audio.write_bytes(b"\0" * 3_840_044)  # 2 minutes of 16 kHz mono 16-bit
    times = []
    for _ in range(max(10, n // 10)):
        attempt = new_attempt(question, rubric, ANSWER, grade=grade, mode="upload")
        t0 = time.perf_counter()
        store.save(attempt, audio=audio)
        times.append(time.perf_counter() - t0)
    print(f"save with a 3.8 MB audio copy: {ms(times)}")
    t0 = time.perf_counter()
    rows = store.list()
    print(f"list {len(rows)} attempts: {(time.perf_counter() - t0) * 1000:.1f} ms")
    store.close()
    t0 = time.perf_counter()
    HistoryStore(tmp / "seq" / "history.db").close()
    print(f"reopen (nothing to migrate): {(time.perf_counter() - t0) * 1000:.1f} ms")


def threads(tmp: Path, writers: int, each: int, shared: bool) -> None:
    question, rubric, grade = fixtures()
    path = tmp / f"threads-{shared}" / "history.db"
    HistoryStore(path).close()
    common = HistoryStore(path) if shared else None
    go = threading.Barrier(writers + 1)

    def work() -> None:
        store = common or HistoryStore(path)
        go.wait()
        for _ in range(each):
            store.save(new_attempt(question, rubric, ANSWER, grade=grade))
        if common is None:
            store.close()

    pool = [threading.Thread(target=work) for _ in range(writers)]
    for t in pool:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    with HistoryStore(path) as store:
        count = store.count()
    kind = "sharing one store" if shared else "each with its own connection"
    print(f"{writers} threads {kind}: {count} saves in {elapsed:.2f} s = {count / elapsed:.0f} saves/s")


def processes(tmp: Path, writers: int, each: int) -> None:
    path = tmp / "procs" / "history.db"
    HistoryStore(path).close()
    go = tmp / "go"
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(path), str(each), str(go)],
                              stdout=subprocess.PIPE, text=True) for _ in range(writers)]  # fmt: skip
    for p in procs:
        p.stdout.readline()  # "ready"
    t0 = time.time()
    go.write_text(str(t0))
    ends = [float(p.communicate()[0]) for p in procs]
    elapsed = max(ends) - t0
    with HistoryStore(path) as store:
        count = store.count()
    print(f"{writers} processes: {count} saves in {elapsed:.2f} s = {count / elapsed:.0f} saves/s")


def worker(db: str, each: str, go: str) -> None:
    question, rubric, grade = fixtures()
    store = HistoryStore(Path(db))
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.001)
    for _ in range(int(each)):
        store.save(new_attempt(question, rubric, ANSWER, grade=grade))
    print(time.time(), flush=True)


def main(n: int = 300, writers: int = 20) -> None:
    with tempfile.TemporaryDirectory(prefix="infralens-bench-") as tmp:
        sequential(Path(tmp), n)
        each = max(1, n // writers)
        threads(Path(tmp), writers, each, shared=False)
        threads(Path(tmp), writers, each, shared=True)
        processes(Path(tmp), writers, each)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(*sys.argv[2:])
    else:
        main(*(int(a) for a in sys.argv[1:3]))
