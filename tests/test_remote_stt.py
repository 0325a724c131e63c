"""Remote transcription through the real litellm, over real HTTP, against a fake OpenAI-compatible speech server.

The recording is real espeak-ng speech (the no-speech gate and the coverage check run on it for real); the fake
server answers /v1/audio/transcriptions in the shapes real servers give (tests/support/fake_stt.py). Every
failure ends in a transcript labelled by who made it, or in an error that says what to change. Nothing patches
our code.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from support import clips
from support.app_server import free_port
from support.fake_stt import FakeSTT

from infralens_coach import audio, transcribe
from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.delivery import delivery_metrics
from infralens_coach.errors import NoSpeechError, TranscriptionError
from infralens_coach.transcribe import remote
from infralens_coach.transcribe.live import LiveTranscriber

pytestmark = pytest.mark.slow  # espeak-ng clips (a subprocess) and the local Whisper model


@pytest.fixture(scope="module")
def answer() -> np.ndarray:
    return audio.decode(clips.speech(clips.ANSWER))


@pytest.fixture(scope="module")
def card():
    return QuestionBank.load().get(7)


@pytest.fixture(autouse=True)
def clean():
    remote.forget_formats()  # what servers refused is learned per process: each test starts clean
    yield


def stt_settings(tmp_path, url: str, **overrides) -> Settings:
    values = {
        "data_dir": tmp_path / "home",
        "whisper_engine": "remote",
        "stt_api_base": url,
        "stt_model": "whisper-1",
        "stt_timeout_s": 10.0,
        "stt_connect_timeout_s": 2.0,
        **overrides,
    }
    return Settings(**values)


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: the server is down


# ---------------------------------------------------------------- the request and the reply


def test_the_card_prompt_goes_up_and_timed_words_come_back(tmp_path, answer, card):
    with FakeSTT() as server:
        coach = Coach(QuestionBank.load(), stt_settings(tmp_path, server.url))
        spoken = coach.transcribe(card, clips.speech(clips.ANSWER))
    sent = server.requests[0]
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.field("prompt") == transcribe.prompt_for(card.question, card.vocabulary)
    assert sent.field("response_format") == "verbose_json"
    assert "word" in sent.fields["timestamp_granularities[]"]
    assert sent.field("model") == "whisper-1" and sent.field("language") == "en"
    assert sent.filename.endswith(".wav") and abs(sent.duration_s - len(answer) / 16_000) < 0.01
    t = spoken.transcript
    assert (t.engine, t.model) == ("remote", "whisper-1")
    assert t.text.startswith("A Kubernetes Job runs finite batch work")
    assert t.words[0].start_s == pytest.approx(0.2) and t.words[1].start_s == pytest.approx(0.6)
    assert spoken.metrics.words_per_minute is not None
    assert t.to_dict()["fallback_reason"] is None and t.to_dict()["timing"] == "words"
    assert not t.warnings


def test_a_server_without_word_times_gives_estimated_delivery_and_says_so(tmp_path, answer):
    with FakeSTT(timing="segments") as server:
        t = transcribe.get_transcriber(settings=stt_settings(tmp_path, server.url)).transcribe(answer)
    assert t.words and t.to_dict()["timing"] == "segments"
    metrics = delivery_metrics(t)
    assert metrics.words_per_minute is not None
    assert any("no word times" in note for note in metrics.notes)


def test_a_server_with_text_only_spreads_words_over_the_speech_and_says_so(tmp_path, answer):
    with FakeSTT(timing="text") as server:
        t = transcribe.get_transcriber(settings=stt_settings(tmp_path, server.url)).transcribe(answer)
    assert t.to_dict()["timing"] == "text"
    duration_s = len(answer) / 16_000
    assert 0.8 * duration_s < t.words[-1].end_s <= duration_s  # over the whole answer, not bunched at the start
    notes = delivery_metrics(t).notes
    assert delivery_metrics(t).words_per_minute is not None
    assert any("without any times" in note for note in notes)


def test_a_server_refusing_verbose_json_is_asked_for_json_and_remembered(tmp_path, answer):
    with FakeSTT(timing="refuse-verbose") as server:
        settings = stt_settings(tmp_path, server.url)
        first = transcribe.get_transcriber(settings=settings).transcribe(answer)
        transcribe.get_transcriber(settings=settings).transcribe(answer)
    formats = [r.field("response_format") for r in server.requests]
    assert formats == ["verbose_json", "json", "json"]  # the second recording asks for json at once
    assert first.engine == "remote" and first.to_dict()["timing"] == "text"


def test_litellm_model_strings():
    providers = ["openai", "azure", "groq"]
    local = "http://stt:8000/v1"
    assert remote.litellm_model("whisper-1", providers, local) == "openai/whisper-1"
    speaches = "Systran/faster-whisper-small"
    assert remote.litellm_model(speaches, providers, local) == f"openai/{speaches}"
    assert remote.litellm_model("openai/whisper-large-v3", providers, local) == "openai/openai/whisper-large-v3"
    assert remote.litellm_model("openai/whisper-1", providers, "https://api.openai.com/v1") == "openai/whisper-1"
    assert remote.litellm_model("groq/whisper-large-v3", providers, local) == "groq/whisper-large-v3"


def test_the_served_model_name_reaches_the_server_verbatim(tmp_path, answer):
    """vLLM serves "openai/whisper-large-v3": that whole name must arrive, not litellm's stripped "whisper-large-v3"."""
    with FakeSTT() as server:
        for name in ("openai/whisper-large-v3", "Systran/faster-whisper-small"):
            settings = stt_settings(tmp_path, server.url, stt_model=name)
            assert transcribe.get_transcriber(settings=settings).transcribe(answer).model == name
    assert [r.field("model") for r in server.requests] == ["openai/whisper-large-v3", "Systran/faster-whisper-small"]


