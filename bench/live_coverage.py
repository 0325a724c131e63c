"""Live transcription vs the whole file: word coverage, WER, seams, delivery metrics and the time after Stop.

    python bench/live_coverage.py            # 12 clips of 44-116 s (3 voices, 5 rates, 6 cards), ~11 min, 2 busy cores
    python bench/live_coverage.py --quick    # the first 4 clips, and the real-time run on a short one

Each clip is two to four cards' answers (tests/support/clips.py COVERAGE_ANSWERS) spoken by espeak-ng one after
the other with a 3 s pause between them, and 1 s of silence before Stop. Per clip, the configured engine (bundled
tiny.en by default) with the card prompt transcribes
  whole   the whole recording at once (engine.transcribe: today's path after Stop)
  live    the same audio fed to LiveTranscriber in 0.5 s chunks as fast as possible; the worker settles what it
          can (as it would while the person speaks), then Stop: finish() does the rest. "stop s" is that time.
Seams: at every region boundary, words the whole-file transcript has within 1 s of the cut that the live one
lacks ("lost"), and a word repeated across the cut ("dup"). Delivery metric differences are live vs whole in %
(fillers and long pauses as counts). Then one clip is fed in real time (0.5 s every 0.5 s) for an honest
post-Stop time beside the whole-file time.
"""

from __future__ import annotations

import argparse
import difflib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from support import clips  # noqa: E402
from support.coverage import word_coverage  # noqa: E402
from support.wer import wer  # noqa: E402

from infralens_coach import audio, transcribe  # noqa: E402
from infralens_coach.config import Settings  # noqa: E402
from infralens_coach.content import QuestionBank  # noqa: E402
from infralens_coach.delivery import DeliveryMetrics, delivery_metrics  # noqa: E402
from infralens_coach.transcribe.base import Transcript, normalise  # noqa: E402
from infralens_coach.transcribe.live import LiveTranscriber  # noqa: E402

SR = 16_000
CHUNK_S = 0.5
BETWEEN_ANSWERS_S = 3.0
STOP_AFTER_S = 1.0  # the speaker finishes, then presses Stop this much later
# (cards, espeak-ng voice, words per minute)
CLIPS = (
    ((7, 12), "en-us", 155),
    ((13, 16), "en-gb", 185),
    ((6, 19), "en-us+f3", 140),
    ((12, 13), "en-gb", 140),
    ((16, 6), "en-us", 185),
    ((19, 7), "en-gb", 165),
    ((7, 13, 16), "en-us", 165),
    ((6, 12, 19), "en-gb", 155),
    ((12, 16), "en-us+f3", 165),
    ((13, 19), "en-us", 140),
    ((6, 7, 12, 13), "en-gb", 175),
    ((16, 19, 7, 6), "en-us+f3", 155),
)


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def make_clip(cards: tuple[int, ...], voice: str, rate: int) -> tuple[np.ndarray, str]:
    pause = np.zeros(int(BETWEEN_ANSWERS_S * SR), np.float32)
    pieces: list[np.ndarray] = []
    for card in cards:
        pieces += [audio.decode(clips.coverage_clip(card, voice, rate)[0]), pause]
    pieces[-1] = np.zeros(int(STOP_AFTER_S * SR), np.float32)
    return np.concatenate(pieces), " ".join(clips.COVERAGE_ANSWERS[c] for c in cards)


def feed(live: LiveTranscriber, samples: np.ndarray, *, real_time: bool = False) -> None:
    step, start = int(CHUNK_S * SR), time.monotonic()
    for i in range(0, len(samples), step):
        live.feed(samples[i : i + step], SR)
        if real_time:
            time.sleep(max(0.0, start + (i + step) / SR - time.monotonic()))


def settle(live: LiveTranscriber, timeout_s: float = 300.0) -> None:
    """Wait until the worker has settled all it can before Stop (what a speaker's pace would have given it)."""
    live.wait_idle(timeout_s)


def seams(live: LiveTranscriber, whole: Transcript, streamed: Transcript) -> tuple[int, int, int]:
    """(seams, words lost within 1 s of a cut, words repeated across a cut)."""
    parts = live.parts()
    cuts = [p.end / SR for p in parts[:-1]]
    lost = dup = 0
    for cut in cuts:
        near_whole = [normalise(w.text) for w in whole.words if abs((w.start_s + w.end_s) / 2 - cut) < 1.0]
        near_live = [normalise(w.text) for w in streamed.words if abs((w.start_s + w.end_s) / 2 - cut) < 1.5]
        matcher = difflib.SequenceMatcher(None, near_whole, near_live, autojunk=False)
        lost += sum(i2 - i1 for op, i1, i2, _, _ in matcher.get_opcodes() if op == "delete")
        before = [w for w in streamed.words if w.end_s <= cut + 0.05]
        after = [w for w in streamed.words if w.start_s >= cut - 0.05]
        if before and after and normalise(before[-1].text) == normalise(after[0].text):
            dup += 1
    return len(cuts), lost, dup


def pct(a: float | None, b: float | None) -> float:
    if a is None or b is None:
        return float("nan")
    return 100.0 * (b - a) / a if a else 0.0


