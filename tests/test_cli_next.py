"""`next` suggests commands that work: each one it prints is run here, as a user would copy it.

The microphone command runs in its own process with ALSA's file plugin replaying speech as the microphone
(see test_record.py); Enter is pressed once the recorder has heard the whole answer.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest
from click.testing import CliRunner
from support import clips
from support.fakes import JOB_ANSWER

from infralens_coach.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def suggested(output: str) -> list[list[str]]:
    """Every `infralens-coach ...` command in the output, split as a shell would (program name dropped)."""
    return [shlex.split(cmd) for cmd in re.findall(r"infralens-coach (.+?)(?=\s{2,}|\s*\(|$)", output, re.M)]


def record_until_heard(args: list[str], home, heard_s: int = 15) -> subprocess.CompletedProcess:
    """Run a recording command with the fake microphone; press Enter after `heard_s` seconds of recording."""
    microphone = clips.alsa_config(clips.raw_microphone(clips.ANSWER, tail_s=1.0), "mic-next.conf")
    env = {**os.environ, "ALSA_CONFIG_PATH": str(microphone), "INFRALENS_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "infralens_coach.cli", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    err_lines = []
    for line in proc.stderr:  # without a terminal the recorder prints one "● N s" line a second
        err_lines.append(line)
        seconds = re.search(r"● +(\d+) s", line)
        if seconds and int(seconds.group(1)) >= heard_s:
            break
    out, err = proc.communicate(input="\n", timeout=180)  # Enter stops the recording
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(err_lines) + err)


@pytest.mark.slow
def test_every_command_next_suggests_runs(home):
    shown = CliRunner().invoke(main, ["next"])
    assert shown.exit_code == 0 and "Next: card 01" in shown.output
    commands = suggested(shown.output)
    assert [c[0] for c in commands] == ["practice", "grade"], shown.output

    typed = CliRunner().invoke(main, commands[1], input=JOB_ANSWER)  # the typed answer arrives on standard input
    assert typed.exit_code == 0, typed.output
    assert "Overall:" in typed.output and "Saved as attempt" in typed.output

    # The fake microphone has no clock (ALSA's file plugin over a null device): it fills the default 120 s limit in
    # about a second, before Enter can arrive. A limit the length of the clip keeps it to the answer.
    spoken = record_until_heard([*commands[0], "--seconds", "16"], home)
    assert spoken.returncode == 0, spoken.stderr
    assert "Transcript:" in spoken.stdout and "Overall:" in spoken.stdout and "Saved as attempt" in spoken.stdout
    assert "Traceback" not in spoken.stderr

    again = CliRunner().invoke(main, ["next"])  # a practised card: the suggestion still names runnable commands
    assert [c[0] for c in suggested(again.output)] == ["practice", "grade"]


def test_an_empty_history_suggests_practice_with_record(home):
    empty = CliRunner().invoke(main, ["history", "list"])
    assert "No attempts yet" in empty.output
    assert "practice N --record" in empty.output and not re.search(r"practice N`", empty.output)
