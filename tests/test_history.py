"""The history store on real SQLite files: migrations, saves, audio, concurrency, kill -9."""

from __future__ import annotations

import dataclasses
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
from support.app_server import outside_home
from support.fakes import JOB_ANSWER, FailingGrader
from support.postgres import BACKENDS, postgres_server, postgres_url  # noqa: F401  (fixtures)

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


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Each history test runs on SQLite and on a real PostgreSQL server (INFRALENS_DATABASE_URL)."""
    monkeypatch.delenv("INFRALENS_DATABASE_URL", raising=False)
    if request.param == "postgresql":
        monkeypatch.setenv("INFRALENS_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return request.param


@pytest.fixture
def home(monkeypatch, backend):
    """A data directory under ~/.cache, as the default ~/.local/share/... is (a /tmp fixture once hid a bug)."""
    with outside_home("history") as parent:
        monkeypatch.setenv("INFRALENS_HOME", str(parent / "home"))
        yield parent / "home"  # not made yet: the store makes it


@pytest.fixture
def sqlite_home(monkeypatch):
    """For what only a SQLite file has: pragmas, an old file to upgrade, a file that is not a database."""
    monkeypatch.delenv("INFRALENS_DATABASE_URL", raising=False)
    with outside_home("history-sqlite") as parent:
        monkeypatch.setenv("INFRALENS_HOME", str(parent / "home"))
        yield parent / "home"


def opened(settings=None) -> HistoryStore:
    """The history the settings name, as every entry point opens it."""
    return HistoryStore.open(settings or Settings.from_env())


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


def test_a_fresh_database_gets_every_migration(home, backend):
    with opened() as store:
        assert store.dialect == backend
        names = [r[0] for r in store.db.execute("SELECT name FROM _migrations ORDER BY applied_utc, name")]
        assert names == [m.__name__ for m in history.MIGRATIONS]
        assert names[:2] == ["m001_attempts", "m002_attempt_dimensions"] and "m004_users" in names
    with opened() as again:  # nothing left to apply
        assert history.migrate(again.db) == []


def test_a_fresh_sqlite_file_gets_wal_and_a_busy_timeout(sqlite_home):
    with opened() as store:
        assert store.path == sqlite_home / "history.db" and store.dialect == "sqlite"
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


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


def test_an_older_hand_built_database_is_upgraded_and_backfilled(sqlite_home, bank):
    """A history written before m002 (no per-dimension table) ends at the current schema with its data."""
    home = sqlite_home
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

    with opened() as store:
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


def test_a_file_that_is_not_a_database_is_a_clear_error(sqlite_home):
    sqlite_home.mkdir()
    (sqlite_home / "history.db").write_bytes(b"this is not sqlite" * 100)
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
    with opened() as store:
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
    with opened() as store:
        saved = store.save(graded_attempt(bank, mode="voice"), audio=samples)
        with wave.open(str(store.audio_file(saved))) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (16_000, 1, 16_000)


def test_int16_microphone_samples_are_kept_as_they_were_heard(home, bank):
    """Before: sounddevice's int16 blocks were clipped to [-1, 1] as if they were floats (a square wave)."""
    heard = (9000 * np.sin(np.linspace(0, 2000, 16_000))).astype(np.int16)
    with opened() as store:
        saved = store.save(graded_attempt(bank, mode="voice"), audio=heard)
        with wave.open(str(store.audio_file(saved))) as wav:
            kept = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert len(kept) == len(heard) and np.abs(kept.astype(int) - heard.astype(int)).max() <= 1


def test_keep_audio_off_stores_no_copy(home, bank, tmp_path, monkeypatch):
    monkeypatch.setenv("INFRALENS_KEEP_AUDIO", "0")
    recording = tmp_path / "answer.webm"
    recording.write_bytes(b"webm")
    with opened() as store:
        saved = store.save(graded_attempt(bank, mode="upload"), audio=recording)
        assert store.get(saved.id).audio_path is None and saved.audio_source == "answer.webm"
    assert not (home / "audio").exists()


def test_lookup_by_start_or_end_of_the_id(home, bank):
    with opened() as store:
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
    with opened() as store:
        first = store.save(graded_attempt(bank))
        with pytest.raises(HistoryError, match="could not save"):
            store.save(first, audio=recording)  # same id: the insert fails
        assert store.count() == 1
        assert store.db.execute("SELECT count(*) FROM attempt_dimensions").fetchone()[0] == 5
        assert list((home / "audio").iterdir()) == []


