import atexit
import os
import shutil
import tempfile

# Nothing in the tests may reach the network or phone home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# The whole run (in-process CLI calls and the subprocesses they start) writes its history into a throwaway
# data directory, never the real one. Tests that inspect a history set their own INFRALENS_HOME.
_SESSION_HOME = tempfile.mkdtemp(prefix="infralens-test-home-")
os.environ["INFRALENS_HOME"] = _SESSION_HOME
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)
