"""Live transcription: the transcript grows while the person speaks, and at Stop only the last region is left.

    live = LiveTranscriber(get_transcriber(), prompt=prompt_for(question, vocabulary))
    live.feed(block, 48_000)          # from the microphone callback: returns at once, never decodes
    live.view()                       # LiveView: settled text, provisional tail, lag, warning
    transcript = live.finish()        # after Stop: decodes only what is left, checks it like the whole file

feed() appends to the whole recording (16 kHz mono float32; nothing is ever dropped). One worker thread per
recording cuts the stream at pauses found by Silero VAD (coverage.speech_regions) and transcribes each settled
region on its own with the card prompt, through the same coverage check and hallucination filter as the
whole-file path. Regions partition the recording: each ends in the middle of a pause, so no word is cut in two,
and a region's words are offset to the recording's timeline. A region is at most MAX_REGION_S long, so a speaker
who never pauses still progresses. A worker that falls behind (a slow machine) only moves work to after Stop:
finish() transcribes whatever is left, so the transcript is complete either way.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..audio import int_to_float
from ..errors import AudioError, CoachError, NoSpeechError, TranscriptionError
from .base import (
    Gap,
    Progress,
    Segment,
    Transcriber,
    Transcript,
    Word,
    drop_hallucinated,
    require_audio_length,
    require_speech_time,
)
from .base import finish as assemble
from .coverage import Decode, ProgressReporter, Region, decode_covering, speech_regions

SAMPLE_RATE = 16_000
MIN_PAUSE_S = 0.25  # a pause this long ends a region (espeak's sentence ends are 0.29-0.38 s, its commas 0.2 s)
MIN_REGION_S = 4.0  # shorter regions give Whisper too little context (and cost a whole 30 s encoder window each)
MAX_REGION_S = 25.0  # under Whisper's 30 s window; a speaker who never pauses is cut here (at the quietest point)
VAD_MARGIN_S = 0.3  # the last moments of the audio may still turn out to be speech: never cut inside them
LEAD_IN_S = 0.5  # silence kept before speech when a silent stretch is settled on its own
MIN_SILENT_S = 1.0  # a silent stretch settles (with no decoding) once it is this long
SCAN_STEP_S = 0.5  # the worker looks for a pause again after this much new audio
TAIL_STEP_S = 2.0  # ... and decodes the provisional tail again after this much (only when it has nothing to settle)
TAIL_MAX_RTF = 0.2  # ... and only once a decode has shown it takes under this share of real time: a busy machine
# settles first and never spends the cores on provisional text. A decode costs about one 30 s window however
# little audio it has, so it is measured against at least MIN_REGION_S: a 1 s tail that took 0.4 s says the
# machine is as fast as a 4 s region that took 0.4 s, not 2.5 times slower.
CUT_OFF_S = 0.1  # voice activity this close to the end of a recording: Stop came while the person spoke
VAD_SETTLE_S = 1.0  # voice activity this far before the end of the audio is final: it is never run over again
BEHIND_S = 30.0  # more unsettled audio than this: tell the user the rest is finished after Stop
STOP_TIMEOUT_S = 120.0  # finish() waits this long for the worker's current decode (a 25 s region on a slow machine)
CANCEL_TIMEOUT_S = 5.0  # cancel() waits no longer: the worker is a daemon and ends after its current decode


@dataclass(frozen=True)
class LiveView:
    settled: str  # text of regions already transcribed (final; never changes once shown)
    tail: str  # provisional text of the newest not-yet-settled audio ("" when none / not decoded)
    heard_s: float  # seconds of audio received so far
    settled_s: float  # seconds of audio covered by settled text
    pending_s: float  # seconds received but not yet transcribed (lag)
    warning: str | None  # e.g. "the transcript is 32 s behind ...: the rest is finished after Stop"


@dataclass(frozen=True)
class Part:
    """One settled region of the recording: samples [start, end) and what was heard there (global times)."""

    start: int
    end: int
    segments: tuple[Segment, ...]
    speech: tuple[Region, ...]
    gaps: tuple[Gap, ...] = ()
    recovered: tuple[Gap, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)


# ------------------------------------------------------------ where to cut (pure functions)


def next_cut(regions: Sequence[Region], length_s: float, *, final: bool = False) -> float | None:
    """Seconds from the window's start where the next settled region ends, or None to wait for more audio.

    ``regions`` are the voiced regions of a window of ``length_s`` seconds that starts at a cut (in silence).
    A region ends in the middle of a pause of at least MIN_PAUSE_S, is MIN_REGION_S to MAX_REGION_S long
    (the latest such pause wins, so a worker that fell behind catches up in long regions), and a stretch with
    no speech at all settles once it is MIN_SILENT_S long. ``final``: the recording has ended, so its end is
    a cut too.
    """
    if final and length_s <= MAX_REGION_S:
        return length_s if length_s > 0 else None
    known_s = length_s if final else length_s - VAD_MARGIN_S
    if known_s <= 0:
        return None
    candidates = []
    for a, b in _pauses(regions, known_s):
        if a == 0.0:  # silence before any speech: settle it without decoding, up to just before the speech
            pos = b - min(LEAD_IN_S, (b - a) / 2) if b < known_s else b
            if pos >= MIN_SILENT_S:
                candidates.append(pos)
        elif b - a >= MIN_PAUSE_S and MIN_REGION_S <= (a + b) / 2 <= MAX_REGION_S:
            candidates.append((a + b) / 2)
    if candidates:
        return max(candidates)
    if known_s <= MAX_REGION_S:
        return None
    # A speaker who never pauses long enough: the longest of the short pauses, else MAX_REGION_S (the caller
    # moves it to the quietest moment nearby).
    short = [(b - a, (a + b) / 2) for a, b in _pauses(regions, known_s) if MIN_REGION_S <= (a + b) / 2 <= MAX_REGION_S]
    return max(short)[1] if short else MAX_REGION_S


def _pauses(regions: Sequence[Region], known_s: float) -> list[tuple[float, float]]:
    """The silent stretches (start, end) of a window: before the first region, between regions, after the last."""
    out, last_end = [], 0.0
    for r in regions:
        if r.start_s >= known_s:
            break
        if r.start_s > last_end:
            out.append((last_end, r.start_s))
        last_end = max(last_end, r.end_s)
    if last_end < known_s:
        out.append((last_end, known_s))
    return out


def quietest(samples: np.ndarray, around: int, span: int = SAMPLE_RATE) -> int:
    """The quietest 20 ms of samples[around - span, around]: where a forced cut in speech does least harm."""
    frame = SAMPLE_RATE // 50
    lo = max(0, around - span)
    piece = samples[lo:around]
    n = len(piece) // frame
    if n == 0:
        return around
    energy = (piece[: n * frame].reshape(n, frame) ** 2).sum(axis=1)
    return lo + int(np.argmin(energy)) * frame + frame // 2


def shift_regions(regions: Sequence[Region], offset_s: float) -> tuple[Region, ...]:
    return tuple(Region(r.start_s + offset_s, r.end_s + offset_s) for r in regions)


def clip_regions(regions: Sequence[Region], lo_s: float, hi_s: float) -> tuple[Region, ...]:
    """The parts of regions inside [lo_s, hi_s], in seconds from lo_s."""
    return tuple(
        Region(max(r.start_s, lo_s) - lo_s, min(r.end_s, hi_s) - lo_s)
        for r in regions
        if min(r.end_s, hi_s) > max(r.start_s, lo_s)
    )


def shift_segments(segments: Sequence[Segment], offset_s: float) -> tuple[Segment, ...]:
    return tuple(
        dataclasses.replace(
            s,
            start_s=s.start_s + offset_s,
            end_s=s.end_s + offset_s,
            words=tuple(Word(w.text, w.start_s + offset_s, w.end_s + offset_s, w.probability) for w in s.words),
        )
        for s in segments
    )


def shift_gaps(gaps: Sequence[Gap], offset_s: float) -> tuple[Gap, ...]:
    return tuple(Gap(g.start_s + offset_s, g.end_s + offset_s, g.speech_s, g.words) for g in gaps)


# ------------------------------------------------------------ audio in


class _Resampler:
    """Linear resampling to 16 kHz across chunk boundaries: chunk by chunk it gives what one pass over the
    whole stream gives (audio.from_array), with no drift however small the chunks."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.n_in = 0  # input samples seen
        self.n_out = 0  # output samples produced
        self.last = np.zeros(0, np.float64)  # the last input sample (interpolation spans chunks)

    def push(self, x: np.ndarray) -> np.ndarray:
        if self.rate == SAMPLE_RATE:
            return x.astype(np.float32)
        buf = np.concatenate([self.last, x])
        base = self.n_in - len(self.last)
        self.n_in += len(x)
        if self.n_in == 0:
            return np.zeros(0, np.float32)
        # outputs whose position k * rate / 16 kHz lies within the input seen so far
        end = (self.n_in - 1) * SAMPLE_RATE // self.rate + 1
        positions = np.arange(self.n_out, end) * (self.rate / SAMPLE_RATE) - base
        out = np.asarray(np.interp(positions, np.arange(len(buf)), buf), dtype=np.float32)
        self.n_out = max(self.n_out, end)
        self.last = buf[-1:]
        return out


