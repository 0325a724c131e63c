import atexit
import os
import shutil
import subprocess
import tempfile

import pytest

# Nothing in the tests may reach the network or phone home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# The whole run (in-process CLI calls and the subprocesses they start) writes its history into a throwaway
# data directory, never the real one. Tests that inspect a history set their own INFRALENS_HOME.
_SESSION_HOME = tempfile.mkdtemp(prefix="infralens-test-home-")
os.environ["INFRALENS_HOME"] = _SESSION_HOME
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)


# ---------------------------------------------------------------- the fast tier
# `pytest -m "not slow"` is the loop between small edits: no Chromium, no Whisper model, no subprocess.
# A test that starts a process (espeak-ng for a clip, the app, the CLI in a real process) must be marked
# slow; an unmarked one that tries fails at once, so the fast tier cannot quietly grow slow.


class _NoProcessInFastTests(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, *args, **kwargs):
        raise AssertionError("a test not marked @pytest.mark.slow started a subprocess: mark it slow")


@pytest.fixture(autouse=True)
def _fast_tests_start_no_process(request, monkeypatch):
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setattr(subprocess, "Popen", _NoProcessInFastTests)
    yield


# ---------------------------------------------------------------- shared fixtures
@pytest.fixture(scope="module")
def bank():
    """The seed question bank (a module may define its own)."""
    from infralens_coach.content import QuestionBank

    return QuestionBank.load()


@pytest.fixture(scope="module")
def grader():
    """The offline grader with the bundled meaning model, as `eval` rows and reference-only packs are graded."""
    from infralens_coach.grading import KeywordGrader

    return KeywordGrader()
