"""Settings read from the environment (INFRALENS_*), and the user's data directory.

The one place that reads our environment variables: Settings.from_env() is called by the entry points (the CLI,
the web app); everything else receives the Settings it needs.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CoachError


def user_dir() -> Path:
    """Where history and audio copies live: INFRALENS_HOME, else the platform's app data dir."""
    explicit = os.environ.get("INFRALENS_HOME")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "infralens-coach"
    if os.name == "nt":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "infralens-coach"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "infralens-coach"


def _paths(value: str | None) -> tuple[Path, ...]:
    if not value:
        return ()
    return tuple(Path(p).expanduser() for p in value.split(os.pathsep) if p.strip())


def _path(name: str) -> Path | None:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser() if raw else None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise CoachError(f"{name}={raw!r} is not a number") from None


def _int(name: str, default: int) -> int:
    return int(_float(name, default))


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw not in ("0", "false", "no", "off")


def _band(name: str) -> tuple[float, float] | None:
    """A "MIN-MAX" range such as 60-120 (also 60–120 or 60:120); None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[-–:]\s*(\d+(?:\.\d+)?)\s*", raw)
    if not match or float(match[1]) > float(match[2]):
        raise CoachError(f"{name}={raw!r} must be a range like 60-120")
    return float(match[1]), float(match[2])


USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")  # also a directory name: audio/<user>/


def check_user_name(name: str) -> str:
    """A user name as the history keeps it ("" is the single user with no account); CoachError otherwise."""
    if name and not USER_NAME.fullmatch(name):
        raise CoachError(
            f"{name!r} is not a usable user name: up to 64 letters, digits, '.', '_', '@' or '-', starting with "
            "a letter or digit (it names the user's recordings folder)"
        )
    return name


def _database_url(raw: str | None) -> str | None:
    if not raw:
        return None
    if not raw.startswith(("postgresql://", "postgres://")):
        scheme = raw.partition("://")[0] if "://" in raw else raw[:20]
        raise CoachError(
            f"INFRALENS_DATABASE_URL must be a postgresql:// URL (got {scheme!r}); unset it to keep the history "
            "in the SQLite file in the data directory"
        )
    return raw


BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3's rules for a bucket name (3-63 characters)


def _bucket_url(raw: str | None) -> str | None:
    """INFRALENS_RECORDINGS_BUCKET: s3://bucket or s3://bucket/prefix; None when unset."""
    if not raw:
        return None
    bucket = raw.removeprefix("s3://").partition("/")[0] if raw.startswith("s3://") else ""
    if not BUCKET_NAME.fullmatch(bucket):
        raise CoachError(
            f"INFRALENS_RECORDINGS_BUCKET={raw!r} must be s3://bucket or s3://bucket/prefix, with a bucket name of "
            "3-63 lowercase letters, digits, '.' or '-' (the endpoint goes in INFRALENS_S3_ENDPOINT_URL)"
        )
    return raw


def _endpoint_url(raw: str | None) -> str | None:
    if raw and not raw.startswith(("http://", "https://")):
        raise CoachError(
            f"INFRALENS_S3_ENDPOINT_URL={raw!r} must be an http:// or https:// URL, e.g. http://minio:9000"
        )
    return raw or None


