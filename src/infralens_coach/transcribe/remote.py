"""Transcription on a serving engine: an OpenAI-compatible /v1/audio/transcriptions through litellm.

    INFRALENS_STT_API_BASE=http://stt:8000/v1 INFRALENS_STT_MODEL=Systran/faster-whisper-small  (speaches)
    INFRALENS_STT_API_BASE=http://vllm:8000/v1 INFRALENS_STT_MODEL=openai/whisper-large-v3     (vLLM)
    INFRALENS_STT_API_BASE=https://api.openai.com/v1 INFRALENS_STT_MODEL=whisper-1              (OPENAI_API_KEY)

The recording goes up as a 16 kHz WAV with the card prompt, asking for `verbose_json` with word timestamps.
A server that gives only segment times, or only text, still gives a transcript: word times are then estimated
(evenly within each segment, or over the voiced regions) and the transcript says which delivery figures are
estimates. A server that refuses `verbose_json` (older vLLM) is asked for `json`, and remembered.

The policy mirrors the LLM grader's (grading/llm.py): every request has a connect and a read timeout, the
OpenAI SDK's own retries are off, a 429, a 5xx or a read timeout gets one more attempt of ours, and a refused
connection none (the server is down). When the server fails, the local Whisper decides and the transcript says
so: its engine and model are the local ones and `fallback_reason` names what failed (shown with the delivery
notes, kept in the history). INFRALENS_STT_FALLBACK=0 reports the failure instead.

The same checks as the local engines apply: the recording is refused before any upload when voice activity
finds no speech, Whisper's silence phrases are dropped, and every voiced region is checked for words
(coverage.transcribe_covered). The live path decodes each settled region with one request, and after a failure
the rest of that recording is decoded locally (one timeout per recording, not one per region).
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
import time
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..config import Settings
from ..errors import GraderUnavailable, TranscriptionError
from .base import Progress, Segment, Transcriber, Transcript, Word
from .coverage import SAMPLE_RATE, Region, join_words, speech_regions, transcribe_covered

ENGINE = "remote"
MAX_ATTEMPTS = 2  # the request, and at most one retry for 429 / 5xx / read timeout
MAX_RETRY_WAIT_S = 5.0
WORDS, SEGMENTS, TEXT = "words", "segments", "text"  # what timing the server's reply carried
TIMING_NOTES = {
    SEGMENTS: (
        "The speech server gave segment times but no word times: word times are estimated within each segment, "
        "so pauses inside a sentence are not measured."
    ),
    TEXT: (
        "The speech server gave text without any times: pace is estimated over the voiced time, and pauses "
        "are only those between passages of speech."
    ),
}
_plain_json_only: set[str] = set()  # api bases that refused verbose_json (this process)
_lock = threading.Lock()


class RemoteUnavailable(TranscriptionError):
    """The speech server did not give a transcript (down, timeout, HTTP error, a reply without text)."""


@dataclass(frozen=True)
class RemoteTranscript(Transcript):
    """A Transcript that says how it was made: the server's timing, or why the local engine decided."""

    fallback_reason: str | None = None  # set when the local engine transcribed because the server failed
    timing: str = WORDS  # words / segments / text: what the server's reply carried

    @property
    def warnings(self) -> tuple[str, ...]:
        notes = super().warnings
        if self.fallback_reason:
            notes = (f"Transcribed on this machine ({self.engine} {self.model}): {self.fallback_reason}.", *notes)
        if self.timing in TIMING_NOTES:
            notes = (*notes, TIMING_NOTES[self.timing])
        return notes

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "fallback_reason": self.fallback_reason, "timing": self.timing}

    @classmethod
    def of(cls, transcript: Transcript, **extra: Any) -> RemoteTranscript:
        return cls(**{f.name: getattr(transcript, f.name) for f in fields(Transcript)}, **extra)


def litellm_model(model: str, providers: Sequence[str], api_base: str | None = None) -> str:
    """INFRALENS_STT_MODEL as litellm's model string. It is the name the server serves, sent verbatim through
    litellm's OpenAI-compatible route ("openai/<name>"): speaches' "Systran/faster-whisper-small", vLLM's
    "openai/whisper-large-v3". Two exceptions: another litellm provider's string ("groq/whisper-large-v3", its key
    from GROQ_API_KEY) goes as it is, and so does "openai/whisper-1" for OpenAI itself (no base, or api.openai.com)."""
    prefix = model.split("/", 1)[0] if "/" in model else ""
    if prefix in providers and prefix != "openai":
        return model
    if prefix == "openai" and (not api_base or urlsplit(api_base).hostname == "api.openai.com"):
        return model
    return f"openai/{model}"


