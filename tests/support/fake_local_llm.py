"""Fake local LLM servers that behave like the real ones the grader met (stdlib only, 127.0.0.1, real HTTP).

- `FakeLlamaCppPython`: llama-cpp-python's OpenAI-compatible server. `response_format` `json_schema` -> HTTP 500
  naming response_format (it only knows "text" and "json_object"); `{"type": "json_object", "schema": ...}`
  accepted; a context of `n_ctx` tokens (2048 by default, as the real one): a prompt that does not fit -> HTTP 400
  with its OpenAI-style token counts; a reply that reaches the end of the context -> `finish_reason: "length"`.
- `FakeOllama`: Ollama's native API (/api/generate, /api/chat, /api/tags): the schema arrives in `format`,
  the context size in `options.num_ctx`; `done_reason` "length" when a reply is cut.

Tests queue the model's replies (`say(...)`); the server's own rules (rejections, context) are applied first, as
the real servers do, so a rejected request does not consume a reply. Prompt tokens are counted as characters / 4.
Every request is recorded. An empty queue answers 500, so a test never passes on a reply it did not script.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support.fake_openai import Reply, Request


@dataclass(frozen=True)
class Say:
    """What the model writes: `text`, cut after `cut_at_tokens` (finish_reason length), after `delay_s`."""

    text: str
    cut_at_tokens: int | None = None
    delay_s: float = 0.0


def completion(
    text: str, *, finish_reason: str = "stop", prompt_tokens: int = 1000, completion_tokens: int = 200
) -> Reply:
    """An OpenAI chat completion with a chosen finish_reason and usage (for FakeOpenAI's queue)."""
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "grader",
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": {"role": "assistant", "content": text}}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return Reply(200, json.dumps(body).encode())


def prompt_tokens(body: dict) -> int:
    text = "".join(str(m.get("content", "")) for m in body.get("messages", [])) or str(body.get("prompt", ""))
    return len(text) // 4


class _Server:
    """A threaded HTTP server that records requests and answers with `respond`."""

    def __init__(self) -> None:
        self.said: deque[Say] = deque()
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0  # most generations at once (a single-slot server must never see 2)
        self._count_lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def say(self, *replies: str | Say) -> _Server:
        self.said.extend(r if isinstance(r, Say) else Say(r) for r in replies)
        return self

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def respond(self, path: str, body: dict) -> Reply:
        raise NotImplementedError

    def next_said(self) -> Say | None:
        return self.said.popleft() if self.said else None

    def generate(self, say: Say) -> bool:
        """Hold the slot while 'generating'; False when the server is stopping."""
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return not (say.delay_s and self._released.wait(say.delay_s))
        finally:
            with self._count_lock:
                self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, reply: Reply) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)

            def do_GET(self) -> None:
                self._send(fake.respond(self.path, {}))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw or b"{}")
                fake.requests.append(Request(self.path, body, dict(self.headers.items())))
                reply = fake.respond(self.path, body)
                if reply.status >= 0:
                    self._send(reply)

        return Handler


STOPPED = Reply(-1)


class FakeLlamaCppPython(_Server):
    """llama-cpp-python 0.3's server: one slot, `n_ctx` tokens of context, no `json_schema` response_format."""

    def __init__(self, n_ctx: int = 2048) -> None:
        super().__init__()
        self.n_ctx = n_ctx

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def respond(self, path: str, body: dict) -> Reply:
        if path.rstrip("/").endswith("/models"):
            return Reply(200, json.dumps({"object": "list", "data": [{"id": "grader", "object": "model"}]}).encode())
        kind = (body.get("response_format") or {}).get("type")
        if kind not in (None, "text", "json_object"):
            detail = [
                {
                    "type": "literal_error",
                    "loc": ["body", "response_format", "type"],
                    "msg": "Input should be 'text' or 'json_object'",
                    "input": kind,
                }
            ]
            error = {"message": str(detail), "type": "internal_server_error", "param": None, "code": None}
            return Reply(500, json.dumps({"error": error}).encode())
        prompt = prompt_tokens(body)
        wanted = int(body.get("max_tokens") or 0)
        if prompt >= self.n_ctx:  # llama-cpp-python: 'Requested tokens exceed context window', as OpenAI words it
            message = (
                f"This model's maximum context length is {self.n_ctx} tokens. However, you requested "
                f"{prompt + wanted} tokens ({prompt} in the messages, {wanted} in the completion). "
                "Please reduce the length of the messages or completion."
            )
            error = {
                "message": message,
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
            return Reply(400, json.dumps({"error": error}).encode())
        say = self.next_said()
        if say is None:
            return Reply.error(500, "no reply scripted")
        if not self.generate(say):
            return STOPPED
        room = min(wanted or self.n_ctx, self.n_ctx - prompt)  # max_tokens is clamped to what the context holds
        cut = say.cut_at_tokens if say.cut_at_tokens is not None else (room if len(say.text) // 4 > room else None)
        text = say.text[: cut * 4] if cut is not None else say.text
        used = cut if cut is not None else len(text) // 4
        return completion(
            text, finish_reason="length" if cut is not None else "stop", prompt_tokens=prompt, completion_tokens=used
        )


class FakeOllama(_Server):
    """Ollama's API: /api/generate (litellm's `ollama/`) and /api/chat (`ollama_chat/`)."""

    def __init__(self, *, schema_in_format: bool = True) -> None:
        super().__init__()
        self.schema_in_format = schema_in_format  # False: an Ollama before 0.5, which only knows format "json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, path: str, body: dict) -> Reply:
        if path.startswith("/api/tags"):
            return Reply(200, json.dumps({"models": [{"name": "grader:latest"}]}).encode())
        if path.startswith("/api/show"):
            return Reply(200, json.dumps({"model_info": {"llama.context_length": 8192}, "template": ""}).encode())
        if isinstance(body.get("format"), dict) and not self.schema_in_format:
            return Reply(400, json.dumps({"error": 'invalid format: expected "json" or a JSON schema'}).encode())
        say = self.next_said()
        if say is None:
            return Reply(500, json.dumps({"error": "no reply scripted"}).encode())
        if not self.generate(say):
            return STOPPED
        limit = (body.get("options") or {}).get("num_predict")
        cut = say.cut_at_tokens
        if cut is None and limit and len(say.text) // 4 > limit:
            cut = limit
        text = say.text[: cut * 4] if cut is not None else say.text
        reply = {
            "model": body.get("model", "grader"),
            "created_at": "2025-01-01T00:00:00Z",
            "done": True,
            "done_reason": "length" if cut is not None else "stop",
            "prompt_eval_count": prompt_tokens(body),
            "eval_count": cut if cut is not None else max(1, len(text) // 4),
        }
        if path.startswith("/api/chat"):
            reply["message"] = {"role": "assistant", "content": text}
        else:
            reply["response"] = text
        return Reply(200, json.dumps(reply).encode())
