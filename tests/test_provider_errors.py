"""What a provider's failure says, made safe to show (grading/provider_errors.py): keys never reach a message, and
the chain of exceptions litellm builds is read for what really happened."""

from __future__ import annotations

from infralens_coach.grading.provider_errors import (
    MAX_DETAIL_CHARS,
    connect_timed_out,
    connection_failed,
    provider_detail,
    redact,
    safe_url,
)


class ConnectTimeout(Exception):  # named as httpx names it: the check reads the name, not the class
    pass


class InternalServerError(Exception):  # what litellm raises for a refused connection
    pass


def _wrapped(cause: BaseException) -> InternalServerError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise InternalServerError("litellm.InternalServerError: OpenAIException - Connection error.") from inner
    except InternalServerError as outer:
        return outer


def test_keys_in_the_environment_and_key_shapes_are_redacted(monkeypatch):
    monkeypatch.setenv("MY_PROVIDER_API_KEY", "s3cr3t-value-123")
    text = redact("auth failed for s3cr3t-value-123 with sk-abcdef123456 and Bearer xyz.token")
    assert "s3cr3t" not in text and "sk-abcdef" not in text and "xyz.token" not in text
    assert text.count("***") == 3


def test_a_url_keeps_only_scheme_host_and_port():
    assert safe_url("https://user:pw@llm.internal:8443/v1?key=abc") == "https://llm.internal:8443"
    assert safe_url("http://127.0.0.1/v1") == "http://127.0.0.1"
    assert safe_url(None) == ""


def test_a_refused_connection_is_found_under_litellms_wrapper():
    assert connection_failed(_wrapped(ConnectionRefusedError(111, "Connection refused")))
    assert not connection_failed(_wrapped(ValueError("bad json")))
    assert not connection_failed(None)


def test_a_connect_timeout_is_told_from_a_read_timeout():
    assert connect_timed_out(_wrapped(ConnectTimeout("timed out")))
    assert not connect_timed_out(_wrapped(TimeoutError("read timed out")))


def test_a_cycle_in_the_chain_ends_the_walk():
    a, b = ValueError("a"), ValueError("b")
    a.__cause__, b.__cause__ = b, a
    assert not connection_failed(a)


def test_the_providers_reason_loses_litellms_prefixes_and_is_bounded(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789")
    exc = Exception(
        "litellm.ContextWindowExceededError: litellm.BadRequestError: ContextWindowExceededError: OpenAIException - "
        "This model's maximum context length is 2048 tokens (key sk-live-0123456789)."
    )
    assert provider_detail(exc) == "This model's maximum context length is 2048 tokens (key ***)."
    long = provider_detail(Exception("The server said no. " * 100))
    assert len(long) <= MAX_DETAIL_CHARS and long.endswith("no. …")
