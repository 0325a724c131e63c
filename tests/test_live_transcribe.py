"""Live transcription (issue 14): the recording is cut at pauses and transcribed region by region while it grows.

Fast tests use a fake engine (a class implementing the Transcriber protocol) that "hears" one word per stretch
of voice activity, on real espeak-ng speech laid out with known silences, so a region lost or duplicated at a
seam shows as a missing or extra word. Slow tests run the bundled tiny.en and compare live with whole-file.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from support import clips
from support.coverage import word_coverage
from support.wer import wer

from infralens_coach import audio
from infralens_coach.errors import NoSpeechError, TranscriptionError
from infralens_coach.transcribe.base import (
    CUT_OFF_WARNING,
    Segment,
    Transcript,
    Word,
    require_audio_length,
    require_speech_time,
)
from infralens_coach.transcribe.coverage import Region, speech_regions
from infralens_coach.transcribe.live import (
    MAX_REGION_S,
    MIN_REGION_S,
    LiveTranscriber,
    LiveView,
    next_cut,
)

SR = 16_000
PHRASES = (
    "Pods restart on failure.",
    "A Job runs to completion.",
    "Deployments keep replicas alive.",
    "Requests reserve capacity.",
    "Limits cap the container.",
    "Canary releases limit the blast radius.",
    "Alerts should follow the error budget.",
    "Checkpoints survive preemption.",
)
GAPS_S = (0.5, 0.6, 1.0, 0.45, 2.5, 0.5, 0.8, 4.0, 0.55, 1.5)  # every one long enough to end a region


class VoiceWords:
    """Hears one word per stretch of voice activity (regions closer than 0.3 s count as one), at its time."""

    name = "fake-voice-words"
    model_name = "fake"

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Event()  # a transcription has started
        self.release = threading.Event()
        self.release.set()  # clear() to make every transcription wait (a stuck or very slow engine)

    def warm_up(self) -> None:
        pass

    def transcribe(self, samples: np.ndarray, *, prompt: str | None = None, on_progress=None) -> Transcript:
        self.entered.set()
        self.release.wait()
        self.calls += 1
        require_audio_length(samples)
        regions = merged(speech_regions(samples))
        require_speech_time(sum(r.speech_s for r in regions))
        words = tuple(Word("word", r.start_s, r.end_s, 1.0) for r in regions)
        segments = tuple(Segment("word", w.start_s, w.end_s, (w,)) for w in words)
        speech_s = sum(r.speech_s for r in regions)
        return Transcript("word " * len(words), segments, len(samples) / SR, speech_s, self.name, self.model_name)


def merged(regions, gap_s: float = 0.3) -> list[Region]:
    out: list[Region] = []
    for r in regions:
        if out and r.start_s - out[-1].end_s < gap_s:
            out[-1] = Region(out[-1].start_s, r.end_s)
        else:
            out.append(r)
    return out


def utterance(text: str) -> np.ndarray:
    """espeak-ng speech, 16 kHz, its own leading and trailing silence trimmed."""
    x, rate = clips.read_wav(clips.speech(text))
    x = audio.from_array(x, rate)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[loud[0] : loud[-1] + 1]


def laid_out(n: int, *, lead_s: float = 0.5) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """n utterances separated by GAPS_S (cycled), and where each one is."""
    pieces, spans, t = [np.zeros(int(lead_s * SR), np.float32)], [], lead_s
    for i in range(n):
        u = utterance(PHRASES[i % len(PHRASES)])
        spans.append((t, t + len(u) / SR))
        gap = np.zeros(int(GAPS_S[i % len(GAPS_S)] * SR), np.float32)
        pieces += [u, gap]
        t += (len(u) + len(gap)) / SR
    return np.concatenate(pieces), spans


def feed_in_chunks(live: LiveTranscriber, samples: np.ndarray, chunk_s: float = 0.5, rate: int = SR) -> None:
    step = max(1, int(chunk_s * rate))
    for i in range(0, len(samples), step):
        live.feed(samples[i : i + step], rate)


def wait_until_settled(live: LiveTranscriber, timeout_s: float = 120.0) -> LiveView:
    """Wait for the worker to settle everything it can (what is left waits for Stop)."""
    live.wait_idle(timeout_s)
    return live.view()


def assert_one_word_per_utterance(transcript: Transcript, spans: list[tuple[float, float]]) -> None:
    mids = [(w.start_s + w.end_s) / 2 for w in transcript.words]
    assert len(mids) == len(spans), (len(mids), len(spans))
    for mid, (lo, hi) in zip(mids, spans, strict=True):
        assert lo - 0.1 <= mid <= hi + 0.1, (mid, lo, hi)


# ------------------------------------------------------------ where the stream is cut


def test_next_cut_waits_for_a_pause_and_takes_the_latest():
    speech = [Region(0.2, 3.0), Region(3.4, 6.0)]
    assert next_cut(speech, 6.2) is None  # no pause after MIN_REGION_S yet: wait
    speech.append(Region(6.5, 9.0))
    assert next_cut(speech, 9.5) == pytest.approx(6.25)  # the middle of the pause, not inside a word
    speech += [Region(9.3, 12.0)]
    assert next_cut(speech, 12.8) == pytest.approx(12.0 + (12.8 - 0.3 - 12.0) / 2)  # the latest pause wins


def test_next_cut_never_lets_a_region_grow_past_the_limit():
    talk = [Region(0.0, 8.0), Region(8.15, 17.0), Region(17.1, 30.0)]  # only short pauses
    assert next_cut(talk, 20.0) is None
    assert next_cut(talk, 30.0) == pytest.approx(8.075)  # the longest short pause
    assert next_cut([Region(0.0, 40.0)], 40.0) == MAX_REGION_S  # no pause at all: at the limit


def test_next_cut_settles_silence_and_the_end():
    assert next_cut([], 0.8) is None
    assert next_cut([], 3.0) == pytest.approx(3.0 - 0.3)  # silence settles without waiting for speech
    assert next_cut([Region(6.0, 7.0)], 7.2) == pytest.approx(5.5)  # ... up to just before the speech
    assert next_cut([Region(0.5, 2.0)], 2.1, final=True) == 2.1  # after Stop the end is a cut
    assert next_cut([Region(0.5, 2.0)], 2.1) is None
    assert MIN_REGION_S < MAX_REGION_S < 30.0  # a region fits one Whisper window


# ------------------------------------------------------------ the recording


def test_audio_is_everything_fed_at_16k():
    rng = np.random.default_rng(1)
    pcm = rng.integers(-20_000, 20_000, 3 * SR, dtype=np.int16)
    live = LiveTranscriber(VoiceWords())
    i = 0
    for size in rng.integers(1, 4000, 10_000):
        live.feed(pcm[i : i + size], SR)
        i += size
        if i >= len(pcm):
            break
    live.cancel()
    assert np.array_equal(live.audio(), pcm.astype(np.float32) / 32768)
    assert not live.worker.is_alive()


def test_tiny_chunks_at_odd_rates_and_stereo_resample_like_the_whole():
    rate = 22_050
    t = np.arange(2 * rate) / rate
    x = 0.5 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 1.5 * t)
    stereo = np.stack([x, x * 0.5], axis=1)
    pcm = (stereo * 32767).astype(np.int16)
    for rate_in, chunk in ((rate, 37), (44_100, 1), (48_000, 480), (8_000, 3)):
        live = LiveTranscriber(VoiceWords())
        for i in range(0, len(pcm), chunk):
            live.feed(pcm[i : i + chunk], rate_in)
        live.cancel()
        expected = audio.from_array(pcm, rate_in)
        got = live.audio()
        assert abs(len(got) - len(expected)) <= 1, (rate_in, len(got), len(expected))
        n = min(len(got), len(expected))
        assert np.allclose(got[:n], expected[:n], atol=1e-4), rate_in


@pytest.mark.slow  # espeak-ng makes the speech
def test_regions_partition_the_recording_at_pauses():
    samples, spans = laid_out(12)
    engine = VoiceWords()
    live = LiveTranscriber(engine)
    feed_in_chunks(live, samples)
    view = wait_until_settled(live)
    assert view.settled_s > 0.6 * view.heard_s  # the worker settled most of it before Stop
    transcript = live.finish()
    parts = live.parts()
    assert len(parts) >= 3 and parts[0].start == 0 and parts[-1].end == len(samples)
    # contiguous: nothing lost, nothing twice
    assert all(a.end == b.start for a, b in zip(parts, parts[1:], strict=False))
    for part in parts[:-1]:  # every cut is in silence, outside every utterance
        cut_s = part.end / SR
        assert not any(lo - 0.05 < cut_s < hi + 0.05 for lo, hi in spans), cut_s
    assert_one_word_per_utterance(transcript, spans)
    assert transcript.duration_s == pytest.approx(len(samples) / SR)
    assert not live.worker.is_alive()


@pytest.mark.slow  # espeak-ng makes the speech
def test_stop_after_a_pause_has_nothing_left_to_decode():
    """The speaker pauses, then presses Stop: the worker has already decoded the last region."""
    samples, spans = laid_out(3)  # settles as one region at the 1 s pause it ends with...
    # ... once the worker has seen 0.55 s of it; it may leave up to 0.5 s unscanned (SCAN_STEP_S) before it is
    # idle, so the pause is made long enough to be seen whatever its scans' timing (CI once merged the regions)
    samples = np.concatenate([samples, np.zeros(int(0.6 * SR), np.float32)])
    last = utterance(PHRASES[0])  # ... then a short last sentence, too short a region to settle on its own
    spans.append((len(samples) / SR, (len(samples) + len(last)) / SR))
    rest = np.concatenate([last, np.zeros(int(1.5 * SR), np.float32)])
    engine = VoiceWords()
    live = LiveTranscriber(engine)
    feed_in_chunks(live, samples)
    assert live.wait_idle(60)
    feed_in_chunks(live, rest)
    assert live.wait_idle(60)
    samples = np.concatenate([samples, rest])
    assert live.view().tail  # shown as provisional
    decoded = engine.calls
    transcript = live.finish()
    assert engine.calls == decoded
    assert_one_word_per_utterance(transcript, spans)
    assert live.parts()[-1].end == len(samples)


@pytest.mark.slow  # espeak-ng makes the speech
@pytest.mark.parametrize("pause_s", [0.0, 0.4])
def test_a_recording_that_stops_mid_word_says_its_last_word_may_be_cut(pause_s):
    """Stop while the person is still speaking (or a chunk lost at Stop): the transcript says so; a pause before
    Stop, however short, does not."""
    samples, _ = laid_out(2)
    last = utterance(PHRASES[5])
    samples = np.concatenate([samples, last[: len(last) * 2 // 3], np.zeros(int(pause_s * SR), np.float32)])
    live = LiveTranscriber(VoiceWords())
    feed_in_chunks(live, samples)
    transcript = live.finish()
    assert transcript.cut_off is (pause_s == 0)
    assert (CUT_OFF_WARNING in transcript.warnings) is (pause_s == 0), transcript.warnings
    assert ("last word may be cut off" in " ".join(transcript.to_dict()["warnings"])) is (pause_s == 0)


@pytest.mark.slow  # espeak-ng makes the speech
def test_view_settled_text_only_grows():
    samples, spans = laid_out(8)
    live = LiveTranscriber(VoiceWords())
    seen: list[LiveView] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(live.view())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    feed_in_chunks(live, samples, 0.1)
    wait_until_settled(live)
    transcript = live.finish()
    done.set()
    watcher.join(5)
    for a, b in zip(seen, seen[1:], strict=False):
        assert b.settled.startswith(a.settled) and b.settled_s >= a.settled_s and b.heard_s >= a.heard_s
    assert seen[-1].settled.split() == transcript.text.split()[: len(seen[-1].settled.split())]
    assert_one_word_per_utterance(transcript, spans)


def test_silence_is_no_speech_like_the_whole_file_path():
    for seconds in (10.0, 0.5):
        live = LiveTranscriber(VoiceWords())
        feed_in_chunks(live, np.zeros(int(seconds * SR), np.float32))
        with pytest.raises(NoSpeechError, match="no speech detected"):
            live.finish()
        assert not live.worker.is_alive()
        assert len(live.audio()) == int(seconds * SR)


@pytest.mark.slow  # espeak-ng makes the speech
def test_feed_after_finish_is_refused_and_finish_is_idempotent():
    samples, _ = laid_out(3)
    live = LiveTranscriber(VoiceWords())
    feed_in_chunks(live, samples)
    first = live.finish()
    assert live.finish() is first
    with pytest.raises(Exception, match="recording has ended"):
        live.feed(samples[:100], SR)


@pytest.mark.slow  # espeak-ng makes the speech
def test_cancel_keeps_the_audio_and_a_stuck_engine_never_blocks_stop():
    samples, spans = laid_out(6)
    engine = VoiceWords()
    engine.release.clear()  # every decode hangs until released
    live = LiveTranscriber(engine, stop_timeout_s=0.5)
    feed_in_chunks(live, samples)
    assert engine.entered.wait(30)  # the worker is now inside a decode that does not return
    live.cancel()  # returns although the decode is stuck
    assert live.worker.is_alive() and live.worker.daemon
    with pytest.raises(TranscriptionError, match="did not stop"):
        live.finish()
    assert np.array_equal(live.audio(), samples)
    engine.release.set()
    live.worker.join(10)
    assert not live.worker.is_alive()  # it ends as soon as the decode returns
    assert_one_word_per_utterance(live.finish(), spans)  # and the rest is transcribed after all


@pytest.mark.slow  # espeak-ng makes the speech
def test_a_worker_that_falls_behind_finishes_the_backlog_after_stop():
    samples, spans = laid_out(30)  # about 80 s
    engine = VoiceWords()
    engine.release.clear()  # the machine is too slow: nothing gets transcribed while recording
    live = LiveTranscriber(engine)
    feed_in_chunks(live, samples)
    time.sleep(0.5)
    view = live.view()
    assert view.pending_s > 30 and view.warning is not None and "after Stop" in view.warning, view
    engine.release.set()
    transcript = live.finish()
    assert_one_word_per_utterance(transcript, spans)
    assert np.array_equal(live.audio(), samples)
    assert not live.worker.is_alive()


@pytest.mark.slow  # ten minutes of voice activity detection
def test_a_ten_minute_stream_loses_nothing():
    block, spans = laid_out(len(PHRASES), lead_s=0.0)
    repeats = int(np.ceil(600 * SR / len(block)))
    samples = np.tile(block, repeats)  # a little over 10 minutes
    all_spans = [(lo + k * len(block) / SR, hi + k * len(block) / SR) for k in range(repeats) for lo, hi in spans]
    live = LiveTranscriber(VoiceWords())
    feed_in_chunks(live, samples, 1.0)
    transcript = live.finish()
    assert np.array_equal(live.audio(), samples) and transcript.duration_s == pytest.approx(len(samples) / SR)
    assert_one_word_per_utterance(transcript, all_spans)
    assert not live.worker.is_alive()


# ------------------------------------------------------------ provisional decodes never cost the backlog


class SlowDecoder(VoiceWords):
    """VoiceWords with the engines' decode(): every decode is logged; ``per_s`` seconds of sleep per second of
    audio makes a slow machine; clearing ``worker_gate`` holds decodes made in the worker thread (finish() runs
    in the caller's thread and is never held)."""

    def __init__(self, per_s: float = 0.0) -> None:
        super().__init__()
        self.per_s = per_s
        self.decoded: list[np.ndarray] = []
        self.worker_gate = threading.Event()
        self.worker_gate.set()

    def decode(
        self, samples: np.ndarray, prompt: str | None = None, on_progress=None, *, speech_end_s: float | None = None
    ) -> tuple[Segment, ...]:
        self.decoded.append(np.array(samples))
        if threading.current_thread().name == "live-transcriber":
            self.entered.set()
            self.worker_gate.wait()
        time.sleep(self.per_s * len(samples) / SR)
        # a word per second of voice activity (what the coverage check expects: it asks for no recovery decodes)
        out = []
        for r in speech_regions(samples):
            n = max(1, int(np.ceil(r.end_s - r.start_s)))
            edges = np.linspace(r.start_s, r.end_s, n + 1)
            out += [Segment("word", a, b, (Word("word", a, b, 1.0),)) for a, b in zip(edges, edges[1:], strict=False)]
        return tuple(out)


def assert_words_in_every_utterance_once(transcript: Transcript, spans: list[tuple[float, float]]) -> None:
    """Every utterance heard, no word outside one, none twice (a duplicated seam overlaps in time)."""
    words = transcript.words
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in zip(words, words[1:], strict=False)), "a word twice"
    for w in words:
        assert any(lo - 0.1 <= (w.start_s + w.end_s) / 2 <= hi + 0.1 for lo, hi in spans), w
    for lo, hi in spans:
        assert any(lo - 0.1 <= (w.start_s + w.end_s) / 2 <= hi + 0.1 for w in words), (lo, hi)


