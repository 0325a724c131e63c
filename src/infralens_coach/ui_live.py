"""The live microphone: the transcript grows under the recorder while the person speaks, and is ready at Stop.

Gradio's streaming recorder sends a WAV chunk every STREAM_EVERY_S; each goes to this browser session's
LiveAnswer (Coach.start_live), which transcribes settled regions in a background worker. At Stop only the last
region is left: finish() gives the transcript and delivery metrics, the whole recording is written to a file
(kept with the attempt like an upload), and grading follows with the offline grader.

One live recording per browser session (Gradio's session hash), held in LiveSessions: two tabs are two sessions.
A recording ends at Stop, at the next Record, when the tab closes (demo.unload), or after IDLE_S without audio.
The stream can stop mid-answer (tab hidden, microphone permission revoked, network): a timer notices that no
audio has come for STALL_S and says so; what was heard is kept and the Transcribe button finishes it.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gradio as gr
import numpy as np

from . import audio as audio_io
from .coach import SpokenAnswer
from .content import Question
from .delivery import DeliveryTargets
from .errors import AudioError, CoachError
from .render_html import esc
from .transcribe.live import LiveView
from .ui_practice import Feedback, Heard, Practice, fail, metrics_md, session_of, targets_for, user_error
from .ui_server import log_user_error

log = logging.getLogger("infralens_coach.ui")

STREAM_EVERY_S = 0.5  # the recorder sends a chunk this often (Gradio's default)
STALL_S = 3.0  # no chunk for this long while recording: the stream has stopped
IDLE_S = 600.0  # a recording with no audio and no Stop for this long is cancelled (its tab went away)
KEEP_S = 1800.0  # a finished recording stays this long (the Transcribe button may ask for it again)
LATE_S = 2.0  # a chunk this soon after Stop belongs to the stopped recording
STOP_GRACE_S = 0.1  # at Stop, a chunk already on its way gets this long to arrive
STOP_WAIT_S = 1.0  # Grade with an empty box during a recording waits this long for the Stop sent just before it
LOST_S = 2.5  # the stream delivered this much less audio than the time it ran: say so (arrival jitter is less)
WARM_CHARS = 200  # the settled transcript grew by this much: grade it in the background to warm the grader
LIVE_CSS = """
.il-live { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 12px; min-height: 2.5em; }
.il-live-head { font-size: 13px; color: #57606a; margin-bottom: 4px; }
.il-live-text { margin: 0; line-height: 1.5; }
.il-tail { color: #8c959f; font-style: italic; }
.il-live-note { font-size: 13px; color: #9a6700; margin-top: 4px; }
.il-live.il-stalled, .il-live.il-failed { border-color: #cf222e; }
#il-mic button.il-stopping { opacity: 0.6; }
"""

# Gradio's streaming recorder drops what it heard since its last chunk when Stop is clicked: the final chunk comes
# after recording has ended and is never sent, so up to STREAM_EVERY_S of the answer's last words are lost. This
# holds the click until the next chunk has been sent (its POST to /stream/), at most STOP_HOLD_MS, then lets it
# through: the recording ends where the person clicked. A Grade click during the hold follows the Stop, as it
# would have without it. Installed once per page (launch(js=...)).
STOP_HOLD_MS = 800
STOP_HOLD_JS = f"""
() => {{
  if (window.__ilStopHold) return;
  window.__ilStopHold = true;
  let release = null, passing = false, queued = [];
  const realFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {{
    const url = typeof input === 'string' ? input : (input && input.url) || '';
    if (release && /\\/stream\\/[^/]+$/.test(url.split('?')[0])) setTimeout(release, 0);
    return realFetch(input, init);
  }};
  const pass = (button) => {{
    passing = true;
    try {{ button.click(); }} finally {{ passing = false; }}
  }};
  document.addEventListener('click', (event) => {{
    if (passing || !event.target.closest) return;
    const grade = event.target.closest('#il-grade');
    if (grade && release) {{  // Grade during the hold: after the Stop
      event.stopImmediatePropagation();
      event.preventDefault();
      queued.push(grade);
      return;
    }}
    const button = event.target.closest('#il-mic button.stop-button');
    if (!button) return;
    event.stopImmediatePropagation();
    event.preventDefault();
    if (release) return;  // clicked again while held
    button.classList.add('il-stopping');
    const go = () => {{
      if (release !== go) return;
      release = null;
      button.classList.remove('il-stopping');
      pass(button);
      const later = queued.splice(0);
      setTimeout(() => later.forEach(pass), 0);
    }};
    release = go;
    setTimeout(go, {STOP_HOLD_MS});
  }}, true);
}}
"""


class LiveAnswerLike(Protocol):
    """What the page needs of a live answer (coach.LiveAnswer; tests may pass a fake with the same methods)."""

    def feed(self, samples: np.ndarray, sample_rate: int) -> None: ...
    def view(self) -> LiveView: ...
    def audio(self) -> np.ndarray: ...
    def finish(self, *, targets: DeliveryTargets | None = None) -> SpokenAnswer: ...
    def cancel(self) -> None: ...


StartLive = Callable[[Question], LiveAnswerLike]


@dataclass
class Recording:
    """One live recording of one browser session."""

    answer: LiveAnswerLike
    question_id: str
    created: float
    claimed: bool  # the recorder's start event has seen it (it may be made by the first chunk, before that event)
    first_chunk: float | None = None
    last_chunk: float | None = None
    chunks: int = 0
    late_chunks: int = 0  # arrived after finish() began: not in the transcript (kept out of the audio too)
    stopped: float | None = None
    stop_seen: threading.Event = field(default_factory=threading.Event)  # set with `stopped`
    result: SpokenAnswer | None = None
    error: CoachError | None = None
    path: str | None = None  # the whole recording as a WAV file, once finished
    graded: bool = False  # an attempt was graded from it (the automatic grade after Stop is then skipped)
    warmed: int = 0  # characters of the settled transcript the offline grader has seen (LiveMic.warm_grader)
    warming: bool = False  # ... and a background grade of it is running
    closed: bool = False  # finish() has begun: no more audio goes in
    finishing: threading.Lock = field(default_factory=threading.Lock)  # one finish at a time
    feeding: threading.Lock = field(default_factory=threading.Lock)  # a chunk goes in whole, or after closing not

    def lost_s(self, heard_s: float) -> float:
        """Seconds of audio the stream ran for but did not deliver (chunks lost on the way)."""
        if self.first_chunk is None or self.last_chunk is None:
            return 0.0
        return max(0.0, (self.last_chunk - self.first_chunk + STREAM_EVERY_S) - heard_s)


class LiveSessions:
    """The live recordings, one per browser session; every method is safe to call from any handler thread."""

    def __init__(self, start: StartLive, clock: Callable[[], float] = time.monotonic) -> None:
        self._start = start
        self.clock = clock
        self._lock = threading.Lock()  # the dict
        self._creating = threading.Lock()  # Record's event and the first chunk may both want a new recording
        self._by_session: dict[str, Recording] = {}

    def current(self, session: str) -> Recording | None:
        with self._lock:
            return self._by_session.get(session)

    def begin(self, session: str, question: Question) -> Recording:
        """Record was pressed: a new recording, unless the first chunk has already made it."""
        with self._creating:
            rec = self.current(session)
            if rec is not None and rec.stopped is None and not rec.claimed:
                rec.claimed = True
                return rec
            return self._replace(session, question, claimed=True)

    def feed(self, session: str, question: Question, samples: np.ndarray, rate: int) -> Recording | None:
        """A chunk from the recorder. None when it came after finish() began (it is counted, not transcribed)."""
        now = self.clock()
        rec = self.current(session)
        if not self._fresh(rec, now):
            with self._creating:
                rec = self.current(session)  # Record's event may have made it meanwhile
                if not self._fresh(rec, now):
                    rec = self._replace(session, question, claimed=False)
        if rec is None:  # _replace always gives one; this tells the type checker
            raise RuntimeError("no live recording")
        with rec.feeding:
            if rec.closed:
                rec.late_chunks += 1
                return None
            rec.answer.feed(samples, rate)
            rec.first_chunk = now if rec.first_chunk is None else rec.first_chunk
            rec.last_chunk, rec.chunks = now, rec.chunks + 1
        return rec

    def stop(self, session: str) -> Recording | None:
        with self._lock:
            rec = self._by_session.get(session)
            if rec is not None and rec.stopped is None:
                rec.stopped = self.clock()
                rec.stop_seen.set()
            return rec

    def finish(self, rec: Recording, targets: DeliveryTargets, folder: Path) -> SpokenAnswer:
        """The recording's transcript (once: a second caller waits for the first and gets the same result)."""
        with rec.finishing:
            if rec.result is None and rec.error is None:
                wait_s = STOP_GRACE_S - (self.clock() - (rec.stopped or self.clock()))
                if wait_s > 0:  # a chunk already on its way still goes in
                    time.sleep(wait_s)
                rec.stopped = rec.stopped or self.clock()
                rec.stop_seen.set()
                with rec.feeding:
                    rec.closed = True
                try:
                    rec.result = rec.answer.finish(targets=targets)
                except CoachError as exc:
                    rec.error = exc
                finally:  # the recording is kept whatever the transcription did
                    rec.path = rec.path or str(write_wav(rec.answer.audio(), folder))
            if rec.error is not None:
                raise rec.error
            if rec.result is None:  # a bug: finish() either returns or raises
                raise RuntimeError("the live answer finished without a transcript")
            return rec.result

    def drop(self, session: str) -> None:
        """The tab closed: stop its worker."""
        with self._lock:
            rec = self._by_session.pop(session, None)
        if rec is not None:
            rec.answer.cancel()

    def sweep(self) -> int:
        """Cancel recordings whose tab went away without a Stop, and forget old finished ones; how many."""
        now = self.clock()
        with self._lock:
            old = {
                s: r
                for s, r in self._by_session.items()
                if now - (r.last_chunk or r.created) > (KEEP_S if r.stopped is not None else IDLE_S)
            }
            for s in old:
                del self._by_session[s]
        for rec in old.values():
            rec.answer.cancel()
        return len(old)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_session)

    @staticmethod
    def _fresh(rec: Recording | None, now: float) -> bool:
        """A recording still taking chunks: not stopped, or stopped so recently that a chunk may be on its way."""
        return rec is not None and (rec.stopped is None or now - rec.stopped < LATE_S)

    def _replace(self, session: str, question: Question, *, claimed: bool) -> Recording:
        self.sweep()
        answer = self._start(question)  # may wait for the speech model: outside the lock
        rec = Recording(answer, question.id, self.clock(), claimed)
        with self._lock:
            old = self._by_session.get(session)
            self._by_session[session] = rec
        if old is not None and old.result is None:
            old.answer.cancel()  # a recording that never got its Stop (the worker must not run on)
        return rec


# ------------------------------------------------------------ audio in and out


def read_chunk(path: str) -> tuple[np.ndarray, int]:
    """A streamed chunk as (samples, rate). The recorder writes a 44-byte WAV header and 16-bit PCM whose header
    sizes may be stale, so the data is taken as everything after the header; any other file goes to audio.decode."""
    raw = Path(path).read_bytes()
    if len(raw) >= 44 and raw[:4] == b"RIFF" and raw[8:12] == b"WAVE" and raw[36:40] == b"data":
        fmt, channels = int.from_bytes(raw[20:22], "little"), int.from_bytes(raw[22:24], "little")
        rate, bits = int.from_bytes(raw[24:28], "little"), int.from_bytes(raw[34:36], "little")
        if fmt == 1 and bits == 16 and channels >= 1 and rate > 0:
            data = raw[44 : 44 + (len(raw) - 44) // (2 * channels) * 2 * channels]
            return np.frombuffer(data, "<i2").reshape(-1, channels), rate
    return audio_io.decode(path), audio_io.SAMPLE_RATE


def write_wav(samples: np.ndarray, folder: Path) -> Path:
    """The whole recording (16 kHz mono float) as a 16-bit WAV: the file the attempt keeps."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"live-{uuid.uuid4().hex[:12]}.wav"
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio_io.SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return path


def default_folder() -> Path:
    """Where finished live recordings wait to be kept: Gradio's cache, which delete_cache empties."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder() or tempfile.gettempdir()) / "live"


# ------------------------------------------------------------ what the page shows


def live_html(view: LiveView | None, state: str, note: str = "") -> str:
    """The live transcript: settled text, then the provisional tail in grey italics ("…" while it is decoded).

    state: recording | stalled | finishing | done | failed (a CSS class and data-state, which the tests read)."""
    heard = f"{view.heard_s:.0f} s heard" if view is not None else "waiting for the microphone"
    head = {
        "recording": f"Live transcript · {heard}",
        "stalled": f"Live transcript · {heard} · no audio is arriving",
        "finishing": f"Finishing the transcript · {heard}",
        "done": f"Transcript ready · {heard}",
        "failed": f"Live transcript · {heard}",
    }.get(state, heard)
    settled = esc(view.settled) if view is not None else ""
    pending = view is not None and view.pending_s > 0.05 and state in ("recording", "stalled", "finishing")
    tail = f' <span class="il-tail">{esc(view.tail)} …</span>' if pending and view and view.tail else ""
    if pending and not tail:
        tail = ' <span class="il-tail">…</span>'
    notes = [n for n in (view.warning if view is not None and state != "done" else None, note) if n]
    body = "".join(f'<div class="il-live-note">{esc(n)}</div>' for n in notes)
    heard_s = f"{view.heard_s:.1f}" if view is not None else "0"
    return (
        f'<div id="il-live" class="il-live il-{state}" data-state="{state}" data-heard-s="{heard_s}">'
        f'<div class="il-live-head">{head}</div><p class="il-live-text">{settled}{tail}</p>{body}</div>'
    )


def speech_model_md(status: str) -> str:
    """Which speech model transcribes (Warmup.status: "ready: <model>", "loading …", "not available: …")."""
    if status.startswith("ready: "):
        return f"Speech model: **{status.removeprefix('ready: ')}**, on this machine, while you speak."
    return f"Speech model: {status}"


def stall_note(seconds: float) -> str:
    return (
        f"No audio has arrived for {seconds:.0f} s (the tab was hidden, the microphone permission was revoked, "
        "or the network dropped). What was heard so far is kept: press Stop, or Transcribe recording, to finish it."
    )


def finished_note(rec: Recording, spoken: SpokenAnswer, after_stop_s: float) -> str:
    t = spoken.transcript
    notes = [f"Heard by {t.engine} {t.model}; the transcript was ready {after_stop_s:.1f} s after Stop."]
    lost = rec.lost_s(t.duration_s)
    if lost > LOST_S:
        notes.append(
            f"About {lost:.0f} s of the microphone stream seems not to have arrived (network or a busy machine): "
            "words may be missing. If it matters, record again or use Upload."
        )
    if rec.late_chunks:
        notes.append(f"{rec.late_chunks * STREAM_EVERY_S:.1f} s arrived after Stop and is not in the transcript.")
    notes.extend(t.warnings)
    return " ".join(notes)


def chunk_samples(value: str) -> tuple[np.ndarray, int]:
    try:
        return read_chunk(value)
    except OSError as exc:
        raise AudioError(f"could not read the microphone chunk: {exc}") from exc


def _quiet(*_: object, **__: object) -> None:
    """A progress bar nobody sees (the button's own event shows Gradio's spinner)."""


# ------------------------------------------------------------ the handlers


class LiveMic:
    """The live recorder's handlers: Record, each chunk, the stall timer, Stop, the Transcribe button, tab close."""

    def __init__(
        self,
        practice: Practice,
        sessions: LiveSessions | None = None,
        *,
        folder: Path | None = None,
        status: Callable[[], str] = lambda: "",
    ) -> None:
        self.practice = practice
        self.sessions = sessions if sessions is not None else LiveSessions(practice.coach.start_live)
        self.folder = folder or default_folder()
        self.status = status  # the speech model in use (Warmup.status), for the page

    def model_md(self) -> str:
        return speech_model_md(self.status() or "loads with the first recording")

    def started(self, qid: str, request: gr.Request | None = None) -> tuple[str, Any, str]:
        """Record was pressed: a fresh live transcript (a recording left without Stop is cancelled)."""
        question = self.practice.question(qid)
        try:
            rec = self.sessions.begin(session_of(request), question)
        except CoachError as exc:
            raise fail(exc) from exc
        return live_html(rec.answer.view(), "recording"), gr.Timer(active=True), self.model_md()

    def chunk(self, value: str | None, qid: str, request: gr.Request | None = None) -> Any:
        """A chunk from the recorder: feed it (never waits for decoding) and show the transcript so far."""
        if not isinstance(value, str) or not value:  # a chunk reaches the handler as a file path
            return gr.skip()
        try:
            samples, rate = chunk_samples(value)
            rec = self.sessions.feed(session_of(request), self.practice.question(qid), samples, rate)
        except CoachError as exc:
            log_user_error(exc)
            return live_html(None, "failed", f"{exc}. What was heard so far is kept: press Stop to finish it.")
        if rec is None:
            return gr.skip()
        view = rec.answer.view()
        self.warm_grader(rec, view.settled)
        limit_s = self.practice.coach.settings.max_audio_s
        note = f"Answers are limited to {limit_s / 60:.0f} min: press Stop." if view.heard_s > limit_s else ""
        return live_html(view, "recording", note)

    def warm_grader(self, rec: Recording, settled: str) -> None:
        """While the person speaks, grade what is settled with the offline grader in the background (at most one
        at a time per recording), so that the automatic grade after Stop finds most sentence vectors computed:
        0.03 s instead of 0.23 s for a 5-minute answer on these cores. The grade itself is thrown away."""
        if rec.warming or rec.stopped is not None or len(settled) - rec.warmed < WARM_CHARS:
            return
        rec.warming = True

        def warm() -> None:
            try:
                self.practice.warm_offline(rec.question_id, settled)
            except Exception:  # only a head start: the real grade after Stop reports any failure
                log.debug("warming the grader failed", exc_info=True)
            finally:
                rec.warmed, rec.warming = len(settled), False

        threading.Thread(target=warm, name="grader-warm", daemon=True).start()

    def tick(self, request: gr.Request | None = None) -> tuple[Any, Any]:
        """Every second while recording: say so when no audio has arrived for STALL_S."""
        rec = self.sessions.current(session_of(request))
        if rec is None or rec.stopped is not None:
            return gr.skip(), gr.Timer(active=False)
        silent_s = self.sessions.clock() - (rec.last_chunk or rec.created)
        if silent_s < STALL_S:
            return gr.skip(), gr.skip()
        return live_html(rec.answer.view(), "stalled", stall_note(silent_s)), gr.skip()

    def stopped(self, qid: str, target: str, heard: Heard | None, request: gr.Request | None = None) -> Any:
        """Stop: finish the tail, fill the transcript box and the delivery note (grading follows on success)."""
        rec = self.sessions.stop(session_of(request))
        if rec is None or rec.chunks == 0:
            raise user_error(
                "Nothing arrived from the microphone: record again, or use Upload. " + self.practice.mic_help(request)
            )
        yield from self._finish(rec, target)

    def transcribe(self, qid: str, target: str, heard: Heard | None, request: gr.Request | None = None) -> Any:
        """The Transcribe button: finish a recording whose stream stopped, wait for one finishing, or transcribe
        the finished one again (with the new card's prompt when the card changed)."""
        rec = self.sessions.current(session_of(request))
        if rec is None:
            raise user_error(
                "No recording yet: record with the microphone, upload a file, or type your answer. "
                + self.practice.mic_help(request)
            )
        if rec.result is not None and rec.path and self.practice.question(qid).id != rec.question_id:
            text, note, new_heard, _ = self.practice.transcribe(qid, rec.path, "voice", target, heard, False, _quiet)
            yield text, note, new_heard, gr.skip(), gr.Timer(active=False)
            return
        self.sessions.stop(session_of(request))
        yield from self._finish(rec, target)

    def grade(self, qid: str, text: str, heard: Heard | None, request: gr.Request | None = None) -> Feedback:
        """The Grade button. Pressed right after Stop, before the transcript is in the box: wait for it and
        grade it (the box fills from Stop's own event). Stop's event may even arrive just after this one (the page
        sends Grade right after the Stop it held): with nothing in the box, wait a moment for it."""
        rec = self.sessions.current(session_of(request))
        if rec is not None and rec.chunks and rec.stopped is None and not (text or "").strip():
            rec.stop_seen.wait(STOP_WAIT_S)
        if rec is not None and rec.stopped is not None and not (text or "").strip():
            try:
                spoken = self.sessions.finish(rec, targets_for(None), self.folder)
            except CoachError as exc:
                raise fail(exc) from exc
            text, heard = spoken.text, Heard(rec.path or "", "voice", rec.question_id, spoken)
        if rec is not None and heard is not None and heard.path == rec.path:
            rec.graded = True  # the automatic grade after Stop is not needed
        return self.practice.grade(qid, text, heard, request=request)

    def auto_grade(self, qid: str, text: str, heard: Heard | None, request: gr.Request | None = None) -> Any:
        """After Stop: grade with the offline grader at once, unless Grade was already pressed for it. The answer is
        graded for the card it was recorded for: the person may have picked the next card since Stop."""
        rec = self.sessions.current(session_of(request))
        if rec is None or rec.graded or heard is None or heard.path != rec.path:
            return (gr.skip(),) * 7
        rec.graded = True
        return self.practice.grade_offline(heard.question_id or qid, text, heard, request)

    def closed(self, request: gr.Request) -> None:
        """The tab closed or reloaded: stop its worker."""
        self.sessions.drop(session_of(request))

    def _finish(self, rec: Recording, target: str) -> Any:
        stopped = rec.stopped or self.sessions.clock()
        view = rec.answer.view()
        if rec.result is None and view.pending_s > 5:
            note = f"Finishing the last {view.pending_s:.0f} s, which this machine had not reached while you spoke."
            yield gr.skip(), gr.skip(), gr.skip(), live_html(view, "finishing", note), gr.Timer(active=False)
        try:
            spoken = self.sessions.finish(rec, targets_for(target), self.folder)
        except CoachError as exc:
            kept = " The recording is kept: record again, or upload it." if rec.path else ""
            yield gr.skip(), gr.skip(), gr.skip(), live_html(view, "failed", f"{exc}.{kept}"), gr.Timer(active=False)
            raise fail(exc) from exc
        spoken = self.practice.coach.measure(spoken, targets_for(target))
        heard = Heard(rec.path or "", "voice", rec.question_id, spoken)
        after_s = self.sessions.clock() - stopped
        done = live_html(rec.answer.view(), "done", finished_note(rec, spoken, after_s))
        yield spoken.text, metrics_md(spoken.metrics.to_dict()), heard, done, gr.Timer(active=False)
