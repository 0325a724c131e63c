"""Where kept recordings live: a directory (the default), or an S3-compatible bucket (INFRALENS_RECORDINGS_BUCKET).

    recordings = open_recordings(settings)         # DirectoryRecordings, or S3Recordings with a bucket
    path = recordings.put("alice/01J....wav", write)  # write(partial file) writes the bytes; whole when it returns
    recordings.local_path(key)                      # a file to play (from a bucket: fetched into the cache first)
    recordings.delete(key); recordings.exists(key); recordings.pending()

A key is a recording's path under the recordings root: "<attempt id><ext>" for the single user, "<user>/<attempt
id><ext>" for a named one. The history's audio_path column is "audio/" + key in both modes, so a history moves from
a directory to a bucket by copying the files to s3://bucket/prefix/<key>. Which user may read a key is the
history's business (HistoryStore.audio_file checks it before asking for the file).

With a bucket, the recordings directory (INFRALENS_RECORDINGS_DIR, else <data dir>/audio) is this machine's
read-through cache of it, laid out like the directory mode: the web app plays from there (the folder Gradio may
serve without accounts; with accounts each user is handed a private copy). boto3 is imported only here and only
with a bucket; credentials come from boto3's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an
instance or pod role) and are never read, written or logged by us.

Failures: the bucket is checked when the history opens (missing bucket, unreachable endpoint, denied access, no
credentials: a HistoryError naming the setting). After that, a recording the bucket cannot take does not cost the
attempt: it stays in the cache, marked under .pending/, a warning names it, and it is uploaded at the next start
or after the next upload that succeeds. A delete the bucket cannot take is queued the same way.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from .config import Settings
from .errors import HistoryError

log = logging.getLogger("infralens_coach.recordings")

Writer = Callable[[Path], object]  # writes a recording's bytes into the file it is given
PENDING = ".pending"  # in the cache: markers of uploads and deletes the bucket has not taken yet
CONNECT_TIMEOUT_S = 5.0  # an endpoint that is down fails this fast (per try)
READ_TIMEOUT_S = 60.0
ATTEMPTS = 3  # botocore's "standard" retries: 1 request + 2 retries with backoff


class Recordings(Protocol):
    root: Path  # the local folder: the recordings themselves, or a bucket's cache

    def put(self, key: str, write: Writer) -> Path:
        """Keep the recording `write` produces under `key`; its local file."""
        ...

    def local_path(self, key: str) -> Path:
        """A local file holding the recording, to play; a path that does not exist when the recording is gone."""
        ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def pending(self) -> list[str]:
        """Keys kept on this machine only, waiting for the bucket (always empty for a directory)."""
        ...


def open_recordings(settings: Settings) -> Recordings:
    """The recordings the settings name: the bucket (checked now) when INFRALENS_RECORDINGS_BUCKET is set, else the
    directory (INFRALENS_RECORDINGS_DIR, else <data dir>/audio), which is also the bucket's cache."""
    root = settings.recordings_dir or settings.data_dir / "audio"
    if settings.recordings_bucket:
        return S3Recordings.open(settings.recordings_bucket, root, endpoint_url=settings.s3_endpoint_url)
    return DirectoryRecordings(root)


