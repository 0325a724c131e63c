"""The LLM grader against servers that behave like the real local ones (tests/support/fake_local_llm.py), through
the real litellm over real HTTP: llama-cpp-python's OpenAI-compatible server, Ollama, and a plain OpenAI-compatible
server (vLLM, llama.cpp's llama-server). Each failure the grader met on real small models ends in a keyword grade
whose fallback_reason says what happened and what to change; nothing here patches our code.
"""

import json
import socket
import threading

import jsonschema
import pytest
from support.fake_local_llm import FakeLlamaCppPython, FakeOllama, Say, completion
from support.fake_openai import FakeOpenAI

from infralens_coach.config import Settings
from infralens_coach.content import DIMENSIONS, QuestionBank
from infralens_coach.grading import forms
from infralens_coach.grading.cache import GradeCache
from infralens_coach.grading.chain import GraderChain, build_llm
from infralens_coach.grading.llm import LLMGrader, forget_contexts

ANSWER = (
    "A Kubernetes Job is for finite batch work such as preprocessing or a training run: it runs pods until "
    "they complete and retries failed pods up to the backoff limit. A Deployment keeps a desired number of "
    "replicas running forever, which is what an inference API needs. Running a one-off batch task as a "
    "Deployment is a mistake, because it gets restarted after it finishes and wastes the GPU."
)
QUOTE = "it runs pods until they complete and retries failed pods"
# The format example the old prompt showed, as SmolLM2 and Gemma 3 270M copied it back.
COPIED_TEMPLATE = json.dumps(
    {
        "dimensions": [{"id": "mechanism", "evidence": ["..."], "missing": ["..."], "score": 2, "feedback": "..."}],
        "misconceptions": [{"id": "...", "evidence": "..."}],
        "follow_up": "...",
        "summary": "...",
    }
)


@pytest.fixture(scope="module")
def bank():
    return QuestionBank.load()


@pytest.fixture
def card(bank):
    return bank.get(7)


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    forms.forget()
    forget_contexts()


def grade_json(score=3, quotes=(QUOTE,), dims=DIMENSIONS):
    """A well-formed grade in the schema's shape: an object keyed by dimension id."""
    return json.dumps(
        {
            "dimensions": {
                d: {"score": score, "evidence": list(quotes), "missing": [f"a {d} point"], "feedback": f"On {d}."}
                for d in dims
            },
            "misconceptions": [],
            "follow_up": "How would you clean up finished Jobs automatically?",
            "summary": "A clear contrast between Job and Deployment.",
        }
    )


def chain(llm, tmp_path, name="cache.sqlite3"):
    return GraderChain(llm, cache=GradeCache(tmp_path / name))


def local(model, url, tmp_path=None, **kwargs):
    store = GradeCache(tmp_path / "cache.sqlite3") if tmp_path else None
    return LLMGrader(model, api_base=url, retry_wait_s=0.01, form_store=store, **{"timeout_s": 10, **kwargs})


def generations(server):
    """Requests that reached the model (not refused for their form, not model-info look-ups)."""
    return [r for r in server.requests if "/api/show" not in r.path and _form_ok(r.body)]


def _form_ok(body):
    return (body.get("response_format") or {}).get("type") != "json_schema"


# ---------------------------------------------------------------- the schema, per server


