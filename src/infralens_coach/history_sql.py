"""The history's dialect layer: its SQL is written once, for SQLite, and PostgreSQL reads it through `Postgres`.

    ? placeholders -> %s;  in CREATE TABLE: REAL -> DOUBLE PRECISION (SQLite's REAL is 8 bytes, PostgreSQL's 4)
    and no WITHOUT ROWID;  BEGIN IMMEDIATE -> BEGIN;  rows read by name or position, as sqlite3.Row.

Upserts are written as INSERT ... ON CONFLICT ... DO UPDATE, which both accept. psycopg 3 is imported only when a
Postgres connection is made, so the CLI and a SQLite history never load it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_S = 15


class Row(dict[str, Any]):
    """A PostgreSQL result row read as sqlite3.Row reads: by column name or by position."""

    def __getitem__(self, key: str | int) -> Any:
        return list(self.values())[key] if isinstance(key, int) else super().__getitem__(key)


def pg_rows(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = [column.name for column in cursor.description or ()]
    return lambda values: Row(zip(names, values, strict=True))


def pg_sql(sql: str, has_params: bool) -> str:
    """The history's SQL (written for SQLite) as PostgreSQL reads it."""
    if sql.strip() == "BEGIN IMMEDIATE":
        return "BEGIN"
    if sql.lstrip().startswith("CREATE TABLE"):  # SQLite's REAL is 8 bytes, PostgreSQL's 4; no rowid to drop
        sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql).replace(") WITHOUT ROWID", ")")
    return sql.replace("%", "%%").replace("?", "%s") if has_params else sql


def redact(url: str) -> str:
    """A database URL fit for a message: the password hidden."""
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)


class Postgres:
    """A psycopg 3 connection with the few sqlite3.Connection methods the store uses, in autocommit mode
    (transactions are explicit, as on SQLite)."""

    def __init__(self, url: str) -> None:
        import psycopg  # only with a postgresql:// URL: the CLI and SQLite never load it

        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self.conn: psycopg.Connection[Row] = psycopg.connect(
            url, autocommit=True, row_factory=pg_rows, connect_timeout=CONNECT_TIMEOUT_S
        )

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> psycopg.Cursor[Row]:
        return self.conn.execute(pg_sql(sql, bool(params)), tuple(params) if params else None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> psycopg.Cursor[Row]:
        cursor = self.conn.cursor()
        if rows:
            cursor.executemany(pg_sql(sql, True), [tuple(r) for r in rows])
        return cursor

    def close(self) -> None:
        self.conn.close()


Db = sqlite3.Connection | Postgres


def tables(db: Db) -> set[str]:
    if isinstance(db, Postgres):
        return {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
