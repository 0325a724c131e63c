"""What the sentence-embedding speed-ups (issue 13's budget) must not change: the vectors.

The int8 graph is rewritten at load (embedding lookups on int8 rows, encoder weights widened once) and a batch
is split into runs by token length; both are meant to compute the very same vectors as the model as shipped,
run on one padded batch. These tests load the real model from its package.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from infralens_coach.grading import embed

TEXTS = [
    "push and pop",
    "",
    "A load balancer spreads incoming requests across several servers.",
    "Batching raises throughput, but it adds latency to each request, so you pick a point on that curve",
    "Kubernetes",
    "Zürich's naïve café serves crème brûlée; 東京 is far away — über-latency!",
    "To practice this I built the basic model serving project from the curriculum, ran a load test against it "
    "with Locust, and put latency, throughput and error rate on a Grafana dashboard next to the accuracy numbers",
    " ".join(["the scheduler retries failed pods until the backoff limit is reached"] * 15),  # truncated at 128
    "GPU utilization is often low and the cost per request adds up fast",
]


@pytest.fixture(scope="module")
def model_file() -> Path:
    spec = importlib.util.find_spec(embed.MODEL_PACKAGE)
    assert spec is not None and spec.submodule_search_locations, "the model package is a dependency"
    return Path(next(iter(spec.submodule_search_locations))) / "model.onnx"


@pytest.fixture(scope="module")
def shipped(model_file: Path) -> np.ndarray:
    """The model as shipped, every text in one padded batch: the reference."""
    model = embed.MiniLM(model_file, embed.vocab_path(), graph="shipped")
    return model._run([e.ids for e in model._tokenizer.encode_batch(TEXTS)])


def test_the_default_graph_is_a_rewritten_one(model_file):
    # The budget is met by the rewrite; a default that quietly fell back to the shipped graph would lose it.
    assert embed.MiniLM(model_file, embed.vocab_path()).graph != "shipped"


@pytest.mark.parametrize("graph", ["int8-rows", "widened"])
def test_a_rewritten_graph_gives_the_shipped_vectors(model_file, shipped, graph):
    vectors = embed.MiniLM(model_file, embed.vocab_path(), graph=graph).encode(TEXTS)
    cosines = (vectors * shipped).sum(axis=1)
    assert cosines.min() > 1 - 1e-5, cosines
    assert np.abs(vectors - shipped).max() < 1e-5


def test_grouping_by_length_gives_the_vectors_of_one_batch(model_file, shipped):
    model = embed.MiniLM(model_file, embed.vocab_path(), graph="shipped")
    assert len(embed._groups(sorted(len(e.ids) for e in model._tokenizer.encode_batch(TEXTS)), 20)) > 1
    assert np.abs(model.encode(TEXTS) - shipped).max() < 1e-5
    alone = np.concatenate([model.encode([text]) for text in reversed(TEXTS)])[::-1]
    assert np.abs(alone - shipped).max() < 1e-5


def test_the_rewrite_widens_no_table_on_a_run(model_file):
    graph = embed._onnx_model_class().FromString(embed._rewrite(model_file.read_bytes())).graph
    int8 = {t.name for t in graph.initializer if t.data_type == 3}
    widened = [n for n in graph.node if n.op_type == "Cast" and n.input[0] in int8]
    assert not widened, [n.name for n in widened]  # every int8 weight is looked up first or widened at load
    lookups = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in int8]
    assert len(lookups) == 2  # the word and position embeddings pick their int8 rows
    floats = {t.name: tuple(t.dims) for t in graph.initializer if t.data_type == 1}
    assert sum(np.prod(d) for d in floats.values()) < 12e6  # encoder only: no widened 30522-row table
    assert (30522, 384) not in floats.values()


def test_a_graph_without_the_pattern_is_left_as_it_is():
    proto = embed._onnx_model_class()()
    node = proto.graph.node.add(name="add", op_type="Add")
    node.input[:], node.output[:] = ["a", "b"], ["c"]
    model = proto.SerializeToString()
    assert embed._rewrite(model) == model


def test_groups_keep_order_and_cut_padding():
    lengths = [5] * 10 + [100, 110]
    assert embed._groups(lengths, 20) == [list(range(10)), [10, 11]]
    assert embed._groups(lengths, 10**6) == [list(range(12))]  # a run costs more than any padding
    many = embed._groups([7] * 1000 + [embed.RUN_TOKENS + 1], 10**6)
    assert [i for g in many for i in g] == list(range(1001))
    assert max(len(g) * 7 for g in many[:-1]) <= embed.RUN_TOKENS  # the memory a run needs stays bounded
    assert many[-1] == [1000]  # a text longer than a run's tokens runs alone
    assert embed._groups([], 20) == []


def test_word_vectors_are_each_words_pieces_in_context_in_the_order_asked(model_file):
    """Per text, its words as the tokenizer splits them, each the mean of its pieces' hidden states, unit length;
    grouping texts by length (and the cache) must hand each text its own words."""
    model = embed.MiniLM(model_file, embed.vocab_path())
    texts = [t for t in TEXTS if t]
    words = model.word_vectors(texts)
    assert [texts[0][a:b] for a, b in words[0].spans] == ["push", "and", "pop"]
    assert [texts[4][a:b] for a, b in words[4].spans][:4] == ["Zürich", "'", "s", "naïve"]
    for text, found in zip(texts, words, strict=True):
        assert len(found.spans) == len(found.vectors) > 0
        assert np.abs(np.linalg.norm(found.vectors.astype(np.float32), axis=1) - 1).max() < 2e-3
        alone = embed.MiniLM(model_file, embed.vocab_path()).word_vectors([text])[0]
        assert alone.spans == found.spans
        assert np.abs(alone.vectors.astype(np.float32) - found.vectors).max() < 2e-3
    assert model.word_vectors([texts[1], texts[1]])[1] is words[1]  # cached
    # A word of several pieces ("ku", "##ber", "##net", "##es") is one word with one vector: their mean.
    text = "Kubernetes restarts the pod."
    found = model.word_vectors([text])[0]
    assert [text[a:b] for a, b in found.spans] == ["Kubernetes", "restarts", "the", "pod", "."]
    encoding = model._tokenizer.encode(text)
    hidden, _ = model._hidden([encoding.ids])
    assert encoding.tokens[1:5] == ["ku", "##ber", "##net", "##es"]
    mean = hidden[0, 1:5].mean(axis=0)
    assert np.abs(found.vectors[0] - mean / np.linalg.norm(mean)).max() < 2e-3  # kept as float16
    restarts = hidden[0, 5:7].mean(axis=0)
    assert np.abs(found.vectors[1] - restarts / np.linalg.norm(restarts)).max() < 2e-3
    # Truncated at MAX_TOKENS: the words past it have none.
    assert words[6].spans[-1][1] < len(texts[6])
