"""Every attempt kept: a SQLite history in the data directory, safe under concurrent writers. Storage only:
grading and the failure policy live in the Coach (coach.py), which builds the attempts this module keeps.

    with HistoryStore.open(settings) as store:         # settings.data_dir/history.db, migrated on open
        attempt = store.save(new_attempt(question, rubric, text, grade=grade.to_json()))
        store.list(card=7); store.get(attempt.id[:12]); store.update_grade(attempt.id, new_grade.to_json())

- Migrations are append-only functions m001_..., applied in order on open inside one write transaction
  and recorded in `_migrations`; a shipped migration is never edited, a change is a new migration.
- Ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32): they sort by creation time.
- A save is one transaction (WAL, synchronous=FULL): after `save()` returns, the attempt survives a kill -9.
- An `ungraded` attempt carries the reason (a grader failure never becomes a fake score); `update_grade` gives
  it a grade later. Audio is copied to <data dir>/audio/<id><ext> unless INFRALENS_KEEP_AUDIO=0.

`python -m infralens_coach.history --schema-doc` prints docs/history.md, generated from the migrations.
"""

from __future__ import annotations

import dataclasses
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
from .config import Settings
from .errors import HistoryError

if TYPE_CHECKING:
    import numpy as np

# A recording to keep: a file (copied), or 16 kHz mono float samples from the microphone (written as WAV).
KeptAudio = Union[str, "os.PathLike[str]", "np.ndarray"]

BUSY_TIMEOUT_S = 15.0
DB_NAME = "history.db"

# ---------------------------------------------------------------- migrations (append-only)

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_attempts(db: sqlite3.Connection) -> None:
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
def m002_attempt_dimensions(db: sqlite3.Connection) -> None:
    """Per-dimension scores of graded attempts, one row each, for progress series; backfilled from grade_json."""
    db.execute("""
CREATE TABLE attempt_dimensions (
    attempt_id TEXT NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    dimension TEXT NOT NULL,  -- rubric dimension id, e.g. tradeoffs
    score INTEGER NOT NULL,  -- 0..max_score
    max_score INTEGER NOT NULL,  -- 4, or 0 when the card has nothing to assess on this dimension
    PRIMARY KEY (attempt_id, dimension)
) WITHOUT ROWID""")
    db.execute("""
INSERT INTO attempt_dimensions (attempt_id, dimension, score, max_score)
SELECT a.id, json_extract(d.value, '$.id'), json_extract(d.value, '$.score'), json_extract(d.value, '$.max_score')
FROM attempts AS a, json_each(a.grade_json, '$.dimensions') AS d
WHERE a.state = 'graded'""")


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the pending migrations in one write transaction; returns the names applied."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "_migrations" in tables:
        done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
        if all(m.__name__ in done for m in MIGRATIONS):
            return []
    applied = []
    with _write(db):
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

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
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
    "grade_s", "graded_utc", "app_version",
)  # fmt: skip
_JSON = {"segments_json": "segments", "metrics_json": "metrics", "grade_json": "grade"}


def _row(attempt: Attempt) -> tuple[Any, ...]:
    data = attempt.to_dict()
    data.update(overall=attempt.overall, decided_by=attempt.decided_by, fallback_reason=attempt.fallback_reason)
    for column, key in _JSON.items():
        value = data.pop(key)
        data[column] = None if value is None else json.dumps(value, ensure_ascii=False)
    return tuple(data[c] for c in _COLUMNS)


def _attempt(row: sqlite3.Row) -> Attempt:
    data = {k: row[k] for k in row.keys() if k not in ("overall", "decided_by", "fallback_reason")}  # noqa: SIM118 (a Row iterates values)
    for column, key in _JSON.items():
        value = data.pop(column)
        data[key] = None if value is None else json.loads(value)
    return Attempt(**data)


