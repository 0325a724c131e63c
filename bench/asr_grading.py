"""How much of a clean answer's keyword grade survives real speech recognition.

    python bench/asr_grading.py        # about 3 minutes on 2 cores

Each card's hand-written full answer (tests/answers) is spoken by espeak-ng, transcribed by the bundled
tiny.en with the card's vocabulary prompt (exactly the app's path), and graded; the figure is the spoken
grade as a share of the clean text's grade, per card and overall. espeak-ng is harder to recognise than
most people, so this is a pessimistic figure.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from support import clips  # noqa: E402

from infralens_coach.coach import Coach  # noqa: E402
from infralens_coach.config import Settings  # noqa: E402
from infralens_coach.content import QuestionBank  # noqa: E402
from infralens_coach.grading import KeywordGrader  # noqa: E402


def main() -> None:
    bank = QuestionBank.load()
    coach = Coach(bank, Settings.from_env(), grader=KeywordGrader())  # no history: nothing is kept
    print(f"model: {coach.warm_up()}")
    shares = []
    for path in sorted((ROOT / "tests" / "answers").glob("card_*.yaml")):
        data = yaml.safe_load(path.read_text())
        question = bank.get(data["card"])
        text = data["answers"]["full"]
        clean = coach.submit(question, text).grade.overall
        spoken = coach.transcribe(question, clips.speech(text))
        heard = coach.submit(question, spoken.text).grade.overall
        share = heard / clean if clean else 1.0
        shares.append(share)
        print(
            f"card {question.card:2d}: clean {clean:3d}  spoken {heard:3d}  ({share:.0%}, "
            f"{spoken.transcript.duration_s:.0f} s of audio)"
        )
    print(
        f"spoken / clean: median {statistics.median(shares):.0%}, mean {statistics.mean(shares):.0%}, "
        f"min {min(shares):.0%}; cards at >= 85 %: {sum(s >= 0.85 for s in shares)}/{len(shares)}"
    )


if __name__ == "__main__":
    main()
