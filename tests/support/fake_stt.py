"""A fake OpenAI-compatible speech-to-text server (stdlib only) on 127.0.0.1: POST /v1/audio/transcriptions.

It cannot hear, so it answers with a scripted text spread evenly over the uploaded WAV's duration (one word
every `seconds_per_word`, from 0.2 s), in the shape a real server gives for the `response_format` asked:
verbose_json with `words` when `timestamp_granularities[]=word` is sent, `segments` always; json/text with the
text only. `timing` makes it a poorer server: "segments" (no word timestamps, as speaches/vLLM without
them), "text" (plain json whatever is asked), "refuse-verbose" (HTTP 400 for verbose_json, as older vLLM).
Every request is recorded with its multipart fields; scripted failures (500, 429) are queued per request;
`delay_s` holds every reply (a slow engine, for timeouts and the concurrency bench).

    with FakeSTT(text="A Job runs batch work.", delay_s=0.5) as server:
        server.fail(500)                       # the next request gets a 500, the one after a transcript
        litellm.transcription(model="openai/whisper-1", file=..., api_base=server.url)
        server.requests[-1].fields["prompt"]

Run it alone for the bench: python -m tests.support.fake_stt --port 9000 --delay 2.0
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_TEXT = (
    "A Kubernetes Job runs finite batch work until it completes and retries failed pods up to the backoff "
    "limit, while a Deployment keeps a long running service alive and replaces pods that exit."
)
TIMINGS = ("words", "segments", "text", "refuse-verbose")


@dataclass(frozen=True)
class Upload:
    path: str
    fields: dict[str, list[str]]  # form fields (timestamp_granularities[] may repeat)
    filename: str
    audio_bytes: int
    duration_s: float
    headers: dict[str, str]

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, list[str]], str, bytes]:
    """(text fields, the file's name, the file's bytes) of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, list[str]] = {}
    filename, data = "", b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition") or ""
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            filename, data = part.get_filename() or "", payload
        else:
            fields.setdefault(str(name), []).append(payload.decode("utf-8"))
    return fields, filename, data


def wav_duration_s(data: bytes) -> float:
    try:
        with wave.open(io.BytesIO(data)) as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError):
        return 0.0


def spread(text: str, duration_s: float, seconds_per_word: float) -> list[dict[str, float | str]]:
    """The text's words, one every `seconds_per_word` from 0.2 s, repeated to fill the recording."""
    base = text.split()
    out: list[dict[str, float | str]] = []
    t, i = 0.2, 0
    while t + seconds_per_word * 0.8 <= max(duration_s - 0.1, 0.3):
        out.append({"word": base[i % len(base)], "start": round(t, 3), "end": round(t + seconds_per_word * 0.8, 3)})
        t += seconds_per_word
        i += 1
    return out


class FakeSTT:
    def __init__(
        self,
        *,
        text: str = DEFAULT_TEXT,
        timing: str = "words",
        delay_s: float = 0.0,
        seconds_per_word: float = 0.4,
        port: int = 0,
    ) -> None:
        if timing not in TIMINGS:
            raise ValueError(f"timing must be one of {TIMINGS}")
        self.text, self.timing, self.delay_s, self.seconds_per_word = text, timing, delay_s, seconds_per_word
        self.failures: deque[tuple[int, dict[str, str]]] = deque()
        self.requests: list[Upload] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests held at once (the concurrency test and the bench read it)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail(self, status: int, times: int = 1, **headers: str) -> FakeSTT:
        """The next `times` requests get HTTP `status` (429 with e.g. retry_after="0")."""
        self.failures.extend([(status, {k.replace("_", "-"): v for k, v in headers.items()})] * times)
        return self

    def start(self) -> FakeSTT:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSTT:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reply(self, upload: Upload) -> tuple[int, bytes, str]:
        """(status, body, content type) for one upload."""
        fmt = upload.field("response_format") or "json"
        if fmt == "verbose_json" and self.timing == "refuse-verbose":
            return 400, _error(400, "Currently only support response_format `text` or `json`"), "application/json"
        words = spread(self.text, upload.duration_s, self.seconds_per_word)
        text = " ".join(str(w["word"]) for w in words)
        if fmt == "text":
            return 200, text.encode(), "text/plain"
        if fmt != "verbose_json" or self.timing == "text":
            return 200, json.dumps({"text": text}).encode(), "application/json"
        body: dict[str, object] = {
            "task": "transcribe",
            "language": "english",
            "duration": upload.duration_s,
            "text": text,
            "segments": _segments(words),
        }
        if self.timing == "words" and "word" in upload.fields.get("timestamp_granularities[]", []):
            body["words"] = words
        return 200, json.dumps(body).encode(), "application/json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                models = {"object": "list", "data": [{"id": "whisper-1", "object": "model"}]}
                self._send(200, json.dumps(models).encode(), "application/json")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fields, filename, data = parse_multipart(self.headers.get("Content-Type", ""), raw)
                upload = Upload(self.path, fields, filename, len(data), wav_duration_s(data), dict(self.headers))
                with fake._lock:
                    fake.requests.append(upload)
                    failure = fake.failures.popleft() if fake.failures else None
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    if fake.delay_s and fake._released.wait(fake.delay_s):
                        return  # the server is stopping
                    self._answer(upload, failure)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _answer(self, upload: Upload, failure: tuple[int, dict[str, str]] | None) -> None:
                if not self.path.rstrip("/").endswith("/audio/transcriptions"):
                    status, body, kind, headers = 404, _error(404, "not found"), "application/json", {}
                elif failure is not None:
                    status, headers = failure
                    body, kind = _error(status, "scripted"), "application/json"
                else:
                    (status, body, kind), headers = fake.reply(upload), {}
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    self._send(status, body, kind, headers)

        return Handler


def _segments(words: list[dict[str, float | str]], per_segment: int = 12) -> list[dict[str, object]]:
    out = []
    for i in range(0, len(words), per_segment):
        chunk = words[i : i + per_segment]
        out.append(
            {
                "id": len(out),
                "start": chunk[0]["start"],
                "end": chunk[-1]["end"],
                "text": " " + " ".join(str(w["word"]) for w in chunk),
                "avg_logprob": -0.2,
                "no_speech_prob": 0.01,
            }
        )
    return out


def _error(status: int, message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "server_error", "code": status}}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds every reply is held")
    args = parser.parse_args()
    with FakeSTT(delay_s=args.delay, port=args.port) as server:
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