def provisional_decodes(engine: SlowDecoder, live: LiveTranscriber) -> int:
    """Decodes whose audio is not exactly one settled region's: provisional work."""
    whole = live.audio()
    settled = [whole[p.start : p.end] for p in live.parts()]
    return sum(not any(len(d) == len(s) and np.array_equal(d, s) for s in settled) for d in engine.decoded)


@pytest.mark.slow  # espeak-ng makes the speech
def test_a_slow_machine_decodes_no_provisional_tail():
    """Decoding at 0.3 x real time the worker keeps up, but has no cores to spare: every decode it makes is a
    settled region's, even when the speaker pauses before a region is long enough to settle."""
    samples, spans = laid_out(6)
    engine = SlowDecoder(per_s=0.3)
    live = LiveTranscriber(engine)
    for _lo, hi in spans:  # phrase by phrase, the worker catching up after each (short pauses: nothing settles)
        feed_in_chunks(live, samples[int(live.view().heard_s * SR) : int((hi + 0.7) * SR)])
        assert live.wait_idle(60)
    feed_in_chunks(live, samples[len(live.audio()) :])
    transcript = live.finish()
    assert_words_in_every_utterance_once(transcript, spans)
    assert provisional_decodes(engine, live) == 0


@pytest.mark.slow  # espeak-ng makes the speech
def test_finish_does_not_wait_for_a_stale_provisional_decode():
    """The worker is decoding the unsettled tail provisionally when the speaker goes on and presses Stop:
    finish() decodes the rest itself at once instead of waiting for a decode that is stale anyway."""
    samples, spans = laid_out(5)
    # three phrases and most of the pause after them: they settle as one region once the worker has seen 0.55 s
    # of it; it may leave up to 0.5 s unscanned (SCAN_STEP_S) when idle, so the 1 s pause is made 1.6 s
    pause_end = int((spans[2][1] + 0.8) * SR)
    longer = 0.6
    samples = np.concatenate([samples[:pause_end], np.zeros(int(longer * SR), np.float32), samples[pause_end:]])
    spans = spans[:3] + [(lo + longer, hi + longer) for lo, hi in spans[3:]]
    first_end = pause_end + int(longer * SR)
    engine = SlowDecoder()
    live = LiveTranscriber(engine, stop_timeout_s=3.0)
    feed_in_chunks(live, samples[:first_end])
    assert live.wait_idle(60) and live.view().settled
    engine.entered.clear()
    engine.worker_gate.clear()  # the worker's next decode does not return until the test says so
    tail_end = int((spans[3][1] + 0.3) * SR)
    feed_in_chunks(live, samples[first_end:tail_end])  # a phrase, too short to settle: a provisional decode
    assert engine.entered.wait(30)
    feed_in_chunks(live, samples[tail_end:])  # the speaker goes on: that decode is stale
    try:
        transcript = live.finish()
    finally:
        engine.worker_gate.set()
    assert_words_in_every_utterance_once(transcript, spans)
    parts = live.parts()
    assert parts[-1].end == len(samples) and all(a.end == b.start for a, b in zip(parts, parts[1:], strict=False))
    live.worker.join(10)
    assert not live.worker.is_alive()
    assert live.parts() == parts  # the abandoned decode changed nothing