def wav_bytes(audio: np.ndarray) -> bytes:
    """16 kHz mono float32 -> a 16-bit PCM WAV (every server decodes it; 32 kB per second)."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def to_segments(reply: Any, audio: np.ndarray) -> tuple[tuple[Segment, ...], str]:
    """The reply as segments with timed words, and which timing it carried (words / segments / text)."""
    text = str(_field(reply, "text") or "").strip()
    raw_words = [w for w in (_field(reply, "words") or ()) if str(_field(w, "word") or "").strip()]
    raw_segments = [s for s in (_field(reply, "segments") or ()) if str(_field(s, "text") or "").strip()]
    words = [
        Word(str(_field(w, "word")).strip(), float(_field(w, "start")), float(_field(w, "end")), 1.0) for w in raw_words
    ]  # servers send no word probability; 1.0 marks it unknown-but-kept
    if raw_segments:
        spans = [
            (float(_field(s, "start")), float(_field(s, "end")), str(_field(s, "text")).strip()) for s in raw_segments
        ]
        if words:
            return _words_into_segments(spans, words, raw_segments), WORDS
        return tuple(_spread_segment(a, b, t, s) for (a, b, t), s in zip(spans, raw_segments, strict=True)), SEGMENTS
    if words:
        return (Segment(join_words(words), words[0].start_s, words[-1].end_s, tuple(words)),), WORDS
    if not text:
        return (), TEXT
    return _spread_over_speech(text, speech_regions(audio), len(audio) / SAMPLE_RATE), TEXT


def _scores(raw: Any) -> dict[str, float | None]:
    def num(name: str) -> float | None:
        value = _field(raw, name)
        return float(value) if isinstance(value, (int, float)) else None

    return {"avg_logprob": num("avg_logprob"), "no_speech_prob": num("no_speech_prob")}


def _words_into_segments(
    spans: Sequence[tuple[float, float, str]], words: Sequence[Word], raw: Sequence[Any]
) -> tuple[Segment, ...]:
    """Each word into the segment holding its midpoint (the last segment that starts before it)."""
    starts = [a for a, _, _ in spans]
    buckets: list[list[Word]] = [[] for _ in spans]
    for w in words:
        mid = (w.start_s + w.end_s) / 2
        i = max(0, sum(1 for s in starts if s <= mid) - 1)
        buckets[i].append(w)
    return tuple(
        Segment(text, a, b, tuple(ws), **_scores(r)) for (a, b, text), ws, r in zip(spans, buckets, raw, strict=True)
    )


def _spread_segment(start_s: float, end_s: float, text: str, raw: Any) -> Segment:
    return Segment(text, start_s, end_s, _even(text.split(), start_s, end_s), **_scores(raw))


def _even(tokens: Sequence[str], start_s: float, end_s: float) -> tuple[Word, ...]:
    step = (end_s - start_s) / max(len(tokens), 1)
    return tuple(Word(t, start_s + i * step, start_s + (i + 1) * step, 1.0) for i, t in enumerate(tokens))


def _spread_over_speech(text: str, regions: Sequence[Region], duration_s: float) -> tuple[Segment, ...]:
    """Plain text over the voiced regions, words in proportion to each region's length."""
    tokens = text.split()
    regions = list(regions) or [Region(0.0, duration_s)]
    total_s = sum(r.speech_s for r in regions) or 1.0
    segments, used, spoken_s = [], 0, 0.0
    for r in regions:
        spoken_s += r.speech_s
        upto = round(len(tokens) * spoken_s / total_s)
        if upto > used:
            chunk = tokens[used:upto]
            segments.append(Segment(" ".join(chunk), r.start_s, r.end_s, _even(chunk, r.start_s, r.end_s)))
            used = upto
    return tuple(segments)


