"""The history store on real SQLite files: migrations, saves, audio, concurrency, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from support.fakes import JOB_ANSWER, FailingGrader

from infralens_coach import history, progress
from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.errors import GraderUnavailable, HistoryError
from infralens_coach.grading import KeywordGrader
from infralens_coach.grading.base import Grade
from infralens_coach.history import HistoryStore, new_attempt, new_id
from infralens_coach.transcribe import Segment, Transcript, Word

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "support" / "history_worker.py"
ANSWER = JOB_ANSWER


@pytest.fixture(scope="module")
def bank():
    return QuestionBank.load()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def graded_attempt(bank, card=7, text=ANSWER, **kw):
    question = bank.get(card)
    grade = KeywordGrader().grade(question, bank.rubric, text).to_json()
    return new_attempt(question, bank.rubric, text, grade=grade, **kw)


def schema(path: Path) -> dict:
    """Tables with their columns, and indexes with theirs (the SQL text differs in layout and comments)."""
    db = sqlite3.connect(path)
    result = {}
    for kind, name in db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"):
        pragma = "table_info" if kind == "table" else "index_info"
        result[kind, name] = [tuple(row) for row in db.execute(f"PRAGMA {pragma}({name})")]
    db.close()
    return result


def raw_integrity_check(path: Path) -> str:
    db = sqlite3.connect(path)
    result = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    return result


# ---------------------------------------------------------------- ids


def test_ids_sort_in_creation_order_and_carry_the_time():
    ids = [new_id() for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)
    assert abs(history.id_time(ids[0]).timestamp() - time.time()) < 5


# ---------------------------------------------------------------- migrations


def test_a_fresh_database_gets_every_migration_wal_and_a_busy_timeout(home):
    with HistoryStore.open(Settings.from_env()) as store:
        assert store.path == home / "history.db"
        names = [r[0] for r in store.db.execute("SELECT name FROM _migrations ORDER BY rowid")]
        assert names == [m.__name__ for m in history.MIGRATIONS] == ["m001_attempts", "m002_attempt_dimensions"]
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with HistoryStore.open(Settings.from_env()) as again:  # nothing left to apply
        assert history.migrate(again.db) == []


OLD_SCHEMA = """
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_utc TEXT NOT NULL);
INSERT INTO _migrations VALUES ('m001_attempts', '2025-01-01T00:00:00.000Z');
CREATE TABLE attempts (
    id TEXT PRIMARY KEY, created_utc TEXT NOT NULL, card INTEGER NOT NULL, question_id TEXT NOT NULL,
    question_version TEXT NOT NULL, mode TEXT NOT NULL CHECK (mode IN ('voice', 'upload', 'text')),
    state TEXT NOT NULL CHECK (state IN ('graded', 'ungraded')), ungraded_reason TEXT, transcript_raw TEXT NOT NULL,
    transcript TEXT NOT NULL, segments_json TEXT NOT NULL DEFAULT '[]', duration_s REAL, speech_s REAL, engine TEXT,
    model TEXT, audio_path TEXT, audio_source TEXT, metrics_json TEXT, grade_json TEXT, overall INTEGER,
    decided_by TEXT, fallback_reason TEXT, transcribe_s REAL, grade_s REAL, graded_utc TEXT,
    app_version TEXT NOT NULL
);
CREATE INDEX attempts_by_card ON attempts (card, id);
"""


def test_an_older_hand_built_database_is_upgraded_and_backfilled(home, bank):
    """A history written before m002 (no per-dimension table) ends at the current schema with its data."""
    home.mkdir()
    old = home / "history.db"
    db = sqlite3.connect(old)
    db.executescript(OLD_SCHEMA)
    kept = graded_attempt(bank)
    grade_json = json.dumps(kept.grade)
    db.execute(
        "INSERT INTO attempts (id, created_utc, card, question_id, question_version, mode, state, transcript_raw, "
        "transcript, grade_json, overall, decided_by, app_version) VALUES (?, ?, 7, ?, ?, 'text', 'graded', ?, ?, ?, ?,"
        " 'keyword', '0.0.1')",
        (kept.id, kept.created_utc, kept.question_id, kept.question_version, ANSWER, ANSWER, grade_json, kept.overall),
    )
    db.execute(
        "INSERT INTO attempts (id, created_utc, card, question_id, question_version, mode, state, ungraded_reason, "
        "transcript_raw, transcript, app_version) VALUES (?, ?, 3, 'ml-infra-vs-mlops', 'x', 'voice', 'ungraded', "
        "'LLM timed out', 'raw words', 'edited words', '0.0.1')",
        (new_id(), kept.created_utc),
    )
    db.commit()
    db.close()

    with HistoryStore.open(Settings.from_env()) as store:
        assert [a.state for a in store.list()] == ["graded", "ungraded"]
        series = progress.score_series(store.list(), 7)
        assert {dim: pts[0][1:] for dim, pts in series.items()} == kept.scores()
        backfilled = store.db.execute(
            "SELECT dimension, score, max_score FROM attempt_dimensions WHERE attempt_id = ?", (kept.id,)
        ).fetchall()  # m002 filled the per-dimension table from grade_json
        assert {dim: (score, top) for dim, score, top in backfilled} == kept.scores()
        assert store.get(kept.id).grade == kept.grade
        assert store.integrity_check() == "ok"
    fresh = home.parent / "fresh" / "history.db"
    HistoryStore(fresh).close()
    assert schema(old) == schema(fresh)


def test_a_file_that_is_not_a_database_is_a_clear_error(home):
    home.mkdir()
    (home / "history.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryError, match="not a usable history database"):
        HistoryStore.open(Settings.from_env())


@pytest.mark.slow
def test_schema_doc_is_generated_from_the_migrations_and_current():
    doc = (REPO / "docs" / "history.md").read_text(encoding="utf-8")
    assert doc == history.schema_doc(), "regenerate: python -m infralens_coach.history --schema-doc > docs/history.md"
    for migration in history.MIGRATIONS:
        assert migration.__name__ in doc
    out = subprocess.run([sys.executable, "-m", "infralens_coach.history", "--schema-doc"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert out == doc


# ---------------------------------------------------------------- saving and reading


def spoken_transcript() -> Transcript:
    words = (Word("A", 0.0, 0.2, 0.9), Word("Job", 0.2, 0.6, 0.95))
    return Transcript("A Job runs to completion.", (Segment("A Job runs to completion.", 0.0, 1.8, words, -0.2, 0.01),),
                      duration_s=2.5, speech_s=1.8, engine="faster-whisper", model="tiny.en")  # fmt: skip


def test_everything_an_attempt_holds_reads_back(home, bank, tmp_path):
    recording = tmp_path / "answer.WAV"
    recording.write_bytes(b"RIFF fake wav bytes")
    question = bank.get(7)
    spoken = spoken_transcript()
    grade = KeywordGrader().grade(question, bank.rubric, ANSWER)
    attempt = new_attempt(question, bank.rubric, ANSWER, mode="upload", grade=grade.to_json(),
                          transcript=spoken.to_dict(),
                          metrics={"words_per_minute": 140, "filler_count": 2, "notes": ["pace ok"]},
                          transcribe_s=1.25, grade_s=0.01)  # fmt: skip
    with HistoryStore.open(Settings.from_env()) as store:
        saved = store.save(attempt, audio=recording)
        assert saved.audio_path == f"audio/{saved.id}.wav" and saved.audio_source == "answer.WAV"
        assert store.audio_file(saved).read_bytes() == recording.read_bytes()
        back = store.get(saved.id)
    assert back == saved
    assert back.transcript_raw == "A Job runs to completion." and back.transcript == ANSWER  # edited != heard
    assert back.segments == spoken.to_dict()["segments"] and back.segments[0]["words"][1]["text"] == "Job"
    assert (back.engine, back.model, back.duration_s, back.speech_s) == ("faster-whisper", "tiny.en", 2.5, 1.8)
    assert back.grade == grade.to_json() and back.decided_by == "keyword" and back.fallback_reason is None
    assert back.question_version == question.version(bank.rubric)
    assert back.metrics["filler_count"] == 2 and back.transcribe_s == 1.25
    assert Grade.from_json(back.grade) == grade


def test_microphone_samples_are_kept_as_a_wav(home, bank):
    samples = (0.3 * np.sin(np.linspace(0, 2000, 16_000))).astype(np.float32)
    with HistoryStore.open(Settings.from_env()) as store:
        saved = store.save(graded_attempt(bank, mode="voice"), audio=samples)
        with wave.open(str(store.audio_file(saved))) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (16_000, 1, 16_000)


def test_keep_audio_off_stores_no_copy(home, bank, tmp_path, monkeypatch):
    monkeypatch.setenv("INFRALENS_KEEP_AUDIO", "0")
    recording = tmp_path / "answer.webm"
    recording.write_bytes(b"webm")
    with HistoryStore.open(Settings.from_env()) as store:
        saved = store.save(graded_attempt(bank, mode="upload"), audio=recording)
        assert store.get(saved.id).audio_path is None and saved.audio_source == "answer.webm"
    assert not (home / "audio").exists()


def test_lookup_by_start_or_end_of_the_id(home, bank):
    with HistoryStore.open(Settings.from_env()) as store:
        a = store.save(graded_attempt(bank))
        b = store.save(graded_attempt(bank))
        assert store.get(a.id.lower()).id == a.id
        assert store.get(b.id[-6:]).id == b.id
        with pytest.raises(HistoryError, match="more than one"):
            store.get(a.id[:8])  # same millisecond range: both start alike
        with pytest.raises(HistoryError, match="no attempt"):
            store.get("ZZZZZZZZ")
        with pytest.raises(HistoryError, match="not an attempt id"):
            store.get("a%")


def test_a_failed_save_leaves_nothing_behind(home, bank, tmp_path):
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    with HistoryStore.open(Settings.from_env()) as store:
        first = store.save(graded_attempt(bank))
        with pytest.raises(HistoryError, match="could not save"):
            store.save(first, audio=recording)  # same id: the insert fails
        assert store.count() == 1
        assert store.db.execute("SELECT count(*) FROM attempt_dimensions").fetchone()[0] == 5
        assert list((home / "audio").iterdir()) == []


def test_a_grader_failure_keeps_the_answer_ungraded_and_regrade_grades_it(home, bank):
    question = bank.get(7)
    with HistoryStore.open(Settings.from_env()) as store:
        failing = Coach(bank, Settings(), grader=FailingGrader(), store=store)
        with pytest.raises(GraderUnavailable, match="saved as ungraded attempt") as caught:
            failing.submit(question, ANSWER)
        (attempt,) = store.list()
        assert attempt.id in str(caught.value)
        assert attempt.state == "ungraded" and "refused the connection" in attempt.ungraded_reason
        assert attempt.grade is None and attempt.transcript == ANSWER and progress.score_series(store.list(), 7) == {}

        with pytest.raises(GraderUnavailable):  # still failing: kept, reason refreshed
            failing.regrade(attempt.id)
        assert store.get(attempt.id).state == "ungraded"

        regraded = Coach(bank, Settings(), grader=KeywordGrader(), store=store).regrade(attempt.id).attempt
        assert regraded.state == "graded" and regraded.ungraded_reason is None and regraded.overall > 0
        assert store.get(attempt.id) == regraded and set(progress.score_series(store.list(), 7)) == set(
            regraded.scores()
        )

        with pytest.raises(GraderUnavailable):  # a failing regrade never erases a grade
            failing.regrade(attempt.id)
        assert store.get(attempt.id).grade == regraded.grade


def test_delete_removes_the_row_its_scores_and_its_audio(home, bank, tmp_path):
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    with HistoryStore.open(Settings.from_env()) as store:
        keep = store.save(graded_attempt(bank))
        gone = store.save(graded_attempt(bank), audio=recording)
        store.delete(gone.id[-8:])
        assert [a.id for a in store.list()] == [keep.id]
        assert store.db.execute("SELECT count(*) FROM attempt_dimensions").fetchone()[0] == 5
        assert not store.audio_file(gone).exists()
        with pytest.raises(HistoryError):
            store.delete(gone.id)


# ---------------------------------------------------------------- concurrency and crashes


def test_twenty_threads_each_with_its_own_connection_on_a_new_file(tmp_path, bank):
    """All 20 open (and so create and migrate) the same new file at once, then save."""
    path = tmp_path / "history.db"
    attempts = [graded_attempt(bank) for _ in range(20)]
    start = threading.Barrier(20)
    errors = []

    def work(attempt):
        try:
            start.wait()
            with HistoryStore(path) as store:
                store.save(attempt)
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with HistoryStore(path) as store:
        assert sorted(a.id for a in store.list()) == sorted(a.id for a in attempts)
        assert store.integrity_check() == "ok"


def test_twenty_threads_sharing_one_store(tmp_path, bank):
    attempts = [graded_attempt(bank) for _ in range(20)]
    with HistoryStore(tmp_path / "history.db") as store:
        threads = [threading.Thread(target=store.save, args=(a,)) for a in attempts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.count() == 20
        assert store.db.execute("SELECT count(*) FROM attempt_dimensions").fetchone()[0] == 100


@pytest.mark.slow
def test_twenty_processes_saving_at_once(tmp_path):
    path = tmp_path / "history.db"
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(path), "once", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(20)
    ]
    for proc in procs:  # every interpreter is up and has its attempt ready ...
        assert proc.stdout.readline().strip() == "ready"
    go.touch()  # ... then all open the new file and save at once
    reported = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reported.append(out.strip())
    with HistoryStore(path) as store:
        assert sorted(a.id for a in store.list()) == sorted(reported) and len(set(reported)) == 20
        assert store.integrity_check() == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("saves_before_kill", [5, 40, 120])
def test_kill_9_in_the_middle_of_a_save_loop_loses_nothing_reported(tmp_path, saves_before_kill):
    path = tmp_path / "history.db"
    proc = subprocess.Popen([sys.executable, str(WORKER), str(path), "loop"], stdout=subprocess.PIPE, text=True)
    reported = []
    for line in proc.stdout:
        reported.append(line.strip())
        if len(reported) >= saves_before_kill:
            break
    time.sleep(0.003 * (saves_before_kill % 7))  # land at different points of a save
    os.kill(proc.pid, signal.SIGKILL)
    reported += [line.strip() for line in proc.stdout]  # ids printed (after commit) before the kill landed
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert raw_integrity_check(path) == "ok"
    with HistoryStore(path) as store:
        assert store.integrity_check() == "ok"
        stored = {a.id for a in store.list()}
        assert set(reported) <= stored
        assert len(stored) - len(reported) <= 1  # at most the one committed just before the kill, not printed
        dims = store.db.execute("SELECT count(DISTINCT attempt_id) FROM attempt_dimensions").fetchone()[0]
        assert dims == len(stored)  # no attempt without its scores: each save is whole
