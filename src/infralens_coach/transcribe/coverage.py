"""No passage of speech may vanish: check each decode against voice activity and recover what it missed.

With the card prompt, tiny.en sometimes stops early and stretches the words it kept over the passages it
skipped (NOTES.md "initial_prompt can drop speech": 22 of 86 words, the first sentence timed at 19–28 s).
So every decode is checked region by region against Silero VAD: a run of voiced regions holding far fewer
words than anyone says in that time is a gap. The usual decode has none and is used as it is. After one
that has, nothing of it within SUSPECT_S of a gap is trusted. That stretch is decoded again without the
prompt (the plain decode kept 89-100 % of the words of every clip in bench/asr_coverage.py) as the reference
for what was said where, and in passages of at most PASSAGE_S, each on its own with the prompt. Each region
keeps the passage's words where they agree with the reference (the prompt's jargon gain), else the reference's.
Regions still without words are returned as gaps, for the front ends to tell the user (and keep the audio).

Both engines share this: each supplies only ``decode(audio, prompt, on_progress, speech_end_s=...) -> segments``.
``speech_end_s`` is where the voice activity of ``audio`` ends: an engine that decodes lazily may stop there
instead of spending a whole 30 s window on the silence after the last word (faster-whisper does that whenever
a window ends between two segments: 0.3-0.4 s of a 0.8 s region decode on these cores).
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .base import (
    Gap,
    Progress,
    Segment,
    Transcript,
    Word,
    drop_hallucinated,
    finish,
    normalise,
    require_audio_length,
    require_speech_time,
)
from .libraries import import_faster_whisper

SAMPLE_RATE = 16_000
# 60 words a minute of voiced time (pauses excluded): under half the slowest answer we measured, so a
# region below it lost its words rather than being spoken slowly.
MIN_WORDS_PER_SPEECH_S = 1.0
MIN_GAP_S = 1.5  # a shorter unheard stretch may be a cough or a drawn-out "um" that Whisper leaves out
AGREEMENT = 0.5  # word similarity of the two decodes in a region for the prompted words to stay
FEWER_WORDS = 0.2  # ... and they may be short of the plain decode's by this share (or 2 words), no more
PASSAGE_S = 12.0  # recovery decodes passages up to this long with the prompt (it seldom drops speech there)
SUSPECT_S = 30.0  # ... and only within this of a gap (one Whisper window): further away the first decode stands
EDGE_S = 0.3  # silence kept either side of a passage excerpt, so its first and last sounds are whole
PROGRESS_BEFORE_DONE = 0.99  # (total, total) is reported only once the transcript is final


class Decode(Protocol):
    def __call__(
        self,
        audio: np.ndarray,
        prompt: str | None = None,
        on_progress: Progress | None = None,
        *,
        speech_end_s: float | None = None,
    ) -> tuple[Segment, ...]: ...


@dataclass(frozen=True)
class Region:
    start_s: float
    end_s: float

    @property
    def speech_s(self) -> float:
        return self.end_s - self.start_s


def speech_regions(audio: np.ndarray) -> tuple[Region, ...]:
    """Voiced regions by Silero VAD (bundled with faster-whisper, nothing downloads).

    Unpadded, with short gaps split off: a 0.2 s click in silence counts 0.2 s, not the ~2.5 s that the
    padded chunks of vad_filter add up to, while a real 1.5 s answer counts ~1.4 s. Split at 100 ms of
    silence, the regions are about a clause long: fine enough to say where words are missing.
    """
    import_faster_whisper()  # a broken install is a TranscriptionError, not an ImportError
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(speech_pad_ms=0, min_silence_duration_ms=100)
    chunks = get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
    return tuple(Region(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks)


def words_by_region(regions: Sequence[Region], words: Sequence[Word]) -> list[list[Word]]:
    """Each word goes to the region holding its midpoint, or the nearest one (timestamps are approximate)."""
    starts = [r.start_s for r in regions]
    out: list[list[Word]] = [[] for _ in regions]
    for w in words:
        mid = (w.start_s + w.end_s) / 2
        i = max(0, bisect.bisect_right(starts, mid) - 1)
        if mid > regions[i].end_s and i + 1 < len(regions) and regions[i + 1].start_s - mid < mid - regions[i].end_s:
            i += 1
        out[i].append(w)
    return out


def is_thin(region: Region, n_words: int) -> bool:
    return n_words < MIN_WORDS_PER_SPEECH_S * region.speech_s


def find_gaps(regions: Sequence[Region], per_region: Sequence[Sequence[Word]]) -> tuple[Gap, ...]:
    """Runs of consecutive thin regions with at least MIN_GAP_S of speech between them."""
    gaps, run = [], []
    for i, region in enumerate([*regions, None]):
        if region is not None and is_thin(region, len(per_region[i])):
            run.append(i)
            continue
        if run and sum(regions[j].speech_s for j in run) >= MIN_GAP_S:
            gaps.append(
                Gap(
                    regions[run[0]].start_s,
                    regions[run[-1]].end_s,
                    sum(regions[j].speech_s for j in run),
                    sum(len(per_region[j]) for j in run),
                )
            )
        run = []
    return tuple(gaps)


def coverage_gaps(regions: Sequence[Region], segments: Sequence[Segment]) -> tuple[Gap, ...]:
    return find_gaps(regions, words_by_region(regions, [w for s in segments for w in s.words]))


def transcribe_covered(
    audio: np.ndarray, decode: Decode, *, prompt: str | None, on_progress: Progress | None, engine: str, model: str
) -> Transcript:
    """The engines' common path: refuse silence, decode, check every voiced region, recover, assemble."""
    require_audio_length(audio)
    regions = speech_regions(audio)
    speech_s = sum(r.speech_s for r in regions)
    require_speech_time(speech_s)  # before any decoding work
    duration_s = len(audio) / SAMPLE_RATE
    report = ProgressReporter(on_progress, duration_s)
    segments, gaps, recovered = decode_covering(audio, decode, regions, prompt=prompt, on_progress=report)
    transcript = finish(
        segments, duration_s=duration_s, speech_s=speech_s, engine=engine, model=model, gaps=gaps, recovered=recovered
    )
    report.done()
    return transcript