class RemoteTranscriber:
    """The speech server as a Transcriber, with the local engine behind it. One per recording (get_transcriber
    builds a new one each time): after a failure it stays local for the rest of that recording."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        retry_wait_s: float = 1.0,
        local: Callable[[], Transcriber] | None = None,
    ) -> None:
        self.model = model
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.connect_timeout_s = min(connect_timeout_s, timeout_s)
        self.retry_wait_s = retry_wait_s
        self._local = local  # the fallback, resolved (and loaded) only when needed
        self.name = ENGINE  # the local engine's name once it has taken over (the live path labels by it)
        self.fallback_reason: str | None = None
        self.requests_sent = 0  # HTTP requests made (tests read it)
        self._timings: list[str] = []

    @classmethod
    def from_settings(cls, settings: Settings, local: Callable[[], Transcriber] | None) -> RemoteTranscriber:
        if not settings.stt_api_base:
            raise TranscriptionError("the remote speech engine needs INFRALENS_STT_API_BASE (e.g. http://stt:8000/v1)")
        return cls(
            settings.stt_model,
            api_base=settings.stt_api_base,
            timeout_s=settings.stt_timeout_s,
            connect_timeout_s=settings.stt_connect_timeout_s,
            local=local if settings.stt_fallback else None,
        )

    @property
    def model_name(self) -> str:
        return self.model if self.fallback_reason is None or self._local is None else self._local().model_name

    def warm_up(self) -> None:
        """Load the local fallback now, so a failing server costs one timeout, not a model load as well."""
        if self._local is not None:
            self._local().warm_up()

    # ------------------------------------------------------------ the whole recording

    def transcribe(
        self, audio: np.ndarray, *, prompt: str | None = None, on_progress: Progress | None = None
    ) -> Transcript:
        transcript = transcribe_covered(
            audio, self.decode, prompt=prompt, on_progress=on_progress, engine=ENGINE, model=self.model
        )  # RemoteUnavailable (a TranscriptionError) only when there is no local fallback
        if self.fallback_reason is not None:  # the local decode took over: label by it
            transcript = dataclasses.replace(transcript, engine=self.name, model=self.model_name)
        return RemoteTranscript.of(transcript, fallback_reason=self.fallback_reason, timing=self.timing)

    @property
    def timing(self) -> str:
        """The poorest timing any of the server's replies carried (words unless a reply lacked them)."""
        for kind in (TEXT, SEGMENTS):
            if kind in self._timings:
                return kind
        return WORDS

    def decode(
        self,
        audio: np.ndarray,
        prompt: str | None = None,
        on_progress: Progress | None = None,
        *,
        speech_end_s: float | None = None,
    ) -> tuple[Segment, ...]:
        """One request for the array (the coverage check and the live path call it per region); after a failure,
        the local engine's decode for this and every later call."""
        if self.fallback_reason is None:
            try:
                segments, timing = self._request(audio, prompt)
            except RemoteUnavailable as exc:
                if self._local is None:
                    raise
                self.fallback_reason = str(exc)
                self.name = self._local().name
            else:
                self._timings.append(timing)
                return segments
        local_decode = getattr(self._local() if self._local else None, "decode", None)
        if not callable(local_decode):
            raise TranscriptionError(f"{self.fallback_reason}, and the local engine cannot decode a region")
        result: tuple[Segment, ...] = local_decode(audio, prompt, on_progress, speech_end_s=speech_end_s)
        return result

    # ------------------------------------------------------------ one request, with one retry

    def _request(self, audio: np.ndarray, prompt: str | None) -> tuple[tuple[Segment, ...], str]:
        litellm = load_litellm()
        import httpx
        import openai

        kwargs = self._kwargs(litellm, prompt)
        upload = ("answer.wav", wav_bytes(audio), "audio/wav")
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            started = time.monotonic()
            try:
                reply = litellm.transcription(file=upload, **kwargs)
                break
            except (openai.OpenAIError, httpx.HTTPError, OSError) as exc:
                if kwargs.get("response_format") == "verbose_json" and _refuses_verbose(exc):
                    with _lock:
                        _plain_json_only.add(self.api_base or "")
                    kwargs = self._kwargs(litellm, prompt)  # the same attempt again, asking for json
                    attempt -= 1
                    continue
                message, retryable, wait_s = self._explain(exc, time.monotonic() - started)
                if not retryable or attempt >= MAX_ATTEMPTS:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    raise RemoteUnavailable(message + tries) from None  # the cause may quote request details
                time.sleep(wait_s)
        return to_segments(reply, audio)  # empty when the server heard nothing: the no-speech checks decide

    def _kwargs(self, litellm: Any, prompt: str | None) -> dict[str, Any]:
        import httpx

        providers = [str(getattr(p, "value", p)) for p in litellm.provider_list]
        model = litellm_model(self.model, providers, self.api_base)
        kwargs: dict[str, Any] = {
            "model": model,
            "language": "en",
            "temperature": 0,
            "timeout": httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            "max_retries": 0,  # the SDK's own retries off: one request per attempt
        }
        if prompt:
            kwargs["prompt"] = prompt
        if (self.api_base or "") not in _plain_json_only:
            kwargs["response_format"] = "verbose_json"
            kwargs["timestamp_granularities"] = ["word", "segment"]
        else:
            kwargs["response_format"] = "json"
        if self.api_base:
            kwargs["api_base"] = self.api_base
            # Local servers need no key, but the OpenAI client insists on one; a real key comes from its variable.
            if model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "no-key-needed"
        return kwargs

    def _where(self) -> str:
        from ..grading.provider_errors import safe_url

        return f" at {safe_url(self.api_base)}" if self.api_base else ""

    def _explain(self, exc: BaseException, waited_s: float) -> tuple[str, bool, float]:
        """(message safe to show, worth one retry?, seconds to wait first)."""
        import httpx
        import openai

        from ..grading.provider_errors import redact

        where = self._where()
        status = getattr(exc, "status_code", None)
        if isinstance(exc, openai.APITimeoutError):
            if _caused_by(exc, "ConnectTimeout"):
                return (
                    f"could not connect to the speech server{where} within {self.connect_timeout_s:g} s "
                    "(INFRALENS_STT_CONNECT_TIMEOUT_S): is it running?",
                    False,
                    0.0,
                )
            return (
                f"the speech server{where} ({self.model}) did not answer within {self.timeout_s:g} s "
                f"(INFRALENS_STT_TIMEOUT_S; gave up after {waited_s:.1f} s): raise INFRALENS_STT_TIMEOUT_S, or give "
                "the server more capacity",
                True,
                0.0,
            )
        if isinstance(exc, (openai.APIConnectionError, httpx.TransportError, OSError)):
            return f"cannot reach the speech server{where} (connection failed)", False, 0.0
        detail = " ".join(redact(str(getattr(exc, "message", "") or exc)).split())[:300]
        if status == 429:
            return f"the speech server{where} rate-limited the request (HTTP 429)", True, _retry_after(exc)
        if status in (401, 403):
            return (
                f"the speech server{where} refused the key (HTTP {status}): set the provider's own variable, "
                "e.g. OPENAI_API_KEY",
                False,
                0.0,
            )
        if isinstance(status, int) and status >= 500:
            return f"the speech server{where} failed (HTTP {status}): {detail}", True, self.retry_wait_s
        if isinstance(status, int):
            return f"the speech server{where} refused the request (HTTP {status}): {detail}", False, 0.0
        return f"the speech server call failed: {type(exc).__name__}: {detail}", False, 0.0


def _caused_by(exc: BaseException | None, name: str) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == name:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _refuses_verbose(exc: BaseException) -> bool:
    """An HTTP 400 about the response format (older vLLM: "only support response_format `text` or `json`")."""
    text = str(getattr(exc, "message", "") or exc).lower()
    return getattr(exc, "status_code", None) == 400 and ("response_format" in text or "verbose_json" in text)


def _retry_after(exc: BaseException) -> float:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        return min(MAX_RETRY_WAIT_S, max(0.0, float(headers.get("retry-after", 1.0))))
    except (TypeError, ValueError):
        return 1.0


def load_litellm() -> Any:
    """litellm, set up once by the grader's loader (offline: no price-map download, logs on stderr)."""
    from ..grading.llm import load_litellm as set_up

    try:
        set_up()
    except GraderUnavailable as exc:
        raise RemoteUnavailable("remote transcription needs litellm: pip install litellm") from exc
    import litellm  # this module's calls are its own (tests/test_architecture.py OWNERS)

    return litellm


def forget_formats() -> None:
    """Forget which servers refused verbose_json (tests)."""
    with _lock:
        _plain_json_only.clear()
