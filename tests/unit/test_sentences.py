"""The one sentence splitter (core/text.py): numbers survive, nothing is rewritten, markers stay attached."""
from __future__ import annotations

import pytest

from policy_assistant.core.text import FULL_STOPS, sentence_spans, split_sentences


@pytest.mark.parametrize("line, first", [
    ("1.5亿元专项资金用于建设。", "1.5亿元专项资金用于建设。"),
    ("3.5%的学校达到标准。", "3.5%的学校达到标准。"),
    ("2025-2027年完成改造。", "2025-2027年完成改造。"),
    ("1、2号线同步开通。", "1、2号线同步开通。"),
    ("1. 加强管理。", "加强管理。"),
    ("2、改善条件。", "改善条件。"),
    ("(3) 完善制度。", "完善制度。"),
    ("- 列表项。", "列表项。"),
])
def test_numbers_at_the_start_of_a_line_survive(line, first):
    assert split_sentences(line)[0] == first


def test_sentences_are_as_written():
    text = "（一）全市２０２５年建成（１２）所学校；新增学位ＡＢ类。\n第二行！"
    got = split_sentences(text)
    assert got == ["（一）全市２０２５年建成（１２）所学校；", "新增学位ＡＢ类。", "第二行！"]
    assert all(sentence in text for sentence in got)          # no width folding, no rewriting


def test_markers_and_closers_stay_with_their_sentence():
    assert split_sentences("加快建设公办幼儿园。[第12条] 推进“双减”。”[第13条]") == [
        "加快建设公办幼儿园。[第12条]", "推进“双减”。”[第13条]"]


def test_english_full_stops_only_when_asked():
    text = "The plan says so. It adds Y [第12条]. No. 5 is e.g. fine"
    assert split_sentences(text) == [text]
    assert split_sentences(text, ends=FULL_STOPS, periods=True) == [
        "The plan says so.", "It adds Y [第12条].", "No. 5 is e.g. fine"]
    assert sentence_spans("1.5 million. Done", ends=FULL_STOPS, periods=True)[0] == (0, 12, True)


def test_pieces_keep_every_character():
    from policy_assistant.core.text import sentence_pieces

    text = "甲。乙；丙\n丁！”[第1条]戊\n\n己"
    pieces = sentence_pieces(text)
    assert "".join(pieces) == text
    assert pieces[:3] == ["甲。", "乙；", "丙\n"]
