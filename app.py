"""Start the web app: `python app.py` (or `gradio app.py`). Binds 127.0.0.1:7860 unless INFRALENS_HOST/PORT say otherwise."""

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from infralens_coach.errors import ContentError  # noqa: E402

try:
    from infralens_coach.ui import build_demo, launch  # noqa: E402

    demo = build_demo()
except ContentError as exc:  # an invalid custom pack: say which file and field, don't start half-broken
    print(f"infralens-coach: cannot start — a question pack is invalid:\n{exc}", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    launch(demo)