# ---------------------------------------------------------------- the same gates as the local engines


def test_silence_is_refused_before_any_upload(tmp_path):
    with FakeSTT() as server:
        engine = transcribe.get_transcriber(settings=stt_settings(tmp_path, server.url))
        with pytest.raises(NoSpeechError):
            engine.transcribe(audio.decode(clips.silence(5.0)))
    assert server.requests == []


def test_the_hallucination_filter_applies_to_the_servers_text(tmp_path, answer):
    with FakeSTT(text="Thank you.", seconds_per_word=30.0) as server:
        engine = transcribe.get_transcriber(settings=stt_settings(tmp_path, server.url, stt_fallback=False))
        with pytest.raises(NoSpeechError, match="no speech"):
            engine.transcribe(answer)


# ---------------------------------------------------------------- failures: retried once, then local, labelled


def test_a_server_that_is_down_falls_back_to_local_whisper_labelled(tmp_path, card):
    coach = Coach(QuestionBank.load(), stt_settings(tmp_path, closed_url()))
    spoken = coach.transcribe(card, clips.speech(clips.ANSWER))
    t = spoken.transcript
    assert t.engine == "faster-whisper" and t.model != "whisper-1"
    assert "job" in t.text.lower()  # the local model really transcribed it
    reason = t.to_dict()["fallback_reason"]
    assert reason.startswith("cannot reach the speech server at http://127.0.0.1:") and "connection failed" in reason
    assert any(w.startswith("Transcribed on this machine (faster-whisper") for w in t.warnings)
    assert any("Transcribed on this machine" in note for note in spoken.metrics.notes)  # what the page shows


def test_a_500_is_retried_once(tmp_path, answer):
    with FakeSTT() as server:
        server.fail(500)
        engine = transcribe.get_transcriber(settings=stt_settings(tmp_path, server.url))
        t = engine.transcribe(answer)
    assert len(server.requests) == 2 and t.engine == "remote"
    assert all(r.field("prompt") == server.requests[0].field("prompt") for r in server.requests)


def test_a_429_is_retried_once_then_a_second_failure_falls_back_naming_both_attempts(tmp_path, answer):
    with FakeSTT() as server:
        server.fail(429, times=2, retry_after="0")
        t = transcribe.get_transcriber(settings=stt_settings(tmp_path, server.url)).transcribe(answer)
    assert len(server.requests) == 2
    assert t.engine == "faster-whisper"
    assert "rate-limited the request (HTTP 429)" in t.to_dict()["fallback_reason"]
    assert "(after 2 attempts)" in t.to_dict()["fallback_reason"]


