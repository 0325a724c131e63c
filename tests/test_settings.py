"""All configuration through config.Settings: one place reads the environment, everything else receives it."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.app_server import outside_home

from infralens_coach.config import Settings
from infralens_coach.delivery import DeliveryTargets
from infralens_coach.errors import CoachError
from infralens_coach.grading.chain import build_grader
from infralens_coach.history import HistoryStore


def test_settings_read_the_data_dir_and_the_delivery_targets(monkeypatch, tmp_path):
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFRALENS_TARGET_SECONDS", "10-20")
    monkeypatch.setenv("INFRALENS_TARGET_WPM", "200 – 260")
    s = Settings.from_env()
    assert s.data_dir == tmp_path / "home"
    assert (s.target_seconds, s.target_wpm) == ((10.0, 20.0), (200.0, 260.0))
    assert DeliveryTargets.from_settings(s) == DeliveryTargets(10.0, 20.0, 200.0, 260.0)
    monkeypatch.delenv("INFRALENS_TARGET_SECONDS")
    monkeypatch.delenv("INFRALENS_TARGET_WPM")
    assert DeliveryTargets.from_settings(Settings.from_env()) == DeliveryTargets()  # the full-answer band
    monkeypatch.setenv("INFRALENS_TARGET_SECONDS", "120-60")
    with pytest.raises(CoachError, match="INFRALENS_TARGET_SECONDS='120-60' must be a range like 60-120"):
        Settings.from_env()


def test_the_history_opens_in_the_settings_data_dir_not_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "elsewhere"))
    with outside_home("settings") as home, HistoryStore.open(Settings(data_dir=home, keep_audio=False)) as store:
        assert store.path == home / "history.db" and store.keep_audio is False
    assert not (tmp_path / "elsewhere").exists()


def test_the_grade_cache_lives_in_the_settings_data_dir():
    with outside_home("settings-cache") as home:
        chain = build_grader(Settings(data_dir=Path(home), llm_model="openai/grader"))
        assert chain.cache is not None and chain.cache.path.parent == home
