"""The Mock interview tab in a headless browser: the spoken answer the tests use, and waiting for a step."""

from __future__ import annotations

from infralens_coach.ui_mock import STORAGE_KEY

# Card 7 with mechanism and why it matters, nothing on tradeoffs (about 17 s).
WEAK_ON_TRADEOFFS = (
    "A Job runs work until it is done, and a Deployment keeps a set number of replicas running all the time. "
    "So a data preprocessing step belongs in a Job, and an inference API belongs in a Deployment. If you pick "
    "wrong, a finished script keeps restarting and burns GPU time."
)
STEP_JS = """() => { const s = document.querySelector('#il-mock-step');
    return s ? {kind: s.dataset.kind, card: s.dataset.card, dimension: s.dataset.dimension} : null; }"""


def step_of(page) -> dict[str, str] | None:
    """The step the page shows: kind (question / follow_up), card and the probed dimension; None when none."""
    step: dict[str, str] | None = page.evaluate(STEP_JS)
    return step


def wait_for_step(page, kind: str, card: int, timeout_ms: int = 180_000) -> dict[str, str]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            f"""() => {{ const s = document.querySelector('#il-mock-step');
                return s && s.dataset.kind === '{kind}' && s.dataset.card === '{card}'; }}""",
            timeout=timeout_ms,
        )
    except PlaywrightTimeout:  # say what the page showed instead, and what the browser remembered
        shown = page.locator("#il-mock-question").inner_text()
        saved = page.evaluate(f"() => localStorage.getItem('{STORAGE_KEY}')")
        feedback = page.locator("#il-mock-feedback").inner_text()
        raise AssertionError(f"no {kind} step on card {card}: the page shows {shown!r} (feedback {feedback!r}); "
                             f"the browser keeps session {saved!r}") from None  # fmt: skip
    step = step_of(page)
    assert step is not None
    return step