def test_a_timeout_says_how_long_and_which_setting(tmp_path, answer):
    with FakeSTT(delay_s=3.0) as server:
        settings = stt_settings(tmp_path, server.url, stt_timeout_s=0.5, stt_fallback=False)
        with pytest.raises(TranscriptionError) as caught:
            transcribe.get_transcriber(settings=settings).transcribe(answer)
    message = str(caught.value)
    assert "did not answer within 0.5 s" in message and "INFRALENS_STT_TIMEOUT_S" in message
    assert "(after 2 attempts)" in message and len(server.requests) == 2


def test_without_fallback_a_down_server_is_an_error_naming_it(tmp_path, answer):
    settings = stt_settings(tmp_path, closed_url(), stt_fallback=False)
    with pytest.raises(TranscriptionError, match="cannot reach the speech server"):
        transcribe.get_transcriber(settings=settings).transcribe(answer)


# ---------------------------------------------------------------- settings and the live path


def test_the_server_setting_makes_remote_the_engine(monkeypatch):
    monkeypatch.delenv("INFRALENS_WHISPER_ENGINE", raising=False)
    monkeypatch.setenv("INFRALENS_STT_API_BASE", "http://stt:8000/v1")
    monkeypatch.setenv("INFRALENS_STT_MODEL", "Systran/faster-whisper-small")
    monkeypatch.setenv("INFRALENS_STT_TIMEOUT_S", "45")
    settings = Settings.from_env()
    assert settings.whisper_engine == "remote" and settings.stt_timeout_s == 45.0
    assert transcribe.get_transcriber(settings=settings).model_name == "Systran/faster-whisper-small"
    monkeypatch.delenv("INFRALENS_STT_API_BASE")
    assert Settings.from_env().whisper_engine == "faster-whisper"


def test_live_regions_go_to_the_server_one_request_each(tmp_path, answer, card):
    pause = np.zeros(16_000, np.float32)
    recording = np.concatenate([answer, pause, answer])
    with FakeSTT() as server:
        settings = stt_settings(tmp_path, server.url)
        prompt = transcribe.prompt_for(card.question, card.vocabulary)
        live = LiveTranscriber(transcribe.get_transcriber(settings=settings), prompt=prompt)
        live.feed(recording, 16_000)
        t = live.finish()
    assert len(server.requests) >= 2 and all(r.field("prompt") == prompt for r in server.requests)
    assert t.engine == "remote" and t.words[-1].end_s > len(answer) / 16_000  # the second region's words, offset


def test_live_after_a_failure_the_rest_of_the_recording_is_local(tmp_path, answer, card):
    live = LiveTranscriber(transcribe.get_transcriber(settings=stt_settings(tmp_path, closed_url())))
    live.feed(answer, 16_000)
    t = live.finish()
    assert t.engine == "faster-whisper" and "job" in t.text.lower()


# ---------------------------------------------------------------- concurrency


def test_recordings_go_to_the_server_at_the_same_time(tmp_path, answer):
    """No lock of ours serialises remote requests: 4 threads, 4 requests in flight at once."""
    with FakeSTT(delay_s=1.0) as server:
        settings = stt_settings(tmp_path, server.url)
        results: list[str] = []

        def one() -> None:
            results.append(transcribe.get_transcriber(settings=settings).transcribe(answer).engine)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
    assert results == ["remote"] * 4
    assert server.max_in_flight == 4


def test_the_local_model_is_shared_safely_by_threads(answer):
    """One loaded WhisperModel, two threads at once: both transcripts are whole and identical."""
    engine = transcribe.get_transcriber(settings=Settings())
    texts: list[str] = []
    threads = [threading.Thread(target=lambda: texts.append(engine.transcribe(answer).text)) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert len(texts) == 2 and texts[0] == texts[1] and "job" in texts[0].lower()