def to_mono_float(samples: np.ndarray) -> np.ndarray:
    """int or float, (frames,) or (frames, channels) -> mono float64 in [-1, 1] (the layout sounddevice and
    Gradio stream; a chunk is never transposed, since a 1-frame stereo chunk would look like 2 mono frames)."""
    a = np.asarray(samples)
    if np.issubdtype(a.dtype, np.integer):
        a = int_to_float(a)
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    else:
        raise AudioError(f"audio chunk has unsupported dtype {a.dtype}")
    if a.ndim == 2:
        a = a.mean(axis=1)
    elif a.ndim != 1:
        raise AudioError(f"audio chunk must be (frames,) or (frames, channels), got shape {a.shape}")
    return a


class _Recording:
    """The whole recording, 16 kHz mono float32, in one growing array (slices are copies)."""

    def __init__(self) -> None:
        self._data = np.zeros(SAMPLE_RATE * 30, np.float32)
        self.n = 0

    def append(self, x: np.ndarray) -> None:
        if self.n + len(x) > len(self._data):
            grown = np.zeros(max(2 * len(self._data), self.n + len(x)), np.float32)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : self.n + len(x)] = x
        self.n += len(x)

    def slice(self, i: int, j: int | None = None) -> np.ndarray:
        return np.array(self._data[i : self.n if j is None else min(j, self.n)], dtype=np.float32)


