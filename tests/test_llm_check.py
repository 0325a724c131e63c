"""`infralens-coach llm check` and the Settings tab's "Test the LLM": one check (grading/check.py), two front ends.

Driven end to end through the CLI (click's runner) and the Settings handler, against fake local servers over real
HTTP through the real litellm. The exit code says whether the LLM can grade.
"""

import json
import re
import socket

import pytest
from click.testing import CliRunner
from support.fake_local_llm import FakeLlamaCppPython, FakeOllama

from infralens_coach.cli import main
from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import DIMENSIONS, QuestionBank
from infralens_coach.grading import forms
from infralens_coach.grading.check import OFF_TOPIC, STRONG
from infralens_coach.grading.llm import forget_contexts
from infralens_coach.ui_settings import SettingsView

STRONG_QUOTES = {
    "mechanism": "it runs pods until the work completes successfully and retries failed pods up to the backoff limit",
    "why_it_matters": "which is what a long-running inference API needs behind a Service",
    "tradeoffs": "Job retries start from scratch unless the work checkpoints",
    "common_mistake": "The common mistake is to run a one-off batch task as a Deployment",
    "related_lab": "In the Kubernetes lab I ran the same script as a Job and as a Deployment",
}


def grade(scores, quotes=STRONG_QUOTES, feedback=None):
    return json.dumps(
        {
            "dimensions": {
                d: {
                    "score": scores,
                    "evidence": [quotes[d]] if scores else [],
                    "missing": [],
                    "feedback": feedback or f"Your {d.replace('_', ' ')} point.",
                }
                for d in DIMENSIONS
            },
            "misconceptions": [],
            "follow_up": "What cleans up finished Jobs?",
            "summary": "Graded.",
        }
    )


STRONG_GRADE = grade(4)
OFF_TOPIC_GRADE = grade(0, feedback="The answer does not address the question.")  # same words everywhere: fair


@pytest.fixture(autouse=True)
def home(monkeypatch, tmp_path):
    for name in ("INFRALENS_LLM_MODEL", "INFRALENS_LLM_API_BASE", "INFRALENS_LLM_TIMEOUT_S", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    forms.forget()
    forget_contexts()
    return tmp_path / "home"


def check(*args, model="openai/grader", api_base=None):
    env = {"INFRALENS_LLM_MODEL": model, "INFRALENS_LLM_API_BASE": api_base} if model else {}
    return CliRunner().invoke(main, ["llm", "check", *args], env=env)


def test_the_built_in_answers_quote_what_the_fake_grades_quote():
    assert all(q in STRONG for q in STRONG_QUOTES.values()) and "sourdough" in OFF_TOPIC


def test_a_server_that_can_grade_passes_with_exit_0():
    with FakeLlamaCppPython(n_ctx=8192) as server:
        server.say("{", STRONG_GRADE, OFF_TOPIC_GRADE)  # the 1-token probe, then the two grades
        result = check(api_base=server.url)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "reachable:" in out and "first token after" in out
    assert "valid grade (strong answer):" in out and "valid grade (off-topic answer):" in out
    assert "structured output:" in out and "json_object+schema; rejected: json_schema" in out
    assert "strong > off-topic:" in out and "100 vs 0" in out
    assert "prompt vs context:" in out and "prompt ~" in out
    assert "Result: the LLM can grade" in out


def test_json_report():
    with FakeOllama() as server:
        server.say("{", STRONG_GRADE, OFF_TOPIC_GRADE)
        result = check("--json", model="ollama/grader", api_base=server.url)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["can_grade"] is True and report["model"] == "ollama/grader"
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["structured output"]["detail"] == "ollama_format"
    assert "server context 8192 tokens" in steps["prompt vs context"]["detail"]  # the num_ctx sent to Ollama


def test_a_model_that_copies_the_template_cannot_grade():
    template = json.dumps(
        {
            "dimensions": {d: {"score": 2, "evidence": ["..."], "missing": [], "feedback": "..."} for d in DIMENSIONS},
            "misconceptions": [],
            "follow_up": "...",
            "summary": "...",
        }
    )
    with FakeLlamaCppPython(n_ctx=8192) as server:
        server.say("{", template, template)
        result = check(api_base=server.url)
    assert result.exit_code == 1
    assert "copied the reply template" in result.output
    assert "use a larger instruction-tuned model" in result.output
    assert "cannot grade yet" in result.output


def test_a_model_that_scores_off_topic_as_high_as_strong_cannot_grade():
    with FakeLlamaCppPython(n_ctx=8192) as server:
        server.say("{", grade(2), grade(2, quotes={d: "I feed the starter the night before" for d in DIMENSIONS}))
        result = check(api_base=server.url)
    assert result.exit_code == 1
    assert re.search(r"strong > off-topic: +NO +50 vs 50", result.output)
    assert "cannot tell a strong answer from an off-topic one" in result.output


def test_a_cut_off_reply_reports_the_context_to_raise():
    with FakeLlamaCppPython(n_ctx=2200) as server:  # the prompt fits, the reply does not
        server.say("{", STRONG_GRADE, OFF_TOPIC_GRADE)
        result = check(api_base=server.url)
    assert result.exit_code == 1, result.output
    assert re.search(r"valid grade \(strong answer\): +NO +the reply was cut off at", result.output)
    assert "raise the server's context to >= 4096" in result.output and "llama-server -c 4096" in result.output


def test_a_2048_token_context_is_reported_with_what_to_raise():
    with FakeLlamaCppPython(n_ctx=2048) as server:  # llama.cpp's default: the full prompt and answer overflow it
        server.say(STRONG_GRADE, OFF_TOPIC_GRADE)
        result = check(api_base=server.url)
    out = result.output
    assert re.search(r"reachable: +yes +the server answered, refusing the prompt", out)
    assert "maximum context length is 2048 tokens" in out
    assert re.search(r"prompt vs context: +NO .*server context 2048 tokens; a \d+-word answer must be shortened", out)
    assert result.exit_code == 1 and "  - raise the server's context to >= 4096 tokens" in out


def test_an_unreachable_server_fails_at_once():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = check(api_base=f"http://127.0.0.1:{port}/v1")
    assert result.exit_code == 1
    assert "reachable:" in result.output and "cannot reach the LLM server" in result.output


def test_no_model_configured_says_how_to_configure():
    result = check(model=None)
    assert result.exit_code == 1
    assert "no LLM is configured" in result.output and "INFRALENS_LLM_MODEL" in result.output


def test_the_settings_tab_runs_the_same_check(tmp_path):
    bank = QuestionBank.load()
    with FakeLlamaCppPython(n_ctx=8192) as server:
        server.say("{", STRONG_GRADE, OFF_TOPIC_GRADE)
        settings = Settings(llm_model="openai/grader", llm_api_base=server.url, data_dir=tmp_path / "data")
        markdown = SettingsView(Coach(bank, settings), None).test_llm()
    assert "**Result:** the LLM can grade." in markdown
    assert "✅ **structured output:** json_object+schema" in markdown
