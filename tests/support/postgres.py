"""A real PostgreSQL server for the history tests, started by the tests themselves (no docker).

Debian's `postgresql` package (scripts/test.sh installs it) gives initdb and pg_ctl. The server runs from a fresh
data directory on a free loopback port with a random password, its unix socket in a private directory, and stops
when the session ends. initdb refuses root, so as root it runs as the `postgres` user (runuser) from a directory
that user can reach (root's home is closed to it, so a private temp directory there; elsewhere ~/.cache).

    BACKENDS: parametrize a fixture over ["sqlite", "postgresql"]; the postgresql run is marked slow
    postgres_server (session): one PostgresServer for the whole run; .new_database() -> a fresh, empty URL

Missing binaries or psycopg FAIL with a message naming the fix; INFRALENS_TEST_NO_POSTGRES=1 skips the
PostgreSQL runs instead (for a laptop without the package, never in CI).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
SKIP_VARIABLE = "INFRALENS_TEST_NO_POSTGRES"


def _bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian keeps initdb off the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable(reason: str) -> None:
    """Fail (CI must not pass without PostgreSQL), or skip when the developer opted out."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{reason} ({SKIP_VARIABLE}=1)")
    pytest.fail(
        f"{reason}. The history tests run on PostgreSQL too: install Debian's `postgresql` package and the "
        f"[postgres] extra (bash scripts/test.sh does both), or set {SKIP_VARIABLE}=1 to skip them locally.",
        pytrace=False,
    )


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root
        if self.as_postgres:
            self.base = Path(tempfile.mkdtemp(prefix="infralens-pg-"))
        else:
            self.base = Path.home() / ".cache" / f"infralens-pg-{secrets.token_hex(4)}"
            self.base.mkdir(parents=True)
        self.data, self.sockets, self.log = self.base / "data", self.base / "sockets", self.base / "server.log"
        self.port = _free_port()
        self.password = secrets.token_urlsafe(16)
        self.started = False

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:1])} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{log}")

    def start(self) -> PostgresServer:
        self.sockets.mkdir(mode=0o700)
        pwfile = self.base / "pw"
        pwfile.write_text(self.password + "\n")
        if self.as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
            for path in (self.sockets, pwfile):
                shutil.chown(path, "postgres", "postgres")
        self.base.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile), "-E", "UTF8",
                  "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync")  # fmt: skip
        pwfile.unlink()
        # Durability is SQLite's test (kill -9); here fsync off keeps CREATE DATABASE per test quick.
        options = f"-k {self.sockets} -c listen_addresses=127.0.0.1 -p {self.port} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server: its URL."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[-1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.started:
            self.started = False
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


_shared: list[PostgresServer] = []  # one server per run, whichever test module asks first


def shared_server() -> PostgresServer:
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"PostgreSQL runs skipped ({SKIP_VARIABLE}=1)")
    if not _shared:
        bin_dir = _bin_dir()
        if bin_dir is None or not (bin_dir / "pg_ctl").exists():
            unavailable("PostgreSQL's initdb/pg_ctl were not found (Debian package `postgresql`)")
        try:
            import psycopg  # noqa: F401
        except ImportError:
            unavailable("psycopg is not installed (pip install -e '.[postgres]')")
        assert bin_dir is not None
        _shared.append(PostgresServer(bin_dir).start())
    return _shared[0]


@pytest.fixture(scope="session")
def postgres_server():
    server = shared_server()
    yield server
    server.stop()  # idempotent: every module that imported this fixture tears it down at the session's end
    _shared.clear()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database for one test, dropped afterwards."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)