@dataclass(frozen=True)
class Settings:
    question_dirs: tuple[Path, ...] = ()
    data_dir: Path = field(default_factory=user_dir)  # history.db, kept recordings, the grade cache
    # Speech to text
    whisper_engine: str = "faster-whisper"
    whisper_model: str | None = None  # name, CTranslate2 dir or .pt path; None = best available offline
    whisper_beam_size: int = 5
    whisper_threads: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    max_audio_s: float = 600.0
    # Speech to text on a serving engine (transcribe/remote.py): an OpenAI-compatible /v1/audio/transcriptions
    stt_api_base: str | None = None  # INFRALENS_STT_API_BASE, e.g. http://stt:8000/v1 (speaches, vLLM, OpenAI)
    stt_model: str = "whisper-1"  # INFRALENS_STT_MODEL: the served model's name, or a litellm model string
    stt_timeout_s: float = 120.0  # INFRALENS_STT_TIMEOUT_S: the read timeout for one recording
    stt_connect_timeout_s: float = 5.0  # INFRALENS_STT_CONNECT_TIMEOUT_S: a server that is down fails this fast
    stt_fallback: bool = True  # INFRALENS_STT_FALLBACK=0: report the server's failure instead of transcribing here
    # Web app concurrency: events of one kind (transcribe, grade, ...) running at once (INFRALENS_CONCURRENCY)
    concurrency: int = 4
    # Grading
    llm_model: str | None = None
    llm_api_base: str | None = None
    llm_timeout_s: float = 30.0
    # A local server (localhost, a private address, Ollama) on a CPU can take minutes: INFRALENS_LLM_TIMEOUT_S
    # sets both read timeouts; unset, a local server gets this one.
    llm_local_timeout_s: float = 300.0
    llm_connect_timeout_s: float = 5.0  # INFRALENS_LLM_CONNECT_TIMEOUT_S: an unreachable server fails this fast
    llm_context_tokens: int | None = None  # INFRALENS_LLM_CONTEXT: the server's context, when known (prompt fits it)
    llm_num_ctx: int = 8192  # INFRALENS_LLM_NUM_CTX: the context asked of Ollama with each request (0: its default)
    grader_meaning: bool = True  # the offline grader also matches by meaning (INFRALENS_GRADER_MEANING=0: off)
    # Delivery notes: the answer length and pace judged against (None: the full-answer band, 60–120 s)
    target_seconds: tuple[float, float] | None = None
    target_wpm: tuple[float, float] | None = None
    # History
    keep_audio: bool = True  # copy recordings into the data dir (INFRALENS_KEEP_AUDIO=0 to opt out)
    # INFRALENS_DATABASE_URL=postgresql://...: the history in PostgreSQL (shared by app replicas); None: SQLite
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    recordings_dir: Path | None = None  # INFRALENS_RECORDINGS_DIR; None: <data dir>/audio
    # INFRALENS_RECORDINGS_BUCKET=s3://bucket/prefix: recordings in an S3-compatible bucket (recordings.py); the
    # recordings directory is then this machine's read-through cache of it. Credentials: boto3's own chain.
    recordings_bucket: str | None = None
    s3_endpoint_url: str | None = None  # INFRALENS_S3_ENDPOINT_URL: MinIO, Ceph, ...; None: AWS S3
    user: str = ""  # INFRALENS_USER: whose history the CLI reads and writes ("": the single user, no accounts)
    # Web app (checked when it starts: ui_server.server_options)
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = field(default=None, repr=False)  # "user:password[,user2:password2...]"; kept out of repr
    auth_file: Path | None = None  # INFRALENS_AUTH_FILE: one user:password a line (see ui_server.parse_users)
    allow_open: bool = False  # INFRALENS_ALLOW_OPEN=1: serve a non-loopback address without a password

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            question_dirs=_paths(env("INFRALENS_QUESTIONS")),
            data_dir=user_dir(),
            # A speech server, when set, is the engine (the local one is its fallback) unless an engine is named.
            whisper_engine=env("INFRALENS_WHISPER_ENGINE")
            or ("remote" if env("INFRALENS_STT_API_BASE") else "faster-whisper"),
            whisper_model=env("INFRALENS_WHISPER_MODEL") or None,
            whisper_beam_size=_int("INFRALENS_WHISPER_BEAM", 5),
            whisper_threads=_int("INFRALENS_WHISPER_THREADS", min(2, os.cpu_count() or 1)),
            max_audio_s=_float("INFRALENS_MAX_AUDIO_S", 600.0),
            stt_api_base=env("INFRALENS_STT_API_BASE") or None,
            stt_model=env("INFRALENS_STT_MODEL") or "whisper-1",
            stt_timeout_s=_float("INFRALENS_STT_TIMEOUT_S", 120.0),
            stt_connect_timeout_s=_float("INFRALENS_STT_CONNECT_TIMEOUT_S", 5.0),
            stt_fallback=_flag("INFRALENS_STT_FALLBACK", True),
            concurrency=_int("INFRALENS_CONCURRENCY", 4),
            llm_model=env("INFRALENS_LLM_MODEL") or None,
            llm_api_base=env("INFRALENS_LLM_API_BASE") or None,
            llm_timeout_s=_float("INFRALENS_LLM_TIMEOUT_S", 30.0),
            llm_local_timeout_s=_float("INFRALENS_LLM_TIMEOUT_S", 300.0),
            llm_connect_timeout_s=_float("INFRALENS_LLM_CONNECT_TIMEOUT_S", 5.0),
            llm_context_tokens=_int("INFRALENS_LLM_CONTEXT", 0) or None,
            llm_num_ctx=_int("INFRALENS_LLM_NUM_CTX", 8192),
            target_seconds=_band("INFRALENS_TARGET_SECONDS"),
            target_wpm=_band("INFRALENS_TARGET_WPM"),
            grader_meaning=_flag("INFRALENS_GRADER_MEANING", True),
            keep_audio=_flag("INFRALENS_KEEP_AUDIO", True),
            database_url=_database_url(env("INFRALENS_DATABASE_URL")),
            recordings_dir=_path("INFRALENS_RECORDINGS_DIR"),
            recordings_bucket=_bucket_url((env("INFRALENS_RECORDINGS_BUCKET") or "").strip()),
            s3_endpoint_url=_endpoint_url((env("INFRALENS_S3_ENDPOINT_URL") or "").strip()),
            user=check_user_name((env("INFRALENS_USER") or "").strip()),
            host=(env("INFRALENS_HOST") or "127.0.0.1").strip(),
            port=_int("INFRALENS_PORT", 7860),
            auth=env("INFRALENS_AUTH") or None,
            auth_file=_path("INFRALENS_AUTH_FILE"),
            allow_open=_flag("INFRALENS_ALLOW_OPEN", False),
        )
