"""infralens-coach: rehearse AI-infrastructure interview answers out loud.

How the package is laid out (imports flow down this list only; tests/test_architecture.py checks it):

    front ends   cli.py, cli_*.py (terminal); ui.py, ui_*.py (web app, the only gradio import)
    pipeline     coach.py: transcribe → grade → keep, and the one failure policy
    parts        transcribe/, audio.py, recorder.py, grading/, delivery.py, history.py, attempt.py,
                 progress.py, export.py, render.py, render_html.py, evaluation/
    foundation   content.py (the question bank, pure data), config.py (Settings), errors.py
"""

__version__ = "0.1.0"
