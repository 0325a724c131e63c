"""The real bundled tiny.en model on real (espeak-ng) speech, through the library and the CLI."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from support import clips
from support.wer import wer

from infralens_coach import audio, transcribe
from infralens_coach.cli import main
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.errors import NoSpeechError, TranscriptionError
from infralens_coach.transcribe import Transcript, prompt_for
from infralens_coach.transcribe.base import Segment, is_hallucinated, require_real_text
from infralens_coach.transcribe.models import BUNDLED_SHA256, bundled_model_dir, resolve, sha256_file

CARD = QuestionBank.load(()).get("7")
PROMPT = prompt_for(CARD.question, CARD.vocabulary)


def run(*args):
    return CliRunner().invoke(main, list(args))


def key_words_in(text: str) -> list[str]:
    return [w for w in clips.KEY_WORDS if w in text.lower()]


@pytest.mark.slow
@pytest.mark.parametrize("rate_wpm", [140, 175, 220])
def test_answer_at_several_rates(rate_wpm):
    t = transcribe.transcribe_file(clips.speech(clips.ANSWER, rate_wpm), prompt=PROMPT)
    assert t.engine == "faster-whisper" and t.model == "tiny.en (bundled)"
    assert len(key_words_in(t.text)) >= 3, t.text
    assert wer(clips.ANSWER, t.text) < 0.55, t.text  # tiny.en on synthetic speech: ~0.3-0.4 measured
    assert "kubernetes" in t.text.lower()  # spelled right thanks to the vocabulary prompt
    assert 0.8 * t.duration_s < t.speech_s <= t.duration_s
    words = t.words
    assert len(words) > 30
    assert all(0 <= w.start_s <= w.end_s <= t.duration_s + 0.5 and 0 <= w.probability <= 1 for w in words)
    assert [w.start_s for w in words] == sorted(w.start_s for w in words)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(clips.FORMATS))
def test_cli_transcribe_json_for_every_format(fmt):
    result = run("transcribe", str(clips.answer_in(fmt)), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"text", "duration_s", "speech_s", "engine", "model", "segments", "metrics"} <= set(data)
    assert len(key_words_in(data["text"])) >= 3, data["text"]
    assert data["segments"][0]["words"][0]["start_s"] >= 0
    assert data["metrics"]["word_count"] > 30
    assert "speech model tiny.en (bundled)" in result.stderr and "base.en" in result.stderr


@pytest.mark.slow
def test_cli_transcribe_plain_text():
    result = run("transcribe", str(clips.speech(clips.ANSWER)))
    assert result.exit_code == 0
    assert "schedule" in result.stdout.lower() and "Delivery:" in result.stdout


@pytest.mark.slow
def test_vocabulary_prompt_helps_jargon():
    """Measured, not assumed: WER with and without the card's prompt on the same clips."""
    without, with_prompt = [], []
    for rate in (140, 175, 220):
        samples = audio.decode(clips.speech(clips.ANSWER, rate))
        transcriber = transcribe.get_transcriber()
        without.append(wer(clips.ANSWER, transcriber.transcribe(samples, prompt=None).text))
        with_prompt.append(wer(clips.ANSWER, transcriber.transcribe(samples, prompt=PROMPT).text))
    print(f"WER without prompt {np.mean(without):.2f}, with vocabulary prompt {np.mean(with_prompt):.2f}")
    assert np.mean(with_prompt) <= np.mean(without) + 0.05


@pytest.mark.slow
def test_a_real_short_answer_passes_the_gate():
    t = transcribe.transcribe_file(clips.speech(clips.SHORT_ANSWER))
    assert 1.0 <= t.speech_s < 2.5
    assert "job" in t.text.lower() or "work" in t.text.lower(), t.text


@pytest.mark.parametrize(
    "make",
    [lambda: clips.silence(10), lambda: clips.noise(10), lambda: clips.clipped(0.2)],
    ids=["silence", "white-noise", "0.2s-clip"],
)
@pytest.mark.slow
def test_no_speech_is_refused_not_hallucinated(make):
    with pytest.raises(NoSpeechError, match="no speech detected — check the microphone"):
        transcribe.transcribe_file(make())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: clips.silence(10), "no speech detected"),
        (lambda: clips.noise(10), "no speech detected"),
        (lambda: clips.clipped(0.2), "no speech detected"),
        (lambda: clips.bad_file("empty"), "empty (0 bytes)"),
        (lambda: clips.bad_file("random"), "could not decode it as audio"),
        (lambda: clips.bad_file("text"), "could not decode it as audio"),
        (lambda: clips.bad_file("header-only"), "no audio samples"),
        (lambda: clips.over_length(), "the maximum is 10 min"),
    ],
    ids=["silence", "noise", "0.2s", "0-bytes", "random-bytes", "text-as-webm", "header-only-wav", "over-length"],
)
@pytest.mark.slow
def test_bad_input_table_exits_2_with_one_line(make, message):
    for command in (["transcribe"], ["grade", "7", "--audio"]):
        result = run(*command, str(make()))
        assert result.exit_code == 2, (command, result.output)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


