"""The LLM grader: one litellm call per attempt, checked by grading/parse.py. The only litellm import.

litellm is imported on first use, after switching off its network look-ups (the model price map) and its
debug banners, so the CLI and the keyword path never pay its ~3 s import. Each attempt is one HTTP request
(`max_retries=0` turns off the SDK's own retries) with `temperature=0` and an explicit timeout; a 429, a 5xx
or a timeout gets one more attempt of ours, and then a GraderUnavailable. Provider keys are read by litellm
from the providers' own variables (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...); our messages never carry them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from ..content import DIMENSIONS, Question, Rubric
from ..errors import GradeParseError, GraderError, GraderUnavailable
from . import injection, parse, prompt
from .base import DimensionScore, Grade, MisconceptionHit, overall_score

MAX_ATTEMPTS = 2  # the call, and at most one retry for 429 / 5xx / timeout
MAX_RETRY_WAIT_S = 5.0
MAX_REPLY_TOKENS = 2000
_litellm: Any = None


def load_litellm() -> Any:
    """Import litellm once, offline: no price-map download, no debug banners, no callbacks."""
    global _litellm
    if _litellm is None:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        os.environ["LITELLM_OFFLINE_MODE"] = "true"
        try:
            with contextlib.redirect_stdout(sys.stderr):  # import-time log lines and prints stay off stdout
                import litellm
        except ImportError as exc:
            raise GraderUnavailable("the LLM grader needs litellm: pip install litellm") from exc
        litellm.suppress_debug_info = True
        litellm.telemetry = False
        _route_logs_to_stderr()
        _litellm = litellm
    return _litellm


if TYPE_CHECKING:
    _StreamHandler = logging.StreamHandler[TextIO]
else:  # StreamHandler takes no type argument at run time before Python 3.11
    _StreamHandler = logging.StreamHandler


class _StderrHandler(_StreamHandler):
    """Writes to whatever sys.stderr is at the time (the CLI's and the tests' streams change)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _route_logs_to_stderr() -> None:
    """litellm logs records below WARNING to stdout, which would corrupt `grade --json`.

    Its loggers get WARNING unless LITELLM_LOG asks for more, and its handler is swapped for one that
    writes to stderr (keeping litellm's filters, which include its secret redaction).
    """
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logger = logging.getLogger(name)
        if not os.environ.get("LITELLM_LOG"):
            logger.setLevel(logging.WARNING)
        for old in [h for h in logger.handlers if type(h).__name__ == "LevelRoutingStreamHandler"]:
            new = _StderrHandler()
            new.setLevel(old.level)
            new.setFormatter(old.formatter)
            for log_filter in old.filters:
                new.addFilter(log_filter)
            logger.removeHandler(old)
            logger.addHandler(new)


def count_tokens(model: str, messages: list[dict[str, str]], extra: str = "") -> int:
    """Prompt tokens as litellm counts them for this model (its bundled tokenizers; no download)."""
    litellm = load_litellm()
    total: int = litellm.token_counter(model=model, messages=messages)
    if extra:
        total += litellm.token_counter(model=model, text=extra)
    return total


# ---------------------------------------------------------------- secrets and error messages

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


