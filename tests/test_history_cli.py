"""The history from the command line, end to end: grade saves, then list/show/diff/export/delete/regrade/next."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from support.fakes import JOB_ANSWER, FailingGrader
from support.postgres import BACKENDS, postgres_server, postgres_url  # noqa: F401  (fixtures)

from infralens_coach import export
from infralens_coach.cli import main
from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.errors import GraderUnavailable
from infralens_coach.history import HistoryStore

FIRST = JOB_ANSWER
SECOND = FIRST + (
    "\nIf you pick wrong, a finished batch script under a Deployment keeps restarting, so it runs the work "
    'again and again and burns GPU time — a "Job" gives a clear succeeded or failed status instead.'
)


TIMED_OUT = FailingGrader("the LLM timed out after 30 s")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(params=BACKENDS)
def any_home(request, home, monkeypatch):
    """The data directory, with the history in SQLite there or in a real PostgreSQL (INFRALENS_DATABASE_URL)."""
    monkeypatch.delenv("INFRALENS_DATABASE_URL", raising=False)
    if request.param == "postgresql":
        monkeypatch.setenv("INFRALENS_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return home


def run(*args, input=None, env=None):
    result = CliRunner().invoke(main, list(args), input=input, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def listed(*args) -> list[dict]:
    result = run("history", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.slow
def test_grade_saves_a_text_attempt_unless_told_not_to(home):
    shown = run("grade", "7", "--text", FIRST)
    assert shown.exit_code == 0
    (attempt,) = listed()
    assert f"Saved as attempt {attempt['id']}" in shown.output
    assert (attempt["mode"], attempt["state"], attempt["card"]) == ("text", "graded", 7)
    assert attempt["transcript"] == attempt["transcript_raw"] == FIRST and attempt["grade"]["decided_by"] == "keyword"
    assert attempt["grade_s"] > 0 and attempt["transcribe_s"] is None

    as_json = run("grade", "7", "--text", FIRST, "--json")
    assert json.loads(as_json.output) == attempt["grade"]  # --json prints the grade only, and still saves
    assert len(listed()) == 2
    assert run("grade", "7", "--text", FIRST, "--no-save").exit_code == 0
    assert len(listed()) == 2 and (home / "history.db").exists()


@pytest.mark.slow
def test_list_show_and_diff(any_home):
    run("grade", "7", "--text", FIRST)
    run("grade", "3", "--text", "MLOps is the practice; ML infrastructure is the platform underneath it.")
    run("grade", "7", "--text", SECOND)
    old, other, new = listed()
    assert [a["id"] for a in listed("--card", "k8s-job-vs-deployment")] == [old["id"], new["id"]]

    table = run("history", "list").output
    assert all(a["id"] in table for a in (old, other, new)) and "graded" in table

    shown = run("history", "show", new["id"][-8:])
    assert shown.exit_code == 0 and "burns GPU time" in shown.output
    assert f"Overall: {new['grade']['overall']}/100" in shown.output
    assert json.loads(run("history", "show", new["id"], "--json").output) == new

    by_card = run("history", "diff", "--card", "7")
    assert by_card.output == run("history", "diff").output == run("history", "diff", old["id"], new["id"]).output
    assert f"{old['grade']['overall']}/100 → " in by_card.output and "+ newly covered:" in by_card.output
    data = json.loads(run("history", "diff", "--json").output)
    assert (data["old"], data["new"]) == (old["id"], new["id"])
    assert data["overall_change"] == new["grade"]["overall"] - old["grade"]["overall"] > 0

    bad = run("history", "diff", old["id"])
    assert bad.exit_code == 2 and "give two attempt ids" in bad.output
    mixed = run("history", "diff", old["id"], other["id"])
    assert mixed.exit_code == 2 and "different cards" in mixed.output


@pytest.mark.slow
def test_export_round_trips_as_json_and_csv(any_home, tmp_path):
    run("grade", "7", "--text", FIRST)
    run("grade", "7", "--text", SECOND)
    with HistoryStore.open(Settings.from_env()) as store:
        bank = QuestionBank.load()
        with pytest.raises(GraderUnavailable):
            Coach(bank, Settings(), grader=TIMED_OUT, store=store).submit(
                bank.get(2), "Check GPU use, then the input pipeline."
            )
        stored = store.list()
    assert [a.state for a in stored] == ["graded", "graded", "ungraded"]

    out = tmp_path / "history.json"
    assert run("history", "export", "--format", "json", "--out", str(out)).exit_code == 0
    assert export.read_json(out.read_text(encoding="utf-8")) == stored
    assert export.read_json(run("history", "export").output) == stored

    csv_text = run("history", "export", "--format", "csv").output
    assert export.read_csv(csv_text) == stored
    header = csv_text.splitlines()[0].split(",")
    assert header[:3] == ["id", "created_utc", "card"] and "tradeoffs_score" in header

    md = run("history", "export", "--format", "md", "--card", "2").output
    assert "# infralens-coach history" in md and stored[2].id in md and "**ungraded**: the LLM timed out" in md
    assert stored[0].id not in md


@pytest.mark.slow
def test_an_ungraded_attempt_is_shown_as_such_and_regraded_from_the_cli(home):
    with HistoryStore.open(Settings.from_env()) as store:
        bank = QuestionBank.load()
        with pytest.raises(GraderUnavailable, match="regrade"):
            Coach(bank, Settings(), grader=TIMED_OUT, store=store).submit(bank.get(7), FIRST)
    (attempt,) = listed()
    shown = run("history", "show", attempt["id"])
    assert "Ungraded: the LLM timed out after 30 s" in shown.output and "history regrade" in shown.output
    assert "Next: card 01" in run("next").output  # an ungraded attempt is not practice
    assert "[not yet]  7" in run("checklist").output

    regraded = run("history", "regrade", attempt["id"][-6:])
    assert regraded.exit_code == 0 and "Regraded attempt" in regraded.output and "Mechanism" in regraded.output
    (after,) = listed()
    assert after["state"] == "graded" and after["grade"]["decided_by"] == "keyword"
    assert "[ weak  ]  7" in run("checklist").output


def test_delete(any_home):
    run("grade", "7", "--text", FIRST)
    (attempt,) = listed()
    refused = run("history", "delete", attempt["id"])  # no terminal to ask on, and no --yes: never hang, never guess
    assert refused.exit_code == 2 and "pass --yes" in refused.output and len(listed()) == 1
    deleted = run("history", "delete", attempt["id"], "--yes")
    assert deleted.exit_code == 0 and f"deleted {attempt['id']}" in deleted.output
    assert listed() == [] and "No attempts yet" in run("history", "list").output
    again = run("history", "delete", attempt["id"], "-y")
    assert again.exit_code == 2 and "no attempt" in again.output


def test_each_user_has_their_own_history_from_the_cli(any_home):
    """INFRALENS_USER picks whose history the CLI reads and writes; unset, the single user's (no accounts)."""
    assert run("grade", "7", "--text", FIRST, env={"INFRALENS_USER": "alice"}).exit_code == 0
    assert run("grade", "3", "--text", "MLOps is the practice.", env={"INFRALENS_USER": "bob"}).exit_code == 0
    alice = json.loads(run("history", "list", "--json", env={"INFRALENS_USER": "alice"}).output)
    bob = json.loads(run("history", "list", "--json", env={"INFRALENS_USER": "bob"}).output)
    assert [(a["card"], a["user"]) for a in alice] == [(7, "alice")] and [(a["card"], a["user"]) for a in bob] == [
        (3, "bob")
    ]
    assert listed() == []  # the single user's history holds neither
    as_bob = run("history", "show", alice[0]["id"], env={"INFRALENS_USER": "bob"})
    assert as_bob.exit_code == 2 and "no attempt" in as_bob.output
    exported = json.loads(run("history", "export", env={"INFRALENS_USER": "bob"}).output)
    assert [a["id"] for a in exported] == [bob[0]["id"]]
    nxt = json.loads(run("next", "--json", env={"INFRALENS_USER": "bob"}).output)
    assert {r["card"] for r in nxt if r["practised"]} == {3}


