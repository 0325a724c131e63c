"""The web app: practise a card out loud, see graded feedback beside the reference, review history.

build_demo() lays out the page and wires events to the handlers in ui_practice (Practice tab), ui_history
(History tab) and ui_settings (Settings tab); launch() checks where it may listen (ui_server) and starts it.
Handlers turn our errors into gr.Error, so the page says what happened and keeps working. No logic lives here.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from gradio.events import api  # gradio's package does not re-export it by name

from . import render_html
from .coach import Coach
from .config import Settings
from .content import GROUPS
from .ui_history import DATE_RANGES, EXPORT_FORMATS, HISTORY_COLUMNS, HistoryView, build_sessions_panel
from .ui_live import LIVE_CSS, STOP_HOLD_JS, STREAM_EVERY_S, LiveMic
from .ui_mock import build_mock_tab
from .ui_practice import DEFAULT_TARGET, TARGETS, Practice
from .ui_server import allowed_paths, concurrency_limit, configure_logging, server_options, start_notes
from .ui_settings import SettingsView, Warmup

MAX_UPLOAD = "50mb"


def build_demo(coach: Coach | None = None, *, warm_up: bool = True) -> gr.Blocks:
    """The page; `coach` defaults to the one the environment configures (Settings.from_env)."""
    coach = coach or Coach.from_settings(Settings.from_env())
    warmup = Warmup(coach).start() if warm_up else None
    practice, history = Practice(coach, coach.settings.port), HistoryView(coach)
    settings_view = SettingsView(coach, warmup)
    live = LiveMic(practice, status=lambda: warmup.status if warmup else "")
    choices = [(f"{q.card:02d} · {q.question} [{q.group or 'your pack'}]", q.id) for q in coach.bank.questions]
    limit = concurrency_limit(coach.settings)  # INFRALENS_CONCURRENCY: learners served at once per event

    # Callables: Gradio evaluates them at every page load, so the suggestion follows the history.
    demo = gr.Blocks(title="infralens-coach", delete_cache=(3600, 3600))
    with demo:
        gr.Markdown("# infralens-coach\nRehearse AI-infrastructure interview answers out loud.")
        with gr.Tab("Practice", id="practice"):
            with gr.Row(elem_id="il-picker-row"):
                picker = gr.Dropdown(
                    choices,
                    value=practice.suggested_id,
                    label="Question (suggested: practise next)",
                    filterable=True,
                    scale=4,
                    min_width=280,
                    elem_id="il-picker",
                )
                target = gr.Radio(
                    list(TARGETS),
                    value=DEFAULT_TARGET,
                    label="Target length",
                    scale=1,
                    min_width=200,
                    elem_id="il-target",
                )
            question_box = gr.HTML(practice.suggested_question_html)
            heard = gr.State(None)  # ui_practice.Heard: the last recording transcribed
            pending = gr.State(False)  # Record was pressed and its upload has not been transcribed yet
            graded_for = gr.State(None)  # the card the feedback on the page belongs to
            with gr.Tabs():
                with gr.Tab("Microphone"):
                    # Streams a chunk every STREAM_EVERY_S to this tab's live transcript (ui_live)
                    mic = gr.Audio(
                        sources=["microphone"],
                        type="filepath",
                        streaming=True,
                        label="Record your answer",
                        elem_id="il-mic",
                        # no waveform: drawing it took a whole core in headless Chromium; the live box shows progress
                        waveform_options=gr.WaveformOptions(show_recording_waveform=False),
                    )
                    live_box = gr.HTML(elem_id="il-live-box")
                    live_timer = gr.Timer(1.0, active=False)  # notices a stream that stopped (ui_live.STALL_S)
                    mic_btn = gr.Button("Transcribe recording", variant="primary", elem_id="il-transcribe-mic")
                    model_note = gr.Markdown(live.model_md(), elem_classes="il-meta", elem_id="il-speech-model")
                    gr.Markdown(
                        "The transcript grows while you speak; at Stop it is finished and graded by itself. The "
                        "button finishes a recording whose stream stopped, or transcribes it again after you "
                        "change the question.",
                        elem_classes="il-meta",
                    )
                with gr.Tab("Record, then transcribe"):
                    whole_mic = gr.Audio(
                        sources=["microphone"],
                        type="filepath",
                        label="Record your answer (uploaded and transcribed after Stop)",
                        elem_id="il-mic-whole",
                    )
                    whole_btn = gr.Button("Transcribe recording", variant="primary", elem_id="il-transcribe-whole")
                    gr.Markdown(
                        "No live transcript: the whole recording is uploaded at Stop and then transcribed. "
                        "Use it when the live stream is unreliable (a slow or remote connection).",
                        elem_classes="il-meta",
                    )
                with gr.Tab("Upload"):
                    upload = gr.Audio(
                        sources=["upload"], type="filepath", label="Upload a recording", elem_id="il-upload"
                    )
                    upload_btn = gr.Button("Transcribe upload", variant="primary", elem_id="il-transcribe-upload")
                with gr.Tab("Mic check"):
                    check_audio = gr.Audio(
                        sources=["microphone"], type="numpy", label="Record about 2 s", elem_id="il-mic-check"
                    )
                    check_btn = gr.Button("Check level", elem_id="il-check")
                    check_out = gr.Markdown(elem_id="il-check-out")
            transcript = gr.Textbox(
                label="Your answer: the transcript appears here; fix misheard jargon, or type",
                lines=6,
                elem_id="il-transcript",
            )
            metrics = gr.Markdown(elem_id="il-metrics")
            grade_btn = gr.Button("Grade", variant="primary", elem_id="il-grade")
            saved = gr.Markdown(elem_id="il-saved")
            switch_note = gr.HTML(elem_id="il-switch-note-box")
            with gr.Row():
                with gr.Column(scale=3):
                    feedback = gr.HTML(elem_id="il-feedback")
                    change = gr.Markdown(elem_id="il-change")
                    highlighted = gr.HTML(elem_id="il-highlighted")
                with gr.Column(scale=2):
                    reference = gr.HTML(elem_id="il-reference-panel")
        build_mock_tab(coach, demo, practice.users)  # one set of per-user Coaches for every tab
        with gr.Tab("History", id="history", elem_id="il-history-tab") as history_tab:
            with gr.Row():
                card_filter = gr.Dropdown([("all cards", "all cards")] + choices, value="all cards", label="Card")
                group_filter = gr.Dropdown(["all groups", *GROUPS], value="all groups", label="Group")
                date_filter = gr.Dropdown(list(DATE_RANGES), value="all time", label="When")
            table = gr.Dataframe(headers=HISTORY_COLUMNS, interactive=False, elem_id="il-history-table")
            with gr.Row():
                export_fmt = gr.Radio(
                    list(EXPORT_FORMATS), value="JSON", label="Export the attempts listed", scale=0, min_width=220
                )
                with gr.Column(scale=0, min_width=140):
                    export_btn = gr.Button("Export", elem_id="il-export")
                export_out = gr.File(
                    label="Exported file",
                    interactive=False,
                    visible=False,
                    elem_id="il-export-file",
                    scale=2,
                    min_width=200,
                )
            # allow_custom_value: the API (and a fresh session) may open any id, not only the listed ones
            attempt_pick = gr.Dropdown([], label="Open an attempt", allow_custom_value=True, elem_id="il-attempt-pick")
            with gr.Row():
                with gr.Column(scale=3):
                    attempt_text = gr.Markdown(elem_id="il-attempt-text")
                    attempt_audio = gr.Audio(
                        label="Recording", type="filepath", interactive=False, elem_id="il-attempt-audio"
                    )
                    attempt_metrics = gr.Markdown()
                    attempt_feedback = gr.HTML()
                with gr.Column(scale=2):
                    attempt_reference = gr.HTML()
            with gr.Row():
                delete_btn = gr.Button(
                    "Delete this attempt…", variant="stop", size="sm", scale=0, min_width=180, elem_id="il-delete"
                )
            with gr.Group(visible=False, elem_id="il-confirm-delete") as confirm_box:
                confirm_md = gr.Markdown(elem_id="il-confirm-text")
                with gr.Row():
                    yes_btn = gr.Button("Yes, delete", variant="stop", elem_id="il-delete-yes")
                    no_btn = gr.Button("Cancel", elem_id="il-delete-no")
            history_status = gr.Markdown(elem_id="il-history-status")
            build_sessions_panel(history, history_tab)  # the mock interviews and their reports (ui_history)
            gr.Markdown("### Progress on a card")
            plot_card = gr.Dropdown(choices, value=practice.suggested_id, label="Card")
            plot = gr.HTML(elem_id="il-progress", label="Score per dimension (0–4), attempt by attempt")
            gr.Markdown("### Review checklist")
            checklist = gr.Markdown(elem_id="il-checklist")
            all_cards = gr.Dataframe(interactive=False, label="All cards", elem_id="il-all-cards")
        with gr.Tab("Settings", id="settings"):
            settings_box = gr.Markdown(elem_id="il-settings")
            gr.Button("Refresh").click(settings_view.markdown, None, settings_box, api_visibility="private")
            llm_check_box = gr.Markdown(elem_id="il-llm-check")
            gr.Button("Test the LLM", elem_id="il-test-llm").click(  # the same check as `llm check`
                settings_view.test_llm, None, llm_check_box, api_name="test_llm"
            )

        # ------------------------------------------------------------ practice events
        # A new card or target keeps the answer and the feedback (the note says whose feedback it is).
        picker.change(
            practice.show_question,
            [picker, target, graded_for, transcript],
            [question_box, switch_note],
            api_name="question",
        )
        target.change(
            practice.change_target,
            [picker, target, transcript, heard],
            [question_box, metrics, heard],
            api_visibility="private",
        )
        # The live recorder (ui_live): each session streams to its own live answer, so no stream may wait for
        # another (concurrency_limit=None); at Stop the tail is finished and the offline grader grades at once.
        grade_out = [feedback, reference, highlighted, change, saved, heard, graded_for]
        live_out = [transcript, metrics, heard, live_box, live_timer]
        mic.start_recording(
            live.started, picker, [live_box, live_timer, model_note], api_visibility="private", concurrency_limit=None,
            show_progress="hidden",
        )  # fmt: skip
        mic.stream(
            live.chunk,
            [mic, picker],
            live_box,
            api_visibility="private",
            stream_every=STREAM_EVERY_S,
            time_limit=None,
            concurrency_limit=None,
            show_progress="hidden",
        )
        live_timer.tick(
            live.tick, None, [live_box, live_timer], api_visibility="private", concurrency_limit=None,
            show_progress="hidden",
        )  # fmt: skip
        auto_graded = mic.stop_recording(
            live.stopped, [picker, target, heard], live_out, api_visibility="private", concurrency_limit=limit
        ).success(
            live.auto_grade, [picker, transcript, heard], grade_out, api_visibility="private",
            concurrency_id="grade",
        )  # fmt: skip
        auto_graded.success(
            practice.switch_note_for, [picker, graded_for, transcript], switch_note, api_visibility="private"
        )
        mic_btn.click(
            live.transcribe, [picker, target, heard], live_out, api_name="live_transcribe",  # /transcribe: the file
            api_visibility="private", concurrency_limit=limit,
        )  # fmt: skip
        demo.unload(live.closed)
        demo.load(live.model_md, None, model_note, api_visibility="private")

        # The recorder without a live transcript: its stop event fires once the recording has uploaded, with its
        # value. One concurrency group, so the button pressed at the same moment waits and finds it already done.
        heard_out = [transcript, metrics, heard, pending]
        whole_mic.start_recording(practice.recording_started, None, pending, api_visibility="private")
        whole_mic.clear(lambda: False, None, pending, api_visibility="private")
        whole_mic.stop_recording(
            practice.transcribe_recording,
            [picker, whole_mic, target, heard, pending],
            heard_out,
            api_visibility="private",
            concurrency_id="transcribe",
        )
        whole_btn.click(
            practice.transcribe_recording,
            [picker, whole_mic, target, heard, pending],
            heard_out,
            api_name="transcribe",
            concurrency_id="transcribe",
        )
        upload.upload(
            practice.transcribe_upload,
            [picker, upload, target, heard],
            heard_out[:3],
            api_name="upload_arrived",  # a private event named after its function would take /transcribe_upload
            api_visibility="private",
            concurrency_id="transcribe",
        )
        upload_btn.click(
            practice.transcribe_upload,
            [picker, upload, target, heard],
            heard_out[:3],
            api_name="transcribe_upload",
            concurrency_id="transcribe",
        )
        graded = grade_btn.click(
            live.grade, [picker, transcript, heard], grade_out, api_name="grade", concurrency_id="grade"
        )
        graded.success(lambda: "", None, switch_note, api_visibility="private")
        check_btn.click(practice.mic_check, check_audio, check_out, api_name="mic_check")

        # ------------------------------------------------------------ history events
        filters = [card_filter, group_filter, date_filter]
        attempt_panes = [attempt_text, attempt_audio, attempt_feedback, attempt_reference, attempt_metrics]
        for control in filters:
            control.change(history.table, filters, [table, attempt_pick], api_visibility="private")
        for saved_attempt in (graded, auto_graded):  # a History tab opened while the grade ran lists it once saved
            saved_attempt.success(history.table, filters, [table, attempt_pick], api_visibility="private")
        history_tab.select(history.table, filters, [table, attempt_pick], api_name="history").then(
            history.checklist_md, None, checklist, api_visibility="private"
        ).then(history.all_cards, None, all_cards, api_visibility="private").then(
            history.latest_card, None, plot_card, api_visibility="private"
        ).then(history.progress_chart, plot_card, plot, api_visibility="private")
        table.select(history.open_row, table, attempt_pick, api_visibility="private")
        attempt_pick.change(history.open_attempt, attempt_pick, attempt_panes, api_name="attempt")
        export_btn.click(history.export_file, [*filters, export_fmt], export_out, api_name="export").success(
            lambda: gr.update(visible=True), None, export_out, api_visibility="private"
        )
        delete_btn.click(history.ask_delete, attempt_pick, [confirm_box, confirm_md], api_visibility="private")
        no_btn.click(lambda: gr.update(visible=False), None, confirm_box, api_visibility="private")
        yes_btn.click(
            history.delete,
            [attempt_pick, *filters],
            [table, attempt_pick, *attempt_panes, confirm_box, history_status],
            api_name="delete_attempt",
        ).success(history.checklist_md, None, checklist, api_visibility="private").then(
            history.all_cards, None, all_cards, api_visibility="private"
        ).then(history.progress_chart, plot_card, plot, api_visibility="private")
        plot_card.change(history.progress_chart, plot_card, plot, api_name="progress")
        api(history.checklist_md, api_name="checklist")
        api(practice.questions, api_name="questions")
        api(practice.suggested_id, api_name="next")
        demo.load(settings_view.markdown, None, settings_box, api_visibility="private")
    # Gradio runs each event one at a time unless told: with this, `limit` transcriptions and `limit` grades run
    # at once (the "transcribe" and "grade" concurrency groups each share it). Set here, not in launch(), so
    # `gradio app.py` gets it too.
    demo.queue(default_concurrency_limit=limit)
    return demo


def launch(demo: gr.Blocks, settings: Settings | None = None) -> None:
    """Serve the app where INFRALENS_HOST/PORT/AUTH say; CoachError when it must not start (see ui_server)."""
    settings = settings or Settings.from_env()
    options = server_options(settings)
    configure_logging()
    # quiet: Gradio's own banner suggests share=True, which this app never uses (the README says why)
    demo.launch(
        server_name=options.host,
        server_port=options.port,
        share=False,
        auth=options.auth,
        max_file_size=MAX_UPLOAD,
        css=render_html.CSS + LIVE_CSS,
        js=STOP_HOLD_JS,
        show_error=True,
        quiet=True,
        prevent_thread_lock=True,
        allowed_paths=allowed_paths(settings),
    )  # History plays recordings: their folder without accounts; with accounts, private copies (ui_history)
    for note in start_notes(options):
        print(note, flush=True)
    demo.block_thread()
