"""The web app's Mock interview tab: questions read aloud, a countdown per answer, a probe on the weakest point,
and the session's report at the end (mock.py does the work; these handlers are thin).

    with gr.Blocks() as demo:
        build_mock_tab(coach, demo)    # inside build_demo; or `python -m infralens_coach.ui_mock` on its own

- The question is always on screen and read aloud with the browser's speechSynthesis where it exists.
- The countdown runs in the browser from Record: a warning 10 s before the limit, then Stop is pressed for the
  user (auto-stop); the recording's stop event transcribes, grades and asks the next step.
- The session id is kept in the browser (localStorage, gr.BrowserState) and the session in History after every
  step, so a reload or a closed tab resumes where it stopped; nothing recorded is lost.
- practice style shows the scores after each answer; interview style shows nothing until the report.
- With accounts (INFRALENS_AUTH), every handler works in the signed-in user's history (ui_users): another user's
  session id is "no session", the list shows the user's own sessions, and the report file is a private copy
  outside the data directory (which is not served then).
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr  # on its own (`python -m`), set GRADIO_ANALYTICS_ENABLED=False as ui.py does

from . import mock
from .coach import Coach
from .content import DIMENSION_NAMES, GROUPS
from .errors import CoachError
from .mock_report import report_markdown, session_report
from .ui_practice import fail
from .ui_server import ScratchFolder
from .ui_users import Users

CHOOSERS = {
    "Review checklist (cards 1-8)": "checklist",
    "Question-map group": "group",
    "Cards due (spaced repetition)": "due",
    "Random": "random",
    "Card list": "cards",
}
STORAGE_KEY = "infralens-mock-session"
REPORT_KEEP_S = 600  # a signed-in user's report copy is handed to Gradio's cache at once; older ones are removed

# The countdown, in the browser: started by Record, it shows the time left, warns 10 s before the limit and presses
# Stop itself at 0 (window.__ilMock records what happened, for the browser test).
COUNTDOWN_JS = """
(seconds) => {
  const limit = Number(seconds) || 120, warnAt = WARNING_S, t0 = Date.now();
  const box = document.querySelector('#il-mock-countdown');
  window.__ilMock = Object.assign(window.__ilMock || {}, {warned: false, autoStopped: false, limit: limit});
  clearInterval(window.__ilMockTimer);
  const show = () => {
    const left = Math.max(0, limit - (Date.now() - t0) / 1000);
    const clock = Math.floor(left / 60) + ':' + String(Math.floor(left % 60)).padStart(2, '0');
    const warn = left <= warnAt;
    if (warn) window.__ilMock.warned = true;
    if (box) {
      const note = ' — ' + Math.ceil(left) + ' s: wrap up, the recording stops at 0:00';
      box.textContent = clock + ' left' + (warn ? note : '');
      box.style.color = warn ? '#b91c1c' : '';
      box.style.fontWeight = warn ? '700' : '';
    }
    if (left <= 0) {
      clearInterval(window.__ilMockTimer);
      window.__ilMock.autoStopped = true;
      const stop = document.querySelector('#il-mock-mic button.stop-button');
      if (stop) stop.click();
    }
  };
  show();
  window.__ilMockTimer = setInterval(show, 250);
  return [];
}
""".replace("WARNING_S", str(int(mock.WARNING_S)))
STOP_COUNTDOWN_JS = "() => { clearInterval(window.__ilMockTimer); return []; }"
# Read the question aloud where the browser can; the text is on screen either way.
SPEAK_JS = """
(text) => {
  window.__ilMock = Object.assign(window.__ilMock || {}, {spoken: text || ''});
  if (text && window.speechSynthesis && window.SpeechSynthesisUtterance) {
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
  }
  return [];
}
"""


class MockTab:
    """The tab's handlers: every call reads the session from History by id, so any tab or reload can continue it.
    Each takes the gr.Request Gradio passes and works in that user's history (the one history without accounts)."""

    def __init__(self, coach: Coach, users: Users | None = None) -> None:
        self.coach = coach
        self.users = users or Users(coach)
        self.reports = ScratchFolder("infralens-mock-", REPORT_KEEP_S)  # signed-in users' report copies

    def _coach(self, request: gr.Request | None) -> Coach:
        """The requesting user's Coach: their history, their sessions."""
        try:
            return self.users.coach(request)
        except CoachError as exc:
            raise fail(exc) from exc

    # -- the views every handler returns

    def _view(self, coach: Coach, session: mock.MockSession | None, feedback: str = "") -> tuple[Any, ...]:
        """(session id, browser copy, question html, seconds, text to speak, feedback, report, export file,
        recorder, typed answer, sessions table)"""
        if session is None:
            return ("", None, "<p>Choose the cards and a style, then <b>Start</b>.</p>", 0, "", feedback, "",
                    gr.update(value=None, visible=False), None, "", self._sessions(coach))  # fmt: skip
        step = session.next_step()
        sid = session.data.id
        if step is None:
            report = report_markdown(session_report(session.data, coach.bank))
            done = "<p id='il-mock-done'><b>Session complete.</b> The report is below; it is kept in History.</p>"
            return (sid, None, done, 0, "The interview is over. Here is your report.", feedback, report,
                    gr.update(value=self._export(coach, session, report), visible=True), None, "",
                    self._sessions(coach))  # fmt: skip
        kind = "Follow-up" if step.kind == "follow_up" else "Question"
        question = (
            f"<div id='il-mock-step' data-kind='{step.kind}' data-card='{step.card}' "
            f"data-dimension='{step.dimension or ''}'><p>{html.escape(step.label)} · session <code>{sid}</code></p>"
            f"<h3>{kind}: {html.escape(step.text)}</h3>"
            f"<p>You have {step.seconds:.0f} s: press Record, answer out loud, Stop (or let the countdown stop it).</p>"
            "</div>"
        )
        return (sid, sid, question, step.seconds, step.text, feedback, "", gr.update(value=None, visible=False),
                None, "", self._sessions(coach))  # fmt: skip

    def _export(self, coach: Coach, session: mock.MockSession, report: str) -> str:
        """The report as a Markdown file for the browser: kept beside the session for the single user (its folder
        is served); for a signed-in user a private copy Gradio moves into its cache (no user's folder is served)."""
        name = f"mock-interview-{session.data.id}.md"
        if coach.store is not None and coach.store.user:
            path = self.reports.path() / name  # session ids are unique: one user's, and Gradio copies it at once
        else:
            folder = coach.settings.data_dir / "sessions" / session.data.id
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
        path.write_text(report, encoding="utf-8")
        return str(path)

    def sessions_md(self, request: gr.Request | None = None) -> str:
        """The History of mock interviews: each of the user's sessions, complete or incomplete (never failed)."""
        if request is None and self.users.accounts:
            return "Sign in to see your mock interviews."  # the page's first build: no user yet, so no history
        return self._sessions(self._coach(request))

    def _sessions(self, coach: Coach) -> str:
        store = coach.store
        if store is None:
            return "History is off."
        kept = store.list_sessions()[-10:]
        if not kept:
            return "No mock interviews yet."
        lines = ["| session | when (UTC) | style | state | score | cards |", "| --- | --- | --- | --- | --- | --- |"]
        for k in reversed(kept):
            report = session_report(mock.session_of(k), coach.bank)
            state = "complete" if k.state == "complete" else "incomplete (resumable)"
            score = "" if report.overall is None else f"{report.overall}/100"
            cards = ", ".join(str(c.card) for c in report.cards)
            when = k.created_utc[:16].replace("T", " ")
            lines.append(f"| `{k.id}` | {when} | {k.style} | {state} | {score} | {cards} |")
        return "\n".join(lines)

    def _feedback(self, session: mock.MockSession, outcome: mock.Outcome) -> str:
        if session.data.style != "practice":
            return "Answer kept. (Interview style: the feedback comes with the report at the end.)"
        if outcome.score is not None:
            name = DIMENSION_NAMES[outcome.score.dimension]
            return f"**Follow-up — {name}: {outcome.score.score}/4.** {outcome.score.feedback}"
        scored = [d for d in outcome.grade.dimensions if d.max_score]
        dims = " · ".join(f"{DIMENSION_NAMES[d.dimension]} {d.score}/4" for d in scored)
        probe = outcome.probe
        why = f"\n\nThe follow-up probes **{DIMENSION_NAMES[probe.dimension]}**: {probe.reason}." if probe else ""
        return f"**{outcome.grade.overall}/100** · {dims}{why}"

    # -- events

    def start(
        self, chooser: str, group: str | None, cards: str, count: float, style: str, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        from . import progress

        how = CHOOSERS.get(chooser, "checklist")
        coach = self._coach(request)
        bank = coach.bank
        try:
            if how == "due":
                store = coach.store
                attempts = store.list(graded_only=True) if store is not None else []
                marks = mock.practice_marks(store) if store is not None else {}
                ranked = progress.suggestions(bank.questions, attempts, marked=marks)
                chosen, selection = mock.choose_cards(bank, due=mock.due_cards(ranked, int(count)))
            elif how == "group":
                chosen, selection = mock.choose_cards(bank, group=group or "")
            elif how == "random":
                chosen, selection = mock.choose_cards(bank, random_count=int(count))
            elif how == "cards":
                chosen, selection = mock.choose_cards(bank, cards=[c for c in cards.replace(" ", "").split(",") if c])
            else:
                chosen, selection = mock.choose_cards(bank, checklist=True)
            session = mock.MockSession.start(coach, chosen, style=style, selection=selection)
        except CoachError as exc:
            raise fail(exc) from exc
        return self._view(coach, session, f"Started: {len(chosen)} cards ({selection}), {style} style.")

    def resume(self, session_id: str | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        """On page load: the browser's unfinished session, where it stopped (or the start screen)."""
        coach = self._coach(request)
        if not session_id or coach.store is None:
            return self._view(coach, None)
        try:
            session = mock.MockSession.resume(coach, session_id)
        except CoachError:
            # gone (deleted), or another user's on a shared browser: start afresh, and leave the browser's copy
            # to the user whose session it is
            return tuple(gr.skip() if i == 1 else v for i, v in enumerate(self._view(coach, None)))
        if session.next_step() is None:
            return self._view(coach, None)
        return self._view(coach, session, f"Resumed session {session.data.id} where it stopped.")

    def open_session(self, session_id: str, request: gr.Request | None = None) -> tuple[Any, ...]:
        """A session of the user's by id (or its last characters): an incomplete one where it stopped, a complete
        one with its report. Another user's id is "no session"."""
        coach = self._coach(request)
        if not (session_id or "").strip():
            raise fail(CoachError("type a session id: the Past mock interviews table lists yours"))
        try:
            session = mock.MockSession.resume(coach, session_id.strip())
        except CoachError as exc:
            raise fail(exc) from exc
        done = session.next_step() is None
        note = "Complete: the report is below." if done else "Resumed where it stopped."
        return self._view(coach, session, f"Session {session.data.id}. {note}")

    def answer_audio(self, session_id: str, audio: str | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        if not audio:
            raise fail(CoachError("nothing was recorded: press Record, answer, then Stop"))
        return self._answer(self._coach(request), session_id, None, audio)

    def answer_text(self, session_id: str, text: str, request: gr.Request | None = None) -> tuple[Any, ...]:
        return self._answer(self._coach(request), session_id, text, None)

    def _answer(self, coach: Coach, session_id: str, text: str | None, audio: str | None) -> tuple[Any, ...]:
        if not session_id:
            raise fail(CoachError("no session: press Start first"))
        try:
            session = mock.MockSession.resume(coach, session_id)
            step = session.next_step()
            if step is None:
                return self._view(coach, session)
            spoken = None
            if audio is not None:
                question = coach.bank.get(session.data.runs[step.index].question_id)
                spoken = coach.transcribe(question, audio)
                text = spoken.text
            outcome = session.answer(text or "", spoken=spoken, audio=audio, mode="voice" if spoken else "text")
        except CoachError as exc:
            raise fail(exc) from exc
        heard = f"Heard: “{html.escape(text or '')}”\n\n" if spoken is not None else ""
        return self._view(coach, session, heard + self._feedback(session, outcome))

    def abandon(self, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Leave the session (it stays in History as incomplete, resumable by id) and show the start screen."""
        return self._view(self._coach(request), None, "Left the session; it is kept as incomplete.")


def build_mock_tab(coach: Coach, demo: gr.Blocks, users: Users | None = None) -> MockTab:
    """Add the Mock interview tab to `demo` (call inside `with demo:`; `demo` gets the resume-on-load event)."""
    tab = MockTab(coach, users)
    # Outside the tab: a tab not yet shown is not rendered, so a BrowserState inside it reached the resume-on-load
    # event empty in the full app (a reload then lost the session's place)
    saved_id = gr.BrowserState(None, storage_key=STORAGE_KEY)
    with gr.Tab("Mock interview", id="mock"):
        gr.Markdown(
            "A mock interview: 3-8 questions asked in turn (read aloud, and on screen), a countdown for each answer, "
            "a follow-up on the weakest point of each answer, and a report of the whole session at the end."
        )
        with gr.Row():
            chooser = gr.Radio(list(CHOOSERS), value=next(iter(CHOOSERS)), label="Cards", elem_id="il-mock-chooser")
            group = gr.Dropdown(list(GROUPS), value="explain-the-why", label="Group", elem_id="il-mock-group")
            cards = gr.Textbox(label="Card list (e.g. 3,7,9)", elem_id="il-mock-cards")
            count = gr.Slider(mock.MIN_CARDS, mock.MAX_CARDS, value=mock.DEFAULT_COUNT, step=1, label="How many")
            style = gr.Radio(list(mock.STYLES), value="interview", label="Style", elem_id="il-mock-style",
                             info="practice: feedback after each answer; interview: only at the end")  # fmt: skip
        with gr.Row():
            start_btn = gr.Button("Start", variant="primary", elem_id="il-mock-start")
            leave_btn = gr.Button("Leave this session", elem_id="il-mock-leave")
        session_id = gr.Textbox(label="Session", interactive=False, elem_id="il-mock-session")
        question = gr.HTML(elem_id="il-mock-question")
        with gr.Row():
            seconds = gr.Number(label="Answer time (s)", interactive=False, elem_id="il-mock-seconds", scale=0)
            gr.HTML("<div id='il-mock-countdown' aria-live='polite'></div>")
        speak = gr.Textbox(visible=False)
        mic = gr.Audio(sources=["microphone"], type="filepath", label="Your answer", elem_id="il-mock-mic",
                       waveform_options=gr.WaveformOptions(show_recording_waveform=False))  # fmt: skip
        with gr.Row():
            typed = gr.Textbox(label="…or type the answer", lines=3, elem_id="il-mock-typed", scale=4)
            typed_btn = gr.Button("Submit typed answer", elem_id="il-mock-submit", scale=1)
        feedback = gr.Markdown(elem_id="il-mock-feedback")
        report = gr.Markdown(elem_id="il-mock-report")
        export = gr.File(label="Report (Markdown)", visible=False, elem_id="il-mock-export")
        with gr.Accordion("Past mock interviews", open=True):
            sessions = gr.Markdown(tab.sessions_md, elem_id="il-mock-sessions")
            with gr.Row():
                open_id = gr.Textbox(label="Open a session (its id, or its last characters)", elem_id="il-mock-open-id",
                                     scale=4)  # fmt: skip
                open_btn = gr.Button("Open", elem_id="il-mock-open", scale=1)
                refresh_btn = gr.Button("Refresh the list", elem_id="il-mock-refresh", scale=1)

    outputs = [session_id, saved_id, question, seconds, speak, feedback, report, export, mic, typed, sessions]

    def then_speak(event: Any) -> None:
        event.then(None, speak, None, js=SPEAK_JS, api_visibility="private")

    then_speak(start_btn.click(tab.start, [chooser, group, cards, count, style], outputs, api_name="mock_start"))
    mic.start_recording(None, seconds, None, js=COUNTDOWN_JS, api_visibility="private")
    then_speak(
        mic.stop_recording(None, None, None, js=STOP_COUNTDOWN_JS, api_visibility="private").then(
            tab.answer_audio, [session_id, mic], outputs, api_name="mock_answer_audio", concurrency_id="mock"
        )
    )
    then_speak(typed_btn.click(tab.answer_text, [session_id, typed], outputs, api_name="mock_answer",
                               concurrency_id="mock"))  # fmt: skip
    leave_btn.click(tab.abandon, None, outputs, api_visibility="private")
    then_speak(open_btn.click(tab.open_session, open_id, outputs, api_name="mock_open"))
    refresh_btn.click(tab.sessions_md, None, sessions, api_name="mock_sessions")
    # A reload or a reopened tab: the browser remembers the session id; History has the rest.
    then_speak(demo.load(tab.resume, saved_id, outputs, api_visibility="private"))
    return tab


def build_mock_demo(coach: Coach | None = None) -> gr.Blocks:
    """The tab on a page of its own (`python -m infralens_coach.ui_mock`)."""
    from .config import Settings

    coach = coach or Coach.from_settings(Settings.from_env())
    demo = gr.Blocks(title="infralens-coach · mock interview")
    with demo:
        gr.Markdown("# infralens-coach\nMock interview")
        build_mock_tab(coach, demo)
    return demo


if __name__ == "__main__":
    from .config import Settings
    from .ui_server import allowed_paths, server_options

    settings = Settings.from_env()
    options = server_options(settings)
    build_mock_demo().launch(
        server_name=options.host, server_port=options.port, share=False, auth=options.auth, quiet=True,
        allowed_paths=allowed_paths(settings),  # with accounts none: reports go out as private copies
    )  # fmt: skip
