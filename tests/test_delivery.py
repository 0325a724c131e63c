"""Delivery metrics: pure functions on hand-made words, then on real transcripts of real clips."""

import pytest
from support import clips

from infralens_coach import transcribe
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.delivery import DeliveryTargets, delivery_metrics, find_fillers, long_pauses
from infralens_coach.errors import CoachError
from infralens_coach.transcribe import Segment, Transcript, Word

JOB = QuestionBank.load().get(7)  # the clips answer card 7


def card_prompt(keep_fillers: bool = True) -> str:
    """The prompt the app uses for card 7 (question, its key terms, and the disfluent tail)."""
    return transcribe.prompt_for(JOB.question, JOB.vocabulary, keep_fillers=keep_fillers)


def words_at(text: str, start_s: float = 0.0, step_s: float = 0.4, gaps: dict[int, float] | None = None):
    """Words of ``text`` every ``step_s`` seconds; gaps={i: seconds} adds silence before word i."""
    out, t = [], start_s
    for i, token in enumerate(text.split()):
        t += (gaps or {}).get(i, 0.0)
        out.append(Word(token, t, t + step_s * 0.8, 0.9))
        t += step_s
    return tuple(out)


def transcript_of(words, duration_s=None):
    duration_s = duration_s or (words[-1].end_s + 0.5 if words else 1.0)
    text = " ".join(w.text for w in words)
    segment = Segment(text, words[0].start_s, words[-1].end_s, tuple(words))
    return Transcript(text, (segment,), duration_s, duration_s, "test", "test")


def test_pace_length_and_notes_for_an_on_target_answer():
    ws = words_at(" ".join(["word"] * 200), step_s=0.4)  # 150 wpm for 80 s
    m = delivery_metrics(transcript_of(ws))
    assert m.word_count == 200 and round(m.duration_s) == 80
    assert round(m.words_per_minute) == 150
    assert m.long_pause_count == 0 and m.filler_count == 0
    assert m.notes == ("On target: length and pace are within 60–120 s and 130–170 wpm.",)


def test_short_fast_answer_gets_plain_notes():
    m = delivery_metrics(transcript_of(words_at(" ".join(["word"] * 60), step_s=0.25)))  # 240 wpm, 15 s
    assert any(n.startswith("Short: 15 s against 60–120 s") for n in m.notes)
    assert any(n.startswith("Fast: 24") and "wpm against 130–170 wpm" in n for n in m.notes)


def test_long_pauses_are_counted_located_and_excluded_from_pace():
    ws = words_at("one two three four five six", step_s=0.5, gaps={3: 2.0, 5: 1.0})
    pauses = long_pauses(ws, 1.5)
    assert len(pauses) == 1 and pauses[0].after == "three" and pauses[0].duration_s == pytest.approx(2.1)
    m = delivery_metrics(transcript_of(ws))
    assert m.speaking_s == pytest.approx(m.duration_s - 2.1)
    assert "1 long pause (≥ 1.5 s) at 0:01." in m.notes


@pytest.mark.parametrize(
    "text, gaps, expected",
    [
        ("um I think uh it er works", None, ["um", "uh", "er"]),
        ("it is like a queue", None, []),  # "like" as a word, not a filler
        ("it is, like, a queue", None, ["like"]),
        ("so the job finishes", None, []),
        ("So, the job finishes", None, ["so"]),
        ("the job so finishes", {2: 0.8}, []),  # a pause alone does not make "so" a marker
        ("you know, the job finishes", None, ["you know"]),
        ("if you know the batch size", None, []),
        ("Um. You know. Like,", None, ["um", "you know", "like"]),
    ],
)
def test_filler_rules(text, gaps, expected):
    assert [f.text for f in find_fillers(words_at(text, gaps=gaps))] == expected


@pytest.mark.parametrize(
    "text, gaps, expected",
    [
        # issue 10 item 10: both were counted because a comma came before them
        ("something that should always be up, like an inference API.", None, []),
        ("a one-off batch task as a Deployment, so it restarts forever", None, []),
        ("should be up, like, an inference API", None, ["like"]),
        ("a Deployment, so, it restarts", None, ["so"]),
        ("It restarts. So, that is the mistake.", None, ["so"]),
        ("It restarts. So that is the mistake.", None, []),
        ("so that the pods finish", None, []),
        ("work like a batch run", {2: 0.8}, []),  # a pause, then a determiner: still a comparison
        ("the job is like uh finished", {4: 0.8}, ["like", "uh"]),  # "like" then a pause: searching
        ("it runs, you know, until done", None, ["you know"]),
        ("do you know? It runs", None, []),
        ("So.", None, ["so"]),
    ],
)
def test_only_discourse_markers_count(text, gaps, expected):
    """On real Transcript objects of timed words, as the app builds them."""
    m = delivery_metrics(transcript_of(words_at(text, gaps=gaps)))
    assert [f.text for f in m.fillers] == expected


