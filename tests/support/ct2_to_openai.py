"""Convert a CTranslate2 Whisper model (faster-whisper's format) into an openai-whisper checkpoint.

No package ships a .pt file and load_model("tiny.en") needs the network, so the openai-whisper engine is
tested (and benchmarked) on the bundled tiny.en weights converted here: the same weights for both engines.
Reads CTranslate2's model.bin (binary format 5+) directly; greedy decoding is token-identical.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}  # 5 = bfloat16


def read_ct2(model_bin: str | Path) -> dict:
    buf = Path(model_bin).read_bytes()
    off = 0

    def unpack(fmt: str):
        nonlocal off
        (value,) = struct.unpack_from(fmt, buf, off)
        off += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal off
        n = unpack("H")
        value = buf[off : off + n - 1].decode()
        off += n
        return value

    version = unpack("I")
    if version < 5:
        raise ValueError(f"CTranslate2 model format {version} is too old")
    name = string()
    revision = unpack("I")
    tensors = {}
    for _ in range(unpack("I")):
        key = string()
        shape = [unpack("I") for _ in range(unpack("B"))]
        dtype = unpack("B")
        nbytes = unpack("I")
        raw = buf[off : off + nbytes]
        off += nbytes
        if dtype == 5:
            array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, _DTYPES[dtype])
        tensors[key] = array.reshape(shape) if shape else array
    aliases = {}
    for _ in range(unpack("I")):
        alias = string()
        aliases[alias] = string()
    return {"version": version, "name": name, "revision": revision, "tensors": tensors, "aliases": aliases}


def convert(model_dir: str | Path) -> dict:
    """A checkpoint dict {"dims", "model_state_dict"} that whisper.load_model(path) accepts."""
    import torch
    from whisper.model import sinusoids

    m = read_ct2(Path(model_dir) / "model.bin")
    if m["name"] != "WhisperSpec":
        raise ValueError(f"not a Whisper model: {m['name']}")
    t = {k: torch.from_numpy(np.array(v)) for k, v in m["tensors"].items()}
    n_enc = len({k.split("/")[1] for k in t if re.match(r"encoder/layer_\d+/", k)})
    n_dec = len({k.split("/")[1] for k in t if re.match(r"decoder/layer_\d+/", k)})
    n_state = t["encoder/conv1/weight"].shape[0]
    dims = dict(
        n_mels=t["encoder/conv1/weight"].shape[1],
        n_audio_ctx=t["encoder/position_encodings/encodings"].shape[0],
        n_audio_state=n_state,
        n_audio_head=int(t["encoder/num_heads"].item()),
        n_audio_layer=n_enc,
        n_vocab=t["decoder/embeddings/weight"].shape[0],
        n_text_ctx=t["decoder/position_encodings/encodings"].shape[0],
        n_text_state=t["decoder/embeddings/weight"].shape[1],
        n_text_head=int(t["decoder/num_heads"].item()),
        n_text_layer=n_dec,
    )
    sd = {}

    def linear(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = t[f"{src}/weight"]
        sd[f"{dst}.bias"] = t[f"{src}/bias"]

    def layer_norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = t[f"{src}/gamma"]
        sd[f"{dst}.bias"] = t[f"{src}/beta"]

    def split_fused(dst: str, src: str, parts: list[str]) -> None:
        weights = t[f"{src}/weight"].chunk(len(parts), 0)
        biases = t[f"{src}/bias"].chunk(len(parts), 0)
        for part, w, b in zip(parts, weights, biases, strict=True):
            sd[f"{dst}.{part}.weight"] = w
            if part == "key":  # whisper's key projection has no bias; CTranslate2 stores zeros
                if b.float().abs().max() > 0:
                    raise ValueError(f"{src}: non-zero key bias")
            else:
                sd[f"{dst}.{part}.bias"] = b

    for i in ("1", "2"):
        linear(f"encoder.conv{i}", f"encoder/conv{i}")
    sd["encoder.positional_embedding"] = sinusoids(dims["n_audio_ctx"], n_state)
    for i in range(n_enc):
        s, d = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        split_fused(f"{d}.attn", f"{s}/self_attention/linear_0", ["query", "key", "value"])
        linear(f"{d}.attn.out", f"{s}/self_attention/linear_1")
        layer_norm(f"{d}.attn_ln", f"{s}/self_attention/layer_norm")
        linear(f"{d}.mlp.0", f"{s}/ffn/linear_0")
        linear(f"{d}.mlp.2", f"{s}/ffn/linear_1")
        layer_norm(f"{d}.mlp_ln", f"{s}/ffn/layer_norm")
    layer_norm("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = t["decoder/embeddings/weight"]
    sd["decoder.positional_embedding"] = t["decoder/position_encodings/encodings"]
    for i in range(n_dec):
        s, d = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        split_fused(f"{d}.attn", f"{s}/self_attention/linear_0", ["query", "key", "value"])
        linear(f"{d}.attn.out", f"{s}/self_attention/linear_1")
        layer_norm(f"{d}.attn_ln", f"{s}/self_attention/layer_norm")
        linear(f"{d}.cross_attn.query", f"{s}/attention/linear_0")
        split_fused(f"{d}.cross_attn", f"{s}/attention/linear_1", ["key", "value"])
        linear(f"{d}.cross_attn.out", f"{s}/attention/linear_2")
        layer_norm(f"{d}.cross_attn_ln", f"{s}/attention/layer_norm")
        linear(f"{d}.mlp.0", f"{s}/ffn/linear_0")
        linear(f"{d}.mlp.2", f"{s}/ffn/linear_1")
        layer_norm(f"{d}.mlp_ln", f"{s}/ffn/layer_norm")
    layer_norm("decoder.ln", "decoder/layer_norm")
    if m["aliases"].get("decoder/projection/weight") != "decoder/embeddings/weight":
        raise ValueError("expected the output projection tied to the token embedding")
    sd = {k: v.to(torch.float16).contiguous() for k, v in sd.items()}
    return {"dims": dims, "model_state_dict": sd}


def convert_to_file(model_dir: str | Path, out: str | Path) -> Path:
    import torch

    out = Path(out)
    torch.save(convert(model_dir), out)
    return out
