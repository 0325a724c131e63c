"""The History tab's handlers: the filtered table, one attempt with its recording, export, delete, progress, and
the mock interviews (each session and its report, as `infralens-coach history sessions|session` shows them).

Plain methods on one object, so tests call them directly as well as through the running app. Each takes the
gr.Request Gradio passes and reads only the signed-in user's history (ui_users): with accounts on, another
user's attempt is "no attempt", and a recording reaches the page as a private copy, never by a shared folder.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta, timezone
from typing import Any

import gradio as gr
import pandas as pd

from . import export, mock, progress, render_html
from .attempt import Attempt
from .coach import Coach
from .content import DIMENSION_NAMES
from .errors import CoachError, HistoryError
from .grading.base import Grade
from .history import HistoryStore, KeptSession
from .mock_report import SessionReport, report_markdown, session_report
from .ui_practice import fail, metrics_md
from .ui_server import ScratchFolder
from .ui_users import Users

HISTORY_COLUMNS = ["id", "when (UTC)", "card", "mode", "overall", "graded by", "state"]
SESSION_COLUMNS = ["session", "when (UTC)", "style", "cards", "state", "overall"]
CARD_COLUMNS = ["card", "question", "group", "status", "graded attempts", "last overall"]
DATE_RANGES = {"all time": None, "last 7 days": 7, "last 30 days": 30}
EXPORT_FORMATS = {"JSON": "json", "CSV": "csv"}
EXPORT_KEEP_S = 600  # export files are handed to Gradio's cache at once; older ones are removed
CHECKLIST_WHY = (
    "Why eight: this is the final review checklist of InfraLens Interview Practice, where the cards come from, and "
    "it names cards 1–8, the core questions. Every card ({n} in all) is in the table below."
)
# One attempt's panes: header and transcript, recording (a file path), feedback, reference, delivery.
AttemptPanes = tuple[str, str | None, str, str, str]
_EMPTY_ATTEMPT: AttemptPanes = ("", None, "", "", "")


def attempt_label(a: Attempt) -> str:
    """How an attempt reads in the picker: card, date and score (its id is the value behind it)."""
    score = f"{a.overall}/100" if a.graded else "ungraded"
    return f"card {a.card:02d} · {a.created_utc[:16].replace('T', ' ')} UTC · {score} · {a.mode}"


def session_label(kept: KeptSession, report: SessionReport) -> str:
    """How a mock interview reads in the picker: date, cards, state and score (its id is the value behind it)."""
    score = f"{report.overall}/100" if report.overall is not None else "no answer yet"
    cards = ", ".join(str(c.card) for c in report.cards)
    return f"{kept.created_utc[:16].replace('T', ' ')} UTC · cards {cards} · {_state(kept)} · {score}"


def _state(kept: KeptSession) -> str:
    return "complete" if kept.state == "complete" else "incomplete"  # an unfinished session is never "failed"


class HistoryView:
    def __init__(self, coach: Coach, users: Users | None = None) -> None:
        self.coach = coach
        self.bank = coach.bank
        self.users = users or Users(coach)
        self.scratch = ScratchFolder("infralens-export-", EXPORT_KEEP_S)  # exports and playback copies

    def _store(self, request: gr.Request | None) -> HistoryStore | None:
        """The requesting user's history (None when history is off)."""
        try:
            return self.users.store(request)
        except CoachError as exc:
            raise fail(exc) from exc

    def attempts(self, card: int | None = None, request: gr.Request | None = None) -> list[Attempt]:
        store = self._store(request)
        return store.list(card) if store is not None else []

    def filtered(
        self, card_filter: str, group_filter: str, date_filter: str, request: gr.Request | None = None
    ) -> list[Attempt]:
        """The attempts the filters select, newest first."""
        rows = self.attempts(request=request)
        if card_filter and card_filter != "all cards":
            rows = [a for a in rows if a.question_id == card_filter]
        if group_filter and group_filter != "all groups":
            ids = {q.id for q in self.bank.in_group(group_filter)}
            rows = [a for a in rows if a.question_id in ids]
        days = DATE_RANGES.get(date_filter)
        if days:
            since = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")
            rows = [a for a in rows if a.created_utc >= since]
        return list(reversed(rows))

    def table(
        self, card_filter: str, group_filter: str, date_filter: str, request: gr.Request | None = None
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """-> (the table, the "Open an attempt" picker with one labelled choice per row)."""
        rows = self.filtered(card_filter, group_filter, date_filter, request)
        data = [
            [
                a.id,
                a.created_utc.replace("T", " ")[:19],
                a.card,
                a.mode,
                a.overall,
                a.decided_by or "",
                a.state if a.graded else f"ungraded: {a.ungraded_reason}",
            ]
            for a in rows
        ]
        return (
            pd.DataFrame(data, columns=HISTORY_COLUMNS),
            gr.update(choices=[(attempt_label(a), a.id) for a in rows]),
        )

    def _history(self, request: gr.Request | None = None) -> HistoryStore:
        """The requesting user's history, or the page's error when it is off."""
        store = self._store(request)
        if store is None:
            raise fail(HistoryError("history is off: nothing is kept"))
        return store

    def get(self, attempt_id: str, request: gr.Request | None = None) -> Attempt:
        store = self._history(request)
        try:
            return store.get(attempt_id)
        except CoachError as exc:
            raise fail(exc) from exc

    def open_attempt(self, attempt_id: str | None, request: gr.Request | None = None) -> AttemptPanes:
        """-> (header and transcript, recording, feedback, reference, delivery)."""
        if not attempt_id:
            return _EMPTY_ATTEMPT
        attempt = self.get(attempt_id, request)
        question = self.coach.question(attempt.question_id)
        try:
            audio = self._playable(self._history(request), attempt)
        except CoachError as exc:
            raise fail(exc) from exc
        header = (
            f"**{attempt.created_utc[:19].replace('T', ' ')} UTC · card {attempt.card:02d} · {attempt.mode}**"
            f" — {question.question}\n\n**Transcript:**\n\n"
        )
        if attempt.graded and attempt.grade is not None:
            feedback = render_html.grade_html(Grade.from_json(attempt.grade), self.bank.rubric)
        else:
            feedback = f"<p>Ungraded: {render_html.esc(attempt.ungraded_reason)}</p>"
        return (
            header + render_html.esc(attempt.transcript),
            audio,
            feedback,
            render_html.reference_html(question),
            metrics_md(attempt.metrics or {}),
        )

    def _playable(self, store: HistoryStore, attempt: Attempt) -> str | None:
        """The recording for the page: the kept file itself for the single user (its folder is served), else a
        private copy Gradio moves into its cache under an unguessable name (no account's folder is served)."""
        kept = store.audio_file(attempt)  # HistoryError when it is not this user's
        if kept is None or not kept.exists():
            return None
        if not store.user:
            return str(kept)
        copy = self.scratch.path() / f"{attempt.id}{kept.suffix}"
        copy.unlink(missing_ok=True)
        try:
            os.link(kept, copy)  # same file system: no bytes copied
        except OSError:
            shutil.copyfile(kept, copy)
        return str(copy)

    @staticmethod
    def open_row(evt: gr.SelectData, data: pd.DataFrame | dict[str, Any]) -> str | None:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        rows: list[list[Any]] = data.values.tolist() if isinstance(data, pd.DataFrame) else data["data"]
        if not 0 <= row < len(rows):
            return None
        attempt_id: str = rows[row][0]  # the table's first column
        return attempt_id

    # ------------------------------------------------------------ export and delete

    def export_file(
        self, card_filter: str, group_filter: str, date_filter: str, fmt: str, request: gr.Request | None = None
    ) -> str:
        """The filtered attempts as a JSON or CSV file (export.py's lossless formats) for the browser to download."""
        rows = list(reversed(self.filtered(card_filter, group_filter, date_filter, request)))  # oldest first
        if not rows:
            raise fail(HistoryError("no attempts match these filters: nothing to export"))
        ext = EXPORT_FORMATS.get(fmt, "json")
        folder = self.scratch.path()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = folder / f"infralens-history-{stamp}.{ext}"
        path.write_text(export.export(rows, ext), encoding="utf-8")
        return str(path)

    def ask_delete(self, attempt_id: str | None, request: gr.Request | None = None) -> tuple[dict[str, Any], str]:
        """-> (the confirmation box, its question). Nothing is deleted until "Yes, delete" is pressed."""
        if not attempt_id:
            raise fail(HistoryError("open an attempt first: pick it in the list or click its row"))
        attempt = self.get(attempt_id, request)
        recording = " and its recording" if attempt.audio_path else ""
        return (
            gr.update(visible=True),
            f"**Delete {attempt_label(attempt)}{recording}?** This cannot be undone (`{attempt.id}`).",
        )

    def delete(
        self,
        attempt_id: str | None,
        card_filter: str,
        group_filter: str,
        date_filter: str,
        request: gr.Request | None = None,
    ) -> tuple[pd.DataFrame, dict[str, Any], str, str | None, str, str, str, dict[str, Any], str]:
        """-> (table, picker, the five attempt panes, confirmation box, status line)."""
        if not attempt_id:
            raise fail(HistoryError("open an attempt first: pick it in the list or click its row"))
        attempt = self.get(attempt_id, request)
        try:
            self._history(request).delete(attempt.id)
        except CoachError as exc:
            raise fail(exc) from exc
        table, picker = self.table(card_filter, group_filter, date_filter, request)
        picker["value"] = None
        return (
            table,
            picker,
            *_EMPTY_ATTEMPT,
            gr.update(visible=False),
            f"Deleted {attempt_label(attempt)} (`{attempt.id}`).",
        )

    # ------------------------------------------------------------ mock interviews

    def sessions(self, request: gr.Request | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
        """-> (the user's mock interviews, newest first, as `history sessions` lists them; the "Open a session"
        picker with one labelled choice per row)."""
        store = self._store(request)
        kept = list(reversed(store.list_sessions())) if store is not None else []
        reports = [session_report(mock.session_of(k), self.bank) for k in kept]
        data = [
            [k.id, k.created_utc.replace("T", " ")[:16], k.style, ", ".join(str(c.card) for c in r.cards), _state(k),
             "" if r.overall is None else r.overall]
            for k, r in zip(kept, reports, strict=True)
        ]  # fmt: skip
        return (
            pd.DataFrame(data, columns=SESSION_COLUMNS),
            gr.update(choices=[(session_label(k, r), k.id) for k, r in zip(kept, reports, strict=True)]),
        )

    def open_session(self, session_id: str | None, request: gr.Request | None = None) -> tuple[str, str | None]:
        """-> (the session's report: the Markdown of `history session ID`, and that Markdown as a file to download)."""
        if not session_id:
            return "", None
        store = self._history(request)
        try:
            kept = store.get_session(session_id)  # only this user's: another's is "no session"
            text = report_markdown(session_report(mock.session_of(kept), self.bank))
        except CoachError as exc:
            raise fail(exc) from exc
        path = self.scratch.path() / f"mock-interview-{kept.id}.md"
        path.write_text(text, encoding="utf-8")
        return text, str(path)

    # ------------------------------------------------------------ progress

    def progress_chart(self, qid: str | None, request: gr.Request | None = None) -> str:
        question = self.coach.question(qid or self.bank.questions[0].id)
        series = progress.score_series(self.attempts(request=request), question.card)
        scores = {DIMENSION_NAMES.get(dim, dim): [score for _, score, _top in points] for dim, points in series.items()}
        return render_html.progress_svg(scores)

    def latest_card(self, request: gr.Request | None = None) -> str:
        done = self.attempts(request=request)
        if done:
            return done[-1].question_id
        return mock.next_cards(self.bank.questions, self._store(request))[0].question_id

    def checklist_md(self, request: gr.Request | None = None) -> str:
        icons = {"solid": "**solid**", "weak": "*weak*", "not yet": "not yet"}
        done = self.attempts(request=request)
        items = progress.checklist(self.bank.questions, done)
        lines = [progress.CHECKLIST_INTRO, "", f"*{CHECKLIST_WHY.format(n=len(self.bank.questions))}*", ""]
        lines += [
            f"- {icons[i.status]} — {i.card:02d} · {i.question}"
            + (f" (last {i.last_overall}/100)" if i.last_overall is not None else "")
            for i in items
        ]
        nxt = mock.next_cards(self.bank.questions, self._store(request))[0]  # `infralens-coach next`'s card
        lines += ["", f"**Practise next:** card {nxt.card:02d} · {nxt.question}"]
        return "\n".join(lines)

    def all_cards(self, request: gr.Request | None = None) -> pd.DataFrame:
        """Every card of the bank with its status, not only the checklist's eight."""
        groups = {q.card: q.group or "your pack" for q in self.bank.questions}
        items = progress.checklist(self.bank.questions, self.attempts(request=request), cards=None)
        rows = [
            [i.card, i.question, groups[i.card], i.status, i.attempts, "" if i.last_overall is None else i.last_overall]
            for i in items
        ]
        return pd.DataFrame(rows, columns=CARD_COLUMNS)


def build_sessions_panel(history: HistoryView, tab: gr.Tab) -> None:
    """The History tab's mock interviews: the list, refreshed when the tab opens, and one session's report.
    Call inside the History tab's block; `tab` is that tab."""
    gr.Markdown("### Mock interviews")
    table = gr.Dataframe(headers=SESSION_COLUMNS, interactive=False, elem_id="il-history-sessions")
    # allow_custom_value: the API (and a fresh page) may open any id, not only the listed ones
    pick = gr.Dropdown([], label="Open a session's report", allow_custom_value=True, elem_id="il-session-pick")
    report = gr.Markdown(elem_id="il-session-report")
    download = gr.File(label="The report (Markdown)", interactive=False, elem_id="il-session-export")
    tab.select(history.sessions, None, [table, pick], api_name="sessions")
    table.select(history.open_row, table, pick, api_visibility="private")  # the id is the first column here too
    pick.change(history.open_session, pick, [report, download], api_name="session")
