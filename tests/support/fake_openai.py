"""A scripted OpenAI-compatible chat-completions server (stdlib only) on 127.0.0.1, for real-HTTP tests.

Each test queues the replies it wants, in order; every request is recorded (path, JSON body, headers), so a
test can assert what litellm actually sent. When the queue is empty the server answers 500, so a test never
passes by accident on a reply it did not script.

    with FakeOpenAI() as server:
        server.enqueue(Reply.content('{"dimensions": []}'))
        litellm.completion(model="openai/grader", api_base=server.url, ...)
        server.requests[0].body["messages"]
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # hold the response this long (a hang past the client's timeout)

    @classmethod
    def content(cls, text: str, *, model: str = "grader") -> Reply:
        """A normal completion whose message content is `text`."""
        completion = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
        }
        return cls(200, json.dumps(completion).encode())

    @classmethod
    def error(cls, status: int, message: str = "scripted error", **headers: str) -> Reply:
        body = json.dumps({"error": {"message": message, "type": "server_error", "code": status}}).encode()
        return cls(status, body, {k.replace("_", "-"): v for k, v in headers.items()})

    @classmethod
    def hang(cls, seconds: float) -> Reply:
        return cls(200, Reply.content("{}").body, delay_s=seconds)


@dataclass(frozen=True)
class Request:
    path: str
    body: dict
    headers: dict[str, str]


class FakeOpenAI:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Request] = []
        self._released = threading.Event()  # set on stop: a hanging reply gives up
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        # a short poll, so stopping the server does not cost each test half a second
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: Reply) -> FakeOpenAI:
        self.replies.extend(replies)
        return self

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def do_GET(self) -> None:
                body = json.dumps({"object": "list", "data": [{"id": "grader", "object": "model"}]}).encode()
                self._send(Reply(200, body) if self.path.rstrip("/").endswith("/models") else Reply.error(404))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append(Request(self.path, json.loads(raw or b"{}"), dict(self.headers.items())))
                reply = fake.replies.popleft() if fake.replies else Reply.error(500, "no reply scripted")
                if reply.delay_s and fake._released.wait(reply.delay_s):
                    return  # the server is stopping
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    self._send(reply)

        return Handler