@pytest.mark.slow
def test_delete_asks_in_a_terminal(home):
    """A real process on a pseudo-terminal: `history delete` shows what it will delete and waits for y/N."""
    import os
    import pty

    run("grade", "7", "--text", FIRST)
    (attempt,) = listed()

    def delete_answering(answer: str) -> subprocess.CompletedProcess:
        leader, follower = pty.openpty()
        try:
            proc = subprocess.Popen([sys.executable, "-m", "infralens_coach.cli", "history", "delete", attempt["id"]],
                                    stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, "INFRALENS_HOME": str(home)})  # fmt: skip
            os.write(leader, answer.encode() + b"\n")
            out, err = proc.communicate(timeout=60)
        finally:
            os.close(leader)
            os.close(follower)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    kept = delete_answering("n")
    assert f"Delete attempt {attempt['id']} (card 07" in kept.stdout and "[y/N]" in kept.stdout
    assert kept.returncode == 1 and "not deleted" in kept.stdout and len(listed()) == 1
    gone = delete_answering("y")
    assert gone.returncode == 0, gone.stderr
    assert f"deleted {attempt['id']}" in gone.stdout and listed() == []


@pytest.mark.slow
def test_next_and_checklist(home):
    first = run("next")
    assert first.exit_code == 0 and "Next: card 01" in first.output and "never practised" in first.output
    for card in range(1, 9):
        run("grade", str(card), "--text", FIRST)
    ranked = json.loads(run("next", "--json").output)
    assert ranked[0]["card"] == 9 and not ranked[0]["practised"]
    assert {r["card"] for r in ranked if r["practised"]} == set(range(1, 9))
    items = json.loads(run("checklist", "--json").output)
    assert [i["card"] for i in items] == list(range(1, 9)) and {i["status"] for i in items} <= {"weak", "solid"}
    text = run("checklist").output
    assert "Before an interview, you should be able to answer these without reading the page." in text
    assert "of 8 solid" in text
    assert "spaced-repetition" in run("next", "--help").output


