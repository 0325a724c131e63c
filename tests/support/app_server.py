"""Start the real app (`python app.py`) as a subprocess on a free port and wait until it answers.

`outside_home()` makes a data directory outside /tmp and outside the repository, as the default
~/.local/share/infralens-coach is: a home under /tmp once hid a bug (Gradio serves files from the temp dir).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def outside_home(name: str):
    """A fresh data directory under ~/.cache (not /tmp, not the repo), removed afterwards."""
    home = Path.home() / ".cache" / f"infralens-{name}-{secrets.token_hex(4)}"
    home.mkdir(parents=True)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = home / "app.log"
        self.env = {
            **os.environ,
            "INFRALENS_HOME": str(home),
            "INFRALENS_PORT": str(self.port),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "GRADIO_TEMP_DIR": str(home / "gradio-tmp"),
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 90) -> AppServer:
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"app did not answer within {timeout_s} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "_log_file", None):
            self._log_file.close()