def _write_wav(samples: np.ndarray, path: Path, sample_rate: int = 16_000) -> None:
    import wave

    import numpy as np

    pcm = (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HistoryStore:
    """Attempts in one SQLite file. Thread-safe; open one per process (or per thread) as you like."""

    def __init__(self, path: Path | str, *, keep_audio: bool = True) -> None:
        self.path = Path(path)
        self.data_dir = self.path.parent
        self.keep_audio = keep_audio
        self._lock = threading.RLock()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open the history at {self.path}: {exc}") from exc
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._wal()
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if "locked" in str(exc):
                raise HistoryError(f"the history at {self.path} stayed locked by another process: {exc}") from exc
            raise HistoryError(f"{self.path} is not a usable history database: {exc}") from exc

    @classmethod
    def open(cls, settings: Settings) -> HistoryStore:
        """The history in the settings' data directory (INFRALENS_HOME or the platform's app data dir)."""
        return cls(settings.data_dir / DB_NAME, keep_audio=settings.keep_audio)

    def _wal(self) -> None:
        # Switching to WAL needs a moment alone with the file; a busy reply here ignores the busy
        # timeout, so wait for it (bounded) when many processes open a new database at once.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                if self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                    return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.02)

    def close(self) -> None:
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
        copied = None
        shared = self._kept_copy(audio) if self.keep_audio else None
        if shared is not None:  # the same recording graded again: its attempts share one copy
            attempt = dataclasses.replace(
                attempt, audio_path=shared, audio_source=attempt.audio_source or self._source_of(shared)
            )
        elif audio is not None and self.keep_audio:
            copied = self._keep_audio(audio, attempt.id)
            attempt = dataclasses.replace(attempt, audio_path=copied.relative_to(self.data_dir).as_posix())
        if isinstance(audio, (str, os.PathLike)) and attempt.audio_source is None:
            attempt = dataclasses.replace(attempt, audio_source=Path(audio).name)
        try:
            with self._lock, _write(self.db) as db:
                db.execute(
                    f"INSERT INTO attempts ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    _row(attempt),
                )
                self._insert_dimensions(attempt)
        except sqlite3.Error as exc:
            if copied is not None:
                copied.unlink(missing_ok=True)
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
        path, kept_dir = Path(audio).resolve(), (self.data_dir / "audio").resolve()
        return f"audio/{path.name}" if path.parent == kept_dir and path.is_file() else None

    def _source_of(self, audio_path: str) -> str | None:
        rows = self._query(
            "SELECT audio_source FROM attempts WHERE audio_path = ? AND audio_source IS NOT NULL ORDER BY id LIMIT 1",
            (audio_path,),
        )
        return str(rows[0][0]) if rows else None

    def _keep_audio(self, audio: KeptAudio, attempt_id: str) -> Path:
        """Copy (or, for samples, write as WAV) into audio/<id><ext>: whole and on disk before its row exists."""
        suffix = Path(audio).suffix.lower() if isinstance(audio, (str, os.PathLike)) else ".wav"
        target = self.data_dir / "audio" / f"{attempt_id}{suffix}"
        partial = target.with_name(target.name + ".partial")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(audio, (str, os.PathLike)):
                shutil.copyfile(audio, partial)
            else:
                _write_wav(audio, partial)
            _fsync(partial)
            os.replace(partial, target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise HistoryError(f"cannot keep the recording in {target.parent}: {exc}") from exc
        return target

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
                f"UPDATE attempts SET {', '.join(f'{c} = ?' for c in changed)} WHERE id = ?",
                [row[c] for c in changed] + [updated.id],
            )
            self._insert_dimensions(updated)
        return updated

    def delete(self, attempt_id: str) -> Attempt:
        attempt = self.get(attempt_id)
        with self._lock, _write(self.db) as db:
            db.execute("DELETE FROM attempt_dimensions WHERE attempt_id = ?", (attempt.id,))
            db.execute("DELETE FROM attempts WHERE id = ?", (attempt.id,))
        shared = attempt.audio_path and self._query(
            "SELECT 1 FROM attempts WHERE audio_path = ? LIMIT 1", (attempt.audio_path,)
        )
        if attempt.audio_path and not shared:  # the last attempt using this recording takes its copy with it
            (self.data_dir / attempt.audio_path).unlink(missing_ok=True)
        return attempt

    # -- reading

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def get(self, ref: str) -> Attempt:
        """An attempt by id, or by a unique start or end of it (at least 4 characters, any case)."""
        ref = ref.strip().upper()
        if len(ref) < 4 or any(ch not in ID_ALPHABET for ch in ref):
            raise HistoryError(f"{ref!r} is not an attempt id (see `infralens-coach history list`)")
        rows = self._query(
            "SELECT * FROM attempts WHERE id = ? OR id LIKE ? OR id LIKE ? ORDER BY id = ? DESC LIMIT 2",
            (ref, ref + "%", "%" + ref, ref),
        )
        if not rows:
            raise HistoryError(f"no attempt {ref!r} in the history (see `infralens-coach history list`)")
        if len(rows) > 1 and rows[0]["id"] != ref:
            raise HistoryError(f"attempt id {ref!r} matches more than one attempt: give more characters")
        return _attempt(rows[0])

    def list(self, card: int | None = None, *, graded_only: bool = False) -> list[Attempt]:
        """Attempts, oldest first."""
        where: list[str] = []
        params: list[Any] = []
        if card is not None:
            where.append("card = ?")
            params.append(card)
        if graded_only:
            where.append("state = 'graded'")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return [_attempt(r) for r in self._query(f"SELECT * FROM attempts{clause} ORDER BY id", tuple(params))]

    def __iter__(self) -> Iterator[Attempt]:
        return iter(self.list())

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM attempts")[0][0])

    def audio_file(self, attempt: Attempt) -> Path | None:
        return self.data_dir / attempt.audio_path if attempt.audio_path else None

    def integrity_check(self) -> str:
        return str(self._query("PRAGMA integrity_check")[0][0])


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