@pytest.mark.slow
def test_in_a_real_process_and_a_clear_error_when_the_data_dir_is_unusable(tmp_path):
    env = {**__import__("os").environ, "INFRALENS_HOME": str(tmp_path / "home")}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "infralens_coach.cli", *args], capture_output=True, text=True,
                              env=env, timeout=60)  # fmt: skip

    assert cli("grade", "7", "--text", FIRST).returncode == 0
    listed_ = cli("history", "list", "--json")
    assert listed_.returncode == 0 and len(json.loads(listed_.stdout)) == 1

    (tmp_path / "file").write_text("not a directory")
    env["INFRALENS_HOME"] = str(tmp_path / "file")
    broken = cli("grade", "7", "--text", FIRST)
    assert broken.returncode == 2 and "cannot open the history" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1 and "Traceback" not in broken.stderr
    assert cli("grade", "7", "--text", FIRST, "--no-save").returncode == 0


@pytest.mark.slow
def test_an_unreachable_llm_saves_the_answer_ungraded_and_regrade_grades_it_later(tmp_path):
    """The real pipeline: `grade --grader llm` with no LLM server, then `history regrade --grader keyword`."""
    env = {**__import__("os").environ, "INFRALENS_HOME": str(tmp_path / "home"), "INFRALENS_LLM_MODEL": "openai/fake",
           "INFRALENS_LLM_API_BASE": "http://127.0.0.1:9/v1", "INFRALENS_LLM_TIMEOUT_S": "1"}  # fmt: skip

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "infralens_coach.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120)  # fmt: skip

    failed = cli("grade", "7", "--grader", "llm", "--text", FIRST)
    assert failed.returncode == 2 and "saved as ungraded attempt" in failed.stderr
    (attempt,) = json.loads(cli("history", "list", "--json").stdout)
    assert attempt["id"] in failed.stderr and attempt["state"] == "ungraded" and attempt["transcript"] == FIRST
    regraded = cli("history", "regrade", attempt["id"], "--grader", "keyword", "--json")
    assert regraded.returncode == 0 and json.loads(regraded.stdout)["decided_by"] == "keyword"
    (after,) = json.loads(cli("history", "list", "--json").stdout)
    assert after["state"] == "graded" and after["ungraded_reason"] is None


@pytest.mark.slow
def test_grade_audio_keeps_the_transcript_segments_metrics_and_a_copy_of_the_recording(home):
    """The real bundled speech model on real (espeak-ng) speech: an upload attempt holds what was heard."""
    from support import clips

    recording = clips.speech(clips.PAUSE_FIRST)
    result = run("grade", "7", "--audio", str(recording))
    assert result.exit_code == 0, result.output
    (attempt,) = listed()
    assert attempt["mode"] == "upload" and attempt["state"] == "graded"
    assert attempt["engine"] == "faster-whisper" and attempt["model"]
    assert attempt["segments"] and attempt["segments"][0]["words"]
    assert attempt["transcript_raw"] == attempt["transcript"] and "work" in attempt["transcript"].lower()
    assert attempt["duration_s"] > 1 and attempt["speech_s"] > 0 and attempt["transcribe_s"] > 0
    assert attempt["metrics"]["word_count"] > 3
    assert attempt["audio_source"] == recording.name
    assert (home / attempt["audio_path"]).read_bytes() == recording.read_bytes()
    shown = run("history", "show", attempt["id"]).output
    assert "faster-whisper" in shown and "Audio:" in shown and "Delivery:" in shown