def test_the_schema_requires_every_dimension_exactly_once_with_bounded_scores(card):
    from infralens_coach.grading.prompt import response_schema

    schema = response_schema(card)
    jsonschema.validate(json.loads(grade_json()), schema)
    one_dimension = json.loads(grade_json(dims=["mechanism"]))
    with pytest.raises(jsonschema.ValidationError, match="required"):
        jsonschema.validate(one_dimension, schema)
    for bad in ({"score": 5}, {"score": -1}, {"score": "3"}, {"evidence": [3]}):
        data = json.loads(grade_json())
        data["dimensions"]["tradeoffs"] |= bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data, schema)
    unknown = json.loads(grade_json())
    unknown["misconceptions"] = [{"id": "made-up", "evidence": QUOTE}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(unknown, schema)


def test_an_openai_compatible_server_gets_the_schema_as_json_schema(card, bank, tmp_path):
    with FakeOpenAI() as server:
        server.enqueue(completion(grade_json()))
        result = chain(local("openai/local-model", server.url), tmp_path).grade(card, bank.rubric, ANSWER)
    response_format = server.requests[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    dimensions = response_format["json_schema"]["schema"]["properties"]["dimensions"]
    assert dimensions["required"] == list(DIMENSIONS) and dimensions["additionalProperties"] is False
    assert dimensions["properties"]["mechanism"]["properties"]["score"]["enum"] == [0, 1, 2, 3, 4]
    assert result.decided_by == "llm:openai/local-model" and result.structured_output == "json_schema"
    assert [d.score for d in result.dimensions] == [3] * 5


@pytest.mark.parametrize("model", ["ollama/grader", "ollama_chat/grader"])
def test_ollama_gets_the_schema_in_format_and_a_context_size(card, bank, tmp_path, model):
    with FakeOllama() as server:
        settings = Settings(llm_api_base=server.url, data_dir=tmp_path / "home")
        server.say(grade_json())
        result = chain(build_llm(settings, model), tmp_path).grade(card, bank.rubric, ANSWER)
    (request,) = generations(server)
    assert request.body["format"]["properties"]["dimensions"]["required"] == list(DIMENSIONS)
    assert request.body["options"]["num_ctx"] == 8192  # Ollama would otherwise cut the prompt to its default
    assert result.decided_by == f"llm:{model}" and result.structured_output == "ollama_format"


def test_llama_cpp_python_rejects_json_schema_and_still_grades_in_the_same_call(card, bank, tmp_path):
    with FakeLlamaCppPython(n_ctx=8192) as server:
        server.say(grade_json(), grade_json(score=2), grade_json(score=1))
        graded = chain(local("openai/grader", server.url, tmp_path), tmp_path).grade(card, bank.rubric, ANSWER)
        assert graded.decided_by == "llm:openai/grader" and graded.fallback_reason is None
        assert graded.structured_output == "json_object+schema"
        assert graded.to_json()["structured_output"] == "json_object+schema"
        first, second = server.requests
        assert first.body["response_format"]["type"] == "json_schema"  # refused with HTTP 500
        assert second.body["response_format"]["type"] == "json_object"
        assert second.body["response_format"]["schema"]["properties"]["dimensions"]["required"] == list(DIMENSIONS)

        # Remembered for the process: the next grade sends the accepted form only.
        again = chain(local("openai/grader", server.url), tmp_path, "other.sqlite3").grade(
            card, bank.rubric, "x " + ANSWER
        )
        assert again.dimension("mechanism").score == 2 and len(server.requests) == 3
        assert server.requests[2].body["response_format"]["type"] == "json_object"

        # And in the grade cache: a new process (nothing remembered) starts with the accepted form too.
        forms.forget()
        later = local("openai/grader", server.url, tmp_path)
        assert later.forms_to_try()[0] == "json_object+schema"
        chain(later, tmp_path).grade(card, bank.rubric, "y " + ANSWER)
        assert len(server.requests) == 4 and server.requests[3].body["response_format"]["type"] == "json_object"


def test_an_ollama_without_schema_support_falls_back_to_json(card, bank, tmp_path):
    with FakeOllama(schema_in_format=False) as server:
        server.say(grade_json())
        result = chain(local("ollama/grader", server.url), tmp_path).grade(card, bank.rubric, ANSWER)
    sent = [r.body["format"] for r in generations(server)]
    assert isinstance(sent[0], dict) and sent[1:] == ["json"]  # the schema refused with HTTP 400, then plain JSON
    assert result.decided_by == "llm:ollama/grader" and result.structured_output == "json_object"


# ---------------------------------------------------------------- a prompt a small model cannot copy


def test_the_prompt_holds_no_example_values_to_copy(card, bank):
    from infralens_coach.grading.prompt import build_messages

    for compact in (False, True):
        system, user = build_messages(card, bank.rubric, ANSWER, compact=compact)
        text = system["content"] + user["content"]
        assert '"..."' not in text and '"score": 2' not in text and '{"' not in text
        assert "exactly one key per dimension id" in system["content"]


@pytest.mark.parametrize(
    "reply, reason",
    [
        pytest.param(COPIED_TEMPLATE, "placeholder '...' in mechanism evidence", id="old-example"),
        pytest.param(
            grade_json(quotes=["<quote>"]).replace('"On ', '"Good answer. On '),
            "placeholder '<quote>'",
            id="angle-placeholder",
        ),
        pytest.param(
            json.dumps(
                json.loads(grade_json())
                | {
                    "dimensions": {
                        d: {"score": 2, "evidence": [QUOTE], "missing": [], "feedback": "Good answer, add more detail."}
                        for d in DIMENSIONS
                    }
                }
            ),
            "the same feedback on every dimension",
            id="boilerplate-feedback",
        ),
    ],
)
def test_a_copied_template_is_rejected_with_a_clear_reason(card, bank, tmp_path, reply, reason):
    with FakeLlamaCppPython(n_ctx=8192) as server:
        server.say(reply)
        result = chain(local("openai/grader", server.url), tmp_path).grade(card, bank.rubric, ANSWER)
    assert result.decided_by == "keyword"
    assert result.fallback_reason.startswith("the LLM copied the reply template instead of grading")
    assert reason in result.fallback_reason


# ---------------------------------------------------------------- honest failures


def test_a_reply_cut_off_by_the_context_says_so_then_the_next_prompt_fits(card, bank, tmp_path):
    with FakeLlamaCppPython(n_ctx=2048) as server:  # llama-cpp-python's default context
        server.say(grade_json(), grade_json())
        llm = local("openai/grader", server.url)
        cut = chain(llm, tmp_path).grade(card, bank.rubric, ANSWER)
        reason = cut.fallback_reason
        assert cut.decided_by == "keyword" and reason.startswith("the reply was cut off at ")
        assert "tokens (prompt " in reason and "raise the server's context to >= 4096" in reason
        assert "llama-server -c 4096" in reason and "num_ctx" in reason
        assert "no 'dimensions'" not in reason

        # The server's context is now known: the next grade sends the compact prompt, with room for the reply.
        fitted = chain(llm, tmp_path).grade(card, bank.rubric, "z " + ANSWER)
        assert fitted.decided_by == "llm:openai/grader", fitted.fallback_reason
        body = server.requests[-1].body
        assert "Rubric (dimension: level 0 | 1 | 2 | 3 | 4)" in body["messages"][0]["content"]
        assert body["max_tokens"] < 2048


def test_a_reply_cut_at_the_reply_limit_says_the_model_kept_writing(card, bank, tmp_path):
    with FakeOpenAI() as server:
        server.enqueue(completion(grade_json()[:900], finish_reason="length", completion_tokens=2000))
        result = chain(local("openai/grader", server.url), tmp_path).grade(card, bank.rubric, ANSWER)
    assert result.fallback_reason.startswith("the reply was cut off at 2000 tokens, the reply limit")


def test_a_context_overflow_names_the_token_counts_and_the_next_grade_trims(card, bank, tmp_path):
    with FakeLlamaCppPython(n_ctx=1024) as server:
        llm = local("openai/grader", server.url)
        result = chain(llm, tmp_path).grade(card, bank.rubric, ANSWER)
        reason = result.fallback_reason
        assert result.decided_by == "keyword" and "(HTTP 400)" in reason
        assert "maximum context length is 1024 tokens" in reason and "in the messages" in reason
        assert "it measures ~" in reason and "the context is 1024 tokens" in reason
        assert "llama-server -c 4096" in reason and "the next grade sends a shorter prompt" in reason
        assert len(generations(server)) == 1  # refused at once: not retried

        too_small = chain(llm, tmp_path).grade(card, bank.rubric, ANSWER)
        assert too_small.fallback_reason.startswith("the model's context (1024 tokens) is too small")
        assert len(generations(server)) == 1  # known not to fit: nothing sent


def test_a_long_answer_is_shortened_with_a_note_never_silently(card, bank, tmp_path):
    long_answer = " ".join([ANSWER] * 12)  # ~1,000 words
    with FakeLlamaCppPython(n_ctx=2048) as server:
        server.say(grade_json())
        llm = local("openai/grader", server.url, context_tokens=2048)
        result = chain(llm, tmp_path).grade(card, bank.rubric, long_answer)
    assert result.decided_by == "llm:openai/grader", result.fallback_reason
    (flag,) = [f for f in result.flags if f.startswith("answer-shortened:")]
    left_out = int(flag.split(":")[1])
    assert 0 < left_out < len(long_answer.split())
    user = generations(server)[0].body["messages"][1]["content"]
    assert f"its last {left_out} words were left out" in user


def test_a_slow_first_reply_times_out_once_with_how_to_raise_the_timeout(card, bank, tmp_path):
    with FakeLlamaCppPython(n_ctx=8192) as server:
        server.say(Say(grade_json(), delay_s=30), grade_json())
        result = chain(local("openai/grader", server.url, timeout_s=1), tmp_path).grade(card, bank.rubric, ANSWER)
        assert result.decided_by == "keyword"
        reason = result.fallback_reason
        assert "did not answer within 1 s" in reason and "INFRALENS_LLM_TIMEOUT_S" in reason
        assert "still be generating" in reason
        assert len(generations(server)) == 1  # no retry: it would queue a second generation behind the first


def test_grades_at_once_never_put_two_generations_on_a_local_server(card, bank, tmp_path):
    with FakeLlamaCppPython(n_ctx=8192) as server:
        server.say(*(Say(grade_json(), delay_s=0.3) for _ in range(3)))
        llm = local("openai/grader", server.url)
        forms.remember("openai/grader", server.url, "json_object+schema")
        results = []
        threads = [
            threading.Thread(target=lambda i=i: results.append(llm.grade(card, bank.rubric, f"{i} {ANSWER}")))
            for i in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(results) == 3 and server.max_in_flight == 1


def test_a_server_that_never_accepts_the_connection_fails_on_the_connect_timeout(card, bank, tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        queued = []
        for _ in range(8):  # fill the accept queue: further connections are never completed
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            queued.append(client)
        llm = local("openai/grader", f"http://127.0.0.1:{port}/v1", timeout_s=60, connect_timeout_s=0.5)
        result = chain(llm, tmp_path).grade(card, bank.rubric, ANSWER)
        for client in queued:
            client.close()
    assert result.decided_by == "keyword"
    assert "could not connect" in result.fallback_reason and "within 0.5 s" in result.fallback_reason


def test_settings_give_local_servers_a_generous_read_timeout(monkeypatch, tmp_path):
    monkeypatch.delenv("INFRALENS_LLM_TIMEOUT_S", raising=False)
    monkeypatch.setenv("INFRALENS_LLM_CONNECT_TIMEOUT_S", "3")
    monkeypatch.setenv("INFRALENS_LLM_CONTEXT", "2048")
    settings = Settings.from_env()
    assert settings.llm_connect_timeout_s == 3 and settings.llm_context_tokens == 2048
    local_llm = build_llm(Settings(llm_api_base="http://127.0.0.1:8080/v1", data_dir=tmp_path), "openai/m")
    remote = build_llm(Settings(data_dir=tmp_path), "openai/gpt-4o-mini")
    ollama = build_llm(Settings(data_dir=tmp_path), "ollama/llama3.1")
    assert local_llm.timeout_s == ollama.timeout_s == 300 and remote.timeout_s == 30
    assert local_llm.connect_timeout_s == remote.connect_timeout_s == 5
    monkeypatch.setenv("INFRALENS_LLM_TIMEOUT_S", "90")
    explicit = Settings.from_env()
    assert explicit.llm_timeout_s == explicit.llm_local_timeout_s == 90