# ------------------------------------------------------------ the recording and its worker


class LiveTranscriber:
    """One recording. feed() never blocks on decoding; a background worker thread transcribes settled regions."""

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        prompt: str | None = None,
        provisional: bool = True,
        stop_timeout_s: float = STOP_TIMEOUT_S,
    ) -> None:
        self._transcriber = transcriber
        self._prompt = prompt
        self._provisional = provisional  # decode the unsettled tail when the worker has nothing else to do
        self._stop_timeout_s = stop_timeout_s
        self._cond = threading.Condition()
        self._recording = _Recording()
        self._resampler: _Resampler | None = None
        self._parts: list[Part] = []
        self._cut = 0  # samples before this are settled
        self._scanned = -1  # recording length at the worker's last look for a pause
        # Voice activity is found incrementally: regions before _vad_from (the middle of a pause) are final, so each
        # step runs the VAD only over the audio since the last pause, not over the whole unsettled stretch.
        self._vad_lock = threading.Lock()
        self._vad_from = 0
        self._vad_known: list[Region] = []  # global seconds, all before _vad_from
        self._decoding_tail: tuple[int, int] | None = None  # (cut, samples) of a provisional decode in flight
        self._settling = False  # the worker is decoding a settled region (finish() waits for that one)
        # The unsettled audio decoded when the worker had nothing to settle: (cut it starts at, samples, Part).
        # Shown as the provisional tail; after Stop it is the last region as it is when no speech came after it.
        self._tail: tuple[int, int, Part | None] = (0, 0, None)
        self._stop = False
        self._idle = False  # the worker has looked at all the audio and has nothing to settle until more comes
        self._ended = False  # finish() or cancel() was called: no more audio
        self._error: CoachError | None = None
        self._rtf: float | None = None  # the worker's last decode: seconds taken per second of audio (None: none yet)
        self._result: Transcript | None = None
        self._finishing = threading.Lock()  # one finish() at a time (a double click on Stop)
        self.worker = threading.Thread(target=self._run, name="live-transcriber", daemon=True)
        self.worker.start()

    # ---------------------------------------------------------- the front end's side

    def feed(self, samples: np.ndarray, sample_rate: int) -> None:
        """Append a chunk (any int/float dtype, (frames,) or (frames, channels), any rate). Returns at once."""
        if sample_rate <= 0:
            raise AudioError(f"invalid sample rate {sample_rate}")
        mono = to_mono_float(samples)
        with self._cond:
            if self._ended:
                raise AudioError("this recording has ended: start a new one")
            if self._resampler is None or self._resampler.rate != sample_rate:
                self._resampler = _Resampler(sample_rate)
            self._recording.append(self._resampler.push(mono))
            if self._recording.n - self._scanned >= SCAN_STEP_S * SAMPLE_RATE:
                self._idle = False  # until the worker has looked at it
            self._cond.notify_all()

    def view(self) -> LiveView:
        with self._cond:
            heard_s = self._recording.n / SAMPLE_RATE
            settled_s = self._cut / SAMPLE_RATE
            tail_start, _, tail_part = self._tail
            tail = tail_part.text if tail_part is not None else ""
            pending_s = heard_s - settled_s
            return LiveView(
                settled=" ".join(p.text for p in self._parts if p.text),
                tail=tail if tail_start == self._cut and pending_s > 0 else "",
                heard_s=heard_s,
                settled_s=settled_s,
                pending_s=pending_s,
                warning=self._warning(pending_s),
            )

    def audio(self) -> np.ndarray:
        """The whole recording so far, 16 kHz mono float32 (nothing dropped)."""
        with self._cond:
            return self._recording.slice(0)

    def parts(self) -> tuple[Part, ...]:
        """The settled regions so far, in order (they partition the recording up to view().settled_s)."""
        with self._cond:
            return tuple(self._parts)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until the worker has settled all it can of the audio fed so far (benches and tests: what a
        speaker's pace gives it); False on timeout or when the worker has stopped."""
        with self._cond:
            return self._cond.wait_for(lambda: self._idle or self._stop, timeout_s) and self._idle

    def cancel(self) -> None:
        """Stop the worker (after its current decode, waiting at most CANCEL_TIMEOUT_S); audio() stays."""
        with self._cond:
            self._ended = True
        self._stop_worker(min(CANCEL_TIMEOUT_S, self._stop_timeout_s))

    def finish(self, on_progress: Progress | None = None) -> Transcript:
        """After Stop: transcribe what is left, join the regions and check the whole like the whole-file path.

        Raises NoSpeechError for silence, TranscriptionError when the engine fails or the worker is stuck.
        ``on_progress(done_s, total_s)`` in seconds of the whole recording."""
        with self._cond:
            self._ended = True
            if self._result is not None:
                return self._result
        self._stop_for_finish()
        with self._cond:
            n, cut = self._recording.n, self._cut
            rest = self._recording.slice(cut)
        require_audio_length(np.broadcast_to(np.float32(0), (n,)))  # only its length counts
        regions = self._regions(cut, n)
        reused = self._reusable_tail(cut, n, regions)
        plan = [] if reused is not None else _plan_rest(regions, rest)
        speech_s = sum(r.speech_s for p in self.parts() for r in p.speech) + sum(r.speech_s for r in regions)
        require_speech_time(speech_s)  # before any decoding work, like the whole-file path
        report = ProgressReporter(on_progress, n / SAMPLE_RATE)
        report(cut / SAMPLE_RATE)
        start = 0
        for end in plan:
            local = clip_regions(regions, start / SAMPLE_RATE, end / SAMPLE_RATE)
            self._commit(self._transcribe_part(cut + start, rest[start:end], local))
            report((cut + end) / SAMPLE_RATE)
            start = end
        if reused is not None:
            self._commit(reused)
        transcript = self._assemble(n)
        if regions and (n - cut) / SAMPLE_RATE - regions[-1].end_s < CUT_OFF_S:  # the voice runs on to the end
            transcript = dataclasses.replace(transcript, cut_off=True)
        report.done()
        with self._cond:
            self._result = transcript
        return transcript

    # ---------------------------------------------------------- the worker

    def _run(self) -> None:
        try:
            self._transcriber.warm_up()  # the model loads while the person starts speaking
            while True:
                snapshot = self._wait_for_audio()
                if snapshot is None:
                    return
                cut, window, whole = snapshot
                regions = clip_regions(self._regions(cut, cut + len(window)), 0.0, len(window) / SAMPLE_RATE)
                pos_s = next_cut(regions, len(window) / SAMPLE_RATE)
                if pos_s is not None:
                    end = int(round(pos_s * SAMPLE_RATE))
                    if pos_s == MAX_REGION_S:  # no pause at all: the quietest moment before the limit
                        end = quietest(window, end)
                    local = clip_regions(regions, 0.0, end / SAMPLE_RATE)
                    with self._cond:
                        if self._stop:  # Stop came while looking: finish() does it (it is not waiting for us)
                            return
                        self._settling = True
                    started = time.perf_counter()
                    try:
                        self._commit(self._transcribe_part(cut, window[:end], local))
                    finally:
                        with self._cond:
                            self._settling = False
                    if local:  # silence settles without decoding: it says nothing about the machine's speed
                        self._rtf = _rtf(time.perf_counter() - started, end / SAMPLE_RATE)
                    with self._cond:
                        self._scanned = -1  # there may be another region ready already
                elif self._provisional and whole and regions:
                    self._decode_tail(cut, window, regions)
        except CoachError as exc:  # finish() transcribes what is left in the caller's thread
            with self._cond:
                self._error = exc
                self._stop = True
                self._cond.notify_all()

    def _wait_for_audio(self) -> tuple[int, np.ndarray, bool] | None:
        """(cut, unsettled audio up to a region's worth, whether that is all of it), or None when stopping."""
        with self._cond:
            while not self._stop:
                n = self._recording.n
                if n - self._scanned >= SCAN_STEP_S * SAMPLE_RATE:
                    self._scanned, self._idle = n, False
                    limit = self._cut + int((MAX_REGION_S + 2 * VAD_MARGIN_S + SCAN_STEP_S) * SAMPLE_RATE)
                    return self._cut, self._recording.slice(self._cut, limit), limit >= n
                self._idle = True
                self._cond.notify_all()
                self._cond.wait(SCAN_STEP_S)
            return None

    def _decode_tail(self, cut: int, window: np.ndarray, regions: Sequence[Region]) -> None:
        """Decode the unsettled audio as a region of its own, when there is new speech in it: every TAIL_STEP_S
        while the machine keeps up, and whenever the speaker has paused (the answer may be over: then after
        Stop this is the last region, already done)."""
        with self._cond:
            tail_start, tail_n, _ = self._tail
        length_s = len(window) / SAMPLE_RATE
        speech_end_s = max(r.end_s for r in regions)
        if tail_start == cut and speech_end_s <= tail_n / SAMPLE_RATE - VAD_MARGIN_S:
            return  # only silence since the last tail decode
        if self._rtf is None or self._rtf > TAIL_MAX_RTF:
            return  # a slow machine (or one not measured yet): settling comes first, provisional text is a luxury
        paused = speech_end_s <= length_s - VAD_MARGIN_S - MIN_PAUSE_S
        grown = tail_start != cut or len(window) - tail_n >= TAIL_STEP_S * SAMPLE_RATE
        if not (paused or grown):
            return
        with self._cond:
            if self._stop or self._recording.n - (cut + len(window)) >= SCAN_STEP_S * SAMPLE_RATE:
                return  # stale before it starts: newer audio may settle a region, look at that first
            self._decoding_tail = (cut, len(window))
        started = time.perf_counter()
        try:
            part = self._transcribe_part(cut, window, clip_regions(regions, 0.0, length_s))
        finally:
            with self._cond:
                self._decoding_tail = None
                self._cond.notify_all()
        self._rtf = _rtf(time.perf_counter() - started, length_s)
        with self._cond:
            if self._cut == cut and not self._ended:
                self._tail = (cut, len(window), part)

    def _reusable_tail(self, cut: int, n: int, regions: Sequence[Region]) -> Part | None:
        """The worker's decode of the unsettled audio as the last region, when nothing but silence came after
        it (the speaker paused, then pressed Stop): what decoding it again would give."""
        with self._cond:
            tail_start, tail_n, part = self._tail
        if part is None or tail_start != cut or not regions:
            return None
        if max(r.end_s for r in regions) > tail_n / SAMPLE_RATE - VAD_MARGIN_S:
            return None  # speech at or after the end of what was decoded
        return dataclasses.replace(part, end=n, speech=shift_regions(regions, cut / SAMPLE_RATE))

    def _stop_for_finish(self) -> None:
        """Stop the worker. Wait for a settled region it is decoding (work that is needed) and for a provisional
        decode that will be the last region as it is; never for a provisional decode made stale by later speech
        (the worker drops its result and ends once the engine returns)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            tail = None if self._settling else self._decoding_tail
        if tail is not None:
            cut, length = tail
            with self._cond:
                n = self._recording.n
            regions = self._regions(cut, n)
            if regions and max(r.end_s for r in regions) > length / SAMPLE_RATE - VAD_MARGIN_S:
                return  # speech after what it decodes: decoding it again is needed anyway
        if not self._stop_worker(self._stop_timeout_s):
            raise TranscriptionError(
                f"the live transcription did not stop within {self._stop_timeout_s:.0f} s; the recording is kept"
            )

    def _regions(self, start: int, end: int) -> tuple[Region, ...]:
        """Voiced regions of samples [start, end) in seconds from ``start`` (``start`` is a cut: in a pause).

        Incremental: the VAD runs only from the last pause it settled, and regions found at least VAD_SETTLE_S
        before the end of the audio it saw are kept for the next call, so each step costs a sentence, not the
        whole unsettled stretch. A new VAD run always starts in the middle of a pause, like a region does."""
        with self._vad_lock:
            if self._vad_from < start:  # a cut past the last settled pause (a forced cut in continuous speech)
                self._vad_from = start
                self._vad_known = []
            self._vad_known = [r for r in self._vad_known if r.end_s > start / SAMPLE_RATE]  # settled: not needed
            found: tuple[Region, ...] = ()
            if end > self._vad_from:
                samples = self._recording.slice(self._vad_from, end)
                found = shift_regions(speech_regions(samples), self._vad_from / SAMPLE_RATE)
            regions = [*self._vad_known, *found]
            self._advance_vad(found, end)
        start_s, end_s = start / SAMPLE_RATE, end / SAMPLE_RATE
        return clip_regions(regions, start_s, end_s)

    def _advance_vad(self, found: Sequence[Region], end: int) -> None:
        """Move _vad_from to the middle of the latest pause (of at least MIN_PAUSE_S) that ends VAD_SETTLE_S
        before ``end``: the regions before it are final."""
        from_s, settled_s = self._vad_from / SAMPLE_RATE, end / SAMPLE_RATE - VAD_SETTLE_S
        pos_s, before = None, 0
        for i in range(len(found)):
            gap_start = found[i - 1].end_s if i else from_s
            if found[i].start_s > settled_s:
                break
            if found[i].start_s - gap_start >= MIN_PAUSE_S:
                pos_s, before = (gap_start + found[i].start_s) / 2, i
        if pos_s is not None and pos_s > from_s:
            self._vad_known.extend(found[:before])
            self._vad_from = int(round(pos_s * SAMPLE_RATE))

    def _stop_worker(self, timeout_s: float) -> bool:
        """Tell the worker to stop after its current decode; True once it has ended."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self.worker is not threading.current_thread():
            self.worker.join(timeout_s)
        return not self.worker.is_alive()

    # ---------------------------------------------------------- decoding one region

    def _transcribe_part(self, start: int, samples: np.ndarray, regions: tuple[Region, ...]) -> Part:
        """A region decoded on its own: the engine's decode through the same coverage check as the whole file."""
        offset_s = start / SAMPLE_RATE
        part = Part(start, start + len(samples), (), shift_regions(regions, offset_s))
        if not regions:
            return part  # silence: nothing to decode
        decode = self._engine_decode()
        if decode is not None:
            segments, gaps, recovered = decode_covering(samples, decode, regions, prompt=self._prompt)
        else:  # an engine with only the protocol's transcribe()
            try:
                t = self._transcriber.transcribe(samples, prompt=self._prompt)
            except NoSpeechError:
                return part
            segments, gaps, recovered = t.segments, t.gaps, t.recovered
        return dataclasses.replace(
            part,
            segments=shift_segments(drop_hallucinated(segments), offset_s),
            gaps=shift_gaps(gaps, offset_s),
            recovered=shift_gaps(recovered, offset_s),
        )

    def _engine_decode(self) -> Decode | None:
        decode = getattr(self._transcriber, "decode", None)  # both engines have it; the protocol does not
        return decode if callable(decode) else None

    def _commit(self, part: Part) -> None:
        with self._cond:
            if part.start != self._cut:  # a bug, not a user error: regions must partition the recording
                raise RuntimeError(f"region starts at sample {part.start}, the settled audio ends at {self._cut}")
            self._parts.append(part)
            self._cut = part.end

    def _assemble(self, n: int) -> Transcript:
        parts = self.parts()
        return assemble(
            tuple(s for p in parts for s in p.segments),
            duration_s=n / SAMPLE_RATE,
            speech_s=sum(r.speech_s for p in parts for r in p.speech),
            engine=self._transcriber.name,
            model=self._transcriber.model_name,
            gaps=tuple(g for p in parts for g in p.gaps),
            recovered=tuple(g for p in parts for g in p.recovered),
        )

    def _warning(self, pending_s: float) -> str | None:
        if self._error is not None:
            return f"live transcription paused ({self._error}); the whole recording is kept and transcribed after Stop"
        if pending_s > BEHIND_S:
            return (
                f"the transcript is {pending_s:.0f} s behind the microphone on this machine: "
                "the rest is finished after Stop (nothing is lost)"
            )
        return None


def _rtf(took_s: float, audio_s: float) -> float:
    """Seconds a decode took per second of audio, for a decode of at least MIN_REGION_S (see TAIL_MAX_RTF)."""
    return took_s / max(audio_s, MIN_REGION_S)


def _plan_rest(regions: Sequence[Region], rest: np.ndarray) -> list[int]:
    """Region ends (samples into ``rest``) that split what is left after Stop at pauses, the last at its end."""
    ends, start = [], 0
    while start < len(rest):
        window_s = (len(rest) - start) / SAMPLE_RATE
        local = clip_regions(regions, start / SAMPLE_RATE, len(rest) / SAMPLE_RATE)
        pos_s = next_cut(local, window_s, final=True)
        end = len(rest) if pos_s is None else start + int(round(pos_s * SAMPLE_RATE))
        if pos_s == MAX_REGION_S:
            end = quietest(rest, end)
        end = max(end, start + 1)
        ends.append(min(end, len(rest)))
        start = ends[-1]
    return ends
