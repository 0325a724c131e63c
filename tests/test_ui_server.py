"""Where the web app may listen (issue 10, item 5): never open to the network without a password by accident.

Unit tests of the checks, and the README's run command (`python app.py`) started as a subprocess.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from support.app_server import AppServer

from infralens_coach.config import Settings
from infralens_coach.errors import CoachError
from infralens_coach.ui_server import is_loopback, parse_auth, server_options, start_notes


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]", "LOCALHOST"])
def test_loopback_addresses(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "my-laptop.lan", ""])
def test_addresses_other_machines_can_reach(host):
    assert not is_loopback(host)


def test_auth_is_user_colon_password():
    assert parse_auth(None) is None
    assert parse_auth("alice:s3cret:with:colons") == ("alice", "s3cret:with:colons")


@pytest.mark.parametrize(
    "raw, message",
    [
        ("alice", "with a colon"),
        ("alice:", "one of them is empty"),
        (":s3cret", "one of them is empty"),
    ],
)
def test_auth_nobody_could_log_in_with_is_refused(raw, message):
    with pytest.raises(CoachError, match=message):
        parse_auth(raw)


def settings(**changes) -> Settings:
    return dataclasses.replace(Settings(), **changes)


def test_a_network_address_without_a_password_is_refused():
    with pytest.raises(CoachError) as err:
        server_options(settings(host="0.0.0.0"))
    message = str(err.value)
    assert "INFRALENS_AUTH" in message and "INFRALENS_ALLOW_OPEN=1" in message and "0.0.0.0" in message


def test_a_network_address_with_a_password_or_an_explicit_opt_in_is_served():
    with_auth = server_options(settings(host="0.0.0.0", auth="alice:pw"))
    assert with_auth.auth == ("alice", "pw") and not with_auth.open_to_network
    opted_in = server_options(settings(host="0.0.0.0", allow_open=True))
    assert opted_in.auth is None and opted_in.open_to_network
    assert any("WARNING" in note for note in start_notes(opted_in))


def test_loopback_needs_no_password_and_the_port_is_checked():
    assert server_options(settings()).local_url == "http://127.0.0.1:7860/"
    with pytest.raises(CoachError, match="not a TCP port"):
        server_options(settings(port=70000))


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("INFRALENS_HOST", "0.0.0.0")
    monkeypatch.setenv("INFRALENS_PORT", "8123")
    monkeypatch.setenv("INFRALENS_AUTH", "alice:pw")
    monkeypatch.setenv("INFRALENS_ALLOW_OPEN", "1")
    s = Settings.from_env()
    assert (s.host, s.port, s.auth, s.allow_open) == ("0.0.0.0", 8123, "alice:pw", True)
    assert "pw" not in repr(s)  # the password never shows in a repr or a log line


@pytest.mark.parametrize(
    "env, message",
    [
        ({"INFRALENS_HOST": "0.0.0.0"}, "INFRALENS_AUTH=user:password"),
        ({"INFRALENS_AUTH": "alice"}, "INFRALENS_AUTH must be user:password"),
        ({"INFRALENS_HOST": "0.0.0.0", "INFRALENS_AUTH": "alice:"}, "one of them is empty"),
    ],
    ids=["open-lan", "auth-without-colon", "auth-empty-password"],
)
@pytest.mark.slow
def test_the_app_refuses_to_start(tmp_path, env, message):
    server = AppServer(tmp_path, env)
    try:
        with pytest.raises(RuntimeError) as err:
            server.start(timeout_s=60)
    finally:
        server.stop()  # had it started after all
    assert "app exited with 2" in str(err.value) and message in str(err.value)


@pytest.mark.slow
def test_the_app_serves_the_lan_only_when_told_to(tmp_path):
    server = AppServer(tmp_path, {"INFRALENS_HOST": "0.0.0.0", "INFRALENS_ALLOW_OPEN": "1"}).start()
    try:  # the notes are printed just after the server answers
        deadline = time.monotonic() + 30
        while "WARNING" not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.stop()
    log = server.log.read_text()
    assert "WARNING: INFRALENS_ALLOW_OPEN=1" in log and "share=True" not in log