def test_the_same_transcript_always_gives_the_same_count():
    ws = words_at("Um, so, the Job is, like, done. It restarts, so it runs like a loop, you know.")
    counts = {delivery_metrics(transcript_of(ws)).filler_count for _ in range(5)}
    assert counts == {4}  # um, so, like, you know


def test_many_fillers_get_a_note():
    ws = words_at(" ".join(["um", "the", "job", "runs,"] * 20))
    m = delivery_metrics(transcript_of(ws))
    assert m.filler_count == 20 and any('"um" ×20' in n for n in m.notes)
    assert m.to_dict()["fillers"] == {"um": 20}


def test_targets_are_configurable(monkeypatch):
    monkeypatch.setenv("INFRALENS_TARGET_SECONDS", "10-20")
    monkeypatch.setenv("INFRALENS_TARGET_WPM", "200-260")
    targets = DeliveryTargets.from_settings(Settings.from_env())
    m = delivery_metrics(transcript_of(words_at(" ".join(["word"] * 60), step_s=0.25)), targets)
    assert m.notes == ("On target: length and pace are within 10–20 s and 200–260 wpm.",)
    monkeypatch.setenv("INFRALENS_TARGET_WPM", "fast")
    with pytest.raises(CoachError, match="INFRALENS_TARGET_WPM"):
        DeliveryTargets.from_settings(Settings.from_env())


def test_no_words_means_no_pace():
    t = Transcript("", (), 3.0, 1.2, "test", "test")
    m = delivery_metrics(t)
    assert m.word_count == 0 and m.words_per_minute is None


# --- on real transcripts -----------------------------------------------------------------------


@pytest.mark.slow
def test_real_pause_is_found_where_it_was_made():
    t = transcribe.transcribe_file(clips.with_pause())
    m = delivery_metrics(t)
    assert m.long_pause_count == 1, [(w.text, w.start_s, w.end_s) for w in t.words]
    pause = m.long_pauses[0]
    first_s = clips.read_wav(clips.speech(clips.PAUSE_FIRST))[0].size / 22_050
    assert abs(pause.start_s - first_s) < 0.8 and abs(pause.duration_s - clips.PAUSE_S) < 0.8


@pytest.mark.slow
@pytest.mark.parametrize("rate_wpm", [140, 220])
def test_real_pace_follows_the_speaking_rate(rate_wpm):
    t = transcribe.transcribe_file(clips.speech(clips.ANSWER, rate_wpm), prompt=card_prompt())
    m = delivery_metrics(t)
    # espeak-ng's -s is words per minute; Whisper's words split/merge a little
    assert 0.75 * rate_wpm < m.words_per_minute < 1.3 * rate_wpm


@pytest.mark.slow
def test_fillers_kept_with_the_disfluent_prompt_and_dropped_without():
    """Whisper cleans fillers away; the disfluent prompt tail keeps them. Counts printed for the report."""
    clip = clips.speech(clips.FILLER_ANSWER)
    plain = delivery_metrics(transcribe.transcribe_file(clip, prompt=card_prompt(keep_fillers=False)))
    kept = delivery_metrics(transcribe.transcribe_file(clip, prompt=card_prompt()))
    print(f"fillers spoken {clips.FILLERS_SPOKEN}: without tail {plain.filler_count}, with tail {kept.filler_count}")
    assert plain.filler_count <= kept.filler_count <= clips.FILLERS_SPOKEN + 1
    assert kept.filler_count >= clips.FILLERS_SPOKEN - 2
    fluent = delivery_metrics(transcribe.transcribe_file(clips.speech(clips.ANSWER), prompt=card_prompt()))
    assert fluent.filler_count == 0  # the tail does not invent fillers


# --- the chosen target drives the notes (issue 10, item 7) -------------------------------------


def test_target_presets_are_named_bands():
    from infralens_coach.delivery import TARGET_PRESETS

    assert set(TARGET_PRESETS) == {"short", "full"}
    short, full = TARGET_PRESETS["short"], TARGET_PRESETS["full"]
    assert short.min_duration_s <= 30 <= short.max_duration_s < full.min_duration_s
    assert (full.min_duration_s, full.max_duration_s) == (60, 120)


