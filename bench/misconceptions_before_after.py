"""Misconception answers reported by the offline grader before issue 13 and now, answer by answer (printed, never
asserted).

Issue 13's held-out seed-card answers are known only through what the grader of its day did on them: it reported
5 of their 7 misconception answers. Our sets differ in how hard they are (the blind sets were written to hold the
mistake without the card's words), so the figure that carries over is conditional: of the answers the old grader
reported, how many the grader now keeps; of those it missed, how many the grader now finds. From those two rates
this prints the chance of reporting at least 6 of 7 when the old grader reported 5 of 7, under the assumption
that the held-out answers behave like ours.

The old grader runs from a detached git worktree of BEFORE (default 1eb6bbb, the last commit before the issue-13
grader), in a subprocess with its own source first on the path; the current one from this checkout.
Every row of eval/*.csv whose kind is `misconception` or `correct` and whose card is a seed card number counts.

Run: python bench/misconceptions_before_after.py [BEFORE]
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "1eb6bbb"
NEVER_TUNED = ("heldout", "blind")  # a set's name says its split

# Grades every labelled row with whichever infralens_coach is first on the path; prints {set:id: [kind, flagged]}.
GRADE_ROWS = """
import csv, json, sys
from pathlib import Path
from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader
bank, grader, out = QuestionBank.load(), KeywordGrader(), {}
for path in sorted(Path(sys.argv[1]).glob("*.csv")):
    for row in csv.DictReader(path.open(encoding="utf-8")):
        card = row.get("card") or ""
        if row.get("kind") in ("misconception", "correct") and card.isdigit():
            grade = grader.grade(bank.get(int(card)), bank.rubric, row["answer"])
            out[f"{path.stem}:{row['id']}"] = [row["kind"], bool(grade.misconceptions)]
json.dump(out, sys.stdout)
"""


def graded(source: Path) -> dict[str, list]:
    env = {**os.environ, "PYTHONPATH": str(source), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", GRADE_ROWS, str(ROOT / "eval")], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def at_least(k: int, of: int, p: float) -> float:
    return sum(math.comb(of, i) * p**i * (1 - p) ** (of - i) for i in range(k, of + 1))


def report_rates(label: str, c: Counter) -> None:
    # Laplace's rule: 114 of 114 kept is not a certainty
    keep = (c["kept"] + 1) / (c["kept"] + c["lost"] + 2)
    find = (c["found"] + 1) / (c["found"] + c["still missed"] + 2)
    # 5 of 7 reported before: at least 6 of 7 now needs all 5 kept and 1 of the 2 found, or 4 kept and both found
    chance = at_least(5, 5, keep) * at_least(1, 2, find) + 5 * keep**4 * (1 - keep) * find**2
    print(
        f"{label}: reported before and kept now {c['kept']} of {c['kept'] + c['lost']} ({keep:.1%}); "
        f"missed before and found now {c['found']} of {c['found'] + c['still missed']} ({find:.1%}); "
        f"chance of >= 6 of 7 given 5 of 7 before: {chance:.1%}"
    )


def main(argv: list[str]) -> None:
    before = argv[0] if argv else BEFORE
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), before], check=True)
        try:
            old = graded(tree / "src")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    new = graded(ROOT / "src")

    counts: dict[str, Counter] = {}
    for key, (kind, was) in old.items():
        now = new[key][1]
        c = counts.setdefault(key.split(":")[0], Counter())
        c[kind, "rows"] += 1
        c[kind, "before"] += was
        c[kind, "now"] += now
        if kind == "misconception":
            c["kept" if was and now else "lost" if was else "found" if now else "still missed"] += 1
    print(f"misconception answers reported / correct answers flagged, before ({before}) -> now")
    print(f"{'set':26} {'reported before':>16} {'now':>6} {'kept':>6} {'lost':>5} {'found':>6} {'flagged':>14}")
    total: Counter = Counter()
    for name, c in sorted(counts.items()):
        total.update(c)
        wrong = c["misconception", "rows"]
        flagged = f"{c['correct', 'before']} -> {c['correct', 'now']} of {c['correct', 'rows']}"
        print(
            f"{name:26} {c['misconception', 'before']:>8} of {wrong:<5} {c['misconception', 'now']:>6} "
            f"{c['kept']:>6} {c['lost']:>5} {c['found']:>6} {flagged if c['correct', 'rows'] else '':>14}"
        )
    report_rates("all sets", total)
    for label, splits in (("never tuned on", NEVER_TUNED), ("the blind sets", ("blind",))):
        report_rates(label, sum((c for n, c in counts.items() if any(s in n for s in splits)), Counter()))


if __name__ == "__main__":
    main(sys.argv[1:])