def _write_local(target: Path, write: Writer) -> Path:
    """`target` written through a partial file, fsynced and renamed: whole on disk, or not there at all."""
    partial = target.with_name(f"{target.name}.{secrets.token_hex(4)}.partial")  # two fetches of one key may race
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(partial)
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise HistoryError(f"cannot keep the recording in {target.parent}: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


class DirectoryRecordings:
    """Recordings as files under one folder: <data dir>/audio, or INFRALENS_RECORDINGS_DIR (a shared volume)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, write: Writer) -> Path:
        return _write_local(self.root / key, write)

    def local_path(self, key: str) -> Path:
        return self.root / key

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def pending(self) -> list[str]:
        return []


class S3Recordings:
    """Recordings as objects s3://bucket/prefix/<key>, with a read-through cache under `root`. Thread-safe (one
    boto3 client, shared)."""

    def __init__(self, url: str, root: Path, client: Any) -> None:
        """`client`: a boto3 S3 client; use S3Recordings.open, which makes one and checks the bucket."""
        from botocore.exceptions import BotoCoreError, ClientError

        self.url = url.rstrip("/")
        self.bucket, _, prefix = self.url.removeprefix("s3://").partition("/")
        self.prefix = prefix.strip("/")
        self.root = root
        self._client = client
        self._errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        self._retrying = threading.Lock()

    @classmethod
    def open(cls, url: str, root: Path, *, endpoint_url: str | None = None) -> S3Recordings:
        """The bucket at `url` (s3://bucket/prefix) on `endpoint_url` (None: AWS), checked; pending uploads sent."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise HistoryError(
                "INFRALENS_RECORDINGS_BUCKET names a bucket, but boto3 is not installed: "
                "pip install 'infralens-coach[s3]'"
            ) from None
        options: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": READ_TIMEOUT_S,
            "retries": {"mode": "standard", "max_attempts": ATTEMPTS},
        }
        if endpoint_url:  # MinIO and Ceph serve buckets by path unless set up for virtual hosts
            options["s3"] = {"addressing_style": "path"}
        # A session of our own: boto3's default session is not safe to share between threads making clients.
        client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=Config(**options))
        recordings = cls(url, root, client)
        recordings.check()
        recordings.retry_pending()
        return recordings

    # -- the protocol

    def put(self, key: str, write: Writer) -> Path:
        """Written to the cache first, then uploaded; an upload that fails leaves it pending here (and says so)."""
        local = _write_local(self.root / key, write)
        try:
            self._upload(key, local)
        except self._errors as exc:
            self._mark("upload", key)
            log.warning(
                "recording %s was not uploaded to %s (%s): it is kept on this machine only, at %s, and is uploaded at "
                "the next start or after the next upload that succeeds",
                key, self.url, self._why(exc), local,
            )  # fmt: skip
            return local
        self.retry_pending()  # the bucket is reachable again: send what waited
        return local

    def local_path(self, key: str) -> Path:
        local = self.root / key
        if local.is_file():
            return local
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self._object(key))
            with reply["Body"] as body:
                _write_local(local, lambda path: _save_stream(body, path))
        except self._errors as exc:
            if _missing(exc):
                return local  # gone from the bucket: plays as missing, like a file deleted from a directory
            raise HistoryError(f"cannot fetch the recording {key} from {self.url}: {self._why(exc)}") from exc
        return local

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)
        self._unmark("upload", key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._object(key))
        except self._errors as exc:
            self._mark("delete", key)
            log.warning(
                "recording %s was not deleted from %s (%s): the delete is retried at the next start or after the "
                "next upload that succeeds",
                key, self.url, self._why(exc),
            )  # fmt: skip

    def exists(self, key: str) -> bool:
        if (self.root / key).is_file():
            return True
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._object(key))
        except self._errors as exc:
            if _missing(exc):
                return False
            raise HistoryError(f"cannot reach the recording {key} in {self.url}: {self._why(exc)}") from exc
        return True

    def pending(self) -> list[str]:
        return sorted(key for op, key in self._markers() if op == "upload")

    # -- the bucket

    def check(self) -> None:
        """HistoryError, naming the setting and what to fix, unless the bucket is there and ours to use."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except self._errors as exc:
            raise HistoryError(f"INFRALENS_RECORDINGS_BUCKET={self.url}: {self._why(exc)}") from exc

    def retry_pending(self) -> None:
        """Send the uploads and deletes that waited, in order, stopping at the first the bucket still refuses."""
        if not (self.root / PENDING).is_dir() or not self._retrying.acquire(blocking=False):
            return  # nothing waits, or another thread is already sending it
        try:
            for op, key in self._markers():
                local = self.root / key
                try:
                    if op == "delete":
                        self._client.delete_object(Bucket=self.bucket, Key=self._object(key))
                    elif local.is_file():
                        self._upload(key, local)
                    else:
                        log.warning("recording %s waited for %s but is gone from %s", key, self.url, self.root)
                except self._errors as exc:
                    log.warning("%s of recording %s still waits for %s: %s", op, key, self.url, self._why(exc))
                    return
                self._unmark(op, key)
                log.info("recording %s: the waiting %s reached %s", key, op, self.url)
        finally:
            self._retrying.release()

    def _object(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _upload(self, key: str, local: Path) -> None:
        kind = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
        with local.open("rb") as body:
            self._client.put_object(Bucket=self.bucket, Key=self._object(key), Body=body, ContentType=kind)

    def _why(self, exc: Exception) -> str:
        """What went wrong, in words a person deploying the app can act on (botocore's never carry credentials)."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        endpoint = self._client.meta.endpoint_url
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return (
                "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or give "
                "the machine a role that may use the bucket"
            )
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            return f"cannot reach the S3 endpoint {endpoint} (INFRALENS_S3_ENDPOINT_URL; unset: AWS)"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket", "404"):  # a HEAD reply has no body: 404 is all it says
                return f"bucket {self.bucket!r} does not exist at {endpoint}: create it, or fix the bucket name"
            if status == 403 or code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return (
                    f"access to bucket {self.bucket!r} was denied at {endpoint} ({code}): check the credentials "
                    "(AWS_ACCESS_KEY_ID, AWS_PROFILE, the machine's role) and the bucket's policy"
                )
            return f"{endpoint} answered {code or status}: {error.get('Message') or exc}"
        return str(exc)

    # -- waiting uploads and deletes: empty marker files .pending/<upload|delete>/<key> in the cache

    def _mark(self, op: str, key: str) -> None:
        marker = self.root / PENDING / op / key
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError as exc:  # the recording is in the cache all the same; only the retry is lost
            log.warning("cannot note that recording %s waits for %s: %s", key, self.url, exc)

    def _unmark(self, op: str, key: str) -> None:
        (self.root / PENDING / op / key).unlink(missing_ok=True)

    def _markers(self) -> Iterator[tuple[str, str]]:
        for op in ("upload", "delete"):
            folder = self.root / PENDING / op
            if folder.is_dir():
                for marker in sorted(p for p in folder.rglob("*") if p.is_file()):
                    yield op, marker.relative_to(folder).as_posix()


def _save_stream(body: Any, path: Path) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(body, out, 1 << 20)


def _missing(exc: Exception) -> bool:
    """A 404 for an object: the recording is not in the bucket."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) in ("NoSuchKey", "404")