def test_a_28_s_answer_is_on_target_for_the_short_preset_only():
    from infralens_coach.delivery import TARGET_PRESETS

    t = transcript_of(words_at(" ".join(["word"] * 70), step_s=0.4))  # 28 s at 150 wpm
    short = delivery_metrics(t, TARGET_PRESETS["short"])
    assert not any(n.startswith("Short") for n in short.notes), short.notes
    assert short.notes == ("On target: length and pace are within 20–45 s and 130–170 wpm.",)
    full = delivery_metrics(t, TARGET_PRESETS["full"])
    assert any(n.startswith("Short: 28 s against 60–120 s") for n in full.notes)


def test_missing_speech_is_the_first_note():
    t = transcript_of(words_at("A Job runs to completion."))
    gap = transcribe.Gap(3.0, 12.0, 8.5, 0)
    from dataclasses import replace

    m = delivery_metrics(replace(t, gaps=(gap,)))
    assert m.notes[0].startswith("Part of the recording was not transcribed: 8 s of speech at 0:03–0:12")


@pytest.fixture(scope="module")
def coach():
    from infralens_coach.coach import Coach
    from infralens_coach.grading import KeywordGrader

    return Coach(QuestionBank.load(()), Settings(), grader=KeywordGrader())


@pytest.mark.slow
def test_coach_transcribe_takes_the_target(coach):
    from infralens_coach.delivery import TARGET_PRESETS

    clip = clips.speech(clips.CARD7_ISSUE_ANSWER, 165, "en-us")  # about 28 s
    short = coach.transcribe(JOB, clip, targets=TARGET_PRESETS["short"])
    assert 20 < short.metrics.duration_s < 45
    assert not any(n.startswith("Short") for n in short.metrics.notes), short.metrics.notes
    default = coach.transcribe(JOB, clip)  # INFRALENS_TARGET_SECONDS unset: the full-answer band
    assert any(n.startswith("Short:") and "against 60–120 s" in n for n in default.metrics.notes)


@pytest.mark.slow
def test_the_same_audio_gives_the_same_fillers(coach):
    """The issue's clip says "like a batch…", "like an inference API" and "so it restarts": no fillers, twice."""
    clip = clips.speech(clips.CARD7_ISSUE_ANSWER, 165, "en-us")
    first, second = (coach.transcribe(JOB, clip) for _ in range(2))
    assert first.text == second.text
    assert first.metrics.filler_count == second.metrics.filler_count == 0, first.text
    assert "like an inference api" in first.text.lower() and "so it restarts" in first.text.lower()


@pytest.mark.slow
def test_cli_grade_audio_with_target(tmp_path):
    import json

    from click.testing import CliRunner

    from infralens_coach.cli import main

    clip = str(clips.speech(clips.CARD7_ISSUE_ANSWER, 165, "en-us"))
    runner = CliRunner()
    short = runner.invoke(main, ["grade", "7", "--audio", clip, "--target", "short", "--json", "--no-save"])
    assert short.exit_code == 0, short.output
    notes = json.loads(short.stdout)["metrics"]["notes"]
    assert not any(n.startswith("Short") for n in notes), notes
    full = runner.invoke(main, ["grade", "7", "--audio", clip, "--target", "full", "--no-save"])
    assert full.exit_code == 0 and "Short: " in full.stdout and "against 60–120 s" in full.stdout
    bad = runner.invoke(main, ["grade", "7", "--audio", clip, "--target", "medium"])
    assert bad.exit_code == 2 and "short" in bad.output and "full" in bad.output


@pytest.mark.slow
def test_cli_practice_with_target():
    """`practice --record --target short` through real PortAudio, ALSA replaying a 26 s answer as the microphone."""
    import json
    import os
    import subprocess
    import sys

    mic = clips.alsa_config(clips.raw_microphone(clips.CARD7_ISSUE_ANSWER, tail_s=2.0), "mic-card7.conf")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infralens_coach.cli",
            "practice",
            "7",
            "--record",
            "--seconds",
            "27",
            "--target",
            "short",
            "--json",
            "--no-save",
        ],
        env={**os.environ, "ALSA_CONFIG_PATH": str(mic)},
        input="",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert 20 < metrics["duration_s"] < 45 and metrics["word_count"] > 70
    assert not any(n.startswith("Short") for n in metrics["notes"]), metrics["notes"]