def test_a_grader_failure_keeps_the_answer_ungraded_and_regrade_grades_it(home, bank):
    question = bank.get(7)
    with opened() as store:
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
    with opened() as store:
        keep = store.save(graded_attempt(bank))
        gone = store.save(graded_attempt(bank), audio=recording)
        store.delete(gone.id[-8:])
        assert [a.id for a in store.list()] == [keep.id]
        assert store.db.execute("SELECT count(*) FROM attempt_dimensions").fetchone()[0] == 5
        assert not store.audio_file(gone).exists()
        with pytest.raises(HistoryError):
            store.delete(gone.id)


# ---------------------------------------------------------------- concurrency and crashes


@pytest.fixture
def location(tmp_path, backend):
    """A new, empty history: a SQLite file, or a PostgreSQL database's URL."""
    return os.environ["INFRALENS_DATABASE_URL"] if backend == "postgresql" else tmp_path / "history.db"


def test_twenty_threads_each_with_its_own_connection_on_a_new_file(location, tmp_path, bank):
    """All 20 open (and so create and migrate) the same new database at once, then save."""
    path = location
    attempts = [graded_attempt(bank) for _ in range(20)]
    start = threading.Barrier(20)
    errors = []

    def work(attempt):
        try:
            start.wait()
            with HistoryStore(path, data_dir=tmp_path) as store:
                store.save(attempt)
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with HistoryStore(path, data_dir=tmp_path) as store:
        assert sorted(a.id for a in store.list()) == sorted(a.id for a in attempts)
        assert store.integrity_check() == "ok"


def test_twenty_threads_sharing_one_store(location, tmp_path, bank):
    attempts = [graded_attempt(bank) for _ in range(20)]
    with HistoryStore(location, data_dir=tmp_path) as store:
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


# ---------------------------------------------------------------- PostgreSQL


@pytest.mark.slow
def test_postgresql_gets_the_same_schema_as_sqlite(request, tmp_path):
    """One set of migrations: the same tables with the same columns and nullability on both."""
    import psycopg

    url = request.getfixturevalue("postgres_url")
    HistoryStore(tmp_path / "history.db").close()
    HistoryStore(url, data_dir=tmp_path).close()
    db = sqlite3.connect(tmp_path / "history.db")
    lite = {
        (table, col[1], bool(col[3] or col[5]))
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for col in db.execute(f"PRAGMA table_info({table})")
    }
    db.close()
    with psycopg.connect(url) as conn:
        pg = {
            (table, column, nullable == "NO")
            for table, column, nullable in conn.execute(
                "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            )
        }
        real = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'attempts' AND column_name = 'speech_s'"
        ).fetchone()[0]
    assert pg == lite and ("attempts", "user_name", True) in pg
    assert real == "double precision"  # SQLite's REAL is 8 bytes; PostgreSQL's REAL only 4


