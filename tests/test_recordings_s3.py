"""Recordings in an S3-compatible bucket (INFRALENS_RECORDINGS_BUCKET), against a real S3 server on loopback.

moto's server (`moto[server]`, the `test` extra) speaks the S3 HTTP API in a thread of this process; boto3 talks
to it as to MinIO or Ceph (INFRALENS_S3_ENDPOINT_URL). What the bucket holds is checked with boto3 directly.
The directory mode (no bucket) is tests/test_history.py's business and must stay as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import secrets
import subprocess
import sys
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto.server import ThreadedMotoServer
from support.app_server import free_port, outside_home
from support.fakes import JOB_ANSWER

from infralens_coach.config import Settings
from infralens_coach.content import QuestionBank
from infralens_coach.errors import CoachError, HistoryError
from infralens_coach.grading import KeywordGrader
from infralens_coach.history import HistoryStore, new_attempt

SECRET = "s3cr3t-" + secrets.token_hex(8)  # must never appear in a message or a log line


@contextlib.contextmanager
def s3_server(port: int | None = None) -> Iterator[str]:
    """A real S3 endpoint on a free loopback port; its endpoint URL. (moto keeps its buckets per process, so a
    server restarted on the same port still has them: an outage, not a wipe.)"""
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url:
        yield url


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """The standard AWS variables, as a deployment sets them: boto3's credential chain reads them, we never do."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "infralens-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata look-ups off a cloud machine
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "INFRALENS_RECORDINGS_DIR", "INFRALENS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def new_bucket(endpoint: str) -> str:
    name = f"infralens-{secrets.token_hex(6)}"
    client(endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def home() -> Iterator[Path]:
    with outside_home("s3") as path:
        yield path


@pytest.fixture(scope="module")
def bank() -> QuestionBank:
    return QuestionBank.load()


def settings(home: Path, bucket: str, endpoint: str, **kw) -> Settings:
    return Settings(data_dir=home, recordings_bucket=f"s3://{bucket}/recordings", s3_endpoint_url=endpoint, **kw)


def graded_attempt(bank: QuestionBank, **kw):
    question = bank.get(7)
    grade = KeywordGrader().grade(question, bank.rubric, JOB_ANSWER).to_json()
    return new_attempt(question, bank.rubric, JOB_ANSWER, grade=grade, **kw)


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    s3 = client(endpoint)
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


# ---------------------------------------------------------------- settings


def test_the_bucket_and_endpoint_are_settings(monkeypatch):
    monkeypatch.setenv("INFRALENS_RECORDINGS_BUCKET", "s3://coach-audio/prod/recordings/")
    monkeypatch.setenv("INFRALENS_S3_ENDPOINT_URL", "http://minio:9000")
    got = Settings.from_env()
    assert (got.recordings_bucket, got.s3_endpoint_url) == ("s3://coach-audio/prod/recordings/", "http://minio:9000")
    monkeypatch.delenv("INFRALENS_RECORDINGS_BUCKET")
    monkeypatch.delenv("INFRALENS_S3_ENDPOINT_URL")
    assert (Settings.from_env().recordings_bucket, Settings.from_env().s3_endpoint_url) == (None, None)
    for bad in ("coach-audio", "s3://", "s3:///prefix", "https://coach-audio.s3.amazonaws.com", "s3://Bad_Name"):
        monkeypatch.setenv("INFRALENS_RECORDINGS_BUCKET", bad)
        with pytest.raises(CoachError, match="INFRALENS_RECORDINGS_BUCKET"):
            Settings.from_env()
    monkeypatch.setenv("INFRALENS_RECORDINGS_BUCKET", "s3://coach-audio")
    monkeypatch.setenv("INFRALENS_S3_ENDPOINT_URL", "minio:9000")
    with pytest.raises(CoachError, match="INFRALENS_S3_ENDPOINT_URL"):
        Settings.from_env()


# ---------------------------------------------------------------- saving, playing back, deleting


def test_a_recording_goes_to_the_bucket_and_a_fresh_store_plays_it_back(home, bank, endpoint, tmp_path):
    bucket = new_bucket(endpoint)
    recording = tmp_path / "Answer.WAV"
    recording.write_bytes(b"RIFF one learner's answer")
    with HistoryStore.open(settings(home, bucket, endpoint)) as store:
        saved = store.save(graded_attempt(bank, mode="upload"), audio=recording)
        spoken = store.save(graded_attempt(bank, mode="voice"), audio=np.full(16_000, 0.25, dtype=np.float32))
    assert saved.audio_path == f"audio/{saved.id}.wav" and saved.audio_source == "Answer.WAV"  # as in a directory
    kept = objects(endpoint, bucket)
    assert set(kept) == {f"recordings/{saved.id}.wav", f"recordings/{spoken.id}.wav"}
    assert kept[f"recordings/{saved.id}.wav"] == recording.read_bytes()
    with wave.open(io.BytesIO(kept[f"recordings/{spoken.id}.wav"])) as wav:  # the microphone's samples, as WAV
        assert (wav.getframerate(), wav.getnframes()) == (16_000, 16_000)

    # Another replica, or this one after a restart with its cache gone: the bucket is where the recording lives.
    with (
        outside_home("s3-replica") as replica,
        HistoryStore(home / "history.db", **_bucket_store(replica, bucket, endpoint)) as fresh,
    ):
        assert not any((replica / "audio").glob("*.wav"))  # nothing cached yet
        assert fresh.recordings.exists(f"{spoken.id}.wav") and not fresh.recordings.exists("01ABSENT.wav")
        played = fresh.audio_file(fresh.get(saved.id))
        assert played is not None and played.read_bytes() == recording.read_bytes()
        assert played.parent == replica / "audio"  # the read-through cache, in the replica's data dir
        assert fresh.audio_file(fresh.get(saved.id)) == played  # a second play is served from the cache
        # The web app grading the same recording again passes the played copy: shared, not uploaded twice.
        again = fresh.save(graded_attempt(bank, mode="upload"), audio=played)
        assert again.audio_path == saved.audio_path and len(objects(endpoint, bucket)) == 2
        fresh.delete(again.id)  # another attempt still uses the recording: it stays
        assert f"recordings/{saved.id}.wav" in objects(endpoint, bucket)
        fresh.delete(saved.id)  # the last one takes it with it: from the bucket and from the cache
        assert set(objects(endpoint, bucket)) == {f"recordings/{spoken.id}.wav"}
        assert not played.exists() and not fresh.recordings.exists(f"{saved.id}.wav")


def _bucket_store(data_dir: Path, bucket: str, endpoint: str) -> dict:
    """HistoryStore keyword arguments for a bucket, as HistoryStore.open builds them from the settings."""
    from infralens_coach.recordings import open_recordings

    return {"data_dir": data_dir, "recordings": open_recordings(settings(data_dir, bucket, endpoint))}


def test_a_recording_gone_from_the_bucket_plays_as_missing(home, bank, endpoint, tmp_path):
    bucket = new_bucket(endpoint)
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"RIFF")
    with HistoryStore.open(settings(home, bucket, endpoint)) as store:
        saved = store.save(graded_attempt(bank, mode="upload"), audio=recording)
        client(endpoint).delete_object(Bucket=bucket, Key=f"recordings/{saved.id}.wav")
        (home / "audio" / f"{saved.id}.wav").unlink()
        gone = store.audio_file(saved)
        assert gone is not None and not gone.exists()  # like a file deleted from the recordings directory