@pytest.mark.slow
def test_max_audio_setting(monkeypatch):
    monkeypatch.setenv("INFRALENS_MAX_AUDIO_S", "5")
    result = run("transcribe", str(clips.speech(clips.ANSWER)))
    assert result.exit_code == 2 and "the maximum is 5.0 s" in result.stderr


def test_known_hallucinations_are_filtered():
    with pytest.raises(NoSpeechError):
        require_real_text(" Thank you.")
    require_real_text("Use a Job for batch work.")
    outro = Segment(" We'll see you in the next video. We'll see you in the next video, bye!", 14.36, 14.64)
    assert is_hallucinated(outro)
    assert not is_hallucinated(Segment("A Deployment keeps services running.", 3.0, 5.0))


@pytest.mark.slow
def test_grade_audio_uses_the_card_vocabulary_and_adds_transcript_and_metrics():
    result = run("grade", "7", "--audio", str(clips.answer_in("ogg-opus")), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["card"] == 7 and data["decided_by"] == "keyword"
    assert "kubernetes" in data["transcript"]["text"].lower()
    assert data["metrics"]["word_count"] > 30 and data["metrics"]["duration_s"] > 10
    mechanism = next(d for d in data["dimensions"] if d["id"] == "mechanism")
    assert mechanism["score"] > 0


# --- progress: audio seconds done / total, as segments are decoded (issue 10, item 6) --------------


@pytest.mark.slow
def test_progress_is_reported_as_the_engine_decodes():
    from infralens_coach.coach import Coach
    from infralens_coach.grading import KeywordGrader

    path, _ = clips.long_answer(60)
    calls = []
    result = Coach(QuestionBank.load(()), Settings(), grader=KeywordGrader()).transcribe(
        CARD, path, on_progress=lambda done_s, total_s: calls.append((done_s, total_s))
    )
    total_s = result.transcript.duration_s
    assert len(calls) >= 3, calls  # several segments, each reported when it is decoded
    assert all(t == total_s for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done)  # strictly increasing
    assert done[0] < 0.6 * total_s and calls[-1] == (total_s, total_s)


@pytest.mark.slow
def test_progress_reaches_the_total_only_with_the_final_transcript():
    engine = transcribe.get_transcriber()
    calls = []
    t = engine.transcribe(
        audio.decode(clips.speech(clips.ANSWER)),
        prompt=PROMPT,
        on_progress=lambda d, total: calls.append((d, total, len(calls))),
    )
    assert calls[-1][:2] == (t.duration_s, t.duration_s)
    assert all(d < t.duration_s for d, _, _ in calls[:-1])


@pytest.mark.slow
def test_grade_audio_refuses_two_answers():
    result = run("grade", "7", "--audio", str(clips.speech(clips.ANSWER)), "--text", "hello")
    assert result.exit_code == 2 and "one way" in result.stderr


# --- models --------------------------------------------------------------------------------


def test_bundled_model_is_checksummed_and_the_offline_default():
    assert sha256_file(bundled_model_dir() / "model.bin") == BUNDLED_SHA256
    choice = resolve(None, "faster-whisper")  # HF_HUB_OFFLINE=1 and no cache: base.en cannot be had
    assert choice.label == "tiny.en (bundled)" and "base.en" in choice.note
    named = resolve("small.en", "faster-whisper")
    assert named.label == "tiny.en (bundled)" and "small.en is not available offline" in named.note
    directory = resolve(str(bundled_model_dir()), "faster-whisper")
    assert directory.source == str(bundled_model_dir()) and directory.note is None


@pytest.mark.parametrize(
    "spec, engine, message",
    [
        ("huge.en", "faster-whisper", "unknown Whisper model"),
        ("/no/such/dir", "faster-whisper", "no such CTranslate2 model directory"),
        ("model.pt", "faster-whisper", "need --engine openai-whisper"),
        ("/no/such/model.pt", "openai-whisper", "no such openai-whisper checkpoint"),
    ],
)
def test_model_errors(spec, engine, message):
    with pytest.raises(TranscriptionError, match=message):
        resolve(spec, engine)


@pytest.mark.slow
def test_cli_unknown_engine():
    result = run("transcribe", str(clips.speech(clips.SHORT_ANSWER)), "--engine", "nope")
    assert result.exit_code == 2 and "unknown speech engine 'nope'" in result.stderr


# --- the registry takes any Transcriber, registered the normal way -----------------------------


class EchoTranscriber:
    """A fake engine implementing the protocol: returns a fixed transcript, records the prompt."""

    name = "echo"
    model_name = "echo-1"

    def __init__(self):
        self.prompts = []

    def warm_up(self):
        pass

    def transcribe(self, samples, *, prompt=None):
        self.prompts.append(prompt)
        return Transcript("A Job runs to completion.", (), len(samples) / 16_000, 1.0, self.name, self.model_name)


@pytest.mark.slow
def test_a_registered_engine_is_used_by_name():
    fake = EchoTranscriber()
    transcribe.register("echo", lambda model, **kw: fake)
    try:
        assert isinstance(fake, transcribe.Transcriber)
        result = run("grade", "7", "--audio", str(clips.speech(clips.SHORT_ANSWER)), "--json")
        assert result.exit_code == 0  # the default engine still serves grade
        t = transcribe.transcribe_file(clips.speech(clips.SHORT_ANSWER), engine="echo", prompt=PROMPT)
        assert t.engine == "echo" and fake.prompts == [PROMPT]
    finally:
        transcribe.register("echo", lambda model, **kw: EchoTranscriber())


# --- openai-whisper with real weights (the bundled model converted once per run) ---------------


@pytest.fixture(scope="module")
def checkpoint():
    pytest.importorskip("whisper")
    return clips.openai_checkpoint()


@pytest.mark.slow
def test_openai_whisper_transcribes_the_same_clip(checkpoint, monkeypatch):
    from infralens_coach.transcribe.openai_whisper import load_model

    monkeypatch.setenv("INFRALENS_WHISPER_BEAM", "1")  # greedy keeps the suite quick; the bench runs beam 5
    clip = clips.speech(clips.ANSWER)
    result = run("transcribe", str(clip), "--engine", "openai-whisper", "--model", str(checkpoint), "--json")
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout)
    assert ours["engine"] == "openai-whisper" and ours["model"] == str(checkpoint)
    faster = transcribe.transcribe_file(clip, prompt=prompt_for(), settings=Settings.from_env())
    assert wer(faster.text, ours["text"]) < 0.35, (faster.text, ours["text"])
    assert len(key_words_in(ours["text"])) >= 3
    words = [w for s in ours["segments"] for w in s["words"]]
    assert len(words) > 30 and words[-1]["end_s"] > 10  # word timestamps from the alignment heads
    model = load_model(str(checkpoint))
    assert model.alignment_heads.to_dense().sum().item() == 8  # tiny.en's official heads, not the default


