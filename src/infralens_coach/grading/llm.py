"""The LLM grader: one litellm call per grade, checked by grading/parse.py. The only litellm import.

litellm is imported on first use, after switching off its network look-ups (the model price map) and its
debug banners, so the CLI and the keyword path never pay its ~3 s import. Each attempt is one HTTP request
(`max_retries=0` turns off the SDK's own retries) with `temperature=0`, a connect timeout and a read timeout.
The grade's JSON schema goes in the form the server takes (grading/forms.py); a server that rejects a form gets
the next one in the same call. A 429 or a 5xx gets one more attempt of ours; a timeout does too, except on a
local server (one slot, and it keeps generating after we give up: a retry would queue a second generation).
Requests to a local server go one at a time from this process. A reply cut off (`finish_reason: length`) or a
prompt too large for the context fails with the token counts and what to change; once the server's context is
known the prompt is fitted to it (grader.plan). Provider keys are read by litellm from the providers' own
variables (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...); our messages never carry them (grading/provider_errors.py
redacts what a provider says back).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from ..content import DIMENSIONS, Question, Rubric
from ..errors import GradeParseError, GraderError, GraderUnavailable
from . import forms, injection, parse, prompt, provider_errors
from .base import DimensionScore, Grade, MisconceptionHit, overall_score
from .provider_errors import CONTEXT_ADVICE, redact, safe_url

MAX_ATTEMPTS = 2  # the call, and at most one retry for 429 / 5xx / timeout
MAX_RETRY_WAIT_S = 5.0
MAX_REPLY_TOKENS = 2000
MIN_REPLY_TOKENS = 600  # room for a complete five-dimension grade from a small model
MIN_ANSWER_WORDS = 40  # below this a shortened answer is not worth grading
TOKEN_MARGIN = 1.15  # local models' tokenizers count more tokens than litellm's stand-in
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


def _fits(tokens: int, context: int) -> bool:
    return tokens * TOKEN_MARGIN + MIN_REPLY_TOKENS <= context


def _reply_budget(tokens: int, context: int | None) -> int:
    """max_tokens: the reply limit, and no more than the context leaves (llama.cpp refuses more)."""
    if context is None:
        return MAX_REPLY_TOKENS
    return max(MIN_REPLY_TOKENS // 2, min(MAX_REPLY_TOKENS, context - int(tokens * TOKEN_MARGIN)))


class LLMUnreachable(GraderUnavailable):
    """No answer at all: the connection failed or the server did not reply in time (not an HTTP refusal)."""


class _Rejected(Exception):
    """The server refused the structured-output form (not the prompt): the next form is tried."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


_contexts: dict[tuple[str, str], int] = {}  # (model, api base) -> context size the server reported (this process)
_slots: dict[str, threading.Lock] = {}  # api base -> one generation at a time on a single-slot local server
_slots_lock = threading.Lock()


def _slot(api_base: str) -> threading.Lock:
    with _slots_lock:
        return _slots.setdefault(api_base, threading.Lock())


def learned_context(model: str, api_base: str | None) -> int | None:
    return _contexts.get((model, api_base or ""))


def forget_contexts() -> None:
    _contexts.clear()


@dataclass(frozen=True)
class Completion:
    """One reply: its text, why it ended, token counts the server reported, and how long it took."""

    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    max_tokens: int
    form: str
    duration_s: float


@dataclass(frozen=True)
class PromptPlan:
    """The messages actually sent, measured, and what was done to fit a small context."""

    messages: list[dict[str, str]]
    prompt_tokens: int
    max_tokens: int
    context_tokens: int | None
    compact: bool = False
    words_left_out: int = 0


class FormStore(Protocol):
    """Where the accepted structured-output form outlives the process (the grade cache)."""

    def get_form(self, model: str, api_base: str | None) -> str | None: ...

    def put_form(self, model: str, api_base: str | None, form: str) -> None: ...


