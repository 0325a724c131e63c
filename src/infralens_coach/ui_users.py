"""Who is asking: the signed-in user of a web request, and the Coach that keeps that user's history.

With accounts on (INFRALENS_AUTH or INFRALENS_AUTH_FILE), Gradio resolves the login name of every request from
its session cookie (gr.Request.username): that, never a value the client sends, picks the history. Without
accounts there is one user, "" (the history of a single learner, as before users existed).
"""

from __future__ import annotations

import threading
from typing import Any

from .coach import Coach
from .errors import HistoryError
from .history import HistoryStore


def request_user(request: Any) -> str:
    """The login name on a gr.Request; "" with no accounts (or no request: a direct call in a test)."""
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else ""


class Users:
    """One Coach per user over the shared bank, grader and history connection (made on first use, kept)."""

    def __init__(self, coach: Coach) -> None:
        self.base = coach
        self.accounts = bool(coach.settings.auth or coach.settings.auth_file)
        self._coaches: dict[str, Coach] = {}
        self._lock = threading.Lock()

    def user(self, request: Any) -> str:
        name = request_user(request)
        if self.accounts and not name and request is not None:  # never fall back to the account-less history
            raise HistoryError("sign in first: this app keeps a history per user")
        return name

    def coach(self, request: Any) -> Coach:
        """The Coach whose history is the requesting user's."""
        name = self.user(request)
        store = self.base.store
        if store is None or name == store.user:
            return self.base
        with self._lock:
            if name not in self._coaches:
                self._coaches[name] = Coach(
                    self.base.bank, self.base.settings, grader=self.base.grader, store=store.for_user(name)
                )
            return self._coaches[name]

    def store(self, request: Any) -> HistoryStore | None:
        return self.coach(request).store
