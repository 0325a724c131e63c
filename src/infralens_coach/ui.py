"""The web app: practise a card out loud, see graded feedback beside the reference, review history.

The only module that imports gradio. Handlers are thin: they call the Coach and the renderers, and turn
our errors into gr.Error so the page shows what happened and keeps working.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from . import render_html  # noqa: E402
from .coach import Coach  # noqa: E402
from .config import Settings  # noqa: E402
from .content import GROUPS, QuestionBank  # noqa: E402
from .errors import CoachError, NoSpeechError  # noqa: E402

TARGETS = {"Short (30 s)": "about 30 seconds", "Full (2 min)": "60–120 seconds"}
MIC_HELP = (
    "Browsers allow the microphone only on http://127.0.0.1 / http://localhost or over HTTPS. If you opened "
    "this page by a LAN address over http, open it as http://127.0.0.1:7860 on this machine instead, or use "
    "Upload / Type. If the browser asked for permission and you declined, allow it in the address bar."
)


class _Warmup:
    """The Whisper model loads in a background thread so the page is usable at once."""

    def __init__(self, coach: Coach) -> None:
        self.status = "loading the speech model…"
        self._thread = threading.Thread(target=self._run, args=(coach,), daemon=True, name="whisper-warmup")

    def start(self) -> "_Warmup":
        self._thread.start()
        return self

    def _run(self, coach: Coach) -> None:
        try:
            self.status = f"ready — {coach.warm_up()}"
        except CoachError as exc:
            self.status = f"not available: {exc}"


def _choices(bank: QuestionBank) -> list[tuple[str, str]]:
    return [(f"{q.card:02d} · {q.question} [{q.group or 'your pack'}]", q.id) for q in bank.questions]


def _raise(exc: CoachError) -> None:
    raise gr.Error(str(exc), duration=None) from exc


def build_demo(coach: Coach | None = None, *, warm_up: bool = True) -> gr.Blocks:
    coach = coach or Coach(QuestionBank.load(Settings.from_env().question_dirs))
    bank = coach.bank
    warm = _Warmup(coach).start() if warm_up else None
    first = bank.questions[0].id

    def show_question(qid: str, target: str):
        q = coach.question(qid or first)
        return render_html.question_html(q, TARGETS.get(target, TARGETS["Full (2 min)"])), "", "", "", "", ""

    def transcribe(qid: str, audio_path: str | None):
        if not audio_path:
            raise gr.Error("No recording yet: record with the microphone or upload a file first.")
        try:
            result = coach.transcribe(coach.question(qid), audio_path)
        except NoSpeechError as exc:
            raise gr.Error(f"{exc} — {MIC_HELP}" if "microphone" in str(exc) else str(exc)) from exc
        except CoachError as exc:
            _raise(exc)
        return result.text, _metrics_md(result.metrics)

    def grade(qid: str, text: str):
        q = coach.question(qid)
        try:
            result = coach.grade(q, text)
        except CoachError as exc:
            _raise(exc)
        return (
            render_html.grade_html(result, bank.rubric),
            render_html.reference_html(q),
            render_html.highlighted_transcript(text, result),
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

    def settings_md() -> str:
        s = coach.settings
        model = s.whisper_model or "the best available offline (base.en if cached, else the bundled tiny.en)"
        llm = f"`{s.llm_model}`" if s.llm_model else "not configured — the offline keyword grader decides"
        status = warm.status if warm else "not loaded yet"
        return (
            f"- **Speech engine:** `{s.whisper_engine}`, model {model} — {status}\n"
            "  - For better accuracy on jargon set `INFRALENS_WHISPER_MODEL=base.en` once it is downloaded.\n"
            f"- **LLM grader:** {llm} (set `INFRALENS_LLM_MODEL`, e.g. `ollama/llama3.1`; keys stay in your env)\n"
            f"- **Data directory:** `{_data_dir()}`\n"
            f"- **Questions:** {len(bank.questions)} cards"
        )

    with gr.Blocks(title="infralens-coach", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# infralens-coach · rehearse AI-infrastructure answers out loud")
        with gr.Tab("Practice"):
            with gr.Row():
                picker = gr.Dropdown(
                    _choices(bank), value=first, label="Question", filterable=True, scale=4, elem_id="il-picker"
                )
                target = gr.Radio(list(TARGETS), value="Full (2 min)", label="Target length", scale=1)
            question = gr.HTML(render_html.question_html(bank.get(first), TARGETS["Full (2 min)"]))
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
                    check_audio = gr.Audio(sources=["microphone"], type="numpy", label="Record ~2 s",
                                           elem_id="il-mic-check")
                    check_btn = gr.Button("Check level")
                    check_out = gr.Markdown()
            transcript = gr.Textbox(
                label="Transcript — fix any misheard jargon, or type your answer here", lines=6,
                elem_id="il-transcript",
            )
            metrics = gr.Markdown(elem_id="il-metrics")
            grade_btn = gr.Button("Grade", variant="primary", elem_id="il-grade")
            with gr.Row():
                with gr.Column(scale=3):
                    feedback = gr.HTML(elem_id="il-feedback")
                    highlighted = gr.HTML()
                with gr.Column(scale=2):
                    reference = gr.HTML(elem_id="il-reference-panel")
        with gr.Tab("Settings"):
            settings_box = gr.Markdown(settings_md())
            gr.Button("Refresh").click(settings_md, None, settings_box, api_name=False)

        picker.change(show_question, [picker, target], [question, transcript, metrics, feedback, reference,
                                                         highlighted], api_name="question")
        target.change(show_question, [picker, target], [question, transcript, metrics, feedback, reference,
                                                         highlighted], api_name=False)
        mic_btn.click(transcribe, [picker, mic], [transcript, metrics], api_name="transcribe")
        upload_btn.click(transcribe, [picker, upload], [transcript, metrics], api_name=False)
        grade_btn.click(grade, [picker, transcript], [feedback, reference, highlighted], api_name="grade")
        check_btn.click(mic_check, check_audio, check_out, api_name="mic_check")
        gr.api(lambda: [{"id": q.id, "card": q.card, "question": q.question, "group": q.group}
                        for q in bank.questions], api_name="questions")
    return demo


def _metrics_md(metrics: dict) -> str:
    if not metrics:
        return ""
    notes = metrics.get("notes") or []
    head = ", ".join(
        f"{label} {metrics[key]}{unit}"
        for key, label, unit in (
            ("duration_s", "length", " s"), ("words_per_minute", "pace", " wpm"), ("filler_count", "fillers", ""),
            ("long_pause_count", "long pauses", ""),
        )
        if metrics.get(key) is not None
    )
    return "**Delivery:** " + head + ("\n\n" + "\n".join(f"- {n}" for n in notes) if notes else "")


def _data_dir() -> Path:
    from .config import user_dir

    return user_dir()


def launch(demo: gr.Blocks) -> None:
    host = os.environ.get("INFRALENS_HOST", "127.0.0.1")
    port = int(os.environ.get("INFRALENS_PORT", "7860"))
    auth = None
    if os.environ.get("INFRALENS_AUTH"):  # "user:password" for a shared deployment
        user, _, password = os.environ["INFRALENS_AUTH"].partition(":")
        auth = (user, password)
    demo.launch(
        server_name=host, server_port=port, share=False, auth=auth, max_file_size="50mb", css=render_html.CSS,
        show_error=True,
    )
