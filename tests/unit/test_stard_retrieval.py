"""STARD's metrics, gold-pair datasets, --top-k bounds, lookups over many documents, editions by issuer."""
from __future__ import annotations

import argparse
import datetime as dt
import json

import pytest

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Item
from policy_assistant.eval.metrics import norm_doc, pair_recall
from policy_assistant.eval.runner import load_dataset
from policy_assistant.query import understand
from policy_assistant.retrieval import Corpus, HybridRetriever, RefusalModel, expected_max_z


def test_pair_recall_as_stards_scorer():
    gold = [{"doc": "中华人民共和国民法典", "item": "第五十四条"}, {"doc": "个体工商户条例", "item": "第二条"}]
    retrieved = [{"doc": "民法典", "item": "第一条"}, {"doc": "民法典.md", "item": "第五十四条"},
                 {"doc": "民法典", "item": "第五十四条"},                      # a repeat counts once, at its first rank
                 {"doc": "个体工商户条例", "item": "第二章/第二条"}]
    scores = pair_recall(gold, retrieved)
    assert scores["R@1"] == 0.0
    assert scores["R@3"] == 1.0                                             # ranks 1, 2, then 个体工商户条例 at 3
    assert pair_recall(gold, retrieved[:2])["R@5"] == 0.5
    assert scores["MRR@10"] == 0.5
    assert norm_doc("laws/中华人民共和国刑法.md") == "刑法"


def test_dataset_lines_need_gold(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"question": "a", "gold_items": ["1"]}) + "\n" + json.dumps({"question": "b"}) + "\n",
                    encoding="utf-8")
    with pytest.raises(BadInput, match=r"d.jsonl:2: the line has neither"):
        load_dataset(path, gold_required=True)
    path.write_text(json.dumps({"question": "a", "gold": [{"doc": "x", "item": "第一条"}]}) + "\n", encoding="utf-8")
    assert load_dataset(path, gold_required=True)[0]["gold_items"] == ["第一条"]
    path.write_text(json.dumps({"question": "a", "gold": [{"doc": "x"}]}) + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"d.jsonl:1: \"gold\" must be"):
        load_dataset(path)


def test_top_k_is_bounded():
    from policy_assistant.cli import top_k_value

    assert top_k_value("100") == 100
    for bad in ("0", "201", "ten"):
        with pytest.raises(argparse.ArgumentTypeError):
            top_k_value(bad)


def _laws():
    items = []
    for order, (doc, title, label, text) in enumerate([
        ("中华人民共和国劳动合同法", "中华人民共和国劳动合同法", "第十条", "建立劳动关系，应当订立书面劳动合同。"),
        ("中华人民共和国劳动合同法", "中华人民共和国劳动合同法", "第十一条", "用人单位未在用工的同时订立书面劳动合同的。"),
        ("中华人民共和国劳动法", "中华人民共和国劳动法", "第十条", "国家支持劳动者自愿组织起来就业。"),
        ("个体工商户条例", "个体工商户条例", "第十条", "个体工商户登记事项变更的，应当向登记机关申请办理变更登记。"),
    ]):
        items.append(Item(doc=doc, item=label, path=[label], text=text, title=title, order=order))
    return items


def _retriever(items, fake_embedder):
    corpus = Corpus(items, "t", fake_embedder.embed_passages([it.embedding_text() for it in items]))
    return HybridRetriever(corpus, None, fake_embedder, dt.date(2025, 6, 1))


def test_named_law_article_and_which_document(fake_embedder):
    retriever = _retriever(_laws(), fake_embedder)
    named = retriever.run(understand("劳动合同法第十条是什么"))
    assert [(h.item.doc, h.item.item) for h in named.hits] == [("中华人民共和国劳动合同法", "第十条")]
    other = retriever.run(understand("劳动法第十条"))                       # 劳动法 is not 劳动合同法
    assert [h.item.doc for h in other.hits] == ["中华人民共和国劳动法"]
    bare = retriever.run(understand("第十条是什么"))
    assert not bare.hits and not bare.answerable
    assert set(bare.choices) == {"中华人民共和国劳动合同法", "中华人民共和国劳动法", "个体工商户条例"}
    chosen = retriever.run(understand("第十条是什么", doc="个体工商户条例"))
    assert [h.item.doc for h in chosen.hits] == ["个体工商户条例"]