@pytest.mark.slow
def test_openai_whisper_reports_progress_and_coverage(checkpoint):
    from infralens_coach.transcribe.openai_whisper import OpenAIWhisperTranscriber

    engine = OpenAIWhisperTranscriber(str(checkpoint), beam_size=1)
    calls = []
    t = engine.transcribe(
        audio.decode(clips.speech(clips.ANSWER)), prompt=PROMPT, on_progress=lambda d, total: calls.append((d, total))
    )
    assert calls and calls[-1] == (t.duration_s, t.duration_s)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert t.gaps == () and t.to_dict()["warnings"] == []


@pytest.mark.slow
def test_openai_whisper_refuses_silence_the_same_way(checkpoint):
    from infralens_coach.transcribe.openai_whisper import OpenAIWhisperTranscriber

    engine = OpenAIWhisperTranscriber(str(checkpoint), beam_size=1)
    with pytest.raises(NoSpeechError):
        engine.transcribe(audio.decode(clips.silence(10)))


@pytest.mark.slow
def test_openai_whisper_name_offline_is_a_clear_error():
    pytest.importorskip("whisper")
    with pytest.raises(TranscriptionError, match="not downloaded"):
        resolve("tiny.en", "openai-whisper")


@pytest.mark.slow
@pytest.mark.parametrize(("voice", "rate_wpm"), [("en-us", 165), ("en-gb", 185)])
def test_decoding_stops_where_the_voice_does(monkeypatch, voice, rate_wpm):
    """The window after the last words holds only silence: told where voice activity ends, the engine stops
    there with the same words (less what tiny.en makes up in that silence), and encodes one 30 s window only
    (without the hint, two or three: how far tiny.en wanders into the silence depends on the CPU's kernels)."""
    from infralens_coach.transcribe.coverage import speech_regions
    from infralens_coach.transcribe.faster_whisper import END_SLACK_S, load_model

    engine = transcribe.get_transcriber()
    model = load_model(engine.choice.source, compute_type=engine.compute_type, threads=engine.threads)
    windows = []
    encode = model.encode  # faster-whisper's, counted here: one call per 30 s window
    monkeypatch.setattr(model, "encode", lambda features: windows.append(1) or encode(features))
    without_hint = []
    for sentence in clips.LONG_SENTENCES[:4]:
        samples = audio.decode(clips.speech(sentence, rate_wpm, voice))
        end_s = speech_regions(samples)[-1].end_s
        windows.clear()
        whole = engine.decode(samples, PROMPT)
        without_hint.append(len(windows))
        windows.clear()
        stopped = engine.decode(samples, PROMPT, speech_end_s=end_s)
        words = [w for s in whole for w in s.words]
        kept = [w.text for s in stopped for w in s.words]
        assert kept == [w.text for w in words[: len(kept)]], (kept, words)
        # what only the second window heard starts at the voice's last moments: "See you." or "Thank you for
        # watching." made up in the silence (which of them depends on the CPU's kernels), never a spoken word
        assert all(w.start_s >= end_s - END_SLACK_S for w in words[len(kept) :]), words
        assert len(windows) == 1, sentence
    assert max(without_hint) >= 2  # the case exists: without the hint, some sentences cost more windows