def test_an_unreachable_postgresql_is_a_clear_error_without_the_password(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRALENS_DATABASE_URL", "postgresql://coach:s3cret-pw@127.0.0.1:9/history")
    hidden = "cannot open the history at postgresql://coach:\\*\\*\\*@127.0.0.1:9"
    with pytest.raises(HistoryError, match=hidden) as err:
        HistoryStore.open(Settings(data_dir=tmp_path, database_url=Settings.from_env().database_url))
    assert "s3cret-pw" not in str(err.value)


def test_a_database_url_that_is_not_postgresql_is_refused(monkeypatch):
    from infralens_coach.errors import CoachError

    monkeypatch.setenv("INFRALENS_DATABASE_URL", "mysql://x@host/db")
    with pytest.raises(CoachError, match="INFRALENS_DATABASE_URL must be a postgresql:// URL"):
        Settings.from_env()


@pytest.mark.slow
def test_sqlite_and_the_cli_never_import_psycopg():
    code = (
        "import sys, tempfile; from pathlib import Path; import infralens_coach.cli; "
        "from infralens_coach.history import HistoryStore; "
        "HistoryStore(Path(tempfile.mkdtemp()) / 'h.db').close(); print('psycopg' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_recordings_go_to_the_recordings_dir_setting(home, bank, tmp_path, monkeypatch):
    shared = tmp_path / "shared-recordings"  # e.g. a volume every app replica mounts
    monkeypatch.setenv("INFRALENS_RECORDINGS_DIR", str(shared))
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"RIFF")
    with opened() as store:
        saved = store.save(graded_attempt(bank, mode="upload"), audio=recording)
        assert saved.audio_path == f"audio/{saved.id}.wav"  # the key: where it lives is the setting's business
        assert store.audio_file(saved) == shared / f"{saved.id}.wav" and store.audio_file(saved).read_bytes() == b"RIFF"
        store.delete(saved.id)
        assert not (shared / f"{saved.id}.wav").exists()
    assert not (home / "audio").exists()


# ---------------------------------------------------------------- a history per user


def test_each_user_sees_only_their_own_attempts_and_recordings(home, bank, tmp_path):
    recording = tmp_path / "answer.wav"
    recording.write_bytes(b"RIFF alice")
    with opened() as store:
        alice, bob = store.for_user("alice"), store.for_user("bob")
        hers = alice.save(graded_attempt(bank, mode="upload"), audio=recording)
        his = bob.save(graded_attempt(bank))
        mine = store.save(graded_attempt(bank))  # single-user mode: user ""
        assert (hers.user, his.user, mine.user) == ("alice", "bob", "")
        assert hers.audio_path == f"audio/alice/{hers.id}.wav"
        assert alice.audio_file(hers) == home / "audio" / "alice" / f"{hers.id}.wav"
        assert [a.id for a in alice.list()] == [hers.id] and [a.id for a in bob.list()] == [his.id]
        assert [a.id for a in store.list()] == [mine.id] and alice.count() == bob.count() == store.count() == 1
        for other, ref in ((bob, hers.id), (bob, hers.id[-6:]), (alice, his.id), (store, hers.id)):
            with pytest.raises(HistoryError, match="no attempt"):
                other.get(ref)
            with pytest.raises(HistoryError, match="no attempt"):
                other.delete(ref)
            with pytest.raises(HistoryError, match="no attempt"):
                other.update_grade(ref, ungraded_reason="x")
        with pytest.raises(HistoryError, match="not bob's"):
            bob.audio_file(hers)  # the row came from elsewhere: still refused
        forged = dataclasses.replace(his, audio_path=hers.audio_path)  # a row pointing at another user's file
        with pytest.raises(HistoryError, match="not bob's"):
            bob.audio_file(forged)
        shared = bob.save(graded_attempt(bank, mode="upload"), audio=alice.audio_file(hers))
        assert shared.audio_path == f"audio/bob/{shared.id}.wav"  # never a link to alice's copy
        assert progress.score_series(bob.list(), 7) and len(bob.list(graded_only=True)) == 2
        assert alice.get(hers.id) == hers
    assert (home / "audio" / "alice" / f"{hers.id}.wav").read_bytes() == b"RIFF alice"


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "x" * 65, "al ice", "é"])
def test_a_user_name_that_is_not_a_safe_directory_name_is_refused(tmp_path, name):
    with HistoryStore(tmp_path / "history.db") as store, pytest.raises(HistoryError, match="user name"):
        store.for_user(name)


def test_a_single_user_history_from_before_users_migrates_and_stays_visible(sqlite_home, bank):
    """A file written before m004_users: its attempts become user "" (single-user mode keeps seeing them)."""
    sqlite_home.mkdir()
    old = graded_attempt(bank)
    db = sqlite3.connect(sqlite_home / "history.db")
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO attempts (id, created_utc, card, question_id, question_version, mode, state, transcript_raw, "
        "transcript, grade_json, overall, decided_by, audio_path, app_version) "
        "VALUES (?, ?, 7, ?, ?, 'text', 'graded', ?, ?, ?, ?, 'keyword', ?, '0.0.1')",
        (old.id, old.created_utc, old.question_id, old.question_version, ANSWER, ANSWER, json.dumps(old.grade),
         old.overall, f"audio/{old.id}.wav"),
    )  # fmt: skip
    db.commit()
    db.close()
    with opened() as store:
        (kept,) = store.list()
        assert kept.id == old.id and kept.user == "" and store.for_user("alice").list() == []
        assert store.audio_file(kept) == sqlite_home / "audio" / f"{old.id}.wav"  # the old layout still plays
        columns = [r[1] for r in store.db.execute("PRAGMA table_info(attempts)")]
        assert columns[-1] == "user_name"