def metric_diffs(a: DeliveryMetrics, b: DeliveryMetrics) -> dict[str, float]:
    return {
        "dur%": pct(a.duration_s, b.duration_s),
        "wpm%": pct(a.words_per_minute, b.words_per_minute),
        "fill": b.filler_count - a.filler_count,
        "paus": b.long_pause_count - a.long_pause_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="4 clips")
    args = parser.parse_args()
    chosen = CLIPS[:4] if args.quick else CLIPS
    bank = QuestionBank.load(())
    engine = transcribe.warm_up(settings=Settings.from_env())
    print(f"load at start: {load()}")
    print(f"engine {engine.name}, model {engine.model_name}, {len(chosen)} clips, {CHUNK_S} s chunks\n")
    print(
        f"{'clip':28} {'audio':>6} {'regs':>4} | {'whole: cov WER s':>17} | {'live: cov WER stop s':>21} | "
        f"{'seams lost dup':>14} | {'dur% wpm% fill paus':>20} {'speech%':>7}"
    )
    rows = []
    for cards, voice, rate in chosen:
        samples, spoken = make_clip(cards, voice, rate)
        question = bank.get(cards[0])
        prompt = transcribe.prompt_for(question.question, question.vocabulary)
        start = time.perf_counter()
        whole = engine.transcribe(samples, prompt=prompt)
        whole_s = time.perf_counter() - start
        live = LiveTranscriber(engine, prompt=prompt)
        feed(live, samples)
        settle(live)
        start = time.perf_counter()
        streamed = live.finish()
        stop_s = time.perf_counter() - start
        n_seams, lost, dup = seams(live, whole, streamed)
        diffs = metric_diffs(delivery_metrics(whole), delivery_metrics(streamed))
        row = {
            "whole_cov": word_coverage(spoken, whole.text),
            "whole_wer": wer(spoken, whole.text),
            "live_cov": word_coverage(spoken, streamed.text),
            "live_wer": wer(spoken, streamed.text),
            "whole_s": whole_s,
            "stop_s": stop_s,
            "seams": n_seams,
            "lost": lost,
            "dup": dup,
            "speech%": pct(whole.speech_s, streamed.speech_s),
            **diffs,
        }
        rows.append(row)
        name = f"{'+'.join(map(str, cards))} {voice} {rate}"
        print(
            f"{name:28} {len(samples) / SR:5.0f}s {len(live.parts()):4d} | "
            f"{row['whole_cov']:5.0%} {row['whole_wer']:5.3f} {whole_s:5.1f} | "
            f"{row['live_cov']:5.0%} {row['live_wer']:5.3f} {stop_s:8.2f} | "
            f"{n_seams:5d} {lost:4d} {dup:3d} | "
            f"{diffs['dur%']:+5.1f} {diffs['wpm%']:+5.1f} {diffs['fill']:+4.0f} {diffs['paus']:+4.0f} "
            f"{row['speech%']:+7.1f}",
            flush=True,
        )

    def mean(key: str) -> float:
        return statistics.mean(r[key] for r in rows)

    def worst(key: str) -> float:
        return max((abs(r[key]) for r in rows), default=0.0)

    print(
        f"\nmean coverage whole {mean('whole_cov'):.1%}, live {mean('live_cov'):.1%} "
        f"(min {min(r['live_cov'] for r in rows):.1%}); mean WER whole {mean('whole_wer'):.3f}, live "
        f"{mean('live_wer'):.3f}"
    )
    print(
        f"seams {sum(r['seams'] for r in rows)}: words lost {sum(r['lost'] for r in rows)}, "
        f"duplicated {sum(r['dup'] for r in rows)}"
    )
    print(
        f"delivery, worst |live - whole|: duration {worst('dur%'):.1f} %, pace {worst('wpm%'):.1f} %, "
        f"fillers {worst('fill'):.0f}, long pauses {worst('paus'):.0f}, speech time {worst('speech%'):.1f} %"
    )
    print(
        f"after Stop (worker kept up): mean {mean('stop_s'):.2f} s, max {max(r['stop_s'] for r in rows):.2f} s; "
        f"whole-file transcription: mean {mean('whole_s'):.2f} s, max {max(r['whole_s'] for r in rows):.2f} s"
    )
    real_time(engine, bank, *chosen[-1] if not args.quick else chosen[0])
    print(f"\nload at end: {load()}")


def real_time(
    engine: transcribe.Transcriber, bank: QuestionBank, cards: tuple[int, ...], voice: str, rate: int
) -> None:
    """One clip fed at the speed of speech: how long after Stop the transcript is ready, vs the whole file."""
    samples, spoken = make_clip(cards, voice, rate)
    question = bank.get(cards[0])
    prompt = transcribe.prompt_for(question.question, question.vocabulary)
    live = LiveTranscriber(engine, prompt=prompt)
    lags = []
    step, start = int(CHUNK_S * SR), time.monotonic()
    for i in range(0, len(samples), step):
        live.feed(samples[i : i + step], SR)
        lags.append(live.view().pending_s)
        time.sleep(max(0.0, start + (i + step) / SR - time.monotonic()))
    view = live.view()
    start = time.perf_counter()
    streamed = live.finish()
    stop_s = time.perf_counter() - start
    start = time.perf_counter()
    whole = engine.transcribe(samples, prompt=prompt)
    whole_s = time.perf_counter() - start
    print(
        f"\nreal time, {'+'.join(map(str, cards))} {voice} {rate} ({len(samples) / SR:.0f} s): at Stop "
        f"{view.settled_s:.1f} s settled, {view.pending_s:.1f} s left (mean lag {statistics.mean(lags):.1f} s, "
        f"max {max(lags):.1f} s); transcript {stop_s:.2f} s after Stop vs whole file {whole_s:.2f} s "
        f"(x{whole_s / max(stop_s, 1e-3):.1f}); coverage live {word_coverage(spoken, streamed.text):.1%} "
        f"whole {word_coverage(spoken, whole.text):.1%}; regions {len(live.parts())}"
    )


if __name__ == "__main__":
    main()