# ---------------------------------------------------------------- one user's recordings are theirs


def test_each_user_has_their_own_keys_and_cannot_fetch_another_users_recording(home, bank, endpoint, tmp_path):
    bucket = new_bucket(endpoint)
    recording = tmp_path / "answer.wav"
    recording.write_bytes(b"RIFF alice")
    with HistoryStore.open(settings(home, bucket, endpoint)) as store:
        alice, bob = store.for_user("alice"), store.for_user("bob")
        hers = alice.save(graded_attempt(bank, mode="upload"), audio=recording)
        his = bob.save(graded_attempt(bank, mode="upload"), audio=recording)
    assert set(objects(endpoint, bucket)) == {f"recordings/alice/{hers.id}.wav", f"recordings/bob/{his.id}.wav"}
    # an empty cache: any recording bob got would come from the bucket
    with (
        outside_home("s3-replica") as replica,
        HistoryStore(home / "history.db", **_bucket_store(replica, bucket, endpoint)) as fresh,
    ):
        bob = fresh.for_user("bob")
        with pytest.raises(HistoryError, match="no attempt"):
            bob.get(hers.id)
        for forged in (
            hers,  # alice's own row, got elsewhere
            dataclasses.replace(his, audio_path=hers.audio_path),  # bob's row naming alice's recording
            dataclasses.replace(his, audio_path=f"audio/bob/../alice/{hers.id}.wav"),
        ):
            with pytest.raises(HistoryError, match="not bob's"):
                bob.audio_file(forged)
        assert not (replica / "audio" / "alice").exists()  # refused before anything was fetched
        mine = bob.audio_file(bob.get(his.id))
        assert mine == replica / "audio" / "bob" / f"{his.id}.wav" and mine.read_bytes() == b"RIFF alice"
        assert fresh.for_user("alice").audio_file(hers).read_bytes() == b"RIFF alice"


