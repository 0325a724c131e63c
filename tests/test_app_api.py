"""The real app (`python app.py`, the README's run command) driven through gradio_client by api_name."""

from __future__ import annotations


import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from support import clips
from support.app_server import AppServer

GOOD = (
    "A Job runs finite batch work such as preprocessing until it completes, and it retries failed pods. "
    "A Deployment keeps replicas of an inference API running all the time."
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    home = tmp_path_factory.mktemp("app-home")
    server = AppServer(home).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(app):
    return Client(app.url, verbose=False)


def test_the_run_command_serves_the_page_on_loopback(app):
    import urllib.request

    with urllib.request.urlopen(app.url, timeout=10) as resp:
        assert resp.status == 200
        assert "infralens-coach" in resp.read().decode()


def test_questions_and_next(client):
    cards = client.predict(api_name="/questions")
    assert len(cards) == 20 and cards[6]["id"] == "k8s-job-vs-deployment"
    assert client.predict(api_name="/next") in {c["id"] for c in cards}


def test_question_shows_the_prompt_and_hides_the_reference(client):
    out = client.predict("k8s-job-vs-deployment", "Full (2 min)", api_name="/question")
    question_html, reference = out[0], out[4]
    assert "Kubernetes Job instead of a Deployment" in question_html
    assert reference == "" and "Use a Job for finite batch work" not in question_html


def test_grade_typed_answer_shows_dimensions_reference_and_saves(client):
    feedback, reference, highlighted, change, saved = client.predict(
        "k8s-job-vs-deployment", GOOD, api_name="/grade"
    )
    for dim in ("mechanism", "why_it_matters", "tradeoffs", "common_mistake", "related_lab"):
        assert f'data-dim="{dim}"' in feedback
    assert "offline keyword grader" in feedback
    assert "Use a Job for finite batch work" in reference and "kubernetes.io" in reference
    assert '<mark class="il-hl">' in highlighted
    attempt_id = saved.split("`")[1]
    table, _ = client.predict("all cards", "all groups", "all time", api_name="/history")
    assert attempt_id in [row[0] for row in table["data"]]
    text, _audio, attempt_feedback, attempt_reference, _metrics = client.predict(attempt_id, api_name="/attempt")
    assert "finite batch work" in text and "data-dim" in attempt_feedback and "Reference" in attempt_reference


def test_second_attempt_shows_the_change(client):
    client.predict("k8s-job-vs-deployment", GOOD, api_name="/grade")
    better = GOOD + " A common mistake is to run a one-off batch task as a Deployment, so it restarts forever."
    change = client.predict("k8s-job-vs-deployment", better, api_name="/grade")[3]
    assert "Since your last attempt" in change and "Common mistake" in change


def test_markup_in_the_answer_renders_as_text(client):
    evil = GOOD + ' <script>alert("x")</script> [click](http://evil.example) <img src=x onerror=alert(1)>'
    feedback, _, highlighted, _, _ = client.predict("k8s-job-vs-deployment", evil, api_name="/grade")
    for html in (feedback, highlighted):
        assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in highlighted


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_answer_is_a_clear_error(client, text):
    with pytest.raises(AppError, match="the answer is empty"):
        client.predict("k8s-job-vs-deployment", text, api_name="/grade")


def test_unknown_question_is_a_clear_error(client):
    with pytest.raises(AppError, match="no-such-card is not in the list of choices"):
        client.predict("no-such-card", GOOD, api_name="/grade")


def test_transcribe_a_spoken_answer_then_grade_it(client):
    text, metrics = client.predict("k8s-job-vs-deployment", handle_file(str(clips.speech(clips.ANSWER))),
                                   api_name="/transcribe")
    assert "deployment" in text.lower() and "Delivery" in metrics
    feedback = client.predict("k8s-job-vs-deployment", text, api_name="/grade")[0]
    assert "Overall" in feedback


def test_transcribe_an_upload_in_a_compressed_format(client):
    text, _ = client.predict("k8s-job-vs-deployment", handle_file(str(clips.answer_in("m4a-aac"))),
                             api_name="/transcribe_upload")
    assert "deployment" in text.lower()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: clips.silence(5.0), "no speech detected"),
        (lambda: clips.clipped(0.2), "only 0.2 s long"),
        (lambda: clips.bad_file("random"), "could not decode it as audio"),
        (lambda: clips.over_length(), "the maximum is"),
    ],
    ids=["silence", "0.2s", "corrupt", "over-length"],
)
def test_bad_recordings_give_a_clear_message_and_the_app_keeps_working(client, make, message):
    with pytest.raises(AppError) as err:
        client.predict("k8s-job-vs-deployment", handle_file(str(make())), api_name="/transcribe")
    assert message in str(err.value).lower()
    assert client.predict(api_name="/next")  # still serving


def test_mic_check_reports_silence_and_level(client):
    assert "Silent" in client.predict(handle_file(str(clips.silence(2.0))), api_name="/mic_check")
    assert "works" in client.predict(handle_file(str(clips.speech(clips.ANSWER))), api_name="/mic_check")


def test_progress_and_checklist(client):
    plot = client.predict("k8s-job-vs-deployment", api_name="/progress")
    assert plot is not None
    checklist = client.predict(api_name="/checklist")
    assert "07 · When should you use a Kubernetes Job" in checklist and "Practise next" in checklist


def test_llm_down_falls_back_to_keyword_labelled(tmp_path):
    """A configured LLM on a closed port: the grade still arrives, from the keyword grader, with the reason."""
    from support.app_server import free_port

    env = {"INFRALENS_LLM_MODEL": "openai/grader", "INFRALENS_LLM_API_BASE": f"http://127.0.0.1:{free_port()}/v1",
           "INFRALENS_LLM_TIMEOUT_S": "2", "OPENAI_API_KEY": "sk-test-SECRET-123"}
    server = AppServer(tmp_path, env).start()
    try:
        feedback = Client(server.url, verbose=False).predict("k8s-job-vs-deployment", GOOD, api_name="/grade")[0]
    finally:
        server.stop()
    assert "offline keyword grader" in feedback and "LLM grader was not used" in feedback
    assert "sk-test-SECRET-123" not in feedback
    assert "sk-test-SECRET-123" not in server.log.read_text()


def test_invalid_pack_at_start_up_names_file_and_field(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "bad.yaml").write_text("card: 77\nid: bad\nquestion: Why?\nreference_answer: ok\ncolour: red\n")
    server = AppServer(tmp_path, {"INFRALENS_QUESTIONS": str(pack)})
    with pytest.raises(RuntimeError) as err:
        server.start(timeout_s=60)
    assert "bad.yaml: colour: unknown field" in str(err.value)


def test_a_huge_upload_is_refused_by_the_server(app, client, tmp_path):
    import httpx

    huge = tmp_path / "huge.wav"
    with huge.open("wb") as f:
        f.write(b"RIFF")
        f.truncate(60 * 1024 * 1024)
    with huge.open("rb") as f:
        resp = httpx.post(f"{app.url}gradio_api/upload", files={"files": ("huge.wav", f, "audio/wav")}, timeout=60)
    assert resp.status_code == 413 and "maximum allowed size" in resp.text
    assert client.predict(api_name="/next")  # still serving
