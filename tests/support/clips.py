"""Real audio for the tests and the bench, made once per process in a temporary directory.

Speech comes from espeak-ng (the text is known, so WER can be measured); other formats from ffmpeg;
silence and noise from numpy. Each clip is made on first use and cached for the rest of the run.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

# Card 7 (Kubernetes Job vs Deployment) answered in about 15 s at 175 wpm.
ANSWER = (
    "A Kubernetes Job runs finite batch work until it completes, and it retries failed pods up to the "
    "backoff limit. A Deployment keeps long running services alive and replaces pods that exit. "
    "Use a CronJob when the batch work must run on a schedule."
)
KEY_WORDS = ("completes", "deployment", "running", "schedule")
SHORT_ANSWER = "Use a Job for batch work."  # about 1.5 s
PAUSE_FIRST = "A Job runs batch work until it completes."
PAUSE_SECOND = "A Deployment keeps a service running all the time."
PAUSE_S = 2.5
FILLER_ANSWER = (
    "Um, a Job runs batch work until it completes. Uh, a Deployment, you know, keeps the service running. "
    "So, the Job has a backoff limit, and, like, the Deployment has replicas. Er, that is the difference."
)
FILLERS_SPOKEN = 6  # um, uh, you know, so, like, er
# A long answer assembled from the bank's explanations (for 30/60/120 s bench clips).
LONG_SENTENCES = (
    "The difference is lifecycle semantics.",
    "A Job wants completion and a retry policy, while a Deployment wants a desired replica count, "
    "rolling update behavior and service availability.",
    "Training can also need custom controllers or workflow systems when checkpointing and distributed "
    "launch are involved.",
    "Resource requests decide where the scheduler places a pod, and limits decide when the kernel "
    "throttles or kills it.",
    "For inference, watch latency, error rate and saturation, and alert on the service level objective "
    "rather than on every metric.",
    "A model registry keeps versioned artifacts with their lineage, so a bad release can be rolled back in minutes.",
    "Object storage holds datasets and checkpoints, so a preempted spot instance can resume from the last "
    "checkpoint instead of starting again.",
    "Continuous batching and a paged key value cache let a large language model server keep the GPU busy.",
)

# Issue 10 item 1: tiny.en with the card prompt returned 22 of these 86 words (VAD speech 27 s, span 9.9 s).
CARD7_ISSUE_ANSWER = (
    "Use a Kubernetes Job when the work is finite, like a batch training run, a data backfill, or an evaluation "
    "pass. A Job runs pods until they complete successfully, and it retries failed pods up to the backoff limit. "
    "A Deployment is for something that should always be up, like an inference API. It keeps the replica count "
    "and does rolling updates. A common mistake is running a one-off batch task as a Deployment, so it restarts "
    "forever after it finishes."
)
# Answers of about 25 s to other cards, in our own words (not the cards' wording), for the coverage test/bench.
COVERAGE_ANSWERS = {
    6: "A request is what the scheduler reserves for a pod, so it decides which node the pod lands on. A limit is "
       "the ceiling the kernel enforces while it runs. If a training pod goes over its memory limit it gets killed "
       "with OOMKilled, and if it hits the CPU limit it gets throttled and the data loader slows down. GPUs are "
       "different: you ask for whole devices through the device plugin, and the request and the limit must match.",
    7: CARD7_ISSUE_ANSWER,
    12: "First I would measure how busy the GPUs really are, because many clusters sit at thirty percent. Then I "
        "would move training that can checkpoint onto spot instances, so a preemption only costs a few minutes. For "
        "serving, dynamic batching and lower precision raise throughput per card. I would keep some headroom and "
        "watch the latency objective, so saving money never turns into an outage.",
    13: "The objective is the target, for example ninety nine percent of requests answered in under three hundred "
        "milliseconds over a month. The error budget is what is left over. Good alerts fire on the burn rate of that "
        "budget, not on every CPU spike, so the person on call is paged only when users are actually hurting. Each "
        "page should link to a runbook that says what to check first.",
    16: "I would start with offline checks against a fixed evaluation set and the current model. Then I would send "
        "shadow traffic to the new version and compare its answers and its latency without users seeing them. After "
        "that comes a small canary, maybe five percent of requests, with automatic rollback if the error rate or the "
        "tail latency gets worse. Only then does it go to everyone.",
    19: "When a service runs out of memory I first find out which memory it was. Exit code one three seven in "
        "Kubernetes means the container hit its limit, while a CUDA out of memory error means the GPU was full. For "
        "a language model the usual cause is the key value cache growing with long prompts, so I would cap the batch "
        "size and the context length, and then add an alert before it happens again.",
}  # fmt: skip
# (card, espeak-ng voice, words per minute): 3 voices (one female), 4 rates; card 7 at 155 (en-us) and 165
# (en-gb) are the clips where the prompted decode dropped most of the answer before recovery existed.
COVERAGE_CLIPS = (
    (7, "en-gb", 165), (7, "en-us", 155), (7, "en-us", 140), (7, "en-gb", 185), (7, "en-us+f3", 165),
    (6, "en-us", 140), (6, "en-gb", 185), (12, "en-gb", 140), (12, "en-us+f3", 185), (13, "en-us", 185),
    (13, "en-us+f3", 140), (16, "en-gb", 165), (16, "en-us", 185), (19, "en-us", 165), (19, "en-gb", 140),
)  # fmt: skip


def coverage_clip(card: int, voice: str, rate_wpm: int) -> tuple[Path, str]:
    """A COVERAGE_ANSWERS clip (made once per run, like every clip here) and the text spoken in it."""
    text = COVERAGE_ANSWERS[card]
    return speech(text, rate_wpm, voice), text


_DIR = Path(tempfile.mkdtemp(prefix="infralens-clips-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)


def workdir() -> Path:
    return _DIR


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@functools.cache
def speech(text: str, rate_wpm: int = 175, voice: str = "en") -> Path:
    """espeak-ng -> 22.05 kHz mono 16-bit WAV."""
    out = _DIR / f"speech-{abs(hash((text, rate_wpm, voice)))}.wav"
    run("espeak-ng", "-v", voice, "-s", str(rate_wpm), "-w", str(out), text)
    return out


@functools.cache
def converted(source: Path, suffix: str, *args: str) -> Path:
    """ffmpeg conversion of a clip, e.g. converted(wav, ".webm", "-c:a", "libopus")."""
    out = _DIR / f"{source.stem}-{abs(hash(args))}{suffix}"
    run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *args, str(out))
    return out


FORMATS = {
    "webm-opus": (".webm", "-c:a", "libopus", "-b:a", "32k"),
    "ogg-opus": (".ogg", "-c:a", "libopus", "-b:a", "32k"),
    "mp3-stereo-44k": (".mp3", "-ac", "2", "-ar", "44100", "-b:a", "96k"),
    "m4a-aac": (".m4a", "-c:a", "aac", "-b:a", "64k"),
    "flac-stereo-48k": (".flac", "-ac", "2", "-ar", "48000", "-sample_fmt", "s32"),
    "wav-float-32k": (".wav", "-ar", "32000", "-c:a", "pcm_f32le"),
}


def answer_in(fmt: str) -> Path:
    suffix, *args = FORMATS[fmt]
    return converted(speech(ANSWER), suffix, *args)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    pcm = np.clip(samples, -1, 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((pcm * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    return x.reshape(-1, channels).mean(axis=1), rate


@functools.cache
def with_pause() -> Path:
    """Two sentences with PAUSE_S of silence between them."""
    a, rate = read_wav(speech(PAUSE_FIRST))
    b, _ = read_wav(speech(PAUSE_SECOND))
    gap = np.zeros(int(PAUSE_S * rate), np.float32)
    return write_wav(_DIR / "with-pause.wav", np.concatenate([a, gap, b]), rate)


@functools.cache
def long_answer(seconds: float, rate_wpm: int = 175) -> tuple[Path, str]:
    """A spoken answer of about ``seconds`` (sentences repeated as needed) and its text."""
    per_sentence_s = [read_wav(speech(s, rate_wpm))[0].size / 22050 for s in LONG_SENTENCES]
    chosen, total, i = [], 0.0, 0
    while total < seconds - 1:
        chosen.append(LONG_SENTENCES[i % len(LONG_SENTENCES)])
        total += per_sentence_s[i % len(LONG_SENTENCES)]
        i += 1
    text = " ".join(chosen)
    return speech(text, rate_wpm), text


@functools.cache
def silence(seconds: float = 10.0) -> Path:
    return write_wav(_DIR / f"silence-{seconds}.wav", np.zeros(int(seconds * 16_000), np.float32))


@functools.cache
def noise(seconds: float = 10.0, level: float = 0.3) -> Path:
    rng = np.random.default_rng(7)
    return write_wav(_DIR / f"noise-{seconds}-{level}.wav", rng.normal(0, level / 3, int(seconds * 16_000)))


@functools.cache
def clipped(seconds: float) -> Path:
    """The first ``seconds`` of the answer (0.2 s: a click of speech)."""
    x, rate = read_wav(speech(ANSWER))
    return write_wav(_DIR / f"clipped-{seconds}.wav", x[: int(seconds * rate)], rate)


@functools.cache
def bad_file(kind: str) -> Path:
    path = (
        _DIR
        / {
            "empty": "empty.wav",
            "random": "random.webm",
            "text": "notes.webm",
            "header-only": "header-only.wav",
        }[kind]
    )
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(3).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    elif kind == "text":
        path.write_text("A Job runs to completion; a Deployment keeps running.\n" * 20)
    else:
        write_wav(path, np.zeros(0, np.float32))
    return path


@functools.cache
def over_length(seconds: float = 601.0) -> Path:
    """A WAV longer than the default 10-minute maximum (quiet noise, so it is not silence)."""
    rng = np.random.default_rng(11)
    return write_wav(_DIR / f"long-{seconds}.wav", rng.normal(0, 0.01, int(seconds * 16_000)))


@functools.cache
def raw_microphone(text: str = ANSWER, tail_s: float = 1.0) -> Path:
    """16 kHz mono s16le raw file for ALSA's file plugin (the virtual microphone)."""
    out = _DIR / f"mic-{abs(hash((text, tail_s)))}.raw"
    run("sox", str(speech(text)), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", str(out))
    with out.open("ab") as f:
        f.write(b"\0\0" * int(tail_s * 16_000))
    return out


def alsa_config(raw_file: Path | None, name: str = "alsa.conf") -> Path:
    """ALSA configuration whose default capture device replays ``raw_file``.

    None gives a configuration with no usable capture device (the "no microphone" case).
    """
    if raw_file is None:
        body = "pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n"
    else:
        body = (
            'pcm.!default {\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n'
            f'  infile "{raw_file}"\n  format "raw"\n}}\nctl.!default {{ type hw card 0 }}\n'
        )
    path = _DIR / name
    path.write_text("</usr/share/alsa/alsa.conf>\n" + body)
    return path


@functools.cache
def openai_checkpoint() -> Path:
    """The bundled CTranslate2 tiny.en converted to an openai-whisper .pt (same weights for both engines)."""
    from infralens_coach.transcribe.models import bundled_model_dir

    from .ct2_to_openai import convert_to_file

    return convert_to_file(bundled_model_dir(), _DIR / "tiny.en-from-ct2.pt")
