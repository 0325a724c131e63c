"""The web app: practise a card out loud, see graded feedback beside the reference, review history.

The only module that imports gradio. Handlers are thin: they call the Coach, the history and the renderers,
and turn our errors into gr.Error so the page says what happened and keeps working.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import progress, render_html  # noqa: E402
from .coach import Coach  # noqa: E402
from .config import Settings, user_dir  # noqa: E402
from .content import DIMENSION_NAMES, GROUPS, QuestionBank  # noqa: E402
from .errors import CoachError  # noqa: E402

TARGETS = {"Short (30 s)": "about 30 seconds", "Full (2 min)": "60–120 seconds"}
MIC_HELP = (
    "Browsers allow the microphone only on http://127.0.0.1 or http://localhost, or over HTTPS. If you opened "
    "this page by a LAN address over http, open http://127.0.0.1:7860 on this machine instead, or use Upload "
    "or type your answer. If you declined the permission prompt, allow the microphone in the address bar."
)
HISTORY_COLUMNS = ["id", "when (UTC)", "card", "mode", "overall", "graded by", "state"]
DATE_RANGES = {"all time": None, "last 7 days": 7, "last 30 days": 30}
MAX_UPLOAD = "50mb"


class _Warmup:
    """The Whisper model loads in a background thread, so the page is usable at once."""

    def __init__(self, coach: Coach) -> None:
        self.status = "loading the speech model…"
        self._thread = threading.Thread(target=self._run, args=(coach,), daemon=True, name="whisper-warm-up")

    def start(self) -> "_Warmup":
        self._thread.start()
        return self

    def _run(self, coach: Coach) -> None:
        try:
            self.status = f"ready: {coach.warm_up()}"
        except CoachError as exc:
            self.status = f"not available: {exc}"


def _fail(exc: CoachError) -> gr.Error:
    return gr.Error(str(exc), duration=None)


def build_demo(coach: Coach | None = None, *, warm_up: bool = True) -> gr.Blocks:
    if coach is None:
        from .history import HistoryStore

        settings = Settings.from_env()
        coach = Coach(QuestionBank.load(settings.question_dirs), settings=settings, store=HistoryStore.open(settings))
    bank, store = coach.bank, coach.store
    warm = _Warmup(coach).start() if warm_up else None
    choices = [(f"{q.card:02d} · {q.question} [{q.group or 'your pack'}]", q.id) for q in bank.questions]

    def attempts(card: int | None = None) -> list:
        return store.list(card) if store is not None else []

    def list_questions() -> list[dict]:
        return [{"id": q.id, "card": q.card, "question": q.question, "group": q.group} for q in bank.questions]

    def suggested_id() -> str:
        return progress.suggestions(bank.questions, attempts())[0].question_id

    # ------------------------------------------------------------ practice handlers

    def show_question(qid: str, target: str):
        q = coach.question(qid or bank.questions[0].id)
        return (render_html.question_html(q, TARGETS.get(target, TARGETS["Full (2 min)"])), "", "", "", "", "",
                "", None, "text", None)

    def transcribe(qid: str, audio_path: str | None, mode: str, progress_bar=gr.Progress()):
        if not audio_path:
            raise gr.Error("No recording yet: record with the microphone or upload a file first. " + MIC_HELP)
        question = coach.question(qid)
        progress_bar(0.1, desc="Transcribing on this machine…")
        try:
            result = coach.transcribe(question, audio_path)
        except CoachError as exc:
            raise _fail(exc) from exc
        return result.text, _metrics_md(result.metrics), result, mode, audio_path

    def grade(qid: str, text: str, spoken, mode: str, audio_path: str | None):
        question = coach.question(qid)
        if spoken is None:
            mode, audio_path = "text", None
        try:
            result, attempt = coach.submit(question, text or "", mode=mode, spoken=spoken, audio=audio_path)
        except CoachError as exc:
            raise _fail(exc) from exc
        return (
            render_html.grade_html(result, bank.rubric),
            render_html.reference_html(question),
            render_html.highlighted_transcript(text, result),
            _change_md(question.card, attempt),
            _saved_md(attempt),
        )

    def mic_check(audio):
        if audio is None:
            raise gr.Error("Nothing recorded: allow the microphone and record about two seconds. " + MIC_HELP)
        rate, samples = audio
        data = np.asarray(samples, dtype=np.float32)
        if np.issubdtype(np.asarray(samples).dtype, np.integer):
            data = data / 32768.0
        rms = float(np.sqrt(np.mean(np.square(data)))) if data.size else 0.0
        db = 20 * np.log10(max(rms, 1e-9))
        seconds = data.shape[0] / rate if rate else 0
        if rms < 0.003:
            return f"**Silent** ({db:.0f} dBFS over {seconds:.1f} s). Check the input device and that it is not muted."
        return f"**Level {db:.0f} dBFS** over {seconds:.1f} s — the microphone works."

    def _change_md(card: int, attempt) -> str:
        if attempt is None or not attempt.graded:
            return ""
        previous = [a for a in attempts(card) if a.graded and a.id != attempt.id]
        if not previous:
            return "First graded attempt on this card: answer again later to see your progress."
        change = progress.diff(previous[-1], attempt)
        lines = [f"**Since your last attempt:** overall {change.old.overall} → {change.new.overall} "
                 f"({change.overall_change:+d})"]
        for dim in change.dimensions:
            if dim.change or dim.newly_covered or dim.dropped:
                name = DIMENSION_NAMES.get(dim.dimension, dim.dimension)
                lines.append(f"- {name}: {dim.old_score} → {dim.new_score}"
                             + "".join(f"\n  - newly covered: {p}" for p in dim.newly_covered)
                             + "".join(f"\n  - dropped: {p}" for p in dim.dropped))
        return "\n".join(lines)

    # ------------------------------------------------------------ history handlers

    def history_table(card_filter: str, group_filter: str, date_filter: str):
        rows = attempts()
        if card_filter and card_filter != "all cards":
            rows = [a for a in rows if a.question_id == card_filter]
        if group_filter and group_filter != "all groups":
            ids = {q.id for q in bank.in_group(group_filter)}
            rows = [a for a in rows if a.question_id in ids]
        days = DATE_RANGES.get(date_filter)
        if days:
            since = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")
            rows = [a for a in rows if a.created_utc >= since]
        data = [[a.id, a.created_utc.replace("T", " ")[:19], a.card, a.mode, a.overall,
                 a.decided_by or "", a.state if a.graded else f"ungraded: {a.ungraded_reason}"]
                for a in reversed(rows)]
        return pd.DataFrame(data, columns=HISTORY_COLUMNS), gr.update(choices=[r[0] for r in data])

    def open_attempt(attempt_id: str | None):
        if not attempt_id:
            return "", None, "", "", ""
        try:
            attempt = store.get(attempt_id)
        except CoachError as exc:
            raise _fail(exc) from exc
        question = coach.question(attempt.question_id)
        audio = store.audio_file(attempt)
        header = (f"**{attempt.created_utc[:19].replace('T', ' ')} UTC · card {attempt.card:02d} · {attempt.mode}**"
                  f" — {question.question}\n\n**Transcript:**\n\n")
        if attempt.graded:
            from .grading.base import Grade

            grade = Grade.from_json(attempt.grade)
            feedback = render_html.grade_html(grade, bank.rubric)
        else:
            feedback = f"<p>Ungraded: {render_html.esc(attempt.ungraded_reason)}</p>"
        transcript = render_html.esc(attempt.transcript)
        return (header + transcript, str(audio) if audio and audio.exists() else None, feedback,
                render_html.reference_html(question), _metrics_md(attempt.metrics or {}))

    def progress_plot(qid: str | None):
        question = coach.question(qid or bank.questions[0].id)
        rows = [
            {"attempt": i, "dimension": DIMENSION_NAMES.get(dim, dim), "score": score}
            for dim, points in progress.score_series(attempts(), question.card).items()
            for i, (_, score, _top) in enumerate(points, start=1)
        ]
        return pd.DataFrame(rows or [], columns=["attempt", "dimension", "score"])

    def latest_card() -> str:
        done = attempts()
        return done[-1].question_id if done else suggested_id()

    def open_row(evt: gr.SelectData, data):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        rows = data.values.tolist() if hasattr(data, "values") else data["data"]
        return rows[row][0] if 0 <= row < len(rows) else None

    def checklist_md() -> str:
        icons = {"solid": "**solid**", "weak": "*weak*", "not yet": "not yet"}
        items = progress.checklist(bank.questions, attempts())
        lines = ["Before an interview, you should be able to answer these without reading the page.", ""]
        lines += [f"- {icons[i.status]} — {i.card:02d} · {i.question}"
                  + (f" (last {i.last_overall}/100)" if i.last_overall is not None else "") for i in items]
        nxt = progress.suggestions(bank.questions, attempts())[0]
        lines += ["", f"**Practise next:** card {nxt.card:02d} · {nxt.question}"]
        return "\n".join(lines)

    def settings_md() -> str:
        s = coach.settings
        model = s.whisper_model or "the best available offline (base.en if cached, else the bundled tiny.en)"
        llm = f"`{s.llm_model}`" if s.llm_model else "not configured: the offline keyword grader decides"
        status = warm.status if warm else "loads on the first recording"
        return (
            f"- **Speech engine:** `{s.whisper_engine}`, model {model} — {status}\n"
            "  - Better accuracy on jargon: download `base.en` once and set `INFRALENS_WHISPER_MODEL=base.en`.\n"
            f"- **LLM grader:** {llm}. Set `INFRALENS_LLM_MODEL` (e.g. `ollama/llama3.1` or "
            "`openai/gpt-4o-mini`); provider keys stay in your environment and are never shown or stored.\n"
            f"- **Data directory:** `{user_dir()}`"
            + ("" if store is not None else " (history is off)")
            + f"\n- **Questions:** {len(bank.questions)} cards"
        )

    # ------------------------------------------------------------ layout

    def suggested_question_html() -> str:
        return render_html.question_html(bank.get(suggested_id()), TARGETS["Full (2 min)"])

    # Callables: Gradio evaluates them at every page load, so the suggestion follows the history.
    with gr.Blocks(title="infralens-coach", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# infralens-coach\nRehearse AI-infrastructure interview answers out loud.")
        with gr.Tab("Practice", id="practice"):
            with gr.Row():
                picker = gr.Dropdown(choices, value=suggested_id, label="Question (suggested: practise next)",
                                     filterable=True, scale=4, elem_id="il-picker")
                target = gr.Radio(list(TARGETS), value="Full (2 min)", label="Target length", scale=1)
            question_box = gr.HTML(suggested_question_html)
            spoken = gr.State(None)
            mode = gr.State("text")
            audio_path = gr.State(None)
            with gr.Tabs():
                with gr.Tab("Microphone"):
                    mic = gr.Audio(sources=["microphone"], type="filepath", label="Record your answer",
                                   elem_id="il-mic")
                    mic_btn = gr.Button("Transcribe recording", variant="primary", elem_id="il-transcribe-mic")
                with gr.Tab("Upload"):
                    upload = gr.Audio(sources=["upload"], type="filepath", label="Upload a recording",
                                      elem_id="il-upload")
                    upload_btn = gr.Button("Transcribe upload", variant="primary", elem_id="il-transcribe-upload")
                with gr.Tab("Mic check"):
                    check_audio = gr.Audio(sources=["microphone"], type="numpy", label="Record about 2 s",
                                           elem_id="il-mic-check")
                    check_btn = gr.Button("Check level", elem_id="il-check")
                    check_out = gr.Markdown(elem_id="il-check-out")
            transcript = gr.Textbox(label="Your answer: the transcript appears here; fix misheard jargon, or type",
                                    lines=6, elem_id="il-transcript")
            metrics = gr.Markdown(elem_id="il-metrics")
            grade_btn = gr.Button("Grade", variant="primary", elem_id="il-grade")
            saved = gr.Markdown(elem_id="il-saved")
            with gr.Row():
                with gr.Column(scale=3):
                    feedback = gr.HTML(elem_id="il-feedback")
                    change = gr.Markdown(elem_id="il-change")
                    highlighted = gr.HTML(elem_id="il-highlighted")
                with gr.Column(scale=2):
                    reference = gr.HTML(elem_id="il-reference-panel")
        with gr.Tab("History", id="history", elem_id="il-history-tab") as history_tab:
            with gr.Row():
                card_filter = gr.Dropdown([("all cards", "all cards")] + choices, value="all cards", label="Card")
                group_filter = gr.Dropdown(["all groups", *GROUPS], value="all groups", label="Group")
                date_filter = gr.Dropdown(list(DATE_RANGES), value="all time", label="When")
            table = gr.Dataframe(headers=HISTORY_COLUMNS, interactive=False, elem_id="il-history-table")
            attempt_pick = gr.Dropdown([], label="Open an attempt", elem_id="il-attempt-pick")
            with gr.Row():
                with gr.Column(scale=3):
                    attempt_text = gr.Markdown(elem_id="il-attempt-text")
                    attempt_audio = gr.Audio(label="Recording", type="filepath", interactive=False)
                    attempt_metrics = gr.Markdown()
                    attempt_feedback = gr.HTML()
                with gr.Column(scale=2):
                    attempt_reference = gr.HTML()
            gr.Markdown("### Progress on a card")
            plot_card = gr.Dropdown(choices, value=suggested_id, label="Card")
            plot = gr.LinePlot(x="attempt", y="score", color="dimension", y_lim=[0, 4], elem_id="il-progress",
                               label="Score per dimension (0–4), attempt by attempt")
            gr.Markdown("### Review checklist")
            checklist = gr.Markdown(elem_id="il-checklist")
        with gr.Tab("Settings", id="settings"):
            settings_box = gr.Markdown(elem_id="il-settings")
            gr.Button("Refresh").click(settings_md, None, settings_box, api_name=False)

        # ------------------------------------------------------------ events
        cleared = [question_box, transcript, metrics, feedback, reference, highlighted, change, spoken, mode,
                   audio_path]
        picker.change(show_question, [picker, target], cleared, api_name="question")
        target.change(show_question, [picker, target], cleared, api_name=False)
        mic_btn.click(lambda q, a, p=gr.Progress(): transcribe(q, a, "voice", p), [picker, mic],
                      [transcript, metrics, spoken, mode, audio_path], api_name="transcribe")
        upload_btn.click(lambda q, a, p=gr.Progress(): transcribe(q, a, "upload", p), [picker, upload],
                         [transcript, metrics, spoken, mode, audio_path], api_name="transcribe_upload")
        grade_btn.click(grade, [picker, transcript, spoken, mode, audio_path],
                        [feedback, reference, highlighted, change, saved], api_name="grade")
        check_btn.click(mic_check, check_audio, check_out, api_name="mic_check")

        filters = [card_filter, group_filter, date_filter]
        for control in filters:
            control.change(history_table, filters, [table, attempt_pick], api_name=False)
        history_tab.select(history_table, filters, [table, attempt_pick], api_name="history").then(
            checklist_md, None, checklist, api_name=False).then(latest_card, None, plot_card, api_name=False).then(
            progress_plot, plot_card, plot, api_name=False)
        table.select(open_row, table, attempt_pick, api_name=False)
        attempt_pick.change(open_attempt, attempt_pick,
                            [attempt_text, attempt_audio, attempt_feedback, attempt_reference, attempt_metrics],
                            api_name="attempt")
        plot_card.change(progress_plot, plot_card, plot, api_name="progress")
        gr.api(checklist_md, api_name="checklist")
        gr.api(list_questions, api_name="questions")
        gr.api(suggested_id, api_name="next")
        demo.load(settings_md, None, settings_box, api_name=False)
    return demo


def _metrics_md(metrics: dict) -> str:
    if not metrics:
        return ""
    facts = [
        f"{label} {metrics[key]}{unit}"
        for key, label, unit in (
            ("duration_s", "length", " s"), ("speaking_s", "speaking", " s"), ("words_per_minute", "pace", " wpm"),
            ("filler_count", "fillers", ""), ("long_pause_count", "long pauses", ""),
        )
        if metrics.get(key) is not None
    ]
    notes = metrics.get("notes") or []
    return "**Delivery:** " + ", ".join(facts) + "".join(f"\n- {n}" for n in notes)


def _saved_md(attempt) -> str:
    if attempt is None:
        return ""
    return f"Saved as attempt `{attempt.id}` — see the History tab."


def launch(demo: gr.Blocks) -> None:
    host = os.environ.get("INFRALENS_HOST", "127.0.0.1")
    port = int(os.environ.get("INFRALENS_PORT", "7860"))
    auth = None
    if os.environ.get("INFRALENS_AUTH"):  # "user:password", for a shared deployment
        user, _, password = os.environ["INFRALENS_AUTH"].partition(":")
        auth = (user, password)
    demo.launch(server_name=host, server_port=port, share=False, auth=auth, max_file_size=MAX_UPLOAD,
                css=render_html.CSS, show_error=True)
