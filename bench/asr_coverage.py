"""Does any passage of speech vanish? WER and word coverage with and without the card prompt, and with recovery.

    python bench/asr_coverage.py          # the 15 clips of tests/test_transcript_coverage.py, ~2 min on 2 cores
    python bench/asr_coverage.py --wide   # every answer x 3 voices x 4 rates (72 clips), ~10 min

Per clip, three decodes of the same espeak-ng audio by the configured engine (bundled tiny.en by default):
  prompt    one decode with the card prompt, no coverage check (the app before issue 10)
  plain     one decode without any prompt
  covered   the app's path now: prompted, checked against VAD per region, recovered where words are missing
Coverage is the share of spoken words kept (misheard counts as kept); WER as in tests/support/wer.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from support import clips  # noqa: E402
from support.coverage import word_coverage  # noqa: E402
from support.wer import wer  # noqa: E402

from infralens_coach import audio, transcribe  # noqa: E402
from infralens_coach.config import Settings  # noqa: E402
from infralens_coach.content import QuestionBank  # noqa: E402
from infralens_coach.transcribe.base import drop_hallucinated  # noqa: E402

WIDE_VOICES = ("en-us", "en-gb", "en-us+f3")
WIDE_RATES = (140, 155, 165, 185)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def decoded_text(engine, samples, prompt: str | None) -> str:
    """One decode, no coverage check (what the app did before issue 10)."""
    return " ".join(s.text for s in drop_hallucinated(engine.decode(samples, prompt)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wide", action="store_true", help="every answer x 3 voices x 4 rates")
    args = parser.parse_args()
    chosen = clips.COVERAGE_CLIPS
    if args.wide:
        chosen = tuple((c, v, r) for c in clips.COVERAGE_ANSWERS for v in WIDE_VOICES for r in WIDE_RATES)
    bank = QuestionBank.load(())
    engine = transcribe.get_transcriber(settings=Settings.from_env())
    engine.warm_up()
    print(f"engine {engine.name}, model {engine.model_name}, beam {engine.beam_size}, {len(chosen)} clips\n")
    print(
        f"{'clip':24} {'audio':>6} | {'prompt: kept WER s':>19} | {'plain: kept WER s':>18} | "
        f"{'covered: kept WER s':>20} recovered/gaps"
    )
    totals = {k: {"kept": [], "wer": [], "s": 0.0} for k in ("prompt", "plain", "covered")}
    audio_s = 0.0
    for card, voice, rate in chosen:
        path, text = clips.coverage_clip(card, voice, rate)
        question = bank.get(card)
        prompt = transcribe.prompt_for(question.question, question.vocabulary)
        samples = audio.decode(path)
        audio_s += len(samples) / 16_000
        texts = {
            "prompt": timed(decoded_text, engine, samples, prompt),
            "plain": timed(decoded_text, engine, samples, None),
        }
        t, seconds = timed(engine.transcribe, samples, prompt=prompt)
        texts["covered"] = (t.text, seconds)
        cells = []
        for name, (hyp, seconds) in texts.items():
            kept, error = word_coverage(text, hyp), wer(text, hyp)
            totals[name]["kept"].append(kept)
            totals[name]["wer"].append(error)
            totals[name]["s"] += seconds
            cells.append(f"{kept:5.0%} {error:5.2f} {seconds:5.1f}")
        print(
            f"card {card:2d} {voice:9} {rate:3d} {len(samples) / 16_000:5.1f}s | {cells[0]:>19} | {cells[1]:>18} | "
            f"{cells[2]:>20} {len(t.recovered)}/{len(t.gaps)}",
            flush=True,
        )
    print(
        f"\n{'totals':30} {'min kept':>9} {'mean kept':>10} {'clips < 85 %':>13} {'mean WER':>9} {'decode s':>9} "
        f"{'x real time':>11}"
    )
    for name, tot in totals.items():
        below = sum(k < 0.85 for k in tot["kept"])
        print(
            f"{name:30} {min(tot['kept']):9.0%} {statistics.mean(tot['kept']):10.1%} {below:13d} "
            f"{statistics.mean(tot['wer']):9.3f} {tot['s']:9.1f} {tot['s'] / audio_s:11.3f}"
        )
    print(f"\naudio: {audio_s:.0f} s in {len(chosen)} clips")


if __name__ == "__main__":
    main()
