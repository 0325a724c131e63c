"""The optional engine: openai-whisper (PyTorch), the package the product was first specified with.

Install: ``pip install torch==2.13.0`` (a CPU build) then ``pip install 'infralens-coach[openai-whisper]'``.
Audio is decoded by our audio module and passed as an array, so no system ffmpeg is needed here either.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.error import URLError

import numpy as np

from ..errors import TranscriptionError
from .base import Progress, Segment, Transcript, Word
from .coverage import transcribe_covered
from .libraries import import_whisper
from .models import ResolvedModel

ENGINE = "openai-whisper"

_MODELS: dict[str, Any] = {}  # one loaded whisper.Whisper per checkpoint per process
_LOCK = threading.Lock()


def checkpoint_model_name(dims: Any) -> str | None:
    """Which official model a checkpoint's dimensions match (to pick its alignment heads)."""
    sizes = {(4, 384): "tiny", (6, 512): "base", (12, 768): "small", (24, 1024): "medium", (32, 1280): "large"}
    size = sizes.get((dims.n_text_layer, dims.n_text_state))
    if size is None:
        if (dims.n_text_layer, dims.n_audio_layer, dims.n_text_state) == (4, 32, 1280):
            return "turbo"
        return None
    if size == "large":
        return "large-v3" if dims.n_mels == 128 else "large-v2"
    return f"{size}.en" if dims.n_vocab == 51864 else size


def load_model(source: str) -> Any:
    with _LOCK:
        if source not in _MODELS:
            whisper = import_whisper()
            try:
                model = whisper.load_model(source, device="cpu")
            except (RuntimeError, OSError, URLError, KeyError, ValueError) as exc:
                raise TranscriptionError(f"could not load openai-whisper model {source}: {exc}") from exc
            if source not in whisper._MODELS:  # a .pt path: load_model leaves the default heads
                name = checkpoint_model_name(model.dims)
                if name in whisper._ALIGNMENT_HEADS:
                    model.set_alignment_heads(whisper._ALIGNMENT_HEADS[name])
            _MODELS[source] = model
        return _MODELS[source]


class OpenAIWhisperTranscriber(ResolvedModel):
    name = ENGINE

    def warm_up(self) -> None:
        load_model(self.choice.source)

    def transcribe(
        self, audio: np.ndarray, *, prompt: str | None = None, on_progress: Progress | None = None
    ) -> Transcript:
        # openai-whisper has no VAD: the shared path gates and checks coverage with the same Silero model
        return transcribe_covered(
            audio, self.decode, prompt=prompt, on_progress=on_progress, engine=ENGINE, model=self.model_name
        )

    def decode(
        self,
        audio: np.ndarray,
        prompt: str | None = None,
        on_progress: Progress | None = None,
        *,
        speech_end_s: float | None = None,  # unused: whisper.transcribe decodes every window before returning
    ) -> tuple[Segment, ...]:
        """One decode of the array. whisper.transcribe returns all segments at once, so progress comes at the end."""
        model = load_model(self.choice.source)
        whisper = import_whisper()
        import torch

        torch.set_num_threads(self.threads)
        try:
            with torch.random.fork_rng():  # a temperature fallback samples: same audio, same transcript
                torch.manual_seed(0)
                result = whisper.transcribe(
                    model,
                    np.ascontiguousarray(audio, dtype=np.float32),
                    language="en",
                    beam_size=self.beam_size if self.beam_size > 1 else None,
                    initial_prompt=prompt or None,
                    # The card prompt steers only the first window: conditioning every window on it (and on the
                    # previous text) made tiny.en skip whole passages of 100 s answers (bench/asr_grading.py).
                    condition_on_previous_text=False,
                    word_timestamps=True,
                    fp16=False,
                    verbose=None,
                )
        except (RuntimeError, ValueError) as exc:
            raise TranscriptionError(f"openai-whisper failed: {exc}") from exc
        segments = tuple(
            Segment(
                text=s["text"].strip(),
                start_s=float(s["start"]),
                end_s=float(s["end"]),
                words=tuple(
                    Word(w["word"].strip(), float(w["start"]), float(w["end"]), float(w["probability"]))
                    for w in s.get("words", ())
                    if w["word"].strip()
                ),
                avg_logprob=float(s["avg_logprob"]),
                no_speech_prob=float(s["no_speech_prob"]),
            )
            for s in result["segments"]
        )
        if on_progress is not None:
            total_s = len(audio) / 16_000
            for segment in segments:
                on_progress(min(segment.end_s, total_s), total_s)
        return segments