# ---------------------------------------------------------------- failures


def test_a_server_down_at_save_keeps_the_attempt_and_its_audio_here_until_it_is_back(home, bank, tmp_path, caplog):
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"RIFF pending")
    port = free_port()
    with s3_server(port) as endpoint:
        bucket = new_bucket(endpoint)
        store = HistoryStore.open(settings(home, bucket, endpoint))
        early = store.save(graded_attempt(bank, mode="upload"), audio=recording)
    try:  # the server is down from here on
        with caplog.at_level(logging.WARNING):
            saved = store.save(graded_attempt(bank, mode="upload"), audio=recording)
            store.delete(early.id)  # gone from the history now; from the bucket once it is back
        kept = store.get(saved.id)
        assert kept.transcript == JOB_ANSWER and kept.overall == saved.overall and kept.overall is not None
        assert kept.audio_path == f"audio/{saved.id}.wav"
        assert store.audio_file(kept).read_bytes() == b"RIFF pending"  # plays here, from this machine's copy
        warning = caplog.text
        assert f"{saved.id}.wav was not uploaded to s3://{bucket}/recordings" in warning
        assert f"{early.id}.wav was not deleted" in warning
        assert SECRET not in warning
        assert store.recordings.pending() == [f"{saved.id}.wav"]
    finally:
        store.close()

    with s3_server(port) as endpoint:  # back: the next start sends what waited
        with HistoryStore.open(settings(home, bucket, endpoint)) as again:
            assert again.recordings.pending() == []
        assert objects(endpoint, bucket) == {f"recordings/{saved.id}.wav": b"RIFF pending"}


def test_a_missing_bucket_an_unreachable_server_or_denied_access_is_a_clear_error_at_startup(home, endpoint):
    with pytest.raises(HistoryError, match=r"bucket 'no-such-bucket-here' does not exist") as missing:
        HistoryStore.open(settings(home, "no-such-bucket-here", endpoint))
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(HistoryError, match=rf"cannot reach the S3 endpoint {down}") as unreachable:
        HistoryStore.open(settings(home, "coach-audio", down))
    bucket = new_bucket(endpoint)
    _enforce_auth(endpoint, "0")  # from now on moto checks credentials: ours are not in its IAM
    try:
        with pytest.raises(HistoryError, match=rf"access to bucket '{bucket}' was denied") as denied:
            HistoryStore.open(settings(home, bucket, endpoint))
    finally:
        _enforce_auth(endpoint, "inf")
    for err in (missing, unreachable, denied):
        assert "INFRALENS_RECORDINGS_BUCKET" in str(err.value) and SECRET not in str(err.value)


def _enforce_auth(endpoint: str, after_requests: str) -> None:
    """moto's own switch: check credentials after this many requests ("inf": never)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=after_requests.encode(), method="POST",
        headers={"Content-Type": "application/octet-stream"},  # not a form: moto reads the raw body
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def test_no_credentials_is_a_clear_error_at_startup(home, endpoint, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(HistoryError, match="no S3 credentials"):
        HistoryStore.open(settings(home, "coach-audio", endpoint))


@pytest.mark.slow
def test_a_bucket_needs_boto3_only_then(home):
    """Without a bucket nothing imports boto3 (heavy imports stay behind their module)."""
    code = (
        "import sys; from pathlib import Path; from infralens_coach.config import Settings; "
        "from infralens_coach.history import HistoryStore; "
        f"HistoryStore.open(Settings(data_dir=Path({str(home)!r}))).close(); print('boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