# ------------------------------------------------------------ the real engine: live equals whole-file


LIVE_CLIPS = ((7, 12, "en-us", 155), (13, 16, "en-gb", 185), (6, 19, "en-us+f3", 140))
BETWEEN_ANSWERS_S = 3.0  # a long pause either way (near 1.5 s, Whisper's stretched word times decide the count)


def two_answers(first: int, second: int, voice: str, rate: int) -> tuple[np.ndarray, str]:
    """Two cards' answers spoken one after the other with a long pause (about 50 s)."""
    a = audio.decode(clips.coverage_clip(first, voice, rate)[0])
    b = audio.decode(clips.coverage_clip(second, voice, rate)[0])
    text = clips.COVERAGE_ANSWERS[first] + " " + clips.COVERAGE_ANSWERS[second]
    return np.concatenate([a, np.zeros(int(BETWEEN_ANSWERS_S * SR), np.float32), b]), text


@pytest.fixture(scope="module")
def engine():
    from infralens_coach import transcribe

    return transcribe.warm_up()


@pytest.mark.slow
def test_live_transcript_matches_the_whole_file(engine):
    """Coverage per clip, WER on average (tiny.en's errors move about between any two decodes), delivery
    metrics within 5 % per clip."""
    from infralens_coach import transcribe
    from infralens_coach.content import QuestionBank
    from infralens_coach.delivery import delivery_metrics

    wers = []
    for first, second, voice, rate in LIVE_CLIPS:
        samples, spoken = two_answers(first, second, voice, rate)
        question = QuestionBank.load(()).get(first)
        prompt = transcribe.prompt_for(question.question, question.vocabulary)
        whole = engine.transcribe(samples, prompt=prompt)
        live = LiveTranscriber(engine, prompt=prompt)
        feed_in_chunks(live, samples)
        wait_until_settled(live)
        streamed = live.finish()
        clip = (first, second, voice, rate)
        assert len(live.parts()) >= 2, clip
        assert word_coverage(spoken, streamed.text) >= word_coverage(spoken, whole.text) - 0.03, clip
        assert word_coverage(spoken, streamed.text) >= 0.9, clip
        wers.append((wer(spoken, whole.text), wer(spoken, streamed.text)))
        a, b = delivery_metrics(whole), delivery_metrics(streamed)
        assert b.recording_s == a.recording_s, clip
        assert b.duration_s == pytest.approx(a.duration_s, rel=0.05), clip
        assert b.words_per_minute == pytest.approx(a.words_per_minute, rel=0.05), clip
        assert b.long_pause_count == a.long_pause_count, clip
        assert abs(b.filler_count - a.filler_count) <= 1, clip
        assert streamed.speech_s == pytest.approx(whole.speech_s, rel=0.05), clip
    mean_whole, mean_live = (sum(w) / len(w) for w in zip(*wers, strict=True))
    assert mean_live <= mean_whole + 0.04, wers


