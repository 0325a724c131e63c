"""Every attempt kept: a SQLite history in the data directory (or PostgreSQL), safe under concurrent writers.
Storage only: grading and the failure policy live in the Coach (coach.py), which builds the attempts kept here.

    with HistoryStore.open(settings) as store:         # settings.data_dir/history.db, migrated on open
        attempt = store.save(new_attempt(question, rubric, text, grade=grade.to_json()))
        store.list(card=7); store.get(attempt.id[:12]); store.update_grade(attempt.id, new_grade.to_json())

- Migrations are append-only functions m001_..., applied in order on open inside one write transaction
  and recorded in `_migrations`; a shipped migration is never edited, a change is a new migration.
- Ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32): they sort by creation time.
- A save is one transaction (WAL, synchronous=FULL): after `save()` returns, the attempt survives a kill -9.
- An `ungraded` attempt carries the reason (a grader failure never becomes a fake score); `update_grade` gives
  it a grade later. Audio is copied to <data dir>/audio/<id><ext> unless INFRALENS_KEEP_AUDIO=0.
- PostgreSQL (INFRALENS_DATABASE_URL=postgresql://..., psycopg 3, imported only then) runs the same migrations:
  the SQL is written once, for SQLite, and history_sql.py is the dialect layer (placeholders, column types,
  BEGIN). Upserts use ON CONFLICT, which both accept.
- Recordings (recordings.py) are files in a directory (INFRALENS_RECORDINGS_DIR, else <data dir>/audio), or objects
  in an S3-compatible bucket (INFRALENS_RECORDINGS_BUCKET) cached in that directory; audio_path is "audio/<key>"
  either way. A recording the bucket cannot take waits in the cache: the attempt is saved all the same.
- Users: a store is one user's view (`store.for_user(name)`; "" is the single user with no accounts). Every
  read and write is scoped to it, and recordings go to audio/<user>/<id><ext>; `audio_file` refuses any other.

`python -m infralens_coach.history --schema-doc` prints docs/history.md, generated from the migrations.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Union

from .attempt import (  # noqa: F401  (re-exported: the history's public names)
    ID_ALPHABET,
    MODES,
    Attempt,
    id_time,
    new_attempt,
    new_id,
    parse_utc,
    utc_text,
)
from .config import Settings, check_user_name
from .errors import CoachError, HistoryError
from .history_sql import Db, Postgres, Row, redact, tables
from .recordings import DirectoryRecordings, Recordings, open_recordings

if TYPE_CHECKING:
    import numpy as np

# A recording to keep: a file (copied), or 16 kHz mono float samples from the microphone (written as WAV).
KeptAudio = Union[str, "os.PathLike[str]", "np.ndarray"]

BUSY_TIMEOUT_S = 15.0
DB_NAME = "history.db"
MIGRATION_LOCK = 7_201_517  # PostgreSQL advisory lock: one replica migrates at a time

# ---------------------------------------------------------------- migrations (append-only)

MIGRATIONS: list[Callable[[Db], None]] = []


def migration(fn: Callable[[Db], None]) -> Callable[[Db], None]:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_attempts(db: Db) -> None:
    """One row per attempt: the transcript (raw and edited), how it was heard, and its grade."""
    db.execute("""