class LLMGrader:
    """Grades with any litellm model string: openai/gpt-4o-mini, anthropic/..., ollama/llama3.1, ..."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        timeout_s: float = 30.0,
        retry_wait_s: float = 1.0,
        connect_timeout_s: float = 5.0,
        context_tokens: int | None = None,
        num_ctx: int | None = None,
        form_store: FormStore | None = None,
    ):
        self.model = model
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.connect_timeout_s = min(connect_timeout_s, timeout_s)
        self.retry_wait_s = retry_wait_s
        self.context_tokens = context_tokens  # the server's context, when the settings give it
        self.num_ctx = num_ctx if forms.is_ollama(model) else None  # Ollama's context, sent with each request
        self.form_store = form_store
        self.local = forms.is_local(model, api_base)
        self.name = f"llm:{model}"
        self.requests_sent = 0  # HTTP requests made by this grader (tests read it)
        self.rejected_forms: list[str] = []  # structured-output forms the server refused (llm check reports them)

    # ------------------------------------------------------------ one completion

    def _kwargs(self, response_format: dict[str, Any] | None, max_tokens: int) -> dict[str, Any]:
        import httpx

        kwargs: dict[str, Any] = {
            "model": self.model,
            "temperature": 0,
            # A connect timeout of its own: an unreachable server fails fast even when a local model may take
            # minutes to answer (the read timeout).
            "timeout": httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            "max_retries": 0,  # the SDK's own retries off: one request per attempt
            "max_tokens": max_tokens,
            "drop_params": True,  # a provider without response_format support gets the prompt's JSON rules only
        }
        if response_format:
            kwargs["response_format"] = response_format
        if self.num_ctx:
            kwargs["num_ctx"] = self.num_ctx  # litellm passes it into Ollama's options
        if self.api_base:
            kwargs["api_base"] = self.api_base
            # Local OpenAI-compatible servers need no key, but the OpenAI client insists on one.
            if self.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "no-key-needed"
        return kwargs

    def supports_schema(self) -> bool:
        """Whether litellm's local model map says this model takes a JSON schema (False when unknown)."""
        return bool(load_litellm().supports_response_schema(model=self.model))

    def forms_to_try(self) -> tuple[str, ...]:
        own_server = forms.is_ollama(self.model) or (self.model.startswith("openai/") and bool(self.api_base))
        knows = not own_server and self.supports_schema()  # litellm's model map only knows hosted models
        options = forms.candidates(self.model, self.api_base, provider_knows_schema=knows)
        known = forms.remembered(self.model, self.api_base)
        if known is None and self.form_store is not None:
            known = self.form_store.get_form(self.model, self.api_base)
        return forms.order(options, known)

    def ask(self, messages: list[dict[str, str]], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        """One reply, sending `schema` in the first form the server accepts (a rejected form moves on to the
        next at once: the server refused the request, nothing was generated). GraderUnavailable otherwise."""
        options = self.forms_to_try() if schema is not None else (forms.PROMPT_ONLY,)
        rejections: list[str] = []
        for form in options:
            response_format = forms.response_format(form, schema) if schema is not None else None
            try:
                completion = self._complete(messages, response_format, max_tokens, form)
            except _Rejected as exc:
                rejections.append(f"{form}: {exc.detail}")
                self.rejected_forms.append(form)
                continue
            if schema is not None:
                forms.remember(self.model, self.api_base, form)
                if self.form_store is not None and rejections:
                    self.form_store.put_form(self.model, self.api_base, form)
            return completion
        raise GraderUnavailable(
            f"the LLM server{self._where()} rejected every structured-output form: " + "; ".join(rejections)
        )

    def _complete(
        self, messages: list[dict[str, str]], response_format: dict[str, Any] | None, max_tokens: int, form: str
    ) -> Completion:
        litellm = load_litellm()
        import httpx
        import openai

        kwargs = self._kwargs(response_format, max_tokens)
        slot: contextlib.AbstractContextManager[Any] = (
            _slot(self.api_base or self.model) if self.local else contextlib.nullcontext()
        )
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            started = time.monotonic()
            try:
                with slot:  # never two generations in flight on a single-slot local server
                    response = litellm.completion(messages=messages, **kwargs)
                break
            except (openai.OpenAIError, httpx.HTTPError, OSError) as exc:
                status = getattr(exc, "status_code", None)
                detail = provider_errors.provider_detail(exc)
                if response_format is not None and forms.is_rejection(status, detail):
                    raise _Rejected(f"HTTP {status}: {detail}") from None
                message, retryable, wait_s = self._explain(exc, litellm, time.monotonic() - started, messages)
                if not retryable or attempt >= MAX_ATTEMPTS:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    unanswered = isinstance(exc, litellm.Timeout) or provider_errors.connection_failed(exc)
                    error = LLMUnreachable if unanswered else GraderUnavailable
                    raise error(message + tries) from None  # the cause may quote request details
                time.sleep(wait_s)
        duration_s = time.monotonic() - started
        try:
            choice = response.choices[0]
            text = choice.message.content or ""
        except (AttributeError, IndexError) as exc:
            raise GradeParseError("the LLM reply has no message content") from exc
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            finish_reason=getattr(choice, "finish_reason", None),
            prompt_tokens=getattr(usage, "prompt_tokens", None) or None,
            completion_tokens=getattr(usage, "completion_tokens", None) or None,
            max_tokens=max_tokens,
            form=form,
            duration_s=duration_s,
        )

    def _where(self) -> str:
        return f" at {safe_url(self.api_base)}" if self.api_base else ""

    def _explain(
        self, exc: BaseException, litellm: Any, waited_s: float, messages: list[dict[str, str]]
    ) -> tuple[str, bool, float]:
        """(message safe to show, worth one retry?, seconds to wait first)."""
        where = self._where()
        status = getattr(exc, "status_code", None)
        if isinstance(exc, litellm.Timeout):
            return self._timeout_message(exc, waited_s), not self.local, 0.0
        if isinstance(exc, litellm.RateLimitError):
            return f"the LLM provider rate-limited the request (HTTP 429){where}", True, self._retry_after(exc)
        if provider_errors.connection_failed(exc):
            return f"cannot reach the LLM server{where} for {self.model} (connection failed)", False, 0.0
        detail = provider_errors.provider_detail(exc)
        if isinstance(exc, litellm.AuthenticationError) or "missing credentials" in detail.lower():
            return (
                (
                    f"the LLM provider for {self.model} has no valid API key: set the provider's own variable "
                    "(e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY)"
                ),
                False,
                0.0,
            )
        overflow = isinstance(exc, litellm.ContextWindowExceededError) or (
            status == 400 and bool(provider_errors.OVERFLOW_WORDS.search(detail)) and "token" in detail.lower()
        )
        if isinstance(status, int) and status >= 500 and not overflow:
            return f"the LLM server{where} failed (HTTP {status}): {detail}", True, self.retry_wait_s
        if isinstance(status, int):
            hint = self._overflow_hint(detail, messages) if overflow else ""
            return f"the LLM provider refused the request (HTTP {status}): {detail}{hint}", False, 0.0
        return f"the LLM call failed: {type(exc).__name__}: {detail}", False, 0.0

    def _timeout_message(self, exc: BaseException, waited_s: float) -> str:
        if provider_errors.connect_timed_out(exc):
            return (
                f"could not connect to the LLM server{self._where()} for {self.model} within "
                f"{self.connect_timeout_s:g} s (INFRALENS_LLM_CONNECT_TIMEOUT_S): is the server running?"
            )
        busy = (
            "; the server may still be generating that reply, and the next grade waits behind it" if self.local else ""
        )
        return (
            f"the LLM ({self.model}) did not answer within {self.timeout_s:g} s (gave up after {waited_s:.0f} s): "
            f"a local model on a CPU can take minutes; raise INFRALENS_LLM_TIMEOUT_S (e.g. "
            f"INFRALENS_LLM_TIMEOUT_S={max(300, int(self.timeout_s * 2))}) or use a smaller or faster model{busy}"
        )

    def _overflow_hint(self, detail: str, messages: list[dict[str, str]]) -> str:
        """The token counts of a context overflow, learned for the next grade (which then sends a shorter prompt)."""
        context = provider_errors.CONTEXT_SIZE.search(detail)
        requested = provider_errors.REQUESTED.search(detail)
        measured = count_tokens(self.model, messages)
        counts = [f"it measures ~{measured} tokens"]
        if requested:
            counts.append(f"the server counted {requested.group(1)} tokens requested")
        if context:
            counts.append(f"the context is {context.group(1)} tokens")
            _contexts[(self.model, self.api_base or "")] = int(context.group(1))
        shorter = "; the next grade sends a shorter prompt" if context else ""
        return (
            f" (the grading prompt does not fit the model's context: {', '.join(counts)}. {CONTEXT_ADVICE[0].upper()}"
            f"{CONTEXT_ADVICE[1:]}{shorter})"
        )

    def _retry_after(self, exc: BaseException) -> float:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        try:
            return min(MAX_RETRY_WAIT_S, max(0.0, float(headers.get("retry-after", self.retry_wait_s))))
        except (TypeError, ValueError):
            return self.retry_wait_s

    # ------------------------------------------------------------ the prompt, fitted to the context

    def context_size(self) -> int | None:
        """The server's context in tokens: from the settings, Ollama's num_ctx we send, or learned from the server."""
        return self.context_tokens or self.num_ctx or learned_context(self.model, self.api_base)

    def plan(self, question: Question, rubric: Rubric, answer: str) -> PromptPlan:
        """The messages to send: the full prompt, or where the server's context is known to be small, the compact
        rubric and card, and as a last resort the answer shortened (with a note in the prompt and a flag)."""
        messages = prompt.build_messages(question, rubric, answer)
        tokens = count_tokens(self.model, messages)
        context = self.context_size()
        if context is None or _fits(tokens, context):
            return PromptPlan(messages, tokens, _reply_budget(tokens, context), context)
        messages = prompt.build_messages(question, rubric, answer, compact=True)
        tokens = count_tokens(self.model, messages)
        if _fits(tokens, context):
            return PromptPlan(messages, tokens, _reply_budget(tokens, context), context, compact=True)
        bare = count_tokens(self.model, prompt.build_messages(question, rubric, "", compact=True))
        room = context - MIN_REPLY_TOKENS - int(bare * TOKEN_MARGIN)
        words = len(answer.split())
        answer_tokens = max(1, tokens - bare)
        keep = int(words * room / (answer_tokens * TOKEN_MARGIN)) if room > 0 else 0
        if keep < MIN_ANSWER_WORDS:
            raise GraderUnavailable(
                f"the model's context ({context} tokens) is too small for the grading prompt (~{bare} tokens without "
                f"the answer, plus {MIN_REPLY_TOKENS} for the reply): {CONTEXT_ADVICE}"
            )
        short, left_out = prompt.shorten_answer(answer, keep)
        messages = prompt.build_messages(question, rubric, short, compact=True, words_left_out=left_out)
        tokens = count_tokens(self.model, messages)
        return PromptPlan(messages, tokens, _reply_budget(tokens, context), context, True, left_out)

    # ------------------------------------------------------------ one grade

    def grade(self, question: Question, rubric: Rubric, answer: str) -> Grade:
        plan = self.plan(question, rubric, answer)
        completion = self.ask(plan.messages, prompt.response_schema(question), plan.max_tokens)
        self.check_finish(completion)
        dims = prompt.assessed_dimensions(question)
        checked = parse.validate(
            parse.extract_json(completion.text), dims, tuple(m.id for m in question.misconceptions), answer
        )
        grade = self._to_grade(question, rubric, answer, checked, plan.prompt_tokens)
        flags = grade.flags
        if plan.words_left_out:
            flags += (f"answer-shortened:{plan.words_left_out}",)
        return replace(grade, flags=flags, structured_output=completion.form)

    def check_finish(self, completion: Completion) -> None:
        """GradeParseError when the reply was cut off: its JSON is incomplete, and the reason says what to change."""
        used = completion.completion_tokens
        cut = completion.finish_reason == "length" or (
            forms.is_ollama(self.model) and used is not None and used >= completion.max_tokens
        )
        if not cut:
            return
        tokens = used if used is not None else completion.max_tokens
        if used is not None and used >= completion.max_tokens:
            raise GradeParseError(
                f"the reply was cut off at {tokens} tokens, the reply limit: the model kept writing instead of "
                "closing the JSON grade; use a larger instruction-tuned model, or a server that enforces the "
                "JSON schema"
            )
        if completion.prompt_tokens:  # prompt + reply filled the context: the server's size, for the next grade
            _contexts[(self.model, self.api_base or "")] = completion.prompt_tokens + tokens
        size = f" (prompt {completion.prompt_tokens} + reply {tokens} tokens)" if completion.prompt_tokens else ""
        raise GradeParseError(f"the reply was cut off at {tokens} tokens{size}: {CONTEXT_ADVICE}")

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


__all__ = ["GraderError", "LLMGrader", "LLMUnreachable", "count_tokens", "load_litellm", "redact", "safe_url"]