@pytest.mark.slow
def test_coach_live_answer_from_a_44k_stereo_stream(engine, tmp_path):
    from infralens_coach.coach import Coach
    from infralens_coach.config import Settings
    from infralens_coach.content import QuestionBank

    x, rate = clips.read_wav(clips.speech(clips.ANSWER))  # 22.05 kHz; a browser streams 44.1 kHz stereo
    up = np.interp(np.arange(int(len(x) * 44_100 / rate)) * rate / 44_100, np.arange(len(x)), x)
    stream = (np.stack([up, up], axis=1) * 32767).astype(np.int16)
    coach = Coach(QuestionBank.load(()), Settings())
    answer = coach.start_live(coach.question(7))
    for i in range(0, len(stream), 4410):
        answer.feed(stream[i : i + 4410], 44_100)
    grown = wait_until_settled(answer.live, 120)
    assert grown.settled  # the transcript grew before Stop
    spoken = answer.finish()
    assert sum(w in spoken.text.lower() for w in clips.KEY_WORDS) >= 3, spoken.text
    assert spoken.transcript.duration_s == pytest.approx(len(stream) / 44_100, abs=0.01)
    assert len(answer.audio()) == pytest.approx(len(stream) * SR / 44_100, abs=1)
    assert spoken.metrics.word_count > 20 and spoken.transcribe_s >= 0
    assert not answer.live.worker.is_alive()
