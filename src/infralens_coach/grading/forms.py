"""How the grade's JSON schema is sent, per server, and what each server was found to accept (no litellm here).

Servers differ: OpenAI, vLLM and llama.cpp's `llama-server` take `response_format` `json_schema`; Ollama takes the
schema in its `format` field (litellm moves a `json_schema` response_format there for `ollama/` models);
llama-cpp-python rejects `json_schema` with HTTP 500 and wants `{"type": "json_object", "schema": ...}`. Each model
gets a list of forms to try, best first. A server that rejects a form moves the grader to the next one in the same
grade call, and the form it accepted is remembered per (model, API base): for the process here, and in the grade
cache across runs (grading/cache.py), so the rejected form is not sent again.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from typing import Any
from urllib.parse import urlsplit

JSON_SCHEMA = "json_schema"  # response_format {"type": "json_schema", "json_schema": {...}}
OLLAMA_FORMAT = "ollama_format"  # Ollama's `format`: the schema itself
JSON_OBJECT_SCHEMA = "json_object+schema"  # llama-cpp-python: {"type": "json_object", "schema": ...}
JSON_OBJECT = "json_object"  # any JSON object (the schema is only in the prompt's words)
PROMPT_ONLY = "prompt-only"  # no response_format at all
FORMS = (JSON_SCHEMA, OLLAMA_FORMAT, JSON_OBJECT_SCHEMA, JSON_OBJECT, PROMPT_ONLY)
OLLAMA_PREFIXES = ("ollama/", "ollama_chat/")

# A server's reason that names the structured-output request (rather than the prompt or the model).
_NAMES_FORMAT = re.compile(r"response_format|json_schema|json_object|\bschema\b|\bformat\b|grammar", re.IGNORECASE)

_accepted: dict[tuple[str, str], str] = {}  # (model, api base) -> the form the server accepted
_lock = threading.Lock()


def is_ollama(model: str) -> bool:
    return model.startswith(OLLAMA_PREFIXES)


def is_local(model: str, api_base: str | None) -> bool:
    """A server on this machine or the local network (or Ollama): single-slot, slow on CPU, no key needed."""
    if not api_base:
        return is_ollama(model)
    host = (urlsplit(api_base).hostname or "").lower()
    if host in ("localhost", "host.docker.internal") or host.endswith((".local", ".lan", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def candidates(model: str, api_base: str | None, *, provider_knows_schema: bool) -> tuple[str, ...]:
    """The forms to try for this model and server, best first."""
    if is_ollama(model):
        return (OLLAMA_FORMAT, JSON_OBJECT)
    if model.startswith("openai/") and api_base:  # an OpenAI-compatible server: vLLM, llama.cpp, LM Studio, ...
        return (JSON_SCHEMA, JSON_OBJECT_SCHEMA, JSON_OBJECT)
    if provider_knows_schema:
        return (JSON_SCHEMA, JSON_OBJECT)
    return (JSON_OBJECT,)


def response_format(form: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `response_format` argument for litellm that sends `schema` in this form."""
    if form in (JSON_SCHEMA, OLLAMA_FORMAT):  # litellm turns the latter into Ollama's `format: <schema>`
        return {"type": "json_schema", "json_schema": {"name": "grade", "strict": True, "schema": schema}}
    if form == JSON_OBJECT_SCHEMA:
        return {"type": "json_object", "schema": schema}
    if form == JSON_OBJECT:
        return {"type": "json_object"}
    return None


def carries_schema(form: str) -> bool:
    return form in (JSON_SCHEMA, OLLAMA_FORMAT, JSON_OBJECT_SCHEMA)


def is_rejection(status: int | None, detail: str) -> bool:
    """Whether an HTTP error is the server refusing the structured-output form (llama-cpp-python: a 500)."""
    return status in (400, 415, 422, 500, 501) and bool(_NAMES_FORMAT.search(detail))


def remembered(model: str, api_base: str | None) -> str | None:
    with _lock:
        return _accepted.get((model, api_base or ""))


def remember(model: str, api_base: str | None, form: str) -> None:
    with _lock:
        _accepted[(model, api_base or "")] = form


def forget() -> None:
    """Drop what this process learned (a restarted or reconfigured server; tests start clean)."""
    with _lock:
        _accepted.clear()


def order(options: tuple[str, ...], known: str | None) -> tuple[str, ...]:
    """`options` starting from the one known to work (the forms before it were rejected)."""
    if known in options:
        return options[options.index(known) :]
    return options
