"""What a provider's failure says, made safe to show: credentials out of text and URLs, the provider's own reason
without litellm's class-name prefixes (bounded, never cut inside a number), whether an exception chain is a failed
or timed-out connection, and the context sizes a context-overflow reply names. No litellm import: the exceptions
are read by their names and attributes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from urllib.parse import urlsplit

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)S?$", re.IGNORECASE)
_SECRET_SHAPES = re.compile(r"\b(?:sk|pk|rk|gsk|xai|hf)[-_][A-Za-z0-9_\-*]{6,}|Bearer\s+\S+", re.IGNORECASE)


def redact(text: str) -> str:
    """Remove anything that looks like a credential: values of *_KEY/*_TOKEN variables and key shapes."""
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= 6:
            text = text.replace(value, "***")
    return _SECRET_SHAPES.sub("***", text)


def safe_url(url: str | None) -> str:
    """scheme://host:port only: a base URL may carry credentials in its user part or query string."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}" if parts.scheme else "(api base)"


def _in_chain(exc: BaseException | None, found: Callable[[BaseException], bool]) -> bool:
    """Whether an exception or one of its causes (litellm wraps the HTTP library's) is what `found` looks for."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if found(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def connection_failed(exc: BaseException | None) -> bool:
    """litellm reports a refused connection as an InternalServerError; the cause chain tells the truth."""
    return _in_chain(
        exc, lambda e: isinstance(e, ConnectionError) or type(e).__name__ in ("APIConnectionError", "ConnectError")
    )


def connect_timed_out(exc: BaseException | None) -> bool:
    """The connection itself timed out (nothing listens at that address), not the wait for the reply."""
    return _in_chain(exc, lambda e: type(e).__name__ == "ConnectTimeout")


MAX_DETAIL_CHARS = 600  # a provider's reason, whole up to here (a context-window reply is ~200)
# litellm stacks class names in front of the provider's words: "litellm.ContextWindowExceededError:
# litellm.BadRequestError: ContextWindowExceededError: OpenAIException - This model's maximum ..."
_EXC_PREFIX = re.compile(r"^(?:litellm\.)?\w*(?:Error|Exception)\s*(?::|-)\s*")
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


def _clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """At most `limit` characters, cut after a sentence (else between words), never inside a number."""
    if len(text) <= limit:
        return text
    head = text[: limit - 2]
    ends = [m.end() for m in _SENTENCE_END.finditer(head + " ")]
    cut = ends[-1] if ends and ends[-1] > limit // 2 else head.rfind(" ")
    return head[: cut if cut > 0 else len(head)].rstrip() + " …"


def _body_numbers(exc: BaseException) -> str:
    """Figures a server gives beside its message (llama.cpp: n_prompt_tokens, n_ctx), as 'name value'."""
    response = getattr(exc, "response", None)
    try:
        body = json.loads(getattr(response, "text", "") or "{}")
    except (TypeError, ValueError):
        return ""
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    figures = [f"{k} {v}" for k, v in error.items() if k != "code" and isinstance(v, int) and not isinstance(v, bool)]
    return f" ({', '.join(figures)})" if figures else ""


def provider_detail(exc: BaseException) -> str:
    """The provider's own reason, without litellm's class-name prefixes, redacted and bounded."""
    text = " ".join(str(getattr(exc, "message", "") or exc).split())
    while (stripped := _EXC_PREFIX.sub("", text, count=1)) != text:
        text = stripped
    return _clip(redact(text + _body_numbers(exc)))


CONTEXT_ADVICE = (
    "raise the server's context to >= 4096 tokens, e.g. llama.cpp `llama-server -c 4096`, llama-cpp-python "
    "`--n_ctx 4096`, Ollama `num_ctx` 4096 (INFRALENS_LLM_NUM_CTX, sent with each request)"
)
CONTEXT_SIZE = re.compile(r"(?:maximum context length is|context window of|n_ctx|context size(?: is)?)\D{0,3}(\d+)")
REQUESTED = re.compile(r"(?:you requested|Requested tokens \(|n_prompt_tokens)\D{0,3}(\d+)")
OVERFLOW_WORDS = re.compile(r"context (?:length|window|size)|exceed", re.IGNORECASE)
