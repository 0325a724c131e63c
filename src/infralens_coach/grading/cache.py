"""A grade cache, so grading the same answer with the same model again is free.

Keyed by (card id, card+rubric version, answer text, model, API base): a changed card, rubric, answer or
model is a miss. The key is a SHA-256 of those, so neither the answer nor the API base (which may carry
credentials) is stored in clear; rows hold the grade JSON only, which never contains a key. The file is
SQLite in the data directory (Settings.data_dir: INFRALENS_HOME or the platform's). A cache that cannot be
opened or written is skipped: it saves money, it never stops a grade. It also remembers, per (model, API base)
hashed the same way, the structured-output form a server accepted after rejecting another.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from ..content import Question, Rubric
from .base import Grade

FILENAME = "grade-cache.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    key TEXT PRIMARY KEY,
    card INTEGER NOT NULL,
    version TEXT NOT NULL,
    model TEXT NOT NULL,
    grade_json TEXT NOT NULL,
    created_utc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS forms (
    server TEXT PRIMARY KEY,  -- SHA-256 of (model, API base): which structured-output form that server accepts
    form TEXT NOT NULL,
    created_utc TEXT NOT NULL
)
"""


def server_key(model: str, api_base: str | None) -> str:
    return hashlib.sha256(json.dumps([model, api_base or ""]).encode("utf-8")).hexdigest()


def cache_key(question: Question, rubric: Rubric, answer: str, model: str, api_base: str | None = None) -> str:
    payload = json.dumps([question.id, question.version(rubric), answer, model, api_base or ""])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class GradeCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5)
        conn.executescript(SCHEMA)
        return conn

    def get(self, key: str) -> Grade | None:
        """The cached grade (marked `cached`), or None on a miss or an unreadable cache."""
        if not self.path.exists():
            return None
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT grade_json FROM grades WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            return Grade.from_json(json.loads(row[0]) | {"cached": True})
        except (sqlite3.Error, OSError, ValueError, KeyError, TypeError):
            return None  # a damaged or foreign cache row is a miss

    def put(self, key: str, grade: Grade, question: Question, rubric: Rubric, model: str) -> bool:
        """Store a grade; False (and nothing raised) when the cache cannot be written."""
        row = (
            key,
            question.card,
            question.version(rubric),
            model,
            json.dumps(grade.to_json() | {"cached": False}, ensure_ascii=False),
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute("INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?, ?)", row)
            return True
        except (sqlite3.Error, OSError):
            return False

    # The structured-output form a server accepted after rejecting another (grading/forms.py), kept across runs.

    def get_form(self, model: str, api_base: str | None) -> str | None:
        if not self.path.exists():
            return None
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT form FROM forms WHERE server = ?", (server_key(model, api_base),)).fetchone()
        except (sqlite3.Error, OSError):
            return None
        return str(row[0]) if row else None

    def put_form(self, model: str, api_base: str | None, form: str) -> None:
        row = (server_key(model, api_base), form, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute("INSERT OR REPLACE INTO forms VALUES (?, ?, ?)", row)
        except (sqlite3.Error, OSError):
            pass  # a cache that cannot be written costs one rejected request next run, nothing more
