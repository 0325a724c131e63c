"""The speech libraries, imported on first use: a missing or wrong install is a TranscriptionError that says
how to fix it. The engines, the model resolution and the voice-activity check all import them from here."""

from __future__ import annotations

from typing import Any

from ..errors import TranscriptionError

FASTER_WHISPER_HINT = "pip install 'faster-whisper==1.2.1'"
OPENAI_WHISPER_HINT = "pip install torch==2.13.0, then pip install 'infralens-coach[openai-whisper]'"


def import_faster_whisper() -> Any:  # the library has no type information
    try:
        import faster_whisper
    except ImportError as exc:  # it is a default dependency, so this is a broken install
        raise TranscriptionError(f"faster-whisper is not installed: {FASTER_WHISPER_HINT}") from exc
    return faster_whisper


def import_whisper() -> Any:  # the library has no type information
    """openai-whisper (the optional engine)."""
    try:
        import whisper
    except ImportError as exc:
        raise TranscriptionError(f"the openai-whisper engine is not installed: {OPENAI_WHISPER_HINT}") from exc
    if not hasattr(whisper, "load_model"):  # another package called "whisper" is installed
        raise TranscriptionError(f"the installed 'whisper' module is not openai-whisper: {OPENAI_WHISPER_HINT}")
    return whisper