def _connection_failed(exc: BaseException | None) -> bool:
    """litellm reports a refused connection as an InternalServerError; the cause chain tells the truth."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionError) or type(exc).__name__ in ("APIConnectionError", "ConnectError"):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


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


def _provider_detail(exc: BaseException) -> str:
    """The provider's own reason, without litellm's class-name prefixes, redacted and bounded."""
    text = " ".join(str(getattr(exc, "message", "") or exc).split())
    while (stripped := _EXC_PREFIX.sub("", text, count=1)) != text:
        text = stripped
    return _clip(redact(text + _body_numbers(exc)))


class LLMGrader:
    """Grades with any litellm model string: openai/gpt-4o-mini, anthropic/..., ollama/llama3.1, ..."""

    def __init__(self, model: str, *, api_base: str | None = None, timeout_s: float = 30.0, retry_wait_s: float = 1.0):
        self.model = model
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.retry_wait_s = retry_wait_s
        self.name = f"llm:{model}"
        self.requests_sent = 0  # HTTP requests made by this grader (tests read it)

    # ------------------------------------------------------------ one completion

    def _kwargs(self, response_format: dict[str, Any] | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "temperature": 0,
            "timeout": self.timeout_s,
            "max_retries": 0,  # the SDK's own retries off: one request per attempt
            "max_tokens": MAX_REPLY_TOKENS,
            "drop_params": True,  # a provider without response_format support gets the prompt's JSON rules only
        }
        if response_format:
            kwargs["response_format"] = response_format
        if self.api_base:
            kwargs["api_base"] = self.api_base
            # Local OpenAI-compatible servers need no key, but the OpenAI client insists on one.
            if self.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "no-key-needed"
        return kwargs

    def supports_schema(self) -> bool:
        """Whether litellm's local model map says this model takes a JSON schema (False when unknown)."""
        return bool(load_litellm().supports_response_schema(model=self.model))

    def complete(self, messages: list[dict[str, str]], response_format: dict[str, Any] | None = None) -> str:
        """The reply text; GraderUnavailable (safe to show) when the model cannot be reached or keeps failing."""
        litellm = load_litellm()
        import httpx
        import openai

        kwargs = self._kwargs(response_format)
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            try:
                response = litellm.completion(messages=messages, **kwargs)
                break
            except (openai.OpenAIError, httpx.HTTPError, OSError) as exc:
                message, retryable, wait_s = self._explain(exc, litellm)
                if not retryable or attempt >= MAX_ATTEMPTS:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    raise GraderUnavailable(message + tries) from None  # the cause may quote request details
                time.sleep(wait_s)
        try:
            return response.choices[0].message.content or ""
        except (AttributeError, IndexError) as exc:
            raise GradeParseError("the LLM reply has no message content") from exc

    def _explain(self, exc: BaseException, litellm: Any) -> tuple[str, bool, float]:
        """(message safe to show, worth one retry?, seconds to wait first)."""
        where = f" at {safe_url(self.api_base)}" if self.api_base else ""
        status = getattr(exc, "status_code", None)
        if isinstance(exc, litellm.Timeout):
            return f"the LLM ({self.model}) did not answer within {self.timeout_s:g} s", True, 0.0
        if isinstance(exc, litellm.RateLimitError):
            return f"the LLM provider rate-limited the request (HTTP 429){where}", True, self._retry_after(exc)
        if _connection_failed(exc):
            return f"cannot reach the LLM server{where} for {self.model} (connection failed)", False, 0.0
        detail = _provider_detail(exc)
        if isinstance(exc, litellm.AuthenticationError) or "missing credentials" in detail.lower():
            return (
                (
                    f"the LLM provider for {self.model} has no valid API key: set the provider's own variable "
                    "(e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY)"
                ),
                False,
                0.0,
            )
        if isinstance(status, int) and status >= 500:
            return f"the LLM server{where} failed (HTTP {status})", True, self.retry_wait_s
        if isinstance(status, int):
            hint = ""
            if isinstance(exc, litellm.ContextWindowExceededError):
                hint = (
                    " (the grading prompt does not fit this model's context window: give the server a larger "
                    "context, e.g. llama.cpp --ctx-size 4096, or use a model with a larger context)"
                )
            return f"the LLM provider refused the request (HTTP {status}): {detail}{hint}", False, 0.0
        return f"the LLM call failed: {type(exc).__name__}: {detail}", False, 0.0

    def _retry_after(self, exc: BaseException) -> float:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        try:
            return min(MAX_RETRY_WAIT_S, max(0.0, float(headers.get("retry-after", self.retry_wait_s))))
        except (TypeError, ValueError):
            return self.retry_wait_s

    # ------------------------------------------------------------ one grade

    def grade(self, question: Question, rubric: Rubric, answer: str) -> Grade:
        messages = prompt.build_messages(question, rubric, answer)
        schema = self.supports_schema()
        response_format = prompt.response_format(question, schema=schema)
        reply = self.complete(messages, response_format)
        dims = prompt.assessed_dimensions(question)
        checked = parse.validate(parse.extract_json(reply), dims, tuple(m.id for m in question.misconceptions), answer)
        tokens = count_tokens(self.model, messages, json.dumps(response_format["json_schema"]) if schema else "")
        return self._to_grade(question, rubric, answer, checked, tokens)

    def _to_grade(
        self, question: Question, rubric: Rubric, answer: str, checked: parse.ParsedGrade, tokens: int
    ) -> Grade:
        by_dim = {d.dimension: d for d in checked.dimensions}
        scores = []
        for dim_id in DIMENSIONS:
            got = by_dim.get(dim_id)
            if got is None:
                scores.append(
                    DimensionScore(dim_id, 0, 0, (), (), "Not assessed: this card has no points for this dimension.")
                )
                continue
            feedback = got.feedback or rubric.dimension(dim_id).levels[got.score]
            scores.append(DimensionScore(dim_id, got.score, parse.MAX_SCORE, got.evidence, got.missing, feedback))
        dimensions = tuple(scores)
        texts = {m.id: m.text for m in question.misconceptions}
        return Grade(
            question_id=question.id,
            card=question.card,
            dimensions=dimensions,
            overall=overall_score(dimensions, question, rubric),
            misconceptions=tuple(MisconceptionHit(mid, texts[mid], quote) for mid, quote in checked.misconceptions),
            decided_by=self.name,
            follow_up=checked.follow_up or None,
            summary=checked.summary or None,
            flags=injection.flags(answer) + tuple(f"unsupported:{d}" for d in checked.unsupported),
            review=checked.unsupported,
            dropped_quotes=checked.dropped_quotes,
            prompt_tokens=tokens,
        )


__all__ = ["GraderError", "LLMGrader", "count_tokens", "load_litellm", "redact", "safe_url"]