def decode_covering(
    audio: np.ndarray,
    decode: Decode,
    regions: Sequence[Region],
    *,
    prompt: str | None,
    on_progress: Progress | None = None,
) -> tuple[tuple[Segment, ...], tuple[Gap, ...], tuple[Gap, ...]]:
    """(segments, gaps still open, gaps recovered). One decode when nothing is missing, which is the usual case."""
    end_s = regions[-1].end_s if regions else None
    first = drop_hallucinated(decode(audio, prompt, on_progress, speech_end_s=end_s))
    first_gaps = coverage_gaps(regions, first)
    if not first_gaps:
        return first, (), ()
    # A prompted decode that skipped a passage also mistimed what it kept (the clip: its first sentence
    # at 19-28 s), so none of it is kept near the gaps: within SUSPECT_S of one (a Whisper window), and all of it
    # for a recording shorter than that. There the plain decode is the reference for what was said where; short
    # passages decoded on their own with the prompt bring back its spelling where they agree with it. Further
    # away, the first decode stands: a 5-minute upload that lost its first sentence costs a minute of decoding
    # again, not three times the whole recording.
    lo_i, hi_i = _suspect(regions, first_gaps)
    first_words = words_by_region(regions, _words(first))
    chosen: list[tuple[list[Word], str]] = [(first_words[i], "first") for i in range(lo_i)]
    i0, i1 = _excerpt(audio, regions, lo_i, hi_i)
    offset_s = i0 / SAMPLE_RATE
    if prompt:
        excerpt_end_s = regions[hi_i - 1].end_s - offset_s
        plain = [
            Word(w.text, w.start_s + offset_s, w.end_s + offset_s, w.probability)
            for w in _words(drop_hallucinated(decode(audio[i0:i1], speech_end_s=excerpt_end_s)))
        ]
    else:
        plain = _words(first)
    reference = words_by_region(regions[lo_i:hi_i], plain)
    for k, (lo, hi) in enumerate(passages(regions[lo_i:hi_i])):
        lo, hi = lo + lo_i, hi + lo_i
        again = _decode_passage(audio, decode, regions, lo, hi, prompt)
        for region, ours, theirs in zip(regions[lo:hi], again, reference[lo - lo_i : hi - lo_i], strict=True):
            chosen.append((ours, f"passage-{k}") if _prefer(region, ours, theirs) else (theirs, "reference"))
    chosen.extend((first_words[i], "first") for i in range(hi_i, len(regions)))
    gaps = find_gaps(regions, [words for words, _ in chosen])
    recovered = tuple(g for g in first_gaps if not any(_overlap(g, open_gap) for open_gap in gaps))
    return _segments(chosen), gaps, recovered


def _suspect(regions: Sequence[Region], gaps: Sequence[Gap]) -> tuple[int, int]:
    """The regions [lo, hi) within SUSPECT_S of a gap: where a decode that lost speech may also have mistimed."""
    lo_s = min(g.start_s for g in gaps) - SUSPECT_S
    hi_s = max(g.end_s for g in gaps) + SUSPECT_S
    lo = next((i for i, r in enumerate(regions) if r.end_s > lo_s), 0)
    hi = next((i for i in range(len(regions), 0, -1) if regions[i - 1].start_s < hi_s), len(regions))
    return lo, max(hi, lo + 1)


