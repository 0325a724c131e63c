"""The Settings tab: what the app runs with (speech model, grader, data directory), and the speech model warm-up.

Plain functions and a small object, so tests call them without a browser. No gradio import here.
"""

from __future__ import annotations

import contextlib
import threading

from .coach import Coach
from .errors import CoachError


class Warmup:
    """Loads the Whisper model (then the offline grader's) in a background thread, so the page is usable at once;
    `status` says how the speech model went."""

    def __init__(self, coach: Coach) -> None:
        self.status = "loading the speech model…"
        self._thread = threading.Thread(target=self._run, args=(coach,), daemon=True, name="whisper-warm-up")

    def start(self) -> Warmup:
        self._thread.start()
        return self

    def _run(self, coach: Coach) -> None:
        try:
            self.status = f"ready: {coach.warm_up()}"
        except CoachError as exc:
            self.status = f"not available: {exc}"
        warm_offline_grader(coach)


def warm_offline_grader(coach: Coach) -> None:
    """Load the offline grader's sentence model now (about 2 s), so the grade right after Stop is quick."""
    if not coach.settings.grader_meaning:
        return
    from .grading.embed import default_embedder

    with contextlib.suppress(CoachError):  # the first real grade says why
        default_embedder()


def settings_md(coach: Coach, speech_status: str) -> str:
    s = coach.settings
    model = s.whisper_model or "the best available offline (base.en if cached, else the bundled tiny.en)"
    llm = f"`{s.llm_model}`" if s.llm_model else "not configured: the offline keyword grader decides"
    return (
        f"- **Speech engine:** `{s.whisper_engine}`, model {model} — {speech_status}\n"
        "  - Better accuracy on jargon: download `base.en` once and set `INFRALENS_WHISPER_MODEL=base.en`.\n"
        f"- **LLM grader:** {llm}. Set `INFRALENS_LLM_MODEL` (e.g. `ollama/llama3.1` or "
        "`openai/gpt-4o-mini`); provider keys stay in your environment and are never shown or stored.\n"
        f"- **Data directory:** `{s.data_dir}`"
        + ("" if coach.store is not None else " (history is off)")
        + f"\n- **Questions:** {len(coach.bank.questions)} cards"
    )


class SettingsView:
    """The Settings tab's one handler: the settings with the speech model's current status."""

    def __init__(self, coach: Coach, warmup: Warmup | None) -> None:
        self.coach = coach
        self.warmup = warmup

    def markdown(self) -> str:
        return settings_md(self.coach, self.warmup.status if self.warmup else "loads on the first recording")

    def test_llm(self) -> str:
        """The "Test the LLM" button: the same check as `infralens-coach llm check`, as Markdown."""
        from .grading.check import check_llm

        return check_llm(self.coach.settings, self.coach.bank).markdown()