CREATE TABLE attempts (
    id TEXT PRIMARY KEY,  -- ULID: 26 characters, sorts by creation time
    created_utc TEXT NOT NULL,  -- ISO 8601 UTC with milliseconds, e.g. 2025-06-01T10:22:03.114Z
    card INTEGER NOT NULL,  -- card number
    question_id TEXT NOT NULL,  -- card id (slug)
    question_version TEXT NOT NULL,  -- hash of card + rubric (Question.version): grades compare within one
    mode TEXT NOT NULL CHECK (mode IN ('voice', 'upload', 'text')),  -- how the answer arrived
    state TEXT NOT NULL CHECK (state IN ('graded', 'ungraded')),  -- ungraded: kept, but never counted
    ungraded_reason TEXT,  -- why grading failed; `history regrade ID` grades it later
    transcript_raw TEXT NOT NULL,  -- the engine's transcript, or the typed text
    transcript TEXT NOT NULL,  -- what is graded: the transcript after the user's edits
    segments_json TEXT NOT NULL DEFAULT '[]',  -- JSON list: segments with words and timings
    duration_s REAL,  -- length of the recording
    speech_s REAL,  -- voice-activity time in the recording
    engine TEXT,  -- speech engine name, e.g. faster-whisper
    model TEXT,  -- speech model name or path
    audio_path TEXT,  -- copy of the recording, relative to the data directory
    audio_source TEXT,  -- name of the file the audio came from
    metrics_json TEXT,  -- JSON: delivery metrics (pace, fillers, pauses)
    grade_json TEXT,  -- JSON: Grade.to_json(); NULL when ungraded
    overall INTEGER,  -- 0..100, copied from grade_json
    decided_by TEXT,  -- which grader decided, e.g. keyword or llm:openai/gpt-4o-mini
    fallback_reason TEXT,  -- why an earlier grader in the chain did not decide
    transcribe_s REAL,  -- seconds spent transcribing
    grade_s REAL,  -- seconds spent grading
    graded_utc TEXT,  -- when the grade was made (differs from created_utc after a regrade)
    app_version TEXT NOT NULL,  -- infralens-coach version that saved the attempt
    CHECK ((state = 'graded') = (grade_json IS NOT NULL)),
    CHECK (state = 'graded' OR ungraded_reason IS NOT NULL)
)""")
    db.execute("CREATE INDEX attempts_by_card ON attempts (card, id)")


@migration
def m002_attempt_dimensions(db: Db) -> None:
    """Per-dimension scores of graded attempts, one row each, for progress series; backfilled from grade_json."""
    db.execute("""
CREATE TABLE attempt_dimensions (
    attempt_id TEXT NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    dimension TEXT NOT NULL,  -- rubric dimension id, e.g. tradeoffs
    score INTEGER NOT NULL,  -- 0..max_score
    max_score INTEGER NOT NULL,  -- 4, or 0 when the card has nothing to assess on this dimension
    PRIMARY KEY (attempt_id, dimension)
) WITHOUT ROWID""")
    if isinstance(db, Postgres):  # the same backfill in PostgreSQL's JSON functions
        db.execute("""
INSERT INTO attempt_dimensions (attempt_id, dimension, score, max_score)
SELECT a.id, d.value ->> 'id', (d.value ->> 'score')::int, (d.value ->> 'max_score')::int
FROM attempts AS a, jsonb_array_elements(a.grade_json::jsonb -> 'dimensions') AS d (value)
WHERE a.state = 'graded'""")
        return
    db.execute("""
INSERT INTO attempt_dimensions (attempt_id, dimension, score, max_score)
SELECT a.id, json_extract(d.value, '$.id'), json_extract(d.value, '$.score'), json_extract(d.value, '$.max_score')
FROM attempts AS a, json_each(a.grade_json, '$.dimensions') AS d
WHERE a.state = 'graded'""")


@migration
def m003_sessions(db: Db) -> None:
    """Mock-interview sessions: one row each (the whole session as JSON, saved after every step, so a closed tab
    resumes it), and the attempts it graded linked in order. An in_progress session is incomplete, never failed."""
    db.execute("""
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,  -- ULID, like an attempt id
    created_utc TEXT NOT NULL,  -- when the session started
    updated_utc TEXT NOT NULL,  -- when its last step was saved
    style TEXT NOT NULL CHECK (style IN ('practice', 'interview')),  -- feedback after each answer, or at the end
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'complete')),  -- in_progress: resumable (incomplete)
    data_json TEXT NOT NULL,  -- JSON: cards, answers, probes, follow-up grades (mock.SessionData.to_json())
    app_version TEXT NOT NULL  -- infralens-coach version that saved it last
)""")
    db.execute("""
CREATE TABLE session_attempts (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    attempt_id TEXT NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,  -- the card's place in the session, from 0
    PRIMARY KEY (session_id, attempt_id)
) WITHOUT ROWID""")


@migration
def m004_users(db: Db) -> None:
    """Whose attempt or session: user_name is the login name with authentication on, '' for the single user of a
    history without accounts (every earlier row). Every read is scoped to one user."""
    for table in ("attempts", "sessions"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN user_name TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX attempts_by_user ON attempts (user_name, card, id)")
    db.execute("CREATE INDEX sessions_by_user ON sessions (user_name, id)")


def migrate(db: Db) -> list[str]:
    """Apply the pending migrations in one write transaction; returns the names applied."""
    if "_migrations" in tables(db):
        done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
        if all(m.__name__ in done for m in MIGRATIONS):
            return []
    applied = []
    with _write(db):
        if isinstance(db, Postgres):  # BEGIN IMMEDIATE's part: replicas starting at once migrate one by one
            db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        db.execute("""
