"""Start the web app: `python app.py` (or `gradio app.py`).

Binds 127.0.0.1:7860 unless INFRALENS_HOST/PORT say otherwise; refuses a network address without INFRALENS_AUTH.
"""

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from infralens_coach.config import Settings
from infralens_coach.errors import CoachError, ContentError


def _refuse(why: str, exc: CoachError) -> None:
    print(f"infralens-coach: cannot start — {why}{exc}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":  # where it may listen is checked first, before anything loads
    try:
        from infralens_coach.ui_server import server_options

        server_options(Settings.from_env())
    except CoachError as exc:
        _refuse("", exc)

try:
    from infralens_coach.ui import build_demo, launch

    demo = build_demo()
except ContentError as exc:  # an invalid custom pack: say which file and field, don't start half-broken
    _refuse("a question pack is invalid:\n", exc)

if __name__ == "__main__":
    try:
        launch(demo)
    except CoachError as exc:
        _refuse("", exc)
