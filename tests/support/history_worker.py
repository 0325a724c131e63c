"""A separate process that saves attempts into a history, for the concurrency and kill -9 tests and the bench.

    python tests/support/history_worker.py DB once GO_FILE     # print "ready", wait for GO_FILE, save one, print its id
    python tests/support/history_worker.py DB loop [N]         # save N (default: forever), print each id after commit

An id is printed (and flushed) only after save() has returned, i.e. after the commit.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader
from infralens_coach.history import HistoryStore, new_attempt

ANSWER = (
    "A Job is for finite batch work like preprocessing or a training run: it runs until it completes "
    "and retries failed pods. A Deployment keeps a desired number of replicas running for an inference API."
)


def main(db: str, mode: str, arg: str | None = None) -> None:
    bank = QuestionBank.load()
    question = bank.get(7)
    grade = KeywordGrader().grade(question, bank.rubric, ANSWER).to_json()
    if mode == "once":  # open only on "go", so all processes create and migrate a new file together
        print("ready", flush=True)
        while not Path(arg).exists():
            time.sleep(0.001)
        with HistoryStore(Path(db)) as store:
            print(store.save(new_attempt(question, bank.rubric, ANSWER, grade=grade)).id, flush=True)
        return
    store = HistoryStore(Path(db))
    limit = int(arg) if arg else None
    done = 0
    while limit is None or done < limit:
        attempt = store.save(new_attempt(question, bank.rubric, f"{ANSWER} ({done})", grade=grade))
        print(attempt.id, flush=True)
        done += 1


if __name__ == "__main__":
    main(*sys.argv[1:])