CREATE TABLE IF NOT EXISTS _migrations (
    name TEXT PRIMARY KEY,  -- migration function name, e.g. m001_attempts
    applied_utc TEXT NOT NULL  -- when this database applied it
)""")
        done = {r[0] for r in db.execute("SELECT name FROM _migrations")}  # re-read under the write lock
        for fn in MIGRATIONS:
            if fn.__name__ not in done:
                fn(db)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, utc_text(datetime.now(timezone.utc))))
                applied.append(fn.__name__)
    return applied


class _write:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (the connection is in autocommit mode)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def __enter__(self) -> Db:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        self.db.execute("ROLLBACK")


# ---------------------------------------------------------------- the store

_COLUMNS = (
    "id", "created_utc", "card", "question_id", "question_version", "mode", "state", "ungraded_reason",
    "transcript_raw", "transcript", "segments_json", "duration_s", "speech_s", "engine", "model", "audio_path",
    "audio_source", "metrics_json", "grade_json", "overall", "decided_by", "fallback_reason", "transcribe_s",
    "grade_s", "graded_utc", "app_version", "user_name",
)  # fmt: skip
_JSON = {"segments_json": "segments", "metrics_json": "metrics", "grade_json": "grade"}


def _row(attempt: Attempt) -> tuple[Any, ...]:
    data = attempt.to_dict()
    data.update(overall=attempt.overall, decided_by=attempt.decided_by, fallback_reason=attempt.fallback_reason)
    data["user_name"] = data.pop("user")
    for column, key in _JSON.items():
        value = data.pop(key)
        data[column] = None if value is None else json.dumps(value, ensure_ascii=False)
    return tuple(data[c] for c in _COLUMNS)


def _attempt(row: sqlite3.Row | Row) -> Attempt:
    data = {k: row[k] for k in row.keys() if k not in ("overall", "decided_by", "fallback_reason")}  # noqa: SIM118 (a Row iterates values)
    data["user"] = data.pop("user_name")
    for column, key in _JSON.items():
        value = data.pop(column)
        data[key] = None if value is None else json.loads(value)
    return Attempt(**data)


def _write_wav(samples: np.ndarray, path: Path, sample_rate: int = 16_000) -> None:
    import wave

    import numpy as np

    from .audio import SAMPLE_RATE, from_array

    # int16 from the microphone (sounddevice) or float in [-1, 1]: scaled, never clipped as if it were float
    mono = from_array(samples, sample_rate, max_duration_s=None)
    pcm = (np.clip(mono, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)


@dataclasses.dataclass(frozen=True)
class KeptSession:
    """A mock-interview session as the history keeps it (m003_sessions)."""

    id: str
    created_utc: str
    updated_utc: str
    style: str  # practice | interview
    state: str  # in_progress | complete
    data: dict[str, Any]  # mock.SessionData.to_json()
    attempt_ids: tuple[tuple[int, str], ...] = ()  # (position, attempt id) of the attempts it graded
    app_version: str = ""


def _user(name: str) -> str:
    try:
        return check_user_name(name)
    except CoachError as exc:
        raise HistoryError(str(exc)) from None


class HistoryStore:
    """Attempts in one SQLite file or PostgreSQL database, as one user sees them. Thread-safe; open one per process
    (or per thread) as you like; `for_user` views share their store's connection."""

    def __init__(
        self,
        location: Path | str,
        *,
        keep_audio: bool = True,
        data_dir: Path | None = None,
        recordings_dir: Path | None = None,
        recordings: Recordings | None = None,
        user: str = "",
    ) -> None:
        """`location`: a SQLite file, or a postgresql:// URL (then `data_dir` holds the recordings)."""
        self.user = _user(user)
        self.keep_audio = keep_audio
        self._lock = threading.RLock()
        self._owner = True  # closes the connection (a for_user view does not)
        self.path: Path | str
        self.db: Db
        if str(location).startswith(("postgresql://", "postgres://")):
            if data_dir is None:
                raise HistoryError("a PostgreSQL history needs a data directory for its recordings")
            self.dialect, self.path, self.data_dir = "postgresql", redact(str(location)), data_dir
            self.db = self._open_postgres(str(location))
        else:
            self.dialect, self.path = "sqlite", Path(location)
            self.data_dir = data_dir or self.path.parent
            self.db = self._open_sqlite(self.path)
        self._errors = self.db.errors if isinstance(self.db, Postgres) else (sqlite3.Error,)
        # where recordings are kept: `recordings` (a bucket: HistoryStore.open), else files in recordings_dir
        self.recordings = recordings or DirectoryRecordings(recordings_dir or self.data_dir / "audio")
        self.audio_root = self.recordings.root

    def _open_sqlite(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open the history at {path}: {exc}") from exc
        db.row_factory = sqlite3.Row
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._wal(db)
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            migrate(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            if "locked" in str(exc):
                raise HistoryError(f"the history at {path} stayed locked by another process: {exc}") from exc
            raise HistoryError(f"{path} is not a usable history database: {exc}") from exc
        return db

    def _open_postgres(self, url: str) -> Postgres:
        try:
            import psycopg
        except ImportError:
            raise HistoryError(
                "INFRALENS_DATABASE_URL names a PostgreSQL history, but psycopg is not installed: "
                "pip install 'infralens-coach[postgres]'"
            ) from None
        try:
            db = Postgres(url)
        except psycopg.Error as exc:
            raise HistoryError(f"cannot open the history at {self.path}: {redact(str(exc)).strip()}") from None
        try:
            migrate(db)
        except psycopg.Error as exc:
            db.close()
            raise HistoryError(f"{self.path} is not a usable history database: {exc}") from exc
        return db

    @classmethod
    def open(cls, settings: Settings) -> HistoryStore:
        """The history the settings name: PostgreSQL at settings.database_url, else history.db in the data directory
        (INFRALENS_HOME or the platform's app data dir); as settings.user sees it."""
        return cls(
            settings.database_url or settings.data_dir / DB_NAME, keep_audio=settings.keep_audio,
            data_dir=settings.data_dir, recordings=open_recordings(settings), user=settings.user,
        )  # fmt: skip

    def for_user(self, user: str) -> HistoryStore:
        """The same history as `user` sees it: their attempts, sessions and recordings only (no new connection)."""
        view = copy.copy(self)
        view.user, view._owner = _user(user), False
        return view

    @staticmethod
    def _wal(db: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment alone with the file; a busy reply here ignores the busy
        # timeout, so wait for it (bounded) when many processes open a new database at once.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                if db.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                    return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.02)

    def close(self) -> None:
        if self._owner:
            self.db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing

    def save(self, attempt: Attempt, audio: KeptAudio | None = None) -> Attempt:
        """Insert atomically. `audio` (a file path, or 16 kHz mono float samples from the microphone) is
        first copied into the data dir, unless keep_audio is off; a path that already is one of the history's
        copies (the web app grading the same recording again) is shared, not copied again."""
        attempt = dataclasses.replace(attempt, user=self.user)
        copied = None
        shared = self._kept_copy(audio) if self.keep_audio else None
        if shared is not None:  # the same recording graded again: its attempts share one copy
            attempt = dataclasses.replace(
                attempt, audio_path=shared, audio_source=attempt.audio_source or self._source_of(shared)
            )
        elif audio is not None and self.keep_audio:
            copied = self._keep_audio(audio, attempt.id)
            attempt = dataclasses.replace(attempt, audio_path="audio/" + copied)
        if isinstance(audio, (str, os.PathLike)) and attempt.audio_source is None:
            attempt = dataclasses.replace(attempt, audio_source=Path(audio).name)
        try:
            with self._lock, _write(self.db) as db:
                db.execute(
                    f"INSERT INTO attempts ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    _row(attempt),
                )
                self._insert_dimensions(attempt)
        except self._errors as exc:
            if copied is not None:
                self.recordings.delete(copied)
            raise HistoryError(f"could not save the attempt to {self.path}: {exc}") from exc
        return attempt

    def _insert_dimensions(self, attempt: Attempt) -> None:
        self.db.execute("DELETE FROM attempt_dimensions WHERE attempt_id = ?", (attempt.id,))
        self.db.executemany(
            "INSERT INTO attempt_dimensions VALUES (?, ?, ?, ?)",
            [(attempt.id, dim, score, top) for dim, (score, top) in attempt.scores().items()],
        )

    def _kept_copy(self, audio: KeptAudio | None) -> str | None:
        """`audio` as a path relative to the data dir when it already is one of this history's copies."""
        if not isinstance(audio, (str, os.PathLike)):
            return None
        path, kept_dir = Path(audio).resolve(), self._audio_dir().resolve()
        return self._key(self._audio_dir() / path.name) if path.parent == kept_dir and path.is_file() else None

    def _audio_dir(self) -> Path:
        """This user's recordings: audio/ for the single user (as before users), audio/<user>/ for a named one."""
        return self.audio_root / self.user if self.user else self.audio_root

    def _key(self, path: Path) -> str:
        """The audio_path column: "audio/" + the path under the recordings root (INFRALENS_RECORDINGS_DIR)."""
        return "audio/" + path.relative_to(self.audio_root).as_posix()

    def _source_of(self, audio_path: str) -> str | None:
        rows = self._query(
            "SELECT audio_source FROM attempts WHERE user_name = ? AND audio_path = ? AND audio_source IS NOT NULL "
            "ORDER BY id LIMIT 1",
            (self.user, audio_path),
        )
        return str(rows[0][0]) if rows else None

    def _keep_audio(self, audio: KeptAudio, attempt_id: str) -> str:
        """Copy (or, for samples, write as WAV) under the key [<user>/]<id><ext>: whole, on disk (and in the bucket,
        unless it cannot be reached) before its row exists. Returns the key."""
        suffix = Path(audio).suffix.lower() if isinstance(audio, (str, os.PathLike)) else ".wav"
        key = f"{self.user}/{attempt_id}{suffix}" if self.user else f"{attempt_id}{suffix}"
        if isinstance(audio, (str, os.PathLike)):
            self.recordings.put(key, functools.partial(shutil.copyfile, audio))
        else:
            self.recordings.put(key, functools.partial(_write_wav, audio))
        return key

    def update_grade(
        self,
        attempt_id: str,
        grade: dict[str, Any] | None = None,
        *,
        ungraded_reason: str | None = None,
        question_version: str | None = None,
        grade_s: float | None = None,
    ) -> Attempt:
        """Replace an attempt's grade (`grade` is Grade.to_json()), or record why grading failed again (keeps any
        old grade)."""
        current = self.get(attempt_id)
        if grade is None:
            if current.graded:
                return current
            updated = dataclasses.replace(current, ungraded_reason=ungraded_reason)
        else:
            updated = dataclasses.replace(
                current, state="graded", ungraded_reason=None, grade=grade, grade_s=grade_s,
                graded_utc=utc_text(datetime.now(timezone.utc)),
                question_version=question_version or current.question_version,
            )  # fmt: skip
        row = dict(zip(_COLUMNS, _row(updated), strict=True))
        changed = ("question_version", "state", "ungraded_reason", "grade_json", "overall", "decided_by",
                   "fallback_reason", "grade_s", "graded_utc")  # fmt: skip
        with self._lock, _write(self.db) as db:
            db.execute(
                f"UPDATE attempts SET {', '.join(f'{c} = ?' for c in changed)} WHERE id = ? AND user_name = ?",
                [row[c] for c in changed] + [updated.id, self.user],
            )
            self._insert_dimensions(updated)
        return updated

    def delete(self, attempt_id: str) -> Attempt:
        attempt = self.get(attempt_id)
        with self._lock, _write(self.db) as db:
            db.execute("DELETE FROM attempt_dimensions WHERE attempt_id = ?", (attempt.id,))
            db.execute("DELETE FROM attempts WHERE id = ? AND user_name = ?", (attempt.id, self.user))
        shared = attempt.audio_path and self._query(
            "SELECT 1 FROM attempts WHERE user_name = ? AND audio_path = ? LIMIT 1", (self.user, attempt.audio_path)
        )
        kept = self._recording_key(attempt)
        if kept is not None and not shared:  # the last attempt using this recording takes its copy with it
            self.recordings.delete(kept)
        return attempt

    # -- reading

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return list(self.db.execute(sql, params).fetchall())

    def get(self, ref: str) -> Attempt:
        """An attempt by id, or by a unique start or end of it (at least 4 characters, any case)."""
        return _attempt(self._row_by_ref("attempts", "attempt", "history list", ref))

    def _row_by_ref(self, table: str, kind: str, listing: str, ref: str) -> Any:
        """The user's row of `table` whose id is `ref`, or starts or ends with it (at least 4 characters)."""
        ref = ref.strip().upper()
        if len(ref) < 4 or any(ch not in ID_ALPHABET for ch in ref):
            article = "an" if kind[0] in "aeiou" else "a"
            raise HistoryError(f"{ref!r} is not {article} {kind} id (see `infralens-coach {listing}`)")
        rows = self._query(
            f"SELECT * FROM {table} WHERE user_name = ? AND (id = ? OR id LIKE ? OR id LIKE ?) ORDER BY id = ? DESC "
            "LIMIT 2",
            (self.user, ref, ref + "%", "%" + ref, ref),
        )
        if not rows:
            raise HistoryError(f"no {kind} {ref!r} in the history (see `infralens-coach {listing}`)")
        if len(rows) > 1 and rows[0]["id"] != ref:
            raise HistoryError(f"{kind} id {ref!r} matches more than one {kind}: give more characters")
        return rows[0]

    def list(self, card: int | None = None, *, graded_only: bool = False) -> list[Attempt]:
        """Attempts, oldest first."""
        where: list[str] = ["user_name = ?"]
        params: list[Any] = [self.user]
        if card is not None:
            where.append("card = ?")
            params.append(card)
        if graded_only:
            where.append("state = 'graded'")
        clause = " AND ".join(where)
        return [_attempt(r) for r in self._query(f"SELECT * FROM attempts WHERE {clause} ORDER BY id", tuple(params))]

    def __iter__(self) -> Iterator[Attempt]:
        return iter(self.list())

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM attempts WHERE user_name = ?", (self.user,))[0][0])

    def audio_file(self, attempt: Attempt) -> Path | None:
        """Where the attempt's recording is kept; HistoryError when it is not this user's to play (another user's
        attempt, or a row naming a file outside this user's folder)."""
        key = self._recording_key(attempt)
        return None if key is None else self.recordings.local_path(key)  # from a bucket: fetched into the cache

    def _recording_key(self, attempt: Attempt) -> str | None:
        """The attempt's recording key once it is checked to be this user's (before anything is read or fetched)."""
        if not attempt.audio_path:
            return None
        path = (self.audio_root / attempt.audio_path.removeprefix("audio/")).resolve()
        if attempt.user != self.user or path.parent != self._audio_dir().resolve():
            raise HistoryError(f"that recording is not {f'{self.user}' if self.user else 'this history'}'s to play")
        return path.relative_to(self.audio_root.resolve()).as_posix()

    def integrity_check(self) -> str:
        if isinstance(self.db, Postgres):  # PostgreSQL checks its own pages; nothing like SQLite's pragma to ask
            return "ok"
        return str(self._query("PRAGMA integrity_check")[0][0])

    # -- mock-interview sessions (m003_sessions; the session's shape is mock.SessionData's business)

    def save_session(self, session: KeptSession) -> None:
        """Insert or replace a session and its attempt links, in one transaction."""
        try:
            with self._lock, _write(self.db) as db:
                db.execute(
                    "INSERT INTO sessions (id, created_utc, updated_utc, style, state, data_json, app_version, "
                    "user_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET updated_utc = excluded.updated_utc, state = excluded.state, "
                    "data_json = excluded.data_json, app_version = excluded.app_version "
                    "WHERE sessions.user_name = excluded.user_name",  # never another user's session
                    (session.id, session.created_utc, session.updated_utc, session.style, session.state,
                     json.dumps(session.data, ensure_ascii=False), session.app_version, self.user),
                )  # fmt: skip
                db.execute("DELETE FROM session_attempts WHERE session_id = ?", (session.id,))
                db.executemany(
                    "INSERT INTO session_attempts VALUES (?, ?, ?)",
                    [(session.id, aid, pos) for pos, aid in session.attempt_ids],
                )
        except self._errors as exc:
            raise HistoryError(f"could not save session {session.id} to {self.path}: {exc}") from exc

    def get_session(self, ref: str) -> KeptSession:
        """A session by id or a unique start or end of it (at least 4 characters)."""
        return self._session(self._row_by_ref("sessions", "session", "history sessions", ref))

    def list_sessions(self) -> tuple[KeptSession, ...]:
        """Sessions, oldest first."""
        rows = self._query("SELECT * FROM sessions WHERE user_name = ? ORDER BY id", (self.user,))
        return tuple(self._session(r) for r in rows)

    def _session(self, row: sqlite3.Row) -> KeptSession:
        links = self._query(
            "SELECT position, attempt_id FROM session_attempts WHERE session_id = ? ORDER BY position", (row["id"],)
        )
        return KeptSession(
            row["id"], row["created_utc"], row["updated_utc"], row["style"], row["state"], json.loads(row["data_json"]),
            tuple((int(r[0]), str(r[1])) for r in links), row["app_version"],
        )  # fmt: skip


# ---------------------------------------------------------------- docs/history.md, from the migrations

_DOC_INTRO = """\
# History: where attempts are kept

<!-- Generated by `python -m infralens_coach.history --schema-doc > docs/history.md`; do not edit by hand. -->

Every attempt is stored in `history.db`, a SQLite file in the data directory: `INFRALENS_HOME` if set, else
the platform's app data directory (`~/.local/share/infralens-coach` on Linux). Recordings are copied to
`audio/<attempt id><ext>` beside it; set `INFRALENS_KEEP_AUDIO=0` to keep no audio.

- **Ids** are ULIDs: 26 characters whose first 10 encode the creation time, so they sort oldest first.
  Commands accept any unique prefix of at least 4 characters.
- **States**: `graded`, or `ungraded` with `ungraded_reason` when the grader failed. Ungraded attempts
  never count towards progress; `infralens-coach history regrade ID` grades them later. A regrade replaces
  the grade in place (`graded_utc` says when; `question_version` becomes the current card + rubric), and a
  regrade that fails never erases an earlier grade.
- **Durability**: WAL journal, `synchronous=FULL`, `busy_timeout`; each save is one transaction, so a
  process killed mid-save leaves either the whole attempt or none of it.
- **Migrations** are append-only: each `mNNN_...` function runs once, in order, when the database is
  opened, and is recorded in `_migrations`. A shipped migration is never edited.
- **PostgreSQL**: with `INFRALENS_DATABASE_URL=postgresql://...` the same migrations build the same tables in
  PostgreSQL (REAL becomes DOUBLE PRECISION; replicas starting at once migrate one at a time under an advisory
  lock). Recordings stay in a directory: `INFRALENS_RECORDINGS_DIR`, else `audio/` in the data directory.
- **Recordings in a bucket**: with `INFRALENS_RECORDINGS_BUCKET=s3://bucket/prefix` (and `INFRALENS_S3_ENDPOINT_URL`
  for MinIO, Ceph, ...) each recording is the object `prefix/<audio_path without audio/>`, and the recordings
  directory is this machine's cache of the bucket. `audio_path` keeps the same form in both modes.
- **Users**: `user_name` says whose each attempt and session is: the login name with authentication on, `''`
  for the single user of a history without accounts. Every read is scoped to one user, and a named user's
  recordings are kept in `audio/<user>/`.
"""


def schema_doc() -> str:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db)
    lines = [_DOC_INTRO, "## Migrations", ""]
    lines += [f"- `{fn.__name__}`: {(fn.__doc__ or '').strip()}" for fn in MIGRATIONS]
    for name, sql in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ):
        notes: dict[str, str] = {}
        for line in sql.splitlines():
            column, _, comment = line.strip().partition("--")
            if comment and column.split():
                notes[column.split()[0]] = comment.strip()
        lines += ["", f"## `{name}`", "", "| column | type | required | notes |", "| --- | --- | --- | --- |"]
        for col in db.execute(f"PRAGMA table_info({name})"):
            required = "key" if col[5] else ("yes" if col[3] else "")
            lines.append(f"| `{col[1]}` | {col[2]} | {required} | {notes.get(col[1], '')} |")
        lines += ["", "```sql", sql.strip(), "```"]
    indexes = db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
    lines += ["", "## Indexes", "", "```sql", *[f"{row[0]};" for row in indexes], "```"]
    from . import progress  # the rules that read the history, documented where they are defined

    status_rule = " ".join((progress.status.__doc__ or "").split())
    lines += ["", "## Progress, `next` and `checklist`", "", "```text", progress.SCHEDULE_RULE, "```", "",
              f"`checklist` shows cards {progress.CHECKLIST_CARDS[0]}-{progress.CHECKLIST_CARDS[-1]} (the seed's final "
              f"review checklist) with a status: {status_rule}", ""]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] != ["--schema-doc"]:
        sys.exit("usage: python -m infralens_coach.history --schema-doc > docs/history.md")
    sys.stdout.write(schema_doc())
