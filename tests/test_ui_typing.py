"""What the type-checking pass on the web app (issue 12) pinned down: the API the page publishes, and the History
table's row picker for both shapes Gradio may hand it."""

from __future__ import annotations

import gradio as gr
import pandas as pd
from support.app_server import outside_home

from infralens_coach.coach import Coach
from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.history import HistoryStore
from infralens_coach.ui import build_demo
from infralens_coach.ui_history import HISTORY_COLUMNS, HistoryView

# The endpoints the README and the API tests call; the page's own events stay private.
PUBLIC_ENDPOINTS = {
    "/attempt", "/checklist", "/delete_attempt", "/export", "/grade", "/history", "/mic_check", "/next",
    "/progress", "/question", "/questions", "/session", "/sessions", "/transcribe", "/transcribe_upload",
}  # fmt: skip


def test_private_events_take_no_public_endpoint_name() -> None:
    """Gradio suffixes a name already taken: a private event named after a public one would move it (…_1)."""
    with outside_home("ui-typing") as home, HistoryStore(home / "history.db") as store:
        demo = build_demo(Coach(QuestionBank.load(), settings=Settings(), store=store), warm_up=False)
        named = set(demo.get_api_info()["named_endpoints"])
    assert named >= PUBLIC_ENDPOINTS


def _select(row: int) -> gr.SelectData:
    return gr.SelectData(None, {"index": [row, 0], "value": "x"})


def test_open_row_reads_a_dataframe_and_the_table_json() -> None:
    rows = [["01AAA", "2025-01-01 10:00:00", 1, "text", 50, "keyword", "graded"]]
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    assert HistoryView.open_row(_select(0), frame) == "01AAA"
    assert HistoryView.open_row(_select(0), {"headers": HISTORY_COLUMNS, "data": rows}) == "01AAA"
    assert HistoryView.open_row(_select(3), frame) is None