def full_grade(bank):
    """A card-7 grade with every field of Grade (and of its parts) set to something other than its default."""
    import dataclasses

    from infralens_coach.grading import KeywordGrader
    from infralens_coach.grading.base import DimensionScore, Grade, MisconceptionHit, SampleStats

    question = bank.get(7)
    base = KeywordGrader().grade(question, bank.rubric, FIRST)
    mistake = question.misconceptions[0]
    grade = dataclasses.replace(
        base, decided_by="llm:openai/grader", fallback_reason="an earlier LLM timed out",
        misconceptions=(MisconceptionHit(mistake.id, mistake.text, "a batch task can run as a Deployment"),),
        follow_up="How would you clean up finished Jobs?", summary="A clear contrast.",
        flags=("injection:role-tag", "disagree:tradeoffs"), review=("tradeoffs",), dropped_quotes=2,
        prompt_tokens=1234, samples=(SampleStats("mechanism", (2, 3, 3), 2.67, 1),
                                     SampleStats("tradeoffs", (1, 1, 4), 2.0, 3)), cached=True,
        structured_output="json_schema",
    )  # fmt: skip
    for f in dataclasses.fields(Grade):  # a field added later must be added here too, or this fails
        assert getattr(grade, f.name) not in (None, (), 0, False, ""), f"set {f.name} in full_grade"
    for f in dataclasses.fields(DimensionScore):
        assert any(getattr(d, f.name) for d in grade.dimensions), f"no dimension sets {f.name}"
    return question, grade


def test_every_field_of_an_llm_grade_survives_the_history_show_and_regrade(home):
    """One decoder (Grade.from_json) for the history: nothing of an LLM grade is lost on the way back."""
    from infralens_coach.grading.base import Grade
    from infralens_coach.history import new_attempt

    bank = QuestionBank.load()
    question, grade = full_grade(bank)
    with HistoryStore.open(Settings.from_env()) as store:
        saved = store.save(new_attempt(question, bank.rubric, FIRST, grade=grade.to_json()))
        assert Grade.from_json(store.get(saved.id).grade) == grade
    shown = json.loads(run("history", "show", saved.id, "--json").output)
    assert shown["grade"] == grade.to_json() and Grade.from_json(shown["grade"]) == grade

    text = run("history", "show", saved.id).output
    for words in (
        "Graded by: llm:openai/grader — fell back because an earlier LLM timed out",
        "Misconceptions asserted:",
        "Follow-up: How would you clean up finished Jobs?",
        "A clear contrast.",
        "chat role tags",
        "Tradeoffs: the LLM and the keyword grader differ",
        "2 quote(s) from the LLM did not occur in your answer",
        "3 samples, mean (range): Mechanism 2.67 (2-3), Tradeoffs 2 (1-4)",
        "Prompt: 1234 tokens (cached grade)",
    ):
        assert words in text, words


@pytest.mark.slow
def test_regrade_with_the_llm_shows_the_whole_grade(home, monkeypatch):
    from support.fake_openai import FakeOpenAI, Reply

    from infralens_coach.content import DIMENSIONS

    run("grade", "7", "--text", FIRST, "--grader", "keyword")
    (attempt,) = listed()
    quote = "it runs until it completes and retries failed pods"
    reply = {
        "dimensions": [
            {"id": d, "score": 3, "evidence": [quote, "an invented quote"], "missing": [], "feedback": f"{d}: ok"}
            for d in DIMENSIONS
        ],
        "misconceptions": [],
        "follow_up": "Why?",
        "summary": "Fine.",
    }
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    with FakeOpenAI() as server:
        server.enqueue(Reply.content(json.dumps(reply)))
        regraded = run(
            "history",
            "regrade",
            attempt["id"],
            "--grader",
            "llm",
            "--model",
            "openai/grader",
            env={"INFRALENS_LLM_API_BASE": server.url},
        )
    assert regraded.exit_code == 0, regraded.output
    assert "Graded by: llm:openai/grader" in regraded.output
    assert "5 quote(s) from the LLM did not occur in your answer" in regraded.output
    assert "Prompt: " in regraded.output and " tokens" in regraded.output