def test_which_document_answer(fake_embedder):
    from policy_assistant.compose import ExtractiveGenerator

    retriever = _retriever(_laws(), fake_embedder)
    query = understand("第十条是什么")
    answer = ExtractiveGenerator().run(query, retriever.run(query))
    assert answer.refused and not answer.cited
    assert "3 部文件" in answer.text and "《个体工商户条例》" in answer.text


def test_a_law_the_index_does_not_hold_is_named_not_replaced(fake_embedder):
    from policy_assistant.compose import ExtractiveGenerator

    retriever = _retriever(_laws(), fake_embedder)
    query = understand("请问民法典第十条是什么")
    assert query.named_title == "民法典"
    retrieval = retriever.run(query)
    assert not retrieval.hits and not retrieval.answerable and retrieval.unknown_title == "民法典"
    answer = ExtractiveGenerator().run(query, retrieval)
    assert answer.refused and "《民法典》" in answer.text and "第10条" in answer.text
    # a title that is part of an indexed one, or a question naming none, keeps the usual lookup
    assert retriever.run(understand("个体工商户条例第十条")).hits[0].item.doc == "个体工商户条例"
    assert understand("孩子第十条怎么说").named_title is None
    assert understand("《某市2025年教育工作要点》第三条").named_title == "某市2025年教育工作要点"


def test_editions_are_grouped_by_issuer_and_title():
    items = [Item(doc=f"{city}-{year}", item="1", path=["1"], text="t", title=f"{year}年教育工作要点", year=year,
                  office=f"{city}市教育局") for city in ("台州", "宁波") for year in (2024, 2025)]
    corpus = Corpus(items, "t")
    assert len(corpus.series) == 2
    assert all(len(editions) == 2 for editions in corpus.series.values())


def test_refusal_evidence_scale():
    assert expected_max_z(30) < expected_max_z(11_000) < expected_max_z(56_000)
    model = RefusalModel(coef={"coverage": 4.0}, intercept=-2.0, threshold=0.5)
    assert model.probability({"coverage": 1.0}) > 0.5 > model.probability({"coverage": 0.0})
    assert RefusalModel().probability({}) == 1.0                            # not fitted: nothing refused


def test_refusal_coverage_does_not_depend_on_corpus_size():
    """Term coverage is weighted by jieba's general IDF: the same best items give the same evidence in a
    3-item corpus and in one padded with 300 unrelated items (the corpus's own IDF would change it)."""
    import numpy as np

    from policy_assistant.retrieval import evidence_features, general_idf

    def items(n_padding):
        base = [Item(doc="d", item=f"第{i}条", path=[f"第{i}条"], text=text) for i, text in
                enumerate(["学校食堂的伙食费由教育局监管。", "公办幼儿园增加学位。", "教师培训每年一次。"], 1)]
        pad = [Item(doc="p", item=f"第{i}条", path=[f"第{i}条"], text=f"合同当事人应当履行义务第{i}项。")
               for i in range(1, n_padding + 1)]
        return base + pad

    query = understand("学校食堂的伙食费谁来监管")
    figures = []
    for padding in (0, 300):
        corpus = Corpus(items(padding), "t")
        n = len(corpus.items)
        scores = np.linspace(1.0, 0.0, n)
        features = {"dense": scores, "bm25": scores}
        mask = np.ones(n, dtype=bool)
        figures.append(evidence_features(corpus, query, features, scores, list(range(min(10, n))), mask))
    assert figures[0]["coverage"] == figures[1]["coverage"] > 0.5
    assert figures[0]["missing"] == figures[1]["missing"]
    assert general_idf("伙食费") > general_idf("学校")                      # a specific word weighs more


def test_top_scaled_fusion_scores_mean_the_same_at_any_size():
    import numpy as np

    from policy_assistant.retrieval import _top_scaled

    for n in (30, 11_000):
        values = np.random.default_rng(n).gamma(1.0, size=n)
        scaled = _top_scaled(values, np.ones(n, dtype=bool))
        assert scaled.max() == pytest.approx(1.0) and np.median(scaled) == pytest.approx(0.0)