def _excerpt(audio: np.ndarray, regions: Sequence[Region], lo: int, hi: int) -> tuple[int, int]:
    """Samples holding regions[lo:hi], cut halfway into the silence either side (the whole of the recording's
    ends, so that a recording with one suspect stretch is decoded exactly as before)."""
    start_s = 0.0 if lo == 0 else (regions[lo - 1].end_s + regions[lo].start_s) / 2
    end = len(audio) if hi == len(regions) else int((regions[hi - 1].end_s + regions[hi].start_s) / 2 * SAMPLE_RATE)
    return int(start_s * SAMPLE_RATE), end


def passages(regions: Sequence[Region]) -> list[tuple[int, int]]:
    """Consecutive regions grouped into passages of at most PASSAGE_S (a longer region stands alone)."""
    out, lo = [], 0
    for i in range(1, len(regions) + 1):
        if i == len(regions) or regions[i].end_s - regions[lo].start_s > PASSAGE_S:
            out.append((lo, i))
            lo = i
    return out


def _decode_passage(
    audio: np.ndarray, decode: Decode, regions: Sequence[Region], lo: int, hi: int, prompt: str | None
) -> list[list[Word]]:
    """Words per region of regions[lo:hi], decoded on their own: the excerpt reaches halfway into the silence
    either side (at most EDGE_S), never into the next passage."""
    before_s = regions[lo].start_s - (regions[lo - 1].end_s if lo > 0 else 0.0)
    after_s = (regions[hi].start_s if hi < len(regions) else len(audio) / SAMPLE_RATE) - regions[hi - 1].end_s
    i0 = max(0, int((regions[lo].start_s - min(EDGE_S, before_s / 2)) * SAMPLE_RATE))
    i1 = int((regions[hi - 1].end_s + min(EDGE_S, after_s / 2)) * SAMPLE_RATE)
    offset_s = i0 / SAMPLE_RATE
    found = [
        Word(w.text, w.start_s + offset_s, w.end_s + offset_s, w.probability)
        for w in _words(drop_hallucinated(decode(audio[i0:i1], prompt, speech_end_s=regions[hi - 1].end_s - offset_s)))
    ]
    return words_by_region(regions[lo:hi], found)


def _words(segments: Sequence[Segment]) -> list[Word]:
    return [w for s in segments for w in s.words]


def _prefer(region: Region, ours: Sequence[Word], reference: Sequence[Word]) -> bool:
    """The passage's words over the reference's when they are there, agree with it and are not clearly fewer
    (a decode that drops the end of a region still agrees with what it kept)."""
    if is_thin(region, len(ours)):
        return len(ours) > len(reference) and is_thin(region, len(reference))
    if is_thin(region, len(reference)):
        return True
    fewer_by = len(reference) - len(ours)
    return _similarity(ours, reference) >= AGREEMENT and fewer_by <= max(2, FEWER_WORDS * len(reference))


def _similarity(a: Sequence[Word], b: Sequence[Word]) -> float:
    return difflib.SequenceMatcher(
        None,
        normalise(" ".join(w.text for w in a)).split(),
        normalise(" ".join(w.text for w in b)).split(),
        autojunk=False,
    ).ratio()


def _segments(chosen: Sequence[tuple[list[Word], str]]) -> tuple[Segment, ...]:
    """One segment per run of regions from the same decode; a word repeated across a seam is kept once."""
    runs: list[tuple[str, list[Word]]] = []
    for words, source in chosen:
        if not words:
            continue
        if runs and runs[-1][0] == source:
            runs[-1][1].extend(words)
            continue
        if runs and _same_word(runs[-1][1][-1], words[0]):
            words = words[1:]
        if words:
            runs.append((source, list(words)))
    return tuple(Segment(join_words(words), words[0].start_s, words[-1].end_s, tuple(words)) for _, words in runs)


def join_words(words: Sequence[Word]) -> str:
    """Words back into text: Whisper's word pieces such as "-off" or "'s" attach to the word before."""
    text = ""
    for w in words:
        text += w.text if not text or w.text[:1] in "-'’.,!?;:%" else " " + w.text
    return text


def _same_word(a: Word, b: Word) -> bool:
    return normalise(a.text) == normalise(b.text) and b.start_s - a.start_s < 1.0


def _overlap(a: Gap, b: Gap) -> bool:
    return a.start_s < b.end_s and b.start_s < a.end_s


class ProgressReporter:
    """on_progress made safe: never backwards, never past the total before the transcript is final."""

    def __init__(self, on_progress: Progress | None, total_s: float) -> None:
        self.on_progress, self.total_s, self.done_s = on_progress, total_s, 0.0

    def __call__(self, done_s: float, _total_s: float | None = None) -> None:
        self._send(min(max(done_s, 0.0), self.total_s * PROGRESS_BEFORE_DONE))

    def done(self) -> None:
        self._send(self.total_s)

    def _send(self, done_s: float) -> None:
        if self.on_progress is not None and done_s > self.done_s:
            self.done_s = done_s
            self.on_progress(done_s, self.total_s)
