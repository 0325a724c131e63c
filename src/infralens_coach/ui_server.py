"""Where and how the web app listens, checked before it starts; and its one-line log of user errors.

The history holds every transcript and recording, so the app refuses to listen on an address other machines
can reach unless a password is set (INFRALENS_AUTH=user:password) or the user opts in (INFRALENS_ALLOW_OPEN=1).
Several learners each get their own login and history: INFRALENS_AUTH=alice:pw1,bob:pw2, or INFRALENS_AUTH_FILE
naming a file of user:password lines. No gradio import here: plain functions, tested without starting a server.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings, check_user_name
from .errors import CoachError

log = logging.getLogger("infralens_coach.ui")


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    # One login as (user, password), several as a list of them (Gradio takes both); None: no accounts.
    auth: tuple[str, str] | list[tuple[str, str]] | None = field(default=None, repr=False)
    open_to_network: bool = False  # a non-loopback address without a password (INFRALENS_ALLOW_OPEN=1)

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"


def is_loopback(host: str) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1; anything else (0.0.0.0, a LAN address, a name) is reachable."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_auth(raw: str | None) -> tuple[str, str] | None:
    """INFRALENS_AUTH as (user, password); None when unset. A value nobody could log in with is refused."""
    if raw is None:
        return None
    user, colon, password = raw.partition(":")
    if not colon:
        raise CoachError(
            "INFRALENS_AUTH must be user:password, with a colon between them; with no colon nobody "
            "could log in. Example: INFRALENS_AUTH=alice:a-long-passphrase"
        )
    if not user.strip() or not password:
        raise CoachError("INFRALENS_AUTH needs both a user name and a password (user:password); one of them is empty")
    return check_user_name(user.strip()), password


def parse_users(raw: str | None, auth_file: Path | None = None) -> list[tuple[str, str]]:
    """Every login: INFRALENS_AUTH as user:password entries separated by commas (a comma followed by text with no
    colon stays in the password before it), then INFRALENS_AUTH_FILE's lines (user:password; blank lines and
    # comments skipped). Each user has their own history; a name given twice is refused."""
    entries: list[str] = []
    for piece in raw.split(",") if raw is not None else []:
        if entries and ":" not in piece:
            entries[-1] += "," + piece
        else:
            entries.append(piece.strip())
    if auth_file is not None:
        try:
            lines = auth_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CoachError(f"cannot read INFRALENS_AUTH_FILE {auth_file}: {exc.strerror or exc}") from exc
        entries += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    users = [login for login in map(parse_auth, entries) if login is not None]
    names = [name for name, _ in users]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CoachError(f"INFRALENS_AUTH/INFRALENS_AUTH_FILE name {', '.join(twice)} more than once")
    return users


class ScratchFolder:
    """Files handed to the browser (exports, reports, private playback copies). Gradio copies each into its own
    cache at once, so ours are needed only for a moment: older than ``keep_s``, they go at the next use."""

    def __init__(self, prefix: str, keep_s: float = 600.0) -> None:
        self.prefix, self.keep_s = prefix, keep_s
        self._folder: Path | None = None

    def path(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix=self.prefix))
        for old in self._folder.iterdir():
            if old.stat().st_mtime < time.time() - self.keep_s:
                old.unlink(missing_ok=True)
        return self._folder

    def remove(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def allowed_paths(settings: Settings) -> list[str]:
    """What Gradio may serve from the data directory: the recordings folder when there are no accounts. With
    accounts, nothing: the History tab hands each user a private copy of their own recording (ui_history), so
    no URL reaches another user's folder."""
    if settings.auth or settings.auth_file:
        return []
    # sessions/: a mock interview's follow-up recordings and its Markdown report (ui_mock)
    return [str(settings.recordings_dir or settings.data_dir / "audio"), str(settings.data_dir / "sessions")]


def server_options(settings: Settings) -> ServerOptions:
    """The checked host, port and login; CoachError (a message for the user) when it must not start."""
    users = parse_users(settings.auth, settings.auth_file)
    auth = users[0] if len(users) == 1 else (users or None)
    if not 1 <= settings.port <= 65535:
        raise CoachError(f"INFRALENS_PORT={settings.port} is not a TCP port (1-65535)")
    exposed = not is_loopback(settings.host)
    if exposed and auth is None and not settings.allow_open:
        raise CoachError(
            f"refusing to listen on INFRALENS_HOST={settings.host}: other machines can reach that address, and "
            "without a password anyone on the network could read every transcript and recording in the history. "
            "Set INFRALENS_AUTH=user:password to require a login, or unset INFRALENS_HOST to stay on 127.0.0.1. "
            "To serve it without a password anyway, set INFRALENS_ALLOW_OPEN=1."
        )
    return ServerOptions(settings.host, settings.port, auth, open_to_network=exposed and auth is None)


def concurrency_limit(settings: Settings) -> int:
    """How many events of one kind (transcriptions, grades, ...) run at once: Gradio's default_concurrency_limit.

    Gradio runs each event one at a time unless told otherwise, so without it the eighth learner to press
    Transcribe waits for the seven before (issue 17: 209 s). The speech model and the grader are shared safely
    by these threads; a deployment with more learners than this runs more app replicas (docs/deploy.md)."""
    if settings.concurrency < 1:
        raise CoachError(
            f"INFRALENS_CONCURRENCY={settings.concurrency} must be at least 1 (requests of one kind handled at "
            "once per app process; 4 by default)"
        )
    return settings.concurrency


def start_notes(options: ServerOptions) -> list[str]:
    """What the person starting the app should know, printed instead of Gradio's share-link hint."""
    notes = [f"infralens-coach: open {options.local_url} in a browser (Ctrl+C to stop)."]
    if not is_loopback(options.host):
        notes.append(
            f"Listening on {options.host}:{options.port}; browsers allow the microphone only on localhost "
            "or over HTTPS, so from another machine use Upload or type the answer."
        )
    if options.open_to_network:
        notes.append("WARNING: INFRALENS_ALLOW_OPEN=1 — anyone who can reach this address can read the history.")
    return notes


def log_user_error(exc: BaseException) -> None:
    """An expected error (bad recording, empty answer, grader down) is one line in the server log, no traceback."""
    message = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    log.warning("user error (%s): %s", type(exc).__name__, message)


def configure_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s infralens-coach %(levelname)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
